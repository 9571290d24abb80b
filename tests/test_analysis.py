"""vmr.ingest.analysis: what an index run encodes as Whisper's sentences come (the real MiniLM), and
whose turn it is on the cores."""

from __future__ import annotations

import queue
import threading
import time

import numpy as np
import pytest

from vmr.ingest.analysis import AHEAD_CLIPS, Analyser, IndexOptions, StageClock, Turns, speech_texts
from vmr.channels import Channel
from vmr.errors import Stopped
from vmr.ingest.asr import Segment, Word
from vmr.ingest.structure import sentences_of, whole_passage_vectors
from vmr.timecode import TimeSpan

TOPICS = ["volcanoes erupt when magma rises", "the printing press spread books",
          "sleep clears the brain of waste", "inflation erodes what money buys"]


def lecture(seconds: float = 100.0, timed_words: bool = False) -> tuple[list[TimeSpan], list[Segment]]:
    """A 2-s clip grid, a sentence every 3.1 s (so most clips hold two); its words timed evenly
    across it with `timed_words`."""
    clips = [TimeSpan(t, t + 2.0) for t in np.arange(0.0, seconds, 2.0)]
    said = []
    for i, t in enumerate(np.arange(0.5, seconds - 3, 3.1)):
        text = f"Sentence {i}: {TOPICS[i % 4]}."
        step = 2.9 / len(text.split())
        words = [Word(t + k * step, t + (k + 1) * step, word, 1.0) for k, word in enumerate(text.split())]
        said.append(Segment(t, t + 2.9, text, words if timed_words else []))
    return clips, said


def spy(encoder) -> list[list[str]]:  # noqa: ANN001 (a TextEncoder)
    """The batches `encoder` is given from now on, in order."""
    batches: list[list[str]] = []
    encode = encoder.encode
    encoder.encode = lambda texts: batches.append(list(texts)) or encode(texts)
    return batches


def encode_ahead(said, pause: float | None):
    """`_encode_ahead` fed by a thread that hears a sentence every `pause` seconds (None: all
    heard before it starts): (the batches encoded, in order; the model; the vectors by text;
    the whole passages' vectors)."""
    analyser = Analyser(IndexOptions())
    batches = spy(analyser.encoder("all-MiniLM-L6-v2"))
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
    model, encoded, whole = analyser._encode_ahead(heard, 2.0, Turns(threading.Event()), StageClock())
    speaking.join()
    return batches, model, encoded, whole


