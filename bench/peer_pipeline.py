#!/usr/bin/env python3
"""A speech-only lecture search index built the way peer projects build one: the baseline that
`bench/index_bench.py` and `bench/long_bench.py` compare vmr's indexing with.

    .venv/bin/python bench/peer_pipeline.py VIDEO DATABASE

faster-whisper base (the same packaged weights vmr uses), int8 on the CPU, beam 5, Silero VAD,
its default settings otherwise (sequential decoding, segment timestamps, no word timestamps),
and the segments in an SQLite FTS5 table. No slides, no vectors. Prints a JSON line with the
seconds of each step.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    video, database = sys.argv[1], sys.argv[2]
    clock = [time.perf_counter()]
    from faster_whisper import WhisperModel, decode_audio

    from vmr.models.weights import resolve_whisper

    model = WhisperModel(resolve_whisper("base", "faster-whisper", device="cpu"), device="cpu",
                         compute_type="int8")
    clock.append(time.perf_counter())
    audio = decode_audio(video, sampling_rate=16000)
    clock.append(time.perf_counter())
    segments, _ = model.transcribe(audio, language="en", beam_size=5, vad_filter=True)
    rows = [(video, s.start, s.end, s.text.strip()) for s in segments]
    clock.append(time.perf_counter())
    with sqlite3.connect(database) as db:
        db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS segments USING fts5(video UNINDEXED, "
                   "start UNINDEXED, end UNINDEXED, text)")
        db.executemany("INSERT INTO segments VALUES (?, ?, ?, ?)", rows)
    clock.append(time.perf_counter())
    steps = ("load", "audio", "speech", "save")
    print(json.dumps({"segments": len(rows), "duration": len(audio) / 16000,
                      "seconds": {name: round(b - a, 3) for name, a, b in zip(steps, clock, clock[1:])}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
