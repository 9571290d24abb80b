"""Kernels vs plain numpy references (no timing assertions)."""
import numpy as np
import pytest

import kernels

SEEDS = [0, 1, 2]


def unit_rows(rng, n, d):
    x = rng.standard_normal((n, d)).astype(np.float32)
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return x


def clustered(rng, n, d, n_clusters=20, spread=0.35):
    centres = unit_rows(rng, n_clusters, d)
    lab = rng.integers(0, n_clusters, n)
    x = centres[lab] + spread * rng.standard_normal((n, d)).astype(np.float32) / np.sqrt(d)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


# ------------------------------------------------------------------ version / quantisation


def test_version_below_hf_kernels():
    major, minor = (int(p) for p in kernels.__version__.split(".")[:2])
    assert (major, minor) < (0, 18)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n,d", [(1, 1), (7, 3), (257, 384), (100, 65)])
def test_quantize_int8_matches_reference(seed, n, d):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    codes, scales = kernels.quantize_int8(x)
    ref_scale = np.abs(x).max(axis=1) / np.float32(127)
    np.testing.assert_allclose(scales, ref_scale, rtol=1e-6)
    ref = np.clip(np.floor(x / ref_scale[:, None] + 0.5), -127, 127)
    assert codes.dtype == np.int8 and scales.dtype == np.float32
    # rounding boundaries may differ by one step in rare cases
    assert np.abs(codes.astype(np.int32) - ref).max() <= 1
    assert np.mean(codes == ref) > 0.999
    assert np.all(np.abs(codes * scales[:, None] - x) <= scales[:, None] * 0.5 + 1e-6)


def test_quantize_zero_row_empty_and_nan():
    codes, scales = kernels.quantize_int8(np.zeros((2, 4), np.float32))
    assert not codes.any() and not scales.any()
    codes, scales = kernels.quantize_int8(np.zeros((0, 4), np.float32))
    assert codes.shape == (0, 4) and scales.shape == (0,)
    x = np.ones((3, 4), np.float32)
    x[1, 2] = np.nan
    with pytest.raises(ValueError, match="row 1"):
        kernels.quantize_int8(x)


# ------------------------------------------------------------------ cosine scores


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n,d", [(1, 8), (33, 384), (1000, 512), (17, 70)])
def test_cosine_scores_formats(seed, n, d):
    rng = np.random.default_rng(seed)
    x = unit_rows(rng, n, d)
    q = rng.standard_normal(d).astype(np.float32) * 3.0
    ref = x.astype(np.float64) @ (q / np.linalg.norm(q))
    got = kernels.cosine_scores(x, q)
    assert got.dtype == np.float32 and got.shape == (n,)
    np.testing.assert_allclose(got, ref, atol=2e-6)
    x16 = x.astype(np.float16)
    np.testing.assert_allclose(kernels.cosine_scores(x16, q),
                               x16.astype(np.float64) @ (q / np.linalg.norm(q)), atol=2e-5)
    np.testing.assert_allclose(kernels.cosine_scores(x16, q), ref, atol=3e-3)
    codes, scales = kernels.quantize_int8(x)
    deq = codes.astype(np.float64) * scales[:, None]
    got8 = kernels.cosine_scores(codes, q, scales)
    np.testing.assert_allclose(got8, deq @ (q / np.linalg.norm(q)), atol=2e-4)
    np.testing.assert_allclose(got8, ref, atol=0.02)


def test_cosine_scores_float16_specials_are_exact():
    # subnormal and large halves convert exactly
    x = np.array([[6e-8, 65504.0, -0.5, 1e-5]], np.float16)
    q = np.array([1, 0, 0, 0], np.float32)
    assert kernels.cosine_scores(x, q)[0] == np.float32(x[0, 0])


