"""Concurrent searches against `vmr serve`: this code beside a baseline server, 1 and 8 clients.

    .venv/bin/python bench/server_bench.py [--baseline REV] [--samples samples] [--rounds 3]
                                           [--home DIR] [--requests 54]

The baseline is the server as it was at REV (default 55cdb94: one global lock around every
search), exported with `git archive` and run from its own folder. The library is indexed once
by the baseline's code and copied, so each server has its own home (a newer catalogue
migrates its copy forward). Both servers stay up; the rounds interleave them (the machine is
shared): per round and server, one client sends the sample queries one after another, then 8
clients send them at once, each on its own keep-alive connection, from a separate process.
Reported: searches per second, and the median and 99th percentile latency, medians over the
rounds; and the same queries in process (`Library.search`) for the one-client comparison.
The table goes to bench-results/server.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BASELINE = "55cdb94"
CLIENTS = (1, 8)


def export(rev: str, target: Path) -> Path:
    """The baseline's packages (vmr, kernels, migrations) in a folder of their own."""
    target.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "vmr", "kernels", "migrations"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def vmr(code: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    env = os.environ | {"PYTHONPATH": str(code)}
    return subprocess.run([sys.executable, "-m", "vmr", *args], env=env, check=True, capture_output=True,
                          text=True, **kwargs)


class Server:
    def __init__(self, code: Path, home: Path):
        env = os.environ | {"PYTHONPATH": str(code)}
        self.process = subprocess.Popen([sys.executable, "-m", "vmr", "--home", str(home), "serve", "--port", "0"],
                                        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.process.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+/", line)
        if not found:
            self.process.kill()
            raise SystemExit(f"{code}: vmr serve did not start: {line!r}")
        self.url = found.group(0)

    def cpu_seconds(self) -> float:
        """CPU time the server process has used (user + system), from /proc (Linux)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=60)


CLIENT = r"""
import json, sys, time
from concurrent.futures import ThreadPoolExecutor
import httpx

url, clients, queries = sys.argv[1], int(sys.argv[2]), json.loads(sys.stdin.read())

def run(offset):
    latencies = []
    with httpx.Client(base_url=url, timeout=120) as client:
        for i in range(len(queries)):
            query = queries[(i + offset) % len(queries)]
            started = time.perf_counter()
            response = client.get("/api/search", params={"q": query, "k": 10})
            latencies.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
    return latencies

started = time.perf_counter()
with ThreadPoolExecutor(clients) as pool:
    latencies = [x for found in pool.map(run, [c * 7 for c in range(clients)]) for x in found]
print(json.dumps({"wall": time.perf_counter() - started, "latencies": latencies}))
"""


def load(url: str, clients: int, queries: list[str]) -> dict:
    """`clients` clients, each sending every query once (in its own order), from another process."""
    out = subprocess.run([sys.executable, "-c", CLIENT, url, str(clients)], input=json.dumps(queries),
                         capture_output=True, text=True, check=True).stdout
    found = json.loads(out)
    latencies = sorted(found["latencies"])
    return {"throughput": len(latencies) / found["wall"], "p50": statistics.median(latencies),
            "p99": latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]}


IN_PROCESS = r"""
import json, statistics, sys, time
from vmr.library import Library
lib = Library(sys.argv[1])
queries = json.loads(sys.stdin.read())
lib.search("warm up", k=1)
latencies = []
for query in queries:
    started = time.perf_counter()
    lib.search(query, k=10)
    latencies.append(time.perf_counter() - started)
print(json.dumps(statistics.median(latencies)))
"""


def in_process(code: Path, home: Path, queries: list[str]) -> float:
    env = os.environ | {"PYTHONPATH": str(code)}
    out = subprocess.run([sys.executable, "-c", IN_PROCESS, str(home)], input=json.dumps(queries), env=env,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="the git revision of the baseline server")
    parser.add_argument("--samples", type=Path, default=ROOT / "samples", help="videos to index")
    parser.add_argument("--home", type=Path, help="a library indexed by the baseline already (copied, not changed)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=54, help="queries each client sends")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results" / "server.md")
    args = parser.parse_args()

    lines = [json.loads(line)["query"] for line in (ROOT / "samples" / "queries.jsonl").read_text().splitlines()
             if line.strip()]
    queries = (lines * (args.requests // len(lines) + 1))[:args.requests]
    with tempfile.TemporaryDirectory(prefix="vmr-server-bench-") as work:
        work = Path(work)
        codes = {"baseline": export(args.baseline, work / "baseline"), "this": ROOT}
        home = work / "home"
        if args.home:
            shutil.copytree(args.home, home)
        else:
            print(f"indexing {args.samples} with the baseline's code…", file=sys.stderr, flush=True)
            vmr(codes["baseline"], "--home", str(home), "index", str(args.samples), "--json")
        homes = {}
        for name in codes:
            homes[name] = work / f"home-{name}"
            shutil.copytree(home, homes[name])
        servers = {name: Server(code, homes[name]) for name, code in codes.items()}
        results: dict[tuple[str, int], list[dict]] = {}
        try:
            for r in range(args.rounds):
                for clients in CLIENTS:
                    for name, server in (servers.items() if r % 2 == 0 else reversed(servers.items())):
                        used = server.cpu_seconds()
                        found = load(server.url, clients, queries)
                        found["cpu"] = (server.cpu_seconds() - used) / (clients * len(queries))
                        results.setdefault((name, clients), []).append(found)
                        print(f"round {r + 1} {name:8} {clients} client(s): {found['throughput']:.1f}/s "
                              f"p50 {found['p50'] * 1000:.0f} ms p99 {found['p99'] * 1000:.0f} ms, "
                              f"server CPU {found['cpu'] * 1000:.0f} ms a search",
                              file=sys.stderr, flush=True)
        finally:
            for server in servers.values():
                server.stop()
        local = {name: in_process(code, homes[name], queries) for name, code in codes.items()}

    def median(name: str, clients: int, key: str) -> float:
        return statistics.median(found[key] for found in results[(name, clients)])

    table = [
        f"# Concurrent searches (`bench/server_bench.py`, {args.rounds} interleaved rounds, medians)",
        "",
        f"Baseline: the server at {args.baseline} (one global lock around every search). Each client sends "
        f"{len(queries)} sample queries (k=10) on one keep-alive connection; 8 clients at once.",
        "",
        "| server | clients | searches/s | p50 (ms) | p99 (ms) | server CPU a search (ms) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for clients in CLIENTS:
        for name in codes:
            table.append(f"| {name} | {clients} | {median(name, clients, 'throughput'):.1f} | "
                         f"{median(name, clients, 'p50') * 1000:.0f} | {median(name, clients, 'p99') * 1000:.0f} | "
                         f"{median(name, clients, 'cpu') * 1000:.0f} |")
    gain = median("this", 8, "throughput") / median("baseline", 8, "throughput")
    one = median("this", 1, "p50") / local["this"]
    table += [
        "",
        f"8 clients, this server over the baseline: **{gain:.2f}x** the throughput.",
        f"One client, this server's median over an in-process `Library.search` ({local['this'] * 1000:.0f} ms): "
        f"**{one:.2f}x** (baseline code in process: {local['baseline'] * 1000:.0f} ms).",
        "",
        f"Machine: {os.cpu_count()} CPUs; load average at the end {os.getloadavg()[0]:.1f}.",
    ]
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text("\n".join(table) + "\n")
    print("\n".join(table))


if __name__ == "__main__":
    main()
