"""The whole pipeline through the real CLI: index the sample, find its moments, link to them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.engine import make_url

from conftest import ROOT, VMR, run_json, run_vmr
from dbfixtures import drop_postgres_database, new_postgres_database
from vmr.ingest.media import clip_grid
from vmr.search.confidence import weak_threshold
from vmr.timecode import TimeSpan

# The indexed lecture's spoken queries: used to compare storages and databases, never to pin a
# hit rate (the ranking settings were tuned on these queries; README, "Ranking").
QUERIES = [q for q in (json.loads(line) for line in (ROOT / "samples" / "queries.jsonl").read_text().splitlines()
                       if line.strip())
           if q["vid"] == "lecture" and q["kind"] != "slide"]


def test_search_json_contract(sample_home, sample_video):
    found = run_json("search", "gradient descent learning rate", "-k", "5", home=sample_home)
    assert 1 <= len(found) <= 5
    scores = [m["score"] for m in found]
    assert scores == sorted(scores, reverse=True)
    for m in found:
        assert {"video", "video_id", "start", "end", "score", "link", "text", "weak", "confidence"} <= m.keys()
        assert isinstance(m["weak"], bool) and m["weak"] == (m["confidence"] < weak_threshold("all-MiniLM-L6-v2"))
        assert m["video"] == str(sample_video) and Path(m["video"]).is_absolute()
        assert 0 <= m["start"] < m["end"] <= 170
        assert m["link"] == f"{sample_video.as_uri()}#t={m['start']:.1f},{m['end']:.1f}"
        assert m["text"]
    # Moments of one region do not repeat: at most half of the shorter one overlaps.
    spans = [TimeSpan(m["start"], m["end"]) for m in found]
    for i, a in enumerate(spans):
        for b in spans[i + 1:]:
            assert a.intersection(b) <= 0.5 * min(a.duration, b.duration) + 1e-6


def test_moment_text_is_what_was_said_there(sample_home):
    best = run_json("search", "the validation error starts rising", "-k", "1", home=sample_home)[0]
    assert "validation" in best["text"].lower()


def test_human_output_has_times_and_links(sample_home):
    out = run_vmr("search", "what is overfitting", "-k", "2", home=sample_home).stdout
    assert " 1. lecture.mp4  00:01:" in out and "#t=" in out and out.count("file://") == 2


def test_many_queries_in_one_call(sample_home, tmp_path):
    queries = tmp_path / "queries.txt"
    queries.write_text("what is overfitting\n\nhow does gradient descent update the weights\n")
    results = json.loads(run_vmr("search", "--queries", queries, "-k", "2", home=sample_home).stdout)
    assert len(results) == 2 and all(len(r) == 2 for r in results)
    single = run_json("search", "what is overfitting", "-k", "2", home=sample_home)
    assert [(m["start"], m["end"]) for m in results[0]] == [(m["start"], m["end"]) for m in single]


def test_info_reports_the_index(sample_home, sample_video):
    info = run_json("info", home=sample_home)
    assert len(info["videos"]) == 1
    video = info["videos"][0]
    assert video["path"] == str(sample_video)
    truth = json.loads((ROOT / "samples" / "lecture.json").read_text())
    assert video["duration"] == pytest.approx(truth["duration"], abs=0.2)
    assert video["clips"] == len(clip_grid(video["duration"], 2.0)) and video["words"] > 300
    assert video["asr_model"].startswith("faster-whisper:base")
    assert info["text_models"] == ["all-MiniLM-L6-v2"] and info["vector_storage"] == "int8"


def test_transcript_formats(sample_home, sample_video):
    truth = json.loads((ROOT / "samples" / "lecture.json").read_text())
    data = run_json("transcript", sample_video, home=sample_home)
    words = [w for s in data["segments"] for w in s["words"]]
    starts = [w["start"] for w in words]
    assert starts == sorted(starts)
    # Nothing is transcribed in the lecture's silent pause.
    for silence in truth.get("silences", []):
        assert not [w for w in words if silence["start"] + 0.5 < w["start"] < silence["end"] - 0.5]
    srt = run_vmr("transcript", sample_video, "--format", "srt", home=sample_home).stdout
    assert srt.startswith("1\n00:00:0") and " --> " in srt
    vtt = run_vmr("transcript", str(data["video_id"]), "--format", "vtt", home=sample_home).stdout
    assert vtt.startswith("WEBVTT\n") and "." in vtt.split(" --> ")[0]


def test_reindexing_skips_unchanged_files(sample_home, sample_video):
    report = run_json("index", sample_video.parent, home=sample_home)
    assert [v["status"] for v in report["indexed"]] == ["unchanged"]


def test_cold_search_imports_no_torch(sample_home):
    code = (
        "import sys; from vmr.library import Library; "
        f"Library({str(sample_home)!r}).search('overfitting', 3); "
        "print('torch' in sys.modules, 'whisper' in sys.modules, 'faster_whisper' in sys.modules)"
    )
    out = subprocess.run([str(VMR.with_name("python")), "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "False"]


def test_python_api_mirrors_the_cli(sample_home):
    from vmr import Library

    moments = Library(sample_home).search("how does gradient descent update the weights", k=3)
    cli = run_json("search", "how does gradient descent update the weights", "-k", "3", home=sample_home)
    assert [(m.start, m.end, m.video_id) for m in moments] == [(m["start"], m["end"], m["video_id"]) for m in cli]


def test_binary_prefilter_path_finds_the_same_moments(sample_home, tmp_path, monkeypatch):
    import shutil

    from vmr import Library
    from vmr.search import build

    query = "how does gradient descent update the weights"
    exact = Library(sample_home).search(query, k=5)
    home = tmp_path / "home"
    shutil.copytree(sample_home, home)
    monkeypatch.setattr(build, "PREFILTER_MIN_CLIPS", 1)
    library = Library(home)
    with library.session() as session:
        matrix = build.rebuild(session, library.vectors_dir, library.vector_files)
    assert matrix.channels["speech"].codes is not None
    # The sample is smaller than the rerank pool, so every clip is scored exactly.
    assert [(m.start, m.end) for m in library.search(query, k=5)] == [(m.start, m.end) for m in exact]


def test_int8_search_ranks_like_float32(sample_home, tmp_path):
    """int8 scans are refined on the float16 copy around the best windows, so the moments and
    their order are those of float32 storage, with scores equal to float16 precision."""
    import shutil

    from vmr import Library

    home = tmp_path / "home"
    shutil.copytree(sample_home, home)
    shutil.rmtree(home / "vectors")
    int8, float32 = Library(sample_home), Library(home, storage="float32")
    queries = [q["query"] for q in QUERIES]
    for found8, found32 in zip(int8.search_many(queries, k=5), float32.search_many(queries, k=5)):
        assert [(m.start, m.end) for m in found8] == [(m.start, m.end) for m in found32]
        np.testing.assert_allclose([m.score for m in found8], [m.score for m in found32], atol=2e-3)


@pytest.fixture(scope="module")
def postgres_home(postgres_server, sample_video, tmp_path_factory):
    """The sample indexed by the real CLI into a new PostgreSQL database (`--db`); the vector
    matrices stay in --home."""
    url = new_postgres_database(postgres_server)
    home = tmp_path_factory.mktemp("postgres-home")
    run_vmr("--db", url, "index", sample_video, home=home)
    yield home, url
    drop_postgres_database(postgres_server, url)


def test_postgresql_catalogue_gives_the_sqlite_index_and_moments(postgres_home, sample_home, sample_video, tmp_path):
    home, url = postgres_home
    assert (home / "vectors" / "CURRENT").exists() and not (home / "vmr.db").exists()
    on_postgres = run_json("--db", url, "info", home=home)
    assert on_postgres["database"] == make_url(url).render_as_string()  # the password as ***
    assert _comparable(on_postgres) == _comparable(run_json("info", home=sample_home))
    assert run_json("--db", url, "transcript", sample_video, home=home) == run_json("transcript", sample_video, home=sample_home)
    queries = tmp_path / "queries.txt"
    queries.write_text("".join(q["query"] + "\n" for q in QUERIES))
    found = [json.loads(run_vmr(*db, "search", "--queries", queries, "-k", "3", home=h).stdout)
             for db, h in (((), sample_home), (("--db", url), home))]
    assert [[(m["video"], m["start"], m["end"], m["text"]) for m in r] for r in found[0]] == \
        [[(m["video"], m["start"], m["end"], m["text"]) for m in r] for r in found[1]]
    assert run_json("--db", url, "remove", sample_video, home=home) == [{"path": str(sample_video), "removed": True}]
    assert run_json("--db", url, "search", "what is overfitting", home=home) == []


def _comparable(info: dict) -> dict:
    """What must not depend on the catalogue's database."""
    keep = ("total_duration", "clips", "words", "text_models", "vector_storage", "vector_bytes")
    return {**{k: info[k] for k in keep},
            "videos": [{k: v for k, v in video.items() if k != "indexed_at"} for video in info["videos"]]}
