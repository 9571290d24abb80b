"""`Library`: the Python API the CLI is a thin shell over.

    lib = Library("~/lectures-index")
    lib.index(["~/Videos/lectures"])
    for moment in lib.search("how does gradient descent update the weights", k=5):
        print(moment.start, moment.end, moment.link)
"""

from __future__ import annotations

import functools
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vmr.catalogue.reads import (
    INDEXED, SCHEMA_REVISION, NoLibrary, Read, check_sqlite_file, database_errors, generation, indexed_paths,
    revision, sqlite_reads, sqlite_url,
)
from vmr.catalogue.vectors import VectorFiles
from vmr.ingest.files import gone
from vmr.channels import Channel
from vmr.errors import QueryError, VmrError
from vmr.search import build, lexical, parts
from vmr.search.fusion import encode_queries
from vmr.search.links import moment_link
from vmr.search.moments import Moments
from vmr.search.options import SearchOptions, check_k, validate

if TYPE_CHECKING:  # imported where they are used: a search needs none of them (cold start)
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    from vmr.catalogue.store import Segment, Video
    from vmr.catalogue.writer import Executor, IndexedVideo, IndexReport
    from vmr.check import CheckReport
    from vmr.encode.text import TextEncoder
    from vmr.encode.visual import VisualEncoder
    from vmr.ingest.analysis import IndexOptions, Progress
    from vmr.ingest.asr import AsrOptions
    from vmr.ingest.files import FailedInput
    from vmr.ingest.ocr import SlideSpan
    from vmr.ingest.structure import Chapter


# Searches run again at most this many times without the videos on their result page whose file
# went missing since the last index run; what is still missing after that is left out.
MISSING_RETRIES = 2


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
    language: str | None  # ISO 639-1: what Whisper detected (or was told) is spoken; None: no speech
    status: str = INDEXED  # or "missing": its file is gone, so searches leave it out
    translated: bool = False  # its speech has an English translation (indexed with --translate)


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
    problems: list[str]  # what the search build had to go without (see SearchBuild.problems)


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


def _catalogue_errors(method: Callable) -> Callable:
    """A database error inside a Library call becomes one line: the catalogue is damaged (or
    not vmr's), or cannot be reached; never a traceback of SQL."""

    @functools.wraps(method)
    def wrapped(self: Library, *args, **kwargs):  # noqa: ANN202
        try:
            return method(self, *args, **kwargs)
        except database_errors() as exc:
            from vmr.catalogue.store import catalogue_failure

            raise catalogue_failure(exc, self.db_url) from exc

    return wrapped