def test_cosine_scores_edge_cases():
    rng = np.random.default_rng(3)
    x = unit_rows(rng, 10, 16)
    assert np.array_equal(kernels.cosine_scores(x, np.zeros(16)), np.zeros(10, np.float32))
    assert kernels.cosine_scores(np.zeros((0, 16), np.float32), np.ones(16)).shape == (0,)
    for bad in (np.nan, np.inf):
        q = np.ones(16, np.float32)
        q[3] = bad
        with pytest.raises(ValueError, match="query vector contains NaN or infinity"):
            kernels.cosine_scores(x, q)
    with pytest.raises(ValueError):
        kernels.cosine_scores(x, np.ones(15))
    with pytest.raises(ValueError):
        kernels.cosine_scores(x.astype(np.float64), np.ones(16))
    codes, scales = kernels.quantize_int8(x)
    with pytest.raises(ValueError, match="scales"):
        kernels.cosine_scores(codes, np.ones(16))
    # zero rows score 0
    z = x.copy()
    z[4] = 0
    assert kernels.cosine_scores(z, x[0])[4] == 0
    c2, s2 = kernels.quantize_int8(z)
    assert kernels.cosine_scores(c2, x[0], s2)[4] == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_nan_rows_rejected(dtype):
    x = np.ones((50, 8), np.float32) / np.sqrt(8)
    x[37, 5] = np.nan
    with pytest.raises(ValueError, match="row 37"):
        kernels.cosine_scores(x.astype(dtype), np.ones(8))
    with pytest.raises(ValueError, match="NaN"):
        kernels.cosine_scores_batch(x.astype(dtype), np.ones((2, 8)))


def test_nan_scale_rejected():
    codes = np.ones((5, 8), np.int8)
    scales = np.ones(5, np.float32)
    scales[2] = np.nan
    with pytest.raises(ValueError, match="row 2"):
        kernels.cosine_scores(codes, np.ones(8), scales)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n,d,nq", [(1, 8, 1), (131, 384, 32), (64, 100, 5), (7, 512, 3)])
def test_cosine_scores_batch(seed, n, d, nq):
    rng = np.random.default_rng(seed)
    x = unit_rows(rng, n, d)
    qs = rng.standard_normal((nq, d)).astype(np.float32)
    qs[0] = 0  # a zero query in the batch
    codes, scales = kernels.quantize_int8(x)
    # int8 batch uses the float query (single-query int8 rounds it to int16): ~1e-5 apart
    for m, s, tol in [(x, None, 2e-6), (x.astype(np.float16), None, 2e-6), (codes, scales, 2e-5)]:
        got = kernels.cosine_scores_batch(m, qs, s)
        assert got.shape == (nq, n) and got.dtype == np.float32
        ref = np.stack([kernels.cosine_scores(m, q, s) for q in qs])
        np.testing.assert_allclose(got, ref, atol=tol)
    deq = codes.astype(np.float64) * scales[:, None]
    qn = qs / np.maximum(np.linalg.norm(qs, axis=1, keepdims=True), 1e-30)
    np.testing.assert_allclose(kernels.cosine_scores_batch(codes, qs, scales), qn @ deq.T,
                               atol=2e-6)
    assert not kernels.cosine_scores_batch(x, qs)[0].any()
    assert kernels.cosine_scores_batch(x, np.zeros((0, d))).shape == (0, n)


# ------------------------------------------------------------------ fusion


@pytest.mark.parametrize("seed", SEEDS)
def test_fuse_channels(seed):
    rng = np.random.default_rng(seed)
    c, n = 3, 500
    s = rng.standard_normal((c, n)).astype(np.float32)
    p = rng.random((c, n)) < 0.6
    w = np.array([0.5, 1.0, 2.0], np.float32)
    num = (w[:, None] * s * p).sum(0)
    den = (w[:, None] * p).sum(0)
    ref = np.where(den > 0, num / np.where(den > 0, den, 1), 0)
    np.testing.assert_allclose(kernels.fuse_channels(s, p, w), ref, atol=1e-6)
    # a clip with only one channel gets exactly that channel's score
    p1 = np.zeros((c, n), bool)
    p1[1] = True
    np.testing.assert_allclose(kernels.fuse_channels(s, p1, w), s[1], rtol=1e-6)
    with pytest.raises(ValueError):
        kernels.fuse_channels(s, p, w[:2])


