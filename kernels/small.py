"""The query path's kernels in numpy alone, for small inputs: the same functions, arguments,
checks and results as the Numba kernels, without importing Numba.

A fresh process that runs a Numba kernel first imports Numba and loads its compiler's
registries and each kernel's cached machine code: about 0.6-0.9 s on a laptop CPU, where a
search over a library of a few thousand clips takes a millisecond of actual work. For such a
library (see :func:`kernels.for_clips`) these twins answer instead:

- ``top_windows`` ranks exactly the same windows with exactly the same float64 scores (the
  means come from the same block-local float64 prefix sums, added in the same order);
- ``fuse_channels`` gives the same float32 values (the same float64 sums, channel by channel),
  and ``quantize_int8`` the same codes and scales (the same float32 operations);
- ``cosine_scores`` and ``scores_at`` on int8 rows give the same values (exact integer dot
  products, then the same float32 scaling); on float16 and float32 rows, and
  ``cosine_scores_batch``, the dot products are summed in another order (BLAS), so values
  may differ from the Numba kernels' in the last bits (about 1e-7).

Whatever else is asked of this module (sign bits, the prefilter) comes from the Numba kernels.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .checks import (
    _check_matrix, _normalise_queries, _raise_bad_rows, fuse_arguments, int16_query, no_windows, normalise_query,
    refine_with, rerank_with, window_arguments, window_neighbourhood,
)

__all__ = ["cosine_scores", "cosine_scores_batch", "fuse_channels", "quantize_int8", "refine_windows", "rerank_windows",
           "scores_at", "top_windows", "window_neighbourhood"]

_BLOCK = 256  # the block of window starts whose means share one prefix sum (kernels.windows)


def _dot(matrix, scales, qn, rows=None):
    """Scores of the unit query ``qn`` [1, D] with all rows (or the given ones)."""
    m = matrix if rows is None else matrix[rows]
    if m.dtype == np.int8:
        q16, qscale = int16_query(qn)
        exact = m.astype(np.int32) @ q16[0].astype(np.int32)  # integer: any order gives the same sum
        # (sum * query scale) * row scale: the order LLVM gives the kernel's expression (measured)
        return exact.astype(np.float32) * qscale[0] * (scales if rows is None else scales[rows])
    return m.astype(np.float32) @ qn[0]


def cosine_scores(matrix, query, scales=None):
    """As :func:`kernels.cosine_scores`."""
    matrix, scales = _check_matrix(matrix, scales)
    n, d = matrix.shape
    qn, nonzero = normalise_query(query, d)
    if n == 0 or not nonzero[0]:
        return np.zeros(n, np.float32)
    out = np.ascontiguousarray(_dot(matrix, scales, qn), dtype=np.float32)
    if not np.isfinite(out).all():
        _raise_bad_rows(out)
    return out


def cosine_scores_batch(matrix, queries, scales=None):
    """As :func:`kernels.cosine_scores_batch` (int8 rows times their scale, in float32)."""
    matrix, scales = _check_matrix(matrix, scales)
    n, d = matrix.shape
    qs = np.asarray(queries)
    if qs.ndim != 2:
        raise ValueError(f"queries must be 2-D [Q, D], got shape {qs.shape}")
    qn, nonzero = _normalise_queries(qs, d)
    if n == 0 or qs.shape[0] == 0 or not nonzero.any():
        return np.zeros((qs.shape[0], n), np.float32)
    rows = matrix.astype(np.float32)
    if matrix.dtype == np.int8:
        rows *= scales[:, None]
    out = np.ascontiguousarray(qn @ rows.T, dtype=np.float32)
    if not np.isfinite(out).all():
        _raise_bad_rows(out)
    return out


def scores_at(rows, matrix, scales, query):
    """As :func:`kernels.scores_at`."""
    matrix, scales = _check_matrix(matrix, scales)
    n, d = matrix.shape
    rows = np.ascontiguousarray(np.asarray(rows), dtype=np.int64)
    if rows.ndim != 1 or (rows.size and (rows.min() < 0 or rows.max() >= n)):
        raise ValueError(f"rows must be 1-D indices in [0, {n})")
    qn, nonzero = normalise_query(query, d)
    if rows.size == 0 or not nonzero[0]:
        return np.zeros(rows.shape[0], np.float32)
    exact = np.ascontiguousarray(_dot(matrix, scales, qn, rows), dtype=np.float32)
    if not np.isfinite(exact).all():
        bad = int(rows[np.flatnonzero(~np.isfinite(exact))[0]])
        raise ValueError(f"matrix row {bad} contains NaN or infinity")
    return exact


def fuse_channels(scores, present, weights):
    """As :func:`kernels.fuse_channels`."""
    s, p, w = fuse_arguments(scores, present, weights)
    channels, n = s.shape
    if channels == 0 or n == 0:
        return np.zeros(n, np.float32)
    num, den = np.zeros(n), np.zeros(n)
    for c in range(channels):  # in channel order, as the kernel adds them
        weight = np.float64(w[c])
        num = np.where(p[c], num + weight * s[c].astype(np.float64), num)
        den = np.where(p[c], den + weight, den)
    out = np.zeros(n, np.float32)
    nonzero = den != 0.0
    out[nonzero] = (num[nonzero] / den[nonzero]).astype(np.float32)
    return out


def quantize_int8(x):
    """As :func:`kernels.quantize_int8` (the same float32 operations, row by row)."""
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"quantize_int8 expects a 2-D array, got shape {x.shape}")
    if x.dtype != np.float32:
        if x.dtype.kind != "f":
            raise ValueError(f"quantize_int8 expects float32, got {x.dtype}")
        x = x.astype(np.float32)
    n, d = x.shape
    codes = np.zeros((n, d), np.int8)
    scales = np.zeros(n, np.float32)
    if n == 0 or d == 0:
        return codes, scales
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        raise ValueError(f"matrix row {int(np.flatnonzero(bad)[0])} contains NaN or infinity")
    top = np.abs(x).max(axis=1)
    rows = top > 0
    scales[rows] = top[rows] / np.float32(127.0)
    inverse = np.float32(127.0) / top[rows]
    codes[rows] = np.clip(np.floor(x[rows] * inverse[:, None] + np.float32(0.5)), -127, 127).astype(np.int8)
    return codes, scales


def _windows(s, off, lengths, bonus, full_bonus, use_max):
    """Every window the kernel ranks: (score f64, start, stop), by the kernel's arithmetic."""
    values, starts, stops = [], [], []
    wmax = int(lengths[-1])
    for v in range(off.shape[0] - 1):
        vs, ve = int(off[v]), int(off[v + 1])
        size = ve - vs
        if size == 0:
            continue
        shorter = int(np.searchsorted(lengths, size))  # lengths < the video's
        if shorter < lengths.shape[0]:  # the whole video is one window
            whole = float(s[vs:ve].max()) if use_max else float(np.cumsum(s[vs:ve], dtype=np.float64)[-1]) / size
            values.append(np.array([whole + full_bonus[shorter]]))
            starts.append(np.array([vs]))
            stops.append(np.array([ve]))
        if use_max:
            for w, extra in zip(lengths[:shorter].tolist(), bonus[:shorter]):
                values.append(sliding_window_view(s[vs:ve], w).max(axis=1).astype(np.float64) + extra)
                starts.append(np.arange(vs, ve - w + 1))
                stops.append(starts[-1] + w)
            continue
        for first in range(vs, ve, _BLOCK):
            count = min(_BLOCK, ve - first)
            prefix = np.zeros(min(ve, first + count + wmax - 1) - first + 1)
            np.cumsum(s[first:first + prefix.shape[0] - 1], dtype=np.float64, out=prefix[1:])
            for w, extra in zip(lengths[:shorter].tolist(), bonus[:shorter]):
                n_starts = min(count, ve - w + 1 - first)
                if n_starts <= 0:
                    continue
                values.append((prefix[w:w + n_starts] - prefix[:n_starts]) * (1.0 / w) + extra)
                starts.append(np.arange(first, first + n_starts))
                stops.append(starts[-1] + w)
    if not values:
        return np.empty(0), np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(values), np.concatenate(starts).astype(np.int64), np.concatenate(stops).astype(np.int64)


