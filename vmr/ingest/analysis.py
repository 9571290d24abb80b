"""The indexing pipeline: files -> clip grid, transcript and clip vectors -> the catalogue.

Each video is written in one transaction after all its work is done, so an interrupted run
leaves every video either fully indexed or absent, and the next run picks up where it stopped.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from vmr.asr import AsrOptions, Transcriber, Transcript
from vmr.encoders import DEFAULT_TEXT_MODEL, TextEncoder
from vmr.errors import MediaError, ModelError, VmrError
from vmr.media import VIDEO_EXTENSIONS, VideoScan, load_audio, read_frames, scan_video
from vmr.ocr import ScreenText, SlideReader, SlideSpan, slide_texts
from vmr.store import Clip, ClipVector, Segment, SlideText, Video, Word, bump_generation, utcnow
from vmr.timecode import TimeSpan
from vmr.visual import VISUAL, VisualEncoder, load_visual_encoder, resolve_visual_model

SPEECH = "speech"
SLIDES = "slides"


@dataclass(frozen=True)
class IndexOptions:
    clip_seconds: float = 2.0
    # Sentences this close to a clip join its speech text (tuned on the sample, see README).
    context_seconds: float = 0.0
    asr: AsrOptions = field(default_factory=AsrOptions)
    text_model: str = DEFAULT_TEXT_MODEL
    visual_model: str | None = None  # a CLIP/SigLIP folder or hub id; None: no visual channel
    ocr: bool = True  # read the on-screen text of each new picture (the slides channel)


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


@dataclass(frozen=True)
class FailedInput:
    path: str
    error: str

    @classmethod
    def of(cls, path: Path, error: VmrError | str) -> FailedInput:
        """Without the message's leading file name: `path` says it."""
        return cls(str(path), str(error).removeprefix(f"{path}: "))


@dataclass
class IndexReport:
    indexed: list[IndexedVideo] = field(default_factory=list)
    failed: list[FailedInput] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Something could be done: not every input failed."""
        return bool(self.indexed) or not self.failed


# (path, stage, done, total): the CLI draws bars from it; stages: hash, frames, audio, speech,
# encode, visual, then "done" once the file is finished with (indexed, unchanged or failed).
Progress = Callable[[str, str, float, float], None]


def discover(paths: Iterable[str | Path]) -> tuple[list[Path], list[FailedInput]]:
    """Files named directly are taken as they are (a non-video then fails with its reason);
    folders are searched recursively for video extensions."""
    files: list[Path] = []
    failed: list[FailedInput] = []
    for raw in paths:
        path = Path(raw).expanduser().absolute()
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS
            )
            if not found:
                failed.append(FailedInput(str(path), "folder holds no video files"))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        elif path.exists():
            failed.append(FailedInput(str(path), "not a regular file"))
        else:
            failed.append(FailedInput(str(path), "no such file or folder"))
    unique = list(dict.fromkeys(p.resolve() for p in files))
    return unique, failed


def content_hash(path: Path, progress: Callable[[int, int], None] | None = None) -> str:
    digest = hashlib.sha256()
    size = path.stat().st_size
    done = 0
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 22):
                digest.update(chunk)
                done += len(chunk)
                if progress:
                    progress(done, size)
    except PermissionError as exc:
        raise MediaError(path, "permission denied (cannot read the file)") from exc
    except OSError as exc:
        raise MediaError(path, f"cannot read: {exc.strerror or exc}") from exc
    return digest.hexdigest()


def speech_texts(segments: list, clips: list[TimeSpan], context: float) -> list[str]:
    """Per clip, the whole sentences (Whisper segments) spoken within `context` seconds of it
    ("" for none): a 2-s clip alone holds a few words, and a sentence is the unit the text
    encoder was trained on, so a clip's vector says what its sentence is about."""
    starts = np.array([s.start for s in segments], dtype=np.float64)
    ends = np.array([s.end for s in segments], dtype=np.float64)
    texts = []
    for clip in clips:
        near = np.nonzero((starts < clip.end + context) & (ends > clip.start - context))[0]
        texts.append(" ".join(segments[i].text.strip() for i in near).strip())
    return texts


