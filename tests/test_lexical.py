"""The lexical channel: normalisation, phrases and BM25 against a hand computation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vmr.language import tokens, word_tokens
from vmr.search.lexical import B, FIELDS, K1, Document, LexicalIndex, parse_query

SPEECH, SLIDES = FIELDS.index("speech"), FIELDS.index("slides")


@pytest.mark.parametrize(("a", "b"), [
    ("the eleventh century", "the 11th century"),
    ("the eleventh century", "the 11 century"),
    ("three laws of motion", "3 laws of motion"),
    ("a twenty six year old clerk", "a 26 year old clerk"),
    ("in the early sixteen hundreds", "in the early 1600s"),
    ("one hundred and five", "105"),
    ("the twenty-first century", "the 21st century"),
    ("Newton's laws", "newton laws"),
    ("memorizing the training set", "memorizes the training sets"),
    ("F = G · m₁ · m₂ / r²", "f g m1 m2 r2"),
    ("1,000 rows", "1000 rows"),
])
def test_same_tokens(a, b):
    assert tokens(a) == tokens(b)


@pytest.mark.parametrize(("a", "b"), [
    ("one two three", "123"),  # counting is not one number
    ("30.5 kJ", "305 kJ"),
    ("first law", "second law"),
])
def test_different_tokens(a, b):
    assert tokens(a) != tokens(b)


def test_query_phrases_and_text():
    query = parse_query('where is "the eleventh century" said')
    assert query.text == "where is the eleventh century said"
    english = query.analysed("en")
    assert english.phrases == [tokens("the 11th century")]
    assert tokens("eleventh")[0] in english.terms and len(english.terms) == len(set(english.terms))


def _doc(field: int, first_row: int, stop_row: int, text: str) -> Document:
    """A document of one video with 2-s clips, over clips [first_row, stop_row)."""
    return Document(2.0 * first_row, 2.0 * stop_row, field=field, video=0, first_row=first_row, stop_row=stop_row,
                    text=text)


def _index(texts: list[str], field: int = SPEECH) -> LexicalIndex:
    """One video whose clip i holds document i."""
    return LexicalIndex.build([_doc(field, i, i + 1, t) for i, t in enumerate(texts)], videos=1)


def test_bm25_matches_a_hand_computation():
    docs = ["gradient descent updates the weights",
            "the learning rate sets the step size of gradient descent descent",
            "overfitting memorizes noise"]
    index = _index(docs)
    scores = index.clip_scores(parse_query("descent noise"), 3)[SPEECH]
    lengths = [len(d.split()) for d in docs]
    avg = sum(lengths) / 3

    def idf(df: int) -> float:
        return math.log(1 + (3 - df + 0.5) / (df + 0.5))

    def term(tf: int, length: int, df: int) -> float:
        return idf(df) * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / avg))

    norm = idf(2) + idf(1)
    expected = [term(1, lengths[0], 2) / norm, term(2, lengths[1], 2) / norm, term(1, lengths[2], 1) / norm]
    np.testing.assert_allclose(scores, expected, rtol=1e-5)
    assert list(np.argsort(-scores)) == [2, 1, 0]  # the rare word outweighs a repeated common one


def test_documents_spread_over_their_clips_and_fields_stay_apart():
    index = LexicalIndex.build([
        _doc(SPEECH, 0, 3, "the chain rule of calculus"),
        _doc(SLIDES, 2, 6, "Chain rule, from the output layer backwards"),
        _doc(SPEECH, 5, 6, "thanks for watching"),
    ], videos=1)
    scores = index.clip_scores(parse_query("chain rule"), 7)
    assert (scores[SPEECH, :3] > 0).all() and (scores[SPEECH, 3:] == 0).all()
    assert (scores[SLIDES, 2:6] > 0).all() and scores[SLIDES, [0, 1, 6]].tolist() == [0, 0, 0]


def test_quoted_phrase_keeps_only_documents_with_the_sequence():
    index = _index(["the validation error starts rising",
                    "rising error on the validation set",
                    "in the 11th century a scholar argued"])
    loose = index.clip_scores(parse_query("validation error rising"), 3)[SPEECH]
    assert (loose[:2] > 0).all()
    exact = index.clip_scores(parse_query('"validation error starts rising"'), 3)[SPEECH]
    assert exact[0] > 0 and exact[1] == 0 and exact[2] == 0
    assert index.clip_scores(parse_query('"the eleventh century"'), 3)[SPEECH].tolist()[2] > 0
    assert not index.clip_scores(parse_query('"error validation"'), 3).any()


def test_empty_index_and_unknown_words_score_nothing():
    empty = LexicalIndex.build([], videos=0)
    assert not empty.clip_scores(parse_query("anything"), 4).any()
    assert not _index(["gradient descent"]).clip_scores(parse_query("zebra"), 1).any()


def test_two_words_run_together_by_ocr_count_as_both():
    index = LexicalIndex.build([_doc(SLIDES, 0, 1, "Light reactions thylakoidmembrane"),
                                _doc(SLIDES, 1, 2, "membrane proteins")], videos=1)
    scores = index.clip_scores(parse_query("thylakoid membrane"), 2)[SLIDES]
    assert scores[0] > scores[1] > 0
    assert scores[0] == pytest.approx(1.0, abs=0.2)  # as if both words were there, once


def test_the_run_closest_to_a_phrase_is_found_within_its_edits():
    from vmr.search.lexical import matched_run

    said = tokens("One of them showed that light is the same for every observer, so moving clock tick "
                  "more slowly, another explained that light comes in packets")
    start, stop = matched_run(tokens("a moving clock ticks more slowly"), said)  # "a" was not said
    assert said[start:stop] == tokens("moving clock tick more slowly")
    start, stop = matched_run(tokens("light comes in packets"), said)  # the second "light"
    assert said[start:stop] == tokens("light comes in packets") and start > said.index("light")


def test_tokens_keep_the_word_they_start_in():
    said = ["In", "the", "eleventh", "century,", "twenty", "six", "of", "one", "hundred", "and", "five"]
    found, sources = word_tokens(said)
    assert found == tokens(" ".join(said)) == tokens("in the 11th century 26 of 105")
    assert sources == [0, 1, 2, 3, 4, 6, 7]  # "twenty six" starts at word 4, "one hundred and five" at 7


def test_a_part_of_the_index_scores_its_documents_as_the_whole_does():
    """Two videos; the part holding the second keeps the whole index's statistics."""
    texts = ["gradient descent", "the chain rule", "descent again", "chain of stores", "rule of law"]
    videos = [0, 0, 1, 1, 1]
    docs = [Document(2.0 * i, 2.0 * i + 2, field=SPEECH, video=v, first_row=i, stop_row=i + 1, text=t,
                     words=tuple(t.split()), first_word=3 * i) for i, (t, v) in enumerate(zip(texts, videos))]
    whole = LexicalIndex.build(docs, videos=2)
    part = whole.part(1, 2, first_row=2, first_word=6)
    query = parse_query("chain rule descent")
    np.testing.assert_array_equal(part.clip_scores(query, 3), whole.clip_scores(query, 5)[:, 2:])
    assert part.phrase_documents([tokens("chain of")]).tolist() == [1]
    assert [part.doc_text[d] for d in range(3)] == texts[2:]
    assert part.token_word[part.token_offsets[1]:part.token_offsets[2]].tolist() == [3, 4, 5]


def test_a_word_common_in_one_language_is_common_there_whatever_the_other_languages_hold():
    """BM25's statistics per language: Italian "della", in every Italian sentence, weighs little
    against the word that matters, though no English sentence holds it."""
    english = [f"gradient descent lesson number {i}" for i in range(8)]
    italian = ["la storia della moka", "la nascita della macchina", "il sapore della tazza"]
    docs = [Document(2.0 * i, 2.0 * i + 2, field=SPEECH, video=0, first_row=i, stop_row=i + 1, text=t)
            for i, t in enumerate(english)]
    docs += [Document(2.0 * i, 2.0 * i + 2, field=SPEECH, video=1, first_row=8 + i, stop_row=9 + i, text=t)
             for i, t in enumerate(italian)]
    index = LexicalIndex.build(docs, videos=2, video_languages=["en", "it"])
    it = index.languages.index("it")
    common, rare = (index.vocab[tokens(w, "it")[0]] for w in ("della", "moka"))
    assert index.idf(common, it)[SPEECH] < index.idf(rare, it)[SPEECH] / 3
    scores = index.clip_scores(parse_query("della moka"), 11)[SPEECH]
    assert scores[8] > 2 * scores[9]  # the sentence with "moka", far above those with "della" alone
