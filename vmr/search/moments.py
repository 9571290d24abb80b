"""Windows -> moments: edges snapped to sentences and slides, the size fitted to what answers
(a slide's time on screen, a quote's sentence, a spoken peak), and the text that explains each."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from vmr.catalogue.store import SlideText, Video, Word
from vmr.channels import Channel
from vmr.language import tokens
from vmr.search import lexical
from vmr.search.fusion import ClipScores, exact_scores_at
from vmr.search.links import moment_link
from vmr.search.matrices import ClipMatrix
from vmr.search.options import SearchOptions
from vmr.search.windows import ranked_windows
from vmr.timecode import TimeSpan

SPEECH, SLIDES = Channel.SPEECH, Channel.SLIDES
# Windows ranked per moment wanted: spares for those that snap onto a moment already found.
SPARE_WINDOWS = 4
# A phrase of this many words or more is a quote, whose moment is the sentence that says it; a
# shorter one (a name, a date) is a term, whose moment is the sentence or passage about it.
QUOTE_SPAN_TOKENS = 5
# A "sentence" longer than this is mostly two or three that Whisper joined with commas: a quote
# in it ends with its clause, at the next word that ends in one of CLAUSE_END.
RUN_ON_SECONDS = 10.0
CLAUSE_END = re.compile(r"[,;:.?!][\"')\]]*$")


@dataclass(frozen=True)
class Moment:
    video: str  # absolute path
    video_id: int
    start: float
    end: float
    score: float
    text: str  # why it matched: what was said, or the slide's text when the slide matched
    link: str
    why: str = SPEECH  # "speech" or "slides"
    speech_text: str = ""  # the words spoken inside the moment
    slide_text: str = ""  # the text on screen at its best clip ("" for none)

    def to_json(self) -> dict:
        return {
            "video": self.video, "video_id": self.video_id, "start": round(self.start, 3),
            "end": round(self.end, 3), "score": round(self.score, 4), "text": self.text,
            "link": self.link, "why": self.why, "speech_text": self.speech_text,
            "slide_text": self.slide_text,
        }


def describe(session: Session, matrix: ClipMatrix, starts: np.ndarray, stops: np.ndarray,
             values: np.ndarray) -> list[Moment]:
    """Ranked windows (matrix rows) as moments on the clip grid, with the words said (sharded
    search: the shards hold no lexical index, so there is no snapping)."""
    found: list[Moment] = []
    for first, stop, value in zip(starts, stops, values):
        video_id = matrix.video_of_row(int(first))
        video = session.get(Video, video_id)
        if video is None:  # removed since the matrices were built
            continue
        start, end = float(matrix.starts[first]), float(matrix.ends[stop - 1])
        spoken = spoken_text(session, video_id, start, end)
        found.append(Moment(video=video.path, video_id=video_id, start=start, end=end, score=float(value),
                            text=spoken, link=moment_link(Path(video.path), start, end), speech_text=spoken))
    return found


def moments(session: Session, matrix: ClipMatrix, scores: ClipScores, q: int, options: SearchOptions,
            query_vectors: dict[str, np.ndarray] | None = None) -> list[Moment]:
    """The best windows for query `q`, as moments: edges snapped, and the text that explains
    each (the slide's, where the slide evidence outweighs the speech evidence). Windows that
    snap onto a moment already found (one slide's span, one sentence) give way to the next."""
    if matrix.clip_count == 0:
        return []
    rescore = None if query_vectors is None else (
        lambda rows: exact_scores_at(matrix, rows, query_vectors, scores, q))
    starts, stops, values = ranked_windows(matrix, scores.fused[q], replace(options, k=SPARE_WINDOWS * options.k),
                                           rescore)
    must_hold = scores.phrase_docs[q] if scores.quoted[q] else None
    baseline = {name: float(scores.parts[name][q][rows].mean()) if rows.any() else 0.0
                for name, rows in scores.present.items()}
    found: list[Moment] = []
    for first, stop, value in zip(starts, stops, values):
        if len(found) == options.k:
            break
        first, stop = int(first), int(stop)
        video_id = matrix.video_of_row(first)
        video = session.get(Video, video_id)
        if video is None:  # removed since the matrices were built
            continue
        found_by = evidence(scores, q, first, stop, baseline, options)
        best = first + int(np.argmax(scores.fused[q][first:stop]))
        middle = float(matrix.starts[best] + matrix.ends[best]) / 2
        slide = session.scalars(select(SlideText).where(
            SlideText.video_id == video_id, SlideText.start <= middle, SlideText.end > middle)).first()
        why = SLIDES if slide is not None and slide.text and found_by[SLIDES] > found_by[SPEECH] else SPEECH
        start, end = float(matrix.starts[first]), float(matrix.ends[stop - 1])
        if options.snap and why == SLIDES:
            start, end = slide.start, slide.end
        elif options.snap:
            quote = None if scores.phrase_docs[q] is None else quote_span(
                session, matrix, video_id, first, scores.phrases[q], scores.phrase_docs[q], TimeSpan(start, end))
            if quote is None:
                first, stop = peak_extent(scores.fused[q], first, stop, best, matrix.video_rows(first))
                start, end = snap_to_sentences(session, matrix, video_id, first, float(matrix.starts[first]),
                                               float(matrix.ends[stop - 1]), options.snap_seconds)
            else:
                start, end = quote
        span = TimeSpan(start, end)
        if must_hold is not None and not holds(matrix.lexical, must_hold, matrix.video_rows(first), span):
            continue  # a quoted query's moments hold the phrase
        if any(m.video_id == video_id and span.intersection(TimeSpan(m.start, m.end))
               > options.max_overlap * min(span.duration, m.end - m.start) for m in found):
            continue
        spoken = spoken_text(session, video_id, start, end)
        slide_text = slide.text if slide is not None else ""
        found.append(Moment(
            video=video.path, video_id=video_id, start=start, end=end, score=float(value),
            text=slide_text if why == SLIDES else spoken, link=moment_link(Path(video.path), start, end),
            why=why, speech_text=spoken, slide_text=slide_text,
        ))
    return found


def peak_extent(scores: np.ndarray, first: int, stop: int, best: int,
                video_rows: tuple[int, int]) -> tuple[int, int]:
    """The rows of [first, stop) around its best clip that score at least half-way from the
    video's median clip up to that best: the peak's full width at half maximum. A window that
    the length bonus or a slide's span stretched over a passage keeps to the part that answers."""
    cut = (float(np.median(scores[video_rows[0]:video_rows[1]])) + float(scores[best])) / 2
    start, end = best, best + 1
    while start > first and scores[start - 1] >= cut:
        start -= 1
    while end < stop and scores[end] >= cut:
        end += 1
    return start, end


def quote_span(session: Session, matrix: ClipMatrix, video_id: int, row: int, phrase: list[str],
               docs: np.ndarray, window: TimeSpan) -> tuple[float, float] | None:
    """A phrase said (almost) word for word, in the sentence that most overlaps the window (of
    the video at clip `row`): that sentence, or in a run-on one, from its start to the end of
    the clause where the phrase ends. None if no sentence says it, or the phrase is too short
    to be a quote."""
    if len(phrase) < QUOTE_SPAN_TOKENS:
        return None
    index = matrix.lexical
    docs = docs[index.doc_field[docs] == lexical.FIELDS.index(SPEECH)]
    docs, overlap = overlaps(index, docs, matrix.video_rows(row), window)
    if not len(docs) or overlap.max() <= 0:
        return None
    doc = int(docs[np.argmax(overlap)])
    if index.doc_end[doc] - index.doc_start[doc] <= RUN_ON_SECONDS:
        return float(index.doc_start[doc]), float(index.doc_end[doc])
    said = words(session, video_id, float(index.doc_start[doc]), float(index.doc_end[doc]) + 1e-3)
    flat = [(i, token) for i, word in enumerate(said) for token in tokens(word.text)]
    begin, stop = lexical.matched_run(phrase, [token for _, token in flat])
    if stop <= begin:
        return None
    last = flat[stop - 1][0]
    while last < len(said) - 1 and not CLAUSE_END.search(said[last].text.strip()):
        last += 1
    return float(index.doc_start[doc]), float(said[last].end)


def holds(index: lexical.LexicalIndex, docs: np.ndarray, rows: tuple[int, int], span: TimeSpan) -> bool:
    """Whether the span (of the video at clip rows `rows`) and one of the documents mostly
    overlap: most of a sentence said in it, or most of it under a slide."""
    docs, overlap = overlaps(index, docs, rows, span)
    return bool((overlap >= 0.5 * np.minimum(index.doc_end[docs] - index.doc_start[docs], span.duration)).any())


def overlaps(index: lexical.LexicalIndex, docs: np.ndarray, rows: tuple[int, int],
             span: TimeSpan) -> tuple[np.ndarray, np.ndarray]:
    """The documents of the video at clip rows `rows`, and the seconds each shares with the
    span (negative: the gap between them)."""
    docs = docs[(index.doc_first[docs] >= rows[0]) & (index.doc_first[docs] < rows[1])]
    return docs, np.minimum(index.doc_end[docs], span.end) - np.maximum(index.doc_start[docs], span.start)


def evidence(scores: ClipScores, q: int, first: int, stop: int, baseline: dict[str, float],
             options: SearchOptions) -> dict[str, float]:
    """How much each source (speech, slides) did for rows [first, stop): its dense channel's
    weighted gain over that channel's mean, plus its lexical field's weighted best score."""
    found = {}
    for source in (SPEECH, SLIDES):
        lexical_part = scores.parts.get(f"lexical.{source}")
        found[source] = options.lexical_weight * float(lexical_part[q][first:stop].max()) if lexical_part is not None else 0.0
        if source in baseline:
            gain = float(scores.parts[source][q][first:stop].mean()) - baseline[source]
            found[source] += options.channel_weights[source] * gain
    return found


def snap_to_sentences(session: Session, matrix: ClipMatrix, video_id: int, row: int, start: float,
                      end: float, reach: float) -> tuple[float, float]:
    """Edges on the nearest sentence start and end within `reach` seconds; an edge with none
    that near moves onto a word boundary, out of any silence."""
    new_start = new_end = None
    if matrix.lexical is not None:
        docs = matrix.lexical.documents_in(SPEECH, *matrix.video_rows(row))
        starts, ends = matrix.lexical.doc_start[docs], matrix.lexical.doc_end[docs]
        near = starts[(np.abs(starts - start) <= reach) & (starts < end)]
        new_start = float(near[np.argmin(np.abs(near - start))]) if len(near) else None
        near = ends[(np.abs(ends - end) <= reach) & (ends > start)]
        new_end = float(near[np.argmin(np.abs(near - end))]) if len(near) else None
    if new_start is None or new_end is None:
        inside = words(session, video_id, start, end)
        if inside:
            new_start = inside[0].start if new_start is None else new_start
            new_end = inside[-1].end if new_end is None else new_end
    new_start = start if new_start is None else new_start
    new_end = end if new_end is None else new_end
    return (new_start, new_end) if new_start < new_end else (start, end)


def words(session: Session, video_id: int, start: float, end: float) -> list:
    """The words (start, end, text) whose middle lies inside [start, end), in order."""
    middle = (Word.start + Word.end) / 2
    return session.execute(
        select(Word.start, Word.end, Word.text)
        .where(Word.video_id == video_id, middle >= start, middle < end)
        .order_by(Word.start)
    ).all()


def spoken_text(session: Session, video_id: int, start: float, end: float) -> str:
    return " ".join(w.text for w in words(session, video_id, start, end))


