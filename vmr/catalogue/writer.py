"""The one writer: files -> analyses -> the catalogue, one transaction per video.

Each video is written in one transaction after all its work is done, so an interrupted run
leaves every video either fully indexed or absent, and the next run picks up where it stopped.
"""

from __future__ import annotations

import os
import stat as stat_module
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from vmr.catalogue.reads import INDEXED, MISSING
from vmr.catalogue.repair import lecture_rows, spoken_sentences
from vmr.catalogue.store import (
    ChapterRow, Clip, Segment, SlideText, TranslatedSentence, Video, VideoChannel, Word, bump_generation, utcnow,
)
from vmr.catalogue.vectors import VectorFiles
from vmr.channels import Channel
from vmr.encode.text import DEFAULT_TEXT_MODEL
from vmr.encode.visual import resolve_visual_model
from vmr.errors import ModelError, VmrError
from vmr.ingest.analysis import (
    AUTO, MULTILINGUAL_MODEL, Analyser, IndexOptions, Progress, StageClock, VideoAnalysis, canonical_text_model,
    clip_slide_texts, speech_texts,
)
from vmr.ingest import structure
from vmr.ingest.files import FailedInput, content_hash, discover, file_stat, gone


@dataclass(frozen=True)
class IndexedVideo:
    path: str
    video_id: int
    duration: float
    clips: int
    words: int
    # "indexed" | "unchanged" | "updated" (unchanged; visual channel or chapters added) | "moved" (an indexed
    # video's content, found at this new path) | "duplicate" (a copy of a video indexed under
    # another path that still holds it: indexed once, under that path, `same_as`)
    status: str
    warning: str | None = None
    # Wall time per stage; speech runs beside frames and slides (OCR), so those overlap.
    seconds: dict[str, float] = field(default_factory=dict)
    slides: int = 0  # pictures with on-screen text
    moved_from: str | None = None  # "moved": the path it was indexed under
    same_as: str | None = None  # "duplicate": the path it is indexed under
    language: str | None = None  # the language spoken (ISO 639-1), as Whisper detected or was told


@dataclass
class IndexReport:
    indexed: list[IndexedVideo] = field(default_factory=list)
    failed: list[FailedInput] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # indexed videos whose file is gone (left out of searches)
    pruned: list[str] = field(default_factory=list)  # missing videos forgotten by --prune
    notes: list[str] = field(default_factory=list)  # one line each: what the run decided for the library

    @property
    def ok(self) -> bool:
        """Something could be done: not every input failed."""
        return bool(self.indexed) or not self.failed


class Executor(Protocol):
    """Where analyses run: `submit` starts one and returns its future (a VideoAnalysis, or a
    VmrError naming what is wrong with the file); at most `capacity` are in flight at once."""

    capacity: int

    def submit(self, path: Path, stat: os.stat_result, digest: str | None,
               clock: StageClock) -> Future[VideoAnalysis]: ...


class InProcess:
    """Analyses one video at a time, here, when it is submitted."""

    capacity = 1

    def __init__(self, analyser: Analyser):
        self.analyser = analyser

    def submit(self, path: Path, stat: os.stat_result, digest: str | None,
               clock: StageClock) -> Future[VideoAnalysis]:
        future: Future[VideoAnalysis] = Future()
        try:
            future.set_result(self.analyser.analyse(path, stat, digest, clock))
        except VmrError as exc:
            future.set_exception(exc)
        return future


