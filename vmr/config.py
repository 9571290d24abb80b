"""Per-library settings in `HOME/config.toml`; command-line flags override them.

    device = "auto"              # auto | cpu | cuda, for every model

    [index]
    clip_seconds = 2.0
    asr_backend = "faster-whisper"   # or "openai-whisper"
    asr_model = "base"               # base, tiny.en (packaged), small, large-v3 (online), a path
    text_model = "all-MiniLM-L6-v2"  # a sentence-transformers name, hub id or local folder
    visual_model = "openai/clip-vit-base-patch32"  # CLIP/SigLIP hub id or folder; unset: no frames
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from vmr.asr import AsrOptions
from vmr.errors import VmrError
from vmr.index import IndexOptions

INDEX_KEYS = {"clip_seconds", "asr_backend", "asr_model", "text_model", "visual_model"}


@dataclass(frozen=True)
class Config:
    device: str = "auto"
    index: dict | None = None

    def index_options(self, **overrides) -> IndexOptions:
        """Options from the file, then the non-empty overrides (the command line's flags)."""
        values = {**(self.index or {}), **{k: v for k, v in overrides.items() if v is not None}}
        asr = AsrOptions(device=self.device)
        asr = replace(asr, **{field: values[key] for key, field in
                              (("asr_backend", "backend"), ("asr_model", "model")) if key in values})
        options = IndexOptions(asr=asr)
        return replace(options, **{k: values[k] for k in ("clip_seconds", "text_model", "visual_model") if k in values})


def load_config(home: Path, device: str | None = None) -> Config:
    path = home / "config.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        data = {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise VmrError(f"{path}: {exc}") from exc
    index = data.get("index", {})
    unknown = set(index) - INDEX_KEYS
    if unknown:
        raise VmrError(f"{path}: unknown [index] setting {sorted(unknown)[0]!r} "
                       f"(known: {', '.join(sorted(INDEX_KEYS))})")
    return Config(device=device or data.get("device", "auto"), index=index)
