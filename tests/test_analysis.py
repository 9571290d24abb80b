"""vmr.ingest.analysis: what the index run encodes while Whisper decodes (the real MiniLM)."""

from __future__ import annotations

import os
import queue
import sys
import threading
import time

import numpy as np
import pytest

from vmr.ingest.analysis import (AHEAD_CLIPS, BESIDE_NICENESS, Analyser, IndexOptions, StageClock,
                                 _yield_to_whisper, speech_texts)
from vmr.errors import Stopped
from vmr.ingest.asr import Segment
from vmr.timecode import TimeSpan

TOPICS = ["volcanoes erupt when magma rises", "the printing press spread books",
          "sleep clears the brain of waste", "inflation erodes what money buys"]


def lecture(seconds: float = 100.0) -> tuple[list[TimeSpan], list[Segment], list[str]]:
    """A 2-s clip grid, a sentence every 3.1 s (so most clips hold two), a slide per 25 s."""
    clips = [TimeSpan(t, t + 2.0) for t in np.arange(0.0, seconds, 2.0)]
    said = [Segment(t, t + 2.9, f"Sentence {i}: {TOPICS[i % 4]}.") for i, t in enumerate(np.arange(0.5, seconds - 3, 3.1))]
    slides = [f"Slide {int(clip.start // 25)}\n{TOPICS[int(clip.start // 25) % 4]}" for clip in clips]
    return clips, said, slides


def encode_ahead(clips, said, slides, pause: float | None):
    """`_encode_ahead` fed by a thread that hears a sentence every `pause` seconds (None: all
    heard before it starts): (the batches encoded, in order; the model; the vectors by text)."""
    analyser = Analyser(IndexOptions())
    encoder = analyser.encoder("all-MiniLM-L6-v2")
    batches: list[list[str]] = []
    encode = encoder.encode
    encoder.encode = lambda texts: batches.append(list(texts)) or encode(texts)
    heard: queue.SimpleQueue = queue.SimpleQueue()

    def whisper() -> None:
        for segment in said:
            if pause:
                time.sleep(pause)
            heard.put(("en", segment))
        heard.put(None)

    speaking = threading.Thread(target=whisper)
    speaking.start()
    if pause is None:
        speaking.join()
    model, encoded = analyser._encode_ahead(heard, clips, slides, threading.Event(), StageClock())
    speaking.join()
    return batches, model, encoded


def test_clips_are_encoded_while_whisper_decodes_in_the_same_batches_whatever_the_timing():
    clips, said, slides = lecture()
    batches, model, encoded = encode_ahead(clips, said, slides, pause=None)
    assert model == "all-MiniLM-L6-v2"
    # first the slides, once the language says which model; then whole blocks of clips whose
    # sentences are all heard (a block ends before the last sentence starts)
    assert batches[0] == sorted(set(slides))
    blocks = int(sum(clip.end <= said[-1].start for clip in clips) // AHEAD_CLIPS)
    assert blocks >= 2 and len(batches) == 1 + blocks
    seen = set(batches[0])
    for i, batch in enumerate(batches[1:]):
        texts = set(speech_texts(said, clips[i * AHEAD_CLIPS:(i + 1) * AHEAD_CLIPS]))
        assert batch == sorted(texts - seen)  # each text once
        seen |= texts
    assert encoded.keys() == seen
    # the clips after the last block are left to the encoding after the speech
    assert set(speech_texts(said, clips[blocks * AHEAD_CLIPS:])) - seen
    # Whisper far ahead or sentence by sentence: the same batches, the same vectors to the bit
    again, _, vectors = encode_ahead(clips, said, slides, pause=0.005)
    assert again == batches
    assert all(np.array_equal(vectors[text], encoded[text]) for text in encoded)


def test_encoding_ahead_ends_when_the_analysis_stops():
    clips, said, slides = lecture()
    heard: queue.SimpleQueue = queue.SimpleQueue()
    for segment in said:
        heard.put(("en", segment))
    stop = threading.Event()
    stop.set()  # (Ctrl-C, or the other half failed): what is queued is not encoded
    with pytest.raises(Stopped):
        Analyser(IndexOptions())._encode_ahead(heard, clips, slides, stop, StageClock())


def test_no_speech_encodes_nothing_ahead():
    clips, _, slides = lecture(20.0)
    batches, model, encoded = encode_ahead(clips, [], slides, pause=None)
    assert (batches, model, encoded) == ([], None, {})


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priorities are Linux's")
def test_the_thread_beside_whisper_yields_to_it_and_to_nothing_else():
    def priority() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    before, seen = priority(), {}

    def beside() -> None:
        _yield_to_whisper()
        seen["beside"] = priority()

    thread = threading.Thread(target=beside)
    thread.start()
    thread.join()
    assert seen["beside"] == min(19, before + BESIDE_NICENESS) > before
    assert priority() == before  # the rest of the process (Whisper) as it was
