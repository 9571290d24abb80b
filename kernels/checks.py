"""What the kernels share that needs no compiler: argument checks, query normalisation, and the
window-reranking steps around :func:`top_windows`. numpy only, so that `kernels.small` (the
numpy twins for small inputs) imports no Numba."""
import numpy as np


def _check_matrix(matrix, scales):
    matrix = np.asarray(matrix)
    if matrix.ndim != 2:
        raise ValueError(f"matrix must be 2-D, got shape {matrix.shape}")
    if matrix.dtype not in (np.float32, np.float16, np.int8):
        raise ValueError(f"matrix dtype must be float32, float16 or int8, got {matrix.dtype}")
    matrix = np.ascontiguousarray(matrix)
    if matrix.dtype == np.int8:
        if scales is None:
            raise ValueError("an int8 matrix needs its per-row float32 scales")
        scales = np.ascontiguousarray(np.asarray(scales, dtype=np.float32))
        if scales.shape != (matrix.shape[0],):
            raise ValueError(f"scales must have shape ({matrix.shape[0]},), got {scales.shape}")
    elif scales is not None:
        raise ValueError("scales are only meaningful for an int8 matrix")
    return matrix, scales


def _normalise_queries(queries, d):
    """float32[Q, D] -> (unit queries float32[Q, D], nonzero bool[Q]); NaN/inf -> ValueError."""
    q = np.asarray(queries)
    if q.dtype.kind not in "fiu":
        raise ValueError(f"query dtype must be numeric, got {q.dtype}")
    q = q.astype(np.float32, copy=False)
    if q.ndim != 2 or q.shape[1] != d:
        raise ValueError(f"query must have {d} dimensions, got shape {q.shape[1:]}")
    if not np.isfinite(q).all():
        raise ValueError("query vector contains NaN or infinity")
    norms = np.sqrt(np.einsum("ij,ij->i", q.astype(np.float64), q.astype(np.float64)))
    nonzero = norms > 0
    out = np.zeros_like(q)
    out[nonzero] = (q[nonzero] / norms[nonzero, None]).astype(np.float32)
    return np.ascontiguousarray(out), nonzero


def normalise_query(query, d):
    """One 1-D query as a [1, D] unit row (and whether it was non-zero)."""
    q = np.asarray(query)
    if q.ndim != 1:
        raise ValueError(f"query must be 1-D, got shape {q.shape}")
    return _normalise_queries(q[None, :], d)


