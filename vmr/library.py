"""`Library`: the Python API the CLI is a thin shell over.

    lib = Library("~/lectures-index")
    lib.index(["~/Videos/lectures"])
    for moment in lib.search("how does gradient descent update the weights", k=5):
        print(moment.start, moment.end, moment.link)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, selectinload

from vmr import vectors
from vmr.encoders import TextEncoder
from vmr.errors import VmrError
from vmr.index import IndexOptions, Indexer, IndexReport, Progress
from vmr.locks import writer_lock
from vmr.search import (
    Moment, SearchOptions, clip_scores, describe, encode_queries, moments, validate, warm_up, window_lengths,
)
from vmr.store import (
    Clip, Segment, Video, Word, bump_generation, open_engine, session_factory, sqlite_url,
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
    """`ray`: run index and sharded search on a Ray cluster ("local", "auto" or host:port, see
    vmr.cluster); `shards`: search over that many shards of the clip matrix (0: in process)."""

    def __init__(self, home: str | Path | None = None, db: str | None = None, *,
                 storage: str = "int8", device: str = "auto", ray: str | None = None, shards: int = 0):
        self.home = Path(home).expanduser().absolute() if home else default_home()
        self.db_url = db or sqlite_url(self.home)
        self.storage = storage
        self.device = device
        self.ray = ray
        self.shards = shards
        self._engine: Engine | None = None
        self._sessions = None
        self._shard_pool = None
        self._encoders: dict[str, TextEncoder] = {}

    # -- plumbing
    @property
    def engine(self) -> Engine:
        if self._engine is None:
            if self.db_url.startswith("sqlite:///"):
                self.home.mkdir(parents=True, exist_ok=True)
            self._engine = open_engine(self.db_url)
        return self._engine

    def session(self) -> Session:
        if self._sessions is None:
            self._sessions = session_factory(self.engine)
        return self._sessions()

    @property
    def vectors_dir(self) -> Path:
        return self.home / "vectors"

    def matrix(self, session: Session) -> vectors.ClipMatrix:
        """The current matrices, rebuilt first if the catalogue moved on since they were built."""
        return vectors.current(session, self.vectors_dir, self.storage)

    # -- the commands
    def index(self, paths: Iterable[str | Path], options: IndexOptions | None = None,
              progress: Progress | None = None, *, wait: bool = False,
              on_wait: Callable[[str], None] | None = None, workers: int | None = None) -> IndexReport:
        """Holds the library's writer lock: with another run writing, raises LibraryBusy, or
        with `wait` waits for it. With `ray`, the videos are analysed on `workers` Ray workers."""
        with writer_lock(self.engine, self.home, wait, on_wait):
            indexer = Indexer(self.session, options or IndexOptions(), progress)
            if self.ray is None:
                report = indexer.run(paths)
            else:
                from vmr import cluster

                report = cluster.index(indexer, paths, self.ray, workers)
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
            query_vectors = encode_queries(encoders, queries)
            if self.shards:
                lengths = window_lengths(matrix, options.window_seconds)
                found = self._shards(matrix).search(query_vectors, len(queries), options, lengths)
                return [describe(session, matrix, *windows) for windows in found]
            scores = clip_scores(matrix, query_vectors, len(queries), options)
            return [moments(session, matrix, row, options) for row in scores]

    def _shards(self, matrix: vectors.ClipMatrix):  # noqa: ANN202 (vmr.cluster imports Ray)
        """Shard actors over this build of the matrices; new ones when the catalogue moved on."""
        from vmr.cluster import ShardPool

        if self._shard_pool is None or self._shard_pool.generation != matrix.generation:
            if self._shard_pool is not None:
                self._shard_pool.close()
            self._shard_pool = ShardPool(matrix, self.shards, self.ray)
        return self._shard_pool

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

    def info(self) -> LibraryInfo:
        with self.session() as session:
            clip_counts = dict(session.execute(select(Clip.video_id, func.count()).group_by(Clip.video_id)).all())
            word_counts = dict(session.execute(select(Word.video_id, func.count()).group_by(Word.video_id)).all())
            entries = [
                VideoEntry(v.id, v.path, v.duration, clip_counts.get(v.id, 0), word_counts.get(v.id, 0),
                           v.has_audio, v.asr_model, v.indexed_at.isoformat())
                for v in session.scalars(select(Video).order_by(Video.path))
            ]
            matrix = self.matrix(session)
        db_file = self.home / "vmr.db"
        vector_bytes = sum(p.stat().st_size for p in self.vectors_dir.rglob("*") if p.is_file())
        storages = {c.vectors.dtype.name for c in matrix.channels.values()}
        return LibraryInfo(
            home=str(self.home), database=self.engine.url.render_as_string(), videos=entries,
            total_duration=sum(e.duration for e in entries), clips=sum(e.clips for e in entries),
            words=sum(e.words for e in entries),
            text_models=sorted({c.model for c in matrix.channels.values()}),
            vector_storage=storages.pop() if len(storages) == 1 else None,
            database_bytes=db_file.stat().st_size if db_file.exists() else None,
            vector_bytes=vector_bytes,
        )