# ------------------------------------------------------------------ windows


def ref_windows(scores, offsets, lengths, k, mode="mean", max_overlap=0.5, bonus=None):
    """Brute force: enumerate all windows, sort, greedy suppression."""
    if bonus is None:
        bonus = np.zeros(len(lengths))
    cand = {}
    for v in range(len(offsets) - 1):
        vs, ve = int(offsets[v]), int(offsets[v + 1])
        L = ve - vs
        if L == 0:
            continue
        for w, b in zip(lengths, bonus):
            w = int(w)
            spans = [(vs, ve)] if w >= L else [(s, s + w) for s in range(vs, ve - w + 1)]
            for a, e in spans:
                seg = scores[a:e].astype(np.float64)
                val = (seg.mean() if mode == "mean" else seg.max()) + b
                key = (a, e)
                cand[key] = max(cand.get(key, -np.inf), val)
    items = sorted(cand.items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][1]))
    kept = []
    for (a, e), val in items:
        if len(kept) == k:
            break
        vid = np.searchsorted(offsets, a, side="right") - 1
        ok = True
        for (a2, e2, v2, _) in kept:
            if v2 != vid:
                continue
            inter = min(e, e2) - max(a, a2)
            if inter > 0 and inter / min(e - a, e2 - a2) > max_overlap:
                ok = False
                break
        if ok:
            kept.append((a, e, vid, val))
    return ([a for a, _, _, _ in kept], [e for _, e, _, _ in kept], [v for *_, v in kept])


def smooth_scores(rng, n):
    s = np.cumsum(rng.standard_normal(n)) * 0.05 + rng.standard_normal(n) * 0.1
    return (s + rng.random(n) * 1e-3).astype(np.float32)  # tie-free


def random_offsets(rng, n, v):
    cuts = np.sort(rng.integers(0, n + 1, max(v - 1, 0)))
    return np.concatenate([[0], cuts, [n]]).astype(np.int64)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("mode", ["mean", "max"])
def test_top_windows_matches_brute_force(seed, mode):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 600))
    v = int(rng.integers(1, 12))
    offsets = random_offsets(rng, n, v)  # includes empty and one-clip videos sometimes
    scores = smooth_scores(rng, n)
    lengths = np.array(sorted(rng.choice([1, 2, 3, 5, 8, 13, 40, 1000], size=3, replace=False)))
    bonus = rng.random(3).astype(np.float32) * 0.05 if seed % 2 else None
    k = int(rng.integers(1, 40))
    ov = float(rng.choice([0.0, 0.25, 0.5, 0.9, 1.0]))
    # tiny pools force the exact fallback path
    for pool in (None, 1, 3):
        a, e, s = kernels.top_windows(scores, offsets, lengths, k, mode=mode, max_overlap=ov,
                                      length_bonus=bonus, pool=pool)
        ra, re_, rs = ref_windows(scores, offsets, lengths, k, mode, ov, bonus)
        if mode == "max":
            # max has ties between windows sharing their best clip: compare with tie rule
            pass
        assert list(a) == ra and list(e) == re_, (pool, list(zip(a, e)), list(zip(ra, re_)))
        np.testing.assert_allclose(s, rs, rtol=1e-5, atol=1e-6)
        assert a.dtype == np.int64 and e.dtype == np.int64 and s.dtype == np.float64


