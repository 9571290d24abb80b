"""CTranslate2 Whisper -> openai-whisper: the packaged weights (CTranslate2, for faster-whisper)
read directly from CTranslate2's ``model.bin`` format and written as an openai-whisper
checkpoint (``.pt``), so that both backends run offline on the same weights.

Nothing here imports torch or whisper at module import time.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vmr.errors import ModelError
from vmr.models.weights import OFFICIAL_WHISPER_MODELS, _atomic_write

if TYPE_CHECKING:  # pragma: no cover
    import whisper.model


# DataType enum of include/ctranslate2/types.h, as written by specs/model_spec.py
_CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16, 5: "bfloat16"}


def read_ct2_model(path: str | Path) -> tuple[str, int, dict[str, np.ndarray]]:
    """Parse a CTranslate2 ``model.bin``: (spec name, spec revision, variables).

    Layout (binary version 6, little endian): u32 version, str spec name, u32 revision,
    u32 n; n x (str name, u8 rank, rank x u32 dim, u8 dtype, u32 nbytes, bytes);
    u32 n_aliases; n_aliases x (str alias, str target).  A str is u16 length
    (including the trailing NUL) + utf-8 bytes + NUL.  Aliases are resolved.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "model.bin"
    with open(path, "rb") as f:
        data = f.read()
    pos = 0

    def take(fmt: str):
        nonlocal pos
        value = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return value[0] if len(value) == 1 else value

    def string() -> str:
        nonlocal pos
        n = take("H")
        s = data[pos:pos + n - 1].decode("utf-8")
        pos += n
        return s

    try:
        version = take("I")
        if version != 6:
            raise ModelError(f"{path}: unsupported CTranslate2 model format version {version}")
        spec = string()
        revision = take("I")
        variables: dict[str, np.ndarray] = {}
        for _ in range(take("I")):
            name = string()
            rank = take("B")
            shape = tuple(take("I") for _ in range(rank))
            dtype_id = take("B")
            nbytes = take("I")
            raw = np.frombuffer(data, dtype=np.uint8, count=nbytes, offset=pos)
            pos += nbytes
            dt = _CT2_DTYPES.get(dtype_id)
            if dt is None:
                raise ModelError(f"{path}: unknown dtype id {dtype_id} for {name}")
            if dt == "bfloat16":
                arr = (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
            else:
                arr = raw.view(dt)
            variables[name] = arr.reshape(shape)
        for _ in range(take("I")):
            alias, target = string(), string()
            variables[alias] = variables[target]
    except (struct.error, ValueError, UnicodeDecodeError, KeyError) as exc:
        raise ModelError(f"{path}: not a valid CTranslate2 model ({exc})") from exc
    if pos != len(data):
        raise ModelError(f"{path}: {len(data) - pos} trailing bytes after the CTranslate2 model")
    return spec, revision, variables


def _ct2_float(variables: dict[str, np.ndarray], name: str) -> np.ndarray:
    """A weight as floating point, dequantizing int8/int16 CTranslate2 weights."""
    value = variables[name]
    if value.ndim >= 2 and value.dtype in (np.int8, np.int16):
        scale = variables.get(name + "_scale")
        if scale is None:
            raise ModelError(f"quantized CTranslate2 weight {name} has no scale")
        scale = np.asarray(scale, dtype=np.float32)
        shape = value.shape
        flat = value.reshape(shape[0], -1).astype(np.float32)
        flat = flat / (scale.reshape(-1, 1) if scale.ndim else scale)
        return flat.reshape(shape)
    return value


def ct2_to_openai_state_dict(
    variables: dict[str, np.ndarray], alignment_heads: list[list[int]] | None = None
) -> tuple[dict[str, int], dict[str, np.ndarray], list[list[int]]]:
    """Map CTranslate2 WhisperSpec variables one to one onto openai-whisper's names.

    Returns (ModelDimensions fields, state dict of numpy arrays, alignment heads).
    Raises ModelError if any CT2 variable is left unmapped or does not fit.
    """
    used: set[str] = set()
    sd: dict[str, np.ndarray] = {}

    def get(name: str) -> np.ndarray:
        if name not in variables:
            raise ModelError(f"CTranslate2 Whisper model lacks {name}")
        used.add(name)
        if name + "_scale" in variables:
            used.add(name + "_scale")
        return _ct2_float(variables, name)

    def scalar(name: str) -> int:
        if name not in variables:
            raise ModelError(f"CTranslate2 Whisper model lacks {name}")
        used.add(name)
        return int(np.asarray(variables[name]).reshape(-1)[0])

    def zero(name: str, value: np.ndarray) -> None:
        if np.any(value != 0):
            raise ModelError(f"CTranslate2 Whisper model: {name} should be zero")

    def linear(ct2: str, ours: str, bias: bool = True) -> None:
        sd[f"{ours}.weight"] = get(f"{ct2}/weight")
        if bias:
            sd[f"{ours}.bias"] = get(f"{ct2}/bias")
        elif f"{ct2}/bias" in variables:
            zero(f"{ct2}/bias", get(f"{ct2}/bias"))

    def norm(ct2: str, ours: str) -> None:
        sd[f"{ours}.weight"] = get(f"{ct2}/gamma")
        sd[f"{ours}.bias"] = get(f"{ct2}/beta")

    def fused(ct2: str, ours: list[str], biased: list[bool]) -> None:
        w = get(f"{ct2}/weight")
        b = get(f"{ct2}/bias") if f"{ct2}/bias" in variables else None
        n = len(ours)
        if w.shape[0] % n:
            raise ModelError(f"CTranslate2 Whisper model: {ct2} cannot be split in {n}")
        ws = np.split(w, n, axis=0)
        bs = np.split(b, n) if b is not None else [None] * n
        for name, wi, bi, has_bias in zip(ours, ws, bs, biased):
            sd[f"{name}.weight"] = wi
            if has_bias:
                if bi is None:
                    raise ModelError(f"CTranslate2 Whisper model: {ct2} has no bias")
                sd[f"{name}.bias"] = bi
            elif bi is not None:
                zero(f"{ct2}/bias ({name})", bi)

    def attention(ct2: str, ours: str, cross: bool) -> None:
        q, k, v = f"{ours}.query", f"{ours}.key", f"{ours}.value"
        if cross:  # linear_0 = query, linear_1 = fused key/value, linear_2 = out
            linear(f"{ct2}/linear_0", q)
            fused(f"{ct2}/linear_1", [k, v], [False, True])
            linear(f"{ct2}/linear_2", f"{ours}.out")
        else:  # linear_0 = fused query/key/value, linear_1 = out
            fused(f"{ct2}/linear_0", [q, k, v], [True, False, True])
            linear(f"{ct2}/linear_1", f"{ours}.out")

    def block(ct2: str, ours: str, cross: bool) -> None:
        attention(f"{ct2}/self_attention", f"{ours}.attn", cross=False)
        norm(f"{ct2}/self_attention/layer_norm", f"{ours}.attn_ln")
        if cross:
            attention(f"{ct2}/attention", f"{ours}.cross_attn", cross=True)
            norm(f"{ct2}/attention/layer_norm", f"{ours}.cross_attn_ln")
        linear(f"{ct2}/ffn/linear_0", f"{ours}.mlp.0")
        linear(f"{ct2}/ffn/linear_1", f"{ours}.mlp.2")
        norm(f"{ct2}/ffn/layer_norm", f"{ours}.mlp_ln")

    def n_layers(prefix: str) -> int:
        n = 0
        while any(k.startswith(f"{prefix}/layer_{n}/") for k in variables):
            n += 1
        return n

    n_audio_layer, n_text_layer = n_layers("encoder"), n_layers("decoder")
    if not n_audio_layer or not n_text_layer:
        raise ModelError("not a CTranslate2 Whisper model (no encoder/decoder layers)")

    # encoder
    linear("encoder/conv1", "encoder.conv1")
    linear("encoder/conv2", "encoder.conv2")
    sd["encoder.positional_embedding"] = get("encoder/position_encodings/encodings")
    for i in range(n_audio_layer):
        block(f"encoder/layer_{i}", f"encoder.blocks.{i}", cross=False)
    norm("encoder/layer_norm", "encoder.ln_post")
    n_audio_head = scalar("encoder/num_heads")

    # decoder
    sd["decoder.token_embedding.weight"] = get("decoder/embeddings/weight")
    sd["decoder.positional_embedding"] = get("decoder/position_encodings/encodings")
    for i in range(n_text_layer):
        block(f"decoder/layer_{i}", f"decoder.blocks.{i}", cross=True)
    norm("decoder/layer_norm", "decoder.ln")
    n_text_head = scalar("decoder/num_heads")
    # openai-whisper ties the output projection to the token embedding
    proj = get("decoder/projection/weight")
    if proj is not variables["decoder/embeddings/weight"] and not np.array_equal(
        proj, sd["decoder.token_embedding.weight"]
    ):
        raise ModelError("CTranslate2 Whisper model: projection is not tied to the embedding")
    if "decoder/projection/bias" in variables:
        zero("decoder/projection/bias", get("decoder/projection/bias"))

    # structural flags: check they describe the Whisper architecture, then mark them used
    expect = {
        "decoder/pre_norm": 1,
        "decoder/scale_embeddings": 0,
        "decoder/start_from_zero_embedding": 0,
        "decoder/alibi": 0,
        "decoder/activation": 3,  # common_spec.Activation.GELU
    }
    for name, want in expect.items():
        if name in variables and scalar(name) != want:
            raise ModelError(f"CTranslate2 Whisper model: unexpected {name}={scalar(name)}")
    for name in ("decoder/alignment_heads", "decoder/alignment_layer"):  # CT2 runtime knobs
        if name in variables:
            used.add(name)
    # ALiBi's own settings, which newer converters (ctranslate2 4.8) write for every model:
    # inert while ALiBi is off, as checked above.
    for name in ("decoder/alibi_use_positive_positions", "decoder/scale_alibi"):
        if name in variables:
            used.add(name)

    left = sorted(set(variables) - used)
    if left:
        raise ModelError(f"CTranslate2 Whisper model: unmapped variables {', '.join(left[:5])}")

    conv1 = sd["encoder.conv1.weight"]
    enc_pos = sd["encoder.positional_embedding"]
    emb = sd["decoder.token_embedding.weight"]
    dec_pos = sd["decoder.positional_embedding"]
    dims = {
        "n_mels": int(conv1.shape[1]),
        "n_audio_ctx": int(enc_pos.shape[0]),
        "n_audio_state": int(enc_pos.shape[1]),
        "n_audio_head": n_audio_head,
        "n_audio_layer": n_audio_layer,
        "n_vocab": int(emb.shape[0]),
        "n_text_ctx": int(dec_pos.shape[0]),
        "n_text_state": int(dec_pos.shape[1]),
        "n_text_head": n_text_head,
        "n_text_layer": n_text_layer,
    }
    if alignment_heads:
        heads = [[int(layer), int(head)] for layer, head in alignment_heads]
    else:  # openai-whisper's own default: every head of the last half of the layers
        heads = [[layer, head] for layer in range(n_text_layer // 2, n_text_layer)
                 for head in range(n_text_head)]
    for layer, head in heads:
        if not (0 <= layer < n_text_layer and 0 <= head < n_text_head):
            raise ModelError(f"alignment head ({layer}, {head}) outside the model")
    return dims, sd, heads


def convert_ct2_to_openai(ct2_dir: str | Path, out_path: str | Path, *,
                          dtype: str = "float32") -> Path:
    """Convert a CTranslate2 Whisper directory into an openai-whisper ``.pt`` checkpoint.

    The checkpoint has openai-whisper's layout (``dims``, ``model_state_dict``) so that
    ``whisper.load_model(path)`` also reads it, plus ``alignment_heads`` from the CT2
    config (needed for word timestamps; load it with :func:`load_openai_whisper`).
    """
    import torch

    ct2_dir, out_path = Path(ct2_dir), Path(out_path)
    spec, _revision, variables = read_ct2_model(ct2_dir / "model.bin")
    if spec != "WhisperSpec":
        raise ModelError(f"{ct2_dir}: a {spec} model, not Whisper")
    try:
        config = json.loads((ct2_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{ct2_dir / 'config.json'}: unreadable ({exc})") from exc
    dims, sd, heads = ct2_to_openai_state_dict(variables, config.get("alignment_heads"))
    tdtype = {"float32": torch.float32, "float16": torch.float16}[dtype]
    checkpoint = {
        "dims": dims,
        "model_state_dict": {
            # a copy: a float32 model's tensors are read-only views of its memory-mapped file
            k: torch.from_numpy(np.array(v, dtype=np.float32)).to(tdtype)
            for k, v in sd.items()
        },
        "alignment_heads": heads,
        "source": {"format": "ctranslate2", "path": str(ct2_dir)},
    }
    _atomic_write(out_path, lambda name: torch.save(checkpoint, name))
    return out_path


def load_openai_whisper(ref: str, device: str = "cpu") -> "whisper.model.Whisper":
    """Load an openai-whisper model from :func:`resolve_whisper`'s result."""
    import torch
    import whisper
    from whisper.model import ModelDimensions, Whisper

    if ref in OFFICIAL_WHISPER_MODELS and not Path(ref).exists():
        try:
            return whisper.load_model(ref, device=device)  # downloads (online only)
        except Exception as exc:  # noqa: BLE001 - network, disk, ...: one line for the user
            raise ModelError(f"cannot load Whisper {ref!r} via openai-whisper: {exc}") from exc
    try:
        checkpoint = torch.load(ref, map_location="cpu", weights_only=True)
        dims = ModelDimensions(**checkpoint["dims"])
        model = Whisper(dims)
        model.load_state_dict(checkpoint["model_state_dict"], strict=True)
    except (OSError, RuntimeError, KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{ref}: not a loadable openai-whisper checkpoint ({exc})") from exc
    heads = checkpoint.get("alignment_heads")
    if heads:
        mask = torch.zeros(dims.n_text_layer, dims.n_text_head, dtype=torch.bool)
        for layer, head in heads:
            mask[layer, head] = True
        model.register_buffer("alignment_heads", mask.to_sparse(), persistent=False)
    return model.to(device).eval()
