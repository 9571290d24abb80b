"""One search path, for one process and for shards: a search runs in steps over the parts of a
build (the whole build in one process; runs of whole videos on a cluster's shards), and between
the steps the driver combines what the parts report into what every part needs next:

1. (libraries with sign-bit codes) each part's Hamming histograms -> the prefilter threshold;
   each part's lowest candidate score -> the prefilter floor;
2. each part scores its clips -> the library's channel statistics -> one fusion plan;
3. each part fuses and ranks windows -> the library's best candidate windows, and the mean and
   deviation of its fused clip scores (what a moment's confidence is measured against);
4. each part reranks the candidates in its videos exactly and shapes moments -> the library's
   best windows, and the moments of those windows, in rank order, each judged
   (`vmr.search.confidence`).

Every combination is exact, so the moments of N shards are the moments of one process. A part
keeps a request's clip scores from step 2 to step 4 (`Part.open`).
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import reduce

import numpy as np

from vmr.channels import Channel
from vmr.search import confidence, fusion
from vmr.search.confidence import ScoreStats
from vmr.search.build import SearchBuild
from vmr.search.fusion import ClipScores, FusionPlan, Prefilter, Request
from vmr.search.lexical import Query, parse_query
from vmr.search.moments import SPARE_WINDOWS, Moment, Rank, shape
from vmr.search.options import SearchOptions
from vmr.search.windows import NO_WINDOWS, Windows, best_windows, merge, rerank, window_lengths

# Approximate candidates per window wanted, reranked on exact scores (kernels.refine_windows).
RERANK_CANDIDATES = 4
# The fused score of an excluded video's clips: its windows rank below every other and are dropped.
EXCLUDED_SCORE = -1e6
# Requests a part keeps scores for at once: concurrent searches through one server share its
# shards (a driver that died mid-search leaves one behind, dropped when newer ones come).
OPEN_REQUESTS = 64


class Part:
    """One part of a build, searched in the steps of this module."""

    def __init__(self, build: SearchBuild):
        self.build = build
        self.open: OrderedDict[str, ClipScores] = OrderedDict()

    def hamming_histograms(self, request: Request) -> dict[str, np.ndarray]:
        return fusion.hamming_histograms(self.build, request)

    def prefilter_floors(self, request: Request, thresholds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return fusion.prefilter_floors(self.build, request, thresholds)

    def score(self, request: Request, prefilter: dict[str, Prefilter]) -> fusion.PartStats:
        scores, stats = fusion.clip_scores(self.build, request, prefilter)
        self.open[request.id] = scores
        while len(self.open) > OPEN_REQUESTS:
            self.open.popitem(last=False)
        return stats

    def windows(self, request: Request, plan: FusionPlan) -> tuple[list[Windows], ScoreStats]:
        """Per query, the part's best candidate windows, in rows of the whole build; and the
        sums of its fused clip scores."""
        scores = self.open[request.id]
        fusion.fuse(self.build, scores, plan)
        excluded = self._exclude(request, scores.fused)
        found = []
        for q, query in enumerate(request.queries):
            if query.quoted and not plan.phrase_found[q]:
                found.append(NO_WINDOWS)  # a quoted phrase said nowhere: nothing holds it
                continue
            first, stop, value = best_windows(self.build, scores.fused[q], request.options, request.lengths,
                                              candidate_count(self.build, request.options))
            if excluded:
                keep = value > EXCLUDED_SCORE / 2
                first, stop, value = first[keep], stop[keep], value[keep]
            found.append((first + self.build.first_row, stop + self.build.first_row, value))
        return found, scores.fused_stats

    def _exclude(self, request: Request, fused: np.ndarray) -> bool:
        """Sink the clips of the request's excluded videos far below any window (the kernels
        want finite scores); whether this part holds any."""
        if not request.excluded:
            return False
        positions = np.flatnonzero(np.isin(np.asarray(self.build.video_ids), list(request.excluded)))
        for position in positions:
            first, stop = self.build.video_rows(int(position))
            fused[:, first:stop] = EXCLUDED_SCORE
        return bool(len(positions))

    def moments(self, request: Request, plan: FusionPlan,
                candidates: list[Windows]) -> list[tuple[Windows, list[tuple[Rank, Moment]]]]:
        """Per query, the part's best windows among the library's candidates (reranked on
        exact scores where the scan was approximate) and the moments they make."""
        scores = self.open.pop(request.id)
        build, options = self.build, request.options
        wanted = SPARE_WINDOWS * options.k
        found = []
        for q, (first, stop, value) in enumerate(candidates):
            mine = (first >= build.first_row) & (first < build.first_row + build.clip_count)
            windows = (first[mine] - build.first_row, stop[mine] - build.first_row, value[mine])
            if approximate(build):
                windows = rerank(build, windows, options, request.lengths, wanted,
                                 lambda rows, q=q: fusion.exact_scores_at(build, rows, request, scores, plan, q))
            found.append(((windows[0] + build.first_row, windows[1] + build.first_row, windows[2]),
                          shape(build, scores, plan, q, windows, options)))
        return found


def approximate(build: SearchBuild) -> bool:
    """Whether scans of the build's channels are approximate, and windows are reranked."""
    return any(c.approximate for c in build.channels.values())


