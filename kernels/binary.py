"""Sign-bit codes, Hamming top-m, and the binary-prefilter + exact-rerank score path.

``pack_sign_bits`` first applies a fixed random orthogonal rotation (seeded, one per D,
generated with numpy's PCG64 so it is identical on every machine), then keeps one sign bit
per dimension, packed little-endian into uint64 words (bit j of word b = dimension 64*b+j;
padding bits are 0). With the rotation the bits behave like SimHash random hyperplanes, so
``cos ~= cos(pi * hamming / D)``; without it (``rotate=False``) embeddings whose energy sits
in few axes give much less informative bits. Database and query must be packed the same way.
Codes cost ceil(D/64) * 8 bytes per clip (48 for D=384).
"""
import functools
import threading

import numpy as np
from numba import njit, prange

from ._util import FASTMATH, chunk_bounds, n_chunks, not_finite, popcount64, prefetch_row
from .scoring import _check_matrix, _dot_f16, _dot_f32, _dot_i8, int16_query, normalise_query

_ROTATION_SEED = 0x5EED_0B17


@functools.lru_cache(maxsize=8)
def rotation(d):
    """The fixed random orthogonal D x D rotation used by :func:`pack_sign_bits`."""
    g = np.random.Generator(np.random.PCG64(_ROTATION_SEED + d)).standard_normal((d, d))
    q, r = np.linalg.qr(g)
    q *= np.sign(np.diag(r))[None, :]
    q = q.astype(np.float32)
    q.setflags(write=False)
    return q


@njit(cache=True, parallel=True)
def _pack(x, out):
    n, d = x.shape
    nw = out.shape[1]
    for i in prange(n):
        for b in range(nw):
            word = np.uint64(0)
            for j in range(64 * b, min(d, 64 * b + 64)):
                if x[i, j] > 0:
                    word |= np.uint64(1) << np.uint64(j - 64 * b)
            out[i, b] = word


