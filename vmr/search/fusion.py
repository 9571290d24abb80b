"""Query -> per-clip scores on one part of a build (all of it in one process, a shard's videos
on a cluster): every clip scored per channel (the kernels' cosine scans, or the sign-bit
prefilter), the lexical channel's BM25 beside them, and one weighted fusion of them per clip.

Whatever must be the same in every part comes from the whole library: the prefilter's
threshold and floor, the linear maps that put a channel on the reference channel's scale, each
channel's mean (the baseline of a moment's evidence), and whether a query's phrase is said
anywhere. Parts report their statistics; `plan` turns the library's totals into a `FusionPlan`
that every part fuses with.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vmr.channels import Channel
from vmr.encode.text import TextEncoder
from vmr.encode.text import encode_queries as encode_query_texts
from vmr.search import lexical
from vmr.search.build import ChannelMatrix, SearchBuild
from vmr.search.lexical import Query
from vmr.search.options import SearchOptions, chapter_size_margin

# Exact rerank pool of the binary prefilter: 0.5% of the library's clips, at least this many.
# The windows found are then ranked again on exact scores (kernels.refine_windows), which took
# window recall@10 from 0.94 to 0.997 at a million clips (bench/kernels_bench.py).
PREFILTER_CANDIDATES = 4096
PREFILTER_SHARE = 200
LEXICAL = Channel.LEXICAL
# Subtracted from the clips that lack a query's phrase (where some clip has it), so that its
# windows keep to the sentences that hold the phrase.
PHRASE_PENALTY = 1.0
# A query of this many words or more, found word for word in a sentence, is taken as a quote;
# one word in this many may differ (a misremembered word, or one Whisper misheard).
QUOTE_TOKENS = 3
QUOTE_WORDS_PER_EDIT = 5


@dataclass(frozen=True)
class Request:
    """A batch of queries, as every part of a build sees it."""

    id: str
    queries: list[Query]
    vectors: dict[str, np.ndarray]  # per model: float32 [Q, D] query vectors
    options: SearchOptions
    lengths: np.ndarray  # window lengths in clips, from the whole library's clip length
    # Videos (ids) no window may come from: their file went missing after the build was made.
    excluded: frozenset[int] = frozenset()

    def channels(self, build: SearchBuild) -> list[ChannelMatrix]:
        """The dense channels this request scores: weighted, or sizing moments, and with a
        query vector."""
        sizing = self.sizing(build)
        return [channel for name, channel in build.channels.items()
                if (self.options.channel_weights.get(name, 0.0) > 0 or name in sizing)
                and channel.model in self.vectors]

    def sizing(self, build: SearchBuild) -> dict[str, float]:
        """The channels scored only to size moments, not fused, each with its margin
        (`moments.choose_size`): the chapters, where the library's text model has one."""
        chapters = build.channels.get(Channel.CHAPTER)
        margin = None if chapters is None else chapter_size_margin(self.options, chapters.model)
        return {} if margin is None else {Channel.CHAPTER: margin}


@dataclass(frozen=True)
class Prefilter:
    """A channel's sign-bit prefilter for the whole library, per query: the Hamming distance
    within which clips are scored exactly, and the floor the others are filled below."""

    threshold: np.ndarray  # int64 [Q]
    floor: np.ndarray  # float32 [Q]


@dataclass(frozen=True)
class ChannelStats:
    """One channel's scores summed up over the clips that have it, per query."""

    total: np.ndarray  # float64 [Q]
    count: int
    best: np.ndarray  # float32 [Q]
    squares: np.ndarray  # float64 [Q]: the sum of the squared scores

    def __add__(self, other: ChannelStats) -> ChannelStats:
        return ChannelStats(self.total + other.total, self.count + other.count, np.maximum(self.best, other.best),
                            self.squares + other.squares)

    @property
    def mean(self) -> np.ndarray:
        return (self.total / max(self.count, 1)).astype(np.float32)

    @property
    def std(self) -> np.ndarray:
        mean = self.total / max(self.count, 1)
        return np.sqrt(np.maximum(self.squares / max(self.count, 1) - mean * mean, 0.0)).astype(np.float32)


@dataclass(frozen=True)
class PartStats:
    channels: dict[str, ChannelStats]
    phrase_found: np.ndarray  # bool [Q]: some document of the part holds the query's phrase

    def __add__(self, other: PartStats) -> PartStats:
        names = self.channels.keys() | other.channels.keys()
        return PartStats({name: self.channels[name] + other.channels[name] if name in self.channels
                          and name in other.channels else self.channels.get(name) or other.channels[name]
                          for name in names}, self.phrase_found | other.phrase_found)


