"""Lecture structure (vmr.ingest.structure): chapters cut where what is said shifts and where a
slide's heading changes, titles, passage and chapter vectors per clip; and the chapter formats."""

from __future__ import annotations

import numpy as np
import pytest

from vmr.app.subtitles import chapters_json, chapters_txt, chapters_vtt, chapters_youtube
from vmr.ingest import structure
from vmr.ingest.ocr import SlideSpan
from vmr.ingest.structure import Chapter, Sentence
from vmr.search.moments import CHAPTER, PASSAGE, SLIDES, SPEECH, choose_size
from vmr.search.options import SearchOptions
from vmr.timecode import TimeSpan

TOPICS = {
    "volcano": "magma rises through the crust and erupts as lava from the volcano",
    "printing": "the press printed books with movable type and ink on paper",
    "sleep": "during deep sleep the brain stores memories and the body rests",
}


def bag_encoder(texts: list[str]) -> np.ndarray:
    """A deterministic stand-in for a text encoder: words hashed into 64 dimensions."""
    out = np.zeros((len(texts), 64), dtype=np.float32)
    for i, text in enumerate(texts):
        for word in text.lower().replace(".", " ").split():
            out[i, sum(map(ord, word)) % 64] += 1
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norms, 1e-9)


def lecture(topics: list[str], sentences_each: int = 6, seconds: float = 6.0):
    """Timed words of sentences about each topic in turn, one word per 0.5 s."""
    words, t = [], 0.0
    for topic in topics:
        vocabulary = TOPICS[topic].split()
        for s in range(sentences_each):
            said = vocabulary[s % 3:] + vocabulary[: s % 3]
            step = seconds / len(said)
            for j, word in enumerate(said):
                text = word + ("." if j == len(said) - 1 else "")
                words.append((t + j * step, t + (j + 1) * step - 0.05, text))
            t += seconds + 0.4
    return words, t


def test_a_shift_in_what_is_said_starts_a_chapter():
    words, duration = lecture(["volcano", "printing", "sleep"])
    clips = [TimeSpan(t, min(t + 2, duration)) for t in np.arange(0, duration, 2.0)]
    found = structure.lecture_structure(words, [], clips, duration, bag_encoder)
    starts = [c.start for c in found.chapters]
    assert len(found.chapters) == 3, found.chapters
    assert starts[0] == 0.0 and found.chapters[-1].end == duration
    # each later chapter starts with the first sentence of its topic
    assert starts[1:] == [found.sentences[6].start, found.sentences[12].start]
    assert all(a.end == b.start for a, b in zip(found.chapters, found.chapters[1:]))
    # no slides: each title is a key phrase of what its chapter says
    for chapter, topic in zip(found.chapters, TOPICS):
        assert chapter.title.lower().split()[0] in TOPICS[topic], chapter.title
    # every clip with speech has a passage vector; every clip a chapter vector, shared within a chapter
    assert set(found.chapter_vectors) == set(range(len(clips)))
    assert len(found.passage_vectors) >= len(clips) - 3
    first, last = found.chapter_vectors[0], found.chapter_vectors[len(clips) - 1]
    assert np.allclose(found.chapter_vectors[1], first) and not np.allclose(first, last)


def test_no_chapter_is_shorter_than_the_minimum():
    words, duration = lecture(["volcano", "printing", "volcano", "printing"], sentences_each=2)
    clips = [TimeSpan(t, min(t + 2, duration)) for t in np.arange(0, duration, 2.0)]
    found = structure.lecture_structure(words, [], clips, duration, bag_encoder)
    spoken = [TimeSpan(c.start, c.end) for c in found.chapters]
    assert all(c.duration >= structure.MIN_CHAPTER_SECONDS for c in spoken[:-1]), spoken


def test_a_slide_heading_titles_its_chapter_and_a_build_up_is_no_change():
    slides = [SlideSpan(0, 20, "Volcanoes\nMagma", 0.9), SlideSpan(20, 40, "Volcanoes\nMagma\nLava", 0.9),
              SlideSpan(40, 80, "The Printing Press\nGutenberg", 0.9)]
    assert structure.slide_changes(slides) == [40]
    assert structure.heading(slides[2].text) == "The Printing Press"
    words, duration = lecture(["volcano", "printing"], sentences_each=6)
    clips = [TimeSpan(t, min(t + 2, duration)) for t in np.arange(0, duration, 2.0)]
    found = structure.lecture_structure(words, slides, clips, duration, bag_encoder)
    assert [c.title for c in found.chapters] == ["Volcanoes", "The Printing Press"]


