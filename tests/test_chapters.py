"""Chapters of an indexed video: `vmr chapters` in every format, the web API, and a library
indexed before chapters, which gets them from its stored rows at the next `vmr index`."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

from conftest import local_client, ROOT, run_json, run_vmr


@pytest.fixture(scope="module")
def lecture() -> dict:
    return json.loads((ROOT / "samples" / "lecture.json").read_text())


def test_chapters_cover_the_video_with_titles(sample_home, sample_video, lecture):
    chapters = run_json("chapters", sample_video, home=sample_home)
    assert 2 <= len(chapters) <= 8, chapters
    assert chapters[0]["start"] == 0 and chapters[-1]["end"] == pytest.approx(lecture["duration"], abs=0.2)
    assert all(a["end"] == b["start"] for a, b in zip(chapters, chapters[1:]))
    assert all(c["title"] and c["end"] - c["start"] >= 20 for c in chapters), chapters
    # a chapter that starts with a slide is titled by its heading
    headings = {slide["title"].lower() for slide in lecture["slides"]}
    assert any(c["title"].lower() in headings for c in chapters), chapters


def test_chapter_formats_on_the_command_line(sample_home, sample_video):
    chapters = run_json("chapters", sample_video, home=sample_home)
    assert json.loads(run_vmr("chapters", sample_video, "--format", "json", home=sample_home).stdout) == chapters
    vtt = run_vmr("chapters", sample_video, "--format", "vtt", home=sample_home).stdout
    assert vtt.startswith("WEBVTT\n\n1\n00:00:00.000 --> ") and vtt.count(" --> ") == len(chapters)
    youtube = run_vmr("chapters", sample_video, "--format", "youtube", home=sample_home).stdout.splitlines()
    assert youtube[0] == f"00:00 {chapters[0]['title']}" and len(youtube) == len(chapters)
    txt = run_vmr("chapters", sample_video, home=sample_home).stdout.splitlines()
    assert txt[0].startswith("00:00:00.000 - ") and txt[0].endswith(chapters[0]["title"])


def test_the_api_serves_the_chapters(sample_home, sample_video):
    with local_client(sample_home) as client:
        video_id = client.get("/api/videos").json()[0]["video_id"]
        found = client.get(f"/api/videos/{video_id}/chapters")
        assert found.status_code == 200
        assert found.json() == run_json("chapters", sample_video, home=sample_home)
        assert client.get("/api/videos/999/chapters").status_code == 404


def test_a_library_from_before_chapters_gets_them_at_the_next_index(sample_home, sample_video, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(sample_home, home, ignore=shutil.ignore_patterns("*.index-lock"))
    with sqlite3.connect(home / "vmr.db") as db:  # as migration 0004 leaves a video indexed before it
        db.execute("DELETE FROM chapters")
        db.execute("DELETE FROM video_channels WHERE channel IN ('passage', 'chapter')")
        db.execute("UPDATE videos SET structure = NULL")
        db.execute("UPDATE settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
    failed = run_vmr("chapters", sample_video, home=home, check=False)
    assert failed.returncode == 1 and "vmr index it again" in failed.stderr
    assert run_json("search", "gradient descent", home=home)  # sentences and slides still answer
    report = run_json("index", sample_video, home=home)
    assert [v["status"] for v in report["indexed"]] == ["updated"]
    assert "speech" not in report["indexed"][0]["seconds"]  # no new transcription
    assert run_json("chapters", sample_video, home=home) == run_json("chapters", sample_video, home=sample_home)
    assert [v["status"] for v in run_json("index", sample_video, home=home)["indexed"]] == ["unchanged"]


def test_chapters_size_the_moments_of_an_e5_library_and_move_none(tmp_path):
    """Where the library's text model has a chapter margin (multilingual-e5-small), chapters
    are scored beside the fusion to size moments: the windows rank as before, and each moment
    keeps its span or becomes its whole chapter (a later window inside that chapter then gives
    way). Switched off, no moment is a chapter."""
    from vmr import Library
    from vmr.channels import Channel
    from vmr.search.options import SearchOptions

    videos = tmp_path / "videos"
    videos.mkdir()
    shutil.copy(ROOT / "samples" / "lecture.mp4", videos / "lecture.mp4")
    home = tmp_path / "home"
    run_vmr("index", "--text-model", "multilingual-e5-small", videos, home=home)
    library = Library(home)
    queries = ["how neural networks learn", "how to evaluate a model", "what machine learning is", "overfitting"]
    sized = library.search_many(queries, 5)
    kept = library.search_many(queries, 5, SearchOptions(size_by_chapter=False))
    index = library.search_build().lexical
    docs = index.documents_of(0, Channel.CHAPTER)
    chapters = {(round(float(index.doc_start[d]), 3), round(float(index.doc_end[d]), 3))
                for d in range(docs.start, docs.stop)}
    assert len(chapters) >= 2
    widened = 0
    for with_chapters, without in zip(sized, kept):
        assert all(m.why != Channel.CHAPTER for m in without)
        assert (with_chapters[0].video_id, with_chapters[0].score) == (without[0].video_id, without[0].score)
        windows = {(m.video_id, m.score) for m in without}
        for moment in with_chapters:
            if moment.why == Channel.CHAPTER:
                widened += 1
                assert (moment.start, moment.end) in chapters and (moment.video_id, moment.score) in windows
                # its text is what the window said at its peak, as it did before it widened
                before = next(m for m in without if (m.video_id, m.score) == (moment.video_id, moment.score))
                assert moment.text == before.text and moment.text in moment.speech_text
                assert len(moment.text) < len(moment.speech_text)
            else:
                assert moment in without
    assert widened >= 1
