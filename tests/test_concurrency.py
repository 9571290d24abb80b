"""Concurrent use of one library, on SQLite and PostgreSQL, with real `vmr` processes: a
second index run is refused (or waits), a killed one leaves no lock behind, searches during
an index run see whole videos only, and processes rebuilding the search build at once do not
delete each other's builds."""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from sqlalchemy import create_engine, func, select

from conftest import SAMPLE, VMR, run_json
from factory import sample_excerpt
from synthetic import synthetic_library
from vmr import Library
from vmr.catalogue import locks
from vmr.catalogue.reads import sqlite_url
from vmr.catalogue.store import Clip, Word
from vmr.catalogue.vectors import VectorFiles
from vmr.search import build

MINILM = "all-MiniLM-L6-v2"

EXCERPT_SECONDS = 40  # 20 clips of the sample's first 40 s, where it explains supervised learning


def test_second_index_run_is_refused_or_waits_and_a_killed_run_leaves_no_lock(db_url, tmp_path):
    home, folder = tmp_path / "home", tmp_path / "videos"
    folder.mkdir()
    shutil.copy(SAMPLE, folder / "lecture.mp4")
    excerpt = sample_excerpt(tmp_path / "excerpt.mp4", EXCERPT_SECONDS)
    index = [str(VMR), "--home", str(home), "--db", db_url, "index", "--json"]
    # The whole sample with Whisper base: the first run is still busy when it is killed.
    first = subprocess.Popen(index + [folder], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    third = None
    try:
        _wait_for(lambda: f"pid {first.pid} since" in _holder(db_url, home), "the first run's lock")
        second = subprocess.run(index + [folder], capture_output=True, text=True, timeout=120)
        assert second.returncode == 1
        assert second.stderr.startswith("vmr: error: another `vmr index` is writing to this library "
                                        f"(pid {first.pid} since ")
        assert second.stderr.endswith("; wait for it (--wait) or stop it\n")
        assert second.stderr.count("\n") == 1

        log = tmp_path / "third.err"
        with log.open("w") as stderr:
            third = subprocess.Popen(index + [excerpt, "--wait", "--asr-model", "tiny.en"],
                                     stdout=subprocess.PIPE, stderr=stderr, text=True)
        _wait_for(lambda: "vmr: waiting for another `vmr index`" in log.read_text(), "the third run to wait")
        assert first.poll() is None, "the first run ended before it could be killed"
        first.send_signal(signal.SIGKILL)  # no clean-up: the server or kernel frees its lock
        out, _ = third.communicate(timeout=600)
    finally:
        for process in (first, third):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
    assert third.returncode == 0, log.read_text()
    assert [v["status"] for v in json.loads(out)["indexed"]] == ["indexed"]
    # The killed run wrote nothing: its video is absent, not half there.
    videos = run_json("--db", db_url, "info", home=home)["videos"]
    assert [(v["path"], v["clips"]) for v in videos] == [(str(excerpt), EXCERPT_SECONDS // 2)]


def test_searches_during_an_index_run_see_whole_videos_only(db_url, tmp_path):
    home, folder = tmp_path / "home", tmp_path / "videos"
    folder.mkdir()
    # The same speech in two files that differ (identical files are one video, indexed once).
    paths = {str(sample_excerpt(folder / name, EXCERPT_SECONDS, faststart=name == "b.mp4"))
             for name in ("a.mp4", "b.mp4")}
    indexing = subprocess.Popen([str(VMR), "--home", str(home), "--db", db_url, "index", str(folder),
                                 "--asr-model", "tiny.en", "--json"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: _library_made(home, db_url), "the index run to create the library")
    library = Library(home, db_url)
    videos_seen = []  # per search: how many videos its moments came from
    try:
        while indexing.poll() is None:
            found = library.search("what is supervised learning", k=5)
            with library.session() as session:
                for moment in found:
                    assert moment.video in paths and moment.text
                    clips = session.scalar(select(func.count()).where(Clip.video_id == moment.video_id))
                    words = session.scalar(select(func.count()).where(Word.video_id == moment.video_id))
                    assert clips == EXCERPT_SECONDS // 2 and words > 50, (moment, clips, words)
            videos_seen.append(len({m.video_id for m in found}))
            time.sleep(0.2)  # leave the cores to the index run
    finally:
        if indexing.poll() is None:
            indexing.kill()
        out, err = indexing.communicate()
    assert indexing.returncode == 0, err
    assert len(json.loads(out)["indexed"]) == 2
    # The searches really overlapped the writes: they saw the library with one video, then two.
    assert 1 in videos_seen, videos_seen
    assert len({m.video_id for m in library.search("what is supervised learning", k=5)}) == 2


def _library_made(home, db_url: str) -> bool:
    """Whether the library exists yet (a search on none fails: only index makes one)."""
    from vmr.catalogue.reads import NoLibrary

    library = Library(home, db_url)
    try:
        library.engine.dispose()
        return True
    except NoLibrary:
        return False


def _holder(db_url: str, home) -> str:
    """The line the writer lock's holder leaves: its file's text, or its PostgreSQL session's name."""
    engine = create_engine(db_url)
    try:
        if engine.dialect.name == "postgresql":
            with engine.connect() as connection:
                return connection.execute(locks.HOLDER_SQL, {"key": locks.WRITER_LOCK}).scalar() or ""
        path = locks.lock_file(engine, home)
        return path.read_text() if path.exists() else ""
    finally:
        engine.dispose()


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_builds_made_by_several_processes_at_once_stay_loadable(tmp_path):
    synthetic_library(tmp_path, videos=2, clips=(2, 3), copies=False)
    code = ("import sys; from pathlib import Path; from vmr.catalogue import store; "
            "from vmr.catalogue.vectors import VectorFiles; from vmr.search import build; "
            "sessions = store.session_factory(store.open_engine(sys.argv[1])); home = Path(sys.argv[2]); "
            "[build.rebuild(sessions(), home / 'vectors', VectorFiles(home)) for _ in range(40)]")
    root = tmp_path / "vectors"
    builders = [subprocess.Popen([sys.executable, "-c", code, sqlite_url(tmp_path), str(tmp_path)],
                                 stderr=subprocess.PIPE, text=True) for _ in range(3)]
    clips = None
    while any(b.poll() is None for b in builders):
        found = build.load(root)  # never a folder deleted under it, never half a build
        if found is not None:
            assert clips in (None, found.clip_count) and len(found.word_start) == found.word_offsets[-1]
            clips = found.clip_count
    assert [b.returncode for b in builders] == [0, 0, 0], [b.stderr.read() for b in builders]


def test_a_searchs_problems_come_with_its_result(tmp_path):
    synthetic_library(tmp_path, videos=6, dim=384, models=(MINILM, MINILM), seed=2)
    library = Library(tmp_path)
    whole = library.search("gradient descent", k=3)
    # Video 1's slide vectors are lost, and its slides with them: nothing to make them again from.
    with sqlite3.connect(tmp_path / "vmr.db") as db:
        (content_hash,) = db.execute("SELECT content_hash FROM videos WHERE id = 1").fetchone()
        db.execute("DELETE FROM slide_texts WHERE video_id = 1")
        db.execute("UPDATE settings SET value = value + 1 WHERE key = 'generation'")
    VectorFiles(tmp_path).path(content_hash, "slides", MINILM).unlink()
    lacking = library.search("gradient descent", k=3)
    assert len(lacking.problems) == 1 and "searched without its slides vectors" in lacking.problems[0]
    assert whole.problems == () and len(whole) == 3  # an earlier result keeps its own
    assert lacking == list(lacking)  # to JSON and in comparisons, the list of moments


def test_searches_at_once_each_get_their_own_problems(tmp_path, monkeypatch):
    """`vmr serve` runs searches on one Library at once: each answer says what its own search
    build went without, never another search's."""
    synthetic_library(tmp_path, videos=6, dim=384, models=(MINILM, MINILM), seed=2)
    library = Library(tmp_path)
    whole = library.search_build()
    builds = {name: replace(whole, problems=(f"problem of {name}",)) for name in ("a", "b")}
    monkeypatch.setattr(library, "search_build", lambda: builds[threading.current_thread().name])
    start = threading.Barrier(2)
    problems: dict[str, list[tuple[str, ...]]] = {}

    def search() -> None:
        start.wait()
        name = threading.current_thread().name
        problems[name] = [library.search("gradient descent", k=3).problems for _ in range(20)]

    threads = [threading.Thread(target=search, name=name) for name in builds]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert problems == {name: [(f"problem of {name}",)] * 20 for name in builds}
