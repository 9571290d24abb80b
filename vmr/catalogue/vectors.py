"""Clip vectors, one file per video, channel and model, under `HOME/clip-vectors`.

Vectors are derived data (a model's view of what the catalogue holds), and most of a library's
bytes: the catalogue only records which channels a video has and from which model
(`VideoChannel`), and the search build reads the vectors from here. A file is named by the
video's content hash, so a moved file keeps its vectors and two copies of one video share them.
Each holds float32 [clips, dim], a row of NaN where the clip has no vector for the channel
(speech needs words). Files are written whole under a temporary name, then renamed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path

import numpy as np

from vmr.errors import VmrError

FOLDER = "clip-vectors"


def model_key(model: str) -> str:
    """A file-name-safe key for a model name (hub ids and paths hold slashes)."""
    return hashlib.sha256(model.encode("utf-8")).hexdigest()[:16]


class VectorFiles:
    def __init__(self, home: Path):
        self.root = home / FOLDER

    def path(self, content_hash: str, channel: str, model: str) -> Path:
        return self.root / content_hash[:2] / content_hash / f"{channel}.{model_key(model)}.npy"

    def write(self, content_hash: str, channel: str, model: str, rows: int,
              vectors: dict[int, np.ndarray]) -> int:
        """The vectors of clips 0..rows-1 (absent ones NaN); returns their dimension."""
        dim = len(next(iter(vectors.values())))
        matrix = np.full((rows, dim), np.nan, dtype=np.float32)
        for row, vector in vectors.items():
            matrix[row] = vector
        target = self.path(content_hash, channel, model)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
        with open(partial, "wb") as handle:
            np.save(handle, matrix)
        os.replace(partial, target)
        return dim

    def read(self, content_hash: str, channel: str, model: str) -> np.ndarray:
        """float32 [clips, dim], memory-mapped; NaN rows where the clip has no vector."""
        path = self.path(content_hash, channel, model)
        try:
            found = np.load(path, mmap_mode="r")
        except (OSError, ValueError) as exc:
            raise VmrError(f"{path}: cannot read the clip vectors ({exc.strerror if isinstance(exc, OSError) else exc})") from exc
        if found.ndim != 2 or found.dtype != np.float32:
            raise VmrError(f"{path}: not clip vectors (float32 [clips, dim])")
        return found

    def prune(self, keep: set[Path]) -> int:
        """Delete every vector file not in `keep` (the files the catalogue refers to), and the
        folders left empty; returns how many files went. Only the writer calls this."""
        removed = 0
        if not self.root.is_dir():
            return 0
        for path in self.root.glob("*/*/*"):
            if path not in keep and path.is_file():
                path.unlink(missing_ok=True)
                removed += 1
        for folder in sorted(self.root.glob("*/*"), reverse=True) + sorted(self.root.glob("*")):
            if folder.is_dir() and not any(folder.iterdir()):
                shutil.rmtree(folder, ignore_errors=True)
        return removed
