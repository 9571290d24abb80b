"""One writer per library: `vmr index` holds the catalogue's writer lock for its whole run.

The lock belongs to the catalogue, since several homes may share one PostgreSQL database:
there it is a session advisory lock, on a connection held open for the run, whose
application_name says who holds it; with SQLite it is an flock on a file beside the database
file, which holds the same line. The server or the kernel drops either lock when its holder
dies, so a crashed run never leaves a stale one behind.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

from vmr.errors import VmrError

# PostgreSQL advisory lock key ("vmr" 2; locks are per database) and who holds it.
WRITER_LOCK = 0x766D7202
HOLDER_SQL = text("""
    SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid::bigint = :key
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
""")


class LibraryBusy(VmrError):
    def __init__(self, holder: str):
        super().__init__(f"another `vmr index` is writing to this library ({holder}); "
                         "wait for it (--wait) or stop it")


def _me() -> str:
    # Short, with the host last: PostgreSQL keeps 63 bytes of an application_name.
    return f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')} on {socket.gethostname()}"


@contextmanager
def writer_lock(engine: Engine, home: Path, wait: bool = False,
                on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Held while the block runs. Another holder: LibraryBusy, or with `wait` block until it
    is gone (on_wait is told who it is first)."""
    on_wait = on_wait or (lambda _holder: None)
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine, wait, on_wait):
            yield
    else:
        with _file_lock(lock_file(engine, home), wait, on_wait):
            yield


def lock_file(engine: Engine, home: Path) -> Path:
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        return Path(database).with_name(Path(database).name + ".index-lock")
    home.mkdir(parents=True, exist_ok=True)
    return home / "index.lock"


@contextmanager
def _file_lock(path: Path, wait: bool, on_wait: Callable[[str], None]) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode(errors="replace").strip() or "pid unknown"
            if not wait:
                raise LibraryBusy(holder) from None
            on_wait(holder)
            fcntl.flock(fd, fcntl.LOCK_EX)
        me = _me().encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, me, 0)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextmanager
def _advisory_lock(engine: Engine, wait: bool, on_wait: Callable[[str], None]) -> Iterator[None]:
    with engine.connect() as connection:
        connection.execute(text("SELECT set_config('application_name', :me, false)"), {"me": _me()})
        held = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": WRITER_LOCK}).scalar()
        if not held:
            holder = connection.execute(HOLDER_SQL, {"key": WRITER_LOCK}).scalar() or "pid unknown"
            if not wait:
                raise LibraryBusy(holder)
            on_wait(holder)
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": WRITER_LOCK})
        connection.commit()
        try:
            yield
        finally:
            # The connection goes back to the pool, where a session lock would outlive the run.
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": WRITER_LOCK})
            connection.commit()