@dataclass(frozen=True)
class FusionPlan:
    """How every part fuses: the fused channels (dense ones, then LEXICAL) and their weights,
    per dense channel and query the linear map onto the reference channel's scale and its
    mean after that map, and per query whether its phrase is said anywhere."""

    names: list[str]
    weights: np.ndarray  # float32 [C]
    slope: dict[str, np.ndarray]  # float32 [Q] each (rescaled channels only)
    intercept: dict[str, np.ndarray]
    baseline: dict[str, np.ndarray]  # float32 [Q]: each dense channel's mean over its clips
    phrase_found: np.ndarray  # bool [Q]
    lexical_fields: tuple[str, ...] = ()  # the fields summed into LEXICAL
    # Channels scored beside the fusion to size moments, each with its margin (Request.sizing).
    sizing: dict[str, float] = field(default_factory=dict)

    def rescale(self, name: str, q: int, scores: np.ndarray) -> np.ndarray:
        if name not in self.slope:
            return scores
        return (self.slope[name][q] * scores + self.intercept[name][q]).astype(np.float32)


@dataclass
class ClipScores:
    """One part's evidence per query and clip (dense channels by name, lexical fields as
    "lexical.speech" / "lexical.slides"), and once fused, the score windows rank on."""

    parts: dict[str, np.ndarray]  # float32 [Q, N] each
    present: dict[str, np.ndarray]  # bool [N] each dense channel
    # Per query: the lexical documents holding its phrase, where one does: its quoted phrases,
    # or else the whole query said (almost) word for word, a quote; None otherwise.
    phrase_docs: list[np.ndarray | None]
    quoted: list[bool]  # the phrase was in double quotes: every moment must hold it
    # and the tokens those documents say (the quoted phrase, or the whole query), in each
    # language of the library
    phrases: list[dict[str, list[str]] | None]
    fused: np.ndarray | None = None  # float32 [Q, N]
    fused_stats: object = None  # confidence.ScoreStats of `fused` before a phrase's penalty
    # Per query whose phrase is said somewhere: bool [N], the clips of documents holding it.
    phrase_rows: list[np.ndarray | None] = field(default_factory=list)


def kernels_for(build: SearchBuild):  # noqa: ANN201 (a module: kernels or kernels.small)
    """The search kernels for this build's library: numpy twins for a small library, where
    loading Numba's compiled kernels would cost a fresh process more than the search."""
    import kernels

    return kernels.for_clips(build.library_clips)


def hamming_histograms(build: SearchBuild, request: Request) -> dict[str, np.ndarray]:
    """Per prefiltered channel: int64 [Q, bits+1], the part's clips at each distance."""
    import kernels

    found = {}
    for channel in request.channels(build):
        if channel.codes is not None:
            codes = kernels.pack_sign_bits(request.vectors[channel.model])
            found[channel.name] = np.stack([kernels.hamming_histogram(channel.codes, code) for code in codes])
    return found


