"""Top-k moment windows over per-clip scores, with per-video overlap suppression.

A window is ``w`` consecutive clips of ONE video (``window_lengths``); a video shorter than
or equal to some ``w`` contributes one window covering the whole video instead
(deduplicated: its bonus is the largest ``length_bonus`` among the lengths >= the video
length). Window score is the mean (float64 sums, local to a block so no precision is lost
over a million clips) or max of its clip scores plus the bonus of its length.

Ranking is by score descending, ties broken by lower start then lower stop, so results are
deterministic. Greedy suppression walks down that ranking and drops a window whose overlap
with an already-kept window of the same video, ``|a & b| / min(|a|, |b|)``, exceeds
``max_overlap``; lengths are measured in time when the clips' ``times`` are given (a video's
last clip is often short), else in clips.

Selection never scores, let alone sorts, all N*W windows. Start positions are cut into
blocks of 256 inside each video; one parallel pass computes each block's upper bound (the
max clip score its windows can reach, + the best bonus). Blocks are visited best bound first
while a bounded heap keeps the best ``pool`` windows; the visit stops when the next bound is
below the heap's worst window, so the heap is exactly the global top ``pool``. Greedy
suppression then pops the heap in rank order; if it would need windows below the heap's
worst, the pool grows 4x and the selection is redone, so the result is always exactly the
greedy result over all windows. Typical cost at N = 1M: one vectorised max pass over the
scores plus a few hundred blocks.
"""
import numpy as np
from numba import njit, prange

from .checks import no_windows, refine_with, rerank_with, window_arguments, window_neighbourhood  # noqa: F401


_BLOCK = 256


@njit(cache=True, inline="always")
def _worse(sa, a0, a1, sb, b0, b1):
    """True if window a ranks strictly below window b."""
    if sa != sb:
        return sa < sb
    if a0 != b0:
        return a0 > b0
    return a1 > b1


@njit(cache=True)
def _sift_down_best(ms, ma, mb, i, n):
    """Restore the max-heap (best window at the root) below position i of the first n."""
    while True:
        l = 2 * i + 1
        if l >= n:
            break
        c = l
        r = l + 1
        if r < n and _worse(ms[l], ma[l], mb[l], ms[r], ma[r], mb[r]):
            c = r
        if _worse(ms[i], ma[i], mb[i], ms[c], ma[c], mb[c]):
            ms[i], ms[c] = ms[c], ms[i]
            ma[i], ma[c] = ma[c], ma[i]
            mb[i], mb[c] = mb[c], mb[i]
            i = c
        else:
            break


@njit(cache=True)
def _heap_push(hs, h0, h1, size, cap, s, a, b):
    """Min-heap (worst at the root) of capacity ``cap``; returns the new size."""
    if size < cap:
        i = size
        size += 1
        while i > 0:
            p = (i - 1) >> 1
            if _worse(s, a, b, hs[p], h0[p], h1[p]):
                hs[i] = hs[p]
                h0[i] = h0[p]
                h1[i] = h1[p]
                i = p
            else:
                break
        hs[i] = s
        h0[i] = a
        h1[i] = b
        return size
    if not _worse(hs[0], h0[0], h1[0], s, a, b):
        return size
    i = 0
    while True:
        l = 2 * i + 1
        if l >= size:
            break
        c = l
        r = l + 1
        if r < size and _worse(hs[r], h0[r], h1[r], hs[l], h0[l], h1[l]):
            c = r
        if _worse(hs[c], h0[c], h1[c], s, a, b):
            hs[i] = hs[c]
            h0[i] = h0[c]
            h1[i] = h1[c]
            i = c
        else:
            break
    hs[i] = s
    h0[i] = a
    h1[i] = b
    return size


@njit(cache=True)
def _push_block(buf, cnt, start0, w, hs, h0, h1, size, cap):
    for t in range(cnt):
        size = _heap_push(hs, h0, h1, size, cap, buf[t], start0 + t, start0 + t + w)
    return size


