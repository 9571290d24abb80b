#!/usr/bin/env python
"""Scaling benchmark (docs/scaling.md): indexing throughput on Ray with 1 and 2 workers
against the plain `vmr index`, and search latency at 1M, 5M and 10M clips in process against
shards on Ray.

    .venv/bin/python bench/scaling_bench.py                        # every part, ~30 minutes
    .venv/bin/python bench/scaling_bench.py --part index --copies 4 --rounds 2
    .venv/bin/python bench/scaling_bench.py --part search --sizes 1000000
    .venv/bin/python bench/scaling_bench.py --part catalogue --postgres postgresql+psycopg://...

Indexing: copies of samples/lecture.mp4 in one folder, each run in a fresh home, rounds
interleaved; throughput is minutes of video per minute of wall time of the whole command
(start-up, model loads and Ray's start included, as a user waits for them).

Search: random unit vectors (384-d int8, as a library stores them) in videos of 300-3000
clips, written as a search build (no words or slides) and memory-mapped as a library maps its
own. Timed per query: the whole search path of vmr/search/parts.py after the query is encoded
(clip scores, fusion, windows, exact rerank, moments), with the exact int8 scan and with the
default for large libraries (sign-bit prefilter, int8 rerank of 0.5 %, exact refinement), in
one process and on Ray shards. Each method is timed in blocks of queries, blocks interleaved
over rounds in random order; medians reported (the machine is shared and noisy).

Catalogue: bytes per clip of SQLite and (with --postgres, an empty database) PostgreSQL, and of
the clip-vector files the catalogue refers to.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import kernels  # noqa: E402  (first: sets OMP_WAIT_POLICY before any OpenMP runtime loads)
from vmr import cluster  # noqa: E402
from vmr.search import build, lexical, parts  # noqa: E402
from vmr.search.options import SearchOptions  # noqa: E402
from vmr.search.texts import Texts  # noqa: E402

VMR = Path(sys.executable).with_name("vmr")
SAMPLE = ROOT / "samples" / "lecture.mp4"
DIM = 384
MODEL = "all-MiniLM-L6-v2"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- indexing


def index_part(copies: int, rounds: int) -> str:
    scratch = Path(tempfile.mkdtemp(prefix="vmr-scale-index-"))
    folder = scratch / "videos"
    folder.mkdir()
    for i in range(copies):
        shutil.copy(SAMPLE, folder / f"lecture-{i}.mp4")
    methods = {"`vmr index` (one process)": [], "`--ray --workers 1`": ["--ray", "--workers", "1"],
               "`--ray --workers 2`": ["--ray", "--workers", "2"]}
    walls: dict[str, list[float]] = {name: [] for name in methods}
    video_minutes = 0.0
    for r in range(rounds):
        for name in random.sample(list(methods), len(methods)):
            home = scratch / f"home-{r}-{len(walls[name])}"
            started = time.perf_counter()
            out = subprocess.run([str(VMR), "--home", str(home), "index", str(folder), "--json", *methods[name]],
                                 capture_output=True, text=True, check=True).stdout
            walls[name].append(time.perf_counter() - started)
            indexed = json.loads(out)["indexed"]
            assert len(indexed) == copies and all(v["status"] == "indexed" for v in indexed)
            video_minutes = sum(v["duration"] for v in indexed) / 60
            log(f"round {r + 1}: {name}: {walls[name][-1]:.1f} s")
            shutil.rmtree(home)
    shutil.rmtree(scratch)
    base = statistics.median(walls["`vmr index` (one process)"])
    rows = [f"| {name} | {statistics.median(w):.0f} | {video_minutes / (statistics.median(w) / 60):.1f} | "
            f"{base / statistics.median(w):.2f}x |" for name, w in walls.items()]
    return "\n".join([
        f"## Indexing {copies} copies of the sample ({video_minutes:.1f} min of video, Whisper base, "
        f"median of {rounds})", "",
        "| how | wall s | min of video per min | vs one process |", "|---|---:|---:|---:|", *rows])


# ----------------------------------------------------------------------------- search


def build_library(scratch: Path, n: int, seed: int) -> tuple[Path, Path]:
    """Two search builds of the same random library: without sign-bit codes (exact scan) and with."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(300, 3001, n // 300 + 2)
    lengths = lengths[: int(np.searchsorted(np.cumsum(lengths), n)) + 1]
    lengths[-1] -= lengths.sum() - n
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    starts = (np.arange(n) - np.repeat(offsets[:-1], lengths)) * 2.0
    work = scratch / "work"
    work.mkdir(exist_ok=True)
    codes = np.lib.format.open_memmap(work / "matrices.npy", "w+", np.int8, (n, DIM))
    scales = np.lib.format.open_memmap(work / "scales.npy", "w+", np.float32, (n,))
    exact = np.lib.format.open_memmap(work / "exact.npy", "w+", np.float16, (n, DIM))
    signs = np.lib.format.open_memmap(work / "codes.npy", "w+", np.uint64, (n, (DIM + 63) // 64))
    step = 1 << 18
    for lo in range(0, n, step):
        x = rng.standard_normal((min(step, n - lo), DIM), dtype=np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        codes[lo:lo + len(x)], scales[lo:lo + len(x)] = kernels.quantize_int8(x)
        exact[lo:lo + len(x)] = x
        signs[lo:lo + len(x)] = kernels.pack_sign_bits(x)
    videos = len(lengths)
    index = lexical.LexicalIndex.build([], videos)
    arrays = {"video_ids": np.arange(1, videos + 1, dtype=np.int64), "video_offsets": offsets,
              "starts": starts, "ends": starts + 2.0, "keyframes": starts + 1.0, "speech.vectors": codes,
              "speech.scales": scales, "speech.exact": exact, "speech.present": np.ones(n, bool),
              "word_offsets": np.zeros(videos + 1, np.int64), "word_start": np.zeros(0), "word_end": np.zeros(0),
              **Texts.of([]).arrays("word_text"), **{f"lexical.{k}": v for k, v in index.arrays().items()}}
    roots = []
    for with_codes in (False, True):
        root = scratch / ("prefilter" if with_codes else "exact")
        manifest = {"format": build.FORMAT, "generation": 1, "storage": "int8", "clip_seconds": 2.0, "clips": n,
                    "channels": {"speech": {"model": MODEL, "dim": DIM, "storage": "int8", "codes": with_codes,
                                            "exact": True}}}
        with build.build_lock(root):
            build.publish(root, {**arrays, **({"speech.codes": signs} if with_codes else {})}, manifest,
                          {"lexical.vocab.json": "{}"})
        roots.append(root)
    del codes, scales, exact, signs
    shutil.rmtree(work)
    return roots[0], roots[1]


def search_part(sizes: list[int], rounds: int, per_block: int) -> str:
    import ray

    # A small object store: the queries and results are a few kB.
    ray.init(include_dashboard=False, object_store_memory=256 * 2**20, log_to_driver=False)
    options = SearchOptions(k=10)
    query = lexical.parse_query("")
    rng = np.random.default_rng(7)
    rows, bandwidth = [], {}
    for n in sizes:
        scratch = Path(tempfile.mkdtemp(prefix="vmr-scale-search-"))
        log(f"building {n:,} clips ...")
        built = time.perf_counter()
        exact_root, prefilter_root = build_library(scratch, n, seed=n)
        log(f"  built in {time.perf_counter() - built:.0f} s")
        for label, root in (("exact int8 scan", exact_root), ("default: sign-bit prefilter + int8 rerank", prefilter_root)):
            whole = build.load(root)
            one_part = parts.local_fan([parts.Part(whole)])

            def search(vectors: dict[str, np.ndarray], fan=one_part, whole=whole) -> list:
                return parts.search(fan, whole, parts.request_for(whole, [query], vectors, options))[0]

            shard_counts = {"in process": 0, "Ray, 1 shard": 1, "Ray, 2 shards": 2}
            times: dict[str, list[float]] = {name: [] for name in shard_counts}
            agree = []
            for _ in range(rounds):
                for name in random.sample(list(times), len(times)):
                    pool = cluster.ShardPool(whole, shard_counts[name], "local") if shard_counts[name] else None
                    fan = one_part if pool is None else pool.fan
                    for _ in range(2):  # warm: page cache, Numba's cached kernels, the actors
                        search(_query(rng), fan)
                    for _ in range(per_block):
                        vectors = _query(rng)
                        started = time.perf_counter()
                        found = search(vectors, fan)
                        times[name].append((time.perf_counter() - started) * 1000)
                        if pool is not None:
                            agree.append(found == search(vectors))
                    if pool is not None:
                        pool.close()
            ms = {name: statistics.median(t) for name, t in times.items()}
            if label.startswith("exact"):
                read = whole.channels["speech"].vectors.nbytes + n * 5  # + scales and presence
                bandwidth[n] = read / ms["in process"] / 1e6
            rows.append(f"| {n / 1e6:g}M | {label} | {ms['in process']:.0f} | {ms['Ray, 1 shard']:.0f} | "
                        f"{ms['Ray, 2 shards']:.0f} | {ms['in process'] / ms['Ray, 2 shards']:.2f}x | "
                        f"{np.mean(agree):.3f} |")
            log(rows[-1])
            del whole
        shutil.rmtree(scratch)
    ray.shutdown()
    return "\n".join([
        f"## Search, one query, top 10 moments (ms, median of {rounds} x {per_block} per method)", "",
        "| clips | scoring | in process | Ray, 1 shard | Ray, 2 shards | 2 shards vs in process | "
        "same moments as in process |", "|---|---|---:|---:|---:|---:|---:|", *rows, "",
        "Exact scan read rate in process (int8 rows + scales + presence / time): "
        + ", ".join(f"{n / 1e6:g}M: {gbs:.1f} GB/s" for n, gbs in bandwidth.items())])


# ----------------------------------------------------------------------------- catalogue


def catalogue_part(postgres: str | None, videos: int) -> str:
    """Bytes per clip of the catalogue and of the clip-vector files, from synthetic lectures
    written through the ORM: 2-s clips with one speech vector each, a sentence every 5 s, 140
    words a minute."""
    from sqlalchemy import text

    from vmr.catalogue.reads import sqlite_url
    from vmr.catalogue.store import Clip, Segment, Video, VideoChannel, Word, open_engine, session_factory, utcnow
    from vmr.catalogue.vectors import VectorFiles

    scratch = Path(tempfile.mkdtemp(prefix="vmr-scale-db-"))
    targets = {"SQLite": sqlite_url(scratch)}
    if postgres:
        targets["PostgreSQL"] = postgres
    rng = np.random.default_rng(3)
    clips_per_video, rows = 1000, []
    for name, url in targets.items():
        home = scratch / name
        engine = open_engine(url, home)
        files = VectorFiles(home)

        def size() -> int:
            if engine.dialect.name == "sqlite":
                with engine.connect() as c:
                    c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                return (scratch / "vmr.db").stat().st_size
            with engine.connect() as c:
                return c.execute(text("SELECT pg_database_size(current_database())")).scalar()

        empty = size()
        sessions = session_factory(engine)
        for v in range(videos):
            content = f"{name}-{v:058d}"[:64]
            with sessions() as session, session.begin():
                video = Video(path=f"/lectures/{name}/{v:06d}.mp4", content_hash=content, size=10**9,
                              mtime=0.0, duration=2.0 * clips_per_video, fps=25.0, width=1280, height=720,
                              has_audio=True, status="indexed", asr_model="faster-whisper:base",
                              language="en", indexed_at=utcnow())
                video.clips = [Clip(idx=i, start=2.0 * i, end=2.0 * i + 2, keyframe_time=2.0 * i + 1)
                               for i in range(clips_per_video)]
                vectors = dict(enumerate(rng.standard_normal((clips_per_video, DIM)).astype(np.float32)))
                video.channels = [VideoChannel(channel="speech", model=MODEL, dim=files.write(
                    content, "speech", MODEL, clips_per_video, vectors))]
                session.add(video)
                session.flush()
                for j in range(clips_per_video * 2 // 5):  # a sentence per 5 s of 11.7 words
                    words = [Word(idx=w, video_id=video.id, start=5.0 * j + 0.4 * w, end=5.0 * j + 0.4 * w + 0.3,
                                  text="lecture", probability=0.9) for w in range(12 if j % 3 else 11)]
                    video.segments.append(Segment(idx=j, start=5.0 * j, end=5.0 * j + 5,
                                                  text=" ".join(["lecture"] * len(words)), avg_logprob=-0.2,
                                                  no_speech_prob=0.01, words=words))
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.execute(text("VACUUM ANALYZE"))
        clips = videos * clips_per_video
        vector_bytes = sum(p.stat().st_size for p in files.root.rglob("*.npy"))
        rows.append(f"| {name} | {clips:,} | {(size() - empty) / clips:,.0f} | {vector_bytes / clips:,.0f} |")
        log(rows[-1])
        engine.dispose()
    shutil.rmtree(scratch)
    return "\n".join([
        "## Catalogue size per clip (one speech vector, 140 words a minute)", "",
        "| database | clips | catalogue bytes per clip | vector-file bytes per clip |", "|---|---:|---:|---:|", *rows])


def _query(rng: np.random.Generator) -> dict[str, np.ndarray]:
    q = rng.standard_normal((1, DIM)).astype(np.float32)
    return {MODEL: q / np.linalg.norm(q)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("index", "search", "catalogue", "all"), default="all")
    parser.add_argument("--copies", type=int, default=4, help="copies of the sample to index")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds of each part")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000, 10_000_000])
    parser.add_argument("--per-block", type=int, default=8, help="timed queries per search block")
    parser.add_argument("--postgres", default=os.environ.get("VMR_TEST_POSTGRES"),
                        help="an empty PostgreSQL database for the catalogue part (default $VMR_TEST_POSTGRES)")
    parser.add_argument("--videos", type=int, default=50, help="synthetic 33-min lectures, catalogue part")
    args = parser.parse_args()
    sections = []
    if args.part in ("index", "all"):
        sections.append(index_part(args.copies, args.rounds))
    if args.part in ("search", "all"):
        sections.append(search_part(args.sizes, args.rounds, args.per_block))
    if args.part in ("catalogue", "all"):
        sections.append(catalogue_part(args.postgres, args.videos))
    report = "\n\n".join(sections)
    print(report)
    results = ROOT / "bench-results"
    results.mkdir(exist_ok=True)
    (results / f"scaling-{args.part}.md").write_text(report + "\n")


if __name__ == "__main__":
    main()
