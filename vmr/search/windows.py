"""Per-clip scores -> the best temporal windows: w consecutive clips of one video, ranked by the
kernels with overlap suppression, and ranked again on exact scores where the scan was
approximate."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vmr.search.build import SearchBuild
from vmr.search.fusion import kernels_for
from vmr.search.options import SearchOptions

Windows = tuple[np.ndarray, np.ndarray, np.ndarray]  # first rows, stop rows, scores; best first
NO_WINDOWS: Windows = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64))


def window_lengths(clip_seconds: float, seconds: tuple[float, ...]) -> np.ndarray:
    """Window lengths in clips, from the library's typical clip length."""
    # sorted(set()), not np.unique, which imports numpy.ma (tens of ms in a cold search)
    return np.array(sorted(set(np.maximum(1, np.round(np.array(seconds) / max(clip_seconds, 1e-6))).tolist())),
                    dtype=np.float64).astype(np.int64)


def _kernel_options(build: SearchBuild, options: SearchOptions, lengths: np.ndarray) -> dict:
    return dict(mode=options.mode, max_overlap=options.max_overlap,
                length_bonus=(options.length_bonus * np.log2(lengths)).astype(np.float32),
                times=(build.starts, build.ends))


def best_windows(build: SearchBuild, scores: np.ndarray, options: SearchOptions, lengths: np.ndarray,
                 count: int) -> Windows:
    """The best `count` non-overlapping windows of one query's clip scores, best first."""
    kernels = kernels_for(build)

    if build.clip_count == 0:
        return NO_WINDOWS
    return kernels.top_windows(scores, np.asarray(build.video_offsets), lengths, count,
                               **_kernel_options(build, options, lengths))


def rerank(build: SearchBuild, candidates: Windows, options: SearchOptions, lengths: np.ndarray, count: int,
           rescore: Callable[[np.ndarray], np.ndarray]) -> Windows:
    """The best `count` windows around the candidates (windows found on approximate scores),
    on the exact scores `rescore(rows)` gives."""
    kernels = kernels_for(build)

    if not len(candidates[0]):
        return NO_WINDOWS
    return kernels.rerank_windows(candidates[0], candidates[1], np.asarray(build.video_offsets), lengths, count,
                                  rescore, **_kernel_options(build, options, lengths))


def merge(found: list[Windows], count: int) -> Windows:
    """The best `count` of several parts' windows (rows of the whole build), in the kernel's
    order: score, then start, then stop."""
    first, stop, value = (np.concatenate(column) for column in zip(*found))
    order = np.lexsort((stop, first, -value))[:count]
    return first[order], stop[order], value[order]
