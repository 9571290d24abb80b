"""Calibrated confidence (vmr.search.confidence): the library's score sums add up exactly over
parts, and a moment is weak below the threshold."""

from __future__ import annotations

import numpy as np

from vmr.search.confidence import ScoreStats, judge, weak_threshold
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
    judged = judge(moments, mean=0.2, std=0.05, threshold=0.45)
    assert [round(m.confidence, 6) for m in judged] == [0.7, 0.3, 0.0]
    assert [m.weak for m in judged] == [False, True, True]
    assert [m.score for m in judged] == [0.9, 0.5, 0.2]  # the ranking score is left as it was


def test_each_text_model_has_its_own_threshold_and_an_unmeasured_one_marks_nothing():
    assert weak_threshold("sentence-transformers/all-MiniLM-L6-v2") == weak_threshold("all-MiniLM-L6-v2")
    assert weak_threshold("multilingual-e5-small") < weak_threshold("all-MiniLM-L6-v2")  # e5's narrow band
    assert weak_threshold("some/other-model") is None
    moments = [Moment(1.0, 2.0, "", 1, 0.1, "", "")]
    assert judge(moments, mean=0.2, std=0.05, threshold=None)[0].weak is False