def test_top_windows_edge_cases():
    # one-clip videos, windows longer than any video, k > number of windows
    scores = np.array([0.9, 0.1, 0.5, 0.3], np.float32)
    off = np.array([0, 1, 2, 3, 4])
    a, e, s = kernels.top_windows(scores, off, np.array([3, 10]), k=10)
    assert list(a) == [0, 2, 3, 1] and list(e) == [1, 3, 4, 2]
    np.testing.assert_allclose(s, [0.9, 0.5, 0.3, 0.1])
    # empty index, V = 0
    a, e, s = kernels.top_windows(np.zeros(0, np.float32), np.array([0]), np.array([4]), 5)
    assert a.size == e.size == s.size == 0
    # windows never cross a video boundary
    scores = np.array([0, 0, 1, 1, 1, 1, 0, 0], np.float32)
    a, e, _ = kernels.top_windows(scores, np.array([0, 4, 8]), np.array([4]), 2)
    assert sorted(zip(a, e)) == [(0, 4), (4, 8)]
    with pytest.raises(ValueError):
        kernels.top_windows(scores, np.array([0, 4, 8]), np.array([4]), 0)
    with pytest.raises(ValueError):
        kernels.top_windows(scores, np.array([0, 4, 7]), np.array([4]), 2)
    with pytest.raises(ValueError):
        kernels.top_windows(scores, np.array([0, 8]), np.array([0]), 2)
    bad = scores.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        kernels.top_windows(bad, np.array([0, 8]), np.array([2]), 2)


def test_top_windows_large_matches_brute_force_prefix():
    # bigger N with many windows: exercise the parallel chunks and pool growth
    rng = np.random.default_rng(11)
    n = 20000
    offsets = random_offsets(rng, n, 30)
    scores = smooth_scores(rng, n)
    lengths = np.array([4, 16, 64])
    a, e, s = kernels.top_windows(scores, offsets, lengths, 25, pool=8)
    ra, re_, _ = ref_windows(scores, offsets, lengths, 25)
    assert list(a) == ra and list(e) == re_


# ------------------------------------------------------------------ binary


def np_pack(x):
    n, d = x.shape
    nw = (d + 63) // 64
    bits = np.zeros((n, nw * 64), bool)
    bits[:, :d] = x > 0
    w = np.zeros((n, nw), np.uint64)
    for j in range(64):
        w |= bits[:, j::64].astype(np.uint64) << np.uint64(j)
    return w


@pytest.mark.parametrize("d", [1, 64, 100, 384])
def test_pack_sign_bits(d):
    rng = np.random.default_rng(d)
    x = rng.standard_normal((50, d)).astype(np.float32)
    assert np.array_equal(kernels.pack_sign_bits(x, rotate=False), np_pack(x))
    rot = kernels.rotation(d)
    np.testing.assert_allclose(rot @ rot.T, np.eye(d), atol=1e-5)
    assert np.array_equal(kernels.pack_sign_bits(x), np_pack(x @ rot))
    assert np.array_equal(kernels.pack_sign_bits(x[3]), kernels.pack_sign_bits(x)[3])


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n,m", [(1, 1), (100, 7), (5000, 300), (10, 50)])
def test_hamming_topk(seed, n, m):
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 2**63, (n, 3), dtype=np.uint64)
    q = codes[0] ^ np.uint64(0b1011)
    dist = np.array([sum(bin(int(c ^ qq)).count("1") for c, qq in zip(row, q)) for row in codes])
    ref = np.lexsort((np.arange(n), dist))[:m]
    got = kernels.hamming_topk(codes, q, m)
    assert got.dtype == np.int64 and np.array_equal(got, ref)
    with pytest.raises(ValueError):
        kernels.hamming_topk(codes, q, 0)
    assert kernels.hamming_topk(codes[:0], q, 3).shape == (0,)


