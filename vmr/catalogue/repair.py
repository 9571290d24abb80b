"""Clip vectors made again from what the catalogue keeps, for a vector file that is lost or
damaged: the text channels (speech, slides) by encoding the same texts with the same model
(a clip's sentences, the slide on screen at its keyframe: what the analysis encoded); the
visual channel only from the video file itself, while it still holds the content it was
indexed from."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from vmr.catalogue.store import Clip, Segment, SlideText, Video
from vmr.catalogue.vectors import VectorFiles
from vmr.channels import Channel
from vmr.timecode import TimeSpan

TEXT_CHANNELS = (Channel.SPEECH, Channel.SLIDES)


def clip_texts(session: Session, video_id: int, channel: str) -> list[str]:
    """Per clip of the video, the text its `channel` vector encodes ("" for none)."""
    from vmr.ingest.analysis import clip_slide_texts, speech_texts

    clips = session.execute(select(Clip.start, Clip.end, Clip.keyframe_time).where(Clip.video_id == video_id)
                            .order_by(Clip.idx)).all()
    if channel == Channel.SPEECH:
        segments = [s for s in session.scalars(select(Segment).where(Segment.video_id == video_id)
                                               .order_by(Segment.idx)) if s.text.strip()]
        return speech_texts(segments, [TimeSpan(start, end) for start, end, _ in clips])

    keyframes = SimpleNamespace(  # what clip_slide_texts reads of a scan
        keyframe_times=[start if keyframe is None else keyframe for start, _, keyframe in clips])
    slides = list(session.scalars(select(SlideText).where(SlideText.video_id == video_id).order_by(SlideText.idx)))
    return clip_slide_texts(slides, keyframes) if slides else [""] * len(clips)


def rederive_text(session: Session, files: VectorFiles, video: Video, channel: str, model: str,
                  encode: Callable[[list[str]], np.ndarray]) -> np.ndarray | None:
    """Encode a video's clip texts of a text channel again and write its vector file; the
    vectors (as `VectorFiles.read` gives them), or None when the channel cannot be made from
    the catalogue (not a text channel, or no text in it)."""
    if channel not in TEXT_CHANNELS:
        return None
    texts = clip_texts(session, video.id, channel)
    unique = sorted({t for t in texts if t})
    if not unique:
        return None
    by_text = dict(zip(unique, np.asarray(encode(unique), dtype=np.float32)))
    files.write(video.content_hash, channel, model, len(texts), {i: by_text[t] for i, t in enumerate(texts) if t})
    return files.read(video.content_hash, channel, model)
