"""Readable subtitles: `vmr transcript --format srt|vtt` cuts cues as whisper's writers do, and
what it writes is read back by ffmpeg's SubRip and WebVTT demuxers (through PyAV)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import av
import pytest

from conftest import run_json, run_vmr
from vmr.app.subtitles import MAX_CUE_SECONDS, MAX_LINE_COUNT, MAX_LINE_WIDTH, Layout, cues


@dataclass
class W:
    start: float
    end: float
    text: str


@dataclass
class S:
    start: float
    end: float
    text: str
    words: list = field(default_factory=list)


def segment(*words: tuple[float, float, str]) -> S:
    return S(words[0][0], words[-1][1], " ".join(w[2] for w in words), [W(*w) for w in words])


def demuxed(path: Path) -> list[tuple[float, float, str]]:
    """(start, end, text) of each cue, as ffmpeg reads the file."""
    found = []
    with av.open(str(path)) as container:
        stream = container.streams[0]
        for packet in container.demux(stream):
            if packet.size:
                start = float(packet.pts * packet.time_base)
                found.append((start, start + float(packet.duration * packet.time_base), bytes(packet).decode()))
    return found


def words_of(text: str) -> list[str]:
    return text.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").split()


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_sample_subtitles_are_short_cues_that_keep_every_word(sample_home, sample_video, tmp_path, fmt):
    text = run_vmr("transcript", sample_video, "--format", fmt, home=sample_home).stdout
    path = tmp_path / f"lecture.{fmt}"
    path.write_text(text)
    found = demuxed(path)
    transcript = run_json("transcript", sample_video, home=sample_home)
    said = [w["text"] for s in transcript["segments"] for w in s["words"]]
    assert len(found) > 30  # 2:48 of speech, not one cue per Whisper segment
    lines = [line for _, _, cue in found for line in cue.splitlines()]
    assert max(len(line) for line in lines) <= MAX_LINE_WIDTH
    assert max(len(cue.splitlines()) for _, _, cue in found) <= MAX_LINE_COUNT
    assert max(end - start for start, end, _ in found) <= MAX_CUE_SECONDS + 1e-3
    assert all(a[1] <= b[0] + 1e-3 for a, b in zip(found, found[1:]))  # in order, never overlapping
    assert [w for _, _, cue in found for w in words_of(cue)] == [w.strip() for w in said if w.strip()]
    # Each cue is shown while its words are said.
    first_word = transcript["segments"][0]["words"][0]
    assert abs(found[0][0] - first_word["start"]) < 0.01


def test_line_width_and_count_are_options(sample_home, sample_video, tmp_path):
    text = run_vmr("transcript", sample_video, "--format", "srt", "--max-line-width", "20",
                   "--max-line-count", "1", home=sample_home).stdout
    path = tmp_path / "narrow.srt"
    path.write_text(text)
    found = demuxed(path)
    assert all(len(cue.splitlines()) == 1 for _, _, cue in found)
    assert max(len(cue) for _, _, cue in found) <= 20
    result = run_vmr("transcript", sample_video, "--format", "srt", "--max-line-width", "0",
                     home=sample_home, check=False)
    assert result.returncode == 2 and "must be positive" in result.stderr


def test_a_pause_a_sentence_end_and_the_time_limit_end_cues():
    pause = [segment((0.0, 0.4, "Hello"), (0.5, 0.9, "there")), segment((5.0, 5.4, "again"))]
    assert [c.text for c in cues(pause)] == ["Hello there", "again"]
    # A sentence ends a cue once the cue is a quarter full; a short one keeps going.
    long_sentence = " ".join(["word"] * 9) + "."  # 49 characters
    words = [(i * 0.3, i * 0.3 + 0.25, w) for i, w in enumerate(long_sentence.split() + ["Next", "one."])]
    cut = cues([segment(*words)])
    assert cut[0].text.endswith("word.") and cut[1].text == "Next one."
    assert [c.text for c in cues([segment((0, 0.3, "Yes."), (0.4, 0.7, "Then"), (0.8, 1.0, "more"))])] == ["Yes. Then more"]
    # Slow speech: the cue ends before it would pass the time limit, whatever its length.
    slow = [(i * 2.0, i * 2.0 + 1.5, f"w{i}") for i in range(10)]
    cut = cues([segment(*slow)])
    assert all(c.end - c.start <= MAX_CUE_SECONDS for c in cut) and len(cut) >= 3
    assert [w for c in cut for w in c.text.split()] == [w[2] for w in slow]


def test_lines_wrap_at_the_width_and_a_word_longer_than_a_line_keeps_whole():
    words = [(i * 0.2, i * 0.2 + 0.15, w) for i, w in enumerate(
        ["a" * 10, "b" * 10, "c" * 10, "d" * 10, "e" * 50, "f"])]
    cut = cues([segment(*words)], Layout(max_line_width=22, max_line_count=2))
    assert [c.lines for c in cut] == [("a" * 10 + " " + "b" * 10, "c" * 10 + " " + "d" * 10), ("e" * 50, "f")]


def test_a_segment_without_word_times_is_spread_over_its_span():
    cut = cues([S(10.0, 14.0, "one two three four", [])])
    assert cut[0].start == 10.0 and abs(cut[-1].end - 14.0) < 1e-6 and cut[0].text == "one two three four"


def test_vtt_escapes_markup(tmp_path):
    from vmr.app.subtitles import write_vtt

    text = write_vtt([segment((0.0, 0.5, "x<y"), (0.6, 0.9, "&"), (1.0, 1.2, "-->"))])
    assert "x&lt;y &amp; --&gt;" in text
    assert re.findall(r"-->", text) == ["-->"]  # only the cue's timing arrow
