"""Ranking with slides, the lexical channel and boundary snapping, on the indexed sample; and a
library from before slide text (schema 0001) upgraded in place and still answering."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy import text as sql
from sqlalchemy.orm import load_only

from conftest import ROOT, run_json
from vmr.search.options import SearchOptions
from vmr.catalogue.reads import SCHEMA_REVISION, sqlite_url
from vmr.catalogue.store import (
    Clip, Segment, Video, Word, alembic_config, bump_generation, current_revision, session_factory, utcnow,
)


def test_a_0001_library_upgrades_in_place_and_keeps_answering(tmp_path):
    from alembic import command

    from vmr.encode.text import load_text_encoder
    from vmr.library import Library

    engine = create_engine(sqlite_url(tmp_path))
    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    sentences = ["Gradient descent updates the weights.", "Overfitting memorizes the noise.",
                 "Thanks for watching."]
    vectors = load_text_encoder("all-MiniLM-L6-v2", "cpu", cold_start=True).encode(sentences)
    with session_factory(engine)() as session, session.begin():
        # The videos table as 0001 made it (today's model has columns added since): core insert.
        columns = dict(path=str(tmp_path / "old.mp4"), content_hash="0" * 64, size=1, mtime=0.0,
                       duration=12.0, fps=10.0, width=16, height=16, has_audio=True, status="indexed",
                       indexed_at=utcnow())
        video_id = session.execute(Video.__table__.insert().values(**columns)).inserted_primary_key[0]
        video = session.get(Video, video_id, options=[load_only(Video.id)])
        for i, sentence in enumerate(sentences):
            for j in (2 * i, 2 * i + 1):  # two clips per sentence
                video.clips.append(Clip(idx=j, start=2.0 * j, end=2.0 * j + 2, keyframe_time=2.0 * j + 1))
            video.segments.append(Segment(idx=i, start=4.0 * i + 0.3, end=4.0 * i + 3.6, text=sentence))
        session.flush()
        for clip in video.clips:  # in 0001 every clip's vector was a row
            session.execute(sql("INSERT INTO clip_vectors VALUES (:clip, 'speech', 'all-MiniLM-L6-v2', :dim, "
                                 "'float32', :vector)"),
                            {"clip": clip.id, "dim": vectors.shape[1], "vector": vectors[clip.idx // 2].tobytes()})
        for i, segment in enumerate(video.segments):
            words = segment.text.split()
            step = (segment.end - segment.start) / len(words)
            segment.words = [Word(idx=j, video_id=video.id, start=segment.start + j * step,
                                  end=segment.start + (j + 1) * step, text=w) for j, w in enumerate(words)]
        bump_generation(session)
    assert current_revision(engine) == "0001"
    engine.dispose()
    (tmp_path / "old.mp4").touch()  # a search leaves out videos whose file is gone

    # Short windows: a whole video shorter than the longest window is one window with its bonus.
    options = SearchOptions(window_seconds=(4.0, 6.0))
    best = Library(tmp_path, search_options=options).search("what is overfitting", k=1)[0]
    assert current_revision(create_engine(sqlite_url(tmp_path))) == SCHEMA_REVISION
    assert "slide_texts" in inspect(create_engine(sqlite_url(tmp_path))).get_table_names()
    assert (best.start, best.end) == (4.3, 7.6)  # the sentence, snapped from the 2-s grid
    assert best.why == "speech" and best.text == "Overfitting memorizes the noise." and best.slide_text == ""


@pytest.fixture(scope="module")
def lecture() -> dict:
    return json.loads((ROOT / "samples" / "lecture.json").read_text())


def test_the_slides_are_read_at_their_times(sample_home, lecture):
    import sqlite3

    with sqlite3.connect(sample_home / "vmr.db") as db:
        rows = db.execute("SELECT start, \"end\", text FROM slide_texts ORDER BY idx").fetchall()
    assert len(rows) == len(lecture["slides"])
    for (start, end, text), truth in zip(rows, lecture["slides"]):
        assert abs(start - truth["start"]) <= 0.5 and abs(end - truth["end"]) <= 0.5
        assert truth["title"].lower() in text.lower()
        assert "Introduction to Machine Learning" not in text  # the footer on every slide


def test_a_slide_only_query_returns_the_slide_and_its_text(sample_home, lecture):
    best = run_json("search", "direction of steepest increase", "-k", "1", home=sample_home)[0]
    slide = lecture["slides"][1]  # "Gradient Descent": only the slide says "steepest increase"
    assert best["why"] == "slides" and "steepest increase" in best["text"].lower()
    assert best["text"] == best["slide_text"] and best["speech_text"]
    assert abs(best["start"] - slide["start"]) <= 0.5 and abs(best["end"] - slide["end"]) <= 0.5


def test_moment_edges_are_sentence_boundaries(sample_home, sample_video, lecture):
    from vmr.language import sentences

    data = run_json("transcript", sample_video, home=sample_home)
    words = [(w["start"], w["end"], w["text"]) for s in data["segments"] for w in s["words"]]
    bounds = {(round(words[a][0], 3), round(words[b - 1][1], 3)) for a, b in sentences(words)}
    starts, ends = {a for a, _ in bounds}, {b for _, b in bounds}
    word_starts, word_ends = {round(w[0], 3) for w in words}, {round(w[1], 3) for w in words}
    for query in ("applying the chain rule of calculus", "how does gradient descent update the weights"):
        found = [m for m in run_json("search", query, "-k", "3", home=sample_home) if m["why"] != "slides"]
        # The best: on sentence edges (a sentence, a passage or a chapter of them); the others
        # too, or on word edges where no sentence edge is near (a long sentence).
        assert round(found[0]["start"], 3) in starts and round(found[0]["end"], 3) in ends, (query, found[0])
        for m in found:
            assert round(m["start"], 3) in word_starts and round(m["end"], 3) in word_ends, (query, m)
    # The quote's moment is the sentence that says it, as Whisper cut the sentences (the lecture's
    # "It works backwards from the output layer, applying the chain rule ..." may be two), within
    # the lecture's own sentence, give or take Whisper's word timing.
    best = run_json("search", "applying the chain rule of calculus", "-k", "1", home=sample_home)[0]
    a, b = next((a, b) for a, b in sentences(words) if "chain" in " ".join(w[2] for w in words[a:b]))
    assert (round(best["start"], 3), round(best["end"], 3)) == (round(words[a][0], 3), round(words[b - 1][1], 3))
    truth = next(s for s in lecture["sentences"] if "chain rule" in s["text"])
    assert best["start"] > truth["start"] - 0.6 and best["end"] < truth["end"] + 0.6


def test_a_spoken_moment_keeps_to_its_peak():
    import numpy as np

    from vmr.search.moments import peak_extent

    shoulder_and_peak = np.array([0.1] * 10 + [0.3, 0.3, 0.35, 0.6, 0.65, 0.6, 0.2] + [0.1] * 10, np.float32)
    # Median 0.1, best 0.65: the clips at 0.375 or more, not the shoulder the window took in.
    assert peak_extent(shoulder_and_peak, 10, 17, 14, (0, 27)) == (13, 16)
    passage = np.array([0.1] * 10 + [0.5, 0.55, 0.6, 0.5, 0.45, 0.5] + [0.1] * 10, np.float32)
    assert peak_extent(passage, 9, 17, 12, (0, 26)) == (10, 16)  # relevant throughout: kept whole


def test_a_quote_that_whisper_ran_on_is_its_clause(tmp_path):
    """Whisper wrote "... same for every observer, so moving clock tick more slowly, another
    exclaimed that light comes ..., which we now call photons." as one 13-s sentence, split
    over two segments."""
    from vmr.timecode import TimeSpan

    home = tmp_path / "home"
    home.mkdir()
    # (decoded one window after another: two clips at a time, Whisper ends the sentence there)
    (home / "config.toml").write_text("[index.asr]\nbatch_size = 0\n")
    run_json("index", ROOT / "samples" / "mechanics.mp4", home=home)
    best = run_json("search", "a moving clock ticks more slowly", "-k", "1", home=home)[0]
    assert TimeSpan(best["start"], best["end"]).iou(TimeSpan(101.269, 107.878)) >= 0.9, best
    assert best["speech_text"].startswith("One of them showed") and best["speech_text"].endswith("more slowly,")


def test_a_quoted_phrase_is_in_every_moment(sample_home):
    found = run_json("search", '"chain rule"', "-k", "5", home=sample_home)
    assert found
    for m in found:
        assert "chain rule" in (m["speech_text"] + " " + m["slide_text"]).lower(), m


def test_speech_only_options_give_the_old_grid_moments(sample_home):
    from vmr.library import Library

    options = SearchOptions(channel_weights={"speech": 1.0}, lexical_weight=0.0, snap=False)
    found = Library(sample_home, search_options=options).search("what is overfitting", k=3)
    assert found and all(m.why == "speech" and m.start % 2 == 0 for m in found)


def test_search_settings_come_from_config_toml(tmp_path):
    from vmr.errors import VmrError
    from vmr.library import Library

    (tmp_path / "config.toml").write_text("[search]\nslides_weight = 0.5\nsnap = false\n")
    options = Library(tmp_path).search_options
    assert options.channel_weights == {"speech": 1.0, "slides": 0.5, "visual": 0.1, "passage": 0.0, "chapter": 0.0}
    assert options.snap is False
    (tmp_path / "config.toml").write_text("[search]\nsnapp = false\n")
    with pytest.raises(VmrError, match=r"config.toml: unknown \[search\] setting 'snapp'"):
        Library(tmp_path).search_options
