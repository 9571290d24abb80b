"""Ray with a real local cluster: `vmr index --ray` survives a worker killed mid-video, and
sharded search finds exactly the single-process moments."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

import kernels
from conftest import VMR, run_json, run_vmr
from factory import make_video, sample_excerpt
from vmr.search.lexical import parse_query
from vmr.search.options import SearchOptions
from vmr.search.windows import search_windows, window_lengths
from vmr.search.shards import merge, search_shard, shard_bounds, shard_view
from vmr.search.matrices import ChannelMatrix, ClipMatrix


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
    queries.write_text("what is supervised learning\nhow does gradient descent start\n")
    # Shards rank on the dense channels, on the clip grid (they hold no lexical index yet).
    (home / "config.toml").write_text("[search]\nlexical_weight = 0.0\nsnap = false\n")
    try:
        single, sharded = (
            [[(m["video"], m["start"], m["end"], m["score"]) for m in found]
             for found in json.loads(run_vmr("search", "--queries", queries, "-k", "5", *extra, home=home).stdout)]
            for extra in ((), ("--shards", "2"))
        )
    finally:
        (home / "config.toml").unlink()
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
def test_merged_shard_results_are_exactly_the_single_process_results(k):
    matrix, queries = _synthetic_library(videos=300, seed=k)
    options = SearchOptions(k=k, channel_weights={"speech": 1.0, "slides": 0.5})
    lengths = window_lengths(matrix, options.window_seconds)
    single = search_windows(matrix, queries, [parse_query("")] * 6, options)
    for count in (2, 3, 8):
        per_shard = [search_shard(*shard_view(matrix, first, stop), queries, [parse_query("")] * 6, options, lengths)
                     for first, stop in shard_bounds(matrix.video_offsets, count)]
        for expected, got in zip(single, merge(per_shard, k)):
            for a, b in zip(expected, got):
                np.testing.assert_array_equal(a, b)


def _synthetic_library(videos: int, seed: int) -> tuple[ClipMatrix, dict[str, np.ndarray]]:
    """Two channels of int8 vectors over videos of 1-80 clips, slide text on some clips only.
    The second half of the videos repeats the first (copies of a lecture: tied scores, ranked
    by position) with 4-s clips, so a shard alone would choose other window lengths."""
    rng = np.random.default_rng(seed)
    half = rng.integers(1, 80, videos // 2)
    lengths = np.concatenate([half, half])
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    seconds = np.repeat([2.0, 4.0], len(half))
    starts = np.concatenate([np.arange(m) * s for m, s in zip(lengths, seconds)])
    ends = starts + np.repeat(seconds, lengths)
    rows = int(half.sum())
    channels = {}
    for name, model in (("speech", "text-a"), ("slides", "text-b")):
        codes, scales = kernels.quantize_int8(rng.standard_normal((rows, 32)).astype(np.float32))
        present = np.ones(rows, bool) if name == "speech" else rng.random(rows) < 0.3
        channels[name] = ChannelMatrix(name, model, np.tile(codes, (2, 1)), np.tile(scales, 2),
                                       np.tile(present, 2), None)
    matrix = ClipMatrix(0, np.arange(len(lengths), dtype=np.int64) + 1, offsets, starts, ends, channels)
    queries = {model: rng.standard_normal((6, 32)).astype(np.float32) for model in ("text-a", "text-b")}
    return matrix, queries


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
