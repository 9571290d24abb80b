"""A library that stays true to its files and survives damage: moved, copied and deleted
videos; a damaged catalogue; damaged derived files (search build, clip vectors, thumbnails)
rebuilt or reported; `vmr check`. All through the real CLI (and the real server), on a small
library of two sample excerpts indexed once and cloned for each test."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from pathlib import Path

import httpx
import numpy as np
import pytest

from conftest import ROOT, run_json, run_vmr
from factory import make_video, sample_excerpt
from serving import served

QUERY = "what is machine learning"
LECTURE, DATABASES = "lecture.mp4", "databases.mp4"
DAMAGED_TAIL = "; move it away and re-index, or restore a copy"


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> tuple[Path, Path]:
    """(home, videos): the first 16 s of two sample lectures, indexed by the CLI."""
    videos = tmp_path_factory.mktemp("base-videos")
    home = tmp_path_factory.mktemp("base-home")
    sample_excerpt(videos / LECTURE, 16.0)
    sample_excerpt(videos / DATABASES, 16.0, sample=ROOT / "samples" / DATABASES)
    run_vmr("index", videos, home=home)
    return home, videos


def clone(base: tuple[Path, Path], where: Path) -> tuple[Path, Path]:
    """A copy of the base library and its videos (modification times kept), its catalogue
    pointing at the copied videos."""
    home, videos = where / "home", where / "videos"
    shutil.copytree(base[1], videos)
    shutil.copytree(base[0], home)
    with sqlite3.connect(home / "vmr.db") as db:
        db.execute("UPDATE videos SET path = replace(path, ?, ?)", (str(base[1]), str(videos)))
    return home, videos


def state(home: Path) -> tuple[list[str], dict[str, str]]:
    """What must not change: every catalogue row, and every clip-vector file's bytes."""
    with sqlite3.connect(f"file:{home / 'vmr.db'}?mode=ro", uri=True) as db:
        rows = list(db.iterdump())
    files = {str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted((home / "clip-vectors").rglob("*")) if p.is_file()}
    return rows, files


def one_error_line(result) -> str:
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vmr: error: "), result.stderr
    return lines[0]


def paths_of(found: list[dict]) -> set[str]:
    return {m["video"] for m in found}


def shown(found: list[dict]) -> list[tuple]:
    """What a user sees of a result list (scores to 3 places: re-derived vectors may differ
    from the first ones in the 7th)."""
    return [(m["video"], m["start"], m["end"], round(m["score"], 3), m["text"]) for m in found]


# -- 1. the library follows its files

def test_a_moved_file_is_repointed_not_transcribed_again(base, tmp_path):
    home, videos = clone(base, tmp_path)
    before = {v["path"]: v["video_id"] for v in run_json("info", home=home)["videos"]}
    (videos / "new").mkdir()
    target = videos / "new" / LECTURE
    (videos / LECTURE).rename(target)
    (entry,) = run_json("index", videos / "new", home=home)["indexed"]
    assert entry["status"] == "moved" and entry["path"] == str(target)
    assert entry["moved_from"] == str(videos / LECTURE) and entry["video_id"] == before[str(videos / LECTURE)]
    assert set(entry["seconds"]) == {"hash"}, entry["seconds"]  # no decoding, no Whisper
    listed = run_json("info", home=home)["videos"]
    assert {v["path"]: v["status"] for v in listed} == {str(target): "indexed", str(videos / DATABASES): "indexed"}
    found = run_json("search", QUERY, "-k", "3", home=home)
    assert found[0]["video"] == str(target) and all(Path(p).is_file() for p in paths_of(found))
    assert f"unchanged  {target}  (" in run_vmr("index", videos, home=home).stdout


