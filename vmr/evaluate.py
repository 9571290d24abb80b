"""Score the index against QVHighlights-format annotations (`qid, query, vid, relevant_windows`,
optionally `kind`, `granularity` and `language`): R@1 and R@5 at IoU 0.5 and 0.7, mAP over IoU
0.5:0.05:0.95, MRR and the median start error, overall and per query kind, and per granularity
(sentence / passage / topic) and per query language where the annotations carry them.

Search spans the whole library, so a moment in another video than the annotated one is a
miss (IoU 0), as a user would see it.  The metric functions are pure; `evaluate` runs every
query in one `Library.search_many` batch.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from vmr.errors import VmrError
from vmr.search.moments import Moment
from vmr.timecode import TimeSpan

if TYPE_CHECKING:
    from vmr.library import Library

# mAP thresholds of QVHighlights (moment_detr standalone_eval): 0.5, 0.55, ..., 0.95.
IOU_THRESHOLDS = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))
HIT_IOU = 0.5  # a moment "found" for MRR
MIN_K = 5  # R@5 reads the top 5


@dataclass(frozen=True)
class Annotation:
    qid: object
    query: str
    vid: str
    windows: tuple[TimeSpan, ...]
    kind: str | None = None
    where: str = ""  # "FILE:LINE", for error messages
    granularity: str | None = None  # "sentence", "passage" or "topic": how long the answer is
    language: str | None = None  # ISO 639-1 code of the query's language


@dataclass(frozen=True)
class QueryResult:
    annotation: Annotation
    moments: tuple[Moment, ...]
    # one per moment, best first; None where the moment lies in another video
    predictions: tuple[TimeSpan | None, ...]

    @property
    def ious(self) -> list[float]:
        return [best_iou(p, self.annotation.windows) for p in self.predictions]

    @property
    def average_precision(self) -> float:
        return mean_average_precision(self.predictions, self.annotation.windows)

    @property
    def start_error(self) -> float | None:
        return start_error(self.predictions[0], self.annotation.windows) if self.predictions else None

    def to_json(self) -> dict:
        a = self.annotation
        labels = {name: getattr(a, name) for name in ("granularity", "language")
                  if getattr(a, name) is not None}
        return {
            "qid": a.qid, "query": a.query, "vid": a.vid, "kind": a.kind, **labels,
            "relevant_windows": [[w.start, w.end] for w in a.windows],
            "moments": [{"video": m.video, "start": round(m.start, 3), "end": round(m.end, 3),
                         "score": round(m.score, 4), "iou": round(iou, 4)}
                        for m, iou in zip(self.moments, self.ious)],
            "ap": round(self.average_precision, 4),
            "reciprocal_rank": round(reciprocal_rank(self.ious), 4),
            "start_error": None if self.start_error is None else round(self.start_error, 3),
        }


@dataclass(frozen=True)
class Summary:
    n: int
    r1_05: float
    r1_07: float
    r5_05: float
    r5_07: float
    mean_ap: float
    mrr: float
    # over the queries whose top moment lies in the annotated video; None if there are none
    median_start_error: float | None

    def to_json(self) -> dict:
        data = {name: round(getattr(self, attr), 4) for name, attr in COLUMNS}
        error = self.median_start_error
        return {"n": self.n, **data, "median_start_error": None if error is None else round(error, 3)}


# (name shown in tables and JSON, Summary attribute) of the rate metrics
COLUMNS = (("R1@0.5", "r1_05"), ("R1@0.7", "r1_07"), ("R5@0.5", "r5_05"), ("R5@0.7", "r5_07"),
           ("mAP", "mean_ap"), ("MRR", "mrr"))


@dataclass(frozen=True)
class EvalReport:
    k: int
    overall: Summary
    by_kind: dict[str, Summary]
    queries: list[QueryResult]
    # empty where no annotation carries a granularity / a language; then left out of the JSON
    by_granularity: dict[str, Summary] = field(default_factory=dict)
    by_language: dict[str, Summary] = field(default_factory=dict)

    def to_json(self) -> dict:
        breakdowns = {name: {label: s.to_json() for label, s in getattr(self, name).items()}
                      for name in ("by_granularity", "by_language") if getattr(self, name)}
        return {"k": self.k, "iou_thresholds": list(IOU_THRESHOLDS),
                "overall": self.overall.to_json(),
                "by_kind": {kind: s.to_json() for kind, s in self.by_kind.items()},
                **breakdowns,
                "queries": [q.to_json() for q in self.queries]}

    def table(self) -> list[str]:
        """The lines `vmr eval` prints: a header, then one row per summary -- all, each kind,
        and, after a blank line each, every granularity and every language where known."""
        lines = [f"{len(self.queries)} queries, top {self.k} moments each; "
                 "mAP over IoU 0.5:0.05:0.95"]
        sections = [("kind", {"all": self.overall, **self.by_kind}),
                    ("granularity", self.by_granularity), ("language", self.by_language)]
        for n, (title, rows) in enumerate(s for s in sections if s[1]):
            if n:
                lines.append("")
            lines.append(f"{title:12} {'n':>4}" + "".join(f" {name:>7}" for name, _ in COLUMNS)
                         + "  median start error")
            for label, summary in rows.items():
                error = summary.median_start_error
                lines.append(f"{label:12} {summary.n:4}"
                             + "".join(f" {getattr(summary, attr):7.3f}" for _, attr in COLUMNS)
                             + ("  -" if error is None else f"  {error:.2f} s"))
        return lines


# -- metrics
def best_iou(prediction: TimeSpan | None, windows: tuple[TimeSpan, ...]) -> float:
    """Temporal IoU with the best-matching relevant window (0 for a moment in another video)."""
    if prediction is None:
        return 0.0
    return max(prediction.iou(w) for w in windows)


def recall_at(ious: list[float], n: int, threshold: float) -> float:
    """1 if one of the top n moments reaches the threshold, else 0."""
    return float(any(iou >= threshold for iou in ious[:n]))


def reciprocal_rank(ious: list[float], threshold: float = HIT_IOU) -> float:
    """1 / rank of the first moment that reaches the threshold; 0 if none does."""
    return next((1.0 / rank for rank, iou in enumerate(ious, 1) if iou >= threshold), 0.0)


def average_precision(predictions: tuple[TimeSpan | None, ...], windows: tuple[TimeSpan, ...],
                      threshold: float) -> float:
    """AP of one ranked list as moment_detr's compute_average_precision_detection: each
    prediction takes the highest-IoU relevant window not yet taken, if that IoU reaches the
    threshold (a true positive), and precision is interpolated over recall (the best precision
    at any rank that reaches at least that recall)."""
    taken: set[int] = set()
    points: list[tuple[float, float]] = []  # (recall, precision) after each true positive
    hits = 0
    for rank, p in enumerate(predictions, 1):
        if p is None:
            continue
        by_iou = sorted(range(len(windows)), key=lambda j: -p.iou(windows[j]))
        match = next((j for j in by_iou if p.iou(windows[j]) >= threshold and j not in taken), None)
        if match is not None:
            taken.add(match)
            hits += 1
            points.append((hits / len(windows), hits / rank))
    ap, previous_recall = 0.0, 0.0
    for i, (recall, _) in enumerate(points):
        ap += (recall - previous_recall) * max(precision for _, precision in points[i:])
        previous_recall = recall
    return ap


def mean_average_precision(predictions: tuple[TimeSpan | None, ...], windows: tuple[TimeSpan, ...],
                           thresholds: tuple[float, ...] = IOU_THRESHOLDS) -> float:
    return sum(average_precision(predictions, windows, t) for t in thresholds) / len(thresholds)


def start_error(prediction: TimeSpan | None, windows: tuple[TimeSpan, ...]) -> float | None:
    """Seconds between the moment's start and the nearest relevant window's start."""
    if prediction is None:
        return None
    return min(abs(prediction.start - w.start) for w in windows)


def summarize(results: list[QueryResult]) -> Summary:
    n = len(results)
    ious = [r.ious for r in results]

    def mean(values) -> float:
        return sum(values) / n if n else 0.0

    errors = [e for e in (r.start_error for r in results) if e is not None]
    return Summary(
        n=n,
        r1_05=mean(recall_at(i, 1, 0.5) for i in ious), r1_07=mean(recall_at(i, 1, 0.7) for i in ious),
        r5_05=mean(recall_at(i, 5, 0.5) for i in ious), r5_07=mean(recall_at(i, 5, 0.7) for i in ious),
        mean_ap=mean(r.average_precision for r in results), mrr=mean(reciprocal_rank(i) for i in ious),
        median_start_error=statistics.median(errors) if errors else None,
    )


def _by(results: list[QueryResult], label: str, order: tuple[str, ...] = ()) -> dict[str, Summary]:
    """One summary per value of the annotations' `label`, the values in `order` first, the
    others in alphabetical order; queries without one left out."""
    values = {getattr(r.annotation, label) for r in results} - {None, ""}
    ranked = sorted(values, key=lambda v: (order.index(v) if v in order else len(order), v))
    return {v: summarize([r for r in results if getattr(r.annotation, label) == v]) for v in ranked}


def by_kind(results: list[QueryResult]) -> dict[str, Summary]:
    """One summary per query kind, kinds in alphabetical order; queries without a kind left out."""
    return _by(results, "kind")


GRANULARITIES = ("sentence", "passage", "topic")


def by_granularity(results: list[QueryResult]) -> dict[str, Summary]:
    """One summary per granularity, shortest answers first (sentence, passage, topic, then any
    other in alphabetical order); queries without a granularity left out."""
    return _by(results, "granularity", GRANULARITIES)


def by_language(results: list[QueryResult]) -> dict[str, Summary]:
    """One summary per query language, in alphabetical order; queries without one left out."""
    return _by(results, "language")


# -- input
def _windows(value: object) -> tuple[TimeSpan, ...]:
    if not isinstance(value, list) or not value:
        raise ValueError
    spans = []
    for pair in value:
        if (not isinstance(pair, list) or len(pair) != 2
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in pair)
                or not 0 <= pair[0] < pair[1]):
            raise ValueError
        spans.append(TimeSpan(float(pair[0]), float(pair[1])))
    return tuple(spans)


def load_annotations(path: str | Path) -> list[Annotation]:
    """One JSON object per line; blank lines are skipped.  Errors name the file and line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise VmrError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise VmrError(f"{path}: not UTF-8 text") from exc
    annotations = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise VmrError(f"{where}: not valid JSON: {exc.msg}") from exc
        if not isinstance(record, dict):
            raise VmrError(f"{where}: expected a JSON object")
        missing = [key for key in ("qid", "query", "vid", "relevant_windows") if key not in record]
        if missing:
            raise VmrError(f"{where}: missing {', '.join(missing)}")
        query, vid = record["query"], record["vid"]
        kind, granularity, language = (record.get(k) for k in ("kind", "granularity", "language"))
        if not isinstance(query, str) or not query.strip():
            raise VmrError(f"{where}: query must be a non-empty string")
        if not isinstance(vid, str) or not vid:
            raise VmrError(f"{where}: vid must be a non-empty string")
        for name, value in (("kind", kind), ("granularity", granularity), ("language", language)):
            if value is not None and not isinstance(value, str):
                raise VmrError(f"{where}: {name} must be a string")
        try:
            windows = _windows(record["relevant_windows"])
        except ValueError:
            raise VmrError(f"{where}: relevant_windows must be a list of [start, end] "
                           "with 0 <= start < end") from None
        annotations.append(Annotation(record["qid"], query, vid, windows, kind, where,
                                      granularity, language))
    if not annotations:
        raise VmrError(f"{path}: no annotations")
    return annotations