def clip_slide_texts(slides: list[SlideSpan], scan: VideoScan) -> list[str]:
    """Per clip, the text of the slide on screen at its keyframe ("" for none)."""
    starts = np.array([s.start for s in slides], dtype=np.float64)
    shown = np.searchsorted(starts, np.array(scan.keyframe_times, dtype=np.float64), side="right") - 1
    return [slides[i].text if i >= 0 else "" for i in shown]


@dataclass
class ChannelVectors:
    """One channel's vectors for a video: clip index -> vector, all from one model."""

    model: str
    vectors: dict[int, np.ndarray]


@dataclass
class VideoAnalysis:
    """Everything learnt from one file, computed without the database, so that it can be done
    in another process or on another host (Ray) and written by one writer."""

    path: str
    size: int
    mtime: float
    content_hash: str
    scan: VideoScan
    has_audio: bool
    transcript: Transcript | None
    slides: list[SlideSpan]  # one per picture shown, with its text
    channels: dict[str, ChannelVectors]
    seconds: dict[str, float]  # wall time per stage

    @property
    def warning(self) -> str | None:
        return "truncated or damaged: indexed the part that decodes" if self.scan.truncated else None


class StageClock:
    """Accumulates the wall time of each stage: `lap(stage)` charges the time since the last lap."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.charge(stage, now - self._last)
        self._last = now

    def charge(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = round(self.seconds.get(stage, 0.0) + seconds, 3)

    def skip(self) -> None:
        """Start the next lap now: the time since the last one belongs to no stage."""
        self._last = time.perf_counter()


class _Stopped(Exception):
    """Raised inside the speech thread when the rest of the video's analysis failed."""