def test_a_deleted_file_is_left_out_marked_missing_and_pruned(base, tmp_path):
    home, videos = clone(base, tmp_path)
    lecture = videos / LECTURE
    saved = tmp_path / "saved.mp4"
    shutil.copy2(lecture, saved)
    lecture.unlink()
    # Between the deletion and the next index run, the build still holds the video: its
    # moments are left out, and the page is filled from the others.
    found = run_json("search", QUERY, "-k", "3", home=home)
    assert found and paths_of(found) == {str(videos / DATABASES)}
    report = run_json("index", videos, home=home)
    assert report["missing"] == [str(lecture)] and report["pruned"] == []
    assert {v["path"]: v["status"] for v in run_json("info", home=home)["videos"]} == \
        {str(lecture): "missing", str(videos / DATABASES): "indexed"}
    assert "(its file is gone: left out of searches; vmr index --prune forgets it)" in \
        run_vmr("index", videos, home=home).stdout
    assert paths_of(run_json("search", QUERY, "-k", "3", home=home)) == {str(videos / DATABASES)}
    with served(home) as url:  # the API lists it with its status
        listed = httpx.get(url + "api/videos", timeout=30).json()
        assert {v["path"]: v["status"] for v in listed}[str(lecture)] == "missing"
    # Back where it was: searched again, with no new analysis.
    shutil.copy2(saved, lecture)
    report = run_json("index", videos, home=home)
    assert report["missing"] == [] and [v["status"] for v in report["indexed"]] == ["unchanged", "unchanged"]
    assert run_json("search", QUERY, "-k", "1", home=home)[0]["video"] == str(lecture)
    # Gone for good: --prune forgets it, its vector files with it.
    lecture.unlink()
    vector_files = len(list((home / "clip-vectors").rglob("*.npy")))
    report = run_json("index", "--prune", home=home)
    assert report["pruned"] == [str(lecture)] and report["missing"] == []
    assert [v["path"] for v in run_json("info", home=home)["videos"]] == [str(videos / DATABASES)]
    assert len(list((home / "clip-vectors").rglob("*.npy"))) < vector_files


def test_a_search_reads_the_catalogue_a_bounded_number_of_times_with_a_file_gone(base, tmp_path):
    from test_search_reads import statements
    from vmr import Library
    from vmr.library import MISSING_RETRIES

    home, videos = clone(base, tmp_path)
    (videos / LECTURE).unlink()
    library = Library(home)
    library.search("warm up", k=1)
    for k in (1, 3, 10):
        with statements(library) as seen:
            found = library.search(QUERY, k=k)
        assert found and {m.video for m in found} == {str(videos / DATABASES)}
        assert 2 <= len(seen) <= 2 + MISSING_RETRIES, seen


def test_a_copy_is_indexed_once_and_takes_over_when_the_original_goes(base, tmp_path):
    home, videos = clone(base, tmp_path)
    (videos / "copies").mkdir()
    copy = videos / "copies" / "lecture again.mp4"
    shutil.copy(videos / LECTURE, copy)  # a new modification time: found by its content
    (entry,) = run_json("index", videos / "copies", home=home)["indexed"]
    assert entry["status"] == "duplicate" and entry["same_as"] == str(videos / LECTURE)
    assert len(run_json("info", home=home)["videos"]) == 2
    assert str(copy) not in paths_of(run_json("search", QUERY, "-k", "5", home=home))
    line = run_vmr("index", copy, home=home).stdout.strip()
    assert line == f"duplicate  {copy}  (same content as {videos / LECTURE}: indexed once, under that path)"
    (videos / LECTURE).unlink()
    report = run_json("index", videos, home=home)
    moved = [v for v in report["indexed"] if v["path"] == str(copy)]
    assert moved[0]["status"] == "moved" and moved[0]["moved_from"] == str(videos / LECTURE)
    assert report["missing"] == []
    assert run_json("search", QUERY, "-k", "1", home=home)[0]["video"] == str(copy)


def test_check_marks_and_prunes_missing_files(base, tmp_path):
    home, videos = clone(base, tmp_path)
    (videos / DATABASES).unlink()
    report = run_json("check", home=home)
    assert report["missing"] == [str(videos / DATABASES)] and report["catalogue"] == "ok"
    report = run_json("check", "--prune", home=home)
    assert report["pruned"] == [str(videos / DATABASES)] and report["missing"] == []
    assert [v["path"] for v in run_json("info", home=home)["videos"]] == [str(videos / LECTURE)]


# -- 2. a damaged catalogue is one line; derived files are made again

