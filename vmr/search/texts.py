"""Many strings as two arrays (UTF-8 bytes and offsets), so that a search build can hold every
word and document text of a library memory-mapped, and a shard can take a slice of them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Texts:
    offsets: np.ndarray  # int64 [n+1]: string i is blob[offsets[i]:offsets[i+1]]
    blob: np.ndarray  # uint8, UTF-8

    @classmethod
    def of(cls, strings: list[str]) -> Texts:
        encoded = [s.encode("utf-8") for s in strings]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(b) for b in encoded], out=offsets[1:])
        return cls(offsets, np.frombuffer(b"".join(encoded), dtype=np.uint8).copy())

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> str:
        return bytes(self.blob[self.offsets[i]:self.offsets[i + 1]]).decode("utf-8")

    def run(self, first: int, stop: int) -> list[str]:
        """Strings [first, stop)."""
        return [self[i] for i in range(first, stop)]

    def part(self, first: int, stop: int) -> Texts:
        """Strings [first, stop) as texts of their own (views of the blob)."""
        offsets = np.asarray(self.offsets[first:stop + 1])
        return Texts(offsets - offsets[0], self.blob[offsets[0]:offsets[-1]])

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}.offsets": self.offsets, f"{prefix}.blob": self.blob}

    @classmethod
    def load(cls, arrays: dict[str, np.ndarray], prefix: str) -> Texts:
        return cls(arrays[f"{prefix}.offsets"], arrays[f"{prefix}.blob"])
