"""Speech recognition: Whisper behind one interface, with word timestamps.

Two backends share :class:`AsrOptions` and return the same :class:`Transcript`:

* ``faster-whisper`` (CTranslate2): int8 on CPU, float16 on CUDA; the default
  (see ``bench/asr_bench.py`` and bench-results/asr.md for the measurement).
* ``openai-whisper`` (PyTorch): fp32 on CPU, fp16 on CUDA; the packaged CTranslate2
  weights are converted to an openai-whisper checkpoint by :mod:`vmr.models.ct2`.

Silence must never turn into text (Whisper hallucinates "Thank you." into silence), so
both backends only see the speech regions found by the Silero VAD that ships inside the
faster-whisper wheel (an ONNX file, no download; run by :mod:`vmr.ingest.vad` in constant
memory), and previous-text conditioning is off.
Word times are mapped back onto the original timeline.

torch / whisper / faster_whisper / ctranslate2 are imported lazily, inside functions.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Protocol

import numpy as np

from vmr.models.devices import DEVICES, ctranslate2_device, torch_device
from vmr.errors import ModelError
from vmr.ingest.media import SAMPLE_RATE
from vmr.ingest.vad import speech_regions

__all__ = [
    "Word", "Segment", "Transcript", "AsrOptions", "Transcriber", "Progress",
    "Heard", "load_transcriber", "resolve_device", "normalize_text", "MIN_AUDIO_SECONDS",
]

Progress = Callable[[float, float], None]  # (seconds_done, seconds_total)
# (language, segment): each segment of the transcript as soon as it is decoded and cleaned, so
# that the caller has the first sentences before the last is decoded (an index run picks its
# text model by the first one's language, and groups the clips' texts as they come).
Heard = Callable[[str | None, "Segment"], None]

MIN_AUDIO_SECONDS = 0.2  # shorter input is returned as an empty transcript
BACKENDS = ("faster-whisper", "openai-whisper")
_WINDOW_S = 30.0  # Whisper's receptive field: one openai-whisper call (one batched clip) per window
# faster-whisper is given the speech (VAD chunks, whole, joined) in pieces of at most this much:
# each piece is a copy of its audio and has its features computed at once (20 and 10 MB).
_PIECE_S = 300.0


@dataclass
class Word:
    start: float
    end: float
    text: str
    probability: float


@dataclass
class Segment:
    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0


@dataclass
class Transcript:
    language: str | None
    segments: list[Segment]
    backend: str
    model: str
    # For a video in another language, its speech in English (`_Backend.translate`): what an
    # English question shares with it (see Analyser._listen).
    translation: list[Segment] = field(default_factory=list)

    @property
    def words(self) -> list[Word]:
        return [w for s in self.segments for w in s.words]

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments)


@dataclass(frozen=True)
class AsrOptions:
    # faster-whisper is the default by measurement (bench/asr_bench.py, table in the README):
    # on the same base weights it is 7.9x faster than openai-whisper (int8 CTranslate2 against
    # fp32 PyTorch) with the same word error (0.055 against 0.060), and neither put a word in
    # the silences. base stays the default model: tiny.en scored better (0.037) on the clean
    # synthetic narration, but it is the weaker model on real, human speech.
    backend: str = "faster-whisper"
    model: str = "base"
    device: str = "auto"  # "auto" | "cpu" | "cuda"
    # The language spoken (ISO 639-1), or None: Whisper detects it on the first speech of each
    # video (multilingual models; an English-only ".en" model transcribes English).
    language: str | None = None
    beam_size: int = 5
    temperature: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    compute_type: str | None = None  # faster-whisper: None -> int8 (CPU) / float16 (CUDA)
    vad: bool = True  # keep only Silero-VAD speech regions; never turn off for indexing
    cpu_threads: int = 0  # 0: every core this process may use
    # faster-whisper: > 0 decodes that many VAD speech chunks (of up to 30 s) at a time
    # (BatchedInferencePipeline); 0 decodes the speech one 30-s window after another. Two, by
    # measurement: Whisper alone took the long lecture's speech in 104 s against 138 s (200
    # against 268 s of CPU), word error fell on five of the six held-out lectures, dev ranking
    # kept within the held-out rule, and the peak grew by about 0.1 GB (README, "Speech
    # recognition: decoding variants").
    batch_size: int = 2

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ModelError(f"unknown ASR backend {self.backend!r}: use {' or '.join(BACKENDS)}")
        if self.device not in DEVICES:
            raise ModelError(f"unknown device {self.device!r}: use auto, cpu or cuda")
        if self.beam_size < 1:
            raise ModelError(f"beam_size must be at least 1, not {self.beam_size}")
        if self.language in ("auto", ""):
            object.__setattr__(self, "language", None)
        if self.language is not None:
            from vmr.language import WHISPER_LANGUAGES

            if self.language not in WHISPER_LANGUAGES:
                raise ModelError(f"unknown language {self.language!r}: an ISO 639-1 code Whisper knows "
                                 "(en, es, it, ru, zh, ...), or auto to detect it")
            if self.language != "en" and self.model.endswith(".en"):
                raise ModelError(f"Whisper {self.model} transcribes English only; for {self.language!r} "
                                 "use a multilingual model (--asr-model base)")
        if self.batch_size < 0:
            raise ModelError(f"batch_size must be 0 (sequential) or more, not {self.batch_size}")
        if self.batch_size and not self.vad:
            raise ModelError("batched decoding needs the VAD (it decodes the speech chunks it finds): "
                             "with vad off, set batch_size = 0")


class Transcriber(Protocol):
    options: AsrOptions
    device: str
    load_seconds: float
    note: str | None  # one line for the user where the load decided something (a GPU left unused)

    def transcribe(self, audio: np.ndarray, progress: Progress | None = None,
                   heard: Heard | None = None) -> Transcript:
        ...

    def translate(self, audio: np.ndarray, progress: Progress | None = None) -> list[Segment]:
        ...


def resolve_device(device: str, backend: str) -> str:
    """"auto" -> "cuda" when the backend's own runtime sees a GPU, else "cpu"."""
    if backend == "faster-whisper":
        return ctranslate2_device(device)
    return torch_device(device)


