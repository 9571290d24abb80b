"""Query -> moments: encode, score every clip per channel, fuse, aggregate over temporal windows,
keep the best non-overlapping windows, and describe each as a playable moment."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from vmr.encoders import TextEncoder
from vmr.errors import QueryError
from vmr.links import moment_link
from vmr.store import Video, Word
from vmr.vectors import ChannelMatrix, ClipMatrix

# Exact rerank pool of the binary prefilter: 2% of the clips, at least this many.
PREFILTER_CANDIDATES = 4096


@dataclass(frozen=True)
class SearchOptions:
    k: int = 10
    # Window lengths in seconds: a quote is a sentence, a topic a passage of half a minute.
    window_seconds: tuple[float, ...] = (4.0, 6.0, 8.0, 12.0, 16.0, 20.0, 24.0, 30.0)
    mode: str = "mean"
    # A mean favours the shortest window around a peak; this much score per doubling of the
    # window's length lets a passage that stays relevant win over its best sentence.
    # Tuned on the sample's queries (README, "Ranking"): 0.09 sits on a plateau.
    length_bonus: float = 0.09
    # Windows of one video may share at most this fraction of the shorter one.
    max_overlap: float = 0.3
    # Per-channel weights for fusion; a clip missing a channel is scored on the others.
    channel_weights: dict[str, float] = field(default_factory=lambda: {"speech": 1.0})


@dataclass(frozen=True)
class Moment:
    video: str  # absolute path
    video_id: int
    start: float
    end: float
    score: float
    text: str
    link: str

    def to_json(self) -> dict:
        return {
            "video": self.video, "video_id": self.video_id, "start": round(self.start, 3),
            "end": round(self.end, 3), "score": round(self.score, 4), "text": self.text,
            "link": self.link,
        }


def validate(query: str, k: int) -> str:
    query = query.strip()
    if not query:
        raise QueryError("empty query: type what you are looking for")
    if k < 1:
        raise QueryError(f"-k must be a positive number of results, not {k}")
    return query


def clip_scores(matrix: ClipMatrix, query_vectors: dict[str, np.ndarray], n_queries: int,
                options: SearchOptions) -> np.ndarray:
    """Fused per-clip scores [Q, N] for a batch of queries (one vector per query and model);
    all zero where no clip has a channel (a library of silent videos)."""
    import kernels

    names = [name for name in matrix.channels if options.channel_weights.get(name, 0.0) > 0]
    fused = np.zeros((n_queries, matrix.clip_count), dtype=np.float32)
    if not names:
        return fused
    present = np.stack([np.asarray(matrix.channels[n].present) for n in names])
    weights = np.array([options.channel_weights[n] for n in names], dtype=np.float32)
    per_channel = [channel_scores(matrix.channels[n], query_vectors[matrix.channels[n].model])
                   for n in names]
    for q in range(n_queries):
        fused[q] = kernels.fuse_channels(np.stack([s[q] for s in per_channel]), present, weights)
    return fused


def channel_scores(channel: ChannelMatrix, queries: np.ndarray) -> np.ndarray:
    """Cosine of every clip [Q, N]: through the binary prefilter where the library built codes,
    else one exact scan (batched when there are several queries)."""
    import kernels

    if channel.codes is not None:
        candidates = max(PREFILTER_CANDIDATES, len(channel.present) // 50)
        codes = kernels.pack_sign_bits(queries)
        return np.stack([
            kernels.prefiltered_scores(channel.codes, code, channel.vectors, channel.scales, query, candidates)
            for code, query in zip(codes, queries)
        ])
    if len(queries) == 1:
        return kernels.cosine_scores(channel.vectors, queries[0], channel.scales)[None, :]
    return kernels.cosine_scores_batch(channel.vectors, queries, channel.scales)


def window_lengths(matrix: ClipMatrix, seconds: tuple[float, ...]) -> np.ndarray:
    """Window lengths in clips, from the library's typical clip length (a video's last clip,
    or a whole video shorter than one clip, is shorter than the rest)."""
    sample = slice(0, 4096)
    clip_seconds = float(np.median(matrix.ends[sample] - matrix.starts[sample])) if matrix.clip_count else 2.0
    return np.unique(np.maximum(1, np.round(np.array(seconds) / max(clip_seconds, 1e-6)))).astype(np.int64)


def ranked_windows(matrix: ClipMatrix, scores: np.ndarray, options: SearchOptions,
                   lengths: np.ndarray | None = None):
    """The best non-overlapping windows: (first row, stop row, score) arrays, best first.
    `lengths`: window lengths in clips when the matrix is a shard of a larger one."""
    import kernels

    if lengths is None:
        lengths = window_lengths(matrix, options.window_seconds)
    return kernels.top_windows(
        scores, np.asarray(matrix.video_offsets), lengths, options.k, mode=options.mode,
        max_overlap=options.max_overlap,
        length_bonus=(options.length_bonus * np.log2(lengths)).astype(np.float32),
    )


def warm_up(matrix: ClipMatrix) -> None:
    """Run the search kernels once on the library's own arrays, so that Numba compiles (and
    caches) them now, at the end of an index run, rather than in the user's first search."""
    if matrix.clip_count == 0:
        return
    dims = {c.model: c.vectors.shape[1] for c in matrix.channels.values()}
    probe = {model: np.ones((1, dim), dtype=np.float32) for model, dim in dims.items()}
    ranked_windows(matrix, clip_scores(matrix, probe, 1, SearchOptions())[0], SearchOptions())


def moments(session: Session, matrix: ClipMatrix, scores: np.ndarray, options: SearchOptions) -> list[Moment]:
    if matrix.clip_count == 0:
        return []
    return describe(session, matrix, *ranked_windows(matrix, scores, options))


def describe(session: Session, matrix: ClipMatrix, starts: np.ndarray, stops: np.ndarray,
             values: np.ndarray) -> list[Moment]:
    """Ranked windows (matrix rows) as moments: video, times, the words said, a link."""
    found: list[Moment] = []
    for first, stop, value in zip(starts, stops, values):
        video_id = matrix.video_of_row(int(first))
        video = session.get(Video, video_id)
        if video is None:  # removed since the matrices were built
            continue
        start, end = float(matrix.starts[first]), float(matrix.ends[stop - 1])
        found.append(Moment(
            video=video.path, video_id=video_id, start=start, end=end, score=float(value),
            text=spoken_text(session, video_id, start, end), link=moment_link(Path(video.path), start, end),
        ))
    return found


def spoken_text(session: Session, video_id: int, start: float, end: float) -> str:
    """The words whose middle lies inside [start, end)."""
    middle = (Word.start + Word.end) / 2
    words = session.scalars(
        select(Word.text)
        .where(Word.video_id == video_id, middle >= start, middle < end)
        .order_by(Word.start)
    ).all()
    return " ".join(words)


def encode_queries(encoders: dict[str, TextEncoder], queries: list[str]) -> dict[str, np.ndarray]:
    return {model: encoder.encode(queries) for model, encoder in encoders.items()}
