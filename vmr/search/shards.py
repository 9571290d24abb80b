"""Sharded search: the build's rows cut into runs of whole videos of about equal size, each
searched by its own `Part` (on a Ray worker, see `vmr.cluster`), through the same steps as one
process (`vmr.search.parts`), so the merged moments are exactly the single process's.
"""

from __future__ import annotations

import numpy as np


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