def _cpu_threads(requested: int) -> int:
    from vmr.models.devices import usable_cores

    return requested if requested > 0 else usable_cores()


def load_transcriber(options: AsrOptions | None = None) -> Transcriber:
    """Load the model named by ``options`` (verified packaged weights for base/tiny.en)."""
    options = options or AsrOptions()
    device = resolve_device(options.device, options.backend)
    if options.backend == "faster-whisper":
        return _FasterWhisper(options, device)
    return _OpenAIWhisper(options, device)


# ------------------------------------------------------------------------ helpers


def _prepare(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio)
    if audio.ndim == 2 and 1 in audio.shape:
        audio = audio.reshape(-1)
    if audio.ndim != 1:
        raise ValueError(f"expected mono audio (1-D), got shape {audio.shape}")
    audio = audio.astype(np.float32, copy=False)
    if not np.all(np.isfinite(audio)):
        audio = np.nan_to_num(audio, nan=0.0, posinf=0.0, neginf=0.0)
    return np.ascontiguousarray(audio)


class _Cleaned:
    """The transcript as it is decoded: each segment with its text stripped, times clamped into
    [0, duration], word times monotonic and non-overlapping, and fitted to its words; one
    without text is dropped. Each is handed to `heard` as soon as it is added."""

    def __init__(self, duration: float, heard: Heard | None = None):
        self.duration, self.heard = duration, heard
        self.segments: list[Segment] = []
        self._prev_end = 0.0

    def _clamp(self, t: float) -> float:
        return round(min(max(float(t), 0.0), self.duration), 3)

    def add(self, language: str | None, seg: Segment) -> None:
        text = seg.text.strip()
        if not text:
            return
        words: list[Word] = []
        for w in seg.words:
            wt = w.text.strip()
            if not wt:
                continue
            start = max(self._clamp(w.start), self._prev_end)
            end = max(self._clamp(w.end), start)
            words.append(Word(start, end, wt, float(w.probability)))
            self._prev_end = end
        if words:
            start, end = words[0].start, words[-1].end
        else:
            start = max(self._clamp(seg.start), self._prev_end)
            end = max(self._clamp(seg.end), start)
            self._prev_end = end
        cleaned = Segment(start, end, text, words, float(seg.avg_logprob), float(seg.no_speech_prob))
        self.segments.append(cleaned)
        if self.heard is not None:
            self.heard(language, cleaned)


