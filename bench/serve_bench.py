#!/usr/bin/env python
"""Warm search latency through `vmr serve`, and catalogue bytes per clip, side by side with the
code before the search build held what moments need (the baseline revision), in one run.

    .venv/bin/python bench/serve_bench.py                      # samples + 1M clips on PostgreSQL
    .venv/bin/python bench/serve_bench.py --clips 200000 --requests 100
    .venv/bin/python bench/serve_bench.py --baseline 91fed68   # the code to compare with

Libraries:
- the four sample lectures, indexed once by the baseline code (SQLite); the current code opens
  a copy of it, which migrates it (its vectors move out to files) as a user's library would;
- a synthetic library of --clips clips (videos of 200 clips, 384-d random vectors, two words a
  clip, a sentence every six words, a slide with text over a third of the clips) written
  directly into a PostgreSQL catalogue in the baseline's schema (0002), and a copy of that
  database (CREATE DATABASE ... TEMPLATE) that the current code migrates.

Each (library, code) pair is served by `python -m vmr serve` with that code on PYTHONPATH; after
a warm-up search (which builds the search build), --requests searches are timed from one client,
then from 8 clients at once (each sending --requests / 8), over HTTP/1.1 keep-alive connections;
and on the samples, the same searches in this process (`Library.search`, this tree's code).
Reported: p50, p95 and p99 latency, searches per second, and the catalogue's bytes per clip (SQLite:
the file after VACUUM; PostgreSQL: pg_database_size after VACUUM FULL, minus an empty database's).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BASELINE = "91fed68"  # main before the search build held what moments need (issue #12)
DIM = 384
MODEL = "all-MiniLM-L6-v2"
VOCABULARY = ("gradient descent weights learning rate loss function overfitting training data model layer "
              "neuron chain rule output error validation regularization batch epoch label").split()


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def checkout(revision: str, scratch: Path) -> Path:
    folder = scratch / f"code-{revision}"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(folder), revision],
                   check=True, capture_output=True)
    return folder


def vmr(code: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    # `python -m` puts the working directory first on the path: run in the code's own folder.
    env = {**os.environ, "PYTHONPATH": str(code)}
    return subprocess.run([PYTHON, "-m", "vmr", *args], env=env, cwd=code, check=True, capture_output=True, text=True,
                          **kwargs)


class Served:
    """`vmr serve` with one revision's code; `url` once it listens."""

    def __init__(self, code: Path, options: list[str]):
        self.stderr = tempfile.TemporaryFile("w+")
        self.process = subprocess.Popen([PYTHON, "-m", "vmr", *options, "serve", "--port", "0"],
                                        env={**os.environ, "PYTHONPATH": str(code)}, cwd=code,
                                        stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        line = self.process.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+/", line)
        if found is None:
            self.stop()
            self.stderr.seek(0)
            raise RuntimeError(f"vmr serve did not start: {line!r} {self.stderr.read()[-2000:]}")
        self.url = found.group(0)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()


def timed_searches(url: str, queries: list[str], requests: int, clients: int) -> tuple[list[float], float]:
    """Latencies (ms) of `requests` searches sent by `clients` threads, and the wall time (s)."""
    import httpx

    per_client = requests // clients
    latencies: list[float] = []
    lock = threading.Lock()

    def client(c: int) -> None:
        with httpx.Client(base_url=url, timeout=120) as http:
            for i in range(per_client):
                query = queries[(c * per_client + i) % len(queries)]
                started = time.perf_counter()
                response = http.get("/api/search", params={"q": query, "k": 10})
                elapsed = (time.perf_counter() - started) * 1000
                response.raise_for_status()
                with lock:
                    latencies.append(elapsed)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    return latencies, time.perf_counter() - started


def row(library: str, code_label: str, clients: str, latencies: list[float], wall: float) -> str:
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99])
    return f"| {library} | {code_label} | {clients} | {p50:.0f} | {p95:.0f} | {p99:.0f} | {len(latencies) / wall:.1f} |"


def in_process_row(library: str, home: Path, queries: list[str], requests: int) -> str:
    """The same searches through `Library.search` in this process (this tree's code), one after
    another: what a server adds to a search is the difference."""
    from vmr.library import Library

    lib = Library(home)
    lib.search(queries[0], 10)
    latencies = []
    started = time.perf_counter()
    for i in range(requests):
        begun = time.perf_counter()
        lib.search(queries[i % len(queries)], 10)
        latencies.append((time.perf_counter() - begun) * 1000)
    return row(library, "now, in process (`Library.search`)", "1", latencies, time.perf_counter() - started)