def _video_ids(library: Library, annotations: list[Annotation]) -> list[int]:
    """The indexed video each annotation's vid names: the one whose file stem it is."""
    by_stem: dict[str, list] = {}
    for video in library.info().videos:
        by_stem.setdefault(Path(video.path).stem, []).append(video)
    ids = []
    for a in annotations:
        found = by_stem.get(a.vid, [])
        if not found:
            raise VmrError(f"{a.where}: vid {a.vid!r} matches no indexed video (vmr index it first)")
        if len(found) > 1:
            raise VmrError(f"{a.where}: vid {a.vid!r} matches {len(found)} indexed videos: "
                           + ", ".join(v.path for v in found))
        ids.append(found[0].video_id)
    return ids


def evaluate(library: Library, annotations: list[Annotation], k: int = 10) -> EvalReport:
    if k < MIN_K:
        raise VmrError(f"eval needs -k of at least {MIN_K} (R@5 reads the top 5), not {k}")
    video_ids = _video_ids(library, annotations)
    found = library.search_many([a.query for a in annotations], k)
    results = [
        QueryResult(a, tuple(moments), tuple(TimeSpan(m.start, m.end) if m.video_id == video_id else None
                                             for m in moments))
        for a, video_id, moments in zip(annotations, video_ids, found)
    ]
    return EvalReport(k, summarize(results), by_kind(results), results,
                      by_granularity(results), by_language(results))