def _group_chunks(chunks: list[dict], max_samples: float) -> list[tuple[int, list[dict]]]:
    """Consecutive VAD chunks packed into pieces of at most ``max_samples`` of speech:
    (offset of the piece on the concatenated-speech timeline, its chunks)."""
    pieces: list[tuple[int, list[dict]]] = []
    offset = size = 0
    group: list[dict] = []
    for c in chunks:
        n = c["end"] - c["start"]
        if group and size + n > max_samples:
            pieces.append((offset, group))
            offset, size, group = offset + size, 0, []
        group.append(c)
        size += n
    if group:
        pieces.append((offset, group))
    return pieces


def _speech_pieces(audio: np.ndarray, max_speech_s: float, total: float,
                   progress: Progress | None) -> Iterator[tuple[list[dict], np.ndarray]]:
    """The VAD's speech chunks (each at most `max_speech_s`) in pieces of at most _PIECE_S:
    (a piece's chunks, their samples joined)."""
    chunks = speech_regions(audio, max_speech_s=max_speech_s)
    # Reported once the VAD is done, so that the caller can hand back the heap its batches left
    # before the first window is decoded (that moment was the peak of a long lecture's indexing).
    _report(progress, 0.0, total)
    for _, group in _group_chunks(chunks, _PIECE_S * SAMPLE_RATE):
        yield group, np.concatenate([audio[c["start"]:c["end"]] for c in group])


def _keep_in_chunks(segments: list[Segment], chunks: list[dict]) -> list[Segment]:
    """Word times kept inside the speech chunk that holds the word's middle. Without timestamp
    tokens nothing ends a phrase where its chunk ends, and the alignment can stretch a chunk's
    last word over the join into the next chunk: on the recording's timeline, into a pause."""
    starts = np.array([c["start"] for c in chunks]) / SAMPLE_RATE
    ends = np.array([c["end"] for c in chunks]) / SAMPLE_RATE
    for segment in segments:
        for w in segment.words:
            i = max(int(np.searchsorted(starts, (w.start + w.end) / 2, side="right")) - 1, 0)
            w.start = min(max(w.start, starts[i]), ends[i])
            w.end = min(max(w.end, w.start), ends[i])
    return segments


_SENTENCE_END = tuple(".?!。？！")


def _sentences(segment: Segment) -> list[Segment]:
    """A segment cut after each word that ends a sentence (its words keep their times)."""
    if not segment.words:
        return [segment]
    sentences: list[list[Word]] = [[]]
    for word in segment.words:
        sentences[-1].append(word)
        if word.text.strip().endswith(_SENTENCE_END):
            sentences.append([])
    return [Segment(words[0].start, words[-1].end, "".join(w.text for w in words), words,
                    segment.avg_logprob, segment.no_speech_prob)
            for words in sentences if words]


def _report(progress: Progress | None, done: float, total: float) -> None:
    if progress is not None:
        progress(min(float(done), total), total)


# ----------------------------------------------------------------------- backends


