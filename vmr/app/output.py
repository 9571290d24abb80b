"""One way to turn results into JSON, for every command's `--json` and for the web API: a
result dataclass becomes an object of its fields, in order, all the way down."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path


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