def _video_at(session: Session, path: str | Path) -> Video | None:
    """The video indexed under this path, as typed or with links resolved."""
    from sqlalchemy import select

    from vmr.catalogue.store import Video

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
        if db is None:
            self._sqlite: Path | None = self.home / "vmr.db"
        else:
            from vmr.catalogue.store import sqlite_file  # SQLAlchemy parses the URL

            self._sqlite = sqlite_file(db)
        self._sqlite_current = False  # the SQLite catalogue was found at this vmr's schema (see open)
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
        # Searches may run in several threads at once (`vmr serve`). These locks guard only the
        # loading of what is shared: the engine, an encoder, the mapped build.
        self._engine_lock = threading.Lock()
        self._encoder_lock = threading.Lock()
        self._build_lock = threading.Lock()
        self._build: build.SearchBuild | None = None  # the build last mapped, reused while current

    # -- plumbing
    @property
    def engine(self) -> Engine:
        """The catalogue's engine; NoLibrary when there is none yet (only `index` makes one)."""
        return self._open(create=False)

    def open(self) -> None:
        """Open the catalogue now: NoLibrary (one line saying what to do) when there is none.
        An SQLite catalogue at this vmr's schema is only checked (its header and its schema
        revision, read through sqlite3): a search reads it that way, and SQLAlchemy (a third of
        a cold search) is imported only when something else needs it. Anything else (no file,
        an older schema to upgrade, a damaged file) is opened through SQLAlchemy, which says
        what is wrong or upgrades it."""
        if self._sqlite is not None and not self._sqlite_current and self._sqlite.exists():
            check_sqlite_file(self._sqlite)
            try:
                with sqlite_reads(self._sqlite) as read:
                    self._sqlite_current = revision(read) == SCHEMA_REVISION
            except sqlite3.Error:
                pass  # no vmr tables, a damaged page, locked: left to open_engine to say
        if not self._sqlite_current:
            self._open(create=False)

    def _open(self, create: bool) -> Engine:
        if self._engine is None:
            with self._engine_lock:
                if self._engine is None:
                    from vmr.catalogue.store import describe_url, open_engine, session_factory, sqlite_file

                    try:
                        engine = open_engine(self.db_url, self.home, create=create)
                    except NoLibrary:
                        where = describe_url(self.db_url)
                        default = sqlite_file(self.db_url) == self.home / "vmr.db"
                        raise NoLibrary(
                            f"no vmr library in {self.home} (no vmr.db there): name your library's folder with "
                            "--home DIR or VMR_HOME, or create one with vmr index PATH" if default else
                            f"no vmr library in {where}: name your library with --db URL (and --home DIR), or "
                            "create one with vmr index PATH"
                        ) from None
                    self._sessions = session_factory(engine)
                    self._engine = engine
        return self._engine

    def session(self) -> Session:
        """A new session: one per request or command, never shared between threads."""
        if self._sessions is None:
            self.engine  # noqa: B018 (opens the engine and its session factory)
        return self._sessions()

    @property
    def vectors_dir(self) -> Path:
        """Where the search build lives."""
        return self.home / "vectors"

    @property
    def vector_files(self) -> VectorFiles:
        return VectorFiles(self.home)

    @contextmanager
    def _reads(self) -> Iterator[Read]:
        """The catalogue, for a search's reads (vmr.catalogue.reads): an SQLite file at this
        vmr's schema through sqlite3, else through a session."""
        self.open()
        if self._sqlite_current:
            with sqlite_reads(self._sqlite) as read:
                yield read
        else:
            from vmr.catalogue.store import sqlalchemy_read

            with self.session() as session:
                yield sqlalchemy_read(session)

    def search_build(self) -> build.SearchBuild:
        """The current search build, rebuilt first if the catalogue moved on since it was built
        (or if it fails to load); a lost or damaged vector file of a text channel (speech,
        slides, passages, chapters) is made again from the catalogue on the way. The build
        mapped last is reused while the catalogue's generation stays the same (one read), so a
        search does not map its files again."""
        with self._reads() as read:
            mapped = self._build
            if mapped is not None and mapped.generation == generation(read):
                return mapped
            with self._build_lock:  # one thread maps (or builds); the others then find it here
                if self._build is None or self._build.generation != generation(read):
                    self._build = build.current(read, self.vectors_dir, self._write_build)
                return self._build

    def _write_build(self) -> build.SearchBuild:
        """The build written from the catalogue's rows now (its caller holds the build lock)."""
        with self.session() as session:
            return build.write(session, self.vectors_dir, self.vector_files, self.storage, self._repairer(session))

    def _repairer(self, session: Session) -> build.Repair:
        def repair(video_id: int, channel: str, model: str) -> np.ndarray | None:
            from vmr.catalogue.repair import rederive_text
            from vmr.catalogue.store import Video

            return rederive_text(session, self.vector_files, session.get(Video, video_id), channel, model,
                                 lambda texts: self._text_encoder(model).encode(texts))

        return repair

    def _text_encoder(self, model: str) -> TextEncoder:
        found = self._encoders.get(model)
        if found is not None:
            return found
        with self._encoder_lock:  # loaded once, by one thread
            if model not in self._encoders:
                from vmr.encode.text import load_text_encoder

                self._encoders[model] = load_text_encoder(model, self.device, cold_start=True)
            return self._encoders[model]

    @property
    def mapped_clips(self) -> int:
        """The clips of the search build this library last mapped (0 before its first search)."""
        return self._build.library_clips if self._build is not None else 0

    @property
    def search_options(self) -> SearchOptions:
        """The options searches use unless given others: the constructor's, else the
        [search] section of HOME/config.toml."""
        if self._search_options is None:
            from vmr.app.config import load_config

            self._search_options = load_config(self.home).search_options()
        return self._search_options

    # -- the commands
    @_catalogue_errors
    def index(self, paths: Iterable[str | Path], options: IndexOptions | None = None,
              progress: Progress | None = None, *, wait: bool = False,
              on_wait: Callable[[str], None] | None = None, workers: int | None = None,
              prune: bool = False,
              finished: Callable[[IndexedVideo | FailedInput], None] | None = None) -> IndexReport:
        """Holds the library's writer lock: with another run writing, raises LibraryBusy, or
        with `wait` waits for it. With `ray`, the videos are analysed on `workers` Ray workers.
        Videos whose file is gone are marked missing (left out of searches), and with `prune`
        forgotten. `finished` hears of each file (indexed, unchanged, updated or failed) as it
        is written. Only this creates a library."""
        from vmr.catalogue.locks import writer_lock
        from vmr.catalogue.writer import Indexer
        from vmr.ingest.analysis import IndexOptions

        with writer_lock(self._open(create=True), self.home, wait, on_wait):
            indexer = Indexer(self.session, options or IndexOptions(), self.vector_files, progress, finished)
            executor: Executor | None = None
            if self.ray is not None:
                from vmr import cluster

                executor = cluster.RayAnalysts(indexer.options, self.ray, workers)
            try:
                report = indexer.run(paths, executor, prune=prune)
            finally:
                if executor is not None:
                    executor.close()
            parts.warm_up(self.search_build())  # build and compile now: the first search pays nothing
        return report

    def search(self, query: str, k: int = 10, options: SearchOptions | None = None) -> Moments:
        """The query's best k moments, with what their search build had to go without
        (`Moments.problems`: a vector file lost or damaged)."""
        return self.search_many([query], k, options)[0]

    @_catalogue_errors
    def search_many(self, queries: list[str], k: int = 10,
                    options: SearchOptions | None = None) -> list[Moments]:
        """Many queries share one model load and one pass of batched scoring."""
        options = options or self.search_options
        parsed = [lexical.parse_query(validate(q, k)) for q in queries]
        return self._rank(parsed, k, options, lambda channels: encode_queries(
            {c.model: self._encoder(c) for c in channels}, [p.text for p in parsed]))

    @_catalogue_errors
    def search_image(self, image: str | Path, k: int = 10, options: SearchOptions | None = None, *,
                     read_text: bool = True) -> tuple[str, Moments]:
        """Moments that show `image` (a screenshot, a photo of a slide): its vector from the
        visual model's image tower against the keyframes', fused with its words, read by OCR
        (unless `read_text` is off) and searched through the text channels and keywords.
        Returns (the words read, "" for none; the moments)."""
        from vmr.encode.visual import read_image

        check_k(k)
        pixels = read_image(image)
        if read_text:
            from vmr.ingest.ocr import SlideReader, picture_text
            from vmr.models.devices import usable_cores

            if self._slide_reader is None:
                self._slide_reader = SlideReader(usable_cores())
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

    @_catalogue_errors
    def search_audio(self, recording: str | Path, k: int = 10, asr: AsrOptions | None = None,
                     options: SearchOptions | None = None) -> tuple[str, Moments]:
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
              query_vectors: Callable[[list[build.ChannelMatrix]], dict[str, np.ndarray]]) -> list[Moments]:
        """Score, fuse and rank the parsed queries, with the query vectors made for the
        library's channels. The catalogue is read twice, whatever k is: its generation (is the
        build current?) and the paths of the videos on the result page; once more for each
        round (at most MISSING_RETRIES) that finds a video on the page whose file is gone."""
        options = replace(options or self.search_options, k=k)
        current = self.search_build()
        found = query_vectors(list(current.channels.values()))  # first: it may refuse the query
        if not current.channels:  # nothing to compare with: no video has speech or frames
            return [Moments(problems=current.problems) for _ in queries]
        if self.shards:
            return self._page(self._shards(current).fan, current, queries, found, options, current.problems)
        try:
            return self._page(parts.local_fan([parts.Part(current)]), current, queries, found, options,
                              current.problems)
        except (ValueError, IndexError, KeyError):
            # Data in the build's files that loaded but is not what was written (NaN where
            # vectors were, offsets past the end): it is derived, so built again and searched
            # once more. A failure on sound data is a real error, raised.
            damage = build.data_problem(current)
            if damage is None:
                raise
            with self.session() as session:
                current = build.rebuild(session, self.vectors_dir, self.vector_files, self.storage,
                                        self._repairer(session))
            self._build = current
            return self._page(parts.local_fan([parts.Part(current)]), current, queries, found, options,
                              current.problems + (f"the search build was damaged ({damage}) and was made again",))

    def _page(self, fan: parts.Fan, current: build.SearchBuild, queries: list[lexical.Query],
              found: dict[str, np.ndarray], options: SearchOptions, problems: tuple[str, ...]) -> list[Moments]:
        """The moments of the queries with the videos' paths, and the search's `problems`;
        videos whose file is gone are left out (and the search run again without them)."""
        excluded: frozenset[int] = frozenset()
        paths: dict[int, str] = {}
        for _ in range(MISSING_RETRIES + 1):
            results = parts.search(fan, current, parts.request_for(current, queries, found, options, excluded))
            shown = {m.video_id for moments in results for m in moments} - paths.keys()
            if shown:
                with self._reads() as read:
                    paths |= indexed_paths(read, shown)
            # A file deleted since the last index run is still in the build: its moments would
            # be dead links. One stat per video on the page; the search runs again without it.
            lost = {v for v in shown if v not in paths or gone(paths[v])}
            if not lost:
                break
            excluded |= lost
            for video_id in lost:
                paths.pop(video_id, None)
        return [Moments(parts.with_paths(moments, paths, lambda path, start, end: moment_link(Path(path), start, end)),
                        problems) for moments in results]

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
        if channel.name != Channel.VISUAL:
            return self._text_encoder(channel.model)
        found = self._encoders.get(channel.model)
        if found is not None:
            return found
        with self._encoder_lock:  # loaded once, by one thread
            if channel.model not in self._encoders:
                from vmr.encode.visual import load_visual_encoder

                self._encoders[channel.model] = load_visual_encoder(channel.model, self.device)
            return self._encoders[channel.model]

    @_catalogue_errors
    def check(self, prune: bool = False) -> CheckReport:
        """Verify the catalogue and repair what is derived from it (see vmr.check); with
        `prune`, forget the videos whose file is gone."""
        from vmr.check import check

        return check(self, prune)

    @_catalogue_errors
    def remove(self, path: str | Path) -> bool:
        """Forget a video (its rows, its vector files, and at the next search its part of the
        build). False if unknown. Holds the writer lock, like an index run."""
        from vmr.catalogue.locks import writer_lock
        from vmr.catalogue.store import bump_generation

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
        from vmr.catalogue.store import Video

        found = None
        if isinstance(video, int) or str(video).isdigit():
            found = session.get(Video, int(video))
        if found is None:
            found = _video_at(session, str(video))
        if found is None:
            raise VmrError(f"{video}: not in the index (vmr index it first)")
        return found

    @_catalogue_errors
    def show(self, video: str | int, start: float, end: float) -> MomentView:
        """What was said and shown between `start` and `end` (seconds) of an indexed video."""
        from sqlalchemy import select

        from vmr.catalogue.store import Clip, SlideText, VideoChannel, Word
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

    @_catalogue_errors
    def chapters(self, video: str | int) -> tuple[Video, list[Chapter]]:
        """A video's chapters, from its start to its end (`vmr.ingest.structure`)."""
        from sqlalchemy import select

        from vmr.catalogue.store import ChapterRow

        with self.session() as session:
            found = self.find_video(session, video)
            if found.structure is None:
                raise VmrError(f"{found.path}: indexed before chapters; vmr index it again to derive them "
                               "from its transcript and slides (no new transcription)")
            rows = session.scalars(select(ChapterRow).where(ChapterRow.video_id == found.id)
                                   .order_by(ChapterRow.idx)).all()
            from vmr.ingest.structure import Chapter

            return found, [Chapter(r.start, r.end, r.title) for r in rows]


    @_catalogue_errors
    def transcript(self, video: str | int, translation: bool = False) -> tuple[Video, list[Segment]]:
        """A video's transcript segments, with their words; with `translation`, its English
        translation's sentences instead (indexed with --translate; they have no words; none for
        a video without one)."""
        from sqlalchemy import select
        from sqlalchemy.orm import selectinload

        from vmr.catalogue.store import Segment, TranslatedSentence

        with self.session() as session:
            found = self.find_video(session, video)
            if translation:
                return found, list(session.scalars(select(TranslatedSentence).where(
                    TranslatedSentence.video_id == found.id).order_by(TranslatedSentence.idx)))
            segments = session.scalars(
                select(Segment).where(Segment.video_id == found.id).order_by(Segment.idx)
                .options(selectinload(Segment.words))
            ).all()
            return found, list(segments)

    @_catalogue_errors
    def videos(self, video_id: int | None = None) -> list[VideoEntry]:
        """Every indexed video by path, or only the one with this id (none if unknown)."""
        from sqlalchemy import func, select

        from vmr.catalogue.store import Clip, TranslatedSentence, Video, Word

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
            translated = set(session.scalars(select(TranslatedSentence.video_id).distinct()))
            return [
                VideoEntry(v.id, v.path, v.duration, clip_counts.get(v.id, 0), word_counts.get(v.id, 0),
                           v.has_audio, v.asr_model, v.indexed_at.isoformat(), v.language, v.status,
                           v.id in translated)
                for v in session.scalars(videos.order_by(Video.path))
            ]

    @_catalogue_errors
    def info(self) -> LibraryInfo:
        entries = self.videos()
        current = self.search_build()
        db_file = self.home / "vmr.db"
        vector_bytes = sum(_size_of(p) for p in self.vectors_dir.rglob("*"))
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
            vector_bytes=vector_bytes, problems=list(current.problems),
        )


def _size_of(path: Path) -> int:
    """A file's size; 0 for a folder, or a file a rebuild removed meanwhile."""
    try:
        return path.stat().st_size if path.is_file() else 0
    except OSError:
        return 0


def transcript_json(video: Video, segments: list[Segment], translation: bool = False) -> dict:
    """A transcript as `vmr transcript --json` prints it and the web API serves it; with
    `translation`, the segments are its English translation (`Library.transcript`)."""
    return {
        "video": video.path, "video_id": video.id, "language": "en" if translation else video.language,
        "translated_from": video.language if translation else None,
        "segments": [{"start": s.start, "end": s.end, "text": s.text,
                      "words": [{"start": w.start, "end": w.end, "text": w.text,
                                 "probability": w.probability} for w in s.words]}
                     for s in segments],
    }
