"""One video's analysis: clip grid, transcript, slide text and clip vectors, computed without
the database, so that it can run in this process or on a Ray worker and be written by the one
writer (`vmr.catalogue.writer`)."""

from __future__ import annotations

import contextlib
import itertools
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vmr.channels import Channel
from vmr.encode.text import DEFAULT_TEXT_MODEL, TextEncoder, on_one_core
from vmr.encode.visual import VisualEncoder, load_visual_encoder
from vmr.errors import Stopped
from vmr.ingest.asr import AsrOptions, Heard, Segment, Transcriber, Transcript
from vmr.ingest.files import content_hash, file_stat
from vmr.ingest.media import VideoScan, load_audio, read_frames, scan_video
from vmr.ingest.ocr import ScreenText, SlideReader, SlideSpan, slide_texts
from vmr.ingest.structure import Chapter, lecture_structure, whole_passage_vectors
from vmr.timecode import TimeSpan


AUTO = "auto"
# The clip texts Whisper has decoded are encoded this many clips at a time, in their turn (once
# Whisper is done): a batch whatever the timing, so that an index run's vectors do not depend on it.
AHEAD_CLIPS = 16
# Frames that may wait for the OCR thread (each a whole picture: 2.7 MB at 720p).
READ_AHEAD = 2
MULTILINGUAL_MODEL = "multilingual-e5-small"  # vmr.encode.e5.E5_MODEL, the one multilingual offline


def canonical_text_model(name: str) -> str:
    """One name per model: the aliases of multilingual-e5-small ("e5", its hub id) are it."""
    from vmr.encode.e5 import E5_ALIASES, E5_MODEL

    return E5_MODEL if name in E5_ALIASES else name


@dataclass(frozen=True)
class IndexOptions:
    clip_seconds: float = 2.0
    asr: AsrOptions = field(default_factory=AsrOptions)
    # The text encoder of the speech, slides, passage and chapter channels: a name, or auto:
    # all-MiniLM-L6-v2 (the measured best on English) while the library holds English speech
    # only, multilingual-e5-small (MULTILINGUAL_MODEL) for speech in any other language, and
    # then for the whole library (`vmr.catalogue.writer` re-embeds the others from their rows).
    text_model: str = AUTO
    # The text model the library's videos already have (set by the index run; None: none yet).
    library_text_model: str | None = None
    visual_model: str | None = None  # a CLIP/SigLIP folder or hub id; None: no visual channel
    ocr: bool = True  # read the on-screen text of each new picture (the slides channel)
    # cut chapters and embed passages and chapters (vmr.ingest.structure); off: sentences only
    chapters: bool = True
    # Speech in another language than English also put into English by Whisper, and searched
    # beside the transcript (in the speech channel and BM25), so that an English question shares
    # words with the lecture. A second Whisper pass; off by default: on the held-out test split
    # it did not yet show the gain it showed on dev (README, Languages).
    translate: bool = False
    # The slide recogniser: ppocr-v4 (Chinese and English, some accented letters), ppocr-v5
    # (also é ü ß ñ ç ..., 1.35x slower), or auto: ppocr-v5 where the language set for the run
    # (asr.language) is written in Latin letters other than English, else ppocr-v4.
    ocr_recogniser: str = "auto"

    def __post_init__(self) -> None:
        self.recogniser  # an unknown recogniser fails when the options are made, in one line

    def translates(self, language: str | None) -> bool:
        """Whether a video with speech in this language gets an English translation."""
        return self.translate and language not in (None, "en")

    def text_model_for(self, language: str | None) -> str:
        """The text model for a video in this language (ISO 639-1; None: no speech)."""
        if self.text_model != AUTO:
            return canonical_text_model(self.text_model)
        if self.library_text_model == MULTILINGUAL_MODEL or language not in (None, "en"):
            return MULTILINGUAL_MODEL
        return self.library_text_model or DEFAULT_TEXT_MODEL

    @property
    def recogniser(self) -> str:
        from vmr.ingest.ocr import recogniser_for

        return recogniser_for(self.ocr_recogniser, self.asr.language)