def test_prefiltered_scores_exact_for_candidates_and_recall():
    rng = np.random.default_rng(5)
    n, d = 20000, 128
    x = clustered(rng, n, d)
    codes8, scales = kernels.quantize_int8(x)
    bits = kernels.pack_sign_bits(x)
    recalls = []
    for t in range(5):
        q = x[rng.integers(n)] + 0.3 * rng.standard_normal(d).astype(np.float32) / np.sqrt(d)
        exact = kernels.cosine_scores(codes8, q, scales)
        got = kernels.prefiltered_scores(bits, kernels.pack_sign_bits(q), codes8, scales, q, 1000)
        assert np.isfinite(got).all()
        cand = kernels.hamming_topk(bits, kernels.pack_sign_bits(q), 1000)
        np.testing.assert_array_equal(got[cand], exact[cand])
        # non-candidates never outrank the lowest exact candidate
        assert np.sort(got)[::-1][:1000].min() >= exact[cand].min() - 1e-7
        top = np.argsort(-exact)[:100]
        recalls.append(np.isin(np.argsort(-got)[:100], top).mean())
    assert np.mean(recalls) >= 0.9, recalls
    # float32 and float16 matrices rerank too
    q = x[0]
    for m in (x, x.astype(np.float16)):
        got = kernels.prefiltered_scores(bits, kernels.pack_sign_bits(q), m, None, q, 500)
        cand = kernels.hamming_topk(bits, kernels.pack_sign_bits(q), 500)
        np.testing.assert_allclose(got[cand], kernels.cosine_scores(m, q)[cand], atol=1e-6)


def test_prefiltered_scores_edge_cases():
    rng = np.random.default_rng(9)
    x = unit_rows(rng, 300, 64)
    codes8, scales = kernels.quantize_int8(x)
    bits = kernels.pack_sign_bits(x)
    qb = kernels.pack_sign_bits(x[0])
    # more candidates than clips: every score is exact
    got = kernels.prefiltered_scores(bits, qb, codes8, scales, x[0], 10_000)
    np.testing.assert_array_equal(got, kernels.cosine_scores(codes8, x[0], scales))
    # fill="min": every non-candidate gets the lowest exact candidate score
    got = kernels.prefiltered_scores(bits, qb, codes8, scales, x[0], 20, fill="min")
    exact = kernels.cosine_scores(codes8, x[0], scales)
    is_exact = got == exact
    assert 20 <= is_exact.sum() < 300
    assert np.all(is_exact[kernels.hamming_topk(bits, qb, 20)])
    assert np.unique(got[~is_exact]).tolist() == [exact[is_exact].min()]
    assert not kernels.prefiltered_scores(bits, qb, codes8, scales, np.zeros(64), 20).any()
    with pytest.raises(ValueError):
        kernels.prefiltered_scores(bits, qb, codes8, scales, x[0], 0)
    with pytest.raises(ValueError, match="query vector contains NaN"):
        kernels.prefiltered_scores(bits, qb, codes8, scales, np.full(64, np.nan), 5)
    bad = x.copy()
    bad[0, 3] = np.inf  # row 0 is surely a candidate of its own query
    with pytest.raises(ValueError, match="row 0"):
        kernels.prefiltered_scores(bits, qb, bad, None, x[0], 5)
    empty = kernels.prefiltered_scores(bits[:0], qb, codes8[:0], scales[:0], x[0], 5)
    assert empty.shape == (0,)


@pytest.mark.parametrize("nw", [1, 5, 6, 7, 8])
def test_hamming_topk_word_counts(nw):
    # 6 and 8 words (D = 384, 512) have unrolled kernels; all 64 bits of each word in use
    rng = np.random.default_rng(nw)
    n = 3001
    codes = rng.integers(0, 256, (n, nw * 8), dtype=np.uint8).view(np.uint64)
    codes[1::7] = codes[0::7][: len(codes[1::7])]  # runs of equal distances
    q = codes[5] ^ np.uint64(2**63 + 5)
    dist = np.array([sum(bin(int(c ^ qq)).count("1") for c, qq in zip(row, q)) for row in codes])
    for m in (1, 40, 777, n):
        ref = np.lexsort((np.arange(n), dist))[:m]
        assert np.array_equal(kernels.hamming_topk(codes, q, m), ref)


