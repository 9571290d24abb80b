"""Per-clip scores -> the best temporal windows: w consecutive clips of one video, ranked by the
kernels with overlap suppression, and ranked again on exact scores where the scan was
approximate."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vmr.search import lexical
from vmr.search.fusion import clip_scores, exact_scores_at
from vmr.search.lexical import Query
from vmr.search.matrices import ClipMatrix
from vmr.search.options import SearchOptions


def window_lengths(matrix: ClipMatrix, seconds: tuple[float, ...]) -> np.ndarray:
    """Window lengths in clips, from the library's typical clip length (a video's last clip,
    or a whole video shorter than one clip, is shorter than the rest)."""
    sample = slice(0, 4096)
    clip_seconds = float(np.median(matrix.ends[sample] - matrix.starts[sample])) if matrix.clip_count else 2.0
    return np.unique(np.maximum(1, np.round(np.array(seconds) / max(clip_seconds, 1e-6)))).astype(np.int64)


Windows = tuple[np.ndarray, np.ndarray, np.ndarray]  # first rows, stop rows, scores; best first


def ranked_windows(matrix: ClipMatrix, scores: np.ndarray, options: SearchOptions,
                   rescore: Callable[[np.ndarray], np.ndarray] | None = None,
                   lengths: np.ndarray | None = None) -> Windows:
    """The best non-overlapping windows, best first. With `rescore` (rows -> exact fused
    scores), windows found on approximate scores are ranked again on exact ones around them.
    `lengths`: window lengths in clips when the matrix is a shard of a larger one."""
    import kernels

    if lengths is None:
        lengths = window_lengths(matrix, options.window_seconds)
    window_options = dict(
        mode=options.mode, max_overlap=options.max_overlap,
        length_bonus=(options.length_bonus * np.log2(lengths)).astype(np.float32),
    )
    offsets = np.asarray(matrix.video_offsets)
    if rescore is not None and any(c.approximate for c in matrix.channels.values()):
        return kernels.refine_windows(scores, offsets, lengths, options.k, rescore, **window_options)
    return kernels.top_windows(scores, offsets, lengths, options.k, **window_options)


def search_windows(matrix: ClipMatrix, query_vectors: dict[str, np.ndarray], queries: list[Query],
                   options: SearchOptions, lengths: np.ndarray | None = None) -> list[Windows]:
    """Per query, the best windows: scored, fused, ranked, and refined on exact scores (what
    a shard returns; moments() also snaps edges and explains each)."""
    if matrix.clip_count == 0:
        return [(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32))] * len(queries)
    scores = clip_scores(matrix, query_vectors, queries, options)
    return [ranked_windows(matrix, scores.fused[q], options,
                           lambda rows, q=q: exact_scores_at(matrix, rows, query_vectors, scores, q), lengths)
            for q in range(len(queries))]


def warm_up(matrix: ClipMatrix) -> None:
    """Run the search kernels once on the library's own arrays, so that Numba compiles (and
    caches) them now, at the end of an index run, rather than in the user's first search."""
    dims = {c.model: c.vectors.shape[1] for c in matrix.channels.values()}
    probe = {model: np.ones((1, dim), dtype=np.float32) for model, dim in dims.items()}
    search_windows(matrix, probe, [lexical.parse_query("warm up")], SearchOptions())