def pack_sign_bits(x, rotate=True):
    """float32[N, D] -> uint64[N, ceil(D/64)] sign bits (after the fixed rotation by default).

    A 1-D input is treated as one row and returns uint64[ceil(D/64)] (for queries).
    """
    x = np.asarray(x)
    one = x.ndim == 1
    if one:
        x = x[None, :]
    if x.ndim != 2 or x.dtype.kind != "f":
        raise ValueError(f"pack_sign_bits expects float [N, D], got {x.dtype} {x.shape}")
    n, d = x.shape
    out = np.zeros((n, (d + 63) // 64), np.uint64)
    if n and d:
        if not np.isfinite(x).all():
            raise ValueError("vectors contain NaN or infinity")
        step = 1 << 16
        rot = rotation(d) if rotate else None
        for lo in range(0, n, step):
            blk = np.ascontiguousarray(x[lo:lo + step], dtype=np.float32)
            if rot is not None:
                blk = blk @ rot
            _pack(blk, out[lo:lo + step])
    return out[0] if one else out


@njit(cache=True, inline="always")
def _ham_any(codes, i, q):
    h = np.uint64(0)
    for b in range(codes.shape[1]):
        h += popcount64(codes[i, b] ^ q[b])
    return np.int64(h)


@njit(cache=True, inline="always")
def _fham6(f, j, q0, q1, q2, q3, q4, q5):
    """Hamming distance of the 6-word code starting at flat index j (flat indexing measured
    faster than codes[i, b] in the full pass: 4.2 vs 7.8 ms at N = 1M)."""
    return np.int64(popcount64(f[j] ^ q0) + popcount64(f[j + 1] ^ q1)
                    + popcount64(f[j + 2] ^ q2) + popcount64(f[j + 3] ^ q3)
                    + popcount64(f[j + 4] ^ q4) + popcount64(f[j + 5] ^ q5))


@njit(cache=True, inline="always")
def _fham8(f, j, q0, q1, q2, q3, q4, q5, q6, q7):
    return np.int64(popcount64(f[j] ^ q0) + popcount64(f[j + 1] ^ q1)
                    + popcount64(f[j + 2] ^ q2) + popcount64(f[j + 3] ^ q3)
                    + popcount64(f[j + 4] ^ q4) + popcount64(f[j + 5] ^ q5)
                    + popcount64(f[j + 6] ^ q6) + popcount64(f[j + 7] ^ q7))


@njit(cache=True, parallel=True)
def _hamming_dist(codes, q, bounds, dist):
    """dist[i] = Hamming(codes[i], q) only (no histogram): the prefilter's pass over all N.

    Counting into histograms during the pass cost ~30% of it (measured); the threshold is
    found from a sample instead (:func:`_select_le`).
    """
    nch = bounds.shape[0] - 1
    nw = codes.shape[1]
    flat = codes.reshape(codes.shape[0] * nw)
    for c in prange(nch):
        lo = bounds[c]
        hi = bounds[c + 1]
        if nw == 6:
            q0, q1, q2, q3, q4, q5 = q[0], q[1], q[2], q[3], q[4], q[5]
            for i in range(lo, hi):
                dist[i] = np.uint16(_fham6(flat, 6 * i, q0, q1, q2, q3, q4, q5))
        elif nw == 8:
            q0, q1, q2, q3, q4, q5, q6, q7 = q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7]
            for i in range(lo, hi):
                dist[i] = np.uint16(_fham8(flat, 8 * i, q0, q1, q2, q3, q4, q5, q6, q7))
        else:
            for i in range(lo, hi):
                dist[i] = np.uint16(_ham_any(codes, i, q))


_SAMPLE = 16384


@njit(cache=True)
def _select_le(dist, m, nbins):
    """All indices i (ascending) with dist[i] <= t, t the smallest distance with
    count(dist <= t) >= m: exactly the ``hamming_topk`` threshold, all ties included.

    A strided sample of ~16k distances gives a generous upper bound t_hi; one branchless
    serial pass gathers every dist <= t_hi, whose exact histogram gives t. If the bound was
    too low or too many clips fall under it, a full exact histogram is used instead.
    """
    n = dist.shape[0]
    step = max(1, n // _SAMPLE)
    hs = np.zeros(nbins, np.int64)
    ns = 0
    for i in range(0, n, step):
        hs[np.int64(dist[i])] += 1
        ns += 1
    target = m * ns / n
    need = 1.25 * target + 4.0 * np.sqrt(target) + 16.0
    t_hi = nbins - 1
    cum = 0
    for h in range(nbins):
        cum += hs[h]
        if cum >= need:
            t_hi = h
            break
    cap = n if t_hi == nbins - 1 else min(n, 2 * (cum * n) // ns + 4096)
    idx = np.empty(cap + 1, np.int64)
    p = 0
    for i in range(n):
        idx[p] = i
        p += (np.int64(dist[i]) <= t_hi) & (p < cap)
    if p < m or (p == cap and cap < n):
        # sample was off: exact histogram of everything
        hist = np.zeros(nbins, np.int64)
        for i in range(n):
            hist[np.int64(dist[i])] += 1
        t_hi = nbins - 1
        cum = 0
        for h in range(nbins):
            cum += hist[h]
            if cum >= m:
                t_hi = h
                break
        idx = np.empty(cum + 1, np.int64)
        p = 0
        for i in range(n):
            idx[p] = i
            p += np.int64(dist[i]) <= t_hi
        return idx[:p]
    hc = np.zeros(t_hi + 1, np.int64)
    for j in range(p):
        hc[np.int64(dist[idx[j]])] += 1
    t = t_hi
    cum = 0
    for h in range(t_hi + 1):
        cum += hc[h]
        if cum >= m:
            t = h
            break
    k = 0
    for j in range(p):
        i = idx[j]
        idx[k] = i
        k += np.int64(dist[i]) <= t
    return idx[:k]


@njit(cache=True)
def _sort_by_dist(idx, dist, nbins):
    """Stable counting sort of indices by distance (ties stay in index order)."""
    cnt = np.zeros(nbins + 1, np.int64)
    for i in idx:
        cnt[np.int64(dist[i]) + 1] += 1
    for h in range(nbins):
        cnt[h + 1] += cnt[h]
    out = np.empty_like(idx)
    for i in idx:
        h = np.int64(dist[i])
        out[cnt[h]] = i
        cnt[h] += 1
    return out


def _check_codes(codes, query_code):
    codes = np.asarray(codes)
    q = np.asarray(query_code)
    if codes.ndim != 2 or codes.dtype != np.uint64:
        raise ValueError(f"codes must be uint64[N, B], got {codes.dtype} {codes.shape}")
    if q.dtype != np.uint64 or q.shape != (codes.shape[1],):
        raise ValueError(f"query_code must be uint64[{codes.shape[1]}], got {q.dtype} {q.shape}")
    if codes.shape[1] * 64 > 65535:
        raise ValueError("at most 65535 bits per code")
    return np.ascontiguousarray(codes), np.ascontiguousarray(q)


_SCRATCH = threading.local()


def _scratch_dist(n):
    """A per-thread uint16[n] scratch buffer, reused across calls (a fresh one would cost
    page faults on every query: ~1 ms at N = 1M)."""
    buf = getattr(_SCRATCH, "dist", None)
    if buf is None or buf.shape[0] < n or buf.shape[0] > 2 * n + 65536:
        buf = np.empty(n, np.uint16)
        _SCRATCH.dist = buf
    return buf[:n]


def hamming_topk(codes, query_code, m):
    """Indices of the ``m`` codes nearest to ``query_code`` in Hamming distance: int64[min(m, N)].

    Sorted by distance, ties by index. One parallel O(N) popcount pass, a serial gather
    below a threshold distance (found from a sample, then exactly), and no full sort.
    """
    m = int(m)
    if m <= 0:
        raise ValueError(f"m must be positive, got {m}")
    codes, q = _check_codes(codes, query_code)
    n = codes.shape[0]
    if n == 0:
        return np.empty(0, np.int64)
    m = min(m, n)
    dist = np.empty(n, np.uint16)
    _hamming_dist(codes, q, chunk_bounds(n, n_chunks(n)), dist)
    nbins = codes.shape[1] * 64 + 1
    idx = _select_le(dist, m, nbins)  # all ties at the threshold: keep the first by index
    return np.ascontiguousarray(_sort_by_dist(idx, dist, nbins)[:m])


_PREFETCH_AHEAD = 8


@njit(cache=True, parallel=True, fastmath=FASTMATH)
def _rerank_i8(idx, m, scales, q16, qscale, out):
    """Exact int8 scores of rows ``idx`` (ascending), prefetching rows a few ahead."""
    nc = idx.shape[0]
    nch = min(nc, 64)
    nbad = 0
    for c in prange(nch):
        lo = nc * c // nch
        hi = nc * (c + 1) // nch
        for p in range(lo, hi):
            if p + _PREFETCH_AHEAD < hi:
                prefetch_row(m, idx[p + _PREFETCH_AHEAD])
            i = idx[p]
            v = np.float32(_dot_i8(m[i], q16)) * (scales[i] * qscale)
            nbad += not_finite(v)
            out[p] = v
    return nbad


@njit(cache=True, parallel=True, fastmath=FASTMATH)
def _rerank_f32(idx, m, q, out):
    nc = idx.shape[0]
    nch = min(nc, 64)
    nbad = 0
    for c in prange(nch):
        lo = nc * c // nch
        hi = nc * (c + 1) // nch
        for p in range(lo, hi):
            if p + _PREFETCH_AHEAD < hi:
                prefetch_row(m, idx[p + _PREFETCH_AHEAD])
            v = _dot_f32(m[idx[p]], q)
            nbad += not_finite(v)
            out[p] = v
    return nbad


@njit(cache=True, parallel=True, fastmath=FASTMATH)
def _rerank_f16(idx, m, q, out):
    nc = idx.shape[0]
    nch = min(nc, 64)
    nbad = 0
    for c in prange(nch):
        lo = nc * c // nch
        hi = nc * (c + 1) // nch
        for p in range(lo, hi):
            if p + _PREFETCH_AHEAD < hi:
                prefetch_row(m, idx[p + _PREFETCH_AHEAD])
            v = _dot_f16(m[idx[p]], q)
            nbad += not_finite(v)
            out[p] = v
    return nbad


def scores_at(rows, matrix, scales, query):
    """Cosine scores float32[len(rows)] of the given rows only, exactly as
    :func:`cosine_scores` computes them (rows ascending reads the matrix in order)."""
    matrix, scales = _check_matrix(matrix, scales)
    n, d = matrix.shape
    rows = np.ascontiguousarray(np.asarray(rows), dtype=np.int64)
    if rows.ndim != 1 or (rows.size and (rows.min() < 0 or rows.max() >= n)):
        raise ValueError(f"rows must be 1-D indices in [0, {n})")
    qn, nonzero = normalise_query(query, d)
    if rows.size == 0 or not nonzero[0]:
        return np.zeros(rows.shape[0], np.float32)
    return _scores_at(rows, matrix, scales, qn)


def _scores_at(idx, matrix, scales, qn):
    exact = np.empty(idx.shape[0], np.float32)
    if matrix.dtype == np.int8:
        q16, qscale = int16_query(qn)
        nbad = _rerank_i8(idx, matrix, scales, q16[0], qscale[0], exact)
    elif matrix.dtype == np.float32:
        nbad = _rerank_f32(idx, matrix, qn[0], exact)
    else:
        nbad = _rerank_f16(idx, matrix.view(np.uint16), qn[0], exact)
    if nbad:
        bad = int(idx[np.flatnonzero(~np.isfinite(exact))[0]])
        raise ValueError(f"matrix row {bad} contains NaN or infinity")
    return exact


@njit(cache=True, parallel=True)
def _fill(dist, lut, idx, exact, out):
    """out[i] = lut[dist[i]] for every clip, then the exact scores of the candidates."""
    for i in prange(dist.shape[0]):
        out[i] = lut[dist[i]]
    for p in range(idx.shape[0]):  # serial: a few % of N, not worth a second parallel region
        out[idx[p]] = exact[p]


def prefiltered_scores(codes, query_code, matrix, scales, query, n_candidates, fill="estimate"):
    """Per-clip scores float32[N] from a binary prefilter plus an exact rerank.

    The ``n_candidates`` clips nearest to ``query_code`` in Hamming distance (all clips tied
    at the threshold distance included, so possibly a few more) get their exact cosine from
    ``matrix`` (float32, float16, or int8 with ``scales``), exactly as :func:`cosine_scores`
    would. Every other clip gets, with ``fill="estimate"``, the SimHash estimate
    ``cos(pi * hamming / D)``, clipped to at most the lowest exact candidate score (so an
    estimate never outranks a reranked clip); with ``fill="min"`` the lowest exact candidate
    score. Scores are finite, so the result can go straight to :func:`top_windows`.

    ``query_code`` must be ``pack_sign_bits(query)`` with the same rotation as ``codes``.
    Recall: see the benchmark (window recall@10 vs exact float32 on clustered data).
    """
    if fill not in ("estimate", "min"):
        raise ValueError(f"fill must be 'estimate' or 'min', got {fill!r}")
    n_candidates = int(n_candidates)
    if n_candidates <= 0:
        raise ValueError(f"n_candidates must be positive, got {n_candidates}")
    codes, qc, matrix, scales, qn, nonzero = _check_prefilter(codes, query_code, matrix, scales, query)
    n = matrix.shape[0]
    if n == 0 or not nonzero:
        return np.zeros(n, np.float32)
    dist = _distances(codes, qc)
    idx = _select_le(dist, min(n_candidates, n), codes.shape[1] * 64 + 1)
    exact = _scores_at(idx, matrix, scales, qn)
    return _filled(dist, idx, exact, exact.min(), fill, codes.shape[1] * 64, matrix.shape[1])


# The prefilter of a matrix cut into shards, each shard holding some of its rows, in three
# steps that give exactly what prefiltered_scores gives on the whole matrix: the shards'
# distance histograms, summed, set the threshold; the lowest exact score of the candidates
# over all shards sets the floor; then each shard fills its own scores.
def hamming_histogram(codes, query_code):
    """How many codes lie at each Hamming distance from ``query_code``: int64[bits + 1]."""
    codes, qc = _check_codes(codes, query_code)
    return np.bincount(_distances(codes, qc), minlength=codes.shape[1] * 64 + 1).astype(np.int64)


def prefilter_threshold(histogram, n_candidates):
    """The distance t whose codes at distance <= t are the prefilter's candidates: the
    smallest with at least ``n_candidates`` of them (all ties at t included)."""
    counts = np.cumsum(np.asarray(histogram, dtype=np.int64))
    if counts.size == 0 or counts[-1] == 0:
        return 0
    return int(np.searchsorted(counts, min(int(n_candidates), int(counts[-1]))))


def prefilter_floor(codes, query_code, matrix, scales, query, threshold):
    """The lowest exact score among the codes within ``threshold`` (inf if there are none)."""
    codes, qc, matrix, scales, qn, nonzero = _check_prefilter(codes, query_code, matrix, scales, query)
    idx = np.flatnonzero(_distances(codes, qc) <= threshold) if nonzero else np.empty(0, np.int64)
    return float(_scores_at(idx, matrix, scales, qn).min()) if idx.size else np.inf


def prefiltered_scores_within(codes, query_code, matrix, scales, query, threshold, floor,
                              fill="estimate"):
    """:func:`prefiltered_scores` with the candidates and the floor given: the codes within
    ``threshold`` scored exactly, the others filled from their distance, never above
    ``floor``."""
    codes, qc, matrix, scales, qn, nonzero = _check_prefilter(codes, query_code, matrix, scales, query)
    n = matrix.shape[0]
    if n == 0 or not nonzero:
        return np.zeros(n, np.float32)
    dist = _distances(codes, qc)
    idx = np.flatnonzero(dist <= threshold).astype(np.int64)
    exact = _scores_at(idx, matrix, scales, qn)
    return _filled(dist, idx, exact, floor, fill, codes.shape[1] * 64, matrix.shape[1])


def _check_prefilter(codes, query_code, matrix, scales, query):
    codes, qc = _check_codes(codes, query_code)
    matrix, scales = _check_matrix(matrix, scales)
    n, d = matrix.shape
    if codes.shape[0] != n or codes.shape[1] != (d + 63) // 64:
        raise ValueError(f"codes shape {codes.shape} does not match matrix shape {matrix.shape}")
    qn, nonzero = normalise_query(query, d)
    return codes, qc, matrix, scales, qn, bool(nonzero[0])


def _distances(codes, qc):
    dist = _scratch_dist(codes.shape[0])
    _hamming_dist(codes, qc, chunk_bounds(codes.shape[0], n_chunks(codes.shape[0])), dist)
    return dist


def _filled(dist, idx, exact, floor, fill, bits, d):
    if fill == "min":
        lut = np.full(bits + 1, floor, np.float32)
    else:
        # SimHash estimate, never above the lowest exact candidate score
        est = np.cos(np.pi * np.minimum(np.arange(bits + 1), d) / d)
        lut = np.minimum(est, floor).astype(np.float32)
    out = np.empty(dist.shape[0], np.float32)
    _fill(dist, lut, idx, exact, out)
    return out
