"""kernels.small, the numpy twins that search a small library without loading Numba, answer as
the Numba kernels do: the same windows with the same scores, the same fused and int8 scores,
and the same moments from a whole search (scores equal to 1e-6: float16 dot products are
summed in another order)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import kernels
import kernels.small as small
from synthetic import synthetic_library
from vmr.search import build as search_build
from vmr.search import parts
from vmr.search.lexical import parse_query
from vmr.search.options import SearchOptions
from vmr.catalogue.store import open_engine, session_factory
from vmr.catalogue.vectors import VectorFiles

from conftest import ROOT


def unit_rows(rng, n, d):
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def random_offsets(rng, n, v):
    cuts = np.sort(rng.integers(0, n + 1, max(v - 1, 0)))
    return np.concatenate([[0], cuts, [n]]).astype(np.int64)  # empty and one-clip videos too


def test_importing_the_twins_imports_no_numba():
    code = "import sys, kernels, kernels.small; print('numba' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip() == "False"


def test_small_libraries_get_the_twins():
    assert kernels.for_clips(0) is small and kernels.for_clips(kernels.SMALL_LIBRARY - 1) is small
    assert kernels.for_clips(kernels.SMALL_LIBRARY) is kernels
    assert small.pack_sign_bits is kernels.pack_sign_bits  # what has no twin is Numba's


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("mode", ["mean", "max"])
def test_top_windows_are_the_kernels_windows(seed, mode):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 1500))
    offsets = random_offsets(rng, n, int(rng.integers(1, 15)))
    scores = (np.cumsum(rng.standard_normal(n)) * 0.05 + rng.standard_normal(n) * 0.1).astype(np.float32)
    if seed % 3 == 0:
        scores = np.round(scores, 1)  # many ties: ranked by start, then stop
    lengths = np.array(sorted(rng.choice([1, 2, 3, 5, 8, 13, 40, 300, 1000], size=4, replace=False)))
    bonus = rng.random(4).astype(np.float32) * 0.05 if seed % 2 else None
    starts = np.arange(n) * 2.0
    times = (starts, starts + 2.0 - (rng.random(n) < 0.2)) if seed % 4 else None  # some short clips
    for k in (1, int(rng.integers(2, 300))):
        for overlap in (0.0, 0.5, 1.0):
            expected = kernels.top_windows(scores, offsets, lengths, k, mode=mode, max_overlap=overlap,
                                           length_bonus=bonus, times=times)
            found = small.top_windows(scores, offsets, lengths, k, mode=mode, max_overlap=overlap,
                                      length_bonus=bonus, times=times)
            for a, b in zip(found, expected):
                assert a.dtype == b.dtype and np.array_equal(a, b)


def test_top_windows_checks_its_input_as_the_kernel_does():
    for bad in (dict(k=0), dict(mode="median"), dict(scores=np.array([0.1, np.nan], np.float32))):
        arguments = dict(scores=np.array([0.1, 0.2], np.float32), k=2, mode="mean") | bad
        messages = []
        for implementation in (kernels.top_windows, small.top_windows):
            with pytest.raises(ValueError) as error:
                implementation(arguments["scores"], np.array([0, 2]), np.array([1]), arguments["k"],
                               mode=arguments["mode"])
            messages.append(str(error.value))
        assert messages[0] == messages[1]
    empty = small.top_windows(np.zeros(0, np.float32), np.array([0]), np.array([4]), 5)
    assert all(part.size == 0 for part in empty)


@pytest.mark.parametrize("seed", range(6))
def test_scores_and_fusion_are_the_kernels(seed):
    rng = np.random.default_rng(seed)
    n, d = int(rng.integers(1, 2000)), int(rng.choice([8, 384]))
    x = unit_rows(rng, n, d)
    x[0] = 0.0  # a zero row: scale 0
    codes, scales = kernels.quantize_int8(x)
    twin_codes, twin_scales = small.quantize_int8(x)
    assert np.array_equal(codes, twin_codes) and np.array_equal(scales, twin_scales)
    query = rng.standard_normal(d).astype(np.float32)
    # int8: exact integer dot products, then the same float32 scaling
    assert np.array_equal(small.cosine_scores(codes, query, scales), kernels.cosine_scores(codes, query, scales))
    rows = np.sort(rng.choice(n, min(n, 100), replace=False))
    assert np.array_equal(small.scores_at(rows, codes, scales, query), kernels.scores_at(rows, codes, scales, query))
    # float16 / float32 and batches: the same dot products, summed in another order
    for matrix in (x.astype(np.float16), x):
        np.testing.assert_allclose(small.cosine_scores(matrix, query), kernels.cosine_scores(matrix, query), atol=1e-6)
        np.testing.assert_allclose(small.scores_at(rows, matrix, None, query),
                                   kernels.scores_at(rows, matrix, None, query), atol=1e-6)
    queries = rng.standard_normal((5, d)).astype(np.float32)
    np.testing.assert_allclose(small.cosine_scores_batch(codes, queries, scales),
                               kernels.cosine_scores_batch(codes, queries, scales), atol=2e-6)
    channels = int(rng.integers(1, 4))
    scores = rng.standard_normal((channels, n)).astype(np.float32)
    present = rng.random((channels, n)) < 0.7
    weights = rng.random(channels).astype(np.float32)
    assert np.array_equal(small.fuse_channels(scores, present, weights),
                          kernels.fuse_channels(scores, present, weights))
    assert small.cosine_scores(codes, np.zeros(d, np.float32), scales).tolist() == [0.0] * n


def test_a_search_of_a_small_library_finds_the_numba_kernels_moments(tmp_path, monkeypatch):
    url = synthetic_library(tmp_path, videos=30, dim=32, seed=3)  # copies: tied scores
    engine = open_engine(url, tmp_path)
    with session_factory(engine)() as session:
        current = search_build.rebuild(session, tmp_path / "vectors", VectorFiles(tmp_path))
    assert current.library_clips < kernels.SMALL_LIBRARY
    rng = np.random.default_rng(7)
    queries = [parse_query(text) for text in ("gradient descent", "weights", "the loss of the model")]
    vectors = {c.model: rng.standard_normal((len(queries), c.vectors.shape[1])).astype(np.float32)
               for c in current.channels.values()}

    def moments() -> list:
        request = parts.request_for(current, queries, vectors, SearchOptions(k=10))
        return parts.search(parts.local_fan([parts.Part(current)]), current, request)

    twins = moments()
    monkeypatch.setattr(kernels, "SMALL_LIBRARY", 0)
    assert kernels.for_clips(current.library_clips) is kernels
    numba = moments()
    assert all(len(found) == 10 for found in twins)
    # the same moments; scores equal but for the exact refinement's float16 dot products,
    # which numpy sums in another order (a search shows four decimals)
    assert [[(m.video_id, m.start, m.end, m.text) for m in found] for found in twins] == \
        [[(m.video_id, m.start, m.end, m.text) for m in found] for found in numba]
    np.testing.assert_allclose([m.score for found in twins for m in found],
                               [m.score for found in numba for m in found], atol=1e-6)
