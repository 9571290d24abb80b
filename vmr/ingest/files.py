"""The files to index: folders searched for videos, each file checked, stat-ed and hashed."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from vmr.errors import MediaError, VmrError, not_utf8, os_problem
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
    folders are searched recursively for video extensions. A path that cannot be taken (no
    such file, a symlink loop, a name too long or not UTF-8) is a failure with its reason,
    also inside a folder: a link named like a video that leads nowhere is reported, not
    skipped."""
    files: list[Path] = []
    failed: list[FailedInput] = []
    for raw in paths:
        path = Path(raw).expanduser().absolute()
        mode = _mode(path)
        if isinstance(mode, FailedInput):
            failed.append(mode)
            continue
        if stat.S_ISDIR(mode):
            found, inner_failed = _videos_in(path)
            if not found and not inner_failed:
                failed.append(FailedInput(str(path), "folder holds no video files"))
            files.extend(found)
            failed.extend(inner_failed)
        elif stat.S_ISREG(mode):
            files.append(path)
        else:
            failed.append(FailedInput(str(path), "not a regular file"))
    unique, seen = [], set()
    for file in files:
        try:
            real = file.resolve()
        except OSError as exc:  # a loop further up the path, found while resolving
            failed.append(FailedInput(str(file), os_problem(exc)))
            continue
        if real not in seen:
            seen.add(real)
            unique.append(real)
    return unique, failed


def _videos_in(folder: Path) -> tuple[list[Path], list[FailedInput]]:
    """The video files under a folder (symlinks to folders are not followed), sorted, and
    the entries named like videos that cannot be read as files."""
    found, failed = [], []
    for entry in folder.rglob("*"):
        if entry.suffix.lower() not in VIDEO_EXTENSIONS:
            continue
        mode = _mode(entry)
        if isinstance(mode, FailedInput):
            failed.append(mode)
        elif stat.S_ISREG(mode):
            found.append(entry)
    return sorted(found), sorted(failed, key=lambda f: f.path)


def _mode(path: Path) -> int | FailedInput:
    """The path's st_mode, or why it cannot be taken: a name not UTF-8, no such file, a link to
    nothing, a loop, a name too long."""
    problem = not_utf8(str(path))
    if problem:
        return FailedInput(str(path), f"the file name is {problem}: rename it")
    try:
        return path.stat().st_mode
    except OSError as exc:
        dangling = exc.errno == errno.ENOENT and path.is_symlink()
        return FailedInput(str(path), "a symlink to nothing (its target is gone)" if dangling else os_problem(exc))


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
        found = path.stat()
    except OSError as exc:
        raise MediaError(path, f"cannot read: {os_problem(exc)}") from exc
    if found.st_size == 0:
        raise MediaError(path, "empty file (0 bytes)")
    return found


def gone(path: str) -> bool:
    """Whether nothing is at `path` any more (a file changed in place is still there: it is
    indexed again when its folder is)."""
    try:
        os.stat(path)
    except FileNotFoundError:
        return True
    except NotADirectoryError:
        return True
    except (OSError, ValueError):  # unreadable, a loop: something is there
        return False