def _overwrite_pages(path: Path) -> None:
    """Every page but the first (the header and the schema) overwritten: the size is right,
    the tables are garbage."""
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[page:] = b"\xaa" * (len(data) - page)
    path.write_bytes(bytes(data))


def _foreign(path: Path) -> None:
    path.unlink()
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        db.execute("INSERT INTO notes (body) VALUES ('not vmr')")


DAMAGE = {
    "empty": (lambda p: p.write_bytes(b""), "empty file (0 bytes)"),
    "garbage": (lambda p: p.write_bytes(b"not a database\n" * 500), "not an SQLite database"),
    "truncated": (lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 3]), "truncated: "),
    "pages": (_overwrite_pages, "database disk image is malformed"),
    "foreign": (_foreign, "holds tables, but not vmr's"),
}


@pytest.fixture(scope="module")
def catalogue(base) -> Path:
    """The base library's catalogue alone, checkpointed into one file."""
    with sqlite3.connect(base[0] / "vmr.db") as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return base[0] / "vmr.db"


@pytest.mark.parametrize("damage", list(DAMAGE))
@pytest.mark.parametrize("command", [["search", QUERY], ["info"], ["index", "{videos}"], ["check"],
                                     ["transcript", "1"], ["remove", "{videos}/lecture.mp4"]])
def test_a_damaged_catalogue_is_one_line_on_every_command(base, catalogue, tmp_path, damage, command):
    home = tmp_path / "home"
    home.mkdir()
    database = home / "vmr.db"
    shutil.copy(catalogue, database)
    spoil, reason = DAMAGE[damage]
    spoil(database)
    damaged = database.read_bytes()
    result = run_vmr(*[a.format(videos=base[1]) for a in command], home=home, check=False)
    line = one_error_line(result)
    assert line.startswith(f"vmr: error: not a vmr library or damaged: {database} (") and reason in line, line
    assert line.endswith(DAMAGED_TAIL)
    assert database.read_bytes() == damaged  # never repaired, replaced or migrated in place
    assert sorted(p.name for p in home.iterdir()) == ["vmr.db"]


