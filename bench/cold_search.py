#!/usr/bin/env python3
"""Where a cold `vmr search` process's time goes, for this tree and an older one, side by side.

    .venv/bin/python bench/cold_search.py --home HOME [--old REF] [--rounds 30]

HOME is an indexed library (e.g. `vmr --home HOME index samples/*.mp4`); where the old tree
cannot open it (a newer catalogue schema), --old-home names the same videos indexed by it. REF (default `main`)
is exported with `git archive` into a temporary folder and run from there, on the same library,
so that both trees are measured in the same run; rounds alternate between them (the machine is
shared and noisy) and medians are reported. Two measurements per round and tree:

- **wall**: a fresh `python -m vmr --home HOME search QUERY --json` process, end to end, and
  its CPU time (user + system), which other jobs on a shared machine disturb less;
- **breakdown**: a fresh process that runs the same steps with a clock between them: imports,
  opening the catalogue and the search build, loading the query encoder, encoding, importing
  the kernels, the first search (which loads the compiled kernels from Numba's cache), and a
  second search (warm: what the first one cost beyond it is loading). "start-up" is the
  process's wall time minus what the clock saw: the interpreter, `site`, exit.

Writes the table to bench-results/cold_search.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from report import write as write_report  # bench/report.py (a bench runs with bench/ first on sys.path)

ROOT = Path(__file__).resolve().parent.parent
QUERY = "how does gradient descent update the weights"

# Runs in the child with the tree under test first on sys.path; only public names and the
# Library's query-encoder loader, which both trees have.
PHASES = r"""
import json, sys, time
t = [time.perf_counter()]
home, query = sys.argv[1], sys.argv[2]
try:
    import vmr.app.cli  # the command line's imports, as `vmr search` pays them
except ImportError:  # a tree from before vmr/app/
    import vmr.cli
from vmr.library import Library
t.append(time.perf_counter())
lib = Library(home)
try:
    build = lib.search_build()  # the search build, read as a search reads it
except TypeError:  # a tree whose search_build takes a session (lib.matrix before vmr/search/build.py)
    with lib.session() as session:
        build = lib.search_build(session) if hasattr(lib, "search_build") else lib.matrix(session)
t.append(time.perf_counter())
encoders = {c.model: lib._encoder(c) for c in build.channels.values()}
t.append(time.perf_counter())
for encoder in encoders.values():
    encoder.encode([query])
t.append(time.perf_counter())
import kernels
t.append(time.perf_counter())
lib.search(query, 10)
t.append(time.perf_counter())
lib.search(query + " again", 10)
t.append(time.perf_counter())
names = ["imports", "catalogue + build", "encoder load", "encode", "import kernels", "first search", "warm search"]
print(json.dumps({n: b - a for n, a, b in zip(names, t, t[1:])}))
"""
STEPS = ["start-up", "imports", "catalogue + build", "encoder load", "encode", "import kernels",
         "kernel loading (first - warm search)", "warm search"]


def export(ref: str) -> Path:
    """The tree at `ref`, exported into a temporary folder."""
    folder = Path(tempfile.mkdtemp(prefix="vmr-old-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=__import__("io").BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def env_for(tree: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree)
    return env


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wall(tree: Path, home: str) -> tuple[float, float]:
    """(wall, CPU) seconds of a fresh `vmr search` process."""
    start, cpu = time.perf_counter(), cpu_seconds()
    subprocess.run([sys.executable, "-m", "vmr", "--home", home, "search", QUERY, "--json"],
                   env=env_for(tree), cwd=tree, capture_output=True, check=True)
    return time.perf_counter() - start, cpu_seconds() - cpu


def breakdown(tree: Path, home: str) -> dict[str, float]:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", PHASES, home, QUERY], env=env_for(tree), cwd=tree,
                         capture_output=True, text=True, check=True).stdout
    total = time.perf_counter() - start
    phases = json.loads(out.strip().splitlines()[-1])
    steps = {"start-up": total - sum(phases.values())}
    for name in ("imports", "catalogue + build", "encoder load", "encode", "import kernels"):
        steps[name] = phases[name]
    steps["kernel loading (first - warm search)"] = phases["first search"] - phases["warm search"]
    steps["warm search"] = phases["warm search"]
    return steps


def interpreter(tree: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], env=env_for(tree), cwd=tree, check=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", required=True, help="an indexed library")
    parser.add_argument("--old", default="main", help="git ref of the tree to compare with (default main)")
    parser.add_argument("--old-home", help="the same videos indexed by the old tree, where it cannot open HOME "
                                           "(a newer catalogue schema); default HOME")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results" / "cold_search.md")
    args = parser.parse_args()

    trees = {"old": export(args.old), "new": ROOT}
    homes = {"old": args.old_home or args.home, "new": args.home}
    for name, tree in trees.items():  # compile / load each tree's Numba cache once, untimed
        wall(tree, homes[name])
        breakdown(tree, homes[name])
    walls = {name: [] for name in trees}
    cpus = {name: [] for name in trees}
    steps = {name: {step: [] for step in STEPS} for name in trees}
    bare = []
    for _ in range(args.rounds):
        bare.append(interpreter(ROOT))
        for name, tree in trees.items():
            seconds, cpu = wall(tree, homes[name])
            walls[name].append(seconds)
            cpus[name].append(cpu)
            for step, seconds in breakdown(tree, homes[name]).items():
                steps[name][step].append(seconds)

    med = statistics.median
    try:
        load = "load average %.1f %.1f %.1f" % os.getloadavg()
    except OSError:
        load = ""
    lines = [
        f"# Cold `vmr search` ({args.rounds} interleaved rounds, medians; {len(os.sched_getaffinity(0))} "
        f"CPU cores, {load} at the end)", "",
        f"old = `{args.old}` ({subprocess.run(['git', '-C', str(ROOT), 'rev-parse', '--short', args.old], capture_output=True, text=True).stdout.strip()}), "
        f"new = this tree; query {QUERY!r}; a bare `python -c pass` takes {med(bare):.3f} s.", "",
        "| step | old (s) | new (s) |", "|---|---:|---:|",
    ]
    for step in STEPS:
        lines.append(f"| {step} | {med(steps['old'][step]):.3f} | {med(steps['new'][step]):.3f} |")
    lines.append(f"| **`vmr search` wall, end to end** | **{med(walls['old']):.3f}** | **{med(walls['new']):.3f}** |")
    lines.append(f"| `vmr search` CPU time (user + system) | {med(cpus['old']):.3f} | {med(cpus['new']):.3f} |")
    ratios = [o / n for o, n in zip(walls["old"], walls["new"])]
    lines += ["", f"new / old wall: {med(walls['new']) / med(walls['old']):.2f} (median of per-round ratios "
              f"old/new {med(ratios):.2f}x faster); new wall quartiles "
              f"{statistics.quantiles(walls['new'], n=4)[0]:.3f}-{statistics.quantiles(walls['new'], n=4)[2]:.3f} s."]
    return write_report(lines, args.out)


if __name__ == "__main__":
    raise SystemExit(main())
