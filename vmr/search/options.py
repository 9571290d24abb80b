"""How a search ranks: the settings of fusion, windows and moment edges, and checks of what a
caller asks for."""

from __future__ import annotations

from dataclasses import dataclass, field

from vmr.channels import Channel
from vmr.errors import QueryError


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
        default_factory=lambda: {Channel.SPEECH: 1.0, Channel.SLIDES: 1.0, Channel.VISUAL: 0.1})
    # Channels on another scale than the reference (CLIP text-image cosines crowd into a narrow
    # band near 0.25, image-image ones near 0.9, MiniLM's spread over 0-0.9) are mapped, per
    # query, so that their mean and best clips score what the reference's do (or 0 and 1 when
    # the query has no reference channel, as an image alone).
    rescale: tuple[str, ...] = (Channel.VISUAL,)
    reference_channel: str = Channel.SPEECH
    # Weight of the lexical (BM25) channel in the same fusion; 0 turns it off.
    # These three were tuned together on the samples (README, "Ranking"): a plateau, not a peak.
    lexical_weight: float = 0.25
    # Moment edges move to sentence starts and ends (a slide's moment to the slide's span),
    # by at most snap_seconds (one clip).
    snap: bool = True
    snap_seconds: float = 2.0


def validate(query: str, k: int) -> str:
    query = query.strip()
    if not query:
        raise QueryError("empty query: type what you are looking for")
    check_k(k)
    return query


def check_k(k: int) -> None:
    if k < 1:
        raise QueryError(f"-k must be a positive number of results, not {k}")