@pytest.mark.parametrize("d", [384, 512])
def test_prefiltered_scores_candidates_all_within_threshold(d):
    # every clip at Hamming distance <= the threshold is reranked exactly (ties included),
    # also when the per-thread distance buffer is reused across different N
    rng = np.random.default_rng(d)
    x = rng.standard_normal((6000, d)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    codes8, scales = kernels.quantize_int8(x)
    bits = kernels.pack_sign_bits(x)
    for n in (6000, 2500, 6000):
        q = x[n // 3] + 0.1 * rng.standard_normal(d).astype(np.float32)
        qb = kernels.pack_sign_bits(q)
        got = kernels.prefiltered_scores(bits[:n], qb, codes8[:n], scales[:n], q, 300)
        exact = kernels.cosine_scores(codes8[:n], q, scales[:n])
        dist = np.array([sum(bin(int(c ^ qq)).count("1") for c, qq in zip(row, qb))
                         for row in bits[:n]])
        t = np.sort(dist)[299]
        cand = dist <= t
        np.testing.assert_allclose(got[cand], exact[cand], rtol=1e-6, atol=1e-6)
        assert np.all(got[~cand] <= exact[cand].min() + 1e-7)


def test_prefilter_select_matches_exact_threshold():
    # the sampled threshold bound, including its fallbacks (bound too low: the near clips sit
    # between sample points; too many clips under the bound), matches the exact rule
    from kernels.binary import _select_le

    rng = np.random.default_rng(0)
    n = 200_000
    cases = [rng.integers(0, 385, n).astype(np.uint16),
             np.full(n, 200, np.uint16)]
    skewed = np.full(n, 300, np.uint16)
    skewed[np.arange(n) % 12 == 5] = 7  # missed by the stride-12 sample
    cases.append(skewed)
    sampled = np.arange(n) % 12 == 0
    low = np.where(sampled, 5, 300).astype(np.uint16)  # bound from the sample too low
    cases.append(low)
    many = np.where(sampled, 300, 10).astype(np.uint16)  # far more under the bound than sampled
    many[np.flatnonzero(sampled)[::10]] = 10
    cases.append(many)
    for dist in cases:
        for m in (1, 50, 4096, 20_000, n):
            t = np.sort(dist)[m - 1]
            ref = np.flatnonzero(dist <= t)
            assert np.array_equal(_select_le(dist, m, 385), ref)


def test_block_bound_keys_round_trip_and_order():
    # the integer keys used for the vectorised block max are monotone in the float value and
    # convert back exactly (negatives, signed zeros, subnormals, extremes)
    from kernels.windows import _keys_to_float

    v = np.array([-3.4e38, -1.0, -1e-45, -0.0, 0.0, 1e-45, 0.5, 1.0, 3.4e38], np.float32)
    b = v.view(np.int32).astype(np.int64)
    keys = b ^ ((b >> 31) & 0x7FFFFFFF)
    assert np.all(np.diff(keys) > 0)
    back = _keys_to_float(keys)
    assert np.array_equal(back.view(np.int32), v.view(np.int32))


# ------------------------------------------------------------------ exact refinement


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int8])
def test_scores_at_matches_full_scan(dtype):
    rng = np.random.default_rng(5)
    x = unit_rows(rng, 300, 70)
    matrix, scales = kernels.quantize_int8(x) if dtype == np.int8 else (x.astype(dtype), None)
    q = rng.standard_normal(70).astype(np.float32)
    rows = np.array([0, 3, 4, 150, 299])
    full = kernels.cosine_scores(matrix, q, scales)
    np.testing.assert_array_equal(kernels.scores_at(rows, matrix, scales, q), full[rows])
    assert kernels.scores_at(np.zeros(0, np.int64), matrix, scales, q).shape == (0,)
    with pytest.raises(ValueError, match="rows"):
        kernels.scores_at(np.array([300]), matrix, scales, q)