class Analyser:
    """Turns one video file into a :class:`VideoAnalysis`; models load on first need and stay
    loaded. Holds no database handle."""

    def __init__(self, options: IndexOptions, progress: Progress | None = None):
        self.options = options
        self.progress = progress or (lambda *_: None)
        self._transcriber: Transcriber | None = None
        self._encoder: TextEncoder | None = None
        self._visual: VisualEncoder | None = None
        self._reader: SlideReader | None = None

    @property
    def transcriber(self) -> Transcriber:
        if self._transcriber is None:
            from vmr.asr import load_transcriber

            self._transcriber = load_transcriber(self.options.asr)
        return self._transcriber

    @property
    def encoder(self) -> TextEncoder:
        if self._encoder is None:
            from vmr.encoders import load_text_encoder

            self._encoder = load_text_encoder(self.options.text_model, self.options.asr.device)
        return self._encoder

    def load_visual(self, clock: StageClock) -> VisualEncoder:
        if self._visual is None:
            self._visual = load_visual_encoder(self.options.visual_model, self.options.asr.device)
            clock.lap("load_visual")
        return self._visual

    @property
    def reader(self) -> SlideReader:
        if self._reader is None:
            self._reader = SlideReader()
        return self._reader

    def analyse(self, path: Path, stat: os.stat_result | None = None, digest: str | None = None,
                clock: StageClock | None = None) -> VideoAnalysis:
        """The audio is decoded and transcribed in a thread beside the decoding of the frames
        and the OCR of each new picture (CTranslate2 and ONNX Runtime release the GIL), so the
        slides cost little more wall time where there is a core to spare."""
        name = str(path)
        clock = clock or StageClock()
        if self.options.visual_model:  # a model that cannot load fails now, before any Whisper work
            self.load_visual(clock)
        stat = stat or file_stat(path)
        if digest is None:
            digest = content_hash(path, lambda done, total: self.progress(name, "hash", done, total))
            clock.lap("hash")
        reader = self.reader if self.options.ocr else None
        if reader:
            clock.lap("load_ocr")
        screens: dict[int, ScreenText] = {}
        stop = threading.Event()
        with ThreadPoolExecutor(max_workers=1) as worker:
            listening = []

            def listen() -> None:
                if not listening:
                    listening.append(worker.submit(self._listen, name, path, stop))

            def on_picture(index: int, frame: np.ndarray) -> None:
                listen()  # the first picture proves the file is a video: worth transcribing
                if reader:
                    started = time.perf_counter()
                    screens[index] = reader.read(frame)
                    clock.charge("slides", time.perf_counter() - started)

            self.progress(name, "frames", 0, 1)
            try:
                scan = scan_video(path, self.options.clip_seconds, on_picture)
                clock.lap("frames")
                clock.charge("frames", -clock.seconds.get("slides", 0.0))
                listen()
                has_audio, transcript, seconds = listening[0].result()
                clock.seconds.update(seconds)
                clock.skip()
            except BaseException:  # a damaged file, Ctrl-C: Whisper stops at its next segment
                stop.set()
                raise
        slides = slide_texts([(shot.start, shot.end, screens.get(shot.picture, ScreenText()))
                              for shot in scan.shots])
        channels = {}
        for channel, texts in ((SPEECH, self._speech_texts(scan, transcript)),
                               (SLIDES, clip_slide_texts(slides, scan))):
            vectors = self._encode_texts(name, texts, clock)
            if vectors:
                channels[channel] = ChannelVectors(self.options.text_model, vectors)
        if self.options.visual_model:
            channels[VISUAL] = self.visual_channel(path, scan.keyframe_times, clock)
        return VideoAnalysis(name, stat.st_size, stat.st_mtime, digest, scan, has_audio,
                             transcript, slides, channels, clock.seconds)

    def _listen(self, name: str, path: Path, stop: threading.Event) -> tuple[bool, Transcript | None, dict]:
        """(has audio, transcript or None, seconds per stage): the speech half of `analyse`."""
        clock = StageClock()
        self.progress(name, "audio", 0, 1)
        audio = load_audio(path)
        clock.lap("audio")
        if audio is None or not len(audio):
            return audio is not None, None, clock.seconds
        transcriber = self.transcriber
        clock.lap("load_asr")

        def progress(done: float, total: float) -> None:
            if stop.is_set():
                raise _Stopped
            self.progress(name, "speech", done, total)

        transcript = transcriber.transcribe(audio, progress=progress)
        clock.lap("speech")
        return True, transcript, clock.seconds

    def _speech_texts(self, scan: VideoScan, transcript: Transcript | None) -> list[str]:
        segments = [seg for seg in transcript.segments if seg.text.strip()] if transcript else []
        return speech_texts(segments, scan.clips, self.options.context_seconds)

    def _encode_texts(self, name: str, texts: list[str], clock: StageClock) -> dict[int, np.ndarray]:
        """Vectors of the non-empty texts by clip index. Neighbouring clips often share a text
        (one long sentence, one slide): each distinct text is encoded once."""
        unique = sorted({t for t in texts if t})
        self.progress(name, "encode", 0, len(unique))
        if not unique:
            return {}
        encoder = self.encoder
        clock.lap("load_encoder")
        by_text = dict(zip(unique, encoder.encode(unique)))
        clock.lap("encode")
        return {i: by_text[t] for i, t in enumerate(texts) if t}

    def visual_channel(self, path: Path, keyframe_times: list[float], clock: StageClock) -> ChannelVectors:
        """Image vectors of each clip's keyframe, decoded in one pass and encoded in batches;
        clips sharing a keyframe (a still slide in a variable-rate video) share one encoding."""
        encoder, name = self.load_visual(clock), str(path)
        distinct = len(set(keyframe_times))
        by_time: dict[float, np.ndarray] = {}
        frames = read_frames(path, keyframe_times)
        while batch := list(itertools.islice(frames, encoder.batch_size)):
            self.progress(name, "visual", len(by_time), distinct)
            times, images = zip(*batch)
            by_time.update(zip(times, encoder.encode_images(list(images))))
        clock.lap("visual")
        return ChannelVectors(encoder.name, {i: by_time[t] for i, t in enumerate(keyframe_times) if t in by_time})


def _clip_vector(channel: str, model: str, vector: np.ndarray, **keys) -> ClipVector:
    vector = np.asarray(vector, dtype=np.float32)
    return ClipVector(channel=channel, model=model, dim=len(vector), dtype="float32",
                      vector=vector.tobytes(), **keys)


def file_stat(path: Path) -> os.stat_result:
    try:
        stat = path.stat()
    except OSError as exc:
        raise MediaError(path, f"cannot read: {exc.strerror or exc}") from exc
    if stat.st_size == 0:
        raise MediaError(path, "empty file (0 bytes)")
    return stat


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
                .where(Clip.video_id == video_id, ClipVector.channel == VISUAL, ClipVector.model == model)
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
                ClipVector.channel == VISUAL,
                ClipVector.clip_id.in_(select(Clip.id).where(Clip.video_id == video.video_id))))
            session.add_all(_clip_vector(VISUAL, visual.model, visual.vectors[i], clip_id=clip_id)
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
