"""Which moments are weak: only the closest thing the library holds, not a confident answer.

The one entry point is `mark(moments, evidence)`, called once per query by the search path
(`vmr.search.parts.search`) on its final moments, with `evidence`: what the whole library
says about the query (library-wide per-channel statistics, combined across shards by the
step protocol, so that N shards mark exactly what one process marks). Replace the rule
inside; keep the interface.

The rule today (measured on the samples, `bench/weak_bench.py`, README "Weak answers"): a
moment is weak when its fused score is below its text model's `WEAK_BELOW`. The fused score
is a weighted mean of the speech and slide cosines plus the lexical share, on the text
model's cosine scale, so the threshold belongs to the model: for a model without a measured
threshold no moment is marked.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from vmr.search.moments import Moment

# Per text model (the speech channel's), the fused score below which a moment is weak. For
# all-MiniLM-L6-v2 with the default fusion, the top moments of 30 off-topic queries
# (samples/offtopic.txt) scored 0.32-0.52 and those of the 54 sample queries 0.39-0.98.
WEAK_BELOW = {"all-MiniLM-L6-v2": 0.45, "sentence-transformers/all-MiniLM-L6-v2": 0.45}


@dataclass(frozen=True)
class Evidence:
    """What the library as a whole says about one query."""

    text_model: str | None  # the model of the reference (speech) channel; None without one
    best: dict[str, float]  # per dense channel: the library's best clip score
    mean: dict[str, float]  # per dense channel: the library's mean clip score
    phrase_found: bool  # the query's phrase (quoted, or said word for word) is said or shown somewhere


def mark(moments: list[Moment], evidence: Evidence) -> list[Moment]:
    """The moments, each with `weak` set."""
    threshold = WEAK_BELOW.get(evidence.text_model or "")
    if threshold is None:
        return moments
    return [replace(m, weak=m.score < threshold) for m in moments]
