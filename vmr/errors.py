"""Errors that reach the user as one line: what went wrong, and with which file."""

from __future__ import annotations

from pathlib import Path


class VmrError(Exception):
    """An error the CLI prints as a single line before exiting non-zero."""


class MediaError(VmrError):
    """A file that cannot be decoded as a video (or its audio)."""

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ModelError(VmrError):
    """Model weights that are missing, corrupt or cannot be loaded."""


class QueryError(VmrError):
    """A search request that cannot be answered as asked (empty query, bad k)."""
