"""The command line as people expect it (sqlite-utils, llm, yt-dlp): --version, help on every
option, a closed pipe is no traceback, progress on a terminal, each file's line when it
finishes, and the visual-channel note once per library. The real `vmr`, in a subprocess; the
progress display through a pseudo-terminal, as a user's terminal would show it."""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time
from pathlib import Path

import pytest

from conftest import VMR, run_vmr
from factory import sample_excerpt
from vmr import __version__
from vmr.app.cli import BROKEN_PIPE, VideoProgress, build_parser


def test_version():
    result = run_vmr("--version")
    assert result.stdout == f"vmr {__version__}\n" and result.stderr == ""


def test_every_option_has_help():
    parser = build_parser()
    missing = []

    def walk(p: argparse.ArgumentParser, name: str) -> None:
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for command, sub in action.choices.items():
                    walk(sub, f"{name} {command}")
            elif not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")

    walk(parser, "vmr")
    assert missing == []
    # And the real command shows it.
    shown = run_vmr("index", "--help").stdout
    assert re.search(r"--json\s+print a JSON report", shown) and re.search(r"--clip-seconds SECONDS\s+\S", shown)


def test_a_reader_that_goes_away_is_no_traceback(sample_home, tmp_path):
    queries = tmp_path / "queries.txt"
    queries.write_text("what is overfitting\ngradient descent\nthe chain rule\n" * 20)  # ~1 MB of JSON
    process = subprocess.Popen([str(VMR), "--home", str(sample_home), "search", "--queries", str(queries), "-k", "10"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout.readline() == b"[\n"  # `| head -1`
    process.stdout.close()
    code = process.wait(timeout=120)
    assert process.stderr.read() == b""
    assert code == BROKEN_PIPE


def test_a_shell_pipeline_into_head(sample_home):
    result = subprocess.run(f"'{VMR}' --home '{sample_home}' transcript 1 --format json | head -c 11",
                            shell=True, capture_output=True, text=True, timeout=120)
    assert result.stdout == '{\n  "video"' and result.stderr == ""


# -- progress on a terminal


def on_a_terminal(command: list[str], timeout: float = 900) -> tuple[int, str]:
    """Runs `command` with stdout and stderr on a pseudo-terminal 120 columns wide; returns its
    exit status and everything the terminal received."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    received = bytearray()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the other end closed: the process is done
                break
            if not chunk:
                break
            received += chunk
        elif process.poll() is not None:
            break
    os.close(master)
    return process.wait(timeout=60), received.decode(errors="replace")


PROGRESS = re.compile(r"(\d+)/(\d+) (\S+) \[(\w+)\]\s.*?\s(\d+)% (\d+:\d\d) elapsed, ETA (…|\d+:\d\d)")


@pytest.fixture(scope="module")
def two_videos(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("two-videos")
    sample_excerpt(folder / "a.mp4", 24)
    sample_excerpt(folder / "b.mp4", 16)
    return folder


def test_index_on_a_terminal_shows_each_video_and_prints_each_line_when_done(two_videos, tmp_path):
    home = tmp_path / "home"
    code, screen = on_a_terminal([str(VMR), "--home", str(home), "index", str(two_videos)])
    assert code == 0, screen
    frames = re.split(r"[\r\n]", screen)
    seen = [(m, i) for i, frame in enumerate(frames) for m in [PROGRESS.search(frame)] if m]
    assert {m.group(3) for m, _ in seen} == {"a.mp4", "b.mp4"}
    assert {(m.group(1), m.group(2), m.group(3)) for m, _ in seen} == {("1", "2", "a.mp4"), ("2", "2", "b.mp4")}
    assert {"speech", "encode"} <= {m.group(4) for m, _ in seen}
    for name in ("a.mp4", "b.mp4"):
        shown = [(int(m.group(5)), m.group(6), m.group(7)) for m, _ in seen if m.group(3) == name]
        percents = [p for p, _, _ in shown]
        assert percents == sorted(percents), f"{name}: the bar went back: {percents}"
        elapsed = [int(e.split(":")[0]) * 60 + int(e.split(":")[1]) for _, e, _ in shown]
        assert elapsed == sorted(elapsed), f"{name}: the clock went back: {elapsed}"
        etas = [eta for _, _, eta in shown if eta != "…"]
        seconds = [int(e.split(":")[0]) * 60 + int(e.split(":")[1]) for e in etas]
        assert all(b <= a for a, b in zip(seconds, seconds[1:])), f"{name}: the ETA went up: {etas}"
    # a.mp4's line is on the screen before b.mp4's progress starts: printed as it finished.
    done_a = next(i for i, frame in enumerate(frames) if re.match(rf"indexed\s+{re.escape(str(two_videos / 'a.mp4'))}", frame))
    first_b = next(i for m, i in seen if m.group(3) == "b.mp4")
    assert done_a < first_b
    assert "Traceback" not in screen


def test_progress_never_goes_back_and_its_eta_only_counts_down():
    video = VideoProgress(2, 4, "talk.mp4", visual=False, now=0.0)
    fractions, etas = [], []
    for now, (stage, done, total) in enumerate([
            ("analyse", 0, 1), ("hash", 1, 1), ("frames", 0, 1), ("audio", 0, 1), ("speech", 0, 100),
            ("speech", 20, 100), ("speech", 30, 100), ("speech", 90, 100), ("frames", 0, 1),
            ("speech", 100, 100), ("encode", 0, 10), ("encode", 0, 4)]):
        video.update(stage, done, total, float(now) * 3)
        fractions.append(video.fraction)
        if video.eta is not None:
            etas.append(video.eta)
    assert fractions == sorted(fractions) and fractions[-1] > 0.9
    assert etas and etas == sorted(etas, reverse=True)
    assert video.label == "2/4 talk.mp4" and video.stage == "encode"


def test_the_visual_note_is_shown_once_per_library_and_names_a_local_folder_first(two_videos, tmp_path):
    home = tmp_path / "home"
    first = run_vmr("index", two_videos / "b.mp4", home=home)
    (note,) = [line for line in first.stderr.splitlines() if line.startswith("vmr: note:")]
    assert "visual channel off" in note and note.index("local CLIP/SigLIP folder") < note.index("openai/clip")
    assert str(home / "config.toml") in note
    second = run_vmr("index", two_videos / "a.mp4", home=home)
    assert "vmr: note:" not in second.stderr
    assert re.match(r"indexed\s+\S+a\.mp4\s+\(", second.stdout)
