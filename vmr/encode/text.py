"""Text encoders into the joint space: transcripts, slide text and queries become unit vectors.

Two backends behind one small interface:
- `NumpyBertEncoder` runs a sentence-transformers BERT model (all-MiniLM-L6-v2, the offline
  default) with numpy alone, so neither `vmr index` nor a cold `vmr search` pays torch's
  import (seconds) and memory; it serves wherever the model runs on the CPU.
- `TorchSentenceEncoder` runs any sentence-transformers model through the library itself:
  other architectures, hub ids, and the GPU when there is one.
Both give the same vectors for the same model (tests compare them).
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import Protocol

import numpy as np

from vmr.models.devices import cuda_visible, torch_device
from vmr.errors import ModelError

DEFAULT_TEXT_MODEL = "all-MiniLM-L6-v2"


class TextEncoder(Protocol):
    name: str
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray:
        """float32 [len(texts), dim], each row L2-normalised: documents (what is said, shown)."""
        ...


def encode_queries(encoder: TextEncoder, texts: list[str]) -> np.ndarray:
    """Queries through the encoder's query side where it has one (E5's ``query: ``, a
    sentence-transformers model's query prompt), else as documents."""
    method = getattr(encoder, "encode_queries", None)
    return method(texts) if method is not None else encoder.encode(texts)


def load_text_encoder(name: str = DEFAULT_TEXT_MODEL, device: str = "cpu", cold_start: bool = False) -> TextEncoder:
    """The numpy port wherever it can run the model on the CPU (a BERT sentence-transformers
    folder: the default MiniLM), else sentence-transformers (other architectures, the GPU).
    On the CPU the numpy port encodes batches about as fast as sentence-transformers
    (bench/encoder_bench.py) and loads in a fraction of a second, where importing
    sentence-transformers and torch takes seconds and holds ~400 MB more, in every `vmr index`
    and every cold `vmr search`. `device="auto"` means the CPU unless a CUDA GPU is visible;
    `cold_start` (a few texts in a fresh process: a query) keeps to the CPU even then."""
    from vmr.encode.e5 import E5_ALIASES

    if name in E5_ALIASES:  # multilingual-e5-small, 4-bit, offline (vmr.encode.e5)
        from vmr.encode.e5 import E5Encoder

        return E5Encoder(name)
    from vmr.models.weights import resolve_text_encoder

    location = resolve_text_encoder(name)
    on_cpu = device == "cpu" or (device == "auto" and (cold_start or not cuda_visible()))
    if on_cpu and NumpyBertEncoder.supports(Path(location)):
        return NumpyBertEncoder(Path(location), name=name)
    return TorchSentenceEncoder(location, name=name, device=torch_device(device))


def _normalise_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def _erf(x: np.ndarray) -> np.ndarray:
    """Abramowitz & Stegun 7.1.26: absolute error below 1.5e-7, under float32's own rounding."""
    t = 1.0 / (1.0 + 0.3275911 * np.abs(x))
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return np.sign(x) * (1.0 - poly * np.exp(-x * x))


def _gelu(x: np.ndarray) -> np.ndarray:
    # BERT's exact (erf) GELU; numpy has no erf and scipy is a heavy import for one function.
    return 0.5 * x * (1.0 + _erf(x * np.float32(1 / math.sqrt(2.0))))


@functools.cache
def _blas_controller():  # noqa: ANN202 (a threadpoolctl.ThreadpoolController)
    """The BLAS libraries of this process, found once: threadpool_limits() looks for them on
    every call, which cost 16 ms of each query's encoding."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def on_one_core():  # noqa: ANN201 (a threadpoolctl limit, used as a context)
    """Within it, this thread's encoding runs on one core (numpy's BLAS, an engine's OpenMP):
    beside the frames' decoding and the OCR, each in a thread of its own, where a second thread
    would only compete for the cores. It applies to the libraries loaded when it is entered."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


_SAFETENSORS_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64,
                      "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}


