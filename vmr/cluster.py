"""Ray: per-video analysis on a cluster's workers, and search over shards of the search build.

Indexing: a pool of actors, each holding one `Analyser` (models load once per worker), is the
`Indexer`'s executor: it runs `Analyser.analyse` on one video at a time while the driver skips
unchanged files and writes each finished analysis itself, in the order the files were found,
so there is exactly one writer. A worker that dies mid-video is restarted by Ray and the video
analysed again: nothing was written for it yet.

Search: one actor per shard maps the current build from HOME/vectors (a path that every worker
sees: one host, or a shared file system) and holds a `Part` of it, its run of whole videos;
the driver runs the steps of `vmr.search.parts` on all of them.

Ray is optional (`pip install 'vmr[cluster]'`); `address` is "local" (a new cluster in this
process, stopped at exit), "auto" (the one `ray start --head` runs on this host) or host:port.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import socket
import sys
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path

from vmr.errors import VmrError
from vmr.ingest.analysis import Analyser, IndexOptions, StageClock, VideoAnalysis
from vmr.search import build, shards
from vmr.search.parts import Part

# A video whose analysis kills its worker this many more times is reported as failed.
TASK_RETRIES = 2
# Actors that cannot start in this time (the CPUs they ask for are busy) fail with a message.
START_SECONDS = 120


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


def started(actors: list, what: str, cpus: float) -> list:
    """The actors, once each has started; or a clear error if the cluster could not place
    them in time (their CPUs are held by other work), after which they are given back."""
    import ray
    from ray.exceptions import GetTimeoutError

    try:
        ray.get([actor.ready.remote() for actor in actors], timeout=START_SECONDS)
    except GetTimeoutError:
        for actor in actors:
            ray.kill(actor)
        free = ray.available_resources().get("CPU", 0.0)
        raise VmrError(f"{len(actors)} Ray {what} asking for {cpus:g} CPUs each did not start within "
                       f"{START_SECONDS} s ({free:g} CPUs free in the cluster): free some, or ask for fewer "
                       "(--workers, --shards)") from None
    return actors


class Analyst:
    """A Ray actor: one Analyser, models loaded on its first video and kept."""

    def __init__(self, options: IndexOptions):
        self.analyser = Analyser(options)

    def ready(self) -> bool:
        return True

    def analyse(self, path: str, stat: os.stat_result, digest: str | None) -> VideoAnalysis | str:
        try:
            return self.analyser.analyse(Path(path), stat, digest)
        except VmrError as exc:  # as text: MediaError(path, problem) does not survive pickling
            return str(exc)


class RayAnalysts:
    """The Indexer's executor on a Ray cluster: one Analyst per worker, each analysing one
    video at a time."""

    def __init__(self, options: IndexOptions, address: str | None, workers: int | None = None):
        import ray

        connect(address)
        workers = workers or default_workers()
        cpus = _cpus_per_actor(workers)
        asr = replace(options.asr, cpu_threads=max(1, int(cpus)))
        actor = ray.remote(Analyst).options(num_cpus=cpus, max_restarts=-1, max_task_retries=TASK_RETRIES)
        self.pool = started([actor.remote(replace(options, asr=asr)) for _ in range(workers)], "workers", cpus)
        self.capacity = len(self.pool)
        # Ray's driver reports failed tasks whenever they fail, on stdout: for the whole run.
        self.quiet = _driver_messages_to_stderr()
        self.quiet.__enter__()
        self.idle: queue.SimpleQueue = queue.SimpleQueue()
        for member in self.pool:
            self.idle.put(member)

    def submit(self, path: Path, stat: os.stat_result, digest: str | None,
               clock: StageClock) -> Future[VideoAnalysis]:
        from ray.exceptions import RayActorError

        worker = self.idle.get()
        future: Future[VideoAnalysis] = Future()

        def done(remote: Future) -> None:
            self.idle.put(worker)
            try:
                result = remote.result()
            except RayActorError:
                future.set_exception(VmrError(f"its Ray worker died {TASK_RETRIES + 1} times analysing it"))
                return
            if isinstance(result, str):
                future.set_exception(VmrError(result))
            else:
                result.seconds = {**clock.seconds, **result.seconds}
                future.set_result(result)

        worker.analyse.remote(str(path), stat, digest).future().add_done_callback(done)
        return future

    def close(self) -> None:
        import ray

        for member in self.pool:
            ray.kill(member)
        self.quiet.__exit__(None, None, None)


class Shard(Part):
    """A Ray actor: the part of one build that holds some whole videos, memory-mapped."""

    def __init__(self, folder: str, first: int, stop: int, threads: int):
        import numba

        numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
        super().__init__(build.load_folder(Path(folder)).part(first, stop))

    def ready(self) -> bool:
        return True


class ShardPool:
    """One Shard actor per shard of one build (spread over the nodes); `fan` runs a search
    step on all of them."""

    def __init__(self, whole: build.SearchBuild, count: int, address: str | None):
        import ray

        connect(address)
        bounds = shards.shard_bounds(whole.video_offsets, count)
        cpus = _cpus_per_actor(len(bounds))
        actor = ray.remote(Shard).options(num_cpus=cpus, scheduling_strategy="SPREAD")
        self.generation = whole.generation
        self.actors = started([actor.remote(str(whole.folder), first, stop, int(cpus)) for first, stop in bounds],
                              "shards", cpus)

    def fan(self, method: str, *args) -> list:
        import ray

        shared = [ray.put(arg) for arg in args]  # one copy in the object store, read by every shard
        with _driver_messages_to_stderr():
            return ray.get([getattr(actor, method).remote(*shared) for actor in self.actors])

    def close(self) -> None:
        import ray

        for member in self.actors:
            ray.kill(member)
