"""A transcript as text, SubRip or WebVTT: one writer per format, each a function from timed
segments to the file's text (as openai/whisper's writers do)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from vmr.catalogue.store import Segment
from vmr.timecode import format_clock


def _cues(segments: Iterable[Segment], decimal: str) -> Iterable[tuple[str, str]]:
    for s in segments:
        yield f"{format_clock(s.start, decimal)} --> {format_clock(s.end, decimal)}", s.text


def write_txt(segments: Iterable[Segment]) -> str:
    return "".join(f"[{format_clock(s.start)} - {format_clock(s.end)}] {s.text}\n" for s in segments)


def write_srt(segments: Iterable[Segment]) -> str:
    return "".join(f"{n}\n{times}\n{text}\n\n" for n, (times, text) in enumerate(_cues(segments, ","), 1))


def write_vtt(segments: Iterable[Segment]) -> str:
    return "WEBVTT\n\n" + "".join(f"{times}\n{text}\n\n" for times, text in _cues(segments, "."))


WRITERS: dict[str, Callable[[Iterable[Segment]], str]] = {"txt": write_txt, "srt": write_srt, "vtt": write_vtt}