# (path, stage, done, total): the CLI draws bars from it; stages: hash, frames, audio, speech,
# encode, visual, then "done" once the file is finished with (indexed, unchanged or failed).
Progress = Callable[[str, str, float, float], None]


def speech_texts(segments: list, clips: list[TimeSpan]) -> list[str]:
    """Per clip, the whole sentences (Whisper segments) spoken during it ("" for none): a 2-s
    clip alone holds a few words, and a sentence is the unit the text encoder was trained on,
    so a clip's vector says what its sentence is about."""
    starts = np.array([s.start for s in segments], dtype=np.float64)
    ends = np.array([s.end for s in segments], dtype=np.float64)
    texts = []
    for clip in clips:
        near = np.nonzero((starts < clip.end) & (ends > clip.start))[0]
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
    chapters: list[Chapter] = field(default_factory=list)

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


class _HeapTrim:
    """Calling it hands the free pages in glibc's heaps back to the system, at most once every
    `every` seconds (both halves of an analysis call it: after each new picture, after each
    stretch of speech). OCR, frame decoding and Whisper allocate and free blocks of megabytes
    that glibc keeps in its heaps, a third of indexing's memory on a long lecture. Elsewhere
    than glibc it does nothing."""

    def __init__(self, every: float = 5.0):
        self.every, self.last = every, -every
        try:
            import ctypes

            self._trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            self._trim = None

    def __call__(self) -> None:
        now = time.monotonic()
        if self._trim is not None and now - self.last >= self.every:
            self._trim(0)
            self.last = now


class Turns:
    """Whisper's turn on the cores: while it decodes, the rest of the analysis (the frames,
    the slides, the encoding) waits at its next step. Whisper keeps every core busy in short
    parallel steps, and a step of any other thread on one of them stalls it on all: beside a
    thread at nice +10 the long lecture's speech took 145-160 s, with the rest waiting 128-140
    (README, "Indexing the sample"). Nothing waits before Whisper starts, or after."""

    def __init__(self, stop: threading.Event):
        self.stop = stop
        self._free = threading.Event()
        self._free.set()

    @contextlib.contextmanager
    def whisper(self):  # noqa: ANN201 (a context)
        self._free.clear()
        try:
            yield
        finally:
            self._free.set()

    def wait(self) -> None:
        """Returns once Whisper is not decoding; raises Stopped once the analysis is told to stop."""
        while True:
            if self.stop.is_set():
                raise Stopped
            if self._free.wait(0.1):
                return