def top_windows(clip_scores, video_offsets, window_lengths, k, mode="mean", max_overlap=0.5,
                length_bonus=None, pool=None, times=None):
    """As :func:`kernels.top_windows` (``pool`` is accepted and has no effect): every window
    scored, ranked by score, then start, then stop, and kept greedily."""
    k, s, off, lengths, bonus, full_bonus, begins, ends = window_arguments(
        clip_scores, video_offsets, window_lengths, k, mode, max_overlap, length_bonus, times)
    if s.shape[0] == 0:
        return no_windows()
    if not np.isfinite(s).all():
        bad = int(np.flatnonzero(~np.isfinite(s))[0])
        raise ValueError(f"clip_scores[{bad}] is NaN or infinite; scores must be finite")
    values, starts, stops = _windows(s, off, lengths, bonus, full_bonus, mode == "max")
    order = np.lexsort((stops, starts, -values))
    kept = _greedy(starts[order], stops[order], np.searchsorted(off, starts[order], side="right") - 1,
                   begins, ends, k, float(max_overlap))
    return starts[order][kept], stops[order][kept], values[order][kept]


def _greedy(starts, stops, videos, begins, ends, k, limit):
    """The positions of the windows kept, given in rank order: a window is dropped when it
    overlaps a kept window of its video by more than ``limit`` of the shorter one (the
    kernel's test, in the same float64 operations). Windows are tested in growing chunks:
    against the windows kept before the chunk all at once, then one by one against those kept
    within it."""
    lo, hi = begins[starts], ends[stops - 1]
    kept_lo, kept_hi, kept_video = np.empty(k), np.empty(k), np.empty(k, np.int64)
    kept: list[int] = []
    position, step = 0, 128
    while position < starts.shape[0] and len(kept) < k:
        chunk = slice(position, position + step)
        c_lo, c_hi, c_video = lo[chunk], hi[chunk], videos[chunk]
        before = len(kept)
        if before:
            overlap = np.minimum(c_hi[:, None], kept_hi[None, :before]) - np.maximum(c_lo[:, None], kept_lo[None, :before])
            shorter = np.minimum((c_hi - c_lo)[:, None], (kept_hi - kept_lo)[None, :before])
            with np.errstate(divide="ignore", invalid="ignore"):
                clash = (c_video[:, None] == kept_video[None, :before]) & (overlap > 0) & (overlap / shorter > limit)
            alive = np.flatnonzero(~clash.any(axis=1))
        else:
            alive = np.arange(c_lo.shape[0])
        fresh: dict[int, list[tuple[float, float]]] = {}  # kept within this chunk, by video
        for j, a, b, v in zip(alive, c_lo[alive].tolist(), c_hi[alive].tolist(), c_video[alive].tolist()):
            spans = fresh.setdefault(v, [])
            if all(min(b, y) - max(a, x) <= 0 or (min(b, y) - max(a, x)) / min(b - a, y - x) <= limit
                   for x, y in spans):
                spans.append((a, b))
                kept_lo[len(kept)], kept_hi[len(kept)], kept_video[len(kept)] = a, b, v
                kept.append(position + j)
                if len(kept) == k:
                    break
        position += step
        step = min(2 * step, 128)
    return np.array(kept, dtype=np.int64)


def refine_windows(clip_scores, video_offsets, window_lengths, k, rescore, mode="mean",
                   max_overlap=0.5, length_bonus=None, candidates=4, times=None):
    """As :func:`kernels.refine_windows`."""
    return refine_with(top_windows, clip_scores, video_offsets, window_lengths, k, rescore, mode=mode,
                       max_overlap=max_overlap, length_bonus=length_bonus, candidates=candidates, times=times)


def rerank_windows(starts, stops, video_offsets, window_lengths, k, rescore, mode="mean",
                   max_overlap=0.5, length_bonus=None, times=None):
    """As :func:`kernels.rerank_windows`."""
    return rerank_with(top_windows, starts, stops, video_offsets, window_lengths, k, rescore, mode=mode,
                       max_overlap=max_overlap, length_bonus=length_bonus, times=times)


def __getattr__(name):
    """The other kernels (sign bits, the prefilter) are Numba's."""
    import kernels

    if name.startswith("__") or name not in kernels.__all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(kernels, name)
