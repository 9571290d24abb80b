"""Per-library settings in `HOME/config.toml`; command-line flags override them. Each section
loads straight into its options dataclass: a key is a field's name.

    device = "auto"              # auto | cpu | cuda, for every model

    [index]                      # IndexOptions
    clip_seconds = 2.0
    text_model = "auto"          # MiniLM for English, multilingual-e5-small once another language is
                                 # in the library; or a sentence-transformers name, hub id or folder
    visual_model = "openai/clip-vit-base-patch32"  # CLIP/SigLIP hub id or folder; unset: no frames
    ocr = true                   # read slide text (the slides channel, slide words in BM25)
    ocr_recogniser = "auto"      # ppocr-v4, ppocr-v5 (accented Latin letters), or auto: v5 where
                                 # [index] language is a Latin-script language other than English
    translate = false            # true: speech in other languages also put into English, for
                                 # English questions (a second Whisper pass for those videos)

    [index.asr]                  # AsrOptions (asr_backend and asr_model under [index] work too)
    backend = "faster-whisper"   # or "openai-whisper"
    model = "base"               # base, tiny.en (packaged), small, large-v3 (online), a path
    language = "auto"            # auto: Whisper detects each video's; or an ISO 639-1 code ("es")

    [search]                     # SearchOptions
    lexical_weight = 0.25
    snap = true                  # moment edges on sentence / slide boundaries
    speech_weight = 1.0          # <channel>_weight: a channel's fusion weight; 0 turns it off
    slides_weight = 1.0
    visual_weight = 0.1
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, replace
from pathlib import Path

from vmr.channels import Channel
from vmr.errors import VmrError
from vmr.search.options import SearchOptions

if typing.TYPE_CHECKING:
    from vmr.ingest.analysis import IndexOptions

# Keys that name a field of a field: `speech_weight` is channel_weights["speech"].
ALIASES = {
    "index": {"asr_backend": ("asr", "backend"), "asr_model": ("asr", "model"), "language": ("asr", "language")},
    "search": {f"{channel}_weight": ("channel_weights", channel) for channel in Channel if channel != Channel.LEXICAL},
}


@dataclass(frozen=True)
class Config:
    path: Path
    device: str = "auto"
    index: dict | None = None
    search: dict | None = None

    def index_options(self, **overrides) -> IndexOptions:
        """Options from the file, then the non-empty overrides (the command line's flags, by
        field name or alias)."""
        from vmr.ingest.analysis import IndexOptions  # (not at the top: a search needs none of it)

        table = dict(self.index or {})
        for key, value in overrides.items():
            if value is not None:
                _set(table, "index", key, value)
        table.setdefault("asr", {}).setdefault("device", self.device)
        return _options(IndexOptions, table, self.path, "index")

    def search_options(self) -> SearchOptions:
        return _options(SearchOptions, dict(self.search or {}), self.path, "search")


def _set(table: dict, section: str, key: str, value: object) -> None:
    """table[key] = value, where an alias key names a field of a nested table."""
    if key in ALIASES[section]:
        outer, inner = ALIASES[section][key]
        table[outer] = {**table.get(outer, {}), inner: value}
    else:
        table[key] = value


def _options(cls: type, table: dict, path: Path, section: str) -> object:
    """An instance of the options dataclass `cls` with the table's values over its defaults:
    nested tables fill nested dataclasses and dicts; every key must be a field."""
    fields = {f.name for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    default = cls()
    values = {}
    for key, value in table.items():
        if key not in fields:
            known = sorted(fields | set(ALIASES.get(section, {})))
            raise VmrError(f"{path}: unknown [{section}] setting {key!r} (known: {', '.join(known)})")
        current = getattr(default, key)
        if (dataclasses.is_dataclass(current) or isinstance(current, dict)) and not isinstance(value, dict):
            raise VmrError(f"{path}: [{section}] {key} must be a table")
        if dataclasses.is_dataclass(current):
            value = _options(type(current), value, path, f"{section}.{key}")
        elif isinstance(current, dict):
            value = {**current, **value}
        else:
            value = _typed(value, hints[key], f"{path}: [{section}] {key}")
        values[key] = value
    try:
        return replace(default, **values)
    except (TypeError, ValueError) as exc:
        raise VmrError(f"{path}: [{section}] {exc}") from exc


def _typed(value: object, hint: object, where: str) -> object:
    """The value as the field's type asks (a TOML array for a tuple, an int for a float)."""
    kinds = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if value is None and type(None) in kinds:
        return value
    for kind in kinds:
        origin = typing.get_origin(kind) or kind
        if origin is tuple and isinstance(value, list):
            item = typing.get_args(kind)[0] if typing.get_args(kind) else object
            return tuple(_typed(v, item, where) for v in value)
        if origin is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(origin, type) and isinstance(value, origin):
            return value
    raise VmrError(f"{where}: {value!r} is not a {getattr(hint, '__name__', hint)}")


def load_config(home: Path, device: str | None = None) -> Config:
    path = home / "config.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        data = {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise VmrError(f"{path}: {exc}") from exc
    sections = {}
    for section in ("index", "search"):
        sections[section] = {}
        for key, value in data.get(section, {}).items():
            _set(sections[section], section, key, value)
    config = Config(path, device=device or data.get("device", "auto"), **sections)
    # Every setting checked now, in one line if wrong (index settings only where there are
    # some, or a device: checking them imports the indexing modules, which a search does not need).
    if config.index or config.device != "auto":
        config.index_options()
    config.search_options()
    return config
