"""Clip vectors made again from what the catalogue keeps, for a vector file that is lost or
damaged, by encoding the same texts with the same model: speech and slides from a clip's
sentences and the slide on screen at its keyframe (what the analysis encoded); passages and
chapters from the timed words, the slide text and the stored chapters, by the function an
index run makes them with (`vmr.ingest.structure.known_chapter_vectors`). The visual channel
is not among them: only the video file itself holds its frames (`vmr check` reads them while
it still holds the content it was indexed from)."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from vmr.catalogue.store import ChapterRow, Clip, Segment, SlideText, TranslatedSentence, Video, Word
from vmr.catalogue.vectors import VectorFiles
from vmr.channels import Channel
from vmr.ingest import structure
from vmr.timecode import TimeSpan

if TYPE_CHECKING:
    from vmr.ingest.ocr import SlideSpan

# The channels the catalogue alone can make again (with the text model), each with what it is
# made from, as `vmr check` reports it: the one list of them.
FROM_CATALOGUE = {
    Channel.SPEECH: "its transcript",
    Channel.SLIDES: "its slide text",
    Channel.PASSAGE: "its transcript",
    Channel.CHAPTER: "its chapters' transcript and slide text",
}


def clip_texts(session: Session, video_id: int, channel: str) -> list[str]:
    """Per clip of the video, the text its speech or slides vector encodes ("" for none)."""
    from vmr.ingest.analysis import clip_slide_texts, speech_texts

    clips = session.execute(select(Clip.start, Clip.end, Clip.keyframe_time).where(Clip.video_id == video_id)
                            .order_by(Clip.idx)).all()
    if channel == Channel.SPEECH:
        return speech_texts(spoken_sentences(session, video_id), [TimeSpan(start, end) for start, end, _ in clips])

    keyframes = SimpleNamespace(  # what clip_slide_texts reads of a scan
        keyframe_times=[start if keyframe is None else keyframe for start, _, keyframe in clips])
    slides = list(session.scalars(select(SlideText).where(SlideText.video_id == video_id).order_by(SlideText.idx)))
    return clip_slide_texts(slides, keyframes) if slides else [""] * len(clips)


def spoken_sentences(session: Session, video_id: int) -> list:
    """What a video's speech vectors encode, timed: its transcript's segments, then its English
    translation's sentences where it has one (as `vmr.ingest.analysis.Analyser` encodes them)."""
    segments = [s for s in session.scalars(select(Segment).where(Segment.video_id == video_id)
                                           .order_by(Segment.idx)) if s.text.strip()]
    return segments + list(session.scalars(select(TranslatedSentence).where(TranslatedSentence.video_id == video_id)
                                           .order_by(TranslatedSentence.idx)))


def lecture_rows(session: Session, video_id: int) -> tuple[list[tuple[float, float, str]], list[SlideSpan],
                                                             list[TimeSpan]]:
    """A video's timed words (in the transcript's order), slides and clip grid, as an index run
    gives them to `vmr.ingest.structure`."""
    from vmr.ingest.ocr import SlideSpan

    words = [tuple(w) for w in session.execute(
        select(Word.start, Word.end, Word.text).join(Segment, Word.segment_id == Segment.id)
        .where(Word.video_id == video_id).order_by(Segment.idx, Word.idx))]
    slides = [SlideSpan(s.start, s.end, s.text, s.confidence) for s in session.scalars(
        select(SlideText).where(SlideText.video_id == video_id).order_by(SlideText.idx))]
    clips = [TimeSpan(start, end) for start, end in session.execute(
        select(Clip.start, Clip.end).where(Clip.video_id == video_id).order_by(Clip.idx))]
    return words, slides, clips


def _text_vectors(session: Session, video_id: int, channel: str,
                  encode: Callable[[list[str]], np.ndarray]) -> tuple[int, dict[int, np.ndarray]]:
    texts = clip_texts(session, video_id, channel)
    unique = sorted({t for t in texts if t})
    by_text = dict(zip(unique, np.asarray(encode(unique), dtype=np.float32))) if unique else {}
    return len(texts), {i: by_text[t] for i, t in enumerate(texts) if t}


def _structure_vectors(session: Session, video_id: int, channel: str,
                       encode: Callable[[list[str]], np.ndarray]) -> tuple[int, dict[int, np.ndarray]]:
    words, slides, clips = lecture_rows(session, video_id)
    chapters = [structure.Chapter(c.start, c.end, c.title) for c in session.scalars(
        select(ChapterRow).where(ChapterRow.video_id == video_id).order_by(ChapterRow.idx))]
    if not chapters:  # a catalogue without them cannot say where the passages stop
        return len(clips), {}
    passages, chapter_vectors = structure.known_chapter_vectors(words, slides, chapters, clips, encode)
    return len(clips), passages if channel == Channel.PASSAGE else chapter_vectors


def rederive_text(session: Session, files: VectorFiles, video: Video, channel: str, model: str,
                  encode: Callable[[list[str]], np.ndarray]) -> np.ndarray | None:
    """Make a video's vector file of a FROM_CATALOGUE channel again with `encode` (its text
    model) and write it; the vectors (as `VectorFiles.read` gives them), or None when the
    channel cannot be made from the catalogue (another channel, or no text in it)."""
    if channel not in FROM_CATALOGUE:
        return None
    made = _structure_vectors if channel in structure.CHANNELS else _text_vectors
    rows, vectors = made(session, video.id, channel, encode)
    if not vectors:
        return None
    files.write(video.content_hash, channel, model, rows, vectors)
    return files.read(video.content_hash, channel, model)
