"""The one way a benchmark hands in its table: printed, and written under bench-results/."""

from __future__ import annotations

from pathlib import Path


def write(lines: list[str], out: Path) -> int:
    """Print the report and write it to `out`; 0, a script's exit status."""
    report = "\n".join(lines)
    print(report)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report + "\n")
    return 0
