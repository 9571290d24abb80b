"""Decoding: the video stream through OpenCV, the audio track through PyAV (no system ffmpeg)."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vmr.errors import MediaError
from vmr.timecode import TimeSpan

SAMPLE_RATE = 16_000  # what Whisper and every speech model here expect

# FFmpeg inside OpenCV prints its own complaints ("moov atom not found") to stderr; vmr says
# what went wrong in one line of its own instead.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")


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
        # One buffer the length the file claims (a second more), filled as frames decode: a list
        # of chunks joined at the end would hold the recording twice (0.3 GB for 40 minutes).
        audio = np.empty(int(_claimed_seconds(container, stream) * SAMPLE_RATE) + SAMPLE_RATE, np.float32)
        size = 0

        def put(samples: np.ndarray) -> None:
            nonlocal size
            if size + samples.size > audio.size:  # the file claimed less than it holds
                audio.resize(max(size + samples.size, audio.size * 3 // 2), refcheck=False)
            audio[size:size + samples.size] = samples
            size += samples.size

        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    put(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError:
            pass  # a truncated file: keep the audio decoded before the damage
        for out in resampler.resample(None):
            put(out.to_ndarray().reshape(-1))
    audio.resize(size, refcheck=False)  # (realloc: gives back the unused end without a copy)
    return audio


def _claimed_seconds(container, stream) -> float:  # noqa: ANN001 (PyAV objects)
    """How long the file says its audio is (it may be wrong: a buffer sized by it grows)."""
    import av

    if stream.duration:
        return float(stream.duration * stream.time_base)
    # a container that times only itself (Matroska), or nothing (a raw stream)
    return container.duration / av.time_base if container.duration else 60.0


VIDEO_EXTENSIONS = frozenset(
    ".mp4 .m4v .mkv .webm .mov .avi .mpg .mpeg .ts .wmv .flv .ogv .3gp".split()
)


@dataclass(frozen=True)
class VideoScan:
    """What one decoding pass learns: times from the stream, and a keyframe time per clip."""

    duration: float
    frame_count: int
    fps: float  # measured from timestamps, not the container's claim
    width: int
    height: int
    clips: list[TimeSpan]
    keyframe_times: list[float]  # per clip: the frame nearest its middle that is on screen
    truncated: bool  # decoding stopped early on damaged data
    shots: list[Shot] = field(default_factory=list)  # the pictures shown, in order


@dataclass(frozen=True)
class Shot(TimeSpan):
    """A stretch of video showing one picture (a slide, a camera angle)."""

    picture: int  # which distinct picture: a return to an earlier slide repeats its number


# Picture changes are found on small grey thumbnails of frames sampled every PICTURE_STEP s:
# a change is a share AREA_CHANGE of the pixels moving by more than PIXEL_CHANGE grey levels
# (a new line of slide text at 720p is ~2% of the thumbnail; a mouse pointer is ~0.05%).
PICTURE_STEP = 0.5
THUMB_WIDTH = 160
PIXEL_CHANGE = 20
AREA_CHANGE = 0.002

# Called once per distinct picture, with its number and its first steady frame (BGR).
OnPicture = Callable[[int, np.ndarray], None]


class PictureChanges:
    """Follows the sampled frames: a new picture starts where the frames stop matching the
    current one, and is accepted once two samples in a row agree (a steady picture, not the
    middle of a fade or of camera motion). A picture that matches an earlier one reuses its
    number, so a slide shown twice is read once."""

    def __init__(self, on_picture: OnPicture | None = None, step: float = PICTURE_STEP):
        self.on_picture = on_picture or (lambda *_: None)
        self.step = step
        self.next_sample = 0.0
        self.pictures: list[np.ndarray] = []  # one thumbnail per distinct picture
        self.starts: list[tuple[float, int]] = []  # (start, picture)
        self.previous: tuple[float, np.ndarray] | None = None
        self.change_at: float | None = None

    def due(self, t: float) -> bool:
        """Whether the frame at `t` is to be sampled (the first one at or past each step)."""
        if t < self.next_sample:
            return False
        self.next_sample = (math.floor(t / self.step) + 1) * self.step
        return True

    @staticmethod
    def differ(a: np.ndarray, b: np.ndarray) -> bool:
        import cv2

        return np.count_nonzero(cv2.absdiff(a, b) > PIXEL_CHANGE) > AREA_CHANGE * a.size

    def feed(self, t: float, frame: np.ndarray) -> None:
        import cv2

        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
        height = max(1, round(THUMB_WIDTH * grey.shape[0] / max(grey.shape[1], 1)))
        thumb = cv2.resize(grey, (THUMB_WIDTH, height), interpolation=cv2.INTER_AREA)
        if not self.starts:
            self._accept(0.0, thumb, frame)
        elif self.differ(thumb, self.pictures[self.starts[-1][1]]):
            if self.change_at is None:  # between the last sample that matched and this one
                self.change_at = (self.previous[0] + t) / 2
            if not self.differ(thumb, self.previous[1]):
                self._accept(self.change_at, thumb, frame)
        else:
            self.change_at = None
        self.previous = (t, thumb)

    def _accept(self, start: float, thumb: np.ndarray, frame: np.ndarray) -> None:
        seen = next((i for i, old in enumerate(self.pictures) if not self.differ(thumb, old)), None)
        if seen is None:
            seen = len(self.pictures)
            self.pictures.append(thumb)
            self.on_picture(seen, frame)
        self.starts.append((start, seen))
        self.change_at = None

    def shots(self, duration: float) -> list[Shot]:
        ends = [start for start, _ in self.starts[1:]] + [duration]
        return [Shot(start, end, picture) for (start, picture), end in zip(self.starts, ends)]


def clip_grid(duration: float, clip_seconds: float) -> list[TimeSpan]:
    """Fixed-length clips covering [0, duration); a short tail joins the last full clip so no
    clip is a sliver of a frame."""
    count = max(1, math.floor(duration / clip_seconds + 0.75))
    return [
        TimeSpan(i * clip_seconds, duration if i == count - 1 else (i + 1) * clip_seconds)
        for i in range(count)
    ]


def _frame_times(capture) -> Iterator[float]:  # noqa: ANN001 (a cv2.VideoCapture)
    """Grab every frame in turn and yield its time in seconds. grab() decodes without
    converting the picture: cheap, and it gives the pts; retrieve() then converts this frame."""
    import cv2

    last = -math.inf
    while capture.grab():
        t = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        if t <= last:
            t = last + 1e-6  # a frame without a timestamp: keep the order
        last = t
        yield t


def _scan_decoder_params() -> list[int]:
    """FFmpeg's decoding threads for the scan. It shares the cores with the OCR and the encoding
    (and with Whisper's loading before it decodes): on two cores FFmpeg's own threads only
    compete with them, and one thread decoded lecture.mp4 with 1.5-2.6 s of CPU against 2.8-3.2
    s, in about the same wall time (measured beside Whisper). With more cores, FFmpeg's default
    (a thread per core)."""
    import cv2

    from vmr.models.devices import usable_cores

    return [cv2.CAP_PROP_N_THREADS, 1] if usable_cores() <= 2 else []


def scan_video(path: str | Path, clip_seconds: float = 2.0, on_picture: OnPicture | None = None,
               each_frame: Callable[[], None] | None = None) -> VideoScan:
    """Read every frame's timestamp from the stream (variable frame rate safe), pick a
    keyframe per clip and find where the picture changes (`on_picture` sees each distinct
    picture once). Raises MediaError for what is not a decodable video. `each_frame` is called
    at each frame: it may wait (while Whisper has the cores) or end the scan (Stopped)."""
    import cv2

    capture = cv2.VideoCapture(str(path), cv2.CAP_ANY, _scan_decoder_params())
    if not capture.isOpened():
        raise MediaError(path, "not a readable video (no decodable video stream)")
    width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    claimed_frames = capture.get(cv2.CAP_PROP_FRAME_COUNT)
    claimed_fps = capture.get(cv2.CAP_PROP_FPS)
    times: list[float] = []
    chosen: dict[int, float] = {}  # clip -> keyframe time
    changes = PictureChanges(on_picture)
    try:
        for t in _frame_times(capture):
            if each_frame is not None:
                each_frame()
            times.append(t)
            clip = int(t // clip_seconds)
            middle = (clip + 0.5) * clip_seconds
            # The first frame of each clip, replaced by the first one at or past the middle.
            if clip not in chosen or chosen[clip] < middle <= t:
                chosen[clip] = t
            if changes.due(t):  # retrieve() converts the frame: only for the sampled ones
                ok, frame = capture.retrieve()
                if ok:
                    changes.feed(t, frame)
    finally:
        capture.release()
    if not times:
        raise MediaError(path, "contains no video frames (empty or zero-length video)")
    # grab() also stops on damaged data: well short of the container's count means truncated.
    truncated = claimed_frames > 0 and len(times) < claimed_frames * 0.98
    intervals = np.diff(times)
    frame_step = float(np.median(intervals)) if len(intervals) else 0.0
    if len(times) == 1:  # one picture: it lasts as long as the file says (a still over its audio)
        duration = times[0] + _single_frame_seconds(path, claimed_fps)
    else:
        duration = times[-1] + (frame_step if frame_step > 0 else clip_seconds)
    clips = clip_grid(duration, clip_seconds)
    # A clip with no frame of its own (long frame durations in variable-rate slide videos)
    # shows the last frame before it.
    keyframe_times: list[float] = []
    for clip in range(len(clips)):
        keyframe_times.append(chosen.get(clip, keyframe_times[-1] if keyframe_times else times[0]))
    span = times[-1] - times[0]
    fps = (len(times) - 1) / span if span > 0 else 0.0
    return VideoScan(duration, len(times), fps, width, height, clips, keyframe_times, truncated,
                     changes.shots(duration))



def _single_frame_seconds(path: str | Path, claimed_fps: float) -> float:
    """How long the only frame of a video is shown: until the file's end (its longest stream,
    the audio under a still picture), else for one frame period of the stream's rate."""
    import av

    seconds = 0.0
    try:
        with av.open(str(path)) as container:
            if container.duration:
                seconds = container.duration / av.time_base
            stream = container.streams.video[0] if container.streams.video else None
            if stream is not None and stream.duration and stream.time_base:
                seconds = max(seconds, float(stream.duration * stream.time_base))
    except (av.error.FFmpegError, OSError):
        pass
    if seconds <= 0 and 0 < claimed_fps <= 1000:
        seconds = 1.0 / claimed_fps
    return seconds if seconds > 0 else 1 / 25  # no rate anywhere: a frame of PAL video