def test_a_catalogue_from_a_newer_vmr_is_one_line(catalogue, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(catalogue, home / "vmr.db")
    with sqlite3.connect(home / "vmr.db") as db:
        db.execute("UPDATE alembic_version SET version_num = '9999'")
    line = one_error_line(run_vmr("search", QUERY, home=home, check=False))
    assert line == f"vmr: error: {home / 'vmr.db'}: written by a newer vmr (schema 9999, this vmr knows " \
                   f"{_head()}); upgrade vmr"


def _head() -> str:
    from vmr.catalogue.reads import SCHEMA_REVISION

    return SCHEMA_REVISION


def _current(home: Path) -> Path:
    return home / "vectors" / (home / "vectors" / "CURRENT").read_text().strip()


def _garbage(path: Path) -> None:
    path.write_bytes(os.urandom(64))


def _nan_scales(path: Path) -> None:
    scales = np.load(path, mmap_mode="r+")
    scales[:] = np.nan
    scales.flush()


BUILD_DAMAGE = {
    "manifest": lambda home: (_current(home) / "manifest.json").write_text("{not json"),
    "matrix garbage": lambda home: _garbage(_current(home) / "speech.vectors.npy"),
    "matrix cut": lambda home: os.truncate(_current(home) / "slides.exact.npy", 200),
    "words cut": lambda home: os.truncate(_current(home) / "word_start.npy", 130),
    "lexical index": lambda home: _garbage(_current(home) / "lexical.posting_docs.npy"),
    "pointer": lambda home: (home / "vectors" / "CURRENT").write_bytes(b"\xff\xfe../../etc"),
    "NaN in the data": lambda home: _nan_scales(_current(home) / "speech.scales.npy"),
}


@pytest.mark.parametrize("damage", list(BUILD_DAMAGE))
@pytest.mark.parametrize("first", ["search", "check"])
def test_a_damaged_search_build_is_made_again(base, tmp_path, damage, first):
    """By the next search, or by vmr check, which says it was damaged."""
    home, _ = clone(base, tmp_path)
    expected = shown(run_json("search", QUERY, "-k", "3", home=home))
    BUILD_DAMAGE[damage](home)
    if first == "check":
        assert run_json("check", home=home)["build"].startswith("rebuilt: ")
    result = run_vmr("search", QUERY, "-k", "3", "--json", home=home)
    assert shown(json.loads(result.stdout)) == expected
    assert run_json("check", home=home)["build"] == "ok: matches the catalogue (16 clips, 2 videos)"


@pytest.mark.parametrize("channel", ["speech", "slides", "passage", "chapter"])
@pytest.mark.parametrize("damage", ["garbage", "deleted", "wrong shape"])
def test_lost_text_vectors_are_encoded_again_from_the_catalogue(base, tmp_path, channel, damage):
    home, _ = clone(base, tmp_path)
    expected = shown(run_json("search", QUERY, "-k", "3", home=home))
    files = sorted((home / "clip-vectors").rglob(f"{channel}.*.npy"))
    assert len(files) == 2
    original = np.load(files[0])
    {"garbage": _garbage, "deleted": Path.unlink,
     "wrong shape": lambda p: np.save(p, np.zeros((3, 7), np.float32))}[damage](files[0])
    report = run_json("check", home=home)
    assert report["catalogue"] == "ok" and report["unrepaired"] == []
    (repaired,) = report["repaired"]
    assert f": {channel} vectors made again from its " in repaired
    again = np.load(files[0])
    np.testing.assert_allclose(again, original, atol=1e-5)  # the same texts, the same model
    assert shown(run_json("search", QUERY, "-k", "3", home=home)) == expected
    # Without vmr check, a search makes them again on its way (the build needs them).
    _garbage(files[1])
    with sqlite3.connect(home / "vmr.db") as db:  # another video indexed: the build is made again
        db.execute("UPDATE settings SET value = value + 1 WHERE key = 'generation'")
    result = run_vmr("search", QUERY, "-k", "3", "--json", home=home)
    assert shown(json.loads(result.stdout)) == expected and result.stderr == ""
    np.testing.assert_allclose(np.load(files[1]), np.load(base[0] / files[1].relative_to(home)), atol=1e-5)


def test_lost_passage_and_chapter_vectors_are_made_again_from_the_chapters(sample_home, sample_video, tmp_path):
    """On the whole sample lecture, whose chapters are several: from its words, slide text and
    stored chapters, by the index run's own function, the same vectors and the same results."""
    home = tmp_path / "home"
    shutil.copytree(sample_home, home, ignore=shutil.ignore_patterns("*.index-lock"))
    assert len(run_json("chapters", sample_video, home=home)) > 1
    expected = shown(run_json("search", QUERY, "-k", "5", home=home))
    (passages,), (chapters,) = ((home / "clip-vectors").rglob(f"{c}.*.npy") for c in ("passage", "chapter"))
    originals = {path: np.load(path) for path in (passages, chapters)}
    os.truncate(passages, 100)
    chapters.unlink()
    report = run_json("check", home=home)
    assert report["catalogue"] == "ok" and report["unrepaired"] == []
    assert sorted(line.split(" (")[0] for line in report["repaired"]) == [
        f"{sample_video}: chapter vectors made again from its chapters' transcript and slide text",
        f"{sample_video}: passage vectors made again from its transcript"]
    assert not any("vmr index" in line for line in report["repaired"])  # nothing left to do
    for path, original in originals.items():
        np.testing.assert_allclose(np.load(path), original, atol=1e-5)  # NaN rows (clips without) too
    assert report["build"].startswith("ok: ")  # the build made before the damage still fits
    assert shown(run_json("search", QUERY, "-k", "5", home=home)) == expected
    again = run_json("check", home=home)
    assert again["repaired"] == [] and again["build"] == "ok: matches the catalogue (84 clips, 1 videos)"


def test_lost_frame_vectors_are_embedded_again_from_the_video_or_reported(tmp_path):
    from test_visual import make_tiny_clip

    model = make_tiny_clip(tmp_path / "clip")
    home, videos = tmp_path / "home", tmp_path / "videos"
    videos.mkdir()
    video = make_video(videos / "slides.mp4", [i * 0.5 for i in range(12)],
                       picture=lambda t: np.full((120, 160, 3), 40 if t < 3 else 200, np.uint8))
    run_vmr("index", videos, "--visual-model", model, "--no-ocr", home=home)
    (vectors,) = (home / "clip-vectors").rglob("visual.*.npy")
    original = np.load(vectors)
    _garbage(vectors)
    report = run_json("check", home=home)
    assert report["unrepaired"] == [] and report["repaired"][0].startswith(f"{video}: visual vectors made again "
                                                                           "from its video file")
    np.testing.assert_allclose(np.load(vectors), original, atol=1e-5)
    # Lost, and the video changed since: nothing to make them from.
    _garbage(vectors)
    make_video(video, [0.0, 1.0])
    result = run_vmr("check", home=home, check=False)
    line = one_error_line(result)
    assert line.startswith(f"vmr: error: {video}: visual vectors are lost (") and line.endswith(
        "and its file is gone or changed: restore the file and run vmr check again, or vmr remove it and "
        "index it again")
    # Searches still answer, on what is left, and say what is missing.
    result = run_vmr("search", "anything", home=home)
    assert "vmr: warning: " in result.stderr and "searched without its visual vectors" in result.stderr


def test_the_server_answers_after_its_files_are_damaged(base, tmp_path):
    home, _ = clone(base, tmp_path)
    with served(home) as url:
        first = httpx.get(url + "api/search", params={"q": QUERY, "k": 3}, timeout=60)
        assert first.status_code == 200
        (_current(home) / "manifest.json").write_text("garbage")
        again = httpx.get(url + "api/search", params={"q": QUERY, "k": 3}, timeout=60)
        assert again.status_code == 200 and again.json() == first.json()
        _nan_scales(_current(home) / "speech.scales.npy")  # the data under a running server
        again = httpx.get(url + "api/search", params={"q": QUERY, "k": 3}, timeout=60)
        assert again.status_code == 200 and again.json() == first.json()
        thumbnail = first.json()[0]["thumbnail"]
        assert httpx.get(url + thumbnail.lstrip("/"), timeout=60).status_code == 200
        (cached,) = (home / "thumbs").iterdir()
        whole = cached.read_bytes()
        cached.write_bytes(whole[: len(whole) // 2])  # cut: not a whole JPEG any more
        answer = httpx.get(url + thumbnail.lstrip("/"), timeout=60)
        assert answer.status_code == 200 and answer.content == whole
    cached.write_bytes(b"junk")
    (home / "thumbs" / "999-0123456789abcdef-0.jpg").write_bytes(whole)  # of no indexed video
    report = run_json("check", home=home)
    assert (report["thumbnails"], report["thumbnails_removed"]) == (2, 2)


def test_check_says_a_library_is_whole(base, tmp_path):
    home, _ = clone(base, tmp_path)
    result = run_vmr("check", home=home)
    lines = result.stdout.splitlines()
    assert lines[0] == f"catalogue  ok ({home / 'vmr.db'})" and lines[1] == "videos     2"
    assert lines[2] == "vectors    8 files checked, 0 made again, 0 unused removed"
    assert lines[3].startswith("build      ok: matches the catalogue (16 clips, 2 videos)")
    assert result.stderr == ""


def test_check_on_both_databases(db_url, tmp_path):
    """SQLite's integrity check, or PostgreSQL's read of every table; then the derived files."""
    home, videos = tmp_path / "home", tmp_path / "videos"
    videos.mkdir()
    make_video(videos / "a.mp4", [i * 0.1 for i in range(30)])
    make_video(videos / "b.mp4", [i * 0.1 for i in range(50)])
    run_vmr("--db", db_url, "index", videos, "--no-ocr", home=home)
    (videos / "b.mp4").unlink()
    report = json.loads(run_vmr("--db", db_url, "check", "--prune", "--json", home=home).stdout)
    assert (report["catalogue"], report["videos"], report["pruned"]) == ("ok", 1, [str(videos / "b.mp4")])
    assert report["build"] == "ok: brought up to date with the catalogue (2 clips, 1 videos)"  # b.mp4 went
    report = json.loads(run_vmr("--db", db_url, "check", "--json", home=home).stdout)
    assert report["build"] == "ok: matches the catalogue (2 clips, 1 videos)" and report["pruned"] == []
