"""Indexing time per minute of video (total and per stage) and cold `vmr search` wall time.

    .venv/bin/python bench/index_bench.py [--video samples/lecture.mp4] [--rounds 5]

The cold-search baseline is a fresh process that only loads sentence-transformers and encodes
the query: what a search would cost before scoring anything if it used torch for the query.
Rounds are interleaved and medians reported (the machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VMR = Path(sys.executable).with_name("vmr")
QUERY = "how does gradient descent update the weights"
BASELINE = (
    "from sentence_transformers import SentenceTransformer; from vmr.models.weights import resolve_text_encoder; "
    f"SentenceTransformer(resolve_text_encoder('all-MiniLM-L6-v2'), device='cpu').encode([{QUERY!r}])"
)


def timed(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=ROOT / "samples" / "lecture.mp4")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="vmr-bench-"))
    wall, out = timed([str(VMR), "--home", str(home), "index", str(args.video), "--json"])
    video = json.loads(out)["indexed"][0]
    minutes = video["duration"] / 60
    rows = [f"| {stage} | {secs:.2f} | {secs / minutes:.2f} |" for stage, secs in video["seconds"].items()]
    rows.append(f"| **total (wall, incl. start-up)** | {wall:.2f} | {wall / minutes:.2f} |")

    cold, baseline = [], []
    for _ in range(args.rounds):
        cold.append(timed([str(VMR), "--home", str(home), "search", QUERY, "--json"])[0])
        baseline.append(timed([sys.executable, "-c", BASELINE])[0])
    cold_s, base_s = statistics.median(cold), statistics.median(baseline)

    report = "\n".join([
        f"## Indexing `{args.video.name}` ({video['duration']:.1f} s, {video['clips']} clips, "
        f"{video['words']} words)",
        "", "| stage | seconds | seconds per minute of video |", "|---|---|---|", *rows, "",
        f"## Cold search (fresh process, median of {args.rounds})", "",
        "| what | seconds |", "|---|---|",
        f"| `vmr search` end to end (numpy query encoder, int8 kernels) | {cold_s:.2f} |",
        f"| baseline: load sentence-transformers + encode the query only | {base_s:.2f} |",
        f"| ratio baseline / vmr | {base_s / cold_s:.1f}x |",
    ])
    print(report)
    results = ROOT / "bench-results"
    results.mkdir(exist_ok=True)
    (results / "index.md").write_text(report + "\n")


if __name__ == "__main__":
    main()
