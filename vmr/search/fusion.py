"""Query -> moments: encode, score every clip per channel, fuse, aggregate over temporal windows,
keep the best non-overlapping windows, and describe each as a playable moment."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from vmr import lexical
from vmr.encoders import TextEncoder
from vmr.errors import QueryError
from vmr.index import SLIDES, SPEECH
from vmr.lexical import Query
from vmr.links import moment_link
from vmr.store import SlideText, Video, Word
from vmr.timecode import TimeSpan
from vmr.vectors import ChannelMatrix, ClipMatrix

# Windows ranked per moment wanted: spares for those that snap onto a moment already found.
SPARE_WINDOWS = 4
# Exact rerank pool of the binary prefilter: 0.5% of the clips, at least this many. The
# windows found are then ranked again on exact scores (kernels.refine_windows), which took
# window recall@10 from 0.94 to 0.997 at a million clips (bench/kernels_bench.py).
PREFILTER_CANDIDATES = 4096
LEXICAL = "lexical"
# Subtracted from the clips that lack a query's phrase (where some clip has it), so that its
# windows keep to the sentences that hold the phrase.
PHRASE_PENALTY = 1.0
# A query of this many words or more, found word for word in a sentence, is taken as a quote;
# one word in this many may differ (a misremembered word, or one Whisper misheard).
QUOTE_TOKENS = 3
QUOTE_WORDS_PER_EDIT = 5
# A phrase of this many words or more is a quote, whose moment is the sentence that says it; a
# shorter one (a name, a date) is a term, whose moment is the sentence or passage about it.
QUOTE_SPAN_TOKENS = 5
# A "sentence" longer than this is mostly two or three that Whisper joined with commas: a quote
# in it ends with its clause, at the next word that ends in one of CLAUSE_END.
RUN_ON_SECONDS = 10.0
CLAUSE_END = re.compile(r"[,;:.?!][\"')\]]*$")


@dataclass(frozen=True)
class SearchOptions:
    k: int = 10
    # Window lengths in seconds: a quote is a sentence, a topic a passage of half a minute.
    window_seconds: tuple[float, ...] = (4.0, 6.0, 8.0, 12.0, 16.0, 20.0, 24.0, 30.0)
    mode: str = "mean"
    # A mean favours the shortest window around a peak; this much score per doubling of the
    # window's length lets a passage that stays relevant win over its best sentence.
    length_bonus: float = 0.065
    # Windows of one video may share at most this fraction of the shorter one.
    max_overlap: float = 0.3
    # Per-channel weights for fusion; a clip missing a channel is scored on the others.
    # Frames weigh less than speech: lecture queries are about what is said, and CLIP reads the
    # text on slides poorly. No CLIP-family weights were at hand to tune this; 0.1 is the largest
    # weight at which frames of pure noise (random CLIP and SigLIP) left the sample's ranking as
    # it was. Clips without speech are scored on their frames alone, whatever the weight.
    channel_weights: dict[str, float] = field(
        default_factory=lambda: {"speech": 1.0, "slides": 1.0, "visual": 0.1})
    # Channels on another scale than the reference (CLIP text-image cosines crowd into a narrow
    # band near 0.25, image-image ones near 0.9, MiniLM's spread over 0-0.9) are mapped, per
    # query, so that their median and best clips score what the reference's do (or 0 and 1 when
    # the query has no reference channel, as an image alone).
    rescale: tuple[str, ...] = ("visual",)
    reference_channel: str = "speech"
    # Weight of the lexical (BM25) channel in the same fusion; 0 turns it off.
    # These three were tuned together on the samples (README, "Ranking"): a plateau, not a peak.
    lexical_weight: float = 0.25
    # Moment edges move to sentence starts and ends (a slide's moment to the slide's span),
    # by at most snap_seconds (one clip).
    snap: bool = True
    snap_seconds: float = 2.0


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


@dataclass(frozen=True)
class ClipScores:
    """Per query and clip: the fused score that windows are ranked on, and each evidence
    (dense channels by name, lexical fields as "lexical.speech" / "lexical.slides")."""

    fused: np.ndarray  # float32 [Q, N]
    parts: dict[str, np.ndarray]  # float32 [Q, N] each
    present: dict[str, np.ndarray]  # bool [N] each dense channel
    # Per query: the lexical documents holding its phrase, where one does: its quoted phrases,
    # or else the whole query said (almost) word for word, a quote; None otherwise.
    phrase_docs: list[np.ndarray | None]
    quoted: list[bool]  # the phrase was in double quotes: every moment must hold it
    # Per query with phrase documents: bool [N], the clips they cover (the others are penalised),
    # and the tokens those documents say (the quoted phrase, or the whole query).
    phrase_rows: list[np.ndarray | None] = field(default_factory=list)
    phrases: list[list[str] | None] = field(default_factory=list)
    # How they were fused, so that rows scored again exactly fuse alike (`exact_scores_at`):
    # the fused channels (dense ones, then LEXICAL), their weights, and per dense channel and
    # query the linear map onto the reference channel's scale.
    names: list[str] = field(default_factory=list)
    weights: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    slope: dict[str, np.ndarray] = field(default_factory=dict)  # float32 [Q] each
    intercept: dict[str, np.ndarray] = field(default_factory=dict)


def validate(query: str, k: int) -> str:
    query = query.strip()
    if not query:
        raise QueryError("empty query: type what you are looking for")
    check_k(k)
    return query


def check_k(k: int) -> None:
    if k < 1:
        raise QueryError(f"-k must be a positive number of results, not {k}")


def clip_scores(matrix: ClipMatrix, query_vectors: dict[str, np.ndarray], queries: list[Query],
                options: SearchOptions) -> ClipScores:
    """Fused per-clip scores for a batch of queries (one vector per query and model; a channel
    whose model has none is left out): the dense channels and the lexical channel go through
    one weighted fusion, before any window is formed; all zero where no clip has a channel."""
    import kernels

    n_queries, n = len(queries), matrix.clip_count
    names = [name for name, channel in matrix.channels.items()
             if options.channel_weights.get(name, 0.0) > 0 and channel.model in query_vectors]
    parts = {name: channel_scores(matrix.channels[name], query_vectors[matrix.channels[name].model])
             for name in names}
    present = {name: np.asarray(matrix.channels[name].present) for name in names}
    slope, intercept = rescaling(names, parts, present, n_queries, options)
    for name in slope:
        parts[name] = (slope[name][:, None] * parts[name] + intercept[name][:, None]).astype(np.float32)
    phrase_docs = [phrase_documents(matrix, query) if options.lexical_weight > 0 or query.phrases else None
                   for query in queries]
    rows_present = [present[name] for name in names]
    weights = [options.channel_weights[name] for name in names]
    fused_names = list(names)
    if matrix.lexical is not None and options.lexical_weight > 0:
        fields = np.stack([matrix.lexical.clip_scores(q, n) for q in queries], axis=1)  # [F, Q, N]
        for name, scores in zip(lexical.FIELDS, fields):
            parts[f"lexical.{name}"] = scores
        if rows_present:
            # Lexical scores count where a clip has text at all, and zero there is evidence.
            fused_names.append(LEXICAL)
            parts[LEXICAL] = fields.sum(axis=0)
            rows_present.append(np.logical_or.reduce(rows_present))
            weights.append(options.lexical_weight)
    fused = np.zeros((n_queries, n), dtype=np.float32)
    weights = np.array(weights, dtype=np.float32)
    if fused_names:
        stacked_present = np.stack(rows_present)
        for q in range(n_queries):
            fused[q] = kernels.fuse_channels(np.stack([parts[name][q] for name in fused_names]),
                                             stacked_present, weights)
    phrase_rows = [None if docs is None else matrix.lexical.rows_of(docs, n) for docs in phrase_docs]
    for q, rows in enumerate(phrase_rows):
        if rows is not None:  # windows keep to the clips that hold the phrase
            fused[q, ~rows] -= PHRASE_PENALTY
    phrases = [None if docs is None else (query.phrases[0] if query.phrases else query.tokens)
               for docs, query in zip(phrase_docs, queries)]
    return ClipScores(fused, parts, present, phrase_docs, [bool(q.phrases) for q in queries],
                      phrase_rows, phrases, fused_names, weights, slope, intercept)


def rescaling(names: list[str], parts: dict[str, np.ndarray], present: dict[str, np.ndarray],
              n_queries: int, options: SearchOptions) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per rescaled channel, the per-query slope and intercept that map its median clip to the
    reference channel's median and its best to the reference's best (0 and 1 without one)."""
    low, high = np.zeros(n_queries, np.float32), np.ones(n_queries, np.float32)
    ref = options.reference_channel
    if ref in names and present[ref].any():
        low, high = anchors(parts[ref], present[ref])
    slope, intercept = {}, {}
    for name in names:
        if name in options.rescale and present[name].any():  # (a shard may hold none of its clips)
            median, best = anchors(parts[name], present[name])
            spread = best - median
            slope[name] = np.divide(high - low, spread, out=np.zeros_like(spread), where=spread > 1e-6)
            intercept[name] = low - median * slope[name]
    return slope, intercept