def int16_query(qn):
    """Quantise unit query rows float32[Q, D] to int16 codes + float32 scales for the int8 kernels.

    The int16 range is limited so that 127 * qmax * D fits in int32 (exact accumulation).
    """
    qn = np.atleast_2d(qn)
    d = qn.shape[1]
    qmax = float(max(127, min(32767, (2**31 - 1) // (127 * max(d, 1)))))
    amax = np.abs(qn).max(axis=1)
    qscale = np.where(amax > 0, amax / qmax, 1.0).astype(np.float32)
    q16 = np.rint(qn / qscale[:, None]).clip(-qmax, qmax).astype(np.int16)
    return np.ascontiguousarray(q16), qscale


def _raise_bad_rows(scores):
    bad = np.flatnonzero(~np.isfinite(np.atleast_2d(scores)).all(axis=0))
    raise ValueError(f"matrix row {int(bad[0])} contains NaN or infinity")


def window_arguments(clip_scores, video_offsets, window_lengths, k, mode, max_overlap, length_bonus, times):
    """The checked inputs of ``top_windows``: (k, scores f32[N], offsets i64[V+1], lengths
    (distinct, ascending), bonus f64 per length (its best), full_bonus f64[len+1] (the
    whole-video window's bonus by the number of lengths shorter than the video), begins, ends
    f64[N]); raises ValueError for bad input."""
    if mode not in ("mean", "max"):
        raise ValueError(f"mode must be 'mean' or 'max', got {mode!r}")
    k = int(k)
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    if not (max_overlap >= 0):
        raise ValueError(f"max_overlap must be >= 0, got {max_overlap}")
    s = np.asarray(clip_scores)
    if s.ndim != 1:
        raise ValueError(f"clip_scores must be 1-D, got shape {s.shape}")
    s = np.ascontiguousarray(s, dtype=np.float32)
    off = np.ascontiguousarray(np.asarray(video_offsets), dtype=np.int64)
    if off.ndim != 1 or off.shape[0] < 1:
        raise ValueError("video_offsets must be 1-D with V+1 >= 1 entries")
    n = s.shape[0]
    if off[0] != 0 or off[-1] != n or (off.shape[0] > 1 and np.any(np.diff(off) < 0)):
        raise ValueError(f"video_offsets must start at 0, be non-decreasing and end at N={n}")
    wl = np.asarray(window_lengths)
    if wl.ndim != 1 or wl.shape[0] == 0 or wl.dtype.kind not in "iu":
        raise ValueError("window_lengths must be a non-empty 1-D integer array")
    wl = wl.astype(np.int64)
    if np.any(wl < 1):
        raise ValueError("window lengths must be >= 1")
    if length_bonus is None:
        lb = np.zeros(wl.shape[0], np.float64)
    else:
        lb = np.asarray(length_bonus, dtype=np.float64)
        if lb.shape != wl.shape:
            raise ValueError(f"length_bonus must have shape {wl.shape}, got {lb.shape}")
        if not np.isfinite(lb).all():
            raise ValueError("length_bonus contains NaN or infinity")
    if times is None or n == 0:
        begins, ends = np.arange(n, dtype=np.float64), np.arange(1, n + 1, dtype=np.float64)
    else:
        begins, ends = (np.ascontiguousarray(t, dtype=np.float64) for t in times)
        if begins.shape != (n,) or ends.shape != (n,):
            raise ValueError(f"times must be two float arrays of N={n} clip starts and ends")
    # distinct lengths ascending, each with its best bonus
    lengths = np.array(sorted(set(wl.tolist())), np.int64)  # (np.unique would import numpy.ma: 50 ms cold)
    bonus = np.array([lb[wl == w].max() for w in lengths], np.float64)
    # bonus of the whole-video window for a video with r lengths < L: best over lengths >= L
    full_bonus = np.maximum.accumulate(bonus[::-1])[::-1].copy()
    full_bonus = np.concatenate([full_bonus, [0.0]])
    return k, s, off, lengths, bonus, full_bonus, begins, ends


def no_windows():
    return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64)


def window_neighbourhood(video_offsets, starts, stops, reach):
    """The rows within ``reach`` clips of the windows ``[starts, stops)``, never crossing a
    video's edge: ``(rows int64[m] ascending, run_offsets int64[r+1])``. Overlapping or
    touching stretches are merged, so the runs are disjoint and each lies in one video; a run
    is the whole video or longer than ``reach``."""
    off = np.asarray(video_offsets, dtype=np.int64)
    a = np.asarray(starts, dtype=np.int64)
    b = np.asarray(stops, dtype=np.int64)
    if a.size == 0:
        return np.empty(0, np.int64), np.zeros(1, np.int64)
    video = np.searchsorted(off, a, side="right") - 1
    lo = np.maximum(a - reach, off[video])
    hi = np.minimum(b + reach, off[video + 1])
    order = np.lexsort((lo, video))
    video, lo, hi = video[order], lo[order], hi[order]
    runs: list[list[int]] = []
    for v, x, y in zip(video.tolist(), lo.tolist(), hi.tolist()):
        if runs and runs[-1][0] == v and x <= runs[-1][2]:
            runs[-1][2] = max(runs[-1][2], y)
        else:
            runs.append([v, x, y])
    rows = np.concatenate([np.arange(x, y, dtype=np.int64) for _, x, y in runs])
    run_offsets = np.concatenate([[0], np.cumsum([y - x for _, x, y in runs])]).astype(np.int64)
    return rows, run_offsets


def refine_with(top_windows, clip_scores, video_offsets, window_lengths, k, rescore, mode="mean",
                max_overlap=0.5, length_bonus=None, candidates=4, times=None):
    """``refine_windows`` on the given ``top_windows`` implementation."""
    options = dict(mode=mode, max_overlap=max_overlap, length_bonus=length_bonus, times=times)
    lengths = np.asarray(window_lengths)
    starts, stops, _ = top_windows(clip_scores, video_offsets, lengths, candidates * k, **options)
    return rerank_with(top_windows, starts, stops, video_offsets, lengths, k, rescore, **options)


def rerank_with(top_windows, starts, stops, video_offsets, window_lengths, k, rescore, mode="mean",
                max_overlap=0.5, length_bonus=None, times=None):
    """``rerank_windows`` on the given ``top_windows`` implementation."""
    options = dict(mode=mode, max_overlap=max_overlap, length_bonus=length_bonus)
    lengths = np.asarray(window_lengths)
    rows, run_offsets = window_neighbourhood(video_offsets, starts, stops, int(lengths.max()))
    if rows.size == 0:
        return np.asarray(starts, np.int64), np.asarray(stops, np.int64), np.empty(0, np.float64)
    exact = np.asarray(rescore(rows), dtype=np.float32)
    run_times = None if times is None else (np.asarray(times[0])[rows], np.asarray(times[1])[rows])
    first, stop, scores = top_windows(exact, run_offsets, lengths, k, times=run_times, **options)
    return rows[first], rows[stop - 1] + 1, scores


def fuse_arguments(scores, present, weights):
    """The checked inputs of ``fuse_channels``: (scores f32[C, N], present bool[C, N], weights f32[C])."""
    s = np.asarray(scores, dtype=np.float32)
    p = np.asarray(present, dtype=np.bool_)
    w = np.asarray(weights, dtype=np.float32)
    if s.ndim != 2 or p.shape != s.shape or w.shape != (s.shape[0],):
        raise ValueError(f"shapes must be scores [C, N], present [C, N], weights [C]; got "
                         f"{s.shape}, {p.shape}, {w.shape}")
    if not np.isfinite(w).all() or np.any(w < 0):
        raise ValueError("weights must be finite and >= 0")
    if not np.isfinite(s[p]).all():
        raise ValueError("scores of present channels contain NaN or infinity")
    return np.ascontiguousarray(s), np.ascontiguousarray(p), w
