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
    ("it", "perché l'espresso", "perché l 'espresso"),  # an elision, as typed and as Whisper writes it
    ("fr", "l'histoire de l'Europe", "l histoire de l europe"),
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


HELDOUT = Path(__file__).resolve().parent.parent / "samples" / "heldout"


def test_an_italian_lecture_moves_an_english_library_to_the_multilingual_model(sample_home, tmp_path):
    """Real Whisper base and both encoders: the English sample library (MiniLM) takes an Italian
    lecture; Whisper detects Italian, the library's text model becomes multilingual-e5-small
    (the English lecture embedded again from its rows, with a note), and an English question
    finds the Italian moment."""
    import shutil

    from conftest import run_json, run_vmr

    home = tmp_path / "home"
    shutil.copytree(sample_home, home)
    assert run_json("info", home=home)["text_models"] == ["all-MiniLM-L6-v2"]
    result = run_vmr("index", HELDOUT / "caffe.mp4", home=home)
    assert ", it)" in result.stdout
    notes = [line for line in result.stderr.splitlines() if line.startswith("vmr: note: speech in it")]
    assert len(notes) == 1 and "multilingual-e5-small" in notes[0] and "1 video " in notes[0]
    info = run_json("info", home=home)
    assert info["text_models"] == ["multilingual-e5-small"]
    assert {Path(v["path"]).name: v["language"] for v in info["videos"]} == {"lecture.mp4": "en", "caffe.mp4": "it"}
    assert run_json("transcript", HELDOUT / "caffe.mp4", home=home)["language"] == "it"
    found = run_json("search", "where did the first coffee houses in Europe open", "-k", "3", home=home)
    assert Path(found[0]["video"]).name == "caffe.mp4"
    # And back. (A bare "che cos'è l'overfitting" ranks the Italian lecture first: e5 leans to
    # the query's own language when the question says little; README, Languages.)
    found = run_json("search", "cos'è l'overfitting nell'apprendimento automatico", "-k", "3", home=home)
    assert Path(found[0]["video"]).name == "lecture.mp4"
    again = run_vmr("index", HELDOUT / "caffe.mp4", home=home)  # nothing left to move
    assert "note: speech in" not in again.stderr and "unchanged" in again.stdout
    # Asked for its translation later, the Italian lecture is analysed again, with it; the
    # English one is left as it is.
    lecture = next(v["path"] for v in info["videos"] if v["language"] == "en")
    translated = run_json("index", "--translate", HELDOUT / "caffe.mp4", lecture, home=home)
    assert {Path(v["path"]).name: v["status"] for v in translated["indexed"]} == {"caffe.mp4": "indexed",
                                                                                 "lecture.mp4": "unchanged"}
    assert {Path(v["path"]).name: v["translated"] for v in run_json("info", home=home)["videos"]} == {
        "caffe.mp4": True, "lecture.mp4": False}
    assert "unchanged" in run_vmr("index", "--translate", HELDOUT / "caffe.mp4", home=home).stdout


@pytest.mark.parametrize("k", [3, 20])
def test_parts_of_a_library_in_three_languages_answer_like_the_whole(tmp_path, k):
    """Sharded search equals one process when videos are analysed in different languages: the
    languages are the whole library's, in every part."""
    from dataclasses import replace

    from sqlalchemy import select

    from synthetic import VOCABULARY, synthetic_library
    from vmr import Library
    from vmr.catalogue.store import Video, bump_generation
    from vmr.search import parts
    from vmr.search.options import SearchOptions
    from vmr.search.shards import shard_bounds

    synthetic_library(tmp_path, videos=60, seed=k)
    library = Library(tmp_path)
    with library.session() as session, session.begin():
        for video in session.scalars(select(Video)):
            video.language = ("en", "it", "ru")[video.id % 3]
        bump_generation(session)
    whole = library.search_build()
    assert whole.lexical.languages == ("en", "it", "ru")
    rng = np.random.default_rng(k)
    texts = [" ".join(rng.choice(VOCABULARY, 3)) for _ in range(4)] + [f'"{VOCABULARY[0]} {VOCABULARY[1]}"']
    vectors = {model: rng.standard_normal((len(texts), 32)).astype(np.float32) for model in ("text-a", "text-b")}
    options = SearchOptions(k=k, channel_weights={"speech": 1.0, "slides": 0.5})

    def search(pieces: list) -> list:
        request = parts.request_for(whole, [parse_query(t) for t in texts], vectors, options)
        found = parts.search(parts.local_fan([parts.Part(piece) for piece in pieces]), whole, request)
        # confidence comes from score sums that parts add in another order: equal as shown (3 places)
        return [[replace(m, confidence=round(m.confidence, 3)) for m in moments] for moments in found]

    single = search([whole])
    assert all(found for found in single)
    for count in (2, 5):
        assert search([whole.part(first, stop) for first, stop in shard_bounds(whole.video_offsets, count)]) == single


