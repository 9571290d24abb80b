"""Decoding: the video stream through OpenCV, the audio track through PyAV (no system ffmpeg)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vmr.errors import MediaError

SAMPLE_RATE = 16_000  # what Whisper and every speech model here expect


def load_audio(path: str | Path) -> np.ndarray | None:
    """The first audio track as float32 mono at 16 kHz, or None when the file has no audio."""
    import av

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise MediaError(path, f"cannot open for audio: {exc}") from exc
    with container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        chunks: list[np.ndarray] = []
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError:
            pass  # a truncated file: keep the audio decoded before the damage
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(chunks).astype(np.float32, copy=False)
