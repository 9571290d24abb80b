"""Sharded search on a real Ray cluster answers exactly like one process: for every query of
samples/queries.jsonl, with default settings, on SQLite and on PostgreSQL, the JSON of
`search --shards 2` is the JSON of `search`, and `eval` prints the same table."""

from __future__ import annotations

import json

import pytest

from conftest import ROOT, run_vmr
from dbfixtures import drop_postgres_database, new_postgres_database

QUERIES = ROOT / "samples" / "queries.jsonl"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def samples_library(request, tmp_path_factory) -> list[str]:
    """The four sample lectures indexed by the CLI; the global options that name the library."""
    home = tmp_path_factory.mktemp(f"samples-{request.param}")
    url = None
    if request.param == "postgresql":
        url = new_postgres_database(request.getfixturevalue("postgres_server"))
        request.addfinalizer(lambda: drop_postgres_database(request.getfixturevalue("postgres_server"), url))
    options = ["--home", str(home)] + (["--db", url] if url else [])
    # the four tuned lectures only: indexing is recursive, and samples/heldout/ is another set
    run_vmr(*options, "index", *sorted((ROOT / "samples").glob("*.mp4")), "--json")
    return options


def test_sharded_moments_are_the_single_process_moments(samples_library, tmp_path):
    queries = tmp_path / "queries.txt"
    queries.write_text("".join(json.loads(line)["query"] + "\n" for line in QUERIES.read_text().splitlines()
                               if line.strip()))
    single, sharded = (json.loads(run_vmr(*samples_library, "search", "--queries", queries, "-k", "10",
                                          *extra).stdout)
                       for extra in ((), ("--shards", "2")))
    assert len(single) == 54 and all(single)
    assert sharded == single
    assert any(m["why"] == "slides" for found in single for m in found)


def test_sharded_eval_prints_the_same_table(samples_library):
    single, sharded = (run_vmr(*samples_library, "eval", QUERIES, *extra).stdout
                       for extra in ((), ("--shards", "2")))
    assert sharded == single and "all" in single
