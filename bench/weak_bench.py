"""How often the top moment is marked weak (vmr.search.confidence), on queries the library
answers and on queries it cannot.

    .venv/bin/python bench/weak_bench.py [--home DIR] [--samples samples]

Indexes the sample lectures (or reads --home, a library of them) and runs, at k=1:
- the 54 sample queries (samples/queries.jsonl), which the lectures answer;
- samples/offtopic.txt: 30 student questions on topics the lectures never touch (history,
  literature, economics, chemistry they do not cover...);
- samples/offtopic-heldout.txt: 20 more.
The threshold was set on the held-out set's dev split (bench/ranking_bench.py), not on these.
Target (#15): >= 90 % of off-topic top moments weak, <= 5 % of real ones. The table, with each
set's top scores, goes to bench-results/weak.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from vmr.library import Library
from vmr.search.confidence import weak_threshold

ROOT = Path(__file__).resolve().parent.parent
VMR = Path(sys.executable).with_name("vmr")


def lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def measure(library: Library, queries: list[str]) -> list[tuple[str, float, bool]]:
    found = library.search_many(queries, k=1)
    return [(q, m[0].confidence, m[0].weak) if m else (q, 0.0, True) for q, m in zip(queries, found)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, help="a library of the sample lectures (else they are indexed)")
    parser.add_argument("--samples", type=Path, default=ROOT / "samples")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results" / "weak.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vmr-weak-") as work:
        home = args.home
        if home is None:
            home = Path(work) / "home"
            subprocess.run([str(VMR), "--home", str(home), "index", str(args.samples), "--json"],
                           check=True, capture_output=True)
        library = Library(home)
        annotated = [json.loads(line) for line in lines(args.samples / "queries.jsonl")]
        sets = {"sample queries (answered)": measure(library, [a["query"] for a in annotated]),
                "off-topic": measure(library, lines(args.samples / "offtopic.txt")),
                "off-topic, held out": measure(library, lines(args.samples / "offtopic-heldout.txt"))}
        model = library.search_build().channels["speech"].model
        by_kind: dict[str, list[bool]] = {}
        for a, (_, _, weak) in zip(annotated, sets["sample queries (answered)"]):
            by_kind.setdefault(a["kind"], []).append(weak)

    table = [
        "# Weak answers (`bench/weak_bench.py`): the share of top moments marked weak",
        "",
        f"Rule: a moment is weak when its confidence (its score's gain over the library's mean clip for the "
        f"query) is below {weak_threshold(model)} ({model}).",
        "",
        "| queries | n | top moment weak | top confidence: min | median | max |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, found in sets.items():
        scores = [s for _, s, _ in found]
        weak = sum(w for _, _, w in found)
        table.append(f"| {name} | {len(found)} | {weak} ({100 * weak / len(found):.1f} %) | {min(scores):.3f} | "
                     f"{statistics.median(scores):.3f} | {max(scores):.3f} |")
    table += ["", "Sample queries by kind: " + ", ".join(
        f"{kind} {sum(w)}/{len(w)} weak" for kind, w in sorted(by_kind.items())), ""]
    for name, found in sets.items():
        table.append(f"Misjudged, {name}: " + ("; ".join(
            f"{q!r} {s:.3f}" for q, s, w in found if w != name.startswith("off")) or "none"))
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text("\n".join(table) + "\n")
    print("\n".join(table))


if __name__ == "__main__":
    main()
