#!/usr/bin/env python3
"""A long, dense-speech lecture video for the long-lecture benchmark, made from the samples.

    .venv/bin/python bench/long_video.py OUT.mp4 [--repeats 4] [--remux]

The four sample lectures (10:22 of narration over slides) played `repeats` times in a row:
41:29 with the default 4. A real lecture rarely shows a slide twice, and vmr reads a picture it
has seen before only once, so by default each pass gets a label in the top-right corner ("part
2 of 4"), which makes its slides new pictures to be read again, and the video is re-encoded
(libx264, PyAV's own FFmpeg: no system tools). `--remux` copies the streams' packets instead,
with no label: seconds instead of minutes, but later passes then cost the OCR nothing.
"""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = [ROOT / "samples" / f"{name}.mp4" for name in ("lecture", "databases", "biology", "mechanics")]


def remux(out: Path, repeats: int) -> None:
    """Packets copied with shifted timestamps (the samples share their codec settings)."""
    with av.open(str(SAMPLES[0])) as first, av.open(str(out), "w") as sink:
        streams = {s.type: sink.add_stream_from_template(s) for s in (first.streams.video[0], first.streams.audio[0])}
        offset = {"video": 0, "audio": 0}
        for _ in range(repeats):
            for sample in SAMPLES:
                with av.open(str(sample)) as source:
                    ends = dict(offset)
                    for packet in source.demux(source.streams.video[0], source.streams.audio[0]):
                        kind = packet.stream.type
                        if packet.dts is None:
                            continue
                        base = int(offset[kind])
                        packet.pts = None if packet.pts is None else packet.pts + base
                        packet.dts += base
                        ends[kind] = max(ends[kind], (packet.pts or packet.dts) + (packet.duration or 0))
                        packet.stream = streams[kind]
                        sink.mux(packet)
                    # both streams continue where the longer one ended, after the 0.2 s that the
                    # samples' negative start timestamps (B-frame delay, AAC priming) need
                    end = max(ends["video"] * streams["video"].time_base, ends["audio"] * streams["audio"].time_base)
                    offset = {k: int((end + Fraction(1, 5)) / streams[k].time_base) for k in offset}


def reencode(out: Path, repeats: int) -> None:
    import cv2

    with av.open(str(out), "w") as sink:
        video = sink.add_stream("libx264", rate=10, options={"preset": "veryfast", "crf": "26"})
        video.width, video.height, video.pix_fmt = 1280, 720, "yuv420p"
        audio = sink.add_stream("aac", rate=22050, layout="mono")
        frames = samples = 0
        for n in range(repeats):
            label = f"part {n + 1} of {repeats}"
            for sample in SAMPLES:
                with av.open(str(sample)) as source:
                    start_frames, start_samples = frames, samples
                    for frame in source.decode(source.streams.video[0]):
                        image = frame.to_ndarray(format="bgr24")
                        if n:  # the first pass is the samples as they are
                            cv2.rectangle(image, (1040, 0), (1280, 56), (40, 40, 40), -1)
                            cv2.putText(image, label, (1052, 38), cv2.FONT_HERSHEY_SIMPLEX, 0.9,
                                        (255, 255, 255), 2, cv2.LINE_AA)
                        picture = av.VideoFrame.from_ndarray(image, format="bgr24")
                        picture.pts = start_frames + round(float(frame.time) * 10)
                        picture.time_base = Fraction(1, 10)
                        frames = max(frames, picture.pts + 1)
                        for packet in video.encode(picture):
                            sink.mux(packet)
                    source.seek(0)
                    resampler = av.AudioResampler(format="fltp", layout="mono", rate=22050)
                    for frame in source.decode(source.streams.audio[0]):
                        for chunk in resampler.resample(frame):
                            chunk.pts = start_samples + round(float(frame.time) * 22050) if frame.time is not None else None
                            chunk.time_base = Fraction(1, 22050)
                            samples = max(samples, (chunk.pts or samples) + chunk.samples)
                            for packet in audio.encode(chunk):
                                sink.mux(packet)
                    # the next sample starts where the longer of its two streams ended
                    end = max(frames / 10, samples / 22050)
                    frames, samples = int(np.ceil(end * 10)), int(np.ceil(end * 22050))
        for stream in (video, audio):
            for packet in stream.encode(None):
                sink.mux(packet)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--remux", action="store_true", help="copy packets (fast; repeated slides)")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    partial = args.out.with_name(args.out.name + ".partial.mp4")
    (remux if args.remux else reencode)(partial, args.repeats)
    partial.replace(args.out)
    with av.open(str(args.out)) as made:
        print(f"{args.out}: {made.duration / 1e6 / 60:.1f} min", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