def read_frame(path: str | Path, seconds: float) -> np.ndarray:
    """The BGR frame shown at this time (OpenCV seeks to it and decodes forward)."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise MediaError(path, "not a readable video (no decodable video stream)")
        capture.set(cv2.CAP_PROP_POS_MSEC, seconds * 1000.0)
        ok, frame = capture.read()
    finally:
        capture.release()
    if not ok:
        raise MediaError(path, f"no frame at {seconds:.3f} s")
    return frame


def read_frames(path: str | Path, times: list[float]) -> Iterator[tuple[float, np.ndarray]]:
    """The frames shown at `times` (seconds, as scan_video reports them): (time, RGB uint8
    [H, W, 3]) in time order, each distinct time once, in one sequential decoding pass
    (seeking per frame would decode from the previous keyframe each time)."""
    import cv2

    wanted = sorted(set(times))
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise MediaError(path, "not a readable video (no decodable video stream)")
    try:
        i = 0
        for t in _frame_times(capture):
            if i == len(wanted):
                break
            if t < wanted[i] - 1e-9:
                continue
            ok, frame = capture.retrieve()
            while i < len(wanted) and wanted[i] <= t + 1e-9:
                if ok:
                    yield wanted[i], cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                i += 1
    finally:
        capture.release()