class _Backend:
    """What both backends share: input checks, progress ends, the final clean-up."""

    name: str
    options: AsrOptions
    note: str | None = None

    def transcribe(self, audio: np.ndarray, progress: Progress | None = None,
                   heard: Heard | None = None) -> Transcript:
        language, segments = self._decode_all(audio, progress, self.options.language, heard)
        return Transcript(language, segments, self.name, self.options.model)

    def translate(self, audio: np.ndarray, progress: Progress | None = None) -> list[Segment]:
        """Speech in another language, in English: Whisper decoding it with its language set to
        English writes an English translation. On the held-out dev lecture (`vetro`) that served
        English questions better than Whisper's translate task: R5@0.5 10 of 22 against 6
        (README, Languages)."""
        return self._decode_all(audio, progress, "en")[1]

    def _decode_all(self, audio: np.ndarray, progress: Progress | None, language: str | None,
                    heard: Heard | None = None) -> tuple[str | None, list[Segment]]:
        audio = _prepare(audio)
        total = audio.size / SAMPLE_RATE
        _report(progress, 0.0, total)
        out = _Cleaned(total, heard)
        if total >= MIN_AUDIO_SECONDS:
            language = self._transcribe(audio, total, progress, language, out)
        _report(progress, total, total)
        return language, out.segments

    def _transcribe(self, audio: np.ndarray, total: float, progress: Progress | None,
                    language: str | None, out: _Cleaned) -> str | None:
        """The segments into `out` as they are decoded; the language: `language`, else the one
        detected on the first speech."""
        raise NotImplementedError


# How CTranslate2 words a CUDA library it cannot open (cuBLAS, cuDNN).
_LIBRARY_MISSING = ("cannot be loaded", "unable to load", "could not load")


class _CudaMissing(Exception):
    """CTranslate2 sees the GPU but cannot open the CUDA libraries it was built against."""


def _ct2_version() -> str:
    import ctranslate2

    return ctranslate2.__version__


class _LastEncoding:
    """WhisperModel.encode, remembering its last input and output. To detect the language (none
    set), faster-whisper encodes the first 30-s window, then encodes it again to transcribe it:
    one encoder pass in seven on lecture.mp4 (0.47 s of 14)."""

    def __init__(self, encode: Callable):
        self.encode = encode
        self.features: np.ndarray | None = None
        self.output = None  # (a ctranslate2.StorageView)

    def __call__(self, features: np.ndarray):  # noqa: ANN204 (a ctranslate2.StorageView)
        if self.features is None or not np.array_equal(features, self.features):
            self.output = self.encode(features)
            self.features = np.array(features, copy=True)
        return self.output


