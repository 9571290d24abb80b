"""Bad input: one clear line naming the file and the problem, the rest of the batch indexed,
non-zero exit only when nothing could be done, nothing already indexed lost."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from conftest import SAMPLE, VMR, run_json, run_vmr
from factory import make_video, sample_excerpt


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


def test_truncated_video_without_its_index_is_named(bad_batch):
    """The sample keeps its index (moov) at the end: its first third holds no index, so
    nothing of it decodes, and it is one error line."""
    _, home, result = bad_batch
    assert not [v for v in run_json("info", home=home)["videos"] if v["path"].endswith("truncated.mp4")]
    (line,) = _lines_naming(result, "truncated.mp4")
    assert line.startswith("vmr: error: /") and line.endswith("truncated.mp4: not a readable video (no decodable "
                                                              "video stream)")


def test_truncated_video_with_its_index_first_is_indexed_as_far_as_it_decodes(tmp_path):
    """A file written for streaming (its index first) decodes up to the cut: indexed, with one
    warning line."""
    whole = sample_excerpt(tmp_path / "whole.mp4", 20.0, faststart=True)
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    result = run_vmr("index", cut, "--no-ocr", home=tmp_path / "home")
    (video,) = run_json("info", home=tmp_path / "home")["videos"]
    assert 2 < video["duration"] < 15  # the part before the cut, not the 20 s the index claims
    (line,) = _lines_naming(result, "cut.mp4")
    assert line == f"vmr: warning: {cut}: truncated or damaged: indexed the part that decodes"


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
    """Run as root (CI is), vmr would read the file anyway: it runs without the two
    capabilities that let root ignore permissions, so the file is as unreadable to it as to
    anyone; without setpriv, the test asserts what root gets (the file indexed)."""
    video = make_video(tmp_path / "locked.mp4", [i * 0.1 for i in range(20)])
    video.chmod(0)
    command = [str(VMR), "--home", str(tmp_path / "home"), "index", str(video)]
    as_root = os.geteuid() == 0
    if as_root and shutil.which("setpriv"):
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *command]
    elif as_root:
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0 and result.stdout.startswith(f"indexed    {video}"), result.stderr
        return
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line == f"vmr: error: {video}: permission denied (cannot read the file)"


@pytest.mark.parametrize(("args", "message"), [
    (["search", "   "], "empty query"),
    (["search", "overfitting", "-k", "0"], "-k must be a positive"),
    (["search", "overfitting", "-k", "-3"], "-k must be a positive"),
    (["transcript", "/nowhere/lecture.mp4"], "/nowhere/lecture.mp4: not in the index"),
    (["remove", "/nowhere/lecture.mp4"], "/nowhere/lecture.mp4: not in the index"),
])
def test_bad_requests_are_one_line_errors(empty_home, args, message):
    result = run_vmr(*args, home=empty_home, check=False)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("vmr: error:") and message in line


def test_search_on_an_empty_library_finds_nothing(empty_home):
    assert run_json("search", "anything", home=empty_home) == []
