#!/usr/bin/env python3
"""Speech recognition settings side by side: word error, speed and words put into silence.

    .venv/bin/python bench/asr_bench.py [--set dev|test|all] [--variants NAME ...] [--rounds 1]
                                        [--backends]

Each variant is faster-whisper with the packaged base weights (int8 on the CPU), Silero VAD,
word timestamps, no previous-text conditioning, as vmr runs it; the variants differ in
decoding: sequential 30-s windows or batches of clips of VAD speech of up to 30 s each
(BatchedInferencePipeline, without timestamp tokens: see _transcribe_batched in
vmr/ingest/asr.py), beam search (5 or 2) or greedy, with or without the temperature fallback (a window whose text
repeats itself or is improbable is decoded again, sampling at rising temperatures). `--backends` adds the backend comparison (openai-whisper on the same
weights, and tiny.en) on samples/lecture.mp4.

The recordings: `samples/lecture.mp4` (espeak-ng) and the held-out lectures of
samples/heldout/ (neural Piper, HTS, Flite voices over room tone; no recording of a human
voice could be had offline, see samples/heldout/README.md). Settings are chosen on `dev`
(lecture, printing, volcanoes); `test` (inflation, sleep) is reported after the choice and
never used to make it. Word error: jiwer on lowercased text without punctuation, over all the
recordings' words together (and per recording). Silence: the recorded gaps between sentences
of at least 1 s (the samples' JSON); a word counts as in silence when it reaches more than
0.5 s into one (the VAD pads speech by 0.4 s). Speed: wall and CPU time of the transcription
alone (models loaded first), as seconds per minute of audio; with several rounds, variants
alternate and medians are reported. Writes bench-results/asr.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import jiwer  # noqa: E402

from vmr.ingest.asr import AsrOptions, load_transcriber, normalize_text, resolve_device  # noqa: E402
from vmr.ingest.media import SAMPLE_RATE, load_audio  # noqa: E402
from vmr.models.weights import resolve_whisper  # noqa: E402

EDGE = 0.5  # VAD pads speech by 0.4 s: word edges this close to a silence's ends are fine
GAP = 1.0  # a pause between sentences at least this long counts as silence
SETS = {
    "dev": ["samples/lecture.mp4", "samples/heldout/printing.mp4", "samples/heldout/volcanoes.mp4"],
    "test": ["samples/heldout/inflation.mp4", "samples/heldout/sleep.mp4"],
}
GREEDY = {"beam_size": 1, "temperature": (0.0,)}
SEQUENTIAL = {"batch_size": 0}
VARIANTS = {
    "sequential, beam 5": SEQUENTIAL,
    "sequential, beam 2": {**SEQUENTIAL, "beam_size": 2},
    "sequential, greedy + fallback": {**SEQUENTIAL, "beam_size": 1},
    "sequential, greedy": {**SEQUENTIAL, **GREEDY},
    "batched 2, beam 5": {"batch_size": 2},
    "batched 8, beam 5": {"batch_size": 8},
    "batched 8, greedy": {"batch_size": 8, **GREEDY},
    "batched 4, greedy": {"batch_size": 4, **GREEDY},
}


def silences(truth: dict) -> list[tuple[float, float]]:
    if "silences" in truth:
        return [(s["start"], s["end"]) for s in truth["silences"]]
    sentences = sorted(truth["sentences"], key=lambda s: s["start"])
    gaps = [(0.0, sentences[0]["start"])] + [(a["end"], b["start"]) for a, b in zip(sentences, sentences[1:])]
    gaps.append((sentences[-1]["end"], truth["duration"]))
    return [(a, b) for a, b in gaps if b - a >= GAP]


def words_in_silence(words, quiet) -> int:
    return sum(1 for w in words for a, b in quiet if w.end > a + EDGE and w.start < b - EDGE)


def recording(path: Path) -> dict:
    truth = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    audio = load_audio(path)
    return {"name": path.stem, "audio": audio, "minutes": audio.size / SAMPLE_RATE / 60,
            "reference": normalize_text(" ".join(s["text"] for s in truth["sentences"])),
            "silences": silences(truth)}


def transcribe(transcriber, rec: dict) -> dict:
    wall, cpu = time.perf_counter(), time.process_time()
    transcript = transcriber.transcribe(rec["audio"])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    hypothesis = normalize_text(transcript.text)
    return {"wall": wall, "cpu": cpu, "hypothesis": hypothesis, "words": len(transcript.words),
            "in_silence": words_in_silence(transcript.words, rec["silences"])}


def variant_table(recordings: list[dict], results: dict[str, list[list[dict]]]) -> list[str]:
    names = [r["name"] for r in recordings]
    minutes = sum(r["minutes"] for r in recordings)
    out = ["| variant | WER (all) | " + " | ".join(f"WER {n}" for n in names)
           + " | s / audio min (wall) | s / audio min (CPU) | words in silence |",
           "|---|---:|" + "---:|" * len(names) + "---:|---:|---:|"]
    for variant, rounds in results.items():
        first = rounds[0]
        total = jiwer.wer([r["reference"] for r in recordings], [x["hypothesis"] for x in first])
        each = [jiwer.wer(r["reference"], x["hypothesis"]) for r, x in zip(recordings, first)]
        wall = statistics.median(sum(x["wall"] for x in run) for run in rounds) * 60 / (minutes * 60)
        cpu = statistics.median(sum(x["cpu"] for x in run) for run in rounds) * 60 / (minutes * 60)
        out.append(f"| {variant} | {total:.3f} | " + " | ".join(f"{w:.3f}" for w in each)
                   + f" | {wall:.2f} | {cpu:.2f} | {sum(x['in_silence'] for x in first)} |")
    return out


def backends_table(rec: dict) -> list[str]:
    out = ["| backend | model | WER | load (s) | s / audio min (wall) | words in silence |",
           "|---|---|---:|---:|---:|---:|"]
    for model in ("base", "tiny.en"):
        for backend in ("faster-whisper", "openai-whisper"):
            options = AsrOptions(backend=backend, model=model)
            resolve_whisper(model, backend, device=resolve_device(options.device, backend))  # warm the cache
            start = time.perf_counter()
            transcriber = load_transcriber(options)
            load = time.perf_counter() - start
            r = transcribe(transcriber, rec)
            out.append(f"| {backend} | {model} | {jiwer.wer(rec['reference'], r['hypothesis']):.3f} | {load:.1f} "
                       f"| {r['wall'] * 60 / (rec['minutes'] * 60):.1f} | {r['in_silence']} |")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", choices=("dev", "test", "all"), default="all")
    ap.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--backends", action="store_true", help="also compare backends and models on lecture.mp4")
    ap.add_argument("--out", type=Path, default=ROOT / "bench-results" / "asr.md")
    args = ap.parse_args(argv)

    sets = ["dev", "test"] if args.set == "all" else [args.set]
    recordings = {name: [recording(ROOT / p) for p in SETS[name]] for name in sets}
    resolve_whisper("base", "faster-whisper", device="cpu")
    transcribers = {v: load_transcriber(AsrOptions(**VARIANTS[v])) for v in args.variants}
    results = {name: {v: [] for v in args.variants} for name in sets}
    for round_ in range(args.rounds):
        order = args.variants if round_ % 2 == 0 else list(reversed(args.variants))
        for name in sets:
            for v in order:
                results[name][v].append([transcribe(transcribers[v], rec) for rec in recordings[name]])
                print(f"round {round_ + 1} {name} {v}: "
                      f"{sum(x['wall'] for x in results[name][v][-1]):.1f} s", file=sys.stderr, flush=True)

    load = "load average %.1f %.1f %.1f" % os.getloadavg()
    lines = [f"# Speech recognition on CPU: faster-whisper base int8, {args.rounds} round(s)", "",
             f"{dt.datetime.now().isoformat(timespec='minutes')}, {platform.machine()}, "
             f"{len(os.sched_getaffinity(0))} CPU cores, {load} at the end. VAD on, word timestamps on, "
             "temperature fallback on in sequential decoding (batched decoding has none). "
             "Variants are chosen on dev; test is reported, never used to choose.", ""]
    for name in sets:
        minutes = sum(r["minutes"] for r in recordings[name])
        lines += [f"## {name}: {', '.join(r['name'] for r in recordings[name])} ({minutes:.1f} min of audio)", ""]
        lines += variant_table(recordings[name], results[name]) + [""]
    if args.backends:
        lines += ["## Backends and models, lecture.mp4 (beam 5, sequential)", ""]
        lines += backends_table(recording(ROOT / "samples" / "lecture.mp4")) + [""]
    md = "\n".join(lines)
    print(md)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(md + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