class Indexer:
    """Indexes files into a catalogue: skips unchanged files, has the rest analysed (here, or on
    a cluster's workers) and writes each video in one transaction, in the order the files were
    found, so video ids never depend on which analysis finished first."""

    def __init__(self, sessions: Callable[[], Session], options: IndexOptions, files: VectorFiles,
                 progress: Progress | None = None,
                 finished: Callable[[IndexedVideo | FailedInput], None] | None = None):
        self.sessions = sessions
        self.files = files
        self.progress = progress or (lambda *_: None)
        self.finished = finished or (lambda _: None)  # each file's outcome, as soon as it is written
        models = self.text_models()
        if models:  # new videos join the library's model (auto) where they can
            options = replace(options, library_text_model=MULTILINGUAL_MODEL if MULTILINGUAL_MODEL in models
                              else sorted(models)[0])
        self.options = options
        self.analyser = Analyser(options, self.progress)

    def run(self, paths: Iterable[str | Path], executor: Executor | None = None, prune: bool = False) -> IndexReport:
        """Index the files; then mark the videos whose file is gone as missing (and those
        whose file is back as indexed), and with `prune` forget the missing ones."""
        files, failed = discover(paths)
        report = IndexReport(failed=failed)
        executor = executor or InProcess(self.analyser)
        pending: deque[tuple[Path, Future[VideoAnalysis] | IndexedVideo | VmrError]] = deque()
        in_flight = 0
        for path in files:
            try:
                unchanged, stat, digest, clock = self.check(path)
                if unchanged is None:
                    self.progress(str(path), "analyse", 0, 1)
                    pending.append((path, executor.submit(path, stat, digest, clock)))
                    in_flight += 1
                elif (self.options.visual_model and unchanged.status != "duplicate"
                      and not self._has_visual(unchanged.video_id)):
                    pending.append((path, self.add_visual(path, unchanged, clock)))
                elif self.options.chapters and not self._has_structure(unchanged.video_id):
                    pending.append((path, self.add_structure(unchanged, clock)))
                else:
                    pending.append((path, unchanged))
            except ModelError:
                raise  # not about this file: every other file would fail the same way
            except VmrError as exc:
                pending.append((path, exc))
            # Write what is ready, in order; wait for the oldest analysis when all are busy.
            while pending and (not isinstance(pending[0][1], Future) or pending[0][1].done()
                               or in_flight >= executor.capacity):
                in_flight -= isinstance(pending[0][1], Future)
                self._finish(report, *pending.popleft())
        while pending:
            self._finish(report, *pending.popleft())
        report.missing = sweep(self.sessions)
        if prune and report.missing:
            report.pruned = forget_missing(self.sessions)
            report.missing = []
        self.one_text_model(report)
        report.notes += self.analyser.notes
        self.prune()
        return report

    def text_models(self) -> dict[str, set[int]]:
        """The text models of the library's videos, and the videos each embedded."""
        found: dict[str, set[int]] = {}
        with self.sessions() as session:
            for video_id, model in session.execute(select(VideoChannel.video_id, VideoChannel.model)
                                                   .where(VideoChannel.channel != Channel.VISUAL)):
                found.setdefault(model, set()).add(video_id)
        return found

    def one_text_model(self, report: IndexReport) -> None:
        """Text vectors from two models cannot be searched together. Where the run left the
        library with two (a video in another language joined an English library under auto, or
        --text-model named another model), the videos with the other one are embedded again
        from their stored transcripts and slide text, and a note says so."""
        models = self.text_models()
        if len(models) < 2:
            return
        if self.options.text_model != AUTO:
            target = canonical_text_model(self.options.text_model)
            why = f"--text-model {target}"
        else:
            target = MULTILINGUAL_MODEL if MULTILINGUAL_MODEL in models else DEFAULT_TEXT_MODEL
            with self.sessions() as session:
                spoken = sorted({language for (language,) in session.execute(
                    select(Video.language).where(Video.id.in_(models.get(target, set())))) if language
                    and language != "en"})
            why = f"speech in {', '.join(spoken) or 'another language than English'}"
        stale = sorted(set().union(*(videos for model, videos in models.items() if model != target)))
        if target not in models or not stale:
            return
        position = {entry.video_id: i for i, entry in enumerate(report.indexed)}
        for video_id in stale:
            clock = StageClock()
            with self.sessions() as session:
                video = self._summary(session, session.get(Video, video_id), "updated")
            updated = self.add_structure(video, clock, target, text=True)
            if video_id in position:
                report.indexed[position[video_id]] = updated
            else:
                report.indexed.append(updated)
        others = ", ".join(sorted(m for m in models if m != target))
        report.notes.append(f"{why}: the library's text model is now {target}; {len(stale)} video"
                            f"{'s' if len(stale) != 1 else ''} with {others} embedded again from stored "
                            "transcripts and slides (no speech recognition), so that models do not mix")

    def _finish(self, report: IndexReport, path: Path,
                outcome: Future[VideoAnalysis] | IndexedVideo | VmrError) -> None:
        try:
            if isinstance(outcome, Future):
                outcome = self.write(outcome.result())
            if isinstance(outcome, VmrError):
                raise outcome
            report.indexed.append(outcome)
        except ModelError:
            raise
        except VmrError as exc:
            outcome = FailedInput.of(path, exc)
            report.failed.append(outcome)
        finally:
            self.progress(str(path), "done", 1, 1)
        self.finished(outcome)

    def _has_visual(self, video_id: int) -> bool:
        """Whether the video has vectors from the visual model asked for."""
        model = resolve_visual_model(self.options.visual_model)
        with self.sessions() as session:
            found = session.get(VideoChannel, (video_id, Channel.VISUAL))
            return found is not None and found.model == model

    def add_visual(self, path: Path, video: IndexedVideo, clock: StageClock) -> IndexedVideo:
        """An unchanged video indexed without the visual channel (or with another visual model)
        gets its keyframes encoded, without redoing its speech."""
        with self.sessions() as session:
            row = session.get(Video, video.video_id)
            content, keyframes = row.content_hash, session.scalars(
                select(Clip.keyframe_time).where(Clip.video_id == video.video_id).order_by(Clip.idx)).all()
        visual = self.analyser.visual_channel(path, list(keyframes), clock)
        dim = self.files.write(content, Channel.VISUAL, visual.model, len(keyframes), visual.vectors)
        with self.sessions() as session, session.begin():
            session.merge(VideoChannel(video_id=video.video_id, channel=Channel.VISUAL, model=visual.model, dim=dim))
            bump_generation(session)
        return replace(video, status="updated", seconds=clock.seconds)

    def _has_structure(self, video_id: int) -> bool:
        with self.sessions() as session:
            return session.get(Video, video_id).structure == structure.VERSION

    def add_structure(self, video: IndexedVideo, clock: StageClock, model: str | None = None,
                      text: bool = False) -> IndexedVideo:
        """An unchanged video indexed before chapters (or with an older structure) gets its
        chapters and passage/chapter vectors, derived from its stored words and slide text; with
        `text`, its speech and slides vectors too (all from `model`, else the one for its
        language)."""
        with self.sessions() as session:
            row = session.get(Video, video.video_id)
            content, duration = row.content_hash, row.duration
            model = model or self.options.text_model_for(row.language)
            segments = spoken_sentences(session, row.id) if text else []
            keyframes = [c.keyframe_time for c in session.scalars(
                select(Clip).where(Clip.video_id == row.id).order_by(Clip.idx))]
            words, slides, clips = lecture_rows(session, row.id)
        channels, encoded = {}, {}
        if text:
            channels = self.analyser.text_channels(video.path, speech_texts(segments, clips),
                                                   clip_slide_texts(slides, _Keyframes(keyframes)), model, clock,
                                                   encoded)
        chapters, found = self.analyser.structure(video.path, words, slides, clips, duration, clock, model,
                                                  encoded)
        channels |= found
        dims = {channel: self.files.write(content, channel, found.model, len(clips), found.vectors)
                for channel, found in channels.items()}
        with self.sessions() as session, session.begin():
            row = session.get(Video, video.video_id)
            replaced = [Channel.SPEECH, Channel.SLIDES, *structure.CHANNELS] if text else list(structure.CHANNELS)
            for old in session.scalars(select(VideoChannel).where(
                    VideoChannel.video_id == row.id, VideoChannel.channel.in_(replaced))):
                session.delete(old)
            session.flush()
            for channel, found in channels.items():
                session.add(VideoChannel(video_id=row.id, channel=channel, model=found.model, dim=dims[channel]))
            row.chapters = [ChapterRow(idx=i, start=c.start, end=c.end, title=c.title) for i, c in enumerate(chapters)]
            row.structure = structure.VERSION
            bump_generation(session)
        return replace(video, status="updated", seconds=clock.seconds)

    def prune(self) -> None:
        prune_vectors(self.sessions, self.files)

    def check(self, path: Path) -> tuple[IndexedVideo | None, os.stat_result, str | None, StageClock]:
        """The summary of a file that needs no analysis, else None with what was learnt on the
        way (its stat, and its hash when it had to be computed). No analysis is needed for an
        unchanged file (same size and mtime, or same content), for an indexed video's content
        found at a new path (moved: its row follows the file), or for a copy of a video whose
        indexed path still holds it (duplicate: a content is indexed once). A video in another
        language than English indexed without its translation is analysed again where this run
        translates (`IndexOptions.translate`). Hashing is only
        needed where the catalogue holds this path or a video of the same size."""
        name = str(path)
        clock = StageClock()
        stat = file_stat(path)
        with self.sessions() as session:
            existing = session.scalar(select(Video).where(Video.path == name))
            if existing and self.options.translates(existing.language) and not existing.translation:
                return None, stat, None, clock  # indexed without its translation: analysed again, with it
            if existing and existing.size == stat.st_size and existing.mtime == stat.st_mtime:
                return self._unchanged(existing.id, stat), stat, None, clock
            same_size = session.scalar(select(func.count(Video.id)).where(
                Video.size == stat.st_size, Video.path != name))
        if existing is None and not same_size:
            return None, stat, None, clock
        digest = content_hash(path, lambda done, total: self.progress(name, "hash", done, total))
        clock.lap("hash")
        if existing is not None and existing.content_hash == digest:
            return self._unchanged(existing.id, stat), stat, digest, clock  # touched, not changed
        with self.sessions() as session, session.begin():
            twins = session.scalars(select(Video).where(Video.content_hash == digest, Video.path != name)
                                    .order_by(Video.id)).all()
            if not twins:
                return None, stat, digest, clock
            if existing is not None:  # this path held other content, now gone from it
                session.delete(session.get(Video, existing.id))
                session.flush()
                bump_generation(session)
            moving = next((t for t in twins if not holds(t)), None)
            if moving is None:  # every copy indexed before is still in place: this one is a duplicate
                twin = twins[0]
                return replace(self._summary(session, twin, "duplicate", seconds=clock.seconds), path=name,
                               same_as=twin.path), stat, digest, clock
            moved_from = moving.path
            moving.path, moving.size, moving.mtime, moving.status = name, stat.st_size, stat.st_mtime, INDEXED
            bump_generation(session)
            session.flush()
            return replace(self._summary(session, moving, "moved", seconds=clock.seconds), moved_from=moved_from), \
                stat, digest, clock

    def _unchanged(self, video_id: int, stat: os.stat_result) -> IndexedVideo:
        """An unchanged file's summary; its mtime is recorded (a touched file), and a video
        marked missing whose file is back is searched again."""
        with self.sessions() as session:
            video = session.get(Video, video_id)
            if video.mtime == stat.st_mtime and video.status == INDEXED:  # the usual case: no write
                return self._summary(session, video, "unchanged")
        with self.sessions() as session, session.begin():
            video = session.get(Video, video_id)
            video.mtime = stat.st_mtime
            if video.status != INDEXED:
                video.status = INDEXED
                bump_generation(session)
            return self._summary(session, video, "unchanged")

    def write(self, analysis: VideoAnalysis) -> IndexedVideo:
        started = time.perf_counter()
        with self.sessions() as session, session.begin():
            # A copy analysed beside its original (on a cluster, both in flight at once): the
            # content is indexed once, whichever was written first.
            twin = session.scalars(select(Video).where(Video.content_hash == analysis.content_hash,
                                                       Video.path != analysis.path).order_by(Video.id)).first()
            if twin is not None and holds(twin):
                stale = session.scalar(select(Video).where(Video.path == analysis.path))
                if stale is not None:  # what this path held before is gone from it
                    session.delete(stale)
                    bump_generation(session)
                return replace(self._summary(session, twin, "duplicate"), path=analysis.path, same_as=twin.path,
                               seconds=analysis.seconds)
            video = self._save(session, analysis)
        seconds = {**analysis.seconds, "save": round(time.perf_counter() - started, 3)}
        with self.sessions() as session:
            return self._summary(session, video, "indexed", analysis.warning, seconds)

    def _save(self, session: Session, analysis: VideoAnalysis) -> Video:
        old = session.scalar(select(Video).where(Video.path == analysis.path))
        if old is not None:
            session.delete(old)
            session.flush()
        scan, transcript = analysis.scan, analysis.transcript
        video = Video(
            path=analysis.path, content_hash=analysis.content_hash, size=analysis.size,
            mtime=analysis.mtime, duration=scan.duration, fps=scan.fps, width=scan.width,
            height=scan.height, has_audio=analysis.has_audio, status=INDEXED,
            asr_model=f"{transcript.backend}:{transcript.model}" if transcript else None,
            language=transcript.language if transcript else None, indexed_at=utcnow(),
            structure=structure.VERSION if self.options.chapters else None,
        )
        video.clips = [Clip(idx=i, start=span.start, end=span.end, keyframe_time=keyframe)
                       for i, (span, keyframe) in enumerate(zip(scan.clips, scan.keyframe_times))]
        # The vector files first: a run killed before the commit leaves files no row refers
        # to, which the next run prunes, never a row without its vectors.
        video.channels = [
            VideoChannel(channel=channel, model=found.model,
                         dim=self.files.write(analysis.content_hash, channel, found.model, len(scan.clips),
                                              found.vectors))
            for channel, found in analysis.channels.items()
        ]
        session.add(video)
        session.flush()  # ids for the words' video_id
        for s_idx, seg in enumerate(transcript.segments if transcript else []):
            segment = Segment(idx=s_idx, start=seg.start, end=seg.end, text=seg.text.strip(),
                              avg_logprob=seg.avg_logprob, no_speech_prob=seg.no_speech_prob)
            segment.words = [
                Word(idx=w_idx, video_id=video.id, start=w.start, end=w.end,
                     text=w.text.strip(), probability=w.probability)
                for w_idx, w in enumerate(seg.words)
            ]
            video.segments.append(segment)
        video.slides = [
            SlideText(idx=i, start=slide.start, end=slide.end, text=slide.text, confidence=slide.confidence)
            for i, slide in enumerate(analysis.slides)
        ]
        video.chapters = [ChapterRow(idx=i, start=c.start, end=c.end, title=c.title)
                          for i, c in enumerate(analysis.chapters)]
        video.translation = [TranslatedSentence(idx=i, start=s.start, end=s.end, text=s.text.strip())
                             for i, s in enumerate(transcript.translation if transcript else [])]
        bump_generation(session)
        session.flush()
        return video

    @staticmethod
    def _summary(session: Session, video: Video, status: str, warning: str | None = None,
                 seconds: dict[str, float] | None = None) -> IndexedVideo:
        words = session.scalar(select(func.count(Word.id)).where(Word.video_id == video.id)) or 0
        clips = session.scalar(select(func.count(Clip.id)).where(Clip.video_id == video.id)) or 0
        slides = session.scalar(select(func.count(SlideText.id)).where(
            SlideText.video_id == video.id, SlideText.text != "")) or 0
        return IndexedVideo(video.path, video.id, video.duration, clips, words, status, warning,
                            seconds or {}, slides, language=video.language)


