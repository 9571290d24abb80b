"""Calibrated confidence (vmr.search.confidence): the library's score sums add up exactly over
parts, and a moment is weak below the threshold."""

from __future__ import annotations

import numpy as np

from vmr.search.confidence import WEAK_CONFIDENCE, ScoreStats, judge
from vmr.search.moments import Moment


def test_the_sums_of_parts_are_the_sums_of_the_whole():
    scores = np.random.default_rng(3).normal(0.3, 0.1, size=(2, 1000)).astype(np.float32)
    whole = ScoreStats.of(scores)
    parts = ScoreStats.of(scores[:, :300]) + ScoreStats.of(scores[:, 300:])
    np.testing.assert_allclose(parts.mean, whole.mean, rtol=1e-12)
    np.testing.assert_allclose(parts.std, scores.std(axis=1), rtol=1e-5)
    assert parts.count == 1000


def test_confidence_is_the_gain_over_the_library_mean_and_weak_below_the_threshold():
    moments = [Moment(1.0, 2.0, "", 1, score, "", "") for score in (0.9, 0.5, 0.2)]
    judged = judge(moments, mean=0.2, std=0.05)
    assert [round(m.confidence, 6) for m in judged] == [0.7, 0.3, 0.0]
    assert [m.weak for m in judged] == [c < WEAK_CONFIDENCE for c in (0.7, 0.3, 0.0)]
    assert [m.score for m in judged] == [0.9, 0.5, 0.2]  # the ranking score is left as it was