def serve_row(library: str, code_label: str, code: Path, options: list[str], queries: list[str],
              requests: int) -> list[str]:
    import httpx

    served = Served(code, options)
    try:
        httpx.get(served.url + "api/search", params={"q": queries[0], "k": 10}, timeout=600).raise_for_status()
        rows = []
        for clients in (1, 8):
            latencies, wall = timed_searches(served.url, queries, requests, clients)
            rows.append(row(library, code_label, str(clients), latencies, wall))
            log(rows[-1])
        return rows
    finally:
        served.stop()


def sqlite_bytes_per_clip(home: Path, clips: int) -> float:
    import sqlite3

    copy = home.parent / f"{home.name}-vacuumed.db"
    with sqlite3.connect(home / "vmr.db") as db:  # VACUUM INTO reads the WAL too (a file copy would not)
        db.execute("VACUUM INTO ?", (str(copy),))
    size = copy.stat().st_size
    copy.unlink()
    return size / clips


def postgres_bytes_per_clip(url: str, clips: int, empty: int) -> float:
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("VACUUM FULL"))
        size = connection.execute(text("SELECT pg_database_size(current_database())")).scalar()
    engine.dispose()
    return (size - empty) / clips


def synthetic_0002(url: str, clips: int, folder: Path, seed: int = 11) -> None:
    """A library in the baseline's schema (0002: a float32 vector row per clip) written with
    COPY: videos of 200 2-s clips, two words a clip, slides over a third of the clips."""
    import psycopg
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from alembic import command
    from vmr.catalogue.store import alembic_config

    engine = create_engine(url)
    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
    engine.dispose()
    rng = np.random.default_rng(seed)
    per_video = 200
    videos = clips // per_video
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as connection, connection.cursor() as cursor:
        with cursor.copy("COPY videos (id, path, content_hash, size, mtime, duration, fps, width, height, has_audio, "
                         "status, asr_model, language, indexed_at) FROM STDIN") as copy:
            for v in range(videos):
                path = folder / f"lecture-{v:06d}.mp4"
                path.touch()  # an empty file: vmr checks that each video on a result page still exists
                copy.write_row((v + 1, str(path), f"{v:064x}", 10**8, 0.0,
                                2.0 * per_video, 10.0, 1280, 720, True, "indexed", "synthetic", "en",
                                "2026-11-29 00:00:00+00"))
        with cursor.copy("COPY clips (id, video_id, idx, start, \"end\", keyframe_time) FROM STDIN") as copy:
            for v in range(videos):
                for c in range(per_video):
                    copy.write_row((v * per_video + c + 1, v + 1, c, 2.0 * c, 2.0 * c + 2, 2.0 * c + 1))
        with cursor.copy("COPY segments (id, video_id, idx, start, \"end\", text) FROM STDIN") as copy:
            for v in range(videos):
                copy.write_row((v + 1, v + 1, 0, 0.0, 2.0 * per_video, ""))
        with cursor.copy("COPY words (segment_id, video_id, idx, start, \"end\", text, probability) FROM STDIN") as copy:
            for v in range(videos):
                picks = rng.integers(0, len(VOCABULARY), 2 * per_video)
                for w, pick in enumerate(picks):
                    text = VOCABULARY[pick] + ("." if w % 6 == 5 else "")
                    copy.write_row((v + 1, v + 1, w, w * 1.0, w * 1.0 + 0.8, text, 0.9))
        with cursor.copy("COPY slide_texts (video_id, idx, start, \"end\", text) FROM STDIN") as copy:
            for v in range(videos):
                for s in range(per_video // 30):
                    words = " ".join(VOCABULARY[i] for i in rng.integers(0, len(VOCABULARY), 5))
                    copy.write_row((v + 1, s, 60.0 * s, 60.0 * s + 20, words))
        with cursor.copy("COPY clip_vectors (clip_id, channel, model, dim, dtype, vector) FROM STDIN") as copy:
            for start in range(0, videos * per_video, 65536):
                block = rng.standard_normal((min(65536, videos * per_video - start), DIM), dtype=np.float32)
                block /= np.linalg.norm(block, axis=1, keepdims=True)
                for i, vector in enumerate(block):
                    copy.write_row((start + i + 1, "speech", MODEL, DIM, "float32", vector.tobytes()))
        cursor.execute("SELECT setval(pg_get_serial_sequence('videos', 'id'), %s)", (videos,))
        cursor.execute("INSERT INTO settings (key, value) VALUES ('generation', '1')")
    log(f"synthetic library: {videos} videos, {videos * per_video:,} clips")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE, help=f"the revision to compare with (default {BASELINE})")
    parser.add_argument("--clips", type=int, default=1_000_000, help="clips of the synthetic library (0: none)")
    parser.add_argument("--requests", type=int, default=200, help="timed searches per client count")
    parser.add_argument("--postgres", default=os.environ.get("VMR_TEST_POSTGRES"),
                        help="a PostgreSQL URL whose role may create databases (default $VMR_TEST_POSTGRES)")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="vmr-serve-bench-"))
    baseline = checkout(args.baseline, scratch)
    codes = {f"before ({args.baseline})": baseline, "now": ROOT}
    queries = [json.loads(line)["query"] for line in (ROOT / "samples" / "queries.jsonl").read_text().splitlines()
               if line.strip()]
    rows, sizes = [], []
    try:
        old_home = scratch / "samples-before"
        log("indexing the samples with the baseline code ...")
        vmr(baseline, "--home", str(old_home), "index", *map(str, sorted((ROOT / "samples").glob("*.mp4"))), "--json")
        new_home = scratch / "samples-now"
        shutil.copytree(old_home, new_home)
        homes = {f"before ({args.baseline})": old_home, "now": new_home}
        for label, code in codes.items():
            rows += serve_row("samples (SQLite)", label, code, ["--home", str(homes[label])], queries, args.requests)
        rows.append(in_process_row("samples (SQLite)", new_home, queries, args.requests))
        log(rows[-1])
        clips = sum(v["clips"] for v in json.loads(vmr(ROOT, "--home", str(new_home), "info", "--json").stdout)["videos"])
        for label in codes:
            sizes.append(f"| samples (SQLite) | {label} | {sqlite_bytes_per_clip(homes[label], clips):,.0f} |")
        if args.clips and args.postgres:
            sizes_pg, rows_pg = postgres_part(args, codes, scratch)
            rows += rows_pg
            sizes += sizes_pg
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(baseline)], capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)
    report = "\n".join([
        f"## Warm search through `vmr serve` (k = 10, {args.requests} searches per row)", "",
        "| library | code | clients | p50 ms | p95 ms | p99 ms | searches/s |", "|---|---|---:|---:|---:|---:|---:|",
        *rows, "",
        "## Catalogue bytes per clip", "", "| library | code | bytes per clip |", "|---|---|---:|", *sizes])
    print(report)
    results = ROOT / "bench-results"
    results.mkdir(exist_ok=True)
    (results / "serve.md").write_text(report + "\n")