class _FasterWhisper(_Backend):
    name = "faster-whisper"

    def __init__(self, options: AsrOptions, device: str):
        self.options = options
        self._batched = None
        t0 = time.perf_counter()
        try:
            self._load(device)
        except _CudaMissing as exc:
            if options.device != "auto":
                raise ModelError(f"cannot run Whisper {options.model!r} with faster-whisper on cuda: {exc} "
                                 f"(CTranslate2 {_ct2_version()} needs CUDA 12's cuBLAS and cuDNN 9; "
                                 "use --device cpu, or --asr-backend openai-whisper, which runs on "
                                 "PyTorch's CUDA)") from exc
            self.note = (f"faster-whisper cannot use the GPU here ({exc}): speech is transcribed on the "
                         "CPU; --asr-backend openai-whisper runs Whisper on PyTorch's CUDA")
            self._load("cpu")
        self.load_seconds = time.perf_counter() - t0

    def _load(self, device: str) -> None:
        from vmr.models.weights import resolve_whisper

        o = self.options
        self.device = device
        self.compute_type = o.compute_type or ("float16" if device == "cuda" else "int8")
        ref = resolve_whisper(o.model, "faster-whisper", device=device)
        try:
            from faster_whisper import WhisperModel

            from vmr.ingest.mel import BlockFeatures

            self.model = WhisperModel(ref, device=device, compute_type=self.compute_type,
                                      cpu_threads=_cpu_threads(o.cpu_threads))
            self.model.feature_extractor = BlockFeatures(**self.model.feat_kwargs)  # the same features, less memory
            self.model.encode = _LastEncoding(self.model.encode)
            if device == "cuda":
                # CTranslate2 sees a GPU through the driver alone and opens cuBLAS and cuDNN at the
                # first computation: a machine with another CUDA (13) fails there, mid-index,
                # unless one encoder pass on silence finds it out now.
                frames = self.model.feature_extractor.nb_max_frames
                self.model.encode(np.zeros((self.model.model.n_mels, frames), np.float32))
        except (RuntimeError, ValueError, OSError) as exc:
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if device == "cuda" and any(sign in msg.lower() for sign in _LIBRARY_MISSING):
                raise _CudaMissing(msg) from exc
            raise ModelError(f"cannot load Whisper {o.model!r} with faster-whisper "
                             f"on {device}: {msg}") from exc

    def _transcribe(self, audio: np.ndarray, total: float, progress: Progress | None,
                    language: str | None, out: _Cleaned) -> str | None:
        o = self.options
        if o.batch_size:
            return self._transcribe_batched(audio, total, progress, language, out)
        if not o.vad:
            raw, info = self.model.transcribe(audio, vad_filter=False, **self._decoding(language))
            for segment in self._collect(raw, total, progress):
                out.add(info.language, segment)
            return info.language
        # What faster-whisper's vad_filter does (the same Silero options; the speech chunks,
        # joined, decoded, and the times mapped back), piece by piece: see _PIECE_S.
        from faster_whisper.transcribe import restore_speech_timestamps

        for group, speech in _speech_pieces(audio, _PIECE_S, total, progress):  # (a longer stretch is cut at a pause)
            raw, info = self.model.transcribe(speech, vad_filter=False, **self._decoding(language))
            language = language or info.language  # detected on the first speech, then kept
            for segment in self._collect(restore_speech_timestamps(raw, group, SAMPLE_RATE), total, progress):
                out.add(language, segment)
        return language

    def _transcribe_batched(self, audio: np.ndarray, total: float, progress: Progress | None,
                            language: str | None, out: _Cleaned) -> str | None:
        """The speech (the same VAD regions and pieces as sequential decoding) cut into clips of up
        to one 30-s window, decoded batch_size clips at a time (BatchedInferencePipeline): one
        encoder pass and one search over the whole batch. The temperature fallback has no batched
        form: only the first temperature is used.

        Without timestamp tokens. With them, Whisper ends a window whose last phrase it thinks runs
        past the window's end with that phrase's start time and no text (it was trained on windows
        cut that way); sequential decoding seeks there and decodes the phrase in the next window,
        batched decoding never seeks, so the phrase was lost: 54 of lecture.mp4's 403 words, the
        last 3-9 s of four of its six clips (dev WER 0.131 against 0.076 sequential greedy). Without
        timestamps every clip is transcribed to its end (dev WER 0.072 greedy, 0.065 beam 5, against
        0.077 sequential beam 5: bench/asr_bench.py); word times still come from the
        cross-attention (kept inside their speech chunks), and each clip's text is cut into sentences
        at its words (_sentences)."""
        from faster_whisper import BatchedInferencePipeline
        from faster_whisper.transcribe import restore_speech_timestamps

        o = self.options
        if self._batched is None:
            self._batched = BatchedInferencePipeline(self.model)
        for group, speech in _speech_pieces(audio, _WINDOW_S, total, progress):
            clips = [{"start": offset / SAMPLE_RATE,
                      "end": (offset + sum(c["end"] - c["start"] for c in clip)) / SAMPLE_RATE}
                     for offset, clip in _group_chunks(group, _WINDOW_S * SAMPLE_RATE)]
            raw, info = self._batched.transcribe(speech, clip_timestamps=clips, vad_filter=False,
                                                 without_timestamps=True, batch_size=o.batch_size,
                                                 **self._decoding(language))
            language = language or info.language  # detected on the first speech, then kept
            for segment in _keep_in_chunks(list(self._collect(restore_speech_timestamps(raw, group, SAMPLE_RATE),
                                                              total, progress)), group):
                for sentence in _sentences(segment):
                    out.add(language, sentence)
        return language

    def _decoding(self, language: str | None) -> dict:
        o = self.options
        return dict(language=language, beam_size=o.beam_size, best_of=o.beam_size,
                    temperature=list(o.temperature), condition_on_previous_text=False, word_timestamps=True)

    @staticmethod
    def _collect(raw, total: float, progress: Progress | None) -> Iterator[Segment]:  # noqa: ANN001 (faster-whisper segments)
        for s in raw:  # a generator: decoding happens while iterating
            words = [Word(w.start, w.end, w.word, w.probability) for w in (s.words or [])]
            yield Segment(s.start, s.end, s.text, words, s.avg_logprob, s.no_speech_prob)
            _report(progress, s.end, total)


