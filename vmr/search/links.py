"""Links that open a video at a moment: a file URI with a W3C media fragment (#t=start,end)."""

from __future__ import annotations

from pathlib import Path


def moment_link(video: Path, start: float, end: float) -> str:
    # as_uri() percent-encodes spaces and non-ASCII names, so the link survives a terminal.
    return f"{video.absolute().as_uri()}#t={start:.1f},{end:.1f}"


def watch_path(video_id: int, start: float, end: float) -> str:
    """The web page's link to a moment (`vmr serve`): it opens the player playing at `start`."""
    return f"/watch/{video_id}?t={start:.1f}&end={end:.1f}"
