"""What reading the catalogue needs without SQLAlchemy, which costs a cold `vmr search` a third
of its second: the catalogue's constants and errors, the cheap checks of an SQLite file, and
the reads a search makes (is the search build current? the paths of the videos on the result
page), each written once as SQL and run through a `Read`: a session's (`store.session_read`,
any catalogue) or a plain sqlite3 connection's (`sqlite_reads`, an SQLite catalogue).
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from vmr.errors import VmrError

# The newest migration in migrations/versions; a test keeps the two equal.
SCHEMA_REVISION = "0005"

# Video.status: searched, or left out of searches because its file is gone (until it comes back,
# it is found at another path, or `vmr index --prune` forgets it).
INDEXED = "indexed"
MISSING = "missing"

# Runs one statement with named parameters (:name, which both sqlite3 and SQLAlchemy's text()
# take) and returns its rows.
Read = Callable[[str, dict[str, object]], list[tuple]]


class NoLibrary(VmrError):
    """A read-only command on a home (or database) that holds no library: only `vmr index`
    creates one."""


class CatalogueDamaged(VmrError):
    """A catalogue that is not a vmr library, or no longer a readable one."""

    def __init__(self, where: str, reason: str, fix: str = "move it away and re-index, or restore a copy"):
        self.where, self.reason = where, reason
        super().__init__(f"not a vmr library or damaged: {where} ({reason}); {fix}")


def sqlite_url(home: Path) -> str:
    return f"sqlite:///{home / 'vmr.db'}"


SQLITE_MAGIC = b"SQLite format 3\x00"


def check_sqlite_file(path: Path) -> None:
    """Cheap checks of an existing SQLite catalogue before it is opened (its header only):
    an empty file, another kind of file, or a file shorter than its header says is damaged.
    What the header cannot tell (a page overwritten inside) SQLite reports when it reads that
    page, and `vmr check` runs its full integrity check."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(100)
            size = os.fstat(handle.fileno()).st_size
    except IsADirectoryError:
        raise CatalogueDamaged(str(path), "a folder, not a database file") from None
    except OSError as exc:
        raise VmrError(f"cannot open the catalogue {path}: {exc.strerror or exc}") from exc
    if size == 0:
        raise CatalogueDamaged(str(path), "empty file (0 bytes)")
    if not header.startswith(SQLITE_MAGIC):
        raise CatalogueDamaged(str(path), "not an SQLite database")
    if len(header) < 100:
        raise CatalogueDamaged(str(path), f"truncated: {size} bytes")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        raise CatalogueDamaged(str(path), "not an SQLite database (bad page size)")
    pages = int.from_bytes(header[28:32], "big")
    size_valid = header[24:28] == header[92:96] and pages > 0
    wal = path.with_name(path.name + "-wal")
    pending = wal.exists() and wal.stat().st_size > 0  # a checkpoint may be half done: SQLite redoes it
    if size_valid and not pending and size < pages * page_size:
        raise CatalogueDamaged(str(path), f"truncated: {size} of its {pages * page_size} bytes")


def database_errors() -> tuple[type[Exception], ...]:
    """The errors a catalogue's database raises: sqlite3's, and SQLAlchemy's once it is
    imported (none of them can be raised before). For an `except` clause, which evaluates
    it only when an exception reaches it."""
    sqlalchemy_errors = sys.modules.get("sqlalchemy.exc")
    return (sqlite3.Error,) if sqlalchemy_errors is None else (sqlite3.Error, sqlalchemy_errors.DBAPIError)


@contextmanager
def sqlite_reads(database: Path) -> Iterator[Read]:
    """Reads of an existing SQLite catalogue through the standard library's sqlite3. It can
    neither create the file (mode=rw fails where there is none) nor change it (query_only).
    Not mode=ro: a read-only connection cannot remove the write-ahead log and its index when
    it closes, and would leave them beside every library it searched."""
    connection = sqlite3.connect(f"{database.as_uri()}?mode=rw", uri=True, timeout=30)  # as busy_timeout
    try:
        connection.execute("PRAGMA query_only = ON")
        yield lambda sql, parameters: connection.execute(sql, parameters).fetchall()
    finally:
        connection.close()


def revision(read: Read) -> str | None:
    """The applied migration (the database must have Alembic's version table)."""
    rows = read("SELECT version_num FROM alembic_version", {})
    return rows[0][0] if rows else None


def generation(read: Read) -> int:
    """The catalogue's generation: it moves on with every change that search sees."""
    rows = read("SELECT value FROM settings WHERE key = 'generation'", {})
    return int(rows[0][0]) if rows else 0


def indexed_paths(read: Read, video_ids: Iterable[int]) -> dict[int, str]:
    """The paths of these videos, those still searched (INDEXED) only, in one read."""
    ids = {f"v{i}": int(video_id) for i, video_id in enumerate(video_ids)}
    if not ids:
        return {}
    rows = read(f"SELECT id, path FROM videos WHERE status = :indexed AND id IN ({', '.join(':' + k for k in ids)})",
                {"indexed": INDEXED, **ids})
    return {video_id: path for video_id, path in rows}