@njit(cache=True)
def _make_blocks(offsets, block):
    """Split every video's start positions into blocks: (start, count, video)."""
    nv = offsets.shape[0] - 1
    nb = 0
    for v in range(nv):
        nb += (offsets[v + 1] - offsets[v] + block - 1) // block
    bs = np.empty(nb, np.int64)
    bc = np.empty(nb, np.int64)
    bv = np.empty(nb, np.int64)
    p = 0
    for v in range(nv):
        s0 = offsets[v]
        while s0 < offsets[v + 1]:
            bs[p] = s0
            bc[p] = min(block, offsets[v + 1] - s0)
            bv[p] = v
            p += 1
            s0 += block
    return bs, bc, bv


@njit(cache=True, parallel=True)
def _block_bounds(bits, offsets, bs, bc, bv, wmax, out):
    """Upper bound of every window starting in a block: max clip score it can reach.

    ``bits`` is the float32 scores viewed as int32; the max is taken over the order-preserving
    integer key ``b ^ ((b >> 31) & 0x7fffffff)`` (monotone in the float value for non-NaN
    floats), because an integer max reduction vectorises while a float one without ``nnan``
    does not (measured ~2.0 -> ~0.6 ms at N = 1M). ``out`` gets the key of the block max
    (:func:`_keys_to_float` converts back, exactly). Returns the number of non-finite scores
    seen (blocks overlap, so > 0 is what counts).
    """
    nbad = 0
    for i in prange(bs.shape[0]):
        s0 = bs[i]
        reach = min(offsets[bv[i] + 1], s0 + bc[i] + wmax - 1)
        m = np.int64(-(1 << 62))
        bad = 0
        for e in range(s0, reach):
            b = np.int64(bits[e])
            m = max(m, b ^ ((b >> 31) & 0x7FFFFFFF))
            bad += (b & 0x7F800000) == 0x7F800000
        out[i] = m
        nbad += bad
    return nbad


def _keys_to_float(keys):
    """Inverse of the integer key of :func:`_block_bounds`: float32 values."""
    return (keys ^ ((keys >> 31) & 0x7FFFFFFF)).astype(np.int32).view(np.float32)


