"""`vmr eval`: the metrics against hand-computed values, bad input as one line through the real
CLI, and the sample lecture's queries scored on the real index."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from conftest import ROOT, run_json, run_vmr
from vmr.errors import VmrError
from vmr.evaluate import (
    Annotation, EvalReport, QueryResult, average_precision, best_iou, by_granularity, by_kind,
    by_language, evaluate, load_annotations, mean_average_precision, recall_at, reciprocal_rank,
    start_error, summarize,
)
from vmr.timecode import TimeSpan as S

W = (S(10, 20),)


def result(predictions, windows=W, kind=None, granularity=None, language=None) -> QueryResult:
    annotation = Annotation("q", "a query", "v", tuple(windows), kind, granularity=granularity,
                            language=language)
    return QueryResult(annotation, (), tuple(predictions))


def test_iou_takes_the_best_matching_window_and_zero_for_another_video():
    assert best_iou(S(0, 10), (S(5, 15),)) == pytest.approx(5 / 15)
    assert best_iou(S(0, 10), (S(5, 15), S(0, 8))) == pytest.approx(0.8)
    assert best_iou(None, W) == 0.0


def test_recall_at_n_and_reciprocal_rank():
    ious = [0.2, 0.6, 0.8]
    assert recall_at(ious, 1, 0.5) == 0.0
    assert recall_at(ious, 5, 0.5) == 1.0 and recall_at(ious, 2, 0.7) == 0.0
    assert recall_at(ious, 5, 0.9) == 0.0
    assert reciprocal_rank(ious) == 0.5
    assert reciprocal_rank(ious, 0.7) == pytest.approx(1 / 3)
    assert reciprocal_rank([0.1, 0.4]) == 0.0 and reciprocal_rank([]) == 0.0


def test_average_precision_of_known_rankings():
    # One window, found exactly at rank 3, after a moment in another video and a wrong one.
    assert average_precision((None, S(30, 40), S(10, 20)), W, 0.5) == pytest.approx(1 / 3)
    # IoU 0.6 counts at the thresholds 0.5, 0.55 and 0.6 (IoU >= threshold): 3 of the 10.
    assert mean_average_precision((S(10, 16),), W) == pytest.approx(0.3)
    a, b = S(0, 10), S(20, 30)
    # A window matches one prediction only: the duplicate is a false positive.
    assert average_precision((a, a, b), (a, b), 0.5) == pytest.approx((1 + 2 / 3) / 2)
    # Precision is interpolated over recall (moment_detr): recall 0.5 at rank 2 gets the
    # precision 2/3 of rank 3, not its own 1/2.
    assert average_precision((None, a, b), (a, b), 0.5) == pytest.approx(2 / 3)
    assert average_precision((), W, 0.5) == 0.0


def test_start_error_is_to_the_nearest_window_start():
    assert start_error(S(12, 20), (S(10, 20), S(13, 30))) == pytest.approx(1.0)
    assert start_error(None, W) is None


def test_summary_and_breakdown_by_kind():
    results = [
        result([S(10, 20)], kind="quote"),            # exact at rank 1
        result([None, S(10, 16)], kind="quote"),      # IoU 0.6 at rank 2, top 1 elsewhere
        result([], (S(0, 5),), kind="slide"),         # nothing found
        result([S(12, 22)]),                          # IoU 8/12, no kind
    ]
    overall = summarize(results)
    assert overall.n == 4
    assert (overall.r1_05, overall.r1_07, overall.r5_05, overall.r5_07) == (0.5, 0.25, 0.75, 0.25)
    assert overall.mean_ap == pytest.approx((1 + 0.15 + 0 + 0.4) / 4)
    assert overall.mrr == pytest.approx((1 + 0.5 + 0 + 1) / 4)
    assert overall.median_start_error == pytest.approx(1.0)  # of 0 and 2; the others have none
    kinds = by_kind(results)
    assert list(kinds) == ["quote", "slide"]
    assert kinds["quote"].n == 2 and kinds["quote"].r5_05 == 1.0 and kinds["quote"].mrr == 0.75
    assert kinds["quote"].mean_ap == pytest.approx(0.575) and kinds["quote"].median_start_error == 0
    assert kinds["slide"].mean_ap == 0 and kinds["slide"].median_start_error is None


def test_annotations_load_with_their_kind_and_line(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"qid": 1, "query": "x", "vid": "lecture", "relevant_windows": [[1, 2.5]], "kind": "quote"}\n'
                    '\n{"qid": 2, "query": "y", "vid": "b", "relevant_windows": [[0, 1], [3, 4]]}\n')
    first, second = load_annotations(path)
    assert first == Annotation(1, "x", "lecture", (S(1, 2.5),), "quote", f"{path}:1")
    assert second.windows == (S(0, 1), S(3, 4)) and second.kind is None and second.where.endswith(":3")


def test_breakdowns_by_granularity_and_language():
    results = [
        result([S(10, 20)], kind="quote", granularity="sentence", language="en"),        # exact
        result([None, S(10, 16)], kind="paraphrase", granularity="topic", language="it"),  # rank 2
        result([], (S(0, 5),), kind="slide", granularity="passage", language="en"),       # missed
        result([S(12, 22)], kind="paraphrase", granularity="sentence"),                   # 8/12
        result([S(10, 20)], kind="keyword", granularity="chapter", language="en"),       # exact
        result([S(0, 4)], (S(0, 5),)),                                                    # IoU 0.8
    ]
    grains = by_granularity(results)
    # shortest answers first, then any other label alphabetically; unlabelled queries left out
    assert list(grains) == ["sentence", "passage", "topic", "chapter"]
    assert [s.n for s in grains.values()] == [2, 1, 1, 1]
    assert grains["sentence"].r1_05 == 1.0 and grains["sentence"].r1_07 == 0.5
    assert grains["sentence"].mean_ap == pytest.approx((1 + 0.4) / 2)
    assert grains["topic"].r1_05 == 0.0 and grains["topic"].mrr == 0.5
    assert grains["passage"].r5_05 == 0.0 and grains["passage"].median_start_error is None
    languages = by_language(results)
    assert list(languages) == ["en", "it"] and [s.n for s in languages.values()] == [3, 1]
    assert languages["en"].r1_05 == pytest.approx(2 / 3) and languages["it"].r5_05 == 1.0
    # the breakdowns summarise exactly the rows they name, like the overall summary
    assert languages["it"] == summarize([results[1]])
    assert by_kind(results)["paraphrase"].n == 2
    assert by_granularity(results[5:]) == {} and by_language(results[5:]) == {}


def _report(results) -> EvalReport:
    return EvalReport(10, summarize(results), by_kind(results), results,
                      by_granularity(results), by_language(results))


def test_report_json_and_table_carry_the_breakdowns_only_when_labelled():
    labelled = _report([result([S(10, 20)], kind="quote", granularity="sentence", language="en"),
                        result([], kind="slide", granularity="topic", language="it")])
    data = labelled.to_json()
    assert list(data["by_granularity"]) == ["sentence", "topic"]
    assert data["by_language"]["en"]["n"] == 1 and data["by_language"]["it"]["R5@0.5"] == 0
    assert data["by_granularity"]["sentence"] == labelled.by_granularity["sentence"].to_json()
    assert [(q["granularity"], q["language"]) for q in data["queries"]] == [("sentence", "en"),
                                                                           ("topic", "it")]
    lines = labelled.table()
    assert lines[0] == "2 queries, top 10 moments each; mAP over IoU 0.5:0.05:0.95"
    headers = [i for i, line in enumerate(lines) if "median start error" in line]
    assert [lines[i].split()[0] for i in headers] == ["kind", "granularity", "language"]
    assert all(lines[i - 1] == "" for i in headers[1:])
    rows = [line.split() for line in lines if line and line.split()[0] not in
            ("kind", "granularity", "language") and not line[0].isdigit()]
    assert [r[0] for r in rows] == ["all", "quote", "slide", "sentence", "topic", "en", "it"]
    assert rows[3][1:3] == ["1", "1.000"] and rows[3][-2:] == ["0.00", "s"]
    assert rows[4][-1] == "-"  # no moment at all: no start error
    # Annotations without the labels: the report is what it was before they existed.
    plain = _report([result([S(10, 20)], kind="quote"), result([S(0, 4)])])
    assert "by_granularity" not in plain.to_json() and "by_language" not in plain.to_json()
    assert "granularity" not in plain.to_json()["queries"][0]
    assert [line.split()[0] for line in plain.table()[1:]] == ["kind", "all", "quote"]


def test_annotations_load_granularity_and_language(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"qid": 1, "query": "qué", "vid": "v", "relevant_windows": [[1, 2]], '
                    '"kind": "quote", "granularity": "sentence", "language": "es"}\n'
                    '{"qid": 2, "query": "y", "vid": "v", "relevant_windows": [[0, 1]], '
                    '"granularity": null}\n', encoding="utf-8")
    first, second = load_annotations(path)
    assert (first.kind, first.granularity, first.language, first.query) == (
        "quote", "sentence", "es", "qué")
    assert second.granularity is None and second.language is None


@pytest.mark.parametrize("line, problem", [
    ('{"qid": 1, "query": "x", "vid": "v", "relevant_windows": [[0, 2]], "granularity": 3}',
     "granularity must be a string"),
    ('{"qid": 1, "query": "x", "vid": "v", "relevant_windows": [[0, 2]], "language": ["en"]}',
     "language must be a string"),
    ('{"qid": 1, "query": "x", "vid": "v"}', "missing relevant_windows"),
    ('{"qid": 1, "query": "x", "vid": "v", "relevant_windows": [[5, 2]]}', "relevant_windows must be"),
    ('{"qid": 1, "query": " ", "vid": "v", "relevant_windows": [[0, 2]]}', "query must be"),
    ('[1, 2]', "expected a JSON object"),
])
def test_malformed_annotations_name_file_and_line(tmp_path, line, problem):
    path = tmp_path / "a.jsonl"
    path.write_text('{"qid": 0, "query": "ok", "vid": "v", "relevant_windows": [[0, 1]]}\n' + line + "\n")
    with pytest.raises(VmrError, match=f"^{path}:2: {problem}"):
        load_annotations(path)


def test_a_vid_matching_two_indexed_videos_is_an_error():
    videos = [SimpleNamespace(path=f"/{d}/talk.mp4", video_id=i) for i, d in enumerate("ab")]
    library = SimpleNamespace(info=lambda: SimpleNamespace(videos=videos))
    annotations = [Annotation(0, "q", "talk", W, where="f.jsonl:1")]
    expected = r"^f\.jsonl:1: vid 'talk' matches 2 indexed videos: /a/talk\.mp4, /b/talk\.mp4$"
    with pytest.raises(VmrError, match=expected):
        evaluate(library, annotations)


def _fails_with_one_line(result, *expected: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vmr: error: "), result.stderr
    for text in expected:
        assert text in lines[0], lines[0]


def test_cli_missing_file(tmp_path):
    missing = tmp_path / "nope.jsonl"
    _fails_with_one_line(run_vmr("eval", missing, home=tmp_path / "home", check=False),
                         f"{missing}: cannot read")


def test_cli_bad_json_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"qid": 0, "query": "ok", "vid": "lecture", "relevant_windows": [[0, 1]]}\n{"qid": 1,\n')
    _fails_with_one_line(run_vmr("eval", path, home=tmp_path / "home", check=False),
                         f"{path}:2: not valid JSON")


def test_cli_unknown_vid(sample_home, tmp_path):
    path = tmp_path / "unknown.jsonl"
    path.write_text('{"qid": 0, "query": "overfitting", "vid": "no-such-talk", "relevant_windows": [[0, 1]]}\n')
    _fails_with_one_line(run_vmr("eval", path, home=sample_home, check=False),
                         f"{path}:1: vid 'no-such-talk' matches no indexed video")


@pytest.fixture(scope="module")
def lecture_queries(tmp_path_factory):
    """The sample lecture's queries that speech can answer (the index has no slide text yet)."""
    lines = (ROOT / "samples" / "queries.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    kept = [r for r in records if r["vid"] == "lecture" and r["kind"] != "slide"]
    path = tmp_path_factory.mktemp("eval") / "lecture.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in kept))
    return path, kept


def test_eval_of_the_sample_lecture(sample_home, lecture_queries):
    path, records = lecture_queries
    report = run_json("eval", path, home=sample_home)
    assert report["k"] == 10 and len(report["queries"]) == len(records) == 10
    assert set(report["by_kind"]) == {"keyword", "paraphrase", "quote"}
    assert sum(s["n"] for s in report["by_kind"].values()) == report["overall"]["n"] == 10
    for q, record in zip(report["queries"], records):
        assert [q[key] for key in ("qid", "kind", "relevant_windows")] == [
            record[key] for key in ("qid", "kind", "relevant_windows")]
        assert 1 <= len(q["moments"]) <= 10 and all(0 <= m["iou"] <= 1 for m in q["moments"])
    # The summary agrees with the per-query moments it came from.
    top1 = [q["moments"][0]["iou"] >= 0.5 for q in report["queries"]]
    assert report["overall"]["R1@0.5"] == pytest.approx(sum(top1) / 10)
    assert report["overall"]["R5@0.5"] >= 0.9 and report["overall"]["mAP"] > 0.3
    assert report["overall"]["median_start_error"] < 3.0
    # Eval ranks exactly what search returns.
    first = run_json("search", records[0]["query"], "-k", "10", home=sample_home)
    spans = [(m["start"], m["end"]) for m in report["queries"][0]["moments"]]
    assert [(m["start"], m["end"]) for m in first] == spans


def test_eval_table(sample_home, lecture_queries):
    path, _ = lecture_queries
    out = run_vmr("eval", path, home=sample_home).stdout.splitlines()
    assert out[0].startswith("10 queries, top 10 moments each")
    assert out[1].split()[:8] == ["kind", "n", "R1@0.5", "R1@0.7", "R5@0.5", "R5@0.7", "mAP", "MRR"]
    rows = {line.split()[0]: line.split() for line in out[2:]}
    assert list(rows) == ["all", "keyword", "paraphrase", "quote"]
    assert rows["all"][1] == "10" and rows["all"][-1] == "s"