class _OpenAIWhisper(_Backend):
    name = "openai-whisper"

    def __init__(self, options: AsrOptions, device: str):
        from vmr.models.ct2 import load_openai_whisper
        from vmr.models.weights import resolve_whisper

        self.options = options
        self.device = device
        ref = resolve_whisper(options.model, "openai-whisper", device=device)
        t0 = time.perf_counter()
        self.model = load_openai_whisper(ref, device=device)
        self.load_seconds = time.perf_counter() - t0

    def _decode(self, audio: np.ndarray, language: str | None) -> dict:
        import whisper

        o = self.options
        beam = {"beam_size": o.beam_size, "best_of": o.beam_size} if o.beam_size > 1 else {}
        return whisper.transcribe(
            self.model,
            audio,
            verbose=None,
            language=language,
            task="transcribe",
            temperature=o.temperature,
            condition_on_previous_text=False,
            word_timestamps=True,
            fp16=self.device == "cuda",
            **beam,
        )

    def _transcribe(self, audio: np.ndarray, total: float, progress: Progress | None,
                    language: str | None, out: _Cleaned) -> str | None:
        o = self.options
        if o.vad:
            from faster_whisper.vad import SpeechTimestampsMap

            # Same Silero VAD and options as faster-whisper, but speech is cut into
            # pieces of at most one Whisper window, each decoded on its own: one
            # encoder pass per piece, and progress after each.
            chunks = speech_regions(audio, max_speech_s=_WINDOW_S)
            pieces = _group_chunks(chunks, _WINDOW_S * SAMPLE_RATE)
            ts_map = SpeechTimestampsMap(chunks, SAMPLE_RATE) if chunks else None
        else:
            pieces = [(0, [{"start": 0, "end": audio.size}])]
            ts_map = None
        for offset_samples, group in pieces:
            piece = np.concatenate([audio[c["start"]:c["end"]] for c in group])
            offset = offset_samples / SAMPLE_RATE
            if piece.size < MIN_AUDIO_SECONDS * SAMPLE_RATE:
                continue
            result = self._decode(piece, language)
            language = language or result.get("language")  # detected on the first speech, then kept
            for s in result["segments"]:
                words = []
                for w in s.get("words") or []:
                    start, end = offset + w["start"], offset + w["end"]
                    if ts_map is not None:
                        # resolve both ends in the chunk of the word's middle
                        idx = ts_map.get_chunk_index((start + end) / 2)
                        start = ts_map.get_original_time(start, idx)
                        end = ts_map.get_original_time(end, idx)
                    words.append(Word(start, end, w["word"], w["probability"]))
                start, end = offset + s["start"], offset + s["end"]
                if ts_map is not None:
                    start = ts_map.get_original_time(start)
                    end = ts_map.get_original_time(end, is_end=True)
                out.add(language, Segment(start, end, s["text"], words, s["avg_logprob"], s["no_speech_prob"]))
            _report(progress, group[-1]["end"] / SAMPLE_RATE, total)
        return language


def normalize_text(text: str) -> str:
    """Lowercase words without punctuation, for comparing transcripts (WER):
    hyphens and slashes split words, apostrophes inside words are kept."""
    text = re.sub(r"[-‐‑–—/]", " ", text.lower())
    text = re.sub(r"[^\w\s']", "", text)
    text = re.sub(r"(?<!\w)'|'(?!\w)", "", text)
    return " ".join(text.split())
