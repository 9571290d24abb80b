"""A search reads the catalogue a constant number of times, whatever k is: whether the search
build is current, and the paths of the videos on its result page. Everything else a moment
needs (words, sentences, slides, keyframes) comes from the build. An SQLite catalogue is read
through the standard library's sqlite3, on a connection that can neither create nor change it,
so a cold search imports no SQLAlchemy."""

from __future__ import annotations

import gc
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import event

from synthetic import synthetic_library
from vmr import Library
from vmr.catalogue import reads

MINILM = "all-MiniLM-L6-v2"
ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def statements(library: Library) -> Iterator[list[tuple[str, str]]]:
    """The statements run on the library's catalogue meanwhile, each with its way: "sqlite3"
    (how a search reads an SQLite catalogue) or "SQLAlchemy" (any other read or write)."""
    seen: list[tuple[str, str]] = []
    connect = sqlite3.connect

    def traced(*args, **kwargs) -> sqlite3.Connection:
        connection = connect(*args, **kwargs)
        connection.set_trace_callback(lambda statement: statement.startswith("PRAGMA")  # the connection's set-up
                                      or seen.append(("sqlite3", statement)))
        return connection

    def count(_conn, _cursor, statement, *_args) -> None:  # noqa: ANN001 (DB-API objects)
        seen.append(("SQLAlchemy", statement))

    reads.sqlite3.connect = traced
    event.listen(library.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        reads.sqlite3.connect = connect
        event.remove(library.engine, "before_cursor_execute", count)


def test_a_search_reads_the_catalogue_twice_whatever_k(db_url, tmp_path):
    synthetic_library(tmp_path, db=db_url, videos=80, dim=384, models=(MINILM, MINILM), seed=5)
    library = Library(tmp_path, db_url)
    library.search("gradient descent", k=1)  # builds the search build: a read of everything, once
    per_k = {}
    for k in (1, 10, 100):
        with statements(library) as seen:
            found = library.search("gradient descent updates the weights", k=k)
        per_k[k] = seen
        assert len(found) == k
    assert len({m.video_id for m in found}) > 10  # the page holds many videos, read at once
    way = "sqlite3" if db_url.startswith("sqlite") else "SQLAlchemy"
    assert [[w for w, _ in seen] for seen in per_k.values()] == [[way, way]] * 3, per_k


def test_a_cold_search_of_an_sqlite_library_imports_no_sqlalchemy_and_changes_nothing(tmp_path):
    synthetic_library(tmp_path, videos=6, dim=384, models=(MINILM, MINILM), seed=2)
    Library(tmp_path).search("gradient descent", k=1)  # writes the search build
    gc.collect()  # the writers' connections close: SQLite removes the write-ahead log
    assert not (tmp_path / "vmr.db-wal").exists()
    listing = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    catalogue = (tmp_path / "vmr.db").read_bytes()
    code = ("import sys; from vmr.app.cli import main; "
            f"code = main(['--home', {str(tmp_path)!r}, 'search', 'gradient descent', '--json']); "
            "print('sqlalchemy' in sys.modules, code, file=sys.stderr)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stderr.split() == ["False", "0"] and '"video_id"' in out.stdout
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == listing  # no -wal or -shm left
    assert (tmp_path / "vmr.db").read_bytes() == catalogue


def test_the_reads_connection_neither_creates_nor_changes_a_catalogue(tmp_path):
    synthetic_library(tmp_path, videos=2, seed=1)
    with reads.sqlite_reads(tmp_path / "vmr.db") as read:
        assert reads.generation(read) == 1
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            read("UPDATE settings SET value = '7' WHERE key = 'generation'", {})
    with pytest.raises(sqlite3.OperationalError):
        with reads.sqlite_reads(tmp_path / "none.db"):
            pass
    assert not (tmp_path / "none.db").exists()
