"""The joint text space: the numpy MiniLM equals sentence-transformers on the packaged weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vmr.encode.text import NumpyBertEncoder, TorchSentenceEncoder, load_text_encoder
from vmr.models.weights import resolve_text_encoder

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


def test_cold_start_picks_numpy_and_batch_work_picks_torch(folder):
    assert isinstance(load_text_encoder("all-MiniLM-L6-v2", "cpu", cold_start=True), NumpyBertEncoder)
    assert isinstance(load_text_encoder("all-MiniLM-L6-v2", "cpu"), TorchSentenceEncoder)


def test_related_texts_are_closer_than_unrelated(folder):
    query, on_topic, off_topic = NumpyBertEncoder(folder).encode([
        "what is overfitting",
        "a model that memorises its training set fails on new data",
        "the recipe needs two eggs and a cup of flour",
    ])
    assert query @ on_topic > query @ off_topic + 0.2
