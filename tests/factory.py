"""Videos made on the spot with PyAV for the tests: exact frame times, with or without audio."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def make_video(
    path: Path,
    frame_times: list[float],
    size: tuple[int, int] = (160, 120),
    audio_seconds: float | None = None,
    tone_hz: float = 440.0,
    picture: Callable[[float], np.ndarray] | None = None,
) -> Path:
    """An H.264 MP4 whose frames carry exactly `frame_times` (seconds) as timestamps, so
    variable frame rates are easy to build; each frame is a flat grey that changes per frame,
    or `picture(t)` (an RGB array of `size`)."""
    width, height = size
    time_base = Fraction(1, 1000)
    with av.open(str(path), "w", format="mp4") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.time_base = time_base
        video.codec_context.time_base = time_base
        video.options = {"bf": "0"}  # no B-frames: uneven frame times would reorder dts
        audio = None
        if audio_seconds is not None:
            audio = container.add_stream("aac", rate=16000)
            audio.layout = "mono"
        for i, t in enumerate(frame_times):
            shade = (37 * i) % 256
            pixels = picture(t) if picture else np.full((height, width, 3), shade, np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = round(t / time_base)
            frame.time_base = time_base
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if audio is not None:
            n = int(16000 * audio_seconds)
            samples = (0.2 * np.sin(2 * np.pi * tone_hz * np.arange(n) / 16000)).astype(np.float32)
            for start in range(0, n, 1024):
                chunk = samples[start : start + 1024]
                frame = av.AudioFrame.from_ndarray(chunk[None, :], format="flt", layout="mono")
                frame.sample_rate = 16000
                frame.pts = start
                for packet in audio.encode(frame):
                    container.mux(packet)
            for packet in audio.encode():
                container.mux(packet)
    return path


def sample_excerpt(target: Path, seconds: float, faststart: bool = False, sample: Path | None = None) -> Path:
    """The sample lecture's (or another sample's) first `seconds`, its packets copied (no
    re-encoding): real speech, quicker to index. `faststart`: the file's index (moov) first,
    as files made for streaming."""
    from conftest import SAMPLE

    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(sample or SAMPLE)) as source, av.open(str(target), "w", format="mp4", options=options) as output:
        streams = {s.index: output.add_stream_from_template(s) for s in source.streams
                   if s.type in ("video", "audio")}
        for packet in source.demux(*[s for s in source.streams if s.index in streams]):
            if packet.pts is None or packet.pts * packet.time_base >= seconds:
                continue  # the demuxer's flush packets, and what lies past the cut
            packet.stream = streams[packet.stream.index]
            output.mux(packet)
    return target


def frame_at(video: Path, seconds: float) -> np.ndarray:
    """The decoded frame (BGR) shown at `seconds`."""
    import cv2

    capture = cv2.VideoCapture(str(video))
    capture.set(cv2.CAP_PROP_POS_MSEC, seconds * 1000)
    ok, frame = capture.read()
    capture.release()
    assert ok, (video, seconds)
    return frame


def frame_png(video: Path, seconds: float, out: Path) -> Path:
    """The frame shown at `seconds`, saved as an image file (a screenshot)."""
    import cv2

    cv2.imwrite(str(out), frame_at(video, seconds))
    return out
