"""Copy a library with its text channels embedded by another text model, from the stored rows
(no Whisper, no OCR): what `vmr index --text-model NAME` would store, for comparing text
encoders on the same transcripts (bench/e5_bench.py).

    python bench/reembed.py SOURCE_HOME TARGET_HOME --text-model multilingual-e5-small

The chapters and passage/chapter vectors are derived again at the end, with the new model.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from sqlalchemy import delete, select

from vmr.catalogue.store import Clip, Segment, SlideText, Video, VideoChannel, bump_generation
from vmr.channels import Channel
from vmr.ingest.analysis import IndexOptions, clip_slide_texts, speech_texts
from vmr.ingest.ocr import SlideSpan
from vmr.library import Library
from vmr.timecode import TimeSpan


class _Scan:
    def __init__(self, keyframes: list[float]):
        self.keyframe_times = keyframes


def reembed(source: Path, target: Path, text_model: str) -> Library:
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("vectors", "*.index-lock"))
    library = Library(target)
    from vmr.encode.text import load_text_encoder

    encoder = load_text_encoder(text_model, "cpu")
    files = library.vector_files
    with library.session() as session, session.begin():
        for video in session.scalars(select(Video)):
            clips = session.scalars(select(Clip).where(Clip.video_id == video.id).order_by(Clip.idx)).all()
            spans = [TimeSpan(c.start, c.end) for c in clips]
            segments = [s for s in session.scalars(select(Segment).where(Segment.video_id == video.id)
                                                   .order_by(Segment.idx)) if s.text.strip()]
            slides = [SlideSpan(s.start, s.end, s.text, s.confidence) for s in session.scalars(
                select(SlideText).where(SlideText.video_id == video.id).order_by(SlideText.idx))]
            session.execute(delete(VideoChannel).where(VideoChannel.video_id == video.id,
                                                       VideoChannel.channel != Channel.VISUAL))
            for channel, texts in ((Channel.SPEECH, speech_texts(segments, spans)),
                                   (Channel.SLIDES, clip_slide_texts(slides, _Scan([c.keyframe_time for c in clips])))):
                unique = sorted({t for t in texts if t})
                if not unique:
                    continue
                by_text = dict(zip(unique, encoder.encode(unique)))
                dim = files.write(video.content_hash, channel, text_model, len(clips),
                                  {i: by_text[t] for i, t in enumerate(texts) if t})
                session.add(VideoChannel(video_id=video.id, channel=channel, model=text_model, dim=dim))
            video.structure = None  # derived again below, with this model
        bump_generation(session)
    paths = [v.path for v in library.videos()]
    library.index(paths, IndexOptions(text_model=text_model))
    return library


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--text-model", required=True)
    args = parser.parse_args()
    reembed(args.source, args.target, args.text_model)


if __name__ == "__main__":
    main()
