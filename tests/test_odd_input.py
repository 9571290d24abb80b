"""Odd input through the real CLI: each case is one clean line on stderr, a non-zero exit, and a
library left exactly as it was; read-only commands on a home without a library never make
one; and nothing is written outside the library's home and vmr's cache."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from conftest import VMR, run_json, run_vmr
from factory import make_video

LONG = "a" * 300  # longer than the 255 bytes a name may have on common file systems


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """A library holding one short video (no speech: quick to index)."""
    home = tmp_path_factory.mktemp("odd-home")
    videos = tmp_path_factory.mktemp("odd-videos")
    make_video(videos / "talk.mp4", [i * 0.1 for i in range(30)])
    run_vmr("index", videos, home=home)
    return home


def state(home: Path) -> tuple[list[str], dict[str, str]]:
    """Every catalogue row and every file's bytes, but the search build's (derived, and
    made again whenever it is missing)."""
    with sqlite3.connect(f"file:{home / 'vmr.db'}?mode=ro", uri=True) as db:
        rows = list(db.iterdump())
    files = {str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(home.rglob("*")) if p.is_file() and "vectors" not in p.relative_to(home).parts[:1]
             and not p.name.startswith("vmr.db")}
    return rows, files


def _loop(folder: Path) -> Path:
    (folder / "loop.mp4").symlink_to("loop.mp4")
    return folder / "loop.mp4"


def _two_loop(folder: Path) -> Path:
    (folder / "a.mp4").symlink_to("b.mp4")
    (folder / "b.mp4").symlink_to("a.mp4")
    return folder


def _dangling(folder: Path) -> Path:
    (folder / "gone.mp4").symlink_to(folder / "nowhere.mp4")
    return folder


def _bytes_name(folder: Path, name: bytes) -> Path:
    path = os.fsencode(folder) + b"/" + name
    make_video(Path(os.fsdecode(path)), [0.0, 0.5])
    return Path(os.fsdecode(path))


def _named(folder: Path, name: str, content: bytes = b"not a video\n") -> Path:
    (folder / name).write_bytes(content)
    return folder / name


# (arguments, built in a scratch folder; what the one line says). The file named in each case
# is in the line as it is, with a newline shown as \n and a byte that is not UTF-8 as \xNN.
CASES = {
    "long name": (lambda d: ["index", d / f"{LONG}.mp4"], lambda d: f"{d}/{LONG}.mp4: file name too long"),
    "long folder name": (lambda d: ["index", d / LONG / "talk.mp4"], lambda d: "file name too long"),
    "long image name": (lambda d: ["search", "--image", d / f"{LONG}.png"], lambda d: "file name too long"),
    "long name to show": (lambda d: ["show", d / f"{LONG}.mp4", "0", "1"], lambda d: "not in the index"),
    "long --queries name": (lambda d: ["search", "--queries", d / LONG], lambda d: "File name too long"),
    "query not UTF-8": (lambda d: ["search", os.fsdecode(b"caf\xe9")],
                        lambda d: "the query 'caf\\xe9' is not valid UTF-8 (byte 0xe9 at position 3)"),
    "file name not UTF-8": (lambda d: ["index", _bytes_name(d, b"caf\xe9.mp4")],
                            lambda d: f"{d}/caf\\xe9.mp4: the file name is not valid UTF-8 (byte 0xe9"),
    "file in a folder not UTF-8": (lambda d: ["index", _bytes_name(d, b"\xff.mp4").parent],
                                   lambda d: f"{d}/\\xff.mp4: the file name is not valid UTF-8 (byte 0xff"),
    "path argument not UTF-8": (lambda d: ["transcript", os.fsdecode(b"/tmp/\xe9.mp4")],
                                lambda d: "video '/tmp/\\xe9.mp4' is not valid UTF-8"),
    "newline in a name": (lambda d: ["index", _named(d, "bad\nname.mp4")],
                          lambda d: f"{d}/bad\\nname.mp4: not a readable video"),
    "newline and tab in a folder": (lambda d: ["index", _named(d, "x\n\ty.mp4").parent],
                                    lambda d: f"{d}/x\\n\\ty.mp4: not a readable video"),
    "symlink loop": (lambda d: ["index", _loop(d)], lambda d: f"{d}/loop.mp4: a symlink loop"),
    "symlink loop of two links": (lambda d: ["index", _two_loop(d) / "a.mp4"], lambda d: f"{d}/a.mp4: a symlink loop"),
    "symlink loop in a folder": (lambda d: ["index", _loop(d).parent], lambda d: f"{d}/loop.mp4: a symlink loop"),
    "symlink loop as the image": (lambda d: ["search", "--image", _loop(d)], lambda d: "a symlink loop"),
    "dangling symlink in a folder": (lambda d: ["index", _dangling(d)],
                                     lambda d: f"{d}/gone.mp4: a symlink to nothing (its target is gone)"),
    "dangling symlink named directly": (lambda d: ["index", _dangling(d) / "gone.mp4"],
                                        lambda d: f"{d}/gone.mp4: a symlink to nothing (its target is gone)"),
    "folder as --queries": (lambda d: ["search", "--queries", d], lambda d: f"{d}: cannot read"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_odd_input_is_one_line_and_the_library_is_intact(library, tmp_path, case):
    arguments, message = CASES[case]
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    before = state(library)
    result = run_vmr(*arguments(scratch), home=library, check=False)
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vmr: error: "), result.stderr
    assert message(scratch) in lines[0]
    assert "Traceback" not in result.stdout
    assert state(library) == before


def test_a_name_with_a_newline_is_indexed_and_shown_on_one_line(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    video = make_video(videos / "week 1\nintro.mp4", [i * 0.1 for i in range(30)])
    result = run_vmr("index", videos, home=tmp_path / "home")
    assert result.stdout.splitlines()[0] == f"indexed    {videos}/week 1\\nintro.mp4  (00:00:03.000, 2 clips, 0 words)"
    assert run_json("info", home=tmp_path / "home")["videos"][0]["path"] == str(video)  # JSON: the name as it is
    assert run_vmr("info", home=tmp_path / "home").stdout.count("week 1\\nintro.mp4") == 1


@pytest.mark.parametrize(("frames", "audio", "duration"), [([0.0], None, 0.04), ([0.0], 4.0, 4.0),
                                                           ([0.0, 0.1], None, 0.2)])
def test_a_very_short_video_has_its_true_duration(tmp_path, frames, audio, duration):
    video = make_video(tmp_path / "short.mp4", frames, audio_seconds=audio)  # 25 fps: a frame is 0.04 s
    (entry,) = run_json("index", video, "--no-ocr", home=tmp_path / "home")["indexed"]
    assert entry["duration"] == pytest.approx(duration, abs=1e-3)
    assert entry["clips"] == max(1, round(duration / 2))


# -- read-only commands on a home without a library

# Each command's arguments, but index (the one that creates a library); a command added to the
# parser must be added here.
READ_ONLY = {
    "search": ["anything"], "info": [], "show": ["talk.mp4", "0", "1"], "transcript": ["talk.mp4"], "chapters": ["talk.mp4"],
    "eval": ["{annotations}"], "serve": ["--port", "0"], "remove": ["talk.mp4"], "check": [],
}


def commands() -> list[str]:
    from test_packaging import commands

    return [name for name in commands() if name != "index"]


def test_every_command_but_index_is_in_the_read_only_table():
    assert sorted(commands()) == sorted(READ_ONLY)


@pytest.mark.parametrize("command", commands())
@pytest.mark.parametrize("home_given", ["--home", "VMR_HOME", "existing empty folder"])
def test_read_only_commands_never_create_a_library(tmp_path, command, home_given):
    annotations = tmp_path / "queries.jsonl"
    annotations.write_text('{"qid": 1, "query": "q", "vid": "talk", "relevant_windows": [[0, 1]]}\n')
    home = tmp_path / "mistyped-home"
    if home_given == "existing empty folder":
        home.mkdir()
    arguments = [a.format(annotations=annotations) for a in READ_ONLY.get(command, [])]
    environment = {**os.environ, "VMR_HOME": str(home)}
    prefix = [] if home_given == "VMR_HOME" else ["--home", str(home)]
    result = subprocess.run([str(VMR), *prefix, command, *arguments], capture_output=True, text=True,
                            timeout=600, env=environment, check=False)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stderr == (f"vmr: error: no vmr library in {home} (no vmr.db there): name your library's folder "
                             "with --home DIR or VMR_HOME, or create one with vmr index PATH\n")
    assert result.stdout == ""
    assert (list(home.iterdir()) == []) if home_given == "existing empty folder" else not home.exists()


def test_a_postgresql_database_without_a_library_stays_empty(db_url, tmp_path):
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite: see test_read_only_commands_never_create_a_library")
    from sqlalchemy import create_engine, inspect

    result = run_vmr("--db", db_url, "info", home=tmp_path / "home", check=False)
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("vmr: error: no vmr library in postgresql") and "***" in line
    assert line.endswith("name your library with --db URL (and --home DIR), or create one with vmr index PATH")
    engine = create_engine(db_url)
    assert inspect(engine).get_table_names() == []
    engine.dispose()
    assert not (tmp_path / "home").exists()


# -- nothing outside the home and the cache

def test_index_and_search_write_only_to_the_home_and_the_cache(tmp_path):
    """With HOME and TMPDIR empty folders, index (Whisper's voice detection and the OCR run ONNX
    Runtime, whose telemetry would write under HOME and TMPDIR) and search leave both empty."""
    from vmr.confine import cache_root

    user, temporary, home = tmp_path / "user", tmp_path / "tmp", tmp_path / "library"
    user.mkdir()
    temporary.mkdir()
    video = make_video(tmp_path / "talk.mp4", [i * 0.25 for i in range(24)], audio_seconds=6.0)
    environment = {key: value for key, value in os.environ.items() if not key.startswith("XDG_")}
    environment |= {"HOME": str(user), "TMPDIR": str(temporary), "VMR_CACHE": str(cache_root())}
    for command in (["index", str(video), "--json"], ["search", "what is said", "--json"], ["info"]):
        result = subprocess.run([str(VMR), "--home", str(home), *command], capture_output=True, text=True,
                                timeout=900, env=environment, check=False)
        assert result.returncode == 0, result.stderr
    assert [str(p.relative_to(tmp_path)) for p in sorted(user.rglob("*"))] == []
    assert [str(p.relative_to(tmp_path)) for p in sorted(temporary.rglob("*"))] == []
    assert (home / "vmr.db").is_file()
