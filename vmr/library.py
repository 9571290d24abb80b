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
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, selectinload

from vmr.catalogue.locks import writer_lock
from vmr.catalogue.store import (
    Clip, Segment, SlideText, Video, VideoChannel, Word, bump_generation, open_engine, session_factory,
    sqlite_url,
)
from vmr.catalogue.vectors import VectorFiles
from vmr.channels import Channel
from vmr.errors import QueryError, VmrError
from vmr.search import build, lexical, parts
from vmr.search.fusion import encode_queries
from vmr.search.links import moment_link
from vmr.search.moments import Moment
from vmr.search.options import SearchOptions, check_k, validate

if TYPE_CHECKING:  # imported where they are used: a search needs none of them (cold start)
    from vmr.catalogue.writer import Executor, IndexReport
    from vmr.encode.text import TextEncoder
    from vmr.encode.visual import VisualEncoder
    from vmr.ingest.analysis import IndexOptions, Progress
    from vmr.ingest.asr import AsrOptions
    from vmr.ingest.ocr import SlideSpan


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


@dataclass(frozen=True)
class LibraryInfo:
    home: str
    database: str
    videos: list[VideoEntry]
    total_duration: float
    clips: int
    words: int
    text_models: list[str]
    visual_model: str | None
    vector_storage: str | None
    database_bytes: int | None
    vector_bytes: int


@dataclass(frozen=True)
class MomentView:
    """What a stretch of a video holds, in words: the video-to-text direction of search."""

    video: str
    video_id: int
    start: float
    end: float
    link: str
    said: str  # the words spoken in [start, end)
    shown: list[SlideSpan]  # the slide text on screen during the span, slide by slide
    keyframes: list[float]  # the keyframe time of each clip overlapping the span
    visual_model: str | None  # the model that embedded those keyframes, when the video has any


def _video_at(session: Session, path: str | Path) -> Video | None:
    """The video indexed under this path, as typed or with links resolved."""
    target = Path(path).expanduser().absolute()
    return session.scalar(select(Video).where(Video.path.in_({str(target), str(target.resolve())})))


