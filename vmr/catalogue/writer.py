"""The one writer: files -> analyses -> the catalogue, one transaction per video.

Each video is written in one transaction after all its work is done, so an interrupted run
leaves every video either fully indexed or absent, and the next run picks up where it stopped.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from vmr.catalogue.store import Clip, ClipVector, Segment, SlideText, Video, Word, bump_generation, utcnow
from vmr.channels import Channel
from vmr.encode.visual import resolve_visual_model
from vmr.errors import ModelError, VmrError
from vmr.ingest.analysis import Analyser, IndexOptions, Progress, StageClock, VideoAnalysis
from vmr.ingest.files import FailedInput, content_hash, discover, file_stat


@dataclass(frozen=True)
class IndexedVideo:
    path: str
    video_id: int
    duration: float
    clips: int
    words: int
    status: str  # "indexed" | "unchanged" | "updated" (unchanged, visual channel added)
    warning: str | None = None
    # Wall time per stage; speech runs beside frames and slides (OCR), so those overlap.
    seconds: dict[str, float] = field(default_factory=dict)
    slides: int = 0  # pictures with on-screen text


@dataclass
class IndexReport:
    indexed: list[IndexedVideo] = field(default_factory=list)
    failed: list[FailedInput] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Something could be done: not every input failed."""
        return bool(self.indexed) or not self.failed


def _clip_vector(channel: str, model: str, vector: np.ndarray, **keys) -> ClipVector:
    vector = np.asarray(vector, dtype=np.float32)
    return ClipVector(channel=channel, model=model, dim=len(vector), dtype="float32",
                      vector=vector.tobytes(), **keys)


class Indexer:
    """Indexes files into a catalogue: skips unchanged files, analyses the rest and writes each
    video in one transaction."""

    def __init__(self, sessions: Callable[[], Session], options: IndexOptions,
                 progress: Progress | None = None):
        self.sessions = sessions
        self.options = options
        self.progress = progress or (lambda *_: None)
        self.analyser = Analyser(options, self.progress)

    def run(self, paths: Iterable[str | Path]) -> IndexReport:
        files, failed = discover(paths)
        report = IndexReport(failed=failed)
        for path in files:
            try:
                report.indexed.append(self.index_file(path))
            except ModelError:
                raise  # not about this file: every other file would fail the same way
            except VmrError as exc:
                report.failed.append(FailedInput.of(path, exc))
            finally:
                self.progress(str(path), "done", 1, 1)
        return report

    def index_file(self, path: Path) -> IndexedVideo:
        unchanged, stat, digest, clock = self.check(path)
        if unchanged is None:
            return self.write(self.analyser.analyse(path, stat, digest, clock))
        if self.options.visual_model and not self._has_visual(unchanged.video_id):
            return self.add_visual(path, unchanged, clock)
        return unchanged

    def _has_visual(self, video_id: int) -> bool:
        """Whether the video's clips have vectors from the visual model asked for."""
        model = resolve_visual_model(self.options.visual_model)
        with self.sessions() as session:
            return session.scalar(
                select(func.count()).select_from(ClipVector).join(Clip)
                .where(Clip.video_id == video_id, ClipVector.channel == Channel.VISUAL, ClipVector.model == model)
            ) > 0

    def add_visual(self, path: Path, video: IndexedVideo, clock: StageClock) -> IndexedVideo:
        """An unchanged video indexed without the visual channel (or with another visual model)
        gets its keyframes encoded, without redoing its speech."""
        with self.sessions() as session:
            clips = session.execute(select(Clip.id, Clip.keyframe_time)
                                    .where(Clip.video_id == video.video_id).order_by(Clip.idx)).all()
        visual = self.analyser.visual_channel(path, [t for _, t in clips], clock)
        with self.sessions() as session, session.begin():
            session.execute(delete(ClipVector).where(
                ClipVector.channel == Channel.VISUAL,
                ClipVector.clip_id.in_(select(Clip.id).where(Clip.video_id == video.video_id))))
            session.add_all(_clip_vector(Channel.VISUAL, visual.model, visual.vectors[i], clip_id=clip_id)
                            for i, (clip_id, _) in enumerate(clips) if i in visual.vectors)
            bump_generation(session)
        return replace(video, status="updated", seconds=clock.seconds)

    def check(self, path: Path) -> tuple[IndexedVideo | None, os.stat_result, str | None, StageClock]:
        """The summary of an unchanged file (same size and mtime, or same content), else None
        with what was learnt on the way (its stat, and its hash when it had to be computed)."""
        name = str(path)
        clock = StageClock()
        stat = file_stat(path)
        with self.sessions() as session:
            existing = session.scalar(select(Video).where(Video.path == name))
            if existing and existing.size == stat.st_size and existing.mtime == stat.st_mtime:
                return self._summary(session, existing, "unchanged"), stat, None, clock
        if existing is None:
            return None, stat, None, clock
        digest = content_hash(path, lambda done, total: self.progress(name, "hash", done, total))
        clock.lap("hash")
        if existing.content_hash == digest:
            with self.sessions() as session, session.begin():
                video = session.get(Video, existing.id)
                video.mtime = stat.st_mtime  # touched, not changed
                return self._summary(session, video, "unchanged"), stat, digest, clock
        return None, stat, digest, clock

    def write(self, analysis: VideoAnalysis) -> IndexedVideo:
        started = time.perf_counter()
        with self.sessions() as session, session.begin():
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
            height=scan.height, has_audio=analysis.has_audio, status="indexed",
            asr_model=f"{transcript.backend}:{transcript.model}" if transcript else None,
            language=transcript.language if transcript else None, indexed_at=utcnow(),
        )
        for i, (span, keyframe) in enumerate(zip(scan.clips, scan.keyframe_times)):
            clip = Clip(idx=i, start=span.start, end=span.end, keyframe_time=keyframe)
            for channel, found in analysis.channels.items():
                if i in found.vectors:
                    clip.vectors.append(_clip_vector(channel, found.model, found.vectors[i]))
            video.clips.append(clip)
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
                            seconds or {}, slides)
