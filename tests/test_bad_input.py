"""Bad input: one clear line naming the file and the problem, the rest of the batch indexed,
non-zero exit only when nothing could be done, nothing already indexed lost."""

from __future__ import annotations

import os

import pytest

from conftest import SAMPLE, run_json, run_vmr
from factory import make_video


@pytest.fixture(scope="module")
def bad_batch(tmp_path_factory):
    """A folder of broken files beside two valid short videos, indexed in one run."""
    folder = tmp_path_factory.mktemp("batch")
    home = tmp_path_factory.mktemp("home")
    make_video(folder / "no audio.mp4", [i * 0.1 for i in range(40)])
    make_video(folder / "Vorlesung über Übungen – 1.mp4", [i * 0.1 for i in range(40)], audio_seconds=4.0)
    (folder / "notes.mp4").write_text("not a video at all\n" * 100)
    (folder / "empty.mp4").write_bytes(b"")
    data = SAMPLE.read_bytes()
    (folder / "truncated.mp4").write_bytes(data[: len(data) // 3])
    result = run_vmr("index", folder, folder / "missing.mp4", "--json", home=home, check=False)
    return folder, home, result


def _lines_naming(result, name):
    return [line for line in result.stderr.splitlines() if name in line]


def test_batch_with_failures_still_indexes_the_valid_videos(bad_batch):
    folder, home, result = bad_batch
    assert result.returncode == 0, result.stderr
    import json

    report = json.loads(result.stdout)
    indexed = {os.path.basename(v["path"]) for v in report["indexed"]}
    assert "no audio.mp4" in indexed and "Vorlesung über Übungen – 1.mp4" in indexed
    failed = {os.path.basename(f["path"]): f["error"] for f in report["failed"]}
    assert failed["notes.mp4"].startswith("not a readable video")
    assert failed["empty.mp4"] == "empty file (0 bytes)"
    assert failed["missing.mp4"] == "no such file or folder"


@pytest.mark.parametrize("name", ["notes.mp4", "empty.mp4", "missing.mp4"])
def test_each_failure_is_one_line_naming_the_file(bad_batch, name):
    _, _, result = bad_batch
    lines = _lines_naming(result, name)
    assert len(lines) == 1 and lines[0].startswith("vmr: error: /")


def test_truncated_video_is_indexed_as_far_as_it_decodes_or_named(bad_batch):
    _, home, result = bad_batch
    info = run_json("info", home=home)
    truncated = [v for v in info["videos"] if v["path"].endswith("truncated.mp4")]
    if truncated:  # the front of the file decodes: indexed, with a warning line
        assert 0 < truncated[0]["duration"] < 167
        assert len(_lines_naming(result, "truncated.mp4")) == 1
    else:
        lines = _lines_naming(result, "truncated.mp4")
        assert len(lines) == 1 and "vmr: error:" in lines[0]


def test_video_without_audio_is_indexed_without_speech(bad_batch):
    _, home, _ = bad_batch
    video = next(v for v in run_json("info", home=home)["videos"] if v["path"].endswith("no audio.mp4"))
    assert video["has_audio"] is False and video["words"] == 0 and video["clips"] == 2
    # Nothing in this library was said (the other audio is a tone): no moment to offer.
    assert run_json("search", "anything at all", home=home) == []


def test_non_ascii_name_gets_an_encoded_link(bad_batch):
    folder, home, _ = bad_batch
    info = run_json("info", home=home)
    video = next(v for v in info["videos"] if "Vorlesung" in v["path"])
    assert video["path"] == str(folder / "Vorlesung über Übungen – 1.mp4")
    out = run_vmr("transcript", video["path"], "--format", "json", home=home)
    assert out.returncode == 0


def test_nothing_to_do_exits_non_zero(tmp_path):
    (tmp_path / "notes.mp4").write_text("nope")
    result = run_vmr("index", tmp_path / "notes.mp4", tmp_path / "absent.mkv", home=tmp_path / "home", check=False)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 2


def test_unreadable_file_is_named(tmp_path):
    video = make_video(tmp_path / "locked.mp4", [i * 0.1 for i in range(20)])
    video.chmod(0)
    expected = "permission denied"
    if os.access(video, os.R_OK):  # root reads anything: a folder in its place cannot be read as one
        video.chmod(0o644)
        video.unlink()
        video.mkdir()
        (video / "inner.txt").write_text("x")
        expected = "folder holds no video files"
    result = run_vmr("index", video, home=tmp_path / "home", check=False)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line == f"vmr: error: {video}: {expected}" or line.startswith(f"vmr: error: {video}: {expected}")


@pytest.mark.parametrize(("args", "message"), [
    (["search", "   "], "empty query"),
    (["search", "overfitting", "-k", "0"], "-k must be a positive"),
    (["search", "overfitting", "-k", "-3"], "-k must be a positive"),
    (["transcript", "/nowhere/lecture.mp4"], "/nowhere/lecture.mp4: not in the index"),
    (["remove", "/nowhere/lecture.mp4"], "/nowhere/lecture.mp4: not in the index"),
])
def test_bad_requests_are_one_line_errors(tmp_path, args, message):
    result = run_vmr(*args, home=tmp_path, check=False)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("vmr: error:") and message in line


def test_search_on_an_empty_library_finds_nothing(tmp_path):
    assert run_json("search", "anything", home=tmp_path) == []
