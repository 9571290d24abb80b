"""Weighted fusion of per-channel clip scores (e.g. transcript, frames, OCR)."""
import numpy as np
from numba import njit, prange

from .checks import fuse_arguments


@njit(cache=True, parallel=True)
def _fuse(scores, present, weights, out):
    c, n = scores.shape
    for i in prange(n):
        num = 0.0
        den = 0.0
        for ch in range(c):
            if present[ch, i]:
                w = np.float64(weights[ch])
                num += w * np.float64(scores[ch, i])
                den += w
        out[i] = np.float32(num / den) if den != 0.0 else np.float32(0.0)


def fuse_channels(scores, present, weights):
    """float32[C, N] scores, bool[C, N] present, float32[C] weights -> float32[N].

    Per clip: ``sum_c w_c s_c / sum_c w_c`` over the channels present for that clip, so a clip
    missing a channel is not punished; a clip with no channel (or zero total weight) gets 0.
    Weights must be finite and >= 0; scores of present entries must be finite.
    """
    s, p, w = fuse_arguments(scores, present, weights)
    out = np.empty(s.shape[1], np.float32)
    if s.shape[1]:
        if s.shape[0] == 0:
            out[:] = 0
        else:
            _fuse(s, p, w, out)
    return out
