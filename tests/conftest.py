"""Shared fixtures: the real CLI in a subprocess, and the bundled sample indexed once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["dbfixtures"]  # db_url: each test's catalogue on SQLite and on PostgreSQL

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "lecture.mp4"
VMR = Path(sys.executable).with_name("vmr")


def run_vmr(*args: str, home: Path | None = None, check: bool = True, timeout: float = 900,
            **kwargs) -> subprocess.CompletedProcess:
    command = [str(VMR)] + (["--home", str(home)] if home else []) + [str(a) for a in args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"{command} exited {result.returncode}:\n{result.stderr}")
    return result


def run_json(*args: str, home: Path) -> object:
    return json.loads(run_vmr(*args, "--json", home=home).stdout)


@pytest.fixture(scope="session")
def sample_home(tmp_path_factory) -> Path:
    """A library holding the sample lecture, indexed by the real CLI with the default models."""
    home = tmp_path_factory.mktemp("sample-home")
    videos = tmp_path_factory.mktemp("sample-videos")
    shutil.copy(SAMPLE, videos / "lecture.mp4")
    run_vmr("index", videos, home=home)
    return home


@pytest.fixture
def empty_home(tmp_path) -> Path:
    """A library with nothing in it (`vmr index` is what creates a library)."""
    from vmr import Library

    home = tmp_path / "empty-home"
    Library(home).index([])
    return home


@pytest.fixture(scope="session")
def samples_home(tmp_path_factory) -> Path:
    """A library holding the four sample lectures (samples/*.mp4, whose slide and sentence
    timings samples/<vid>.json records), indexed by the real CLI with the default models."""
    home = tmp_path_factory.mktemp("samples-home")
    videos = tmp_path_factory.mktemp("samples-videos")
    for video in sorted(SAMPLE.parent.glob("*.mp4")):
        shutil.copy(video, videos / video.name)
    run_vmr("index", videos, home=home)
    return home


@pytest.fixture(scope="session")
def sample_video(sample_home) -> Path:
    info = run_json("info", home=sample_home)
    return Path(info["videos"][0]["path"])


def pytest_configure(config):
    # A test must never reach a model hub: the packaged weights are the whole point.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@contextmanager
def local_client(home: Path) -> Iterator:
    """The app over a library, called as a browser on this computer calls it: by a loopback
    name, from a loopback address (the Host check lets these through)."""
    from fastapi.testclient import TestClient

    from vmr.app.server import create_app
    from vmr.library import Library

    with TestClient(create_app(Library(home)), base_url="http://localhost", client=("127.0.0.1", 50000)) as client:
        yield client
