"""A search reads the catalogue a constant number of times, whatever k is: whether the search
build is current, and the paths of the videos on its result page. Everything else a moment
needs (words, sentences, slides, keyframes) comes from the build."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event

from synthetic import synthetic_library
from vmr import Library

MINILM = "all-MiniLM-L6-v2"


@contextmanager
def statements(engine):  # noqa: ANN001, ANN201 (an Engine; yields the list of statements)
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # noqa: ANN001 (DB-API objects)
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_search_reads_the_catalogue_twice_whatever_k(db_url, tmp_path):
    synthetic_library(tmp_path, db=db_url, videos=80, dim=384, models=(MINILM, MINILM), seed=5)
    library = Library(tmp_path, db_url)
    library.search("gradient descent", k=1)  # builds the search build: a read of everything, once
    reads = {}
    for k in (1, 10, 100):
        with statements(library.engine) as seen:
            found = library.search("gradient descent updates the weights", k=k)
        reads[k] = seen
        assert len(found) == k
    assert len({m.video_id for m in found}) > 10  # the page holds many videos, read at once
    assert [len(seen) for seen in reads.values()] == [2, 2, 2], reads
