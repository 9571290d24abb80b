"""Query -> per-clip scores: every clip scored per channel (the kernels' cosine scans), the
lexical channel's BM25 beside them, and one weighted fusion of all of them per clip."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vmr.channels import Channel
from vmr.encode.text import TextEncoder
from vmr.search import lexical
from vmr.search.lexical import Query
from vmr.search.matrices import ChannelMatrix, ClipMatrix
from vmr.search.options import SearchOptions

# Exact rerank pool of the binary prefilter: 0.5% of the clips, at least this many. The
# windows found are then ranked again on exact scores (kernels.refine_windows), which took
# window recall@10 from 0.94 to 0.997 at a million clips (bench/kernels_bench.py).
PREFILTER_CANDIDATES = 4096
LEXICAL = Channel.LEXICAL
# Subtracted from the clips that lack a query's phrase (where some clip has it), so that its
# windows keep to the sentences that hold the phrase.
PHRASE_PENALTY = 1.0
# A query of this many words or more, found word for word in a sentence, is taken as a quote;
# one word in this many may differ (a misremembered word, or one Whisper misheard).
QUOTE_TOKENS = 3
QUOTE_WORDS_PER_EDIT = 5


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
        docs = matrix.lexical.phrase_documents([query.tokens], field=Channel.SPEECH,
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


def encode_queries(encoders: dict[str, TextEncoder], queries: list[str]) -> dict[str, np.ndarray]:
    return {model: encoder.encode(queries) for model, encoder in encoders.items()}
