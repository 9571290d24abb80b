"""Whisper's log-Mel features, as faster-whisper computes them, a block of frames at a time.

faster-whisper's `FeatureExtractor` frames, windows, transforms and filters all the audio it is
given at once: about 5.6 kB of temporaries per 10-ms frame, 170 MB for a 5-minute piece of
speech, on top of the 320 bytes per frame the features themselves take. `BlockFeatures` does the
same operations on at most `BLOCK` frames at a time and writes each block's log-Mel columns into
one array; only the last step (clamping to 8 below the loudest value) needs every frame, and it
runs on that array in place. The features are faster-whisper's own, bit for bit (a test
compares them).
"""

from __future__ import annotations

import numpy as np
from faster_whisper.feature_extractor import FeatureExtractor

__all__ = ["BlockFeatures", "BLOCK"]

BLOCK = 3000  # frames: 30 s, one Whisper window (about 17 MB of temporaries)
# BLAS multiplies a matrix of under 16 columns by other code, whose sums differ in the last bit:
# a shorter last block is joined to the one before it.
_MIN_BLOCK = 64


class BlockFeatures(FeatureExtractor):
    def __call__(self, waveform: np.ndarray, padding: int = 160, chunk_length: int | None = None) -> np.ndarray:
        if chunk_length is not None:  # (what the parent keeps of it)
            self.n_samples = chunk_length * self.sampling_rate
            self.nb_max_frames = self.n_samples // self.hop_length
        waveform = waveform.astype(np.float32, copy=False)
        if padding:
            waveform = np.pad(waveform, (0, padding))
        # the parent's stft(center=True) pads by half a window, reflected, then frames every hop
        half = self.n_fft // 2
        padded = np.pad(waveform, (half, half), mode="reflect")
        frames = (padded.size - self.n_fft) // self.hop_length  # the parent drops the last one
        window = np.hanning(self.n_fft + 1)[:-1].astype("float32")
        log_spec = np.empty((self.mel_filters.shape[0], frames), np.float32)
        starts = list(range(0, frames, BLOCK))
        if len(starts) > 1 and frames - starts[-1] < _MIN_BLOCK:
            starts.pop()
        for first, last in zip(starts, starts[1:] + [frames]):
            block = padded[first * self.hop_length:(last - 1) * self.hop_length + self.n_fft]
            stft = self.stft(block, self.n_fft, self.hop_length, window=window, center=False,
                             return_complex=True).astype("complex64")
            mel_spec = self.mel_filters @ (np.abs(stft) ** 2)
            log_spec[:, first:last] = np.log10(np.clip(mel_spec, a_min=1e-10, a_max=None))
        np.maximum(log_spec, log_spec.max() - 8.0, out=log_spec)
        log_spec += 4.0
        log_spec /= 4.0
        return log_spec
