"""A value type for spans of media time, in seconds derived from the stream's timestamps."""

from __future__ import annotations

from dataclasses import dataclass


def format_clock(seconds: float, decimal: str = ".") -> str:
    """HH:MM:SS.mmm, as subtitles and humans write it."""
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal}{millis:03d}"


@dataclass(frozen=True, order=True)
class TimeSpan:
    """A half-open span [start, end) of media time in seconds."""

    start: float
    end: float

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"span ends before it starts: {self.start} > {self.end}")

    @property
    def duration(self) -> float:
        return self.end - self.start

    def intersection(self, other: TimeSpan) -> float:
        return max(0.0, min(self.end, other.end) - max(self.start, other.start))

    def iou(self, other: TimeSpan) -> float:
        inter = self.intersection(other)
        union = self.duration + other.duration - inter
        return inter / union if union > 0 else 0.0

    def __str__(self) -> str:
        return f"{format_clock(self.start)}–{format_clock(self.end)}"