def prefilter_floors(build: SearchBuild, request: Request,
                     thresholds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per prefiltered channel and query, the lowest exact score of the part's candidates."""
    import kernels

    found = {}
    for channel in request.channels(build):
        if channel.name in thresholds:
            queries = request.vectors[channel.model]
            found[channel.name] = np.array([
                kernels.prefilter_floor(channel.codes, kernels.pack_sign_bits(query), channel.vectors,
                                        channel.scales, query, threshold)
                for query, threshold in zip(queries, thresholds[channel.name])], dtype=np.float32)
    return found


def prefilter_thresholds(histograms: dict[str, np.ndarray], library_clips: int) -> dict[str, np.ndarray]:
    """The library's prefilter thresholds from its summed histograms."""
    import kernels

    candidates = max(PREFILTER_CANDIDATES, library_clips // PREFILTER_SHARE)
    return {name: np.array([kernels.prefilter_threshold(h, candidates) for h in hist], dtype=np.int64)
            for name, hist in histograms.items()}


def clip_scores(build: SearchBuild, request: Request,
                prefilter: dict[str, Prefilter]) -> tuple[ClipScores, PartStats]:
    """Per query, every clip's score on each dense channel and lexical field, the phrase
    documents; and the part's statistics for the plan."""
    queries, n = request.queries, build.clip_count
    channels = request.channels(build)
    parts = {c.name: channel_scores(c, request.vectors[c.model], prefilter.get(c.name), build.library_clips)
             for c in channels}
    present = {c.name: np.asarray(c.present) for c in channels}
    stats = {name: ChannelStats(parts[name][:, present[name]].sum(axis=1, dtype=np.float64),
                                int(present[name].sum()),
                                parts[name][:, present[name]].max(axis=1, initial=-np.inf),
                                np.square(parts[name][:, present[name]], dtype=np.float64).sum(axis=1))
             for name in parts}
    if request.options.lexical_weight > 0:
        fields = np.stack([build.lexical.clip_scores(q, n) for q in queries], axis=1)  # [F, Q, N]
        for name, scores in zip(lexical.FIELDS, fields):
            parts[f"lexical.{name}"] = scores
    phrase_docs = [phrase_documents(build, query) if request.options.lexical_weight > 0 or query.quoted else None
                   for query in queries]
    phrases = [None if docs is None else {language: said_phrase(query, language) for language in build.lexical.languages}
               for docs, query in zip(phrase_docs, queries)]
    scores = ClipScores(parts, present, phrase_docs, [bool(q.quoted) for q in queries], phrases)
    return scores, PartStats(stats, np.array([docs is not None for docs in phrase_docs], dtype=bool))


def plan(stats: PartStats, build: SearchBuild, request: Request) -> FusionPlan:
    """The fusion every part applies, from the library's statistics: each rescaled channel's
    mean and best clip mapped onto the reference channel's (0 and 1 without one)."""
    options, n_queries = request.options, len(request.queries)
    scored = [c.name for c in request.channels(build) if stats.channels[c.name].count]
    sizing = {name: margin for name, margin in request.sizing(build).items() if name in scored}
    names = [name for name in scored if name not in sizing]
    low, high = np.zeros(n_queries, np.float32), np.ones(n_queries, np.float32)
    reference = stats.channels.get(options.reference_channel)
    if options.reference_channel in names:
        low, high = reference.mean, reference.best
    slope, intercept = {}, {}
    for name in scored:
        if name in options.rescale:
            mean, best = stats.channels[name].mean, stats.channels[name].best
            spread = best - mean
            slope[name] = np.divide(high - low, spread, out=np.zeros_like(spread), where=spread > 1e-6)
            intercept[name] = low - mean * slope[name]
        elif name in options.standardise and options.reference_channel in names and name != options.reference_channel:
            # the channel's mean and spread onto the reference's: its z-scores on that scale
            mean, std = stats.channels[name].mean, stats.channels[name].std
            slope[name] = np.divide(reference.std, std, out=np.zeros_like(std), where=std > 1e-6)
            intercept[name] = reference.mean - mean * slope[name]
    baseline = {name: slope[name] * stats.channels[name].mean + intercept[name] if name in slope
                else stats.channels[name].mean for name in scored}
    weights = [options.channel_weights[name] for name in names]
    fused = list(names)
    if options.lexical_weight > 0 and names:
        fused.append(LEXICAL)
        weights.append(options.lexical_weight)
    return FusionPlan(fused, np.array(weights, dtype=np.float32), slope, intercept, baseline,
                      stats.phrase_found, tuple(options.lexical_fields), sizing)


def fuse(build: SearchBuild, scores: ClipScores, fusion: FusionPlan) -> None:
    """The fused score of every clip and query (`scores.fused`): the dense channels on their
    planned scales and the lexical channel, weighted, each clip on the channels it has; the
    clips without a query's phrase penalised where the library says it somewhere."""
    kernels = kernels_for(build)

    n_queries, n = len(scores.phrases), build.clip_count
    dense = [name for name in fusion.names if name != LEXICAL]
    for name in fusion.slope:
        scores.parts[f"raw.{name}"] = scores.parts[name]  # the cosines, for a moment's size (moments.evidence)
        scores.parts[name] = np.stack([fusion.rescale(name, q, scores.parts[name][q]) for q in range(n_queries)])
    present = [scores.present[name] for name in dense]
    if LEXICAL in fusion.names:
        # Lexical scores count where a clip has text at all, and zero there is evidence.
        scores.parts[LEXICAL] = sum(scores.parts[f"lexical.{name}"] for name in lexical.FIELDS
                                    if name in fusion.lexical_fields)
        present.append(np.logical_or.reduce(present))
    fused = np.zeros((n_queries, n), dtype=np.float32)
    if fusion.names and n:
        stacked_present = np.stack(present)
        for q in range(n_queries):
            fused[q] = kernels.fuse_channels(np.stack([scores.parts[name][q] for name in fusion.names]),
                                             stacked_present, fusion.weights)
    from vmr.search.confidence import ScoreStats

    scores.fused_stats = ScoreStats.of(fused)
    scores.phrase_rows = [
        (build.lexical.rows_of(docs, n) if docs is not None else np.zeros(n, dtype=bool)) if found else None
        for docs, found in zip(scores.phrase_docs, fusion.phrase_found)]
    for q, rows in enumerate(scores.phrase_rows):
        if rows is not None:  # windows keep to the clips that hold the phrase
            fused[q, ~rows] -= PHRASE_PENALTY
    scores.fused = fused


def exact_scores_at(build: SearchBuild, rows: np.ndarray, request: Request, scores: ClipScores,
                    fusion: FusionPlan, q: int) -> np.ndarray:
    """Query q's fused scores of the given rows, with the dense channels scored again from the
    exact copies where the scan was approximate: what `fuse` gives without quantisation."""
    kernels = kernels_for(build)

    if not fusion.names:
        return np.zeros(len(rows), dtype=np.float32)
    values, present = [], []
    for name in fusion.names:
        if name == LEXICAL:
            values.append(scores.parts[LEXICAL][q][rows])
            present.append(np.logical_or.reduce(present))
            continue
        channel = build.channels[name]
        stored, scales = (channel.exact, None) if channel.approximate else (channel.vectors, channel.scales)
        exact = kernels.scores_at(rows, stored, scales, request.vectors[channel.model][q])
        values.append(fusion.rescale(name, q, exact).astype(np.float32))
        present.append(np.asarray(channel.present)[rows])
    fused = kernels.fuse_channels(np.stack(values), np.stack(present), fusion.weights)
    holding = scores.phrase_rows[q]
    if holding is not None:
        fused[~holding[rows]] -= PHRASE_PENALTY
    return fused


def phrase_documents(build: SearchBuild, query: Query) -> np.ndarray | None:
    """The documents holding the query's quoted phrases; or, for a query of a few words or more
    said (almost) word for word, a quote, the sentences that say it. Each document is matched
    on the query's tokens in its own language."""
    found = []
    for language in build.lexical.languages:
        read = query.analysed(language)
        if query.quoted:
            found.append(build.lexical.phrase_documents(read.phrases, language=language))
        elif len(read.tokens) >= QUOTE_TOKENS:
            found.append(build.lexical.phrase_documents([read.tokens], field=Channel.SPEECH, language=language,
                                                        max_edits=len(read.tokens) // QUOTE_WORDS_PER_EDIT))
    # sorted(set()), not np.unique, which imports numpy.ma (tens of ms in a cold search)
    docs = np.array(sorted(set(np.concatenate(found).tolist())) if found else [], np.int64)
    if query.quoted:  # said in a sentence or shown on a slide (passages and chapters hold those)
        fields = build.lexical.doc_field[docs]
        docs = docs[(fields == lexical.FIELDS.index(Channel.SPEECH)) | (fields == lexical.FIELDS.index(Channel.SLIDES))]
    return docs if len(docs) else None


def said_phrase(query: Query, language: str) -> list[str]:
    """The tokens a document holding the query's phrase says, in its language: the first quoted
    phrase, or the whole query."""
    read = query.analysed(language)
    return read.phrases[0] if query.quoted and read.phrases else read.tokens


def channel_scores(channel: ChannelMatrix, queries: np.ndarray, prefilter: Prefilter | None,
                   library_clips: int = 0) -> np.ndarray:
    """Cosine of every clip [Q, N]: through the binary prefilter where the library built codes,
    else one exact scan (batched when there are several queries); `library_clips` picks the
    kernels (`kernels_for`)."""
    import kernels

    kernels = kernels.for_clips(library_clips or channel.vectors.shape[0])

    if channel.codes is not None:
        return np.stack([
            kernels.prefiltered_scores_within(channel.codes, kernels.pack_sign_bits(query), channel.vectors,
                                              channel.scales, query, threshold, floor)
            for query, threshold, floor in zip(queries, prefilter.threshold, prefilter.floor)
        ])
    if len(queries) == 1:
        return kernels.cosine_scores(channel.vectors, queries[0], channel.scales)[None, :]
    return kernels.cosine_scores_batch(channel.vectors, queries, channel.scales)


def encode_queries(encoders: dict[str, TextEncoder], queries: list[str]) -> dict[str, np.ndarray]:
    return {model: encode_query_texts(encoder, queries) for model, encoder in encoders.items()}
