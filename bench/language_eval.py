"""The held-out set by language: a lecture's queries in its own language, the same kinds of
queries in English on English lectures, and English queries on a lecture in another language
(cross-lingual), from `vmr eval --json` of a library that holds them all.

    vmr --home DIR index samples/heldout/inflation.mp4 samples/heldout/sleep.mp4 samples/heldout/caffe.mp4
    python bench/language_eval.py --home DIR [--annotations samples/heldout/test.jsonl] [--label e5]

Prints R1@0.5 and R5@0.5 per group and kind, and "English, the other group's kinds": English R1@0.5
per kind weighted by the kind mix of the other language's queries (the comparison the target
asks for: the same kinds of question, in each language). Appends to bench-results/language-eval.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VMR = Path(sys.executable).with_name("vmr")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--annotations", type=Path, default=ROOT / "samples" / "heldout" / "test.jsonl")
    parser.add_argument("--label", default="")
    args = parser.parse_args()

    out = subprocess.run([str(VMR), "--home", str(args.home), "eval", str(args.annotations), "--json"],
                         capture_output=True, text=True, check=True).stdout
    report = json.loads(out)
    groups: dict[str, list[dict]] = defaultdict(list)
    for q in report["queries"]:
        asked, spoken = q.get("language"), q.get("video_language")
        key = f"{asked}→{spoken}" if asked and spoken and asked != spoken else asked
        groups[key].append(q)

    def hit(q: dict, rank: int) -> bool:
        return any(m["iou"] >= 0.5 for m in q["moments"][:rank])

    def rate(queries: list[dict], rank: int) -> float:
        return sum(hit(q, rank) for q in queries) / len(queries) if queries else float("nan")

    kinds = sorted({q["kind"] for q in report["queries"]})
    lines = [f"### {args.label or args.home} on `{args.annotations.name}`", "",
             "| queries | n | R1@0.5 | R5@0.5 | " + " | ".join(f"R1@0.5 {k} (n)" for k in kinds) + " |",
             "|---|---:|---:|---:|" + "---:|" * len(kinds)]
    for key in sorted(groups):
        queries = groups[key]
        per_kind = []
        for kind in kinds:
            mine = [q for q in queries if q["kind"] == kind]
            per_kind.append(f"{rate(mine, 1):.2f} ({len(mine)})" if mine else "-")
        lines.append(f"| {key} | {len(queries)} | {rate(queries, 1):.3f} | {rate(queries, 5):.3f} | "
                     + " | ".join(per_kind) + " |")
    english = groups.get("en", [])
    for key in sorted(groups):
        if key == "en" or "→" in key or not english:
            continue
        mix = Counter(q["kind"] for q in groups[key])
        weighted = sum(n * rate([q for q in english if q["kind"] == kind], 1) for kind, n in mix.items()) / sum(mix.values())
        lines.append("")
        lines.append(f"English R1@0.5 with the kind mix of the {key} queries: {weighted:.3f} "
                     f"(against {rate(groups[key], 1):.3f} in {key}: a gap of {weighted - rate(groups[key], 1):+.3f})")
    text = "\n".join(lines) + "\n"
    print(text)
    results = ROOT / "bench-results"
    results.mkdir(exist_ok=True)
    with open(results / "language-eval.md", "a") as handle:
        handle.write(text + "\n")


if __name__ == "__main__":
    main()
