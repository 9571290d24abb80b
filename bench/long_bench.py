#!/usr/bin/env python3
"""A long lecture indexed with every default channel, beside the speech-only peer pipeline, in
the same run: seconds per minute of video and peak memory.

    .venv/bin/python bench/long_bench.py [--repeats 4] [--rounds 1] [--video FILE]

The video is made once by bench/long_video.py from the four sample lectures (41:29 with 4
repeats, each pass of the slides labelled so that they are new pictures to read) and kept in
bench-results/. Then `vmr index` (fresh home, default channels) and bench/peer_pipeline.py
index it in fresh processes, alternating when there are several rounds. On an idle 2-core
laptop one round takes about 5 minutes for vmr and 6 for the peer; making the video takes
about 5 minutes once. Writes bench-results/long.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

from report import write as write_report  # bench/report.py (a bench runs with bench/ first on sys.path)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from index_bench import peer_index, vmr_index  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--video", type=Path, help="index this video instead of making one")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results" / "long.md")
    args = parser.parse_args()
    video = args.video or ROOT / "bench-results" / f"long-lecture-{args.repeats}x.mp4"
    if not video.exists():
        subprocess.run([sys.executable, str(ROOT / "bench" / "long_video.py"), str(video),
                        "--repeats", str(args.repeats)], check=True)
    runs = {"vmr": lambda: vmr_index(ROOT, video.resolve()), "peer": lambda: peer_index(video.resolve())}
    results: dict[str, list[dict]] = {name: [] for name in runs}
    for round_ in range(args.rounds):
        for name in (list(runs) if round_ % 2 == 0 else list(reversed(runs))):
            results[name].append(runs[name]())
            r = results[name][-1]
            print(f"round {round_ + 1}: {name:5} wall {r['wall']:7.1f} s  cpu {r['cpu']:7.1f} s  "
                  f"peak {r['rss_mb']:6.0f} MB", file=sys.stderr, flush=True)
    med = statistics.median
    minutes = results["vmr"][0]["duration"] / 60
    peer = results["peer"]
    lines = [f"## Long lecture: `{video.name}`, {minutes:.1f} min, {args.rounds} round(s)", "",
             f"{len(os.sched_getaffinity(0))} CPU cores; load average at the end "
             f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}.", "",
             "| pipeline | wall (s) | s per minute of video | CPU (s) | CPU s per minute | peak memory (MB) | wall / peer |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, rs in results.items():
        wall, cpu = med([r["wall"] for r in rs]), med([r["cpu"] for r in rs])
        lines.append(f"| {name} | {wall:.0f} | {wall / minutes:.2f} | {cpu:.0f} | {cpu / minutes:.2f} "
                     f"| {med([r['rss_mb'] for r in rs]):.0f} | {med([r['wall'] / p['wall'] for r, p in zip(rs, peer)]):.2f} |")
    stages: dict[str, list[float]] = {}
    for r in results["vmr"]:
        for stage, seconds in r["seconds"].items():
            stages.setdefault(stage, []).append(seconds)
    lines += ["", "vmr's stages (they overlap: frames, slides and encode run before and after speech):", "",
              "| stage | seconds | s per minute of video |", "|---|---:|---:|"]
    lines += [f"| {stage} | {med(v):.1f} | {med(v) / minutes:.2f} |" for stage, v in stages.items()]
    return write_report(lines, args.out)


if __name__ == "__main__":
    raise SystemExit(main())