def postgres_part(args: argparse.Namespace, codes: dict[str, Path], scratch: Path) -> tuple[list[str], list[str]]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    server = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    names = {label: f"vmr_serve_bench_{i}" for i, label in enumerate(codes)}
    with server.connect() as connection:
        for name in [*names.values(), "vmr_serve_bench_empty"]:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        connection.execute(text("CREATE DATABASE vmr_serve_bench_empty"))
    url = {label: make_url(args.postgres).set(database=name).render_as_string(hide_password=False)
           for label, name in names.items()}
    first = next(iter(codes))
    with server.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {names[first]}"))
    (scratch / "synthetic-videos").mkdir()
    synthetic_0002(url[first], args.clips, scratch / "synthetic-videos")
    with server.connect() as connection:
        for label, name in names.items():
            if label != first:
                connection.execute(text(f"CREATE DATABASE {name} TEMPLATE {names[first]}"))
        empty = connection.execute(text("SELECT pg_database_size('vmr_serve_bench_empty')")).scalar()
    rows, sizes = [], []
    queries = [" ".join(np.random.default_rng(i).choice(VOCABULARY, 3)) for i in range(50)]
    try:
        for label, code in codes.items():
            options = ["--home", str(scratch / f"synthetic-{names[label]}"), "--db", url[label]]
            rows += serve_row(f"{args.clips / 1e6:g}M clips (PostgreSQL)", label, code, options, queries, args.requests)
            sizes.append(f"| {args.clips / 1e6:g}M clips (PostgreSQL) | {label} | "
                         f"{postgres_bytes_per_clip(url[label], args.clips, empty):,.0f} |")
            log(sizes[-1])
    finally:
        with server.connect() as connection:
            for name in [*names.values(), "vmr_serve_bench_empty"]:
                connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        server.dispose()
    return sizes, rows


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
