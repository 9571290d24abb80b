#!/usr/bin/env python
"""Benchmark of the compiled kernels (issue 3): one query and 32-query batches over
clustered, temporally smooth clip embeddings, vs numpy and faiss-cpu, in one interleaved run.

    .venv/bin/python bench/kernels_bench.py            # full: N = 100k and 1M, D = 384 and 512
    .venv/bin/python bench/kernels_bench.py --quick    # small version, < 1 minute

Every method returns the top-k moment windows (lengths 4, 8, 16, 32 clips, mean mode,
max_overlap 0.5). Rounds are interleaved (methods in random order, a new query each round)
and medians reported, because the machine is shared and noisy. The read bandwidth is
measured in the same rounds (parallel Numba sum over 1 GB) and each method's time is also
given as a multiple of its bandwidth floor (stored bytes it must read / bandwidth).
Results are printed as markdown and written to bench-results/kernels.md.
"""
import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
# OpenBLAS workers otherwise busy-wait after each numpy call and steal the cores from
# whatever runs next (numba or faiss): make them sleep quickly. Must precede numpy's import.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

import kernels  # noqa: E402  (first: sets OMP_WAIT_POLICY before any OpenMP runtime loads)
import numba  # noqa: E402
import numpy as np  # noqa: E402
from numba import njit, prange  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

try:
    import faiss  # noqa: E402
except ImportError:  # pragma: no cover
    faiss = None

LENGTHS = np.array([4, 8, 16, 32], np.int64)
REFINED_INT8 = "vmr int8 + exact refinement (float16 copy on disk)"
REFINED_PREFILTER = "vmr binary prefilter + int8 rerank + exact refinement"
MAX_OVERLAP = 0.5
THREADS = numba.get_num_threads()


# ----------------------------------------------------------------------------- data


