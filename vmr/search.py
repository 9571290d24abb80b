"""Query -> moments: encode, score every clip per channel, fuse, aggregate over temporal windows,
keep the best non-overlapping windows, and describe each as a playable moment."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from vmr.encoders import TextEncoder
from vmr.errors import QueryError
from vmr.links import moment_link
from vmr.store import Video, Word
from vmr.vectors import ChannelMatrix, ClipMatrix

# Exact rerank pool of the binary prefilter: 0.5% of the clips, at least this many. The
# windows found are then ranked again on exact scores (kernels.refine_windows), which took
# window recall@10 from 0.94 to 0.997 at a million clips (bench/kernels_bench.py).
PREFILTER_CANDIDATES = 4096


@dataclass(frozen=True)
class SearchOptions:
    k: int = 10
    # Window lengths in seconds: a quote is a sentence, a topic a passage of half a minute.
    window_seconds: tuple[float, ...] = (4.0, 6.0, 8.0, 12.0, 16.0, 20.0, 24.0, 30.0)
    mode: str = "mean"
    # A mean favours the shortest window around a peak; this much score per doubling of the
    # window's length lets a passage that stays relevant win over its best sentence.
    # Tuned on the sample's queries (README, "Ranking"): 0.09 sits on a plateau.
    length_bonus: float = 0.09
    # Windows of one video may share at most this fraction of the shorter one.
    max_overlap: float = 0.3
    # Per-channel weights for fusion; a clip missing a channel is scored on the others.
    # Frames weigh less than speech: lecture queries are about what is said, and CLIP reads the
    # text on slides poorly. No CLIP-family weights were at hand to tune this; 0.1 is the largest
    # weight at which frames of pure noise (random CLIP and SigLIP) left the sample's ranking as
    # it was (9/10 at R@1 and R@3; 0.2 dropped R@1 to 8 and 6). Clips without speech are
    # scored on their frames alone, whatever the weight.
    channel_weights: dict[str, float] = field(default_factory=lambda: {"speech": 1.0, "visual": 0.1})
    # Channels on another scale than the reference (CLIP text-image cosines crowd into a narrow
    # band near 0.25, image-image ones near 0.9, MiniLM's spread over 0-0.9) are mapped, per
    # query, so that their median and best clips score what the reference's do (or 0 and 1 when
    # the query has no reference channel, as an image alone): the typical clip and the best one
    # count the same in every channel, and the window length bonus keeps its tuned meaning.
    rescale: tuple[str, ...] = ("visual",)
    reference_channel: str = "speech"


@dataclass(frozen=True)
class Moment:
    video: str  # absolute path
    video_id: int
    start: float
    end: float
    score: float
    text: str
    link: str

    def to_json(self) -> dict:
        return {
            "video": self.video, "video_id": self.video_id, "start": round(self.start, 3),
            "end": round(self.end, 3), "score": round(self.score, 4), "text": self.text,
            "link": self.link,
        }


def validate(query: str, k: int) -> str:
    query = query.strip()
    if not query:
        raise QueryError("empty query: type what you are looking for")
    check_k(k)
    return query


def check_k(k: int) -> None:
    if k < 1:
        raise QueryError(f"-k must be a positive number of results, not {k}")


@dataclass(frozen=True)
class Fusion:
    """How a batch of queries' channel scores were fused: the channels, their weights, and per
    channel and query the linear map onto the reference channel's scale. Rows scored again
    exactly (`exact_scores_at`) are fused the same way."""

    names: list[str]
    weights: np.ndarray  # float32 [C]
    slope: np.ndarray  # float32 [C, Q]
    intercept: np.ndarray  # float32 [C, Q]

    def fuse(self, per_channel: list[np.ndarray], present: np.ndarray, q: int) -> np.ndarray:
        """One query's fused scores from its per-channel scores [C] x [M] over M clips."""
        import kernels

        mapped = np.stack([self.slope[c, q] * s + self.intercept[c, q] for c, s in enumerate(per_channel)])
        return kernels.fuse_channels(mapped.astype(np.float32), present, self.weights)


