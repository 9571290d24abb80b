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

# Each public name and the module that defines it. The modules are imported on first use
# (PEP 562): importing Numba and loading the compiled kernels costs a fresh process most of a
# second, and a search over a small library needs neither (see for_clips and kernels.small).
_HOMES = {
    "hamming_histogram": "binary", "hamming_topk": "binary", "pack_sign_bits": "binary",
    "prefilter_floor": "binary", "prefilter_threshold": "binary", "prefiltered_scores": "binary",
    "prefiltered_scores_within": "binary", "rotation": "binary", "scores_at": "binary",
    "fuse_channels": "fusion",
    "quantize_int8": "quantize",
    "cosine_scores": "scoring", "cosine_scores_batch": "scoring",
    "refine_windows": "windows", "rerank_windows": "windows", "top_windows": "windows",
    "window_neighbourhood": "windows",
}

__all__ = ["__version__", "for_clips", "SMALL_LIBRARY", *sorted(_HOMES)]

# Below this many clips in the whole library (about 11 hours of video at 2-s clips), a search
# runs the numpy twins of kernels.small: there the work takes milliseconds in numpy, less than
# loading Numba's compiled kernels into a fresh process (bench/cold_search.py).
SMALL_LIBRARY = 20_000


def for_clips(library_clips):
    """The kernels to search a library of this many clips with: :mod:`kernels.small` (numpy,
    no Numba import) below :data:`SMALL_LIBRARY`, else these. Decide on the whole library's
    size, so that every shard of a library runs the same arithmetic."""
    if library_clips < SMALL_LIBRARY:
        from . import small

        return small
    import sys

    return sys.modules[__name__]


def __getattr__(name):
    module = _HOMES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_HOMES))