def test_window_neighbourhood_merges_and_stays_inside_videos():
    offsets = np.array([0, 10, 100, 103])
    rows, runs = kernels.window_neighbourhood(offsets, np.array([50, 12, 60, 101]),
                                              np.array([54, 14, 62, 102]), 5)
    # video 1: [12,14) -> [10,19); [50,54) and [60,62) -> [45,59) and [55,67), merged;
    # video 2 is shorter than the reach: all of it
    expected = [np.arange(10, 19), np.arange(45, 67), np.arange(100, 103)]
    np.testing.assert_array_equal(rows, np.concatenate(expected))
    np.testing.assert_array_equal(runs, np.cumsum([0] + [len(e) for e in expected]))
    rows, runs = kernels.window_neighbourhood(offsets, np.zeros(0), np.zeros(0), 5)
    assert rows.size == 0 and list(runs) == [0]


@pytest.mark.parametrize("seed", range(4))
def test_refine_windows_recovers_the_exact_ranking(seed):
    # approximate scores = exact + quantisation-sized noise: refinement must give exactly the
    # windows of the exact scores (the noise is far below the gap to the k-th window's rivals
    # outside the neighbourhood), where the plain approximate ranking swaps near-ties
    rng = np.random.default_rng(seed)
    n = 6000
    offsets = random_offsets(rng, n, 12)
    exact = smooth_scores(rng, n)
    noisy = (exact + rng.standard_normal(n).astype(np.float32) * 2e-3).astype(np.float32)
    lengths = np.array([2, 4, 8])
    bonus = (0.01 * np.log2(lengths)).astype(np.float32)
    calls = []

    def rescore(rows):
        calls.append(len(rows))
        return exact[rows]

    a, e, s = kernels.refine_windows(noisy, offsets, lengths, 10, rescore, max_overlap=0.3,
                                     length_bonus=bonus)
    ra, re_, rs = kernels.top_windows(exact, offsets, lengths, 10, max_overlap=0.3, length_bonus=bonus)
    assert list(a) == list(ra) and list(e) == list(re_)
    np.testing.assert_allclose(s, rs, rtol=1e-6)
    assert calls and calls[0] < n // 4  # only the neighbourhood was scored again


def test_overlap_is_measured_in_seconds_when_clip_times_are_given():
    """A video's last clip is often short: [3, 5) lasts 2.2 s, and shares 2 of them with
    [2, 4), most of its length, though only one clip of two."""
    scores = np.array([0.1, 0.1, 0.8, 0.9, 0.9], np.float32)
    times = (np.array([0.0, 2.0, 4.0, 6.0, 8.0]), np.array([2.0, 4.0, 6.0, 8.0, 8.2]))
    offsets, lengths = np.array([0, 5]), np.array([2])
    in_clips = kernels.top_windows(scores, offsets, lengths, 2, max_overlap=0.6)
    in_seconds = kernels.top_windows(scores, offsets, lengths, 2, max_overlap=0.6, times=times)
    assert list(zip(in_clips[0].tolist(), in_clips[1].tolist())) == [(3, 5), (2, 4)]
    assert list(zip(in_seconds[0].tolist(), in_seconds[1].tolist())) == [(3, 5), (1, 3)]


@pytest.mark.parametrize("seed", [0, 1])
def test_the_prefilter_cut_into_shards_gives_the_whole_matrix_scores(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((5000, 64)).astype(np.float32)
    codes, query = kernels.pack_sign_bits(x), rng.standard_normal(64).astype(np.float32)
    matrix, scales = kernels.quantize_int8(x)
    code = kernels.pack_sign_bits(query)
    whole = kernels.prefiltered_scores(codes, code, matrix, scales, query, 300)
    shards = [slice(0, 1234), slice(1234, 1235), slice(1235, 5000)]
    threshold = kernels.prefilter_threshold(sum(kernels.hamming_histogram(codes[s], code) for s in shards), 300)
    floor = min(kernels.prefilter_floor(codes[s], code, matrix[s], scales[s], query, threshold) for s in shards)
    cut = np.concatenate([kernels.prefiltered_scores_within(codes[s], code, matrix[s], scales[s], query,
                                                            threshold, floor) for s in shards])
    np.testing.assert_array_equal(cut, whole)
