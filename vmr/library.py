"""`Library`: the Python API the CLI is a thin shell over.

    lib = Library("~/lectures-index")
    lib.index(["~/Videos/lectures"])
    for moment in lib.search("how does gradient descent update the weights", k=5):
        print(moment.start, moment.end, moment.link)
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from vmr import vectors
from vmr.encoders import TextEncoder
from vmr.errors import VmrError
from vmr.index import IndexOptions, Indexer, IndexReport, Progress
from vmr.search import Moment, SearchOptions, clip_scores, encode_queries, moments, validate, warm_up
from vmr.store import (
    Clip, Segment, Video, Word, bump_generation, generation, open_engine, session_factory, sqlite_url,
)


def default_home() -> Path:
    env = os.environ.get("VMR_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("vmr"))


@dataclass(frozen=True)
class VideoEntry:
    video_id: int
    path: str
    duration: float
    clips: int
    words: int
    has_audio: bool
    asr_model: str | None
    indexed_at: str

    def to_json(self) -> dict:
        return self.__dict__.copy()


@dataclass(frozen=True)
class LibraryInfo:
    home: str
    database: str
    videos: list[VideoEntry]
    total_duration: float
    clips: int
    words: int
    text_models: list[str]
    vector_storage: str | None
    database_bytes: int | None
    vector_bytes: int

    def to_json(self) -> dict:
        data = self.__dict__.copy()
        data["videos"] = [v.to_json() for v in self.videos]
        return data


def _video_at(session: Session, path: str | Path) -> Video | None:
    """The video indexed under this path, as typed or with links resolved."""
    target = Path(path).expanduser().absolute()
    return session.scalar(select(Video).where(Video.path.in_({str(target), str(target.resolve())})))


class Library:
    def __init__(self, home: str | Path | None = None, db: str | None = None, *,
                 storage: str = "int8", device: str = "auto"):
        self.home = Path(home).expanduser().absolute() if home else default_home()
        self.db_url = db or sqlite_url(self.home)
        self.storage = storage
        self.device = device
        self._sessions = None
        self._encoders: dict[str, TextEncoder] = {}

    # -- plumbing
    def session(self) -> Session:
        if self._sessions is None:
            if self.db_url.startswith("sqlite:///"):
                self.home.mkdir(parents=True, exist_ok=True)
            self._sessions = session_factory(open_engine(self.db_url))
        return self._sessions()

    @property
    def vectors_dir(self) -> Path:
        return self.home / "vectors"

    def matrix(self, session: Session) -> vectors.ClipMatrix:
        """The current matrices, rebuilt first if the catalogue moved on since they were built."""
        current = vectors.load(self.vectors_dir)
        if current is None or current.generation != generation(session):
            current = vectors.rebuild(session, self.vectors_dir, self.storage)
        return current

    # -- the commands
    def index(self, paths: Iterable[str | Path], options: IndexOptions | None = None,
              progress: Progress | None = None) -> IndexReport:
        report = Indexer(self.session, options or IndexOptions(), progress).run(paths)
        with self.session() as session:
            warm_up(self.matrix(session))  # build and compile now: the first search pays nothing
        return report

    def search(self, query: str, k: int = 10, options: SearchOptions | None = None) -> list[Moment]:
        return self.search_many([query], k, options)[0]

    def search_many(self, queries: list[str], k: int = 10,
                    options: SearchOptions | None = None) -> list[list[Moment]]:
        """Many queries share one model load and one pass of batched scoring."""
        options = options or SearchOptions()
        queries = [validate(q, k) for q in queries]
        options = replace(options, k=k)
        with self.session() as session:
            matrix = self.matrix(session)
            if not matrix.channels:  # nothing to compare with: no video has speech
                return [[] for _ in queries]
            encoders = {c.model: self._encoder(c.model) for c in matrix.channels.values()}
            vectors = encode_queries(encoders, queries)
            scores = clip_scores(matrix, vectors, len(queries), options)
            return [moments(session, matrix, row, options, {m: v[q] for m, v in vectors.items()})
                    for q, row in enumerate(scores)]

    def _encoder(self, model: str) -> TextEncoder:
        if model not in self._encoders:
            from vmr.encoders import load_text_encoder

            self._encoders[model] = load_text_encoder(model, self.device, cold_start=True)
        return self._encoders[model]

    def remove(self, path: str | Path) -> bool:
        """Forget a video (its rows and, at the next search, its vectors). False if unknown."""
        with self.session() as session, session.begin():
            video = _video_at(session, path)
            if video is None:
                return False
            session.delete(video)
            bump_generation(session)  # the next search or info rebuilds the matrices
        return True

    def find_video(self, session: Session, video: str | int) -> Video:
        """A video by id or by path."""
        found = None
        if isinstance(video, int) or str(video).isdigit():
            found = session.get(Video, int(video))
        if found is None:
            found = _video_at(session, str(video))
        if found is None:
            raise VmrError(f"{video}: not in the index (vmr index it first)")
        return found

    def transcript(self, video: str | int) -> tuple[Video, list[Segment]]:
        with self.session() as session:
            found = self.find_video(session, video)
            segments = session.scalars(
                select(Segment).where(Segment.video_id == found.id).order_by(Segment.idx)
                .options(selectinload(Segment.words))
            ).all()
            return found, list(segments)

    def videos(self, video_id: int | None = None) -> list[VideoEntry]:
        """Every indexed video by path, or only the one with this id (none if unknown)."""
        videos = select(Video)
        clips = select(Clip.video_id, func.count()).group_by(Clip.video_id)
        words = select(Word.video_id, func.count()).group_by(Word.video_id)
        if video_id is not None:
            videos = videos.where(Video.id == video_id)
            clips = clips.where(Clip.video_id == video_id)
            words = words.where(Word.video_id == video_id)
        with self.session() as session:
            clip_counts = dict(session.execute(clips).all())
            word_counts = dict(session.execute(words).all())
            return [
                VideoEntry(v.id, v.path, v.duration, clip_counts.get(v.id, 0), word_counts.get(v.id, 0),
                           v.has_audio, v.asr_model, v.indexed_at.isoformat())
                for v in session.scalars(videos.order_by(Video.path))
            ]

    def info(self) -> LibraryInfo:
        entries = self.videos()
        with self.session() as session:
            matrix = self.matrix(session)
        db_file = self.home / "vmr.db"
        vector_bytes = sum(p.stat().st_size for p in self.vectors_dir.rglob("*") if p.is_file())
        storages = {c.vectors.dtype.name for c in matrix.channels.values()}
        return LibraryInfo(
            home=str(self.home), database=self.db_url, videos=entries,
            total_duration=sum(e.duration for e in entries), clips=sum(e.clips for e in entries),
            words=sum(e.words for e in entries),
            text_models=sorted({c.model for c in matrix.channels.values()}),
            vector_storage=storages.pop() if len(storages) == 1 else None,
            database_bytes=db_file.stat().st_size if db_file.exists() else None,
            vector_bytes=vector_bytes,
        )


def transcript_json(video: Video, segments: list[Segment]) -> dict:
    """A transcript as `vmr transcript --json` prints it and the web API serves it."""
    return {
        "video": video.path, "video_id": video.id, "language": video.language,
        "segments": [{"start": s.start, "end": s.end, "text": s.text,
                      "words": [{"start": w.start, "end": w.end, "text": w.text,
                                 "probability": w.probability} for w in s.words]}
                     for s in segments],
    }