def clip_scores(matrix: ClipMatrix, query_vectors: dict[str, np.ndarray], n_queries: int,
                options: SearchOptions) -> tuple[np.ndarray, Fusion]:
    """Fused per-clip scores [Q, N] for a batch of queries (one vector per query and model; a
    channel whose model has none is left out), all zero where no clip has a channel; and how
    they were fused."""
    names = [name for name, channel in matrix.channels.items()
             if options.channel_weights.get(name, 0.0) > 0 and channel.model in query_vectors]
    weights = np.array([options.channel_weights[n] for n in names], dtype=np.float32)
    slope = np.ones((len(names), n_queries), np.float32)
    intercept = np.zeros((len(names), n_queries), np.float32)
    fused = np.zeros((n_queries, matrix.clip_count), dtype=np.float32)
    if not names:
        return fused, Fusion(names, weights, slope, intercept)
    present = np.stack([np.asarray(matrix.channels[n].present) for n in names])
    per_channel = [channel_scores(matrix.channels[n], query_vectors[matrix.channels[n].model])
                   for n in names]
    low, high = np.zeros(n_queries, np.float32), np.ones(n_queries, np.float32)
    if options.reference_channel in names and present[names.index(options.reference_channel)].any():
        ref = names.index(options.reference_channel)
        low, high = anchors(per_channel[ref], present[ref])
    for c, name in enumerate(names):
        if name in options.rescale and present[c].any():  # (a shard may hold none of its clips)
            slope[c], intercept[c] = match_scale(per_channel[c], present[c], low, high)
    fusion = Fusion(names, weights, slope, intercept)
    for q in range(n_queries):
        fused[q] = fusion.fuse([s[q] for s in per_channel], present, q)
    return fused, fusion


def anchors(scores: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per query [Q]: the median and the best score over the clips the channel is present on."""
    found = scores[:, present]
    return np.median(found, axis=1), found.max(axis=1)


def match_scale(scores: np.ndarray, present: np.ndarray, low: np.ndarray,
                high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per query [Q], the slope and intercept that map the channel's median clip to `low` and
    its best to `high`; a channel with no spread scores `low` throughout."""
    median, best = anchors(scores, present)
    spread = best - median
    slope = np.divide(high - low, spread, out=np.zeros_like(spread), where=spread > 1e-6)
    return slope, low - median * slope


def exact_scores_at(matrix: ClipMatrix, rows: np.ndarray, query_vectors: dict[str, np.ndarray],
                    fusion: Fusion, q: int) -> np.ndarray:
    """Query q's fused scores of the given rows, from the exact copies where the scan was
    approximate: what `clip_scores` gives without quantisation."""
    import kernels

    if not fusion.names:
        return np.zeros(len(rows), dtype=np.float32)
    per_channel = []
    for name in fusion.names:
        channel = matrix.channels[name]
        stored, scales = (channel.exact, None) if channel.approximate else (channel.vectors, channel.scales)
        per_channel.append(kernels.scores_at(rows, stored, scales, query_vectors[channel.model][q]))
    present = np.stack([np.asarray(matrix.channels[n].present)[rows] for n in fusion.names])
    return fusion.fuse(per_channel, present, q)


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


def search_windows(matrix: ClipMatrix, query_vectors: dict[str, np.ndarray], n_queries: int,
                   options: SearchOptions, lengths: np.ndarray | None = None) -> list[Windows]:
    """Per query, the best windows: scored, fused, ranked, and refined on exact scores."""
    if matrix.clip_count == 0:
        return [(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32))] * n_queries
    scores, fusion = clip_scores(matrix, query_vectors, n_queries, options)
    return [
        ranked_windows(matrix, row, options,
                       lambda rows, q=q: exact_scores_at(matrix, rows, query_vectors, fusion, q), lengths)
        for q, row in enumerate(scores)
    ]


def warm_up(matrix: ClipMatrix) -> None:
    """Run the search kernels once on the library's own arrays, so that Numba compiles (and
    caches) them now, at the end of an index run, rather than in the user's first search."""
    dims = {c.model: c.vectors.shape[1] for c in matrix.channels.values()}
    probe = {model: np.ones((1, dim), dtype=np.float32) for model, dim in dims.items()}
    search_windows(matrix, probe, 1, SearchOptions())


def describe(session: Session, matrix: ClipMatrix, starts: np.ndarray, stops: np.ndarray,
             values: np.ndarray) -> list[Moment]:
    """Ranked windows (matrix rows) as moments: video, times, the words said, a link."""
    found: list[Moment] = []
    for first, stop, value in zip(starts, stops, values):
        video_id = matrix.video_of_row(int(first))
        video = session.get(Video, video_id)
        if video is None:  # removed since the matrices were built
            continue
        start, end = float(matrix.starts[first]), float(matrix.ends[stop - 1])
        found.append(Moment(
            video=video.path, video_id=video_id, start=start, end=end, score=float(value),
            text=spoken_text(session, video_id, start, end), link=moment_link(Path(video.path), start, end),
        ))
    return found


def spoken_text(session: Session, video_id: int, start: float, end: float) -> str:
    """The words whose middle lies inside [start, end)."""
    middle = (Word.start + Word.end) / 2
    words = session.scalars(
        select(Word.text)
        .where(Word.video_id == video_id, middle >= start, middle < end)
        .order_by(Word.start)
    ).all()
    return " ".join(words)


def encode_queries(encoders: dict[str, TextEncoder], queries: list[str]) -> dict[str, np.ndarray]:
    return {model: encoder.encode(queries) for model, encoder in encoders.items()}
