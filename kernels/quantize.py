"""Symmetric per-row int8 quantisation: ``x ~= codes * scale[:, None]``."""
import numpy as np
from numba import njit, prange

from ._util import not_finite


@njit(cache=True, parallel=True)
def _quantize_int8(x, codes, scales):
    n, d = x.shape
    nbad = 0
    for i in prange(n):
        m = np.float32(0.0)
        bad = False
        for j in range(d):
            v = x[i, j]
            if not_finite(v):
                bad = True
            a = abs(v)
            if a > m:
                m = a
        if bad:
            nbad += 1
            scales[i] = np.float32(np.nan)
            for j in range(d):
                codes[i, j] = 0
            continue
        if m == 0:
            scales[i] = np.float32(0.0)
            for j in range(d):
                codes[i, j] = 0
            continue
        s = m / np.float32(127.0)
        inv = np.float32(127.0) / m
        scales[i] = s
        for j in range(d):
            r = np.floor(x[i, j] * inv + np.float32(0.5))
            if r > 127:
                r = 127
            elif r < -127:
                r = -127
            codes[i, j] = np.int8(r)
    return nbad


def quantize_int8(x):
    """Quantise float32[N, D] rows to int8 with one symmetric scale per row.

    Returns ``(codes int8[N, D], scales float32[N])`` with ``scale = max|row| / 127`` and
    ``codes = floor(row / scale + 0.5)`` clipped to [-127, 127], so ``x ~= codes * scale``
    (error <= scale / 2 per element). A zero row gets scale 0 and zero codes. Rows with NaN or
    infinity raise ValueError. Stored bytes per row: D + 4.
    """
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"quantize_int8 expects a 2-D array, got shape {x.shape}")
    if x.dtype != np.float32:
        if x.dtype.kind != "f":
            raise ValueError(f"quantize_int8 expects float32, got {x.dtype}")
        x = x.astype(np.float32)
    x = np.ascontiguousarray(x)
    n, d = x.shape
    codes = np.empty((n, d), np.int8)
    scales = np.empty(n, np.float32)
    if n == 0 or d == 0:
        scales[:] = 0
        return codes, scales
    if _quantize_int8(x, codes, scales):
        bad = int(np.flatnonzero(np.isnan(scales))[0])
        raise ValueError(f"matrix row {bad} contains NaN or infinity")
    return codes, scales
