"""One way to turn results into JSON, for every command's `--json` and for the web API: a
result dataclass becomes an object of its fields, in order, all the way down. And one way to
say what a result had to go without, on stderr."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterable
from pathlib import Path

from vmr.errors import printable


def to_json(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value


def print_json(value: object) -> None:
    print(json.dumps(to_json(value), indent=2, ensure_ascii=False), file=sys.stdout)


def warn(problems: Iterable[str]) -> None:
    """A result's problems (a search's `Moments.problems`, `LibraryInfo.problems`), a line each."""
    for problem in problems:
        print(f"vmr: warning: {printable(problem)}", file=sys.stderr)
