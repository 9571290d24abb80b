"""Lectures in other languages: tokens per language, BM25 per document language, the query read in
every language the library holds, and the language options."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vmr.errors import ModelError
from vmr.ingest.asr import AsrOptions
from vmr.language import analyser, tokens, word_tokens
from vmr.search import fusion
from vmr.search.lexical import FIELDS, Document, LexicalIndex, parse_query

SPEECH, SLIDES = FIELDS.index("speech"), FIELDS.index("slides")


@pytest.mark.parametrize(("language", "a", "b"), [
    ("es", "mensajes", "mensaje"),
    ("ru", "сообщения", "сообщение"),
    ("it", "bevande calde", "bevanda calda"),
    ("it", "Caffè Florian, 1.720", "caffe florian 1720"),  # accents folded, a dot groups thousands
    ("de", "Die Straße der Häuser", "die strasse der haus"),
    ("fr", "réactions chimiques", "réaction chimique"),
    ("zh", "机器 学习", "机器学习"),  # no spaces in Chinese: the same bigrams either way
])
def test_words_of_a_language_meet_their_forms(language, a, b):
    assert tokens(a, language) == tokens(b, language)


def test_each_language_stems_with_its_own_stemmer():
    assert tokens("running", "en") == ["run"] and tokens("running", "es") == ["running"]
    assert analyser("uk").stemmer is None and tokens("Повідомлення", "uk") == ["повідомлення"]  # no Snowball: kept
    assert analyser("pt-BR").stemmer == "portuguese" and analyser(None).language == "en"


def test_number_words_are_english_only():
    assert tokens("the eleventh century", "en") == tokens("the 11th century", "en")
    assert tokens("tre leggi", "it") != tokens("3 leggi", "it")
    assert tokens("1,000 rows", "en") == tokens("1000 rows", "en")
    assert tokens("1.000 righe", "it") == tokens("1000 righe", "it")


def test_scripts_without_spaces_become_bigrams_that_keep_their_words():
    assert tokens("深度学习", "zh") == ["深度", "度学", "学习"]
    assert tokens("GPU加速", "zh") == ["gpu", "加速"]
    assert tokens("学", "zh") == ["学"]
    said = ["机器", "学习", "是", "AI"]
    found, sources = word_tokens(said, "zh")
    assert found == tokens(" ".join(said), "zh") == tokens("机器学习是AI", "zh")
    assert sources == [0, 0, 1, 1, 3]  # "器学" starts in word 0, "学习" in word 1


def _video_docs(texts_by_video: list[list[str]]) -> list[Document]:
    docs, row = [], 0
    for video, texts in enumerate(texts_by_video):
        for text in texts:
            docs.append(Document(2.0 * row, 2.0 * row + 2, field=SPEECH, video=video, first_row=row,
                                 stop_row=row + 1, text=text, words=tuple(text.split()), first_word=10 * row))
            row += 1
    return docs


def test_a_query_finds_each_document_in_its_own_language():
    index = LexicalIndex.build(_video_docs([["el mensaje llega al servidor", "la red pierde paquetes"],
                                            ["сообщение приходит на сервер", "сеть теряет пакеты"],
                                            ["the messages reach the server"]]), 3, ["es", "ru", "en"])
    assert index.languages == ("en", "es", "ru") and index.language_of(1) == "ru"
    assert index.clip_scores(parse_query("mensajes"), 5)[SPEECH].tolist() == pytest.approx([1, 0, 0, 0, 0], abs=0.3)
    found = index.clip_scores(parse_query("сообщения"), 5)[SPEECH]
    assert found[2] > 0 and found[[0, 1, 3, 4]].tolist() == [0, 0, 0, 0]
    found = index.clip_scores(parse_query("message"), 5)[SPEECH]
    assert found[4] > 0 and found[:4].tolist() == [0, 0, 0, 0]
    # A phrase is matched in each document's language, and a part keeps the whole's scores.
    assert index.phrase_documents([tokens("la red pierde", "es")], language="es").tolist() == [1]
    assert index.phrase_documents([tokens("la red pierde", "es")], language="ru").tolist() == []
    part = index.part(1, 3, first_row=2, first_word=20)
    for text in ("сообщения сервер", "messages", '"сеть теряет"'):
        np.testing.assert_array_equal(part.clip_scores(parse_query(text), 3),
                                      index.clip_scores(parse_query(text), 5)[:, 2:])
    assert part.languages == index.languages and part.language_of(0) == "ru"


def test_a_quote_in_another_language_is_found_and_matched_there():
    from types import SimpleNamespace

    index = LexicalIndex.build(_video_docs([["la tostatura trasforma i chicchi verdi in chicchi scuri"],
                                            ["roasting turns the green beans brown"]]), 2, ["it", "en"])
    build = SimpleNamespace(lexical=index)
    query = parse_query("la tostatura trasforma i chicchi verdi")
    assert fusion.phrase_documents(build, query).tolist() == [0]
    assert fusion.said_phrase(query, "it") == tokens("la tostatura trasforma i chicchi verdi", "it")
    assert fusion.phrase_documents(build, parse_query('"green beans"')).tolist() == [1]


def test_language_options():
    assert AsrOptions().language is None  # detected per video
    assert AsrOptions(language="auto").language is None
    assert AsrOptions(language="es").language == "es"
    with pytest.raises(ModelError, match="unknown language"):
        AsrOptions(language="spanish")
    with pytest.raises(ModelError, match="English only"):
        AsrOptions(model="tiny.en", language="es")


def test_config_and_flag_set_the_language(tmp_path):
    from vmr.app.config import load_config

    (tmp_path / "config.toml").write_text('[index]\nlanguage = "it"\n')
    config = load_config(tmp_path)
    assert config.index_options().asr.language == "it"
    assert config.index_options(language="auto").asr.language is None
    assert config.index_options(language="ru").asr.language == "ru"


def test_slide_recogniser_follows_the_language_set_for_the_run():
    from vmr.ingest.analysis import IndexOptions

    assert IndexOptions().recogniser == "ppocr-v4"  # detected languages: the default recogniser
    assert IndexOptions(asr=AsrOptions(language="it")).recogniser == "ppocr-v5"
    assert IndexOptions(asr=AsrOptions(language="zh")).recogniser == "ppocr-v4"
    assert IndexOptions(asr=AsrOptions(language="it"), ocr_recogniser="ppocr-v4").recogniser == "ppocr-v4"
    with pytest.raises(ModelError, match="unknown slide recogniser"):
        IndexOptions(ocr_recogniser="tesseract")


def test_the_v5_recogniser_reads_letters_the_default_lacks():
    from PIL import Image, ImageDraw, ImageFont

    from vmr.ingest.ocr import SlideReader

    font = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"  # Pillow's own font lacks ß ñ ç
    if not Path(font).exists():
        pytest.skip("needs fonts-dejavu-core")
    image = Image.new("RGB", (960, 300), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(["Größe der Straße", "El niño y la señal", "Le garçon français"]):
        draw.text((30, 30 + 80 * i), line, font=ImageFont.truetype(font, 40), fill=(20, 20, 20))
    frame = np.asarray(image)[:, :, ::-1].copy()  # BGR, as decoded frames are
    default, v5 = SlideReader(1, "ppocr-v4"), SlideReader(1, "ppocr-v5")
    assert not {"ß", "ñ", "ç"} <= default.charset  # it can never read them
    read = " ".join(v5.read(frame).lines)
    assert {"ß", "ñ", "ç"} <= set(read)
    assert tokens(read, "de")[:2] == tokens("Größe der", "de")
