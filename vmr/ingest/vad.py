"""Voice activity: the Silero VAD that ships inside the faster-whisper wheel, over a recording
of any length in a few megabytes beyond the recording itself.

faster-whisper's ``get_speech_timestamps`` pads a copy of the whole recording and builds the
model's input for all of it at once, (windows, 576) samples: 2.2x the audio, 0.35 GB for a
41-minute lecture and the peak of indexing it. Here the same model reads the same windows,
one batch at a time with its LSTM state carried from batch to batch, and the same rules turn
its probabilities into speech chunks (adapted from faster-whisper 1.2's ``vad.py``, MIT, in
turn from snakers4/silero-vad): the chunks are faster-whisper's, sample for sample
(``tests/test_asr.py`` compares them).
"""

from __future__ import annotations

import numpy as np

from vmr.ingest.media import SAMPLE_RATE

__all__ = ["speech_probabilities", "speech_regions"]

WINDOW = 512  # samples per probability: 32 ms
CONTEXT = 64  # samples of the previous window the model sees before each one
# Windows per model call: 32 s. faster-whisper's 10,000 (320 s) made 180 MB of the model's
# temporaries at once, a peak of indexing; 1,000 make 25 MB, at the same speed.
BATCH = 1000


def speech_probabilities(audio: np.ndarray, batch: int = BATCH) -> np.ndarray:
    """One speech probability per 512-sample window, as faster-whisper's SileroVADModel gives
    them for the recording padded to whole windows (with at least one sample of padding)."""
    from faster_whisper.vad import get_vad_model

    session = get_vad_model().session
    windows = audio.size // WINDOW + 1
    h = np.zeros((1, 1, 128), np.float32)
    c = np.zeros((1, 1, 128), np.float32)
    previous_tail = np.zeros(CONTEXT, np.float32)
    probabilities = []
    for first in range(0, windows, batch):
        count = min(batch, windows - first)
        signal = np.zeros(count * WINDOW, np.float32)
        piece = audio[first * WINDOW:(first + count) * WINDOW]
        signal[:piece.size] = piece
        signal = signal.reshape(count, WINDOW)
        if first + count == windows:
            # faster-whisper zeroes the last window's last 64 samples (it writes its roll of the
            # contexts through a view of the padded audio); the same input gives the same chunks
            signal[-1, -CONTEXT:] = 0
        contexts = np.empty((count, CONTEXT), np.float32)
        contexts[0] = previous_tail
        contexts[1:] = signal[:-1, -CONTEXT:]
        previous_tail = signal[-1, -CONTEXT:].copy()
        output, h, c = session.run(None, {"input": np.concatenate([contexts, signal], axis=1), "h": h, "c": c})
        probabilities.append(np.asarray(output).reshape(-1))
    return np.concatenate(probabilities)


def speech_regions(audio: np.ndarray, max_speech_s: float = float("inf")) -> list[dict]:
    """Speech chunks ({"start", "end"} in samples) with faster-whisper's default VadOptions; a
    chunk longer than ``max_speech_s`` is cut at a pause (or, with none, at the limit)."""
    from faster_whisper.vad import VadOptions

    options = VadOptions(max_speech_duration_s=max_speech_s)
    return _chunks(speech_probabilities(audio), audio.size, options)


def _chunks(probabilities: np.ndarray, length: int, o) -> list[dict]:  # noqa: ANN001 (VadOptions)
    """faster-whisper's get_speech_timestamps after its model call, unchanged in substance."""
    threshold = o.threshold
    neg_threshold = o.neg_threshold if o.neg_threshold is not None else max(threshold - 0.15, 0.01)
    min_speech = SAMPLE_RATE * o.min_speech_duration_ms / 1000
    pad = SAMPLE_RATE * o.speech_pad_ms / 1000
    max_speech = SAMPLE_RATE * o.max_speech_duration_s - WINDOW - 2 * pad
    min_silence = SAMPLE_RATE * o.min_silence_duration_ms / 1000
    min_silence_at_max_speech = SAMPLE_RATE * 98 / 1000

    triggered = False
    speeches: list[dict] = []
    current: dict = {}
    temp_end = 0  # where speech may have ended (some silence is tolerated)
    prev_end = next_start = 0  # where to cut if the chunk reaches max_speech
    for i, p in enumerate(probabilities.tolist()):
        at = WINDOW * i
        if p >= threshold and temp_end:
            temp_end = 0
            if next_start < prev_end:
                next_start = at
        if p >= threshold and not triggered:
            triggered = True
            current["start"] = at
            continue
        if triggered and at - current["start"] > max_speech:
            if prev_end:
                current["end"] = prev_end
                speeches.append(current)
                current = {}
                if next_start < prev_end:  # silence since, and not speech again yet
                    triggered = False
                else:
                    current["start"] = next_start
                prev_end = next_start = temp_end = 0
            else:
                current["end"] = at
                speeches.append(current)
                current = {}
                prev_end = next_start = temp_end = 0
                triggered = False
                continue
        if p < neg_threshold and triggered:
            if not temp_end:
                temp_end = at
            if at - temp_end > min_silence_at_max_speech:
                prev_end = temp_end
            if at - temp_end < min_silence:
                continue
            current["end"] = temp_end
            if current["end"] - current["start"] > min_speech:
                speeches.append(current)
            current = {}
            prev_end = next_start = temp_end = 0
            triggered = False
    if current and length - current["start"] > min_speech:
        current["end"] = length
        speeches.append(current)

    for i, speech in enumerate(speeches):  # pad each chunk, sharing short silences between two
        if i == 0:
            speech["start"] = int(max(0, speech["start"] - pad))
        if i != len(speeches) - 1:
            silence = speeches[i + 1]["start"] - speech["end"]
            if silence < 2 * pad:
                speech["end"] += int(silence // 2)
                speeches[i + 1]["start"] = int(max(0, speeches[i + 1]["start"] - silence // 2))
            else:
                speech["end"] = int(min(length, speech["end"] + pad))
                speeches[i + 1]["start"] = int(max(0, speeches[i + 1]["start"] - pad))
        else:
            speech["end"] = int(min(length, speech["end"] + pad))
    return speeches
