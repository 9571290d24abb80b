#!/usr/bin/env python3
"""ASR backends x models on the sample lecture: accuracy, speed, silence hallucinations.

    .venv/bin/python bench/asr_bench.py [--models base tiny.en] [--backends ...]
                                        [--beam-size 5] [--media samples/lecture.mp4]

For every (backend, model): word error rate against the ground-truth sentences in
lecture.json (lowercased, punctuation removed, hyphens split), model load time (the
verified cache is warmed first, so one-time assembly/conversion is not counted), the
transcription time as a real-time factor and as seconds per minute of audio, and the
words that fall inside the recorded silences.  Prints a markdown table and writes it to
bench-results/asr.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
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


def words_in_silence(words, silences) -> tuple[int, float]:
    """(words overlapping a silence's interior, shrunk by EDGE at both ends;
    the largest distance any word edge reaches into a silence)."""
    inside, reach = 0, 0.0
    for w in words:
        for s in silences:
            a, b = s["start"], s["end"]
            if w.end > a + EDGE and w.start < b - EDGE:
                inside += 1
            overlap = min(w.end, b) - max(w.start, a)
            if overlap > 0:
                reach = max(reach, overlap)
    return inside, reach


def run(backend: str, model: str, beam: int, audio, truth) -> dict:
    options = AsrOptions(backend=backend, model=model, beam_size=beam)
    device = resolve_device(options.device, backend)
    resolve_whisper(model, backend, device=device)  # warm the cache: assembly/conversion
    t0 = time.perf_counter()
    transcriber = load_transcriber(options)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    transcript = transcriber.transcribe(audio)
    run_s = time.perf_counter() - t0
    duration = audio.size / SAMPLE_RATE
    reference = normalize_text(" ".join(s["text"] for s in truth["sentences"]))
    hypothesis = normalize_text(transcript.text)
    inside, reach = words_in_silence(transcript.words, truth["silences"])
    return {
        "backend": backend, "model": model, "device": device,
        "compute": getattr(transcriber, "compute_type", "float16" if device == "cuda"
                           else "float32"),
        "wer": jiwer.wer(reference, hypothesis),
        "load_s": load_s, "run_s": run_s, "rtf": run_s / duration,
        "s_per_min": 60 * run_s / duration,
        "words": len(transcript.words), "inside": inside, "reach": reach,
    }


def table(rows: list[dict]) -> str:
    out = ["| backend | model | compute | WER | load (s) | transcribe (s) | RTF "
           "| s / audio min | words | words in silence | max edge into silence (s) |",
           "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(
            f"| {r['backend']} | {r['model']} | {r['compute']} ({r['device']}) "
            f"| {r['wer']:.3f} | {r['load_s']:.1f} | {r['run_s']:.1f} | {r['rtf']:.3f} "
            f"| {r['s_per_min']:.1f} | {r['words']} | {r['inside']} | {r['reach']:.2f} |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=["base", "tiny.en"])
    ap.add_argument("--backends", nargs="+", default=["faster-whisper", "openai-whisper"])
    ap.add_argument("--beam-size", type=int, default=AsrOptions().beam_size)
    ap.add_argument("--media", type=Path, default=ROOT / "samples" / "lecture.mp4")
    ap.add_argument("--out", type=Path, default=ROOT / "bench-results" / "asr.md")
    args = ap.parse_args(argv)

    truth = json.loads(args.media.with_suffix(".json").read_text(encoding="utf-8"))
    audio = load_audio(args.media)
    if audio is None:
        sys.exit(f"{args.media}: no audio track")
    rows = []
    for model in args.models:
        for backend in args.backends:
            r = run(backend, model, args.beam_size, audio, truth)
            print(f"{backend:15} {model:8} WER {r['wer']:.3f}  RTF {r['rtf']:.3f}  "
                  f"load {r['load_s']:.1f}s  in-silence {r['inside']}", file=sys.stderr)
            rows.append(r)

    try:
        load = "load average %.1f %.1f %.1f" % os.getloadavg()
    except OSError:
        load = ""
    header = (
        f"# ASR benchmark: {args.media.name} ({audio.size / SAMPLE_RATE:.1f} s, "
        f"{sum(s['end'] - s['start'] for s in truth['silences']):.1f} s of it silent)\n\n"
        f"{dt.datetime.now().isoformat(timespec='minutes')}, {platform.machine()}, "
        f"{len(os.sched_getaffinity(0))} CPU cores, {load}; beam size {args.beam_size}, "
        "temperature fallback on, Silero VAD on, word timestamps on.  WER: jiwer on "
        "lowercased text without punctuation.  Load time excludes the one-time "
        "verified assembly / conversion into the cache.  RTF = transcribe time / audio "
        "duration.  Words in silence: words reaching more than 0.5 s into a silence.\n"
    )
    md = header + "\n" + table(rows) + "\n"
    print(md)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(md, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
