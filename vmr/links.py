"""Links that open a video at a moment: a file URI with a W3C media fragment (#t=start,end)."""

from __future__ import annotations

from pathlib import Path


def moment_link(video: Path, start: float, end: float) -> str:
    # as_uri() percent-encodes spaces and non-ASCII names, so the link survives a terminal.
    return f"{video.absolute().as_uri()}#t={start:.1f},{end:.1f}"
