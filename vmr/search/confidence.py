"""Scores that mean the same across queries, and which answers are weak.

A moment's raw `score` ranks the moments of one query, but its level depends on the query: a
query of common words scores higher everywhere than one of rare words. Its `confidence` is its
score relative to the library's score distribution for that query: how far it lies above the
mean fused score of all the library's clips. The library's mean is summed over the parts of a
sharded search through the steps of `vmr.search.parts`, so it is exact.

Measured on the held-out set (README, "Weak answers"), this gain separates answerable from
off-topic queries (ROC AUC 0.97 on dev); the z-score, the gain divided by the distribution's
standard deviation, does not (AUC 0.13: an off-topic query's scores are uniformly low and
narrow, so its best stands many deviations out).

`judge` is called once per query on its final moments: it sets each moment's confidence and
marks a moment `weak` (only the closest thing found, not a confident answer) below its text
model's threshold (`weak_threshold`). A model's cosines have their own spread (e5's crowd into
a narrow band), so each model has its own, set on the held-out dev split against off-topic
questions; the test split only measured it. A model without one marks nothing weak.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from vmr.search.moments import Moment
from vmr.search.options import packaged_text_model

# Per text model (the speech channel's), the confidence below which a moment is weak: the lowest
# that marks at least 90 % of the dev split's off-topic questions weak (#15's target for them),
# so that as few answerable questions as possible are marked (bench/ranking_bench.py).
WEAK_CONFIDENCE = {"all-MiniLM-L6-v2": 0.425, "multilingual-e5-small": 0.32}


def weak_threshold(model: str | None) -> float | None:
    """The text model's threshold, under any name the model loaders accept for it; None where
    none was measured (nothing is marked weak)."""
    return WEAK_CONFIDENCE.get(packaged_text_model(model))


@dataclass(frozen=True)
class ScoreStats:
    """Sums of one part's fused clip scores per query (before a quoted phrase's penalty)."""

    total: np.ndarray  # float64 [Q]
    squares: np.ndarray  # float64 [Q]
    count: int

    @classmethod
    def of(cls, fused: np.ndarray) -> ScoreStats:
        return cls(fused.sum(axis=1, dtype=np.float64), np.square(fused, dtype=np.float64).sum(axis=1),
                   int(fused.shape[1]))

    def __add__(self, other: ScoreStats) -> ScoreStats:
        return ScoreStats(self.total + other.total, self.squares + other.squares, self.count + other.count)

    @property
    def mean(self) -> np.ndarray:
        return self.total / max(self.count, 1)

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(np.maximum(self.squares / max(self.count, 1) - self.mean ** 2, 0.0))


def calibrated(score: float, mean: float, std: float) -> float:
    """The score's gain over the library's mean clip for this query (`std` is not used: see the
    module's docstring)."""
    return score - mean


def judge(moments: list[Moment], mean: float, std: float, threshold: float | None) -> list[Moment]:
    """The moments of one query, each with its confidence and, below the threshold, weak."""
    out = []
    for m in moments:
        confidence = calibrated(m.score, mean, std)
        out.append(replace(m, confidence=confidence, weak=threshold is not None and bool(confidence < threshold)))
    return out
