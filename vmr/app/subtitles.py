"""A transcript as text, SubRip or WebVTT: one writer per format, each a function from timed
segments to the file's text (as openai/whisper's writers do).

Subtitle cues are cut from the words, as whisper's `--max_line_width` / `--max_line_count` do:
words fill a line up to `max_line_width` characters, lines fill a cue up to `max_line_count`;
a cue also ends before a pause of `PAUSE_SECONDS` and before it would last longer than
`max_cue_seconds`, so that a reader keeps up with the speaker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vmr.timecode import format_clock

if TYPE_CHECKING:  # the command line imports this module: a search needs no SQLAlchemy
    from vmr.catalogue.store import Segment

MAX_LINE_WIDTH = 42  # characters: the BBC's and Netflix's limit for a subtitle line
MAX_LINE_COUNT = 2
MAX_CUE_SECONDS = 7.0  # a two-line cue read at 15-17 characters a second
PAUSE_SECONDS = 3.0  # whisper's "long pause": a silence this long ends a cue
# A cue ends after a sentence once it has this much of its room filled: a new sentence starts
# on a new cue rather than after the last words of the previous one ("Yes." and the like
# stay with what follows).
SENTENCE_BREAK_FILL = 0.25
SENTENCE_END = (".", "?", "!", "…")


@dataclass(frozen=True)
class Layout:
    """How subtitle cues are cut (`vmr transcript --max-line-width/--max-line-count`)."""

    max_line_width: int = MAX_LINE_WIDTH
    max_line_count: int = MAX_LINE_COUNT
    max_cue_seconds: float = MAX_CUE_SECONDS

    def __post_init__(self) -> None:
        if self.max_line_width < 1 or self.max_line_count < 1 or self.max_cue_seconds <= 0:
            raise ValueError("line width, line count and cue length must be positive")


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _timed_words(segments: Iterable[Segment]) -> Iterator[tuple[float, float, str]]:
    """(start, end, word) of every word said, in order. A segment without word timings has its
    text spread over its span in proportion to the words' lengths."""
    for segment in segments:
        words = [(w.start, w.end, w.text.strip()) for w in (segment.words or []) if w.text.strip()]
        if not words:
            texts = segment.text.split()
            total = sum(len(t) + 1 for t in texts) or 1
            at, span = segment.start, max(segment.end - segment.start, 0.0)
            words = []
            for text in texts:
                step = span * (len(text) + 1) / total
                words.append((at, at + step, text))
                at += step
        yield from words


def cues(segments: Iterable[Segment], layout: Layout = Layout()) -> list[Cue]:
    """The transcript cut into readable cues (see the module's docstring)."""
    found: list[Cue] = []
    lines: list[str] = []
    start = end = 0.0

    def close() -> None:
        nonlocal lines
        if lines:
            found.append(Cue(start, max(end, start + 0.001), tuple(lines)))
        lines = []

    for w_start, w_end, word in _timed_words(segments):
        if lines:
            fits_line = len(lines[-1]) + 1 + len(word) <= layout.max_line_width
            pause = w_start - end >= PAUSE_SECONDS
            too_long = w_end - start > layout.max_cue_seconds
            room = layout.max_line_width * layout.max_line_count
            filled = sum(len(line) for line in lines) + len(lines) - 1
            sentence_done = lines[-1].endswith(SENTENCE_END) and filled >= SENTENCE_BREAK_FILL * room
            if pause or too_long or sentence_done or (not fits_line and len(lines) >= layout.max_line_count):
                close()
            elif fits_line:
                lines[-1] = f"{lines[-1]} {word}"
                end = w_end
                continue
            else:
                lines.append(word)  # a new line in this cue
                end = w_end
                continue
        if not lines:
            # The previous cue ends where this one starts at the latest: cues never overlap.
            if found and found[-1].end > w_start:
                found[-1] = Cue(found[-1].start, max(w_start, found[-1].start + 0.001), found[-1].lines)
            start, end, lines = w_start, w_end, [word]
    close()
    return found


def write_txt(segments: Iterable[Segment], layout: Layout = Layout()) -> str:
    return "".join(f"[{format_clock(s.start)} - {format_clock(s.end)}] {s.text}\n" for s in segments)


def write_srt(segments: Iterable[Segment], layout: Layout = Layout()) -> str:
    return "".join(f"{n}\n{format_clock(c.start, ',')} --> {format_clock(c.end, ',')}\n{c.text}\n\n"
                   for n, c in enumerate(cues(segments, layout), 1))


def _vtt_text(text: str) -> str:
    """Cue text as WebVTT reads it: &, < and > are markup there."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def write_vtt(segments: Iterable[Segment], layout: Layout = Layout()) -> str:
    return "WEBVTT\n\n" + "".join(f"{format_clock(c.start)} --> {format_clock(c.end)}\n{_vtt_text(c.text)}\n\n"
                                  for c in cues(segments, layout))


WRITERS: dict[str, Callable[..., str]] = {"txt": write_txt, "srt": write_srt, "vtt": write_vtt}


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