class Library:
    """`ray`: run index and sharded search on a Ray cluster ("local", "auto" or host:port, see
    vmr.cluster); `shards`: search over that many shards of the clip matrix (0: in process)."""

    def __init__(self, home: str | Path | None = None, db: str | None = None, *,
                 storage: str = "int8", device: str = "auto", ray: str | None = None, shards: int = 0,
                 search_options: SearchOptions | None = None):
        self.home = Path(home).expanduser().absolute() if home else default_home()
        self.db_url = db or sqlite_url(self.home)
        self.storage = storage
        self.device = device
        self.ray = ray
        self.shards = shards
        self._engine: Engine | None = None
        self._search_options = search_options
        self._sessions = None
        self._shard_pool = None
        self._encoders: dict[str, TextEncoder | VisualEncoder] = {}
        self._slide_reader = None  # the OCR engine of image queries: loaded once, then reused

    # -- plumbing
    @property
    def engine(self) -> Engine:
        if self._engine is None:
            if self.db_url.startswith("sqlite:///"):
                self.home.mkdir(parents=True, exist_ok=True)
            self._engine = open_engine(self.db_url, self.home)
        return self._engine

    def session(self) -> Session:
        if self._sessions is None:
            self._sessions = session_factory(self.engine)
        return self._sessions()

    @property
    def vectors_dir(self) -> Path:
        """Where the search build lives."""
        return self.home / "vectors"

    @property
    def vector_files(self) -> VectorFiles:
        return VectorFiles(self.home)

    def search_build(self, session: Session) -> build.SearchBuild:
        """The current search build, rebuilt first if the catalogue moved on since it was built."""
        return build.current(session, self.vectors_dir, self.vector_files, self.storage)

    @property
    def search_options(self) -> SearchOptions:
        """The options searches use unless given others: the constructor's, else the
        [search] section of HOME/config.toml."""
        if self._search_options is None:
            from vmr.app.config import load_config

            self._search_options = load_config(self.home).search_options()
        return self._search_options

    # -- the commands
    def index(self, paths: Iterable[str | Path], options: IndexOptions | None = None,
              progress: Progress | None = None, *, wait: bool = False,
              on_wait: Callable[[str], None] | None = None, workers: int | None = None) -> IndexReport:
        """Holds the library's writer lock: with another run writing, raises LibraryBusy, or
        with `wait` waits for it. With `ray`, the videos are analysed on `workers` Ray workers."""
        from vmr.catalogue.writer import Indexer
        from vmr.ingest.analysis import IndexOptions

        with writer_lock(self.engine, self.home, wait, on_wait):
            indexer = Indexer(self.session, options or IndexOptions(), self.vector_files, progress)
            executor: Executor | None = None
            if self.ray is not None:
                from vmr import cluster

                executor = cluster.RayAnalysts(indexer.options, self.ray, workers)
            try:
                report = indexer.run(paths, executor)
            finally:
                if executor is not None:
                    executor.close()
            with self.session() as session:
                parts.warm_up(self.search_build(session))  # build and compile now: the first search pays nothing
        return report

    def search(self, query: str, k: int = 10, options: SearchOptions | None = None) -> list[Moment]:
        return self.search_many([query], k, options)[0]

    def search_many(self, queries: list[str], k: int = 10,
                    options: SearchOptions | None = None) -> list[list[Moment]]:
        """Many queries share one model load and one pass of batched scoring."""
        options = options or self.search_options
        parsed = [lexical.parse_query(validate(q, k)) for q in queries]
        return self._rank(parsed, k, options, lambda channels: encode_queries(
            {c.model: self._encoder(c) for c in channels}, [p.text for p in parsed]))

    def search_image(self, image: str | Path, k: int = 10, options: SearchOptions | None = None, *,
                     read_text: bool = True) -> tuple[str, list[Moment]]:
        """Moments that show `image` (a screenshot, a photo of a slide): its vector from the
        visual model's image tower against the keyframes', fused with its words, read by OCR
        (unless `read_text` is off) and searched through the text channels and keywords.
        Returns (the words read, "" for none; the moments)."""
        from vmr.encode.visual import read_image

        check_k(k)
        pixels = read_image(image)
        if read_text:
            from vmr.ingest.ocr import SlideReader, picture_text

            if self._slide_reader is None:
                self._slide_reader = SlideReader(os.cpu_count() or 1)
            text = picture_text(self._slide_reader, pixels)
        else:
            text = ""

        def query_vectors(channels: list[build.ChannelMatrix]) -> dict:
            found = {c.model: self._encoder(c).encode_images([pixels]) for c in channels if c.name == Channel.VISUAL}
            if text:
                found |= encode_queries({c.model: self._encoder(c) for c in channels if c.name != Channel.VISUAL},
                                        [text])
            if not found:
                raise QueryError(f"{image}: no text read on the image, and searching by the picture "
                                 "needs frames indexed with a visual model (vmr index --visual-model NAME)")
            return found

        return text, self._rank([lexical.parse_query(text)], k, options or self.search_options,
                                query_vectors)[0]

    def search_audio(self, recording: str | Path, k: int = 10, asr: AsrOptions | None = None,
                     options: SearchOptions | None = None) -> tuple[str, list[Moment]]:
        """A spoken question: transcribed by Whisper (on this library's device unless `asr`
        says otherwise), then searched as text. Returns (the question heard, its moments)."""
        from vmr.ingest.asr import AsrOptions, load_transcriber
        from vmr.ingest.media import load_audio

        check_k(k)
        audio = load_audio(recording)
        if audio is None or not len(audio):
            raise QueryError(f"{recording}: no audio in the file")
        heard = load_transcriber(asr or AsrOptions(device=self.device)).transcribe(audio).text.strip()
        if not heard:
            raise QueryError(f"{recording}: no speech heard in the recording")
        return heard, self.search(heard, k, options)

    def _rank(self, queries: list[lexical.Query], k: int, options: SearchOptions | None,
              query_vectors: Callable[[list[build.ChannelMatrix]], dict[str, np.ndarray]]) -> list[list[Moment]]:
        """Score, fuse and rank the parsed queries, with the query vectors made for the
        library's channels. The catalogue is read twice, whatever k is: its generation (is the
        build current?) and the paths of the videos on the result page."""
        options = replace(options or self.search_options, k=k)
        with self.session() as session:
            current = self.search_build(session)
        found = query_vectors(list(current.channels.values()))  # first: it may refuse the query
        if not current.channels:  # nothing to compare with: no video has speech or frames
            return [[] for _ in queries]
        fan = self._shards(current).fan if self.shards else parts.local_fan([parts.Part(current)])
        results = parts.search(fan, current, parts.request_for(current, queries, found, options))
        shown = {m.video_id for moments in results for m in moments}
        with self.session() as session:
            paths = dict(session.execute(select(Video.id, Video.path).where(Video.id.in_(shown))).all()) if shown else {}
        return [parts.with_paths(moments, paths, lambda path, start, end: moment_link(Path(path), start, end))
                for moments in results]

    def _shards(self, current: build.SearchBuild):  # noqa: ANN202 (vmr.cluster imports Ray)
        """Shard actors over this build; new ones when the catalogue moved on."""
        from vmr.cluster import ShardPool

        if self._shard_pool is None or self._shard_pool.generation != current.generation:
            if self._shard_pool is not None:
                self._shard_pool.close()
            self._shard_pool = ShardPool(current, self.shards, self.ray)
        return self._shard_pool

    def _encoder(self, channel: build.ChannelMatrix) -> TextEncoder | VisualEncoder:
        """A channel's query encoder: the visual model (text tower for text, image tower for
        images) for frames, else the text encoder its vectors came from."""
        if channel.model not in self._encoders:
            if channel.name == Channel.VISUAL:
                from vmr.encode.visual import load_visual_encoder

                self._encoders[channel.model] = load_visual_encoder(channel.model, self.device)
            else:
                from vmr.encode.text import load_text_encoder

                self._encoders[channel.model] = load_text_encoder(channel.model, self.device, cold_start=True)
        return self._encoders[channel.model]

    def remove(self, path: str | Path) -> bool:
        """Forget a video (its rows, its vector files, and at the next search its part of the
        build). False if unknown. Holds the writer lock, like an index run."""
        with writer_lock(self.engine, self.home):
            with self.session() as session, session.begin():
                video = _video_at(session, path)
                if video is None:
                    return False
                session.delete(video)
                bump_generation(session)  # the next search or info rebuilds the build
            from vmr.catalogue.writer import prune_vectors

            prune_vectors(self.session, self.vector_files)
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

    def show(self, video: str | int, start: float, end: float) -> MomentView:
        """What was said and shown between `start` and `end` (seconds) of an indexed video."""
        from vmr.ingest.ocr import SlideSpan

        if not 0 <= start < end:
            raise QueryError(f"want 0 <= START < END, not {start} and {end}")
        with self.session() as session:
            found = self.find_video(session, video)
            if start >= found.duration:
                raise QueryError(f"{found.path}: starts at {start} s, after the video ends ({found.duration:.1f} s)")
            end = min(end, found.duration)
            clips = session.scalars(
                select(Clip).where(Clip.video_id == found.id, Clip.end > start, Clip.start < end)
                .order_by(Clip.idx)
            ).all()
            visual = session.get(VideoChannel, (found.id, Channel.VISUAL))
            return MomentView(
                video=found.path, video_id=found.id, start=start, end=end,
                link=moment_link(Path(found.path), start, end),
                said=" ".join(session.scalars(select(Word.text).where(
                    Word.video_id == found.id, (Word.start + Word.end) / 2 >= start,
                    (Word.start + Word.end) / 2 < end).order_by(Word.start)).all()),
                shown=[SlideSpan(s.start, s.end, s.text, s.confidence) for s in session.scalars(
                    select(SlideText).where(SlideText.video_id == found.id, SlideText.end > start,
                                            SlideText.start < end, SlideText.text != "")
                    .order_by(SlideText.idx))],
                keyframes=[c.keyframe_time for c in clips], visual_model=visual.model if visual else None,
            )

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
            current = self.search_build(session)
        db_file = self.home / "vmr.db"
        vector_bytes = sum(p.stat().st_size for p in self.vectors_dir.rglob("*") if p.is_file())
        storages = {c.vectors.dtype.name for c in current.channels.values()}
        visual = current.channels.get(Channel.VISUAL)
        return LibraryInfo(
            home=str(self.home), database=self.engine.url.render_as_string(), videos=entries,
            total_duration=sum(e.duration for e in entries), clips=sum(e.clips for e in entries),
            words=sum(e.words for e in entries),
            text_models=sorted({c.model for c in current.channels.values() if c.name != Channel.VISUAL}),
            visual_model=visual.model if visual else None,
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