@dataclass(frozen=True)
class _Keyframes:
    """A video's keyframe times, where `clip_slide_texts` wants its scan."""

    keyframe_times: list[float]


def prune_vectors(sessions: Callable[[], Session], files: VectorFiles) -> int:
    """Delete the vector files no video refers to any more (removed, replaced or re-embedded),
    and the partial files of killed runs; how many went. The caller holds the writer lock."""
    with sessions() as session:
        rows = session.execute(select(Video.content_hash, VideoChannel.channel, VideoChannel.model)
                               .join(VideoChannel)).all()
    return files.prune({files.path(*row) for row in rows})


def holds(video: Video | Row) -> bool:
    """Whether the video's path still holds the file it was indexed from (same size and
    modification time: a file that changed there is not this video any more)."""
    try:
        found = os.stat(video.path)
    except (OSError, ValueError):
        return False
    return stat_module.S_ISREG(found.st_mode) and found.st_size == video.size and found.st_mtime == video.mtime


    return False


def sweep(sessions: Callable[[], Session]) -> list[str]:
    """Mark the indexed videos whose file is gone as missing (searches leave them out), and the
    missing ones whose file is back, unchanged, as indexed; returns the paths now missing.
    One stat per video; the caller holds the writer lock."""
    with sessions() as session:
        videos = session.execute(select(Video.id, Video.path, Video.size, Video.mtime, Video.status)).all()
    lost = [v.id for v in videos if v.status == INDEXED and gone(v.path)]
    back = [v.id for v in videos if v.status == MISSING and holds(v)]
    if lost or back:
        with sessions() as session, session.begin():
            for video_id, status in [(i, MISSING) for i in lost] + [(i, INDEXED) for i in back]:
                session.get(Video, video_id).status = status
            bump_generation(session)
    with sessions() as session:
        return list(session.scalars(select(Video.path).where(Video.status == MISSING).order_by(Video.path)))


def forget_missing(sessions: Callable[[], Session]) -> list[str]:
    """Delete the videos marked missing (their rows; their vector files go with the next
    prune_vectors); returns their paths. The caller holds the writer lock."""
    with sessions() as session, session.begin():
        missing = session.scalars(select(Video).where(Video.status == MISSING).order_by(Video.path)).all()
        paths = [v.path for v in missing]
        for video in missing:
            session.delete(video)
        if missing:
            bump_generation(session)
    return paths
