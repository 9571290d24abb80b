"""Compiled (Numba) kernels for vmr search: pure functions on numpy arrays, no vmr imports.

All cores are ``@njit(cache=True)`` (parallel where it pays); thin Python wrappers validate
inputs (dtype, shape, k <= 0, NaN/inf) and handle empty inputs.

API::

    quantize_int8(x f32[N,D]) -> (codes i8[N,D], scales f32[N])        # x ~= codes * scale
    cosine_scores(matrix, query, scales=None) -> f32[N]                # f32 / f16 / i8+scales
    cosine_scores_batch(matrix, queries f32[Q,D], scales=None) -> f32[Q,N]
    fuse_channels(scores f32[C,N], present bool[C,N], weights f32[C]) -> f32[N]
    top_windows(clip_scores, video_offsets, window_lengths, k, mode="mean",
                max_overlap=0.5, length_bonus=None, pool=None, times=None) -> (start, stop, score f64)
    pack_sign_bits(x f32[N,D] | f32[D], rotate=True) -> u64[N, ceil(D/64)] | u64[ceil(D/64)]
    hamming_topk(codes u64[N,B], query_code u64[B], m) -> i64[min(m, N)]
    prefiltered_scores(codes, query_code, matrix, scales, query, n_candidates,
                       fill="estimate") -> f32[N]
    hamming_histogram(codes, query_code) -> i64[bits+1]                # the same prefilter,
    prefilter_threshold(histogram, n_candidates) -> int                # shard by shard:
    prefilter_floor(codes, query_code, matrix, scales, query, threshold) -> float
    prefiltered_scores_within(codes, query_code, matrix, scales, query, threshold, floor) -> f32[N]
    scores_at(rows i64[M], matrix, scales, query) -> f32[M]            # exact, given rows only
    refine_windows(clip_scores, video_offsets, window_lengths, k, rescore, ...) -> (start, stop, score)
    rerank_windows(starts, stops, video_offsets, window_lengths, k, rescore, ...) -> (start, stop, score)

Recommended search storage: int8 codes + per-row scales (D + 4 bytes per clip, memory-bound
scan). For large indexes, ``prefiltered_scores`` with ~0.5% of N candidates (min 4096) on top
of 48-64 extra bytes per clip of sign bits is ~3x faster again; see bench/kernels_bench.py.
"""
# NB: a different PyPI package is also called ``kernels``; transformers probes for it and
# treats versions >= 0.18 as that package. Keep ours below 0.18.
__version__ = "0.1.0"

import os as _os

# Numba's OpenMP layer spins its workers after every parallel region by default. With our
# millisecond kernels on a machine shared with other work (indexing, BLAS threads, another
# process), spinning workers and oversubscription made a 1M-clip pass 10x slower (48 ms vs
# 3.5 ms measured). Passive waiting costs one futex wake per region (microseconds). This only
# takes effect if no OpenMP runtime has been loaded yet, and never overrides an explicit setting.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .binary import (
    hamming_histogram, hamming_topk, pack_sign_bits, prefilter_floor, prefilter_threshold, prefiltered_scores,
    prefiltered_scores_within, rotation, scores_at,
)
from .fusion import fuse_channels
from .quantize import quantize_int8
from .scoring import cosine_scores, cosine_scores_batch
from .windows import refine_windows, rerank_windows, top_windows, window_neighbourhood

__all__ = [
    "__version__",
    "cosine_scores",
    "cosine_scores_batch",
    "fuse_channels",
    "hamming_histogram",
    "hamming_topk",
    "pack_sign_bits",
    "prefilter_floor",
    "prefilter_threshold",
    "prefiltered_scores",
    "prefiltered_scores_within",
    "quantize_int8",
    "refine_windows",
    "rerank_windows",
    "rotation",
    "scores_at",
    "top_windows",
    "window_neighbourhood",
]
