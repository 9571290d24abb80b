"""Scores that mean the same across queries, and which answers are weak.

A moment's raw `score` ranks the moments of one query, but its level depends on the query (a
long question scores lower everywhere than a keyword). Its `confidence` puts it on the scale
of the library's answer to that query: how many standard deviations the moment's score lies
above the mean fused score of all the library's clips, for this query. A query the library
answers has a few moments far above everything else; an unanswerable one has only the best of
an undistinguished crowd. The library's mean and deviation are summed over the parts of a
sharded search through the steps of `vmr.search.parts`, so they are exact.

`judge` is called once per query on its final moments: it sets each moment's confidence and
marks a moment `weak` (only the closest thing found, not a confident answer) below
WEAK_CONFIDENCE. The threshold was set on the held-out set's dev queries against off-topic
questions (README, "Calibrated scores"); the test split only measured it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from vmr.search.moments import Moment

# Below this many standard deviations above the library's mean clip, a moment is weak.
WEAK_CONFIDENCE = 3.0


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
    """Standard deviations above the library's mean clip for this query."""
    return (score - mean) / std if std > 1e-9 else 0.0


def judge(moments: list[Moment], mean: float, std: float, threshold: float = WEAK_CONFIDENCE) -> list[Moment]:
    """The moments of one query, each with its confidence and, below the threshold, weak."""
    out = []
    for m in moments:
        confidence = calibrated(m.score, mean, std)
        out.append(replace(m, confidence=confidence, weak=bool(confidence < threshold)))
    return out
