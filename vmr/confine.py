"""Nothing outside the library's home and vmr's cache: settings for the libraries vmr loads,
made before any of them is imported (vmr/__init__ imports this first).

- ONNX Runtime (slide OCR, Whisper's voice detection) sends usage telemetry by default: it
  keeps a device id under ~/.cache/Microsoft/DeveloperTools, an event queue beside it and a
  session file in $TMPDIR. vmr is offline first: telemetry off.
- torch compiles kernels into $TMPDIR/torchinductor_$USER (and Triton into ~/.triton): into
  vmr's cache instead.
- Numba caches the compiled search kernels beside their source, in the package; where the
  package is not writable (a system install), in vmr's cache rather than ~/.cache/numba.

Each is a default: a setting made in the environment wins.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """vmr's cache: $VMR_CACHE, else the user cache dir (~/.cache/vmr). Models live in its
    `models` folder."""
    root = os.environ.get("VMR_CACHE")
    if not root:
        from platformdirs import user_cache_dir

        root = user_cache_dir("vmr")
    return Path(root).expanduser()


def confine() -> None:
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    cache = cache_root()
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(cache / "torchinductor"))
    os.environ.setdefault("TRITON_CACHE_DIR", str(cache / "triton"))
    kernels = Path(__file__).resolve().parent.parent / "kernels"
    if "NUMBA_CACHE_DIR" not in os.environ and not os.access(kernels, os.W_OK):
        os.environ["NUMBA_CACHE_DIR"] = str(cache / "numba")


confine()