def test_clips_are_encoded_while_whisper_decodes_in_the_same_batches_whatever_the_timing():
    clips, said = lecture()
    batches, model, encoded, _ = encode_ahead(said, pause=None)
    assert model == "all-MiniLM-L6-v2"  # (the language says which model)
    # whole blocks of clips whose sentences are all heard (a block ends before the last
    # sentence starts)
    blocks = int(sum(clip.end <= said[-1].start for clip in clips) // AHEAD_CLIPS)
    assert blocks >= 2 and len(batches) == blocks
    seen: set[str] = set()
    for i, batch in enumerate(batches):
        texts = set(speech_texts(said, clips[i * AHEAD_CLIPS:(i + 1) * AHEAD_CLIPS]))
        assert batch == sorted(texts - seen)  # each text once
        seen |= texts
    assert encoded.keys() == seen
    # the clips after the last block are left to the encoding after the speech
    assert set(speech_texts(said, clips[blocks * AHEAD_CLIPS:])) - seen
    # Whisper far ahead or sentence by sentence: the same batches, the same vectors to the bit
    again, _, vectors, _ = encode_ahead(said, pause=0.005)
    assert again == batches
    assert all(np.array_equal(vectors[text], encoded[text]) for text in encoded)


def test_the_whole_passages_are_encoded_once_whisper_is_done():
    """Once Whisper is done, the encoding thread (on one core, beside the frames and the slides)
    makes the passages' first call, as if no chapter cut them: the vectors are the ones the main
    thread makes, to the bit, and the structure given them is the one made without them."""
    clips, said = lecture(timed_words=True)
    batches, model, encoded, whole = encode_ahead(said, pause=None)
    words = [(w.start, w.end, w.text) for s in said for w in s.words]
    alone = whole_passage_vectors(words, Analyser(IndexOptions()).encoder(model).encode)
    assert len(whole) == len(sentences_of(words)) == len(said) and np.array_equal(whole, alone)
    analyser = Analyser(IndexOptions())
    made = spy(analyser.encoder(model))
    chapters, channels = analyser.structure("l", words, [], clips, 100.0, StageClock(), model, dict(encoded), whole)
    assert made and batches[-1] not in made  # (the whole passages are not encoded again)
    again, plain = Analyser(IndexOptions()).structure("l", words, [], clips, 100.0, StageClock(), model)
    assert chapters == again and channels.keys() == plain.keys() == {Channel.PASSAGE, Channel.CHAPTER}
    for channel, found in channels.items():
        assert found.vectors.keys() == plain[channel].vectors.keys()
        assert all(np.array_equal(vector, plain[channel].vectors[i]) for i, vector in found.vectors.items())


def test_encoding_ahead_ends_when_the_analysis_stops():
    _, said = lecture()
    heard: queue.SimpleQueue = queue.SimpleQueue()
    for segment in said:
        heard.put(("en", segment))
    stop = threading.Event()
    stop.set()  # (Ctrl-C, or another thread failed): what is queued is not encoded
    with pytest.raises(Stopped):
        Analyser(IndexOptions())._encode_ahead(heard, 2.0, Turns(stop), StageClock())


def test_no_speech_encodes_nothing_ahead():
    batches, model, encoded, whole = encode_ahead([], pause=None)
    assert (batches, model, encoded, whole) == ([], None, {}, None)


def test_while_whisper_decodes_the_rest_waits_for_its_turn():
    stop = threading.Event()
    turns, passed = Turns(stop), []

    def rest() -> None:
        turns.wait()
        passed.append(time.monotonic())

    with turns.whisper():
        waiting = threading.Thread(target=rest)
        waiting.start()
        waiting.join(0.3)
        assert not passed  # (still waiting)
        ended = time.monotonic()
    waiting.join(5)
    assert passed and passed[0] >= ended
    turns.wait()  # nothing decoding: at once
    with pytest.raises(RuntimeError), turns.whisper():
        raise RuntimeError("Whisper failed")
    turns.wait()  # the turn ends however Whisper's does
    with turns.whisper():
        stop.set()  # (Ctrl-C): the waiting ends
        with pytest.raises(Stopped):
            turns.wait()


def test_the_frames_wait_while_whisper_decodes_and_go_on_after(tmp_path, monkeypatch):
    from factory import make_video

    from vmr.ingest import analysis
    from vmr.ingest.asr import Transcript

    video = make_video(tmp_path / "talk.mp4", [i * 0.02 for i in range(3000)], audio_seconds=60.0)
    frames: list[float] = []  # when each frame was scanned
    scan_video = analysis.scan_video

    def slow_scan(path, clip_seconds, on_picture, each_frame):
        def frame() -> None:
            each_frame()
            frames.append(time.monotonic())
            time.sleep(0.001)  # (a frame of a long lecture takes about as long)
        return scan_video(path, clip_seconds, on_picture, frame)

    class Whisper:
        note = None

        def transcribe(self, audio, progress=None, heard=None):
            started = time.monotonic()
            time.sleep(1.0)
            self.decoded = (started, time.monotonic())
            return Transcript(None, [], "faster-whisper", "base")

    monkeypatch.setattr(analysis, "scan_video", slow_scan)
    analyser = Analyser(IndexOptions(ocr=False, chapters=False))
    analyser._transcriber = whisper = Whisper()
    scanned = analyser.analyse(video).scan
    start, end = whisper.decoded
    assert scanned.frame_count == len(frames) == 3000
    assert frames[0] < start and frames[-1] > end  # the scan began before and ended after
    assert not [t for t in frames if start + 0.05 < t < end]  # (a frame begun may end)