def unit(x):
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def make_data(n, d, seed):
    """Clustered unit vectors in videos of 300-3000 clips, piecewise-smooth in time.

    A shared mean direction (anisotropy, as in real sentence embeddings) + 256 topics; each
    video has a topic; videos are cut into segments of ~30 clips whose vector is near the
    topic; clips are noisy copies of their segment vector, so neighbouring clips score alike.
    """
    rng = np.random.default_rng(seed)
    lens = rng.integers(300, 3001, n // 300 + 2)
    cum = np.cumsum(lens)
    nv = int(np.searchsorted(cum, n)) + 1
    lens = lens[:nv].copy()
    lens[-1] -= cum[nv - 1] - n
    offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    mu = unit(rng.standard_normal((1, d)).astype(np.float32))[0]
    topics = unit(0.6 * mu + unit(rng.standard_normal((256, d)).astype(np.float32)))
    video_topic = rng.integers(0, 256, nv)
    cuts = np.unique(np.concatenate([offsets[:-1], rng.choice(n, n // 30, replace=False)]))
    seg_video = np.searchsorted(offsets, cuts, side="right") - 1
    seg_vec = unit(topics[video_topic[seg_video]]
                   + rng.standard_normal((len(cuts), d)).astype(np.float32) / np.sqrt(d))
    x = np.empty((n, d), np.float32)
    step = 1 << 17
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        seg = np.searchsorted(cuts, np.arange(lo, hi), side="right") - 1
        blk = seg_vec[seg] + 0.6 / np.sqrt(d) * rng.standard_normal((hi - lo, d), np.float32)
        x[lo:hi] = unit(blk)
    return x, offsets, seg_vec


def make_query(rng, seg_vec):
    d = seg_vec.shape[1]
    q = seg_vec[rng.integers(len(seg_vec))] + 0.8 / np.sqrt(d) * rng.standard_normal(d)
    return (q / np.linalg.norm(q)).astype(np.float32)


# ----------------------------------------------------------------------------- baselines


class NumpyWindows:
    """Vectorised numpy window step (static per-index arrays precomputed, as would be fair)."""

    def __init__(self, offsets, lengths):
        n = int(offsets[-1])
        vlen = np.diff(offsets)
        vid = np.repeat(np.arange(len(vlen)), vlen)
        vend = offsets[1:][vid]
        pos = np.arange(n)
        self.starts = [pos[(pos + w <= vend) & (vlen[vid] > w)] for w in lengths]
        self.lengths = lengths
        short = np.flatnonzero((vlen > 0) & (vlen <= lengths.max()))
        self.sa, self.sb = offsets[:-1][short], offsets[1:][short]
        self.offsets = offsets
        self.A = np.concatenate(self.starts + [self.sa])
        self.B = np.concatenate([s + w for s, w in zip(self.starts, lengths)] + [self.sb])
        self.V = np.searchsorted(offsets, self.A, side="right") - 1

    def __call__(self, scores, k):
        p = np.empty(len(scores) + 1)
        p[0] = 0
        np.cumsum(scores, dtype=np.float64, out=p[1:])
        s = np.concatenate([(p[st + w] - p[st]) / w for st, w in zip(self.starts, self.lengths)]
                           + [(p[self.sb] - p[self.sa]) / (self.sb - self.sa)])
        pool = 16 * k + 64
        while True:
            pool = min(pool, len(s))
            idx = np.argpartition(-s, pool - 1)[:pool] if pool < len(s) else np.arange(len(s))
            idx = idx[np.lexsort((self.B[idx], self.A[idx], -s[idx]))]
            kept, by_video = [], {}
            for i in idx:
                a, b, v = self.A[i], self.B[i], self.V[i]
                ok = True
                for a2, b2 in by_video.get(v, ()):
                    inter = min(b, b2) - max(a, a2)
                    if inter > 0 and inter / min(b - a, b2 - a2) > MAX_OVERLAP:
                        ok = False
                        break
                if ok:
                    kept.append(i)
                    by_video.setdefault(v, []).append((a, b))
                    if len(kept) == k:
                        break
            if len(kept) == k or pool >= len(s):
                kept = np.array(kept, np.int64)
                return self.A[kept], self.B[kept], s[kept].astype(np.float32)
            pool *= 4


@njit(parallel=True, fastmath=True)  # no cache: the script runs as __main__ or imported
def _bw_sum(a):
    """Read bandwidth probe: vectorised (fastmath) so it is memory-bound, not add-latency-bound."""
    s = 0.0
    for i in prange(a.shape[0]):
        s += a[i]
    return s


# ----------------------------------------------------------------------------- helpers


def timed(f, *a, **kw):
    t0 = time.perf_counter()
    r = f(*a, **kw)
    return r, time.perf_counter() - t0


def recall(res, ref):
    """Exact window identity: fraction of reference windows returned with the same bounds."""
    got = set(zip(res[0].tolist(), res[1].tolist()))
    want = set(zip(ref[0].tolist(), ref[1].tolist()))
    return len(got & want) / max(1, len(want))


def moment_recall(res, ref, iou=0.5):
    """Fraction of reference windows matched by a returned window with IoU >= 0.5."""
    a, b = res[0][:, None], res[1][:, None]
    ra, rb = ref[0][None, :], ref[1][None, :]
    inter = np.clip(np.minimum(b, rb) - np.maximum(a, ra), 0, None)
    union = np.maximum(b, rb) - np.minimum(a, ra)
    hit = (inter / union >= iou).any(axis=0) if len(res[0]) else np.zeros(len(ref[0]), bool)
    return float(hit.mean()) if len(ref[0]) else 1.0


def first_call_times():
    """Import + first search call in a fresh process: with the warm cache and compiling."""
    code = (
        "import time; t0 = time.perf_counter(); import kernels, numpy as np; t1 = time.perf_counter()\n"
        "x = np.random.default_rng(0).standard_normal((2000, 384)).astype(np.float32)\n"
        "x /= np.linalg.norm(x, axis=1, keepdims=True)\n"
        "c, s = kernels.quantize_int8(x); b = kernels.pack_sign_bits(x); q = x[0]\n"
        "t2 = time.perf_counter()\n"
        "sc = kernels.cosine_scores(c, q, s)\n"
        "kernels.top_windows(sc, np.array([0, 1000, 2000]), np.array([4, 8, 16, 32]), 10)\n"
        "t3 = time.perf_counter()\n"
        "sc = kernels.prefiltered_scores(b, kernels.pack_sign_bits(q), c, s, q, 100)\n"
        "t4 = time.perf_counter()\n"
        "print(t1 - t0, t3 - t2, t4 - t3)\n"
    )
    out = {}
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in (("warm cache", {}), ("cold (compile)", {"NUMBA_CACHE_DIR": tmp})):
            r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               env={**env, **extra}, cwd=tmp)
            if r.returncode:
                out[name] = f"failed: {r.stderr.strip()[-300:]}"
            else:
                imp, call, pre = (float(v) for v in r.stdout.split())
                out[name] = (f"import {imp * 1e3:.0f} ms, first int8 scan + windows "
                             f"{call * 1e3:.0f} ms, first prefilter {pre * 1e3:.0f} ms")
    return out


# ----------------------------------------------------------------------------- main bench


def bench_config(n, d, ks, rounds, batch_rounds, cand_frac, rng, bw_array, log, n_recall=100):
    t0 = time.perf_counter()
    x, offsets, seg_vec = make_data(n, d, seed=n + d)
    x16 = x.astype(np.float16)
    codes, scales = kernels.quantize_int8(x)
    bits = kernels.pack_sign_bits(x)
    index = None
    if faiss is not None:
        index = faiss.IndexFlatIP(d)
        index.add(x)
    nw = NumpyWindows(offsets, LENGTHS)
    n_cand = max(4096, int(cand_frac * n))
    kc = min(n, 10_000)
    log(f"  data N={n:,} D={d}: {len(offsets) - 1} videos, setup {time.perf_counter() - t0:.1f} s")

    def m_numpy(q, k):
        with threadpool_limits(THREADS):
            s, ts = timed(np.matmul, x, q)
        return s, ts

    def m_faiss(q, k):
        def run():
            dist, idx = index.search(q[None, :], kc)
            s = np.full(n, dist[0, -1], np.float32)
            s[idx[0]] = dist[0]
            return s
        return timed(run)

    def m_vmr(fmt):
        def f(q, k):
            if fmt == "f32":
                return timed(kernels.cosine_scores, x, q)
            if fmt == "f16":
                return timed(kernels.cosine_scores, x16, q)
            if fmt == "i8":
                return timed(kernels.cosine_scores, codes, q, scales)
            t = time.perf_counter()
            qb = kernels.pack_sign_bits(q)
            s = kernels.prefiltered_scores(bits, qb, codes, scales, q, n_cand)
            return s, time.perf_counter() - t
        return f

    methods = {"numpy f32 (X@q + numpy windows)": (m_numpy, "np", 4 * d),
               "vmr f32": (m_vmr("f32"), "vmr", 4 * d),
               "vmr f16": (m_vmr("f16"), "vmr", 2 * d),
               "vmr int8": (m_vmr("i8"), "vmr", d + 4),
               REFINED_INT8: (m_vmr("i8"), "refine", d + 4),
               "vmr binary prefilter + int8 rerank": (m_vmr("bin"), "vmr", None),
               REFINED_PREFILTER: (m_vmr("bin"), "refine", None)}
    if index is not None:
        methods["faiss IndexFlatIP f32 (top 10k clips + numpy windows)"] = (m_faiss, "np", 4 * d)
    read_bytes = {name: (n * b if b else n * (d + 63) // 64 * 8 + n_cand * (d + 4))
                  for name, (_, _, b) in methods.items()}
    # B/clip counts what search keeps in memory; the float16 copy read by the refinement
    # stays on disk apart from the few thousand rows it touches.
    stored = {"numpy f32 (X@q + numpy windows)": 4 * d, "vmr f32": 4 * d, "vmr f16": 2 * d,
              "vmr int8": d + 4, REFINED_INT8: d + 4,
              "vmr binary prefilter + int8 rerank": d + 4 + (d + 63) // 64 * 8,
              REFINED_PREFILTER: d + 4 + (d + 63) // 64 * 8,
              "faiss IndexFlatIP f32 (top 10k clips + numpy windows)": 4 * d}
    transient = {"vmr binary prefilter + int8 rerank": 6, REFINED_PREFILTER: 6}

    def windows(kind, s, q, k):
        if kind == "np":
            return nw(s, k)
        if kind == "refine":
            return kernels.refine_windows(s, offsets, LENGTHS, k,
                                          lambda rows: kernels.scores_at(rows, x16, None, q),
                                          max_overlap=MAX_OVERLAP)
        return kernels.top_windows(s, offsets, LENGTHS, k, max_overlap=MAX_OVERLAP)
    # warm-up (compile or cache load, page-in) outside the timed rounds
    q = make_query(rng, seg_vec)
    for name, (f, kind, _) in methods.items():
        s, _ = f(q, None)
        windows(kind, s, q, 10)
    kernels.cosine_scores_batch(codes[:1000], np.stack([q] * 5), scales[:1000])
    kernels.cosine_scores_batch(x16[:1000], np.stack([q] * 5))
    times = {(name, k): [] for name in methods for k in ks}
    score_t = {name: [] for name in methods}
    recalls = {(name, k): [] for name in methods for k in ks}
    mrecalls = {(name, k): [] for name in methods for k in ks}
    bws = []
    np_agree = []
    names = list(methods)
    faiss_name = "faiss IndexFlatIP f32 (top 10k clips + numpy windows)"
    for r in range(rounds):
        q = make_query(rng, seg_vec)
        _, tb = timed(_bw_sum, bw_array)
        bws.append(bw_array.nbytes / tb)
        for name in rng.permutation(names):
            f, kind, _ = methods[name]
            s, ts = f(q, None)
            score_t[name].append(ts)
            for k in ks:
                res, tw = timed(windows, kind, s, q, k)
                times[(name, k)].append(ts + tw)
                if kind == "np":  # the numpy window step must agree with top_windows
                    tw_res = kernels.top_windows(s, offsets, LENGTHS, k, max_overlap=MAX_OVERLAP)
                    np_agree.append(recall(res, tw_res))
    bw = float(np.median(bws))

    # recall: untimed, over n_recall fresh queries; reference = top-k windows of the exact
    # float32 scores (BLAS, 32 queries at a time). numpy/faiss scores are computed batched too
    # (same method, different summation order only) and their windows with top_windows, which
    # the timed rounds check against the numpy window step (np_agree).
    log(f"  recall over {n_recall} queries ...")
    for lo in range(0, n_recall, 32):
        Qr = np.stack([make_query(rng, seg_vec) for _ in range(min(32, n_recall - lo))])
        with threadpool_limits(THREADS):
            ex = np.ascontiguousarray((x @ Qr.T).T)
        if index is not None:
            fd, fi = index.search(Qr, kc)
        for j in range(len(Qr)):
            q = Qr[j]
            refs = {k: kernels.top_windows(ex[j], offsets, LENGTHS, k, max_overlap=MAX_OVERLAP)
                    for k in ks}
            for name in names:
                f, kind, _ = methods[name]
                if name == names[0]:
                    s = ex[j]
                elif name == faiss_name:
                    s = np.full(n, fd[j, -1], np.float32)
                    s[fi[j]] = fd[j]
                else:
                    s, _ = f(q, None)
                for k in ks:
                    res = windows("refine" if kind == "refine" else "vmr", s, q, k)
                    recalls[(name, k)].append(recall(res, refs[k]))
                    mrecalls[(name, k)].append(moment_recall(res, refs[k]))

    # batch of 32 queries
    Q = np.stack([make_query(rng, seg_vec) for _ in range(32)])
    bt = {"numpy BLAS f32 X @ Q.T": [], "vmr int8 batch": [], "vmr f16 batch": []}
    for r in range(batch_rounds):
        for name in rng.permutation(list(bt)):
            if name.startswith("numpy"):
                with threadpool_limits(THREADS):
                    _, t = timed(np.matmul, Q, x.T)
            elif "int8" in name:
                _, t = timed(kernels.cosine_scores_batch, codes, Q, scales)
            else:
                _, t = timed(kernels.cosine_scores_batch, x16, Q)
            bt[name].append(t / 32)
    del index
    rows = []
    base_np = {k: np.median(times[(names[0], k)]) for k in ks}
    for k in ks:
        for name in names:
            t = float(np.median(times[(name, k)]))
            floor = read_bytes[name] / bw
            rows.append(dict(
                N=n, D=d, k=k, method=name, ms=t * 1e3,
                score_ms=float(np.median(score_t[name])) * 1e3,
                gbs=read_bytes[name] / t / 1e9, xfloor=t / floor,
                vs_numpy=base_np[k] / t,
                vs_faiss=(np.median(times[(faiss_name, k)]) / t) if faiss_name in methods else float("nan"),
                recall=float(np.mean(recalls[(name, k)])), nq=len(recalls[(name, k)]),
                mrecall=float(np.mean(mrecalls[(name, k)])),
                bpc=stored[name] + transient.get(name, 4)))
    batch = {name: float(np.median(v)) * 1e3 for name, v in bt.items()}
    return rows, batch, bw, n_cand, float(np.mean(np_agree)) if np_agree else 1.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small version (< 1 minute)")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--candidates", type=float, default=0.005,
                    help="prefilter candidates as a fraction of N (min 4096)")
    ap.add_argument("--recall-queries", type=int, default=None,
                    help="queries for the (untimed) recall estimate per configuration")
    ap.add_argument("--only", metavar="N,D", help="one configuration, e.g. 1000000,384")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench-results", "kernels.md"))
    args = ap.parse_args()
    t_start = time.perf_counter()
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    if args.quick:
        configs = [(100_000, 384)]
        ks, rounds, brounds = (10, 100), args.rounds or 5, 2
        n_recall = args.recall_queries or 100
    else:
        configs = [(100_000, 384), (100_000, 512), (1_000_000, 384), (1_000_000, 512)]
        ks, rounds, brounds = (10, 100), args.rounds or 9, 3
        n_recall = args.recall_queries or 128
    if args.only:
        configs = [tuple(int(v) for v in args.only.split(","))]
    if faiss is not None:
        faiss.omp_set_num_threads(THREADS)
    rng = np.random.default_rng(12345)
    bw_array = np.ones((256 if args.quick else 1024) * 2**20 // 8)
    _bw_sum(bw_array)
    log("warming up kernels (compile or load cache) ...")
    first = first_call_times()
    all_rows, batches, bws = [], {}, {}
    for n, d in configs:
        rows, batch, bw, n_cand, agree = bench_config(n, d, ks, rounds, brounds, args.candidates,
                                                      rng, bw_array, log, n_recall)
        all_rows += rows
        batches[(n, d)] = batch
        bws[(n, d)] = (bw, n_cand, agree)
    total = time.perf_counter() - t_start

    out = []
    out.append("# vmr kernels benchmark\n")
    out.append(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
               f"numba {numba.__version__} ({THREADS} threads, layer {numba.threading_layer()}), "
               f"numpy {np.__version__}, faiss {faiss.__version__ if faiss else 'absent'}; "
               f"{rounds} interleaved rounds, medians; recall@k and moment recall@k averaged over "
               f"{n_recall} separate (untimed) queries per configuration, every method; run "
               f"took {total:.0f} s.\n")
    out.append("Windows: lengths 4/8/16/32 clips, mean, max_overlap 0.5. Recall@k: exact window "
               "matches (same start and stop) with the top-k from exact float32 scores; moment "
               "recall@k: reference windows matched by a returned window with IoU >= 0.5 "
               "(overlapping windows inside one ~30-clip segment are near-ties, so tiny score "
               "noise swaps them without changing the moment found). x floor: time / (bytes read / "
               "measured bandwidth). B/clip: stored bytes + search-time scratch per clip.\n")
    for (n, d), (bw, n_cand, agree) in bws.items():
        out.append(f"- N={n:,} D={d}: read bandwidth {bw / 1e9:.1f} GB/s (parallel sum); "
                   f"int8 floor {n * (d + 4) / bw * 1e3:.1f} ms; prefilter reranks "
                   f"{n_cand:,} candidates; numpy window step = top_windows on the same scores "
                   f"in {agree:.1%} of timed windows")
    out.append("")
    out.append("| N | D | k | method | ms/query | score ms | GB/s | x floor | vs numpy | vs faiss "
               "| recall@k | moment recall@k | recall queries | B/clip |")
    out.append("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in all_rows:
        out.append(f"| {r['N']:,} | {r['D']} | {r['k']} | {r['method']} | {r['ms']:.2f} | "
                   f"{r['score_ms']:.2f} | {r['gbs']:.1f} | {r['xfloor']:.2f} | "
                   f"{r['vs_numpy']:.1f}x | {r['vs_faiss']:.1f}x | {r['recall']:.3f} | {r['mrecall']:.3f} | "
                   f"{r['nq']} | {r['bpc']} |")
    out.append("\nBatch of 32 queries (scores only), ms per query:\n")
    names = list(next(iter(batches.values())))
    out.append("| N | D | " + " | ".join(names) + " |")
    out.append("|---|---|" + "---:|" * len(names))
    for (n, d), b in batches.items():
        out.append(f"| {n:,} | {d} | " + " | ".join(f"{b[m]:.2f}" for m in names) + " |")
    out.append("\nFirst call in a fresh process (N=2000 toy index):\n")
    for name, v in first.items():
        out.append(f"- {name}: {v}")
    text = "\n".join(out) + "\n"
    print(text)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        fh.write(text)
    log(f"written to {args.out}")


if __name__ == "__main__":
    main()
