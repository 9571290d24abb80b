"""Sharded search: the clip matrix cut into row ranges of whole videos, each searched on its
own (on a Ray worker, see `vmr.cluster`), the shards' top k merged.

Exact by construction: a window never spans two videos and overlap suppression only compares
windows of one video, so each shard's kept windows are the global greedy's kept windows of its
videos, in the same order. The global top k is therefore the best k of the shards' top k, in
the kernel's order (score, then start, then stop). Only scores that differ below float32
resolution, which the kernel ranks in float64, could tie here and be ordered by start instead.
With the binary prefilter (large libraries) each shard reranks its own 0.5 % of candidates, so
the sharded and single results are then two approximations of the same exact answer.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from vmr.search.lexical import Query
from vmr.search.options import SearchOptions
from vmr.search.windows import Windows, search_windows
from vmr.search.matrices import ClipMatrix

def shard_bounds(video_offsets: np.ndarray, shards: int) -> list[tuple[int, int]]:
    """Video index ranges [first, stop) of at most `shards` runs of whole videos with about
    equal numbers of clips (fewer when a video is larger than a share)."""
    offsets = np.asarray(video_offsets)
    videos = len(offsets) - 1
    if videos < 1:
        return []
    targets = np.arange(1, shards) * (offsets[-1] / shards)
    after = np.searchsorted(offsets, targets).clip(1, videos)  # the video boundary at or after
    nearest = np.where(targets - offsets[after - 1] < offsets[after] - targets, after - 1, after)
    edges = np.unique(np.concatenate([[0], nearest, [videos]]))
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def shard_view(matrix: ClipMatrix, first: int, stop: int) -> tuple[ClipMatrix, int]:
    """Videos [first, stop) as a matrix of their own (views, no copies) and its first row."""
    row0, row1 = int(matrix.video_offsets[first]), int(matrix.video_offsets[stop])
    rows = slice(row0, row1)

    def part(array: np.ndarray | None) -> np.ndarray | None:
        return None if array is None else array[rows]

    channels = {
        name: replace(c, vectors=c.vectors[rows], scales=part(c.scales), present=c.present[rows],
                      codes=part(c.codes), exact=part(c.exact))
        for name, c in matrix.channels.items()
    }
    # No lexical index: its documents are addressed by rows of the whole matrix (shards rank
    # on the dense channels).
    shard = replace(matrix, lexical=None, video_ids=matrix.video_ids[first:stop],
                    video_offsets=np.asarray(matrix.video_offsets[first:stop + 1]) - row0,
                    starts=matrix.starts[rows], ends=matrix.ends[rows], channels=channels)
    return shard, row0


def search_shard(shard: ClipMatrix, row0: int, query_vectors: dict[str, np.ndarray], queries: list[Query],
                 options: SearchOptions, lengths: np.ndarray) -> list[Windows]:
    """Per query, the shard's top k windows in rows of the whole matrix. `lengths` are the
    whole library's window lengths, so that every shard ranks the same windows."""
    found = search_windows(shard, query_vectors, queries, options, lengths)
    return [(first + row0, stop + row0, value) for first, stop, value in found]


def merge(per_shard: list[list[Windows]], k: int) -> list[Windows]:
    """Per query, the best k of all shards' windows, in the kernel's order."""
    merged = []
    for windows in zip(*per_shard):
        first, stop, value = (np.concatenate(column) for column in zip(*windows))
        order = np.lexsort((stop, first, -value))[:k]
        merged.append((first[order], stop[order], value[order]))
    return merged
