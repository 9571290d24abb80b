"""The joint text space: the numpy MiniLM equals sentence-transformers on the packaged weights."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vmr.encode.text import NumpyBertEncoder, TorchSentenceEncoder, load_text_encoder, map_safetensors
from vmr.models.weights import resolve_text_encoder

ROOT = Path(__file__).resolve().parent.parent
TEXTS = [
    "how does gradient descent update the weights",
    "Overfitting means the model memorises the training data instead of learning patterns.",
    "x",
    "The chain rule of calculus lets backpropagation compute every gradient in one backward pass, "
    "layer by layer, from the loss down to the first weights of the network.",
]


@pytest.fixture(scope="module")
def folder() -> Path:
    return Path(resolve_text_encoder("all-MiniLM-L6-v2"))


def test_numpy_backend_matches_sentence_transformers(folder):
    fast = NumpyBertEncoder(folder).encode(TEXTS)
    reference = TorchSentenceEncoder(str(folder), name="all-MiniLM-L6-v2").encode(TEXTS)
    assert fast.shape == reference.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    assert np.min(np.sum(fast * reference, axis=1)) > 0.99999
    assert np.abs(fast - reference).max() < 1e-4


def test_the_cpu_gets_the_numpy_port_for_queries_and_batches_alike(folder):
    assert isinstance(load_text_encoder("all-MiniLM-L6-v2", "cpu", cold_start=True), NumpyBertEncoder)
    assert isinstance(load_text_encoder("all-MiniLM-L6-v2", "cpu"), NumpyBertEncoder)


def test_a_batch_on_every_core_matches_sentence_transformers_and_texts_one_by_one(folder):
    texts = [f"{text} ({i})" for i in range(3) for text in TEXTS] * 2  # past SMALL_BATCH: BLAS on all cores
    encoder = NumpyBertEncoder(folder)
    assert len(texts) > encoder.SMALL_BATCH
    batch = encoder.encode(texts)
    alone = np.concatenate([encoder.encode([text]) for text in texts])
    reference = TorchSentenceEncoder(str(folder), name="all-MiniLM-L6-v2").encode(texts)
    assert np.abs(batch - alone).max() < 1e-5
    assert np.abs(batch - reference).max() < 1e-4


def test_long_texts_go_in_smaller_batches_with_the_same_vectors(folder, monkeypatch):
    """A batch holds at most BATCH_PIECES word pieces (long passages made 0.3 GB batches):
    texts of 256 pieces go a few at a time, short ones 32 at a time, and every vector is the
    one the text gets alone."""
    encoder = NumpyBertEncoder(folder)
    long_text = " ".join(TEXTS * 12)  # truncated at the model's 256 pieces
    texts = [long_text + f" ({i})" for i in range(10)] + [f"{TEXTS[0]} ({i})" for i in range(40)]
    sizes = []
    encode_batch = encoder._encode_batch
    monkeypatch.setattr(encoder, "_encode_batch", lambda batch: sizes.append(
        (len(batch), max(len(e.ids) for e in batch))) or encode_batch(batch))
    batched = encoder.encode(texts)
    assert all(count * pieces <= encoder.BATCH_PIECES and count <= encoder.BATCH for count, pieces in sizes)
    assert (encoder.BATCH_PIECES // 256, 256) in sizes and sizes[0][0] == encoder.BATCH  # short ones first
    assert sum(count for count, _ in sizes) == len(texts)
    alone = np.concatenate([encoder.encode([text]) for text in texts])
    assert np.abs(batched - alone).max() < 1e-5


def test_loading_the_encoder_for_indexing_imports_neither_torch_nor_sentence_transformers():
    code = ("import sys; from vmr.encode.text import load_text_encoder; "
            "e = load_text_encoder('all-MiniLM-L6-v2', 'auto'); e.encode(['a sentence', 'another one']); "
            "print(type(e).__name__, 'torch' in sys.modules, 'sentence_transformers' in sys.modules)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.split() == ["NumpyBertEncoder", "False", "False"]


def test_weights_are_mapped_from_the_file_not_copied(folder):
    weights = map_safetensors(folder / "model.safetensors")
    table = weights["embeddings.word_embeddings.weight"]
    assert table.shape == (30522, 384) and table.dtype == np.float32 and not table.flags.writeable
    while not isinstance(table, np.memmap):  # a view of the file's mapping, however deep
        table = table.base
        assert table is not None


def test_related_texts_are_closer_than_unrelated(folder):
    query, on_topic, off_topic = NumpyBertEncoder(folder).encode([
        "what is overfitting",
        "a model that memorises its training set fails on new data",
        "the recipe needs two eggs and a cup of flour",
    ])
    assert query @ on_topic > query @ off_topic + 0.2