@njit(cache=True)
def _collect(scores, offsets, lengths, bonus, full_bonus_by_len, use_max,
             bs, bc, bv, bound, order, cap, hs, h0, h1):
    """Best-first: visit blocks by decreasing upper bound, keep the best ``cap`` windows.

    Stops as soon as the heap is full and the next block's bound (clip max + best bonus) is
    below the heap's worst window: a mean or max of clip scores never exceeds their max, so
    every window not visited ranks below the heap. Returns (size, complete) where complete
    means every window was visited or bounded out, i.e. the heap is the exact global top
    ``cap``.
    """
    nw = lengths.shape[0]
    wmax = lengths[nw - 1]
    best_bonus = bonus[0]
    for li in range(nw):
        best_bonus = max(best_bonus, bonus[li])
    for li in range(full_bonus_by_len.shape[0]):
        best_bonus = max(best_bonus, full_bonus_by_len[li])
    size = 0
    buf = np.empty(_BLOCK, np.float64)
    dq = np.empty(_BLOCK + wmax, np.int64)
    lp = np.empty(_BLOCK + wmax, np.float64)  # local float64 prefix sums of the block
    for oi in range(order.shape[0]):
        bi = order[oi]
        # 1e-6 slack: a float64 prefix-sum mean may exceed its clip max by rounding
        if size == cap and np.float64(bound[bi]) + best_bonus + 1e-6 < hs[0]:
            break
        s0 = bs[bi]
        cnt = bc[bi]
        v = bv[bi]
        vs = offsets[v]
        ve = offsets[v + 1]
        L = ve - vs
        r = 0  # number of lengths < L
        for li in range(nw):
            if lengths[li] < L:
                r += 1
        if r < nw and s0 == vs:
            # whole-video window (the video is not longer than some length)
            if use_max:
                x = scores[vs]
                for e in range(vs + 1, ve):
                    x = max(x, scores[e])
                s = np.float64(x)
            else:
                acc = 0.0
                for e in range(vs, ve):
                    acc += np.float64(scores[e])
                s = acc / L
            size = _heap_push(hs, h0, h1, size, cap, s + full_bonus_by_len[r], vs, ve)
        if r > 0 and not use_max:
            reach = min(ve, s0 + cnt + wmax - 1)
            acc = 0.0
            lp[0] = 0.0
            for e in range(s0, reach):
                acc += np.float64(scores[e])
                lp[e - s0 + 1] = acc
        for li in range(r):
            w = lengths[li]
            bo = bonus[li]
            ncnt = min(cnt, ve - w + 1 - s0)  # starts with s + w <= ve
            if ncnt <= 0:
                continue
            if use_max:
                # sliding-window max with a monotone deque over [s0, s0+ncnt+w-1)
                head = 0
                tail = 0
                for e in range(s0, s0 + ncnt + w - 1):
                    x = scores[e]
                    while tail > head and scores[dq[tail - 1]] <= x:
                        tail -= 1
                    dq[tail] = e
                    tail += 1
                    st = e - w + 1
                    if st >= s0:
                        if dq[head] < st:
                            head += 1
                        buf[st - s0] = np.float64(scores[dq[head]]) + bo
            else:
                inv = 1.0 / w
                for t in range(ncnt):
                    buf[t] = (lp[t + w] - lp[t]) * inv + bo
            if size < cap:
                size = _push_block(buf, ncnt, s0, w, hs, h0, h1, size, cap)
                continue
            thr = hs[0]
            npass = 0
            for t in range(ncnt):
                npass += buf[t] >= thr
            if npass == 0:
                continue
            for t in range(ncnt):
                if buf[t] >= thr:
                    size = _heap_push(hs, h0, h1, size, cap, buf[t], s0 + t, s0 + t + w)
                    thr = hs[0]
    return size


