"""Decoding: stream timestamps (variable frame rate), the clip grid, audio, and broken files."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from factory import make_video
from vmr.errors import MediaError, Stopped
from vmr.ingest.media import SAMPLE_RATE, clip_grid, load_audio, scan_video
from vmr.timecode import TimeSpan, format_clock


@pytest.mark.parametrize("cores", [2, 8])  # one FFmpeg decoding thread on two cores, FFmpeg's default beyond
def test_variable_frame_rate_times_come_from_the_stream(tmp_path, monkeypatch, cores):
    # 10 fps for 2 s, then one frame every 0.5 s, then 30 fps: the container's single
    # fps figure is wrong for two of the three parts.
    monkeypatch.setattr("vmr.models.devices.usable_cores", lambda: cores)
    times = [i * 0.1 for i in range(20)] + [2.0 + i * 0.5 for i in range(6)] + [5.0 + i / 30 for i in range(30)]
    path = make_video(tmp_path / "vfr.mp4", times)
    scan = scan_video(path, clip_seconds=2.0)
    assert scan.frame_count == len(times)
    assert scan.duration == pytest.approx(times[-1] + 1 / 30, abs=0.01)
    assert [(c.start, c.end) for c in scan.clips][:2] == [(0.0, 2.0), (2.0, 4.0)]
    assert scan.clips[-1].end == pytest.approx(scan.duration)
    # The keyframe of each clip is the first frame at or past its middle.
    assert scan.keyframe_times == pytest.approx([1.0, 3.0, 5.0], abs=1e-3)
    assert scan.fps == pytest.approx((len(times) - 1) / times[-1], rel=1e-3)


def test_sparse_frames_keep_the_slide_on_screen(tmp_path):
    # A slide video with one frame every 5 s: clips without a frame show the previous one.
    path = make_video(tmp_path / "slides.mp4", [0.0, 5.0, 10.0])
    scan = scan_video(path, clip_seconds=2.0)
    assert scan.keyframe_times[:6] == pytest.approx([0.0, 0.0, 5.0, 5.0, 5.0, 10.0], abs=1e-3)


@pytest.mark.parametrize(
    ("duration", "expected"),
    [(0.3, [(0.0, 0.3)]), (2.4, [(0.0, 2.4)]), (2.6, [(0.0, 2.0), (2.0, 2.6)]),
     (6.001, [(0.0, 2.0), (2.0, 4.0), (4.0, 6.001)])],
)
def test_clip_grid_has_no_slivers(duration, expected):
    assert [(c.start, c.end) for c in clip_grid(duration, 2.0)] == expected


def test_audio_is_16k_mono_and_as_long_as_the_track(tmp_path):
    path = make_video(tmp_path / "tone.mp4", [i * 0.1 for i in range(30)], audio_seconds=3.0)
    audio = load_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert len(audio) / SAMPLE_RATE == pytest.approx(3.0, abs=0.1)
    spectrum = np.abs(np.fft.rfft(audio[:SAMPLE_RATE]))
    assert np.argmax(spectrum) == pytest.approx(440, abs=3)  # 1 s of signal: bin = Hz


@pytest.mark.parametrize("claim", [0.5, 600.0])
def test_audio_fills_one_buffer_whatever_length_the_file_claims(tmp_path, monkeypatch, claim):
    """The samples go into one buffer sized by the length the file claims; a file that claims
    too little (0.5 s of 3) makes it grow, one that claims too much (10 minutes) has it cut to
    the samples decoded, and the result is the same recording."""
    from vmr.ingest import media

    path = make_video(tmp_path / "tone.mp4", [i * 0.1 for i in range(30)], audio_seconds=3.0)
    truthful = load_audio(path)
    monkeypatch.setattr(media, "_claimed_seconds", lambda container, stream: claim)
    audio = load_audio(path)
    assert audio.flags.owndata and audio.flags.c_contiguous
    np.testing.assert_array_equal(audio, truthful)
    assert len(audio) / SAMPLE_RATE == pytest.approx(3.0, abs=0.1)


def test_video_without_audio_has_no_audio(tmp_path):
    path = make_video(tmp_path / "silent.mp4", [i * 0.1 for i in range(10)])
    assert load_audio(path) is None


def test_a_scan_told_to_stop_stops_at_the_next_frame(tmp_path):
    path = make_video(tmp_path / "talk.mp4", [i * 0.1 for i in range(30)])
    stop, seen, frames = threading.Event(), [], []

    def on_picture(index, frame):
        seen.append(index)
        stop.set()  # (another part of the analysis failed)

    def each_frame():
        frames.append(len(frames))
        if stop.is_set():
            raise Stopped

    with pytest.raises(Stopped):
        scan_video(path, 2.0, on_picture, each_frame)
    assert seen == [0] and frames == [0, 1]


def test_text_file_is_not_a_video(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("these are my lecture notes, not a video\n" * 50)
    with pytest.raises(MediaError, match="notes.mp4: not a readable video"):
        scan_video(path)


def test_audio_only_file_has_no_frames(tmp_path):
    import av

    path = tmp_path / "podcast.m4a"
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=16000)
        stream.layout = "mono"
        samples = np.zeros((1, 16000), np.float32)
        frame = av.AudioFrame.from_ndarray(samples, format="flt", layout="mono")
        frame.sample_rate = 16000
        for packet in list(stream.encode(frame)) + list(stream.encode()):
            container.mux(packet)
    with pytest.raises(MediaError, match="no video frames|not a readable video"):
        scan_video(path)


def test_timespan_iou_and_clock():
    a, b = TimeSpan(0, 10), TimeSpan(5, 15)
    assert a.iou(b) == pytest.approx(5 / 15)
    assert TimeSpan(0, 1).iou(TimeSpan(2, 3)) == 0.0
    assert format_clock(3725.5) == "01:02:05.500"
    assert format_clock(61.25, ",") == "00:01:01,250"
    with pytest.raises(ValueError):
        TimeSpan(2, 1)
