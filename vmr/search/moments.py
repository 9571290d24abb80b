"""Windows -> moments: edges snapped to sentences and slides, the size fitted to what answers
(a slide's time on screen, a quote's sentence, a spoken peak, a whole chapter asked about), and
the text that explains each.
Everything here reads the search build alone, so a shard shapes its moments as one process does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np

from vmr.channels import Channel
from vmr.search import lexical
from vmr.search.build import SearchBuild
from vmr.search.fusion import ClipScores, FusionPlan
from vmr.search.options import SearchOptions
from vmr.search.windows import Windows
from vmr.timecode import TimeSpan

SPEECH, SLIDES, PASSAGE, CHAPTER = Channel.SPEECH, Channel.SLIDES, Channel.PASSAGE, Channel.CHAPTER
# The sources a moment's size comes from, smallest first.
SOURCES = (SPEECH, SLIDES, PASSAGE, CHAPTER)
# Windows ranked per moment wanted: spares for those that snap onto a moment already found.
SPARE_WINDOWS = 4
# A phrase of this many words or more is a quote, whose moment is the sentence that says it; a
# shorter one (a name, a date) is a term, whose moment is the sentence or passage about it.
QUOTE_SPAN_TOKENS = 5
# A "sentence" longer than this is mostly two or three that Whisper joined with commas: a quote
# in it ends with its clause, at the next word that ends in one of CLAUSE_END.
RUN_ON_SECONDS = 10.0
CLAUSE_END = re.compile(r"[,;:.?!][\"')\]]*$")

# Where a moment came from among all ranked windows: (-score, first row, stop row) of the whole
# build, so the moments of several parts merge in the order one process finds them.
Rank = tuple[float, int, int]


@dataclass(frozen=True)
class Moment(TimeSpan):
    """A stretch of one video that answers a query."""

    video: str  # absolute path
    video_id: int
    score: float
    text: str  # why it matched: what was said (in a passage or chapter, at its peak), or the slide's text
    link: str
    why: str = SPEECH  # "speech" (a sentence or a peak), "slides", "passage" or "chapter"
    speech_text: str = ""  # the words spoken inside the moment
    slide_text: str = ""  # the text on screen at its best clip ("" for none)
    frame: float = 0.0  # the time of the frame that shows it best (its best clip's keyframe)
    # The score on a scale shared by every query: its gain over the library's mean clip for this
    # query (`vmr.search.confidence`); and whether that is too low to trust.
    confidence: float = 0.0
    weak: bool = False  # only the closest thing found, not a confident answer


class Moments(list[Moment]):
    """A query's moments, best first, with what the search build they came from had to go
    without (`SearchBuild.problems`). The problems travel with the result rather than in the
    Library, so searches running at once (`vmr serve`) never read each other's; to JSON and
    in comparisons it is the list."""

    def __init__(self, moments: Iterable[Moment] = (), problems: Iterable[str] = ()):
        super().__init__(moments)
        self.problems = tuple(problems)


def shape(build: SearchBuild, scores: ClipScores, fusion: FusionPlan, q: int, windows: Windows,
          options: SearchOptions) -> list[tuple[Rank, Moment]]:
    """Query q's windows (best first, rows of this build) as at most k moments, each with its
    rank among all windows: edges snapped, and the text that explains each (the slide's, where
    the slide evidence outweighs the speech evidence). Windows that snap onto a moment already
    found (one slide's span, one sentence) give way to the next. Moments have no path yet."""
    fused = scores.fused[q]
    # A quoted query's moments hold the phrase: none where no document of this part says it.
    must_hold = (scores.phrase_docs[q] if scores.phrase_docs[q] is not None else np.zeros(0, np.int64)) \
        if scores.quoted[q] else None
    margins = {**options.size_margin, **fusion.sizing}
    found: list[tuple[Rank, Moment]] = []
    for first, stop, value in zip(*windows):
        if len(found) == options.k:
            break
        first, stop = int(first), int(stop)
        rank = (-float(value), first + build.first_row, stop + build.first_row)
        video = build.video_at(first)
        found_by = evidence(scores, fusion, q, first, stop, options)
        best = first + int(np.argmax(fused[first:stop]))
        slide = slide_at(build, video, float(build.starts[best] + build.ends[best]) / 2)
        units = {SLIDES: slide, PASSAGE: unit_at(build, video, PASSAGE, best), CHAPTER: unit_at(build, video, CHAPTER, best)}
        quoted = scores.phrase_docs[q] is not None and len(scores.phrases[q]) >= QUOTE_SPAN_TOKENS
        if quoted:  # words said word for word: their sentence (or the slide that shows them)
            units[PASSAGE] = units[CHAPTER] = None
        for source in (PASSAGE, CHAPTER):
            if source not in scores.parts:  # not scored (a picture with no words): no say in the size
                units[source] = None
        why = choose_size(found_by, units, margins)
        start, end = float(build.starts[first]), float(build.ends[stop - 1])
        if options.snap and why != SPEECH:
            start, end = float(build.lexical.doc_start[units[why]]), float(build.lexical.doc_end[units[why]])
        elif options.snap:
            quote = None if scores.phrase_docs[q] is None else quote_span(
                build, video, scores.phrases[q][build.lexical.language_of(video)], scores.phrase_docs[q],
                TimeSpan(start, end))
            if quote is None:
                start, end = spoken_peak(build, fused, first, stop, best, video, options)
            else:
                start, end = quote
        span = TimeSpan(start, end)
        if must_hold is not None and not holds(build.lexical, must_hold, video, span):
            continue  # a quoted query's moments hold the phrase
        if any(m.video_id == build.video_ids[video] and span.intersection(m)
               > options.max_overlap * min(span.duration, m.duration) for _, m in found):
            continue
        spoken = build.said(video, start, end)
        slide_text = build.lexical.doc_text[slide] if slide is not None else ""
        text = slide_text if why == SLIDES else spoken
        if why in (PASSAGE, CHAPTER):  # the whole unit answers; what its peak says is why
            text = build.said(video, *spoken_peak(build, fused, first, stop, best, video, options)) or spoken
        moment = Moment(start, end, video="", video_id=int(build.video_ids[video]), score=float(value),
                        text=text, link="", why=why, speech_text=spoken,
                        slide_text=slide_text, frame=frame(build, video, best, span))
        found.append((rank, moment))
    return found


def choose_size(found_by: dict[str, float], units: dict[str, int | None], margins: dict[str, float]) -> str:
    """The slide on screen where its evidence beats the speech's (as before passages and
    chapters); else the unit whose evidence is strongest among the sentence, its passage and
    its chapter, each larger one needing its margin more (`SearchOptions.size_margin`, or the
    text model's where chapters only size moments): a query that matches one sentence gets the
    sentence."""
    if units.get(SLIDES) is not None and found_by[SLIDES] - margins.get(SLIDES, 0.0) > found_by[SPEECH]:
        return SLIDES  # what is shown answers: the slide's time on screen
    why, best = SPEECH, found_by[SPEECH]
    for source in (PASSAGE, CHAPTER):
        if units.get(source) is not None and source in found_by:
            margin = margins.get(source, 0.0)
            if found_by[source] - margin > best:
                why, best = source, found_by[source] - margin
    return why


def unit_at(build: SearchBuild, video: int, field: str, row: int) -> int | None:
    """The passage (the one around the sentence said in the clip) or chapter document of the
    video at this position that holds clip `row`; None where there is none."""
    index = build.lexical
    docs = index.documents_of(video, field)
    if docs.stop <= docs.start:
        return None
    start, end = float(build.starts[row]), float(build.ends[row])
    if field == PASSAGE:
        sentences = index.documents_of(video, SPEECH)
        if sentences.stop - sentences.start != docs.stop - docs.start:
            return None
        overlap = np.minimum(index.doc_end[sentences], end) - np.maximum(index.doc_start[sentences], start)
        if not len(overlap) or overlap.max() <= 0:
            return None
        return docs.start + int(np.argmax(overlap))
    middle = (start + end) / 2
    starts = index.doc_start[docs]
    i = max(0, int(np.searchsorted(starts, middle, side="right")) - 1)
    return docs.start + i


def frame(build: SearchBuild, video: int, best: int, span: TimeSpan) -> float:
    """The keyframe of the best clip, if it lies in the moment; else that of the moment's
    middle clip."""
    keyframe = float(build.keyframes[best])
    if span.start <= keyframe <= span.end:
        return keyframe
    first, stop = build.video_rows(video)
    row = first + int(np.searchsorted(build.ends[first:stop], (span.start + span.end) / 2, side="right"))
    return float(build.keyframes[min(row, stop - 1)])


def slide_at(build: SearchBuild, video: int, seconds: float) -> int | None:
    """The slide document (a slide with text) on screen at this time, if any."""
    docs = build.lexical.documents_of(video, SLIDES)
    starts = build.lexical.doc_start[docs]
    i = int(np.searchsorted(starts, seconds, side="right")) - 1
    if i < 0 or build.lexical.doc_end[docs.start + i] <= seconds:
        return None
    return docs.start + i


def spoken_peak(build: SearchBuild, fused: np.ndarray, first: int, stop: int, best: int, video: int,
                options: SearchOptions) -> tuple[float, float]:
    """The window's peak (`peak_extent`) in seconds, its edges snapped to sentences."""
    peak = peak_extent(fused, first, stop, best, build.video_rows(video))
    return snap_to_sentences(build, video, float(build.starts[peak[0]]), float(build.ends[peak[1] - 1]),
                             options.snap_seconds)


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


def quote_span(build: SearchBuild, video: int, phrase: list[str], docs: np.ndarray,
               window: TimeSpan) -> tuple[float, float] | None:
    """A phrase said (almost) word for word, in the sentence that most overlaps the window (of
    the video at this position): that sentence, or in a run-on one, from its start to the end
    of the clause where the phrase ends. None if no sentence says it, or the phrase is too
    short to be a quote."""
    if len(phrase) < QUOTE_SPAN_TOKENS:
        return None
    index = build.lexical
    docs = docs[index.doc_field[docs] == lexical.FIELDS.index(SPEECH)]
    docs, overlap = overlaps(index, docs, video, window)
    if not len(docs) or overlap.max() <= 0:
        return None
    doc = int(docs[np.argmax(overlap)])
    if index.doc_end[doc] - index.doc_start[doc] <= RUN_ON_SECONDS:
        return float(index.doc_start[doc]), float(index.doc_end[doc])
    tokens = slice(int(index.token_offsets[doc]), int(index.token_offsets[doc + 1]))
    # Phrase words the index never saw match nothing: each its own negative id.
    wanted = [index.vocab.get(token, -1 - i) for i, token in enumerate(phrase)]
    begin, stop = lexical.matched_run(wanted, list(index.token_ids[tokens]))
    if stop <= begin:
        return None
    last = int(index.token_word[tokens.start + stop - 1])
    if last < 0:  # a translated sentence: no words of its own to end the clause at
        return float(index.doc_start[doc]), float(index.doc_end[doc])
    said = build.words_in(video, float(index.doc_start[doc]), float(index.doc_end[doc]) + 1e-3)
    while last < said.stop - 1 and not CLAUSE_END.search(build.word_text[last].strip()):
        last += 1
    return float(index.doc_start[doc]), float(build.word_end[last])


def holds(index: lexical.LexicalIndex, docs: np.ndarray, video: int, span: TimeSpan) -> bool:
    """Whether the span (of the video at this position) and one of the documents mostly
    overlap: most of a sentence said in it, or most of it under a slide."""
    docs, overlap = overlaps(index, docs, video, span)
    return bool((overlap >= 0.5 * np.minimum(index.doc_end[docs] - index.doc_start[docs], span.duration)).any())


def overlaps(index: lexical.LexicalIndex, docs: np.ndarray, video: int,
             span: TimeSpan) -> tuple[np.ndarray, np.ndarray]:
    """The documents of the video at this position, and the seconds each shares with the span
    (negative: the gap between them)."""
    docs = index.of_video(docs, video)
    return docs, np.minimum(index.doc_end[docs], span.end) - np.maximum(index.doc_start[docs], span.start)


def evidence(scores: ClipScores, fusion: FusionPlan, q: int, first: int, stop: int,
             options: SearchOptions) -> dict[str, float]:
    """How much each source (speech, slides, passage, chapter) did for rows [first, stop): its
    dense channel's gain over that channel's mean (all on one scale), plus its lexical field's
    weighted best score."""
    found = {}
    if options.evidence == "cosine":
        return cosine_evidence(scores, fusion, q, first, stop, options)
    for source in SOURCES:
        lexical_part = scores.parts.get(f"lexical.{source}")
        found[source] = options.lexical_weight * float(lexical_part[q][first:stop].max()) if lexical_part is not None else 0.0
        if source in fusion.baseline:
            values = scores.parts[source][q][first:stop]
            level = float(values.max()) if options.evidence == "max" and source != SLIDES else float(values.mean())
            gain = level - float(fusion.baseline[source][q])
            found[source] += gain  # each channel on the speech channel's scale (fusion.plan)
    return found


def cosine_evidence(scores: ClipScores, fusion: FusionPlan, q: int, first: int, stop: int,
                    options: SearchOptions) -> dict[str, float]:
    """Speech against its larger units on their own cosines, in the window's best clip of each:
    a passage or chapter whose text as a whole matches the query better than its best sentence
    is what the query asks about. Slides against speech as in `evidence`."""
    found = evidence(scores, fusion, q, first, stop, replace(options, evidence="mean"))
    for source in (SPEECH, PASSAGE, CHAPTER):
        part = scores.parts.get(f"raw.{source}", scores.parts.get(source))
        if part is not None and source in fusion.baseline:
            found[source] = float(part[q][first:stop].max())
    if SLIDES in found and SPEECH in found:  # slides compete with speech as before
        found[SLIDES] = found[SLIDES] - evidence(scores, fusion, q, first, stop, replace(options, evidence="mean"))[SPEECH] \
            + found[SPEECH]
    return found


def snap_to_sentences(build: SearchBuild, video: int, start: float, end: float,
                      reach: float) -> tuple[float, float]:
    """Edges on the nearest sentence start and end within `reach` seconds; an edge with none
    that near moves onto a word boundary, out of any silence."""
    docs = build.lexical.documents_of(video, SPEECH)
    starts, ends = build.lexical.doc_start[docs], build.lexical.doc_end[docs]
    near = starts[(np.abs(starts - start) <= reach) & (starts < end)]
    new_start = float(near[np.argmin(np.abs(near - start))]) if len(near) else None
    near = ends[(np.abs(ends - end) <= reach) & (ends > start)]
    new_end = float(near[np.argmin(np.abs(near - end))]) if len(near) else None
    if new_start is None or new_end is None:
        inside = build.words_in(video, start, end)
        if inside.stop > inside.start:
            new_start = float(build.word_start[inside.start]) if new_start is None else new_start
            new_end = float(build.word_end[inside.stop - 1]) if new_end is None else new_end
    new_start = start if new_start is None else new_start
    new_end = end if new_end is None else new_end
    return (new_start, new_end) if new_start < new_end else (start, end)
