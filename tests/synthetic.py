"""Synthetic libraries: catalogue rows and clip-vector files written directly, with random
vectors, words and slides, for tests and benchmarks that need many videos and no decoding."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from sqlalchemy import insert

from vmr.catalogue.reads import sqlite_url
from vmr.catalogue.store import (
    Clip, Segment, SlideText, Video, VideoChannel, Word, bump_generation, open_engine, session_factory, utcnow,
)
from vmr.catalogue.vectors import VectorFiles

VOCABULARY = ("gradient descent weights learning rate loss function overfitting training data model "
              "layer neuron chain rule output error validation regularization batch epoch label").split()


def synthetic_library(home: Path, db: str | None = None, videos: int = 40, clips: tuple[int, int] = (1, 80),
                      dim: int = 32, seed: int = 0, clip_seconds: float = 2.0, copies: bool = True,
                      models: tuple[str, str] = ("text-a", "text-b")) -> str:
    """A library of `videos` videos of 1-80 clips with "speech" and "slides" vectors (one model
    each), a few words said in most clips (sentences end every few words) and a slide with text
    over some stretches. With `copies`, the second half of the videos repeats the first with
    clips twice as long (tied scores, ranked by position; another typical clip length for a
    shard). `models` names the speech and slides models (a real one lets Library encode
    queries). Returns the catalogue's URL."""
    rng = np.random.default_rng(seed)
    url = db or sqlite_url(home)
    home.mkdir(parents=True, exist_ok=True)
    engine = open_engine(url, home)
    files = VectorFiles(home)
    media = home / "synthetic-media" / str(seed)
    media.mkdir(parents=True, exist_ok=True)
    originals = [_video(rng, int(rng.integers(*clips)), dim) for _ in range(videos // 2 if copies else videos)]
    made = [(v, clip_seconds) for v in originals] + ([(v, 2 * clip_seconds) for v in originals] if copies else [])
    with session_factory(engine)() as session, session.begin():
        for i, (video, seconds) in enumerate(made):
            n = len(video["speech"])
            content = hashlib.sha256(f"{seed}-{i}".encode()).hexdigest()
            # A file at each path (empty): a search leaves out videos whose file is gone.
            path = media / f"video-{i:05d}.mp4"
            path.touch()
            row = Video(path=str(path), content_hash=content, size=1, mtime=0.0,
                        duration=n * seconds, fps=10.0, width=16, height=16, has_audio=True, status="indexed",
                        asr_model="synthetic", language="en", indexed_at=utcnow())
            session.add(row)
            session.flush()
            _insert(session, Clip, [{"video_id": row.id, "idx": c, "start": c * seconds,
                                            "end": (c + 1) * seconds, "keyframe_time": (c + 0.5) * seconds}
                                           for c in range(n)])
            segment = Segment(video_id=row.id, idx=0, start=0.0, end=n * seconds, text="")
            session.add(segment)
            session.flush()
            said = [(c * seconds + j * seconds / 3, c * seconds + (j + 1) * seconds / 3, text)
                    for c, texts in enumerate(video["words"]) for j, text in enumerate(texts)]
            _insert(session, Word, [{"segment_id": segment.id, "video_id": row.id, "idx": j, "start": a,
                                            "end": b, "text": text} for j, (a, b, text) in enumerate(said)])
            segment.text = " ".join(text for _, _, text in said)
            _insert(session, SlideText, [{"video_id": row.id, "idx": j, "start": a * seconds,
                                                 "end": b * seconds, "text": text}
                                                for j, (a, b, text) in enumerate(video["spans"])])
            for channel, model in zip(("speech", "slides"), models):
                vectors = video[channel]
                present = {c: v for c, v in enumerate(vectors) if not np.isnan(v).any()}
                if present:
                    files.write(content, channel, model, n, present)
                    session.add(VideoChannel(video_id=row.id, channel=channel, model=model, dim=dim))
        bump_generation(session)
    engine.dispose()
    return url


def _insert(session, table, rows: list[dict]) -> None:  # noqa: ANN001 (a Session and a mapped class)
    if rows:  # (an empty executemany would insert one row of defaults)
        session.execute(insert(table), rows)


def _video(rng: np.random.Generator, n: int, dim: int) -> dict:
    speech = rng.standard_normal((n, dim)).astype(np.float32)
    speech /= np.linalg.norm(speech, axis=1, keepdims=True)
    words = []
    for _ in range(n):
        texts = [str(rng.choice(VOCABULARY)) for _ in range(int(rng.integers(0, 4)))]
        if texts and rng.random() < 0.3:
            texts[-1] += "."
        words.append(texts)
    speech[[not w for w in words]] = np.nan  # no words said, no speech vector
    slides, shown = [], np.full((n, dim), np.nan, np.float32)
    start = 0
    while start < n:
        length = int(rng.integers(3, 20))
        if rng.random() < 0.4:
            vector = rng.standard_normal(dim).astype(np.float32)
            shown[start:start + length] = vector / np.linalg.norm(vector)
            slides.append((start, min(n, start + length), " ".join(rng.choice(VOCABULARY, 4))))
        start += length
    return {"speech": speech, "slides": shown, "words": words, "spans": slides}
