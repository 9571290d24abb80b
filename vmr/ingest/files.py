"""The files to index: folders searched for videos, each file checked, stat-ed and hashed."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from vmr.errors import MediaError, VmrError
from vmr.ingest.media import VIDEO_EXTENSIONS


@dataclass(frozen=True)
class FailedInput:
    path: str
    error: str

    @classmethod
    def of(cls, path: Path, error: VmrError | str) -> FailedInput:
        """Without the message's leading file name: `path` says it."""
        return cls(str(path), str(error).removeprefix(f"{path}: "))


def discover(paths: Iterable[str | Path]) -> tuple[list[Path], list[FailedInput]]:
    """Files named directly are taken as they are (a non-video then fails with its reason);
    folders are searched recursively for video extensions."""
    files: list[Path] = []
    failed: list[FailedInput] = []
    for raw in paths:
        path = Path(raw).expanduser().absolute()
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS
            )
            if not found:
                failed.append(FailedInput(str(path), "folder holds no video files"))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        elif path.exists():
            failed.append(FailedInput(str(path), "not a regular file"))
        else:
            failed.append(FailedInput(str(path), "no such file or folder"))
    unique = list(dict.fromkeys(p.resolve() for p in files))
    return unique, failed


def content_hash(path: Path, progress: Callable[[int, int], None] | None = None) -> str:
    digest = hashlib.sha256()
    size = path.stat().st_size
    done = 0
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 22):
                digest.update(chunk)
                done += len(chunk)
                if progress:
                    progress(done, size)
    except PermissionError as exc:
        raise MediaError(path, "permission denied (cannot read the file)") from exc
    except OSError as exc:
        raise MediaError(path, f"cannot read: {exc.strerror or exc}") from exc
    return digest.hexdigest()


def file_stat(path: Path) -> os.stat_result:
    try:
        stat = path.stat()
    except OSError as exc:
        raise MediaError(path, f"cannot read: {exc.strerror or exc}") from exc
    if stat.st_size == 0:
        raise MediaError(path, "empty file (0 bytes)")
    return stat
