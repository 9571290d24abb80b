#!/usr/bin/env python3
"""Indexing time and memory against a speech-only pipeline built the way peers build it, in
the same run, and where vmr's time goes.

    .venv/bin/python bench/index_bench.py [--video samples/lecture.mp4] [--rounds 5] [--old REF]

Each round indexes the video in fresh processes, one after the other: `vmr index` into a new
home with the default channels (speech, slide text, lexical; the visual channel is off by
default), and `bench/peer_pipeline.py` (faster-whisper base int8, beam 5, VAD, segments into
SQLite FTS5). With `--old REF`, the tree at that git ref indexes too (the code before a change,
in the same run). Rounds alternate the order and medians are reported, with the median of the
per-round ratios: the machine may be shared, and ratios measured side by side are the better
guide. Peak memory is each process's maximum resident set. Writes bench-results/index.md.
Takes about (rounds x 3 x the time of one index run): 5 rounds of lecture.mp4 are 5-10
minutes on an idle 2-core laptop.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from report import write as write_report  # bench/report.py (a bench runs with bench/ first on sys.path)

ROOT = Path(__file__).resolve().parent.parent


def measured(command: list[str], env: dict | None = None, cwd: Path | None = None) -> dict:
    """Run a fresh process: its wall and CPU seconds, peak memory (MB) and standard output."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=cwd)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if process.returncode:
        raise SystemExit(f"{command} exited {process.returncode}:\n{stderr[-3000:]}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024,
            "stdout": stdout}


def export(ref: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="vmr-old-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def vmr_index(tree: Path, video: Path) -> dict:
    home = Path(tempfile.mkdtemp(prefix="vmr-bench-"))
    env = {**os.environ, "PYTHONPATH": str(tree)}
    result = measured([sys.executable, "-m", "vmr", "--home", str(home), "index", str(video), "--json"],
                      env=env, cwd=tree)
    report = json.loads(result["stdout"])["indexed"][0]
    return {**result, "seconds": report["seconds"], "duration": report["duration"],
            "clips": report["clips"], "words": report["words"]}


def peer_index(video: Path) -> dict:
    database = Path(tempfile.mkdtemp(prefix="peer-bench-")) / "index.db"
    result = measured([sys.executable, str(ROOT / "bench" / "peer_pipeline.py"), str(video), str(database)])
    return {**result, **json.loads(result["stdout"].strip().splitlines()[-1])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", type=Path, default=ROOT / "samples" / "lecture.mp4")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--old", help="git ref of an older tree to index with too")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results" / "index.md")
    args = parser.parse_args()
    video = args.video.resolve()

    runs = {"vmr": lambda: vmr_index(ROOT, video), "peer": lambda: peer_index(video)}
    if args.old:
        old = export(args.old)
        runs["vmr (old)"] = lambda: vmr_index(old, video)
    results: dict[str, list[dict]] = {name: [] for name in runs}
    for round_ in range(args.rounds):
        names = list(runs) if round_ % 2 == 0 else list(reversed(runs))
        for name in names:
            results[name].append(runs[name]())
            r = results[name][-1]
            print(f"round {round_ + 1}: {name:10} wall {r['wall']:6.1f} s  cpu {r['cpu']:6.1f} s  "
                  f"peak {r['rss_mb']:6.0f} MB", file=sys.stderr, flush=True)

    med = statistics.median
    minutes = results["vmr"][0]["duration"] / 60
    lines = [f"## Indexing `{video.name}` ({results['vmr'][0]['duration']:.1f} s of video) against the peer "
             f"pipeline, {args.rounds} alternating rounds", "",
             f"{len(os.sched_getaffinity(0))} CPU cores; load average at the end "
             f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}. Medians; ratios are medians of the "
             "per-round ratios.", "",
             "| pipeline | wall (s) | s per minute of video | CPU (s) | peak memory (MB) | wall / peer | CPU / peer |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    peer = results["peer"]
    for name, rs in results.items():
        wall_ratio = med([r["wall"] / p["wall"] for r, p in zip(rs, peer)])
        cpu_ratio = med([r["cpu"] / p["cpu"] for r, p in zip(rs, peer)])
        lines.append(f"| {name} | {med([r['wall'] for r in rs]):.1f} | {med([r['wall'] for r in rs]) / minutes:.2f} "
                     f"| {med([r['cpu'] for r in rs]):.1f} | {med([r['rss_mb'] for r in rs]):.0f} "
                     f"| {wall_ratio:.2f} | {cpu_ratio:.2f} |")
    for name in [n for n in results if n != "peer"]:
        stages: dict[str, list[float]] = {}
        for r in results[name]:
            for stage, seconds in r["seconds"].items():
                stages.setdefault(stage, []).append(seconds)
        lines += ["", f"### {name}: seconds per stage (medians; the stages overlap: frames, slides and encode run before and after speech)", "",
                  "| stage | seconds | s per minute of video |", "|---|---:|---:|"]
        lines += [f"| {stage} | {med(v):.2f} | {med(v) / minutes:.2f} |" for stage, v in stages.items()]
    return write_report(lines, args.out)


if __name__ == "__main__":
    raise SystemExit(main())