def anchors(scores: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per query [Q]: the median and the best score over the clips the channel is present on."""
    found = scores[:, present]
    return np.median(found, axis=1), found.max(axis=1)


def exact_scores_at(matrix: ClipMatrix, rows: np.ndarray, query_vectors: dict[str, np.ndarray],
                    scores: ClipScores, q: int) -> np.ndarray:
    """Query q's fused scores of the given rows, with the dense channels scored again from the
    exact copies where the scan was approximate: what `clip_scores` gives without quantisation."""
    import kernels

    if not scores.names:
        return np.zeros(len(rows), dtype=np.float32)
    values, present = [], []
    for name in scores.names:
        if name == LEXICAL:
            values.append(scores.parts[LEXICAL][q][rows])
            present.append(np.logical_or.reduce(present))
            continue
        channel = matrix.channels[name]
        stored, scales = (channel.exact, None) if channel.approximate else (channel.vectors, channel.scales)
        exact = kernels.scores_at(rows, stored, scales, query_vectors[channel.model][q])
        if name in scores.slope:
            exact = scores.slope[name][q] * exact + scores.intercept[name][q]
        values.append(exact.astype(np.float32))
        present.append(np.asarray(channel.present)[rows])
    fused = kernels.fuse_channels(np.stack(values), np.stack(present), scores.weights)
    holding = scores.phrase_rows[q]
    if holding is not None:
        fused[~holding[rows]] -= PHRASE_PENALTY
    return fused


def phrase_documents(matrix: ClipMatrix, query: Query) -> np.ndarray | None:
    """The documents holding the query's quoted phrases; or, for a query of a few words or more
    said (almost) word for word, a quote, the sentences that say it."""
    if matrix.lexical is None:
        return None
    if query.phrases:
        docs = matrix.lexical.phrase_documents(query.phrases)
    elif len(query.tokens) >= QUOTE_TOKENS:
        docs = matrix.lexical.phrase_documents([query.tokens], field=SPEECH,
                                               max_edits=len(query.tokens) // QUOTE_WORDS_PER_EDIT)
    else:
        return None
    return docs if len(docs) else None


def channel_scores(channel: ChannelMatrix, queries: np.ndarray) -> np.ndarray:
    """Cosine of every clip [Q, N]: through the binary prefilter where the library built codes,
    else one exact scan (batched when there are several queries)."""
    import kernels

    if channel.codes is not None:
        candidates = max(PREFILTER_CANDIDATES, len(channel.present) // 200)
        codes = kernels.pack_sign_bits(queries)
        return np.stack([
            kernels.prefiltered_scores(channel.codes, code, channel.vectors, channel.scales, query, candidates)
            for code, query in zip(codes, queries)
        ])
    if len(queries) == 1:
        return kernels.cosine_scores(channel.vectors, queries[0], channel.scales)[None, :]
    return kernels.cosine_scores_batch(channel.vectors, queries, channel.scales)


def window_lengths(matrix: ClipMatrix, seconds: tuple[float, ...]) -> np.ndarray:
    """Window lengths in clips, from the library's typical clip length (a video's last clip,
    or a whole video shorter than one clip, is shorter than the rest)."""
    sample = slice(0, 4096)
    clip_seconds = float(np.median(matrix.ends[sample] - matrix.starts[sample])) if matrix.clip_count else 2.0
    return np.unique(np.maximum(1, np.round(np.array(seconds) / max(clip_seconds, 1e-6)))).astype(np.int64)


Windows = tuple[np.ndarray, np.ndarray, np.ndarray]  # first rows, stop rows, scores; best first


def ranked_windows(matrix: ClipMatrix, scores: np.ndarray, options: SearchOptions,
                   rescore: Callable[[np.ndarray], np.ndarray] | None = None,
                   lengths: np.ndarray | None = None) -> Windows:
    """The best non-overlapping windows, best first. With `rescore` (rows -> exact fused
    scores), windows found on approximate scores are ranked again on exact ones around them.
    `lengths`: window lengths in clips when the matrix is a shard of a larger one."""
    import kernels

    if lengths is None:
        lengths = window_lengths(matrix, options.window_seconds)
    window_options = dict(
        mode=options.mode, max_overlap=options.max_overlap,
        length_bonus=(options.length_bonus * np.log2(lengths)).astype(np.float32),
    )
    offsets = np.asarray(matrix.video_offsets)
    if rescore is not None and any(c.approximate for c in matrix.channels.values()):
        return kernels.refine_windows(scores, offsets, lengths, options.k, rescore, **window_options)
    return kernels.top_windows(scores, offsets, lengths, options.k, **window_options)


def search_windows(matrix: ClipMatrix, query_vectors: dict[str, np.ndarray], queries: list[Query],
                   options: SearchOptions, lengths: np.ndarray | None = None) -> list[Windows]:
    """Per query, the best windows: scored, fused, ranked, and refined on exact scores (what
    a shard returns; moments() also snaps edges and explains each)."""
    if matrix.clip_count == 0:
        return [(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32))] * len(queries)
    scores = clip_scores(matrix, query_vectors, queries, options)
    return [ranked_windows(matrix, scores.fused[q], options,
                           lambda rows, q=q: exact_scores_at(matrix, rows, query_vectors, scores, q), lengths)
            for q in range(len(queries))]


def warm_up(matrix: ClipMatrix) -> None:
    """Run the search kernels once on the library's own arrays, so that Numba compiles (and
    caches) them now, at the end of an index run, rather than in the user's first search."""
    dims = {c.model: c.vectors.shape[1] for c in matrix.channels.values()}
    probe = {model: np.ones((1, dim), dtype=np.float32) for model, dim in dims.items()}
    search_windows(matrix, probe, [lexical.parse_query("warm up")], SearchOptions())


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
    flat = [(i, token) for i, word in enumerate(said) for token in lexical.tokens(word.text)]
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


def encode_queries(encoders: dict[str, TextEncoder], queries: list[str]) -> dict[str, np.ndarray]:
    return {model: encoder.encode(queries) for model, encoder in encoders.items()}