@njit(cache=True)
def _select(hs, h0, h1, size, cap, offsets, k, max_overlap, begins, ends, out_s, out_a, out_b):
    """Greedy suppression over the heap's windows in rank order.

    Returns (n_kept, exact). When the heap is full, windows ranked below its root may be
    missing; ``exact`` is False if suppression needed to go past the root before keeping k.
    """
    has_horizon = size == cap
    ts = hs[0]
    ta = h0[0]
    tb = h1[0]
    n = size
    ms = hs[:n].copy()
    ma = h0[:n].copy()
    mb = h1[:n].copy()
    # heapify as a max-heap (best at root)
    for start in range(n // 2 - 1, -1, -1):
        _sift_down_best(ms, ma, mb, start, n)
    kept = 0
    kv = np.empty(k, np.int64)
    while n > 0 and kept < k:
        s = ms[0]
        a = ma[0]
        b = mb[0]
        # pop
        n -= 1
        ms[0] = ms[n]
        ma[0] = ma[n]
        mb[0] = mb[n]
        _sift_down_best(ms, ma, mb, 0, n)
        vid = np.searchsorted(offsets, a, side="right") - 1
        ok = True
        la = ends[b - 1] - begins[a]
        for t in range(kept):
            if kv[t] != vid:
                continue
            inter = min(ends[b - 1], ends[out_b[t] - 1]) - max(begins[a], begins[out_a[t]])
            if inter <= 0:
                continue
            if inter / min(la, ends[out_b[t] - 1] - begins[out_a[t]]) > max_overlap:
                ok = False
                break
        if ok:
            out_s[kept] = s
            out_a[kept] = a
            out_b[kept] = b
            kv[kept] = vid
            kept += 1
        if has_horizon and a == ta and b == tb and s == ts:
            # the root was just consumed: anything after it may be missing
            return kept, kept >= k
    return kept, (kept >= k) or (not has_horizon)


def top_windows(clip_scores, video_offsets, window_lengths, k, mode="mean", max_overlap=0.5,
                length_bonus=None, pool=None, times=None):
    """Best ``k`` windows after per-video overlap suppression.

    Returns ``(start int64[m], stop int64[m], score float64[m])``, m <= k, best first; start
    and stop are global clip indices, stop exclusive; the scores are the float64 values the
    windows were ranked on, so that windows of several calls merge in the same order. See the module docstring for the exact
    rules. ``times`` (float64 [N] starts, float64 [N] ends of the clips) measures overlap in
    seconds. ``pool`` (candidate heap size, default ``16 * k + 64``, grown 4x as needed) only
    affects speed, never the result.
    """
    k, s, off, lengths, bonus, full_bonus, begins, ends = window_arguments(
        clip_scores, video_offsets, window_lengths, k, mode, max_overlap, length_bonus, times)
    n = s.shape[0]
    if n == 0:
        return no_windows()
    bs, bc, bv = _make_blocks(off, _BLOCK)
    keys = np.empty(bs.shape[0], np.int64)
    if _block_bounds(s.view(np.int32), off, bs, bc, bv, int(lengths[-1]), keys):
        bad = int(np.flatnonzero(~np.isfinite(s))[0])
        raise ValueError(f"clip_scores[{bad}] is NaN or infinite; scores must be finite")
    bound = _keys_to_float(keys)
    order = np.argsort(-bound, kind="stable")
    cap = int(pool) if pool is not None else 16 * k + 64
    n_windows_max = n * lengths.shape[0]
    while True:
        cap = max(1, min(cap, n_windows_max))
        hs = np.empty(cap, np.float64)
        h0 = np.empty(cap, np.int64)
        h1 = np.empty(cap, np.int64)
        size = _collect(s, off, lengths, bonus, full_bonus, mode == "max",
                        bs, bc, bv, bound, order, cap, hs, h0, h1)
        out_s = np.empty(k, np.float64)
        out_a = np.empty(k, np.int64)
        out_b = np.empty(k, np.int64)
        kept, exact = _select(hs, h0, h1, size, cap, off, k, float(max_overlap), begins, ends,
                              out_s, out_a, out_b)
        if exact or cap >= n_windows_max:
            return out_a[:kept].copy(), out_b[:kept].copy(), out_s[:kept].copy()
        cap *= 4


def refine_windows(clip_scores, video_offsets, window_lengths, k, rescore, mode="mean",
                   max_overlap=0.5, length_bonus=None, candidates=4, times=None):
    """:func:`top_windows` over approximate scores (int8, or a binary prefilter's), corrected
    where it matters: the best ``candidates * k`` windows are found on ``clip_scores``, and
    :func:`rerank_windows` ranks them again on exact scores. Near-ties that quantisation noise
    would swap come out as the exact scores rank them, for the cost of a few thousand rows."""
    return refine_with(top_windows, clip_scores, video_offsets, window_lengths, k, rescore, mode=mode,
                       max_overlap=max_overlap, length_bonus=length_bonus, candidates=candidates, times=times)


def rerank_windows(starts, stops, video_offsets, window_lengths, k, rescore, mode="mean",
                   max_overlap=0.5, length_bonus=None, times=None):
    """The best ``k`` windows among the clips within the longest window length of candidate
    windows ``[starts, stops)``, on the scores ``rescore(rows) -> float32[len(rows)]`` gives
    those clips (exact scores, e.g. from a float16 copy on disk). The clips form runs inside
    videos; candidates cut into sets of whole videos rerank to the same windows set by set."""
    return rerank_with(top_windows, starts, stops, video_offsets, window_lengths, k, rescore, mode=mode,
                       max_overlap=max_overlap, length_bonus=length_bonus, times=times)
