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


# -- chapters: a list of (start, end, title) spans covering a video
def chapters_json(chapters: Iterable) -> list[dict]:
    return [{"start": round(c.start, 3), "end": round(c.end, 3), "title": c.title} for c in chapters]


def chapters_txt(chapters: Iterable) -> str:
    return "".join(f"{format_clock(c.start)} - {format_clock(c.end)}  {c.title}\n" for c in chapters)


def chapters_vtt(chapters: Iterable) -> str:
    """WebVTT chapters (a <track kind="chapters"> file): one numbered cue per chapter."""
    return "WEBVTT\n\n" + "".join(f"{n}\n{format_clock(c.start)} --> {format_clock(c.end)}\n{c.title}\n\n"
                                  for n, c in enumerate(chapters, 1))


def youtube_clock(seconds: float, hours: bool) -> str:
    total = int(seconds)  # a chapter starts at the whole second it is in
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if hours else f"{m:02d}:{s:02d}"


def chapters_youtube(chapters: Iterable) -> str:
    """The "00:00 Title" lines video platforms read from a description (the first at 00:00;
    hours shown when the video reaches one)."""
    chapters = list(chapters)
    hours = bool(chapters) and chapters[-1].end >= 3600
    return "".join(f"{youtube_clock(0.0 if i == 0 else c.start, hours)} {c.title}\n" for i, c in enumerate(chapters))


CHAPTER_WRITERS: dict[str, Callable[[Iterable], str]] = {"txt": chapters_txt, "vtt": chapters_vtt,
                                                        "youtube": chapters_youtube}