class Analyser:
    """Turns one video file into a :class:`VideoAnalysis`; models load on first need and stay
    loaded. Holds no database handle."""

    def __init__(self, options: IndexOptions, progress: Progress | None = None):
        self.options = options
        self.progress = progress or (lambda *_: None)
        self._transcriber: Transcriber | None = None
        self._encoders: dict[str, TextEncoder] = {}
        self._visual: VisualEncoder | None = None
        self._reader: SlideReader | None = None

    @property
    def transcriber(self) -> Transcriber:
        if self._transcriber is None:
            from vmr.ingest.asr import load_transcriber

            self._transcriber = load_transcriber(self.options.asr)
        return self._transcriber

    @property
    def notes(self) -> list[str]:
        """What loading the models decided that the user should hear (a GPU left unused)."""
        return [self._transcriber.note] if self._transcriber is not None and self._transcriber.note else []

    def encoder(self, model: str) -> TextEncoder:
        if model not in self._encoders:
            from vmr.encode.text import load_text_encoder

            self._encoders[model] = load_text_encoder(model, self.options.asr.device)
        return self._encoders[model]

    def load_visual(self, clock: StageClock) -> VisualEncoder:
        if self._visual is None:
            self._visual = load_visual_encoder(self.options.visual_model, self.options.asr.device)
            clock.lap("load_visual")
        return self._visual

    @property
    def reader(self) -> SlideReader:
        if self._reader is None:
            self._reader = SlideReader(recogniser=self.options.recogniser)
        return self._reader

    def analyse(self, path: Path, stat: os.stat_result | None = None, digest: str | None = None,
                clock: StageClock | None = None) -> VideoAnalysis:
        """Three threads: what is said (`_listen`: the audio decoded and transcribed), what is
        seen (`_look`: the frames decoded and the OCR of each new picture) and the encoding of
        what Whisper has said (`_encode_ahead`). While Whisper decodes, it has the cores to
        itself (`Turns`); the rest goes before (the first picture proves the file a video) and
        after it, the frames, the slides and the encoding each in a thread."""
        name = str(path)
        clock = clock or StageClock()
        if self.options.visual_model:  # a model that cannot load fails now, before any Whisper work
            self.load_visual(clock)
        stat = stat or file_stat(path)
        if digest is None:
            digest = content_hash(path, lambda done, total: self.progress(name, "hash", done, total))
            clock.lap("hash")
        seen, stop = threading.Event(), threading.Event()
        heard: queue.SimpleQueue[tuple[str | None, Segment] | None] = queue.SimpleQueue()
        trim = _HeapTrim()
        ahead_clock, turns = StageClock(), Turns(stop)
        with ThreadPoolExecutor(max_workers=3) as threads:
            listening = threads.submit(self._listen, name, path, seen, turns, trim, lambda *said: heard.put(said))
            listening.add_done_callback(lambda _: heard.put(None))
            looking = threads.submit(self._look, name, path, seen, turns, trim, clock)
            ahead = threads.submit(self._encode_ahead, heard, self.options.clip_seconds, turns, ahead_clock)
            try:
                scan, slides, slide_clips = looking.result()
                has_audio, transcript, seconds = listening.result()
                ahead_model, encoded, whole = ahead.result()
            except BaseException:  # a damaged file, Ctrl-C: each thread stops at its next step
                stop.set()
                seen.set()
                raise
        for stage, spent in itertools.chain(seconds.items(), ahead_clock.seconds.items()):
            clock.charge(stage, spent)
        clock.skip()
        model = self.options.text_model_for(transcript.language if transcript and transcript.segments else None)
        if model != ahead_model:
            encoded, whole = {}, None
        channels = self.text_channels(name, self._speech_texts(scan, transcript), slide_clips, model, clock, encoded)
        words = [(w.start, w.end, w.text) for w in transcript.words] if transcript else []
        chapters, structure_channels = self.structure(name, words, slides, scan.clips, scan.duration, clock, model,
                                                      encoded, whole)
        channels |= structure_channels
        if self.options.visual_model:
            channels[Channel.VISUAL] = self.visual_channel(path, scan.keyframe_times, clock)
        return VideoAnalysis(name, stat.st_size, stat.st_mtime, digest, scan, has_audio,
                             transcript, slides, channels, clock.seconds, chapters)

    def _look(self, name: str, path: Path, seen: threading.Event, turns: Turns,
              trim: Callable[[], None], clock: StageClock) -> tuple[VideoScan, list[SlideSpan], list[str]]:
        """What is seen: the scan, the OCR of each new picture in a thread of its own (once
        Whisper is done, the frames and the slides each have a core), and the slide text.
        `seen` is set at the first picture: the file is a video, worth transcribing. (the scan,
        the slides, the slide text at each clip)."""
        reading: dict[int, Future[ScreenText]] = {}
        room = threading.Semaphore(READ_AHEAD)
        waited = 0.0  # by the scan, for its turn or the OCR: not the frames' time

        def wait(ready: Callable[[], bool] = lambda: True) -> None:
            nonlocal waited
            started = time.perf_counter()
            turns.wait()
            while not ready():
                turns.wait()
            waited += time.perf_counter() - started

        def read(frame: np.ndarray) -> ScreenText:
            try:
                turns.wait()
                started = time.perf_counter()
                reader = self.reader  # (loaded at the first picture, while the audio is decoded)
                loaded = time.perf_counter()
                shown = reader.read(frame)
                clock.charge("load_ocr", loaded - started)
                clock.charge("slides", time.perf_counter() - loaded)
                trim()
                return shown
            finally:
                room.release()

        with ThreadPoolExecutor(max_workers=1) as ocr:
            def on_picture(index: int, frame: np.ndarray) -> None:
                seen.set()
                if self.options.ocr:
                    wait(lambda: room.acquire(timeout=0.1))  # at most READ_AHEAD frames wait for the OCR
                    reading[index] = ocr.submit(read, frame)
                trim()

            self.progress(name, "frames", 0, 1)
            started = time.perf_counter()
            scan = scan_video(path, self.options.clip_seconds, on_picture, wait)
            clock.charge("frames", time.perf_counter() - started - waited)
            screens = {index: shown.result() for index, shown in reading.items()}
        slides = slide_texts([(shot.start, shot.end, screens.get(shot.picture, ScreenText())) for shot in scan.shots])
        return scan, slides, clip_slide_texts(slides, scan)

    def _encode_ahead(self, heard: queue.SimpleQueue, clip_seconds: float, turns: Turns,
                      clock: StageClock) -> tuple[str | None, dict[str, np.ndarray], np.ndarray | None]:
        """As Whisper's sentences come (until `heard` gives None), on one core, the clips' texts
        that `text_channels` will want, AHEAD_CLIPS clips of `clip_seconds` at a time once a
        sentence starting after them is heard (the grid's last clip, which may be longer, is
        encoded again after the speech if its text differs), each batch in its turn (`Turns`):
        beside the frames and the slides once Whisper is done; then the passages' first call
        (`whole_passage_vectors`), which the structure would otherwise make after the slides.
        Ends with Stopped once the analysis is told to stop. (the text model, vectors by text,
        the whole passages' vectors or None)."""
        model: str | None = None
        encoded: dict[str, np.ndarray] = {}
        said: list[Segment] = []
        done = 0  # clips encoded
        with contextlib.ExitStack() as one_core:
            while (item := heard.get()) is not None:
                language, segment = item
                if model is None:
                    model = self.options.text_model_for(language)
                    clock.skip()
                    encoder = self.encoder(model)
                    clock.lap("load_encoder")
                    one_core.enter_context(on_one_core())  # (entered once the encoder's libraries are loaded)
                said.append(segment)
                while (ready := done + AHEAD_CLIPS) * clip_seconds <= segment.start:
                    clips = [TimeSpan(i * clip_seconds, (i + 1) * clip_seconds) for i in range(done, ready)]
                    turns.wait()
                    self._encode_new(encoder, speech_texts(said, clips), encoded, clock)
                    done = ready
            whole = None
            if model is not None and self.options.chapters:
                # (the long lecture's structure took 11 s after everything, half of it this call; one
                # call, as `vmr check` makes it, so Ctrl-C waits for it: about 13 s of one core there)
                turns.wait()
                clock.skip()
                whole = whole_passage_vectors([(w.start, w.end, w.text) for s in said for w in s.words], encoder.encode)
                clock.lap("structure")
        return model, encoded, whole

    @staticmethod
    def _encode_new(encoder: TextEncoder, texts: list[str], encoded: dict[str, np.ndarray],
                    clock: StageClock) -> None:
        """The distinct texts not in `encoded` encoded (sorted, as one batch) into it."""
        clock.skip()
        new = sorted({t for t in texts if t} - encoded.keys())
        if new:
            encoded.update(zip(new, encoder.encode(new)))
        clock.lap("encode")

    def text_channels(self, name: str, speech: list[str], slides: list[str], model: str,
                      clock: StageClock, encoded: dict[str, np.ndarray] | None = None) -> dict[str, ChannelVectors]:
        """The speech and slides channels from each clip's texts, encoded by `model`; each text's
        vector also in `encoded`, where given (`structure` takes the sentences it has)."""
        channels = {}
        for channel, texts in ((Channel.SPEECH, speech), (Channel.SLIDES, slides)):
            vectors = self._encode_texts(name, texts, clock, model, encoded)
            if vectors:
                channels[channel] = ChannelVectors(model, vectors)
        return channels

    def structure(self, name: str, words: list[tuple[float, float, str]], slides: list[SlideSpan],
                  clips: list[TimeSpan], duration: float, clock: StageClock, model: str,
                  encoded: dict[str, np.ndarray] | None = None,
                  whole: np.ndarray | None = None) -> tuple[list[Chapter], dict[str, ChannelVectors]]:
        """The lecture's chapters, and its passage and chapter channels (`vmr.ingest.structure`):
        from the analysis of a new video, or from the stored rows of one indexed before them.
        `encoded`: vectors by text that `text_channels` made (the sentences said within a clip);
        `whole`: the whole passages' vectors of these words (`whole_passage_vectors`)."""
        if not self.options.chapters or (not words and not any(s.text for s in slides)):
            return [], {}
        self.progress(name, "structure", 0, 1)
        encoder = self.encoder(model)
        clock.lap("load_encoder")
        found = lecture_structure(words, slides, clips, duration, encoder.encode, encoded, whole)
        clock.lap("structure")
        channels = {channel: ChannelVectors(model, vectors)
                    for channel, vectors in ((Channel.PASSAGE, found.passage_vectors),
                                             (Channel.CHAPTER, found.chapter_vectors)) if vectors}
        return found.chapters, channels

    def _listen(self, name: str, path: Path, seen: threading.Event, turns: Turns,
                trim: Callable[[], None], heard: Heard) -> tuple[bool, Transcript | None, dict]:
        """(has audio, transcript or None, seconds per stage): what is said, from the first
        picture seen; each segment also to `heard` as soon as it is decoded."""
        seen.wait()
        if turns.stop.is_set():
            raise Stopped
        clock = StageClock()
        self.progress(name, "audio", 0, 1)
        with ThreadPoolExecutor(max_workers=1) as loader:
            # Whisper, not loaded yet, loads while the audio is decoded (each keeps one core busy),
            # and in another thread than this one: CTranslate2 transcribing in the thread that
            # loaded it took lecture.mp4 in 12.8-14.3 s against 8.2-9.8 (the same words; cause
            # unknown; README, "Indexing the sample"). A file without audio loads it for the next.
            loading = loader.submit(lambda: self.transcriber)
            audio = load_audio(path)
            clock.lap("audio")
            if audio is None or not len(audio):
                return audio is not None, None, clock.seconds
            transcriber = loading.result()
            clock.lap("load_asr")

        def progress(stage: str) -> Callable[[float, float], None]:
            def report(done: float, total: float) -> None:
                if turns.stop.is_set():
                    raise Stopped
                self.progress(name, stage, done, total)
                trim()
            return report

        with turns.whisper():
            transcript = transcriber.transcribe(audio, progress=progress("speech"), heard=heard)
            clock.lap("speech")
            if transcript.segments and self.options.translates(transcript.language):
                transcript.translation = transcriber.translate(audio, progress=progress("translate"))
                clock.lap("translate")
        return True, transcript, clock.seconds

    def _speech_texts(self, scan: VideoScan, transcript: Transcript | None) -> list[str]:
        """Per clip, the sentences said during it, then their English translation where the
        video has one (an English question's words are in it)."""
        segments = [seg for seg in transcript.segments if seg.text.strip()] + transcript.translation if transcript else []
        return speech_texts(segments, scan.clips)

    def _encode_texts(self, name: str, texts: list[str], clock: StageClock, model: str,
                      encoded: dict[str, np.ndarray] | None = None) -> dict[int, np.ndarray]:
        """Vectors of the non-empty texts by clip index. Neighbouring clips often share a text
        (one long sentence, one slide): each distinct text is encoded once, and not at all where
        `encoded` (vectors by text, from `model`) has it; each vector made is added to it."""
        encoded = {} if encoded is None else encoded
        new = {t for t in texts if t} - encoded.keys()
        self.progress(name, "encode", 0, len(new))
        if new:
            encoder = self.encoder(model)
            clock.lap("load_encoder")
            self._encode_new(encoder, texts, encoded, clock)
        return {i: encoded[t] for i, t in enumerate(texts) if t}

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
