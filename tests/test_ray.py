"""Ray with a real local cluster: `vmr index --ray` survives a worker killed mid-video, and
sharded search finds exactly the single-process moments; and the search steps over parts of a
build, in one process, merge into exactly the whole build's moments."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import VMR, run_json, run_vmr
from factory import make_video, sample_excerpt
from synthetic import VOCABULARY, synthetic_library
from vmr import Library
from vmr.search import build, fusion, parts
from vmr.search.lexical import parse_query
from vmr.search.options import SearchOptions
from vmr.search.shards import shard_bounds


@pytest.fixture(scope="module")
def ray_run(tmp_path_factory):
    """`vmr index --ray --workers 1` over a speech excerpt and a short tone, with the worker's
    process killed while it analyses the excerpt. Returns home, folder, the run, the killed pid."""
    home, folder = tmp_path_factory.mktemp("ray-home"), tmp_path_factory.mktemp("ray-videos")
    sample_excerpt(folder / "a-excerpt.mp4", 40)
    make_video(folder / "b-tone.mp4", [i * 0.1 for i in range(40)], audio_seconds=4.0)
    process = subprocess.Popen(
        [str(VMR), "--home", str(home), "index", str(folder), "--ray", "--workers", "1",
         "--asr-model", "tiny.en", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while (worker := _analysing_worker(process.pid)) is None:
            assert process.poll() is None and time.monotonic() < deadline, "no worker seen analysing"
            time.sleep(0.1)
        time.sleep(1.0)  # into the video (it takes several seconds: model loads, Whisper)
        os.kill(worker, signal.SIGKILL)
        out, err = process.communicate(timeout=600)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return home, folder, subprocess.CompletedProcess(process.args, process.returncode, out, err), worker


def test_a_worker_killed_mid_video_is_replaced_and_the_video_indexed_once(ray_run):
    home, folder, run, killed = ray_run
    assert run.returncode == 0, run.stderr
    assert not Path(f"/proc/{killed}").exists()
    report = json.loads(run.stdout)
    assert report["failed"] == []
    assert [(Path(v["path"]).name, v["status"], v["clips"]) for v in report["indexed"]] == [
        ("a-excerpt.mp4", "indexed", 20), ("b-tone.mp4", "indexed", 2)]
    videos = run_json("info", home=home)["videos"]
    assert [(Path(v["path"]).name, v["clips"]) for v in videos] == [("a-excerpt.mp4", 20), ("b-tone.mp4", 2)]
    assert videos[0]["words"] > 50
    found = run_json("search", "what is supervised learning", "-k", "1", home=home)
    assert Path(found[0]["video"]).name == "a-excerpt.mp4"


def test_sharded_search_on_ray_finds_the_single_process_moments(ray_run):
    home = ray_run[0]
    queries = home / "queries.txt"
    queries.write_text("what is supervised learning\nhow does gradient descent start\n\"labeled examples\"\n")
    single, sharded = (json.loads(run_vmr("search", "--queries", queries, "-k", "5", *extra, home=home).stdout)
                       for extra in ((), ("--shards", "2")))
    assert sharded == single and all(single)


def test_shards_cut_on_video_boundaries_into_near_equal_parts():
    sizes = [50, 10, 10, 30, 100, 5, 5]
    offsets = np.cumsum([0] + sizes)
    assert shard_bounds(offsets, 1) == [(0, 7)]
    assert shard_bounds(offsets, 2) == [(0, 4), (4, 7)]  # 100 and 110 clips
    for count in (3, 4, 20):
        bounds = shard_bounds(offsets, count)
        assert bounds[0][0] == 0 and bounds[-1][1] == 7 and len(bounds) <= count
        assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
        largest = max(offsets[stop] - offsets[first] for first, stop in bounds)
        assert largest <= 210 / count + max(sizes)
    assert shard_bounds(np.array([0]), 4) == []


@pytest.mark.parametrize("k", [1, 7, 40])
@pytest.mark.parametrize("prefilter", [False, True])
def test_parts_of_a_build_answer_exactly_like_the_whole(tmp_path, monkeypatch, k, prefilter):
    """Copies of videos (tied scores), two clip lengths, quoted and unquoted phrases, int8
    scans reranked exactly; with the sign-bit prefilter scoring only some clips exactly."""
    if prefilter:
        monkeypatch.setattr(build, "PREFILTER_MIN_CLIPS", 1)
        monkeypatch.setattr(fusion, "PREFILTER_CANDIDATES", 64)
    synthetic_library(tmp_path, videos=300, seed=k)
    library = Library(tmp_path)
    whole = library.search_build()
    assert (whole.channels["speech"].codes is not None) == prefilter
    rng = np.random.default_rng(k)
    texts = [" ".join(rng.choice(VOCABULARY, 2)) for _ in range(4)] + [f'"{VOCABULARY[0]} {VOCABULARY[1]}"', ""]
    vectors = {model: rng.standard_normal((len(texts), 32)).astype(np.float32) for model in ("text-a", "text-b")}
    options = SearchOptions(k=k, channel_weights={"speech": 1.0, "slides": 0.5})

    def search(pieces: list) -> list:
        request = parts.request_for(whole, [parse_query(t) for t in texts], vectors, options)
        return parts.search(parts.local_fan([parts.Part(piece) for piece in pieces]), whole, request)

    single = search([whole])
    assert all(len(found) == k for found in single[:4]) and any(m.why == "slides" for found in single for m in found)
    for count in (2, 3, 8):
        assert search([whole.part(first, stop) for first, stop in shard_bounds(whole.video_offsets, count)]) == single


def _analysing_worker(ancestor: int) -> int | None:
    """The pid of a Ray worker, descended from `ancestor`, that runs Analyst.analyse now."""
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or not (entry / "cmdline").read_bytes().startswith(b"ray::Analyst.analyse"):
                continue
            pid = int(entry.name)
            while pid > 1:
                if pid == ancestor:
                    return int(entry.name)
                pid = int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):  # a process that ended as we looked
            continue
    return None


def test_a_query_after_a_bare_ray_flag_is_the_query_not_an_address():
    from vmr.app.cli import _check_ray, build_parser

    parser = build_parser()
    args = parser.parse_args(["search", "--shards", "2", "--ray", "what is overfitting"])
    _check_ray(parser, args)
    assert (args.query, args.ray) == ("what is overfitting", "local")
    args = parser.parse_args(["search", "overfitting", "--shards", "2", "--ray", "auto"])
    _check_ray(parser, args)
    assert (args.query, args.ray) == ("overfitting", "auto")
