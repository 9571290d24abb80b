"""Per-library settings in `HOME/config.toml`; command-line flags override them.

    device = "auto"              # auto | cpu | cuda, for every model

    [index]
    clip_seconds = 2.0
    asr_backend = "faster-whisper"   # or "openai-whisper"
    asr_model = "base"               # base, tiny.en (packaged), small, large-v3 (online), a path
    text_model = "all-MiniLM-L6-v2"  # a sentence-transformers name, hub id or local folder
    visual_model = "openai/clip-vit-base-patch32"  # CLIP/SigLIP hub id or folder; unset: no frames
    ocr = true                       # read slide text (the slides channel, slide words in BM25)

    [search]
    speech_weight = 1.0              # fusion weights of the channels; 0 turns one off
    slides_weight = 1.0
    lexical_weight = 0.25
    snap = true                      # moment edges on sentence / slide boundaries
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from vmr.ingest.asr import AsrOptions
from vmr.errors import VmrError
from vmr.ingest.analysis import IndexOptions
from vmr.search.options import SearchOptions

INDEX_KEYS = {"clip_seconds", "asr_backend", "asr_model", "text_model", "visual_model", "ocr"}
SEARCH_KEYS = {"speech_weight", "slides_weight", "lexical_weight", "length_bonus", "snap", "snap_seconds"}


@dataclass(frozen=True)
class Config:
    device: str = "auto"
    index: dict | None = None
    search: dict | None = None

    def index_options(self, **overrides) -> IndexOptions:
        """Options from the file, then the non-empty overrides (the command line's flags)."""
        values = {**(self.index or {}), **{k: v for k, v in overrides.items() if v is not None}}
        asr = AsrOptions(device=self.device)
        asr = replace(asr, **{field: values[key] for key, field in
                              (("asr_backend", "backend"), ("asr_model", "model")) if key in values})
        options = IndexOptions(asr=asr)
        return replace(options, **{k: values[k] for k in ("clip_seconds", "text_model", "visual_model", "ocr") if k in values})

    def search_options(self) -> SearchOptions:
        values = dict(self.search or {})
        options = SearchOptions()
        weights = {**options.channel_weights, **{channel: float(values.pop(f"{channel}_weight"))
                                                 for channel in ("speech", "slides") if f"{channel}_weight" in values}}
        return replace(options, channel_weights=weights, **values)


def load_config(home: Path, device: str | None = None) -> Config:
    path = home / "config.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        data = {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise VmrError(f"{path}: {exc}") from exc
    sections = {}
    for section, known in (("index", INDEX_KEYS), ("search", SEARCH_KEYS)):
        sections[section] = data.get(section, {})
        unknown = set(sections[section]) - known
        if unknown:
            raise VmrError(f"{path}: unknown [{section}] setting {sorted(unknown)[0]!r} "
                           f"(known: {', '.join(sorted(known))})")
    return Config(device=device or data.get("device", "auto"), **sections)