def test_a_library_caught_between_two_text_models_says_how_the_move_ends(tmp_path):
    """While an index run embeds a library's videos again with its new text model (or after
    one was interrupted), the speech vectors come from two models: a search says so, and that
    the move ends with the run (or the next one), not that videos must be removed."""
    from sqlalchemy import select

    from synthetic import synthetic_library
    from vmr import Library
    from vmr.catalogue.store import VideoChannel, bump_generation
    from vmr.errors import VmrError

    synthetic_library(tmp_path, videos=6)
    library = Library(tmp_path)
    with library.session() as session, session.begin():
        first = session.scalars(select(VideoChannel).where(VideoChannel.channel == "speech")).first()
        first.model = "text-c"
        bump_generation(session)
    with pytest.raises(VmrError, match=r"speech vectors come from different models \(text-a, text-c\)") as caught:
        library.search_build()
    assert "search again once it has ended" in str(caught.value) and "vmr index" in str(caught.value)
    assert "remove" not in str(caught.value)


def test_translate_puts_an_italian_lecture_into_english_sentences_that_search_reads(tmp_path):
    """Real Whisper base: `--translate` stores the Italian lecture's speech as timed English
    sentences, the speech channel encodes them beside the Italian (what `vmr check` would encode
    again), and an English question whose words only the translation has lands on its sentence."""
    import sqlite3

    from conftest import run_json, run_vmr
    from vmr import Library
    from vmr.catalogue.repair import clip_texts

    home = tmp_path / "home"
    run_vmr("index", "--translate", HELDOUT / "caffe.mp4", home=home)
    with sqlite3.connect(home / "vmr.db") as db:
        rows = db.execute("SELECT start, \"end\", text FROM translations ORDER BY idx").fetchall()
        duration = db.execute("SELECT duration FROM videos").fetchone()[0]
        italian = " ".join(t for (t,) in db.execute("SELECT text FROM segments")).lower()
    assert len(rows) >= 10
    assert all(0 <= start < end <= duration for start, end, _ in rows)
    assert all(a[1] <= b[0] for a, b in zip(rows, rows[1:]))  # in time order, not overlapping
    english = " ".join(text for _, _, text in rows).lower()
    assert english.count("coffee") >= 5 and " the " in english
    assert "coffee" not in italian and "caff" in italian
    with Library(home).session() as session:
        texts = clip_texts(session, 1, "speech")
    assert any("caff" in t.lower() and "coffee" in t.lower() for t in texts)
    # "Ottoman Empire" is said "Impero ottomano": only the translation has the English words.
    pharmacy = next((start, end) for start, end, text in rows if "Ottoman" in text or "Pharmac" in text)
    found = run_json("search", "the Ottoman Empire", "-k", "1", home=home)
    assert found[0]["start"] < pharmacy[1] + 6 and found[0]["end"] > pharmacy[0] - 6

    # Shown as English subtitles and JSON, by the CLI and the served API alike.
    shown = run_json("transcript", "--translation", HELDOUT / "caffe.mp4", home=home)
    assert (shown["language"], shown["translated_from"]) == ("en", "it")
    assert [(s["start"], s["end"], s["text"], s["words"]) for s in shown["segments"]] == [(*r, []) for r in rows]
    srt = run_vmr("transcript", "--translation", "--format", "srt", "1", home=home).stdout
    assert srt.startswith("1\n00:00:0") and "coffee" in srt
    assert run_json("transcript", "1", home=home)["translated_from"] is None
    assert run_json("info", home=home)["videos"][0]["translated"] is True
    assert "  it (+en)  " in run_vmr("info", home=home).stdout
    import httpx

    from serving import serving

    with serving(home) as server:
        served = httpx.get(f"{server.url}api/videos/1/transcript", params={"translation": "true"}).json()
        assert served == shown
        vtt = httpx.get(f"{server.url}api/videos/1/captions.vtt?translation=true").text
        assert vtt.startswith("WEBVTT") and "coffee" in vtt


def test_a_video_without_a_translation_says_so(sample_home):
    """English speech has no translation: a one-line error from the CLI, a 404 from the API."""
    import httpx

    from conftest import run_vmr
    from serving import serving

    result = run_vmr("transcript", "--translation", "1", home=sample_home, check=False)
    assert result.returncode != 0
    assert result.stderr.strip().endswith("lecture.mp4: no English translation (its speech is English, or it was "
                                          "indexed without --translate: vmr index --translate it)")
    assert len(result.stderr.strip().splitlines()) == 1
    with serving(sample_home) as server:
        answer = httpx.get(f"{server.url}api/videos/1/transcript?translation=true")
        assert answer.status_code == 404 and "no English translation" in answer.json()["detail"]


def test_translation_is_off_unless_asked(tmp_path):
    from vmr.app.config import load_config
    from vmr.ingest.analysis import IndexOptions

    assert IndexOptions().translate is False
    (tmp_path / "config.toml").write_text("[index]\ntranslate = true\n")
    assert load_config(tmp_path).index_options().translate is True
