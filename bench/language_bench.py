"""Indexing speed of a lecture in another language beside an English one, and a cold search in
each library: seconds per minute of video, per stage.

    python bench/language_bench.py [--english samples/heldout/inflation.mp4]
                                   [--other samples/heldout/caffe.mp4] [--rounds 2]

Each round indexes each video into a fresh library with the default settings (Whisper base,
the language detected, text model auto: all-MiniLM-L6-v2 for English, multilingual-e5-small for
any other language), the two interleaved so that the shared machine's load falls on both alike;
medians of the rounds are reported, and their ratio. Writes bench-results/language.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VMR = Path(sys.executable).with_name("vmr")
QUERIES = {"en": "why do prices rise", "it": "perché il caffè si diffuse a Venezia"}


def timed(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--english", type=Path, default=ROOT / "samples" / "heldout" / "inflation.mp4")
    parser.add_argument("--other", type=Path, default=ROOT / "samples" / "heldout" / "caffe.mp4")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    runs: dict[str, list[dict]] = {"english": [], "other": []}
    cold: dict[str, list[float]] = {"english": [], "other": []}
    for _ in range(args.rounds):
        for name, video in (("english", args.english), ("other", args.other)):
            home = Path(tempfile.mkdtemp(prefix="vmr-lang-"))
            try:
                wall, out = timed([str(VMR), "--home", str(home), "index", str(video), "--json"])
                found = json.loads(out)["indexed"][0] | {"wall": wall}
                info = json.loads(timed([str(VMR), "--home", str(home), "info", "--json"])[1])
                found["text_model"] = ", ".join(info["text_models"])
                runs[name].append(found)
                query = QUERIES.get(found.get("language") or "en", QUERIES["en"])
                cold[name].append(timed([str(VMR), "--home", str(home), "search", query, "--json"])[0])
            finally:
                shutil.rmtree(home, ignore_errors=True)

    def per_minute(name: str, stage: str) -> float:
        values = [(r["wall"] if stage == "wall" else r["seconds"].get(stage, 0.0)) / (r["duration"] / 60)
                  for r in runs[name]]
        return statistics.median(values)

    stages = list(dict.fromkeys(s for name in runs for r in runs[name] for s in r["seconds"]))
    first = {name: runs[name][0] for name in runs}
    head = {name: f"`{Path(first[name]['path']).name}` ({first[name].get('language')}, "
                  f"{first[name]['duration'] / 60:.1f} min, {first[name]['text_model']})" for name in runs}
    lines = [f"## Indexing per language (s per minute of video, median of {args.rounds} interleaved rounds)", "",
             f"| stage | {head['english']} | {head['other']} | ratio |", "|---|---:|---:|---:|"]
    for stage in [*stages, "wall"]:
        a, b = per_minute("english", stage), per_minute("other", stage)
        label = "**total (wall, incl. start-up)**" if stage == "wall" else stage
        lines.append(f"| {label} | {a:.2f} | {b:.2f} | {b / a:.2f}x |" if a > 0 else f"| {label} | {a:.2f} | {b:.2f} | - |")
    a, b = statistics.median(cold["english"]), statistics.median(cold["other"])
    lines.append(f"| cold `vmr search` (s, not per minute) | {a:.2f} | {b:.2f} | {b / a:.2f}x |")
    report = "\n".join(lines)
    print(report)
    results = ROOT / "bench-results"
    results.mkdir(exist_ok=True)
    (results / "language.md").write_text(report + "\n")


if __name__ == "__main__":
    main()
