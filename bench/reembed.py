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

from sqlalchemy import delete, func, select

from vmr.catalogue.repair import clip_texts
from vmr.catalogue.store import Clip, Video, VideoChannel, bump_generation
from vmr.channels import Channel
from vmr.ingest.analysis import IndexOptions
from vmr.library import Library


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
            clips = session.scalar(select(func.count()).select_from(Clip).where(Clip.video_id == video.id))
            session.execute(delete(VideoChannel).where(VideoChannel.video_id == video.id,
                                                       VideoChannel.channel != Channel.VISUAL))
            for channel in (Channel.SPEECH, Channel.SLIDES):
                texts = clip_texts(session, video.id, channel)  # what the index run encoded
                unique = sorted({t for t in texts if t})
                if not unique:
                    continue
                by_text = dict(zip(unique, encoder.encode(unique)))
                dim = files.write(video.content_hash, channel, text_model, clips,
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
