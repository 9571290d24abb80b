"""Ray: per-video analysis on a cluster's workers, and search over shards of the clip matrix.

Indexing: a pool of actors, each holding one `Analyser` (models load once per worker), runs
`Analyser.analyse` on one video at a time; the driver skips unchanged files before submitting
and writes each finished analysis itself, so there is exactly one writer. A worker that dies
mid-video is restarted by Ray and the video analysed again: nothing was written for it yet.

Search: one actor per shard maps its rows of the current build from HOME/vectors (a path that
every worker sees: one host, or a shared file system) and returns its top k; the driver merges.

Ray is optional (`pip install 'vmr[cluster]'`); `address` is "local" (a new cluster in this
process, stopped at exit), "auto" (the one `ray start --head` runs on this host) or host:port.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
from collections import deque
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import numpy as np

from vmr.search import matrices, shards
from vmr.errors import VmrError
from vmr.catalogue.writer import Indexer, IndexReport
from vmr.ingest.analysis import Analyser, IndexOptions, VideoAnalysis
from vmr.ingest.files import FailedInput, discover
from vmr.search.lexical import Query
from vmr.search.options import SearchOptions

# A video whose analysis kills its worker this many more times is reported as failed.
TASK_RETRIES = 2


def connect(address: str | None) -> None:
    try:
        import ray
    except ImportError as exc:
        raise VmrError("Ray is not installed: pip install 'vmr[cluster]'") from exc
    if ray.is_initialized():
        return
    quiet = {"logging_level": logging.WARNING, "log_to_driver": False}
    # This module's only warning says that the cluster uses token authentication, Ray's default.
    logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
    try:
        if address in (None, "local"):
            ray.init(include_dashboard=False, **quiet)
        else:
            if address != "auto" and "://" not in address:
                _reachable(address)  # Ray itself retries an unreachable head for minutes
            ray.init(address=address, **quiet)
    except ConnectionError as exc:
        raise VmrError(f"cannot join the Ray cluster at {address}: {exc}") from exc


def _reachable(address: str) -> None:
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=10).close()
    except (OSError, ValueError) as exc:
        raise VmrError(f"cannot reach the Ray cluster at {address} (host:port of its head): {exc}") from exc


def _driver_messages_to_stderr() -> contextlib.AbstractContextManager:
    """Ray's driver prints what it hears of failed workers on stdout, where `--json` results go."""
    return contextlib.redirect_stdout(sys.stderr)


def _cpus_per_actor(actors: int) -> float:
    """An equal share of the cluster's CPUs, no more than its largest node has."""
    import ray

    nodes = [node["Resources"].get("CPU", 0.0) for node in ray.nodes() if node["Alive"]]
    return max(0.01, min(sum(nodes) / actors, max(nodes)))


def default_workers() -> int:
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))


class Analyst:
    """A Ray actor: one Analyser, models loaded on its first video and kept."""

    def __init__(self, options: IndexOptions):
        self.analyser = Analyser(options)

    def analyse(self, path: str, stat: os.stat_result, digest: str | None) -> VideoAnalysis | str:
        try:
            return self.analyser.analyse(Path(path), stat, digest)
        except VmrError as exc:  # as text: MediaError(path, problem) does not survive pickling
            return str(exc)


def index(indexer: Indexer, paths: Iterable[str | Path], address: str | None,
          workers: int | None = None) -> IndexReport:
    """Like `Indexer.run`, with the analyses on the cluster's workers."""
    import ray

    connect(address)
    files, failed = discover(paths)
    report = IndexReport(failed=failed)
    workers = workers or default_workers()
    cpus = _cpus_per_actor(workers)
    asr = replace(indexer.options.asr, cpu_threads=max(1, int(cpus)))
    actor = ray.remote(Analyst).options(num_cpus=cpus, max_restarts=-1, max_task_retries=TASK_RETRIES)
    pool = [actor.remote(replace(indexer.options, asr=asr)) for _ in range(min(workers, len(files)))]
    try:
        with _driver_messages_to_stderr():
            _drive(indexer, files, pool, report)
    finally:
        for member in pool:
            ray.kill(member)
    order = {str(path): i for i, path in enumerate(files)}
    report.indexed.sort(key=lambda video: order[video.path])
    return report


def _drive(indexer: Indexer, files: list[Path], pool: list, report: IndexReport) -> None:
    """Keeps every actor busy with one video; checks before and writes after, in this process."""
    import ray
    from ray.exceptions import RayActorError

    idle = list(pool)
    waiting = deque(files)
    running: dict = {}  # ObjectRef -> (path, actor, the driver's stage times)
    while waiting or running:
        while idle and waiting:
            path = waiting.popleft()
            try:
                unchanged, stat, digest, clock = indexer.check(path)
            except VmrError as exc:
                report.failed.append(FailedInput.of(path, exc))
                indexer.progress(str(path), "done", 1, 1)
                continue
            if unchanged is not None:
                report.indexed.append(unchanged)
                indexer.progress(str(path), "done", 1, 1)
                continue
            worker = idle.pop()
            indexer.progress(str(path), "analyse (ray)", 0, 1)
            running[worker.analyse.remote(str(path), stat, digest)] = (path, worker, clock)
        if not running:
            break
        [ref], _ = ray.wait(list(running), num_returns=1)
        path, worker, clock = running.pop(ref)
        idle.append(worker)
        try:
            result = ray.get(ref)
        except RayActorError:
            result = f"its Ray worker died {TASK_RETRIES + 1} times analysing it"
        if isinstance(result, str):
            report.failed.append(FailedInput.of(path, result))
        else:
            indexer.progress(str(path), "save", 0, 1)
            result.seconds = {**clock.seconds, **result.seconds}
            report.indexed.append(indexer.write(result))
        indexer.progress(str(path), "done", 1, 1)


class Shard:
    """A Ray actor: the rows of some whole videos, memory-mapped from one build's folder."""

    def __init__(self, folder: str, first: int, stop: int, threads: int):
        import numba

        numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
        self.matrix, self.row0 = shards.shard_view(matrices.load_folder(Path(folder)), first, stop)

    def search(self, query_vectors: dict[str, np.ndarray], queries: list[Query], options: SearchOptions,
               lengths: np.ndarray) -> list[shards.Windows]:
        return shards.search_shard(self.matrix, self.row0, query_vectors, queries, options, lengths)


class ShardPool:
    """One Shard actor per shard of one build (spread over the nodes); search fans out to all."""

    def __init__(self, matrix: matrices.ClipMatrix, count: int, address: str | None):
        import ray

        connect(address)
        bounds = shards.shard_bounds(matrix.video_offsets, count)
        cpus = _cpus_per_actor(len(bounds))
        actor = ray.remote(Shard).options(num_cpus=cpus, scheduling_strategy="SPREAD")
        self.generation = matrix.generation
        self.actors = [actor.remote(str(matrix.folder), first, stop, int(cpus)) for first, stop in bounds]

    def search(self, query_vectors: dict[str, np.ndarray], queries: list[Query], options: SearchOptions,
               lengths: np.ndarray) -> list[shards.Windows]:
        import ray

        shared = ray.put(query_vectors)  # one copy in the object store, read by every shard
        with _driver_messages_to_stderr():
            found = ray.get([a.search.remote(shared, queries, options, lengths) for a in self.actors])
        return shards.merge(found, options.k)

    def close(self) -> None:
        import ray

        for member in self.actors:
            ray.kill(member)
