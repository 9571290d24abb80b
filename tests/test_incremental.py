"""Re-running, changing, removing, and killing an index run half way."""

from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import time

from conftest import SAMPLE, VMR, run_json, run_vmr
from factory import make_video, sample_excerpt


def test_changed_file_is_reindexed_and_removed_file_forgotten(tmp_path):
    home, video = tmp_path / "home", tmp_path / "talk.mp4"
    make_video(video, [i * 0.1 for i in range(30)], audio_seconds=3.0)
    first = run_json("index", video, home=home)["indexed"][0]
    assert first["status"] == "indexed" and first["clips"] == 2
    make_video(video, [i * 0.1 for i in range(90)], audio_seconds=9.0)  # same path, new content
    second = run_json("index", tmp_path, home=home)["indexed"][0]
    assert second["status"] == "indexed" and second["clips"] == 5  # 9 s: four clips and a 1-s tail
    info = run_json("info", home=home)
    assert [v["path"] for v in info["videos"]] == [str(video)]
    assert run_json("remove", video, home=home) == [{"path": str(video), "removed": True}]
    assert run_json("info", home=home)["videos"] == []
    assert run_json("search", "anything", home=home) == []


def test_touched_but_identical_file_is_not_reindexed(tmp_path):
    home, video = tmp_path / "home", tmp_path / "talk.mp4"
    make_video(video, [i * 0.1 for i in range(30)])
    run_vmr("index", video, home=home)
    video.touch()
    assert run_json("index", video, home=home)["indexed"][0]["status"] == "unchanged"


def test_killed_run_leaves_a_consistent_index_and_resumes(tmp_path):
    home, folder = tmp_path / "home", tmp_path / "videos"
    folder.mkdir()
    make_video(folder / "a-short.mp4", [i * 0.1 for i in range(30)], audio_seconds=3.0)
    shutil.copy(SAMPLE, folder / "b-lecture.mp4")
    process = subprocess.Popen([str(VMR), "--home", str(home), "index", str(folder)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    database = home / "vmr.db"
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if database.exists() and _count(database, "videos") == 1:
                break
            time.sleep(0.2)
        assert process.poll() is None, "the run ended before it could be interrupted"
        process.send_signal(signal.SIGKILL)  # no chance to clean up
    finally:
        process.wait()
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert [r[0] for r in db.execute("SELECT path FROM videos")] == [str(folder / "a-short.mp4")]
        orphans = db.execute("SELECT count(*) FROM clips WHERE video_id NOT IN (SELECT id FROM videos)")
        assert orphans.fetchone() == (0,)
    report = run_json("index", folder, home=home)
    assert [v["status"] for v in report["indexed"]] == ["unchanged", "indexed"]
    found = run_json("search", "what is overfitting", "-k", "1", home=home)
    assert found[0]["video"].endswith("b-lecture.mp4")


def _count(database, table) -> int:
    try:
        with sqlite3.connect(database, timeout=1) as db:
            return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_videos_are_written_in_the_order_they_were_found_whichever_analysis_ends_first(tmp_path):
    """An executor that analyses two videos at once, the first much longer: the writer waits
    for it, so video ids follow the files' order (as on a Ray cluster); the replaced vector
    files of a changed video are pruned."""
    from concurrent.futures import ThreadPoolExecutor

    from vmr import Library
    from vmr.catalogue.writer import Indexer
    from vmr.ingest.analysis import IndexOptions

    folder = tmp_path / "videos"
    folder.mkdir()
    sample_excerpt(folder / "a-long.mp4", 40)
    sample_excerpt(folder / "b-short.mp4", 8)
    library = Library(tmp_path / "home")
    library.index([])  # creates the library (only an index run does)
    finished = []

    class TwoAtOnce:
        capacity = 2

        def __init__(self, analyser):  # noqa: ANN001 (an Analyser)
            self.analyser, self.pool = analyser, ThreadPoolExecutor(2)

        def submit(self, path, stat, digest, clock):  # noqa: ANN001, ANN201
            def analyse():  # noqa: ANN202
                analysis = self.analyser.analyse(path, stat, digest, clock)
                finished.append(path.name)
                return analysis
            return self.pool.submit(analyse)

    indexer = Indexer(library.session, IndexOptions(ocr=False), library.vector_files)
    report = indexer.run([folder], TwoAtOnce(indexer.analyser))
    assert finished == ["b-short.mp4", "a-long.mp4"]  # the short one was done first
    assert [(v.path.rsplit("/", 1)[1], v.video_id) for v in report.indexed] == [("a-long.mp4", 1), ("b-short.mp4", 2)]
    files = sorted(p for p in library.vector_files.root.rglob("*.npy"))
    assert len(files) == 6  # the speech, passages and chapters of each
    sample_excerpt(folder / "b-short.mp4", 12)  # changed
    Indexer(library.session, IndexOptions(ocr=False), library.vector_files).run([folder])
    now = sorted(p for p in library.vector_files.root.rglob("*.npy"))
    assert len(now) == len(files) and now != files  # the old content's file went, the new one came