def map_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a .safetensors file as read-only arrays mapped from it: nothing is read
    until it is used (a query reads a few rows of the 47 MB word-embedding table, not all of
    it), and a cold process pays no copy of the file."""
    with open(path, "rb") as f:
        size = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(size))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + size)
    tensors = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        if info["dtype"] not in _SAFETENSORS_DTYPES:
            raise ModelError(f"{path}: tensor {key} has dtype {info['dtype']}, which the numpy encoder cannot read")
        begin, end = info["data_offsets"]
        tensors[key] = data[begin:end].view(_SAFETENSORS_DTYPES[info["dtype"]]).reshape(info["shape"])
    return tensors


class NumpyBertEncoder:
    """A BERT sentence-transformers folder (mean pooling, normalised) evaluated in numpy."""

    BATCH = 32
    # At most this many word pieces per batch: a batch of 32 passages of 256 pieces held about
    # 0.3 GB of attention scores and GELU temporaries at once, the peak of indexing a long
    # lecture; 2,048 (32 sentences of 64) keeps a batch of any length under 0.1 GB.
    BATCH_PIECES = 2048
    # Up to this many texts (a query or a few) the matrices are a few rows, and BLAS runs on one
    # thread: handing them to a second one measured 20x slower (430 ms against 21 ms per query
    # on 2 cores). Batches (indexing) use every core.
    SMALL_BATCH = 8

    @staticmethod
    def supports(folder: Path) -> bool:
        try:
            config = json.loads((folder / "config.json").read_text())
            pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
        except (OSError, ValueError):
            return False
        return (
            config.get("model_type") == "bert"
            and config.get("hidden_act") == "gelu"
            and config.get("position_embedding_type", "absolute") == "absolute"
            and pooling.get("pooling_mode_mean_tokens") is True
            and (folder / "model.safetensors").exists()
            and (folder / "tokenizer.json").exists()
        )

    def __init__(self, folder: Path, name: str = DEFAULT_TEXT_MODEL):
        from tokenizers import Tokenizer

        self.name = name
        config = json.loads((folder / "config.json").read_text())
        st_config_path = folder / "sentence_bert_config.json"
        st_config = json.loads(st_config_path.read_text()) if st_config_path.exists() else {}
        max_len = int(st_config.get("max_seq_length", config["max_position_embeddings"]))
        self.dim = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config["layer_norm_eps"])
        weights = map_safetensors(folder / "model.safetensors")
        # Some exports prefix every tensor with the architecture name.
        self.w = {key.removeprefix("bert."): value for key, value in weights.items()}
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_len)
        self.tokenizer.no_padding()  # (tokenizer.json may pad to a fixed length) batches pad themselves
        self.pad_id = int(config.get("pad_token_id", 0))
        modules = folder / "modules.json"
        self.normalize = not modules.exists() or any(
            module.get("type", "").endswith("Normalize") for module in json.loads(modules.read_text())
        )

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        encodings = self.tokenizer.encode_batch(texts)
        # Similar lengths together: padding costs as much as real tokens.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        with _blas_controller().limit(limits=1 if len(texts) <= self.SMALL_BATCH else None, user_api="blas"):
            begin = 0
            while begin < len(order):
                end = begin + 1  # (sorted: the batch's last text is its longest)
                while end < min(len(order), begin + self.BATCH) and \
                        (end + 1 - begin) * len(encodings[order[end]].ids) <= self.BATCH_PIECES:
                    end += 1
                batch = order[begin:end]
                out[batch] = self._encode_batch([encodings[i] for i in batch])
                begin = end
        return _normalise_rows(out) if self.normalize else out

    def _dense(self, x: np.ndarray, prefix: str) -> np.ndarray:
        # One 2-D GEMM: numpy's broadcasting matmul over 3-D inputs loops in slow paths.
        flat = x.reshape(-1, x.shape[-1]) @ self.w[f"{prefix}.weight"].T + self.w[f"{prefix}.bias"]
        return flat.reshape(*x.shape[:-1], -1)

    def _encode_batch(self, encodings: list) -> np.ndarray:  # (tokenizers.Encoding)
        w = self.w
        batch, length = len(encodings), max(len(e.ids) for e in encodings)
        ids = np.full((batch, length), self.pad_id, dtype=np.int64)
        mask = np.zeros((batch, length), dtype=np.float32)
        types = np.zeros((batch, length), dtype=np.int64)
        for row, e in enumerate(encodings):
            ids[row, :len(e.ids)], mask[row, :len(e.ids)], types[row, :len(e.ids)] = e.ids, 1.0, e.type_ids
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][np.arange(length)][None]
            + w["embeddings.token_type_embeddings.weight"][types]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        head_dim = self.dim // self.heads
        bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]
        for layer in range(self.layers):
            p = f"encoder.layer.{layer}"

            def split(t: np.ndarray) -> np.ndarray:
                return t.reshape(batch, length, self.heads, head_dim).transpose(0, 2, 1, 3)

            q = split(self._dense(x, f"{p}.attention.self.query"))
            k = split(self._dense(x, f"{p}.attention.self.key"))
            v = split(self._dense(x, f"{p}.attention.self.value"))
            # (the softmax in place: the scores are the batch's largest array)
            scores = q @ k.transpose(0, 1, 3, 2)
            scores /= math.sqrt(head_dim)
            scores += bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, self.dim)
            attended = self._dense(context, f"{p}.attention.output.dense") + x
            x = _layer_norm(attended, w[f"{p}.attention.output.LayerNorm.weight"],
                            w[f"{p}.attention.output.LayerNorm.bias"], self.eps)
            hidden = _gelu(self._dense(x, f"{p}.intermediate.dense"))
            x = _layer_norm(self._dense(hidden, f"{p}.output.dense") + x,
                            w[f"{p}.output.LayerNorm.weight"], w[f"{p}.output.LayerNorm.bias"], self.eps)
        summed = (x * mask[:, :, None]).sum(axis=1)
        return summed / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)


class TorchSentenceEncoder:
    """Any sentence-transformers model: a local folder or a hub id (online), CPU or GPU."""

    def __init__(self, location: str, name: str, device: str = "cpu"):
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # "Loading weights" bars would break --json runs' stderr
            self.model = SentenceTransformer(location, device=device)
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot load text encoder {name!r}: {exc}".splitlines()[0]) from exc
        self.name = name
        self.dim = int(self.model.get_embedding_dimension())

    def encode(self, texts: list[str]) -> np.ndarray:
        """Documents, with the model's document prompt where it has one ("passage: " for E5)."""
        encode = getattr(self.model, "encode_document", self.model.encode)
        vectors = encode(texts, batch_size=64, convert_to_numpy=True, show_progress_bar=False)
        return _normalise_rows(np.asarray(vectors, dtype=np.float32))

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Queries, with the model's query prompt where it has one ("query: " for E5)."""
        encode = getattr(self.model, "encode_query", self.model.encode)
        vectors = encode(texts, batch_size=64, convert_to_numpy=True, show_progress_bar=False)
        return _normalise_rows(np.asarray(vectors, dtype=np.float32))
