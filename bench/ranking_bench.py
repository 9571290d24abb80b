"""Ranking ablations per query kind, and indexing time with and without slide OCR.

    .venv/bin/python bench/ranking_bench.py [--samples samples] [--rounds 2] [--sweep]

1. Indexes the sample lectures with `vmr index --no-ocr` and with OCR, in fresh homes, rounds
   interleaved (the machine is shared): wall seconds per minute of video, and their ratio.
2. On the library indexed with OCR, evaluates the ranking as features are added: speech only;
   + slide text; + lexical; + boundary snapping (the default), per query kind.
3. --sweep: R@1 at IoU 0.5 over a grid of the fusion weights and the length bonus around the
   defaults, to show whether they sit on a plateau rather than on a lucky point.
The tables go to bench-results/ranking.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from vmr.evaluate import COLUMNS, evaluate, load_annotations
from vmr.library import Library
from vmr.search.options import SearchOptions

ROOT = Path(__file__).resolve().parent.parent
VMR = Path(sys.executable).with_name("vmr")

DEFAULT = SearchOptions()
ABLATIONS = {
    "speech only": replace(DEFAULT, channel_weights={"speech": 1.0}, lexical_weight=0.0, snap=False),
    "+ slide text": replace(DEFAULT, lexical_weight=0.0, snap=False),
    "+ lexical": replace(DEFAULT, snap=False),
    "+ boundary snapping (default)": DEFAULT,
}


def index(samples: Path, home: Path, ocr: bool) -> tuple[float, float]:
    """(wall seconds of one `vmr index` run, minutes of video indexed)."""
    command = [str(VMR), "--home", str(home), "index", str(samples), "--json"] + ([] if ocr else ["--no-ocr"])
    started = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - started
    return wall, sum(v["duration"] for v in json.loads(out)["indexed"]) / 60


def timing(samples: Path, rounds: int, workdir: Path) -> tuple[list[str], Path]:
    walls: dict[bool, list[float]] = {False: [], True: []}
    minutes = 0.0
    home = workdir
    for r in range(rounds):
        for ocr in (False, True):
            home = workdir / f"{'ocr' if ocr else 'plain'}-{r}"
            wall, minutes = index(samples, home, ocr)
            walls[ocr].append(wall)
    plain, ocr = statistics.median(walls[False]), statistics.median(walls[True])
    ratios = [b / a for a, b in zip(walls[False], walls[True])]
    lines = [
        f"## Indexing time, {minutes:.1f} min of sample video (median of {rounds}, interleaved)", "",
        "| pipeline | wall s | s per minute of video |", "|---|---:|---:|",
        f"| speech only (`--no-ocr`) | {plain:.1f} | {plain / minutes:.2f} |",
        f"| with slide OCR (default) | {ocr:.1f} | {ocr / minutes:.2f} |",
        f"| **ratio** | **{ocr / plain:.2f}x** (per round: {', '.join(f'{x:.2f}' for x in ratios)}) | |",
    ]
    return lines, home  # the last home was indexed with OCR


def table(library: Library, annotations, variants: dict[str, SearchOptions]) -> list[str]:
    reports = {name: evaluate(replace_options(library, options), annotations) for name, options in variants.items()}
    first = next(iter(reports.values()))
    kinds = ["all", *first.by_kind]
    lines = []
    for kind in kinds:
        n = first.overall.n if kind == "all" else first.by_kind[kind].n
        lines += [f"### {kind} ({n} queries)", "", "| ranking | " + " | ".join(name for name, _ in COLUMNS) + " |",
                  "|---|" + "---:|" * len(COLUMNS)]
        for name, report in reports.items():
            summary = report.overall if kind == "all" else report.by_kind[kind]
            lines.append(f"| {name} | " + " | ".join(f"{getattr(summary, attr):.3f}" for _, attr in COLUMNS) + " |")
        lines.append("")
    return lines


def replace_options(library: Library, options: SearchOptions) -> Library:
    return Library(library.home, library.db_url, search_options=options)


def sweep(library: Library, annotations) -> list[str]:
    slides, lexical, bonus = (0.5, 1.0, 1.5), (0.125, 0.25, 0.5), (0.05, 0.065, 0.08)
    lines = ["## R@1 (IoU >= 0.5), all / paraphrase, around the defaults", "",
             "| slides weight | lexical weight | " + " | ".join(f"length bonus {b:g}" for b in bonus) + " |",
             "|---:|---:|" + "---|" * len(bonus)]
    for s, x in itertools.product(slides, lexical):
        cells = []
        for b in bonus:
            options = replace(DEFAULT, channel_weights={"speech": 1.0, "slides": s}, lexical_weight=x, length_bonus=b)
            report = evaluate(replace_options(library, options), annotations)
            paraphrase = report.by_kind.get("paraphrase")
            cells.append(f"{report.overall.r1_05:.2f} / {paraphrase.r1_05 if paraphrase else float('nan'):.2f}")
        lines.append(f"| {s:g} | {x:g} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=ROOT / "samples")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--home", type=Path, help="evaluate this library (indexed with OCR) and skip the timing")
    parser.add_argument("--sweep", action="store_true")
    args = parser.parse_args()

    annotations = load_annotations(args.samples / "queries.jsonl")
    report: list[str] = []
    home = args.home
    if home is None:
        lines, home = timing(args.samples, args.rounds, Path(tempfile.mkdtemp(prefix="vmr-rank-")))
        report += lines + [""]
    library = Library(home)
    report += ["## Ranking ablations (R@k at IoU 0.5 / 0.7; mAP over IoU 0.5:0.05:0.95)", ""]
    report += table(library, annotations, ABLATIONS)
    if args.sweep:
        report += sweep(library, annotations)
    text = "\n".join(report)
    print(text)
    results = ROOT / "bench-results"
    results.mkdir(exist_ok=True)
    (results / "ranking.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
