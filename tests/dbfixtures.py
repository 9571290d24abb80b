"""The catalogues tests run on: SQLite always, PostgreSQL when VMR_TEST_POSTGRES names a
server whose role may create databases (.ci/run starts one with tests/start_postgres.sh)."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from vmr.catalogue.reads import sqlite_url

POSTGRES = os.environ.get("VMR_TEST_POSTGRES")


@pytest.fixture(scope="session")
def postgres_server():
    """An AUTOCOMMIT engine on the server's maintenance database."""
    if not POSTGRES:
        pytest.skip("no PostgreSQL: export VMR_TEST_POSTGRES=$(bash tests/start_postgres.sh)")
    engine = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:  # set but down: a failure, or CI would pass without it
        pytest.fail(f"VMR_TEST_POSTGRES is set but the server is unreachable: {exc.orig}")
    yield engine
    engine.dispose()


def new_postgres_database(server) -> str:
    name = f"vmr_test_{uuid.uuid4().hex[:12]}"
    with server.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    return make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(server, url: str) -> None:
    with server.connect() as connection:  # FORCE: pooled connections of the test process
        connection.execute(text(f"DROP DATABASE IF EXISTS {make_url(url).database} WITH (FORCE)"))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A new, empty catalogue; for SQLite the file is tmp_path/vmr.db."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    server = request.getfixturevalue("postgres_server")
    url = new_postgres_database(server)
    yield url
    drop_postgres_database(server, url)