def candidate_count(build: SearchBuild, options: SearchOptions) -> int:
    wanted = SPARE_WINDOWS * options.k
    return RERANK_CANDIDATES * wanted if approximate(build) else wanted


# Runs a step on every part: fan(method name, *arguments) -> one result per part.
Fan = Callable[..., list]


def local_fan(parts: Sequence[Part]) -> Fan:
    return lambda method, *args: [getattr(part, method)(*args) for part in parts]


def request_for(build: SearchBuild, queries: list[Query], vectors: dict[str, np.ndarray],
                options: SearchOptions, excluded: frozenset[int] = frozenset()) -> Request:
    return Request(uuid.uuid4().hex, queries, vectors, options,
                   window_lengths(build.clip_seconds, options.window_seconds), excluded)


def search(fan: Fan, build: SearchBuild, request: Request) -> list[list[Moment]]:
    """Per query, its best moments over every part (without paths: `Moment.video` is empty);
    `build` is the whole build (its manifest: channels, size), whoever holds the parts."""
    prefilter = {}
    histograms = fan("hamming_histograms", request)
    if histograms and histograms[0]:
        thresholds = fusion.prefilter_thresholds(
            {name: sum(h[name] for h in histograms) for name in histograms[0]}, build.library_clips)
        floors = fan("prefilter_floors", request, thresholds)
        prefilter = {name: Prefilter(threshold, np.minimum.reduce([f[name] for f in floors]))
                     for name, threshold in thresholds.items()}
    stats = reduce(lambda a, b: a + b, fan("score", request, prefilter))
    plan = fusion.plan(stats, build, request)
    per_part = fan("windows", request, plan)
    calibration = reduce(lambda a, b: a + b, [stats for _, stats in per_part])
    count = candidate_count(build, request.options)
    candidates = [merge(list(windows), count) for windows in zip(*[found for found, _ in per_part])]
    results = fan("moments", request, plan, candidates)
    wanted = SPARE_WINDOWS * request.options.k
    # The library's text model (its text channels share one): the scale its confidences are on.
    text_model = next((c.model for c in build.channels.values() if c.name != Channel.VISUAL), None)
    threshold = confidence.weak_threshold(text_model)
    found = []
    for per_query in zip(*results):
        ranked = merge([windows for windows, _ in per_query], wanted)
        if not len(ranked[0]):
            found.append([])
            continue
        # A part may have shaped moments from windows the library ranks below its best ones.
        last: Rank = (-float(ranked[2][-1]), int(ranked[0][-1]), int(ranked[1][-1]))
        moments = sorted((item for _, shaped in per_query for item in shaped if item[0] <= last),
                         key=lambda item: item[0])
        found.append(confidence.judge([moment for _, moment in moments[:request.options.k]],
                                      float(calibration.mean[len(found)]), float(calibration.std[len(found)]),
                                      threshold))
    return found


def with_paths(moments: list[Moment], paths: dict[int, str], link: Callable[[str, float, float], str]) -> list[Moment]:
    """The moments whose video is still in the catalogue, each with its path and link, and
    times to the millisecond (scores to four places) as they are shown."""
    return [replace(m, video=paths[m.video_id], link=link(paths[m.video_id], m.start, m.end),
                    start=round(m.start, 3), end=round(m.end, 3), score=round(m.score, 4), frame=round(m.frame, 3),
                    confidence=round(m.confidence, 4))
            for m in moments if m.video_id in paths]


def warm_up(build: SearchBuild) -> None:
    """Run the search kernels once on the library's own arrays, so that Numba compiles (and
    caches) them now, at the end of an index run, rather than in the user's first search."""
    if build.clip_count == 0:
        return
    probe = {c.model: np.ones((1, c.vectors.shape[1]), dtype=np.float32) for c in build.channels.values()}
    search(local_fan([Part(build)]), build, request_for(build, [parse_query("warm up")], probe, SearchOptions()))