@pytest.mark.parametrize("spoken", [True, False])
def test_known_chapters_give_the_index_runs_clip_vectors(spoken):
    """What `vmr check` makes again from the catalogue's chapters is what the index run made."""
    slides = [SlideSpan(0, 20, "Volcanoes\nMagma", 0.9), SlideSpan(20, 40, "", 0.0),
              SlideSpan(40, 80, "The Printing Press\nGutenberg", 0.9)]
    words, duration = lecture(["volcano", "printing", "sleep"]) if spoken else ([], 80.0)
    clips = [TimeSpan(t, min(t + 2, duration)) for t in np.arange(0, duration, 2.0)]
    found = structure.lecture_structure(words, slides, clips, duration, bag_encoder)
    assert len(found.chapters) == (3 if spoken else 1)
    stored = [Chapter(c.start, c.end, c.title) for c in found.chapters]
    passages, chapters = structure.known_chapter_vectors(words, slides, stored, clips, bag_encoder)
    for made, again in ((found.passage_vectors, passages), (found.chapter_vectors, chapters)):
        assert made.keys() == again.keys() and all(np.array_equal(made[i], again[i]) for i in made)
    assert len(found.passage_vectors) > len(clips) // 2 if spoken else not found.passage_vectors


def test_passages_encoded_before_the_chapters_are_known_are_the_same_bit_for_bit():
    """An index run encodes the passages as if no chapter cut them while the slides are still
    being read (the words alone say what they are); the structure then encodes only those a
    chapter's edge cuts. The vectors are the ones made in one go, and the ones `vmr check` makes
    again, to the bit, with an encoder whose results depend on the call they came in (as a
    real encoder's float noise depends on its batch)."""
    def encoder(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return bag_encoder(texts) + np.float32(1e-4 * len(texts))  # (the batch's size, in each vector)

    slides = [SlideSpan(0, 20, "Volcanoes\nMagma", 0.9), SlideSpan(40, 80, "The Printing Press\nGutenberg", 0.9)]
    words, duration = lecture(["volcano", "printing", "sleep"])
    clips = [TimeSpan(t, min(t + 2, duration)) for t in np.arange(0, duration, 2.0)]
    made = {}
    for way in ("ahead", "in one go", "again"):
        calls: list[list[str]] = []
        if way == "ahead":
            whole = structure.whole_passage_vectors(words, encoder)
            found = structure.lecture_structure(words, slides, clips, duration, encoder, whole=whole)
            assert len(found.chapters) == 3 and all(call != calls[0] for call in calls[1:])
            stored = [Chapter(c.start, c.end, c.title) for c in found.chapters]
            made[way] = found.passage_vectors, found.chapter_vectors
        elif way == "in one go":
            found = structure.lecture_structure(words, slides, clips, duration, encoder)
            assert found.chapters == stored
            made[way] = found.passage_vectors, found.chapter_vectors
        else:
            made[way] = structure.known_chapter_vectors(words, slides, stored, clips, encoder)
    for passages, chapters in made.values():
        for ours, theirs in ((passages, made["ahead"][0]), (chapters, made["ahead"][1])):
            assert ours.keys() == theirs.keys() and all(np.array_equal(ours[i], theirs[i]) for i in ours)


def test_sentences_already_encoded_are_not_encoded_again():
    """The index run hands over the speech channel's vectors by text: a sentence among them is
    not encoded again, and the structure is the one made without them."""
    words, duration = lecture(["volcano", "printing", "sleep"])
    clips = [TimeSpan(t, min(t + 2, duration)) for t in np.arange(0, duration, 2.0)]
    plain = structure.lecture_structure(words, [], clips, duration, bag_encoder)
    said = [s.text for s in plain.sentences]
    known = dict(zip(said[:6], bag_encoder(said[:6])))  # the first topic's
    asked: list[str] = []

    def encoder(texts: list[str]) -> np.ndarray:
        asked.extend(texts)
        return bag_encoder(texts)

    found = structure.lecture_structure(words, [], clips, duration, encoder, known)
    others = set(said) - set(known)  # the other topics' sentences
    assert others and others <= set(asked) and not set(asked) & set(known)
    assert found.chapters == plain.chapters
    for made, again in ((plain.passage_vectors, found.passage_vectors), (plain.chapter_vectors, found.chapter_vectors)):
        assert made.keys() == again.keys() and all(np.array_equal(made[i], again[i]) for i in made)


def test_a_line_on_most_slides_is_no_heading():
    slides = [SlideSpan(10.0 * i, 10.0 * i + 10, f"HIST 140 · History\nTopic {i}\nbullet", 0.9) for i in range(6)]
    assert [structure.heading(s.text, structure.common_lines(slides)) for s in slides[:2]] == ["Topic 0", "Topic 1"]
    assert structure.slide_changes(slides) == [10.0, 20.0, 30.0, 40.0, 50.0]


def test_long_texts_are_encoded_in_pieces_and_averaged():
    sentence = "word " * 50
    vectors = structure.encode_long(bag_encoder, [[sentence] * 5, ["short one"]])
    assert vectors.shape == (2, 64)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    calls = []
    structure.encode_long(lambda texts: calls.append(texts) or bag_encoder(texts), [[sentence] * 5])
    assert all(len(t.split()) <= structure.PIECE_WORDS for t in calls[0]) and len(calls[0]) > 1


def test_sentences_come_from_the_words():
    words = [(0.0, 0.4, "Hello"), (0.5, 0.9, "world."), (1.2, 1.5, "Again"), (1.6, 2.0, "here?")]
    assert structure.sentences_of(words) == [Sentence(0.0, 0.9, "Hello world."), Sentence(1.2, 2.0, "Again here?")]


def test_chapter_formats():
    chapters = [Chapter(0.0, 65.5, "Intro"), Chapter(65.5, 3700.25, "Gradient descent")]
    assert chapters_json(chapters) == [{"start": 0.0, "end": 65.5, "title": "Intro"},
                                       {"start": 65.5, "end": 3700.25, "title": "Gradient descent"}]
    assert chapters_txt(chapters).splitlines()[1] == "00:01:05.500 - 01:01:40.250  Gradient descent"
    assert chapters_vtt(chapters) == ("WEBVTT\n\n1\n00:00:00.000 --> 00:01:05.500\nIntro\n\n"
                                      "2\n00:01:05.500 --> 01:01:40.250\nGradient descent\n\n")
    assert chapters_youtube(chapters) == "0:00:00 Intro\n0:01:05 Gradient descent\n"
    assert chapters_youtube(chapters[:1]) == "00:00 Intro\n"


@pytest.mark.parametrize("evidence, units, size", [
    ({SPEECH: 0.3, SLIDES: 0.1, PASSAGE: 0.2, CHAPTER: 0.25}, {SLIDES: 1, PASSAGE: 2, CHAPTER: 3}, SPEECH),
    ({SPEECH: 0.3, SLIDES: 0.1, PASSAGE: 0.4, CHAPTER: 0.35}, {SLIDES: 1, PASSAGE: 2, CHAPTER: 3}, PASSAGE),
    ({SPEECH: 0.3, SLIDES: 0.1, PASSAGE: 0.4, CHAPTER: 0.5}, {SLIDES: 1, PASSAGE: 2, CHAPTER: 3}, CHAPTER),
    ({SPEECH: 0.3, SLIDES: 0.1, PASSAGE: 0.4, CHAPTER: 0.5}, {SLIDES: 1, PASSAGE: None, CHAPTER: None}, SPEECH),
    ({SPEECH: 0.3, SLIDES: 0.35, PASSAGE: 0.4, CHAPTER: 0.5}, {SLIDES: 1, PASSAGE: 2, CHAPTER: 3}, SLIDES),
])
def test_a_moment_takes_the_size_with_the_strongest_evidence(evidence, units, size):
    assert choose_size(evidence, units, {SLIDES: 0.0, PASSAGE: 0.0, CHAPTER: 0.0}) == size


def test_chapters_size_moments_unfused_only_where_the_text_model_has_a_margin():
    from vmr.search.options import CHAPTER_SIZE_MARGIN, chapter_size_margin

    e5 = CHAPTER_SIZE_MARGIN["multilingual-e5-small"]
    assert chapter_size_margin(SearchOptions(), "multilingual-e5-small") == e5
    assert chapter_size_margin(SearchOptions(), "intfloat/multilingual-e5-small") == e5  # any name it loads by
    assert chapter_size_margin(SearchOptions(), "all-MiniLM-L6-v2") is None
    assert chapter_size_margin(SearchOptions(), "someone/another-model") is None
    assert chapter_size_margin(SearchOptions(size_by_chapter=False), "multilingual-e5-small") is None
    fused = SearchOptions(channel_weights={**SearchOptions().channel_weights, CHAPTER: 1.0})
    assert chapter_size_margin(fused, "multilingual-e5-small") is None  # fused: options.size_margin sizes
