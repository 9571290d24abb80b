"""`vmr check`: verify a library and repair what is derived.

The catalogue is what cannot be made again: it is checked (SQLite's integrity check and
foreign keys; on any database, rows that lost their video) and, when damaged, reported with
the way out, never modified. Everything else is derived from it and is checked against it,
then made again where it does not fit:

- videos whose file is gone are marked missing (searches leave them out), or with `prune`
  forgotten;
- each video's clip-vector files must load and hold one row per clip of the catalogue's
  dimension: one of the text model's (speech, slides, passages, chapters) is encoded again
  from the catalogue's transcript, slide text and chapters, as the index run made it
  (`vmr.catalogue.repair`); a visual one from the video, while its file still holds what was
  indexed; else the way out is reported;
- the search build is rebuilt from the catalogue and compared with the one it replaces;
- cached thumbnails that are not whole JPEGs of an indexed video are removed (the server
  makes them again on demand), and so are files left behind by killed runs.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from vmr.catalogue.locks import writer_lock
from vmr.catalogue.reads import INDEXED, CatalogueDamaged
from vmr.catalogue.repair import FROM_CATALOGUE, rederive_text
from vmr.catalogue.store import Clip, Segment, SlideText, Video, VideoChannel, Word, describe_url
from vmr.catalogue.vectors import VectorFiles
from vmr.catalogue.writer import forget_missing, holds, prune_vectors, sweep
from vmr.errors import VmrError
from vmr.search import build

if TYPE_CHECKING:
    from vmr.library import Library

THUMBS = "thumbs"
JPEG_START, JPEG_END = b"\xff\xd8", b"\xff\xd9"


@dataclass
class CheckReport:
    catalogue: str  # "ok", or what is wrong with it (nothing else is checked then)
    videos: int = 0
    missing: list[str] = field(default_factory=list)  # paths whose file is gone (left out of searches)
    pruned: list[str] = field(default_factory=list)  # missing videos forgotten (--prune)
    vector_files: int = 0  # checked
    repaired: list[str] = field(default_factory=list)  # vector files made again, and from what
    unrepaired: list[str] = field(default_factory=list)  # what could not be, with the way out
    orphan_vector_files: int = 0  # files no video refers to, removed
    build: str = ""  # "ok: ..." or "rebuilt: why"
    thumbnails: int = 0  # checked
    thumbnails_removed: int = 0  # damaged, or of a video no longer indexed
    leftovers_removed: int = 0  # partial files of killed runs

    @property
    def ok(self) -> bool:
        """Whether the library is whole after the repairs."""
        return self.catalogue == "ok" and not self.unrepaired


def check(library: Library, prune: bool = False) -> CheckReport:
    """Holds the writer lock, as an index run does: repairs write derived files."""
    with writer_lock(library.engine, library.home):
        problem = catalogue_problem(library)
        if problem:
            return CheckReport(catalogue=problem)
        report = CheckReport(catalogue="ok")
        report.missing = sweep(library.session)
        if prune and report.missing:
            report.pruned, report.missing = forget_missing(library.session), []
        with library.session() as session:
            report.videos = session.scalar(select(func.count(Video.id))) or 0
            _check_vectors(library, session, report)
        report.orphan_vector_files = prune_vectors(library.session, library.vector_files)
        report.build = _check_build(library)
        _check_thumbnails(library, report)
        report.leftovers_removed += _remove_leftovers(library)
    return report


def catalogue_problem(library: Library) -> str | None:
    """What is wrong with the catalogue (a one-line message with the way out), or None."""
    where = describe_url(library.db_url)
    try:
        with library.engine.connect() as connection:
            if library.engine.dialect.name == "sqlite":
                found = [row[0] for row in connection.exec_driver_sql("PRAGMA integrity_check")]
                if found != ["ok"]:
                    return str(CatalogueDamaged(where, f"integrity check: {'; '.join(found[:3])}"))
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    return str(CatalogueDamaged(where, f"{len(broken)} rows refer to rows that are gone"))
            else:  # every row of every table read once, as the basic check a server allows
                for table in ("videos", "clips", "segments", "words", "slide_texts", "video_channels", "settings"):
                    connection.execute(text(f"SELECT count(*) FROM {table}")).scalar()
            orphans = sum(connection.execute(select(func.count()).select_from(table).where(
                table.c.video_id.not_in(select(Video.id)))).scalar() or 0
                for table in (Clip.__table__, Segment.__table__, Word.__table__, SlideText.__table__,
                              VideoChannel.__table__))
            if orphans:
                return str(CatalogueDamaged(where, f"{orphans} rows belong to no video",
                                            "restore a copy, or move it away and re-index"))
    except VmrError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 (the driver's error on a damaged page, whatever its kind)
        from vmr.catalogue.store import catalogue_failure

        return str(catalogue_failure(exc, library.db_url))
    return None


def _check_vectors(library: Library, session: Session, report: CheckReport) -> None:
    files = library.vector_files
    clips = dict(session.execute(select(Clip.video_id, func.count()).group_by(Clip.video_id)).all())
    for video, channel in session.execute(select(Video, VideoChannel).join(VideoChannel)
                                          .order_by(Video.path, VideoChannel.channel)).all():
        report.vector_files += 1
        shape = (clips.get(video.id, 0), channel.dim)
        try:
            vectors = build.read_vectors(files, video.content_hash, channel.channel, channel.model, shape)
            rows = vectors[~np.isnan(vectors).any(axis=1)]
            if not len(rows) or not np.isfinite(rows).all():
                what = "holds no whole vector" if not len(rows) else "holds infinite values"
                raise VmrError(f"{files.path(video.content_hash, channel.channel, channel.model)}: {what}")
        except VmrError as exc:
            problem = str(exc)
            done = None
            if channel.channel in FROM_CATALOGUE or holds(video):
                try:
                    done = _repair(library, session, files, video, channel, problem)
                except VmrError as failure:  # the visual model will not load, the video will not decode
                    problem = f"{problem}; making them again failed: {failure}"
            if done:
                report.repaired.append(done)
            else:
                report.unrepaired.append(_way_out(video, channel, problem))


def _repair(library: Library, session: Session, files: VectorFiles, video: Video, channel: VideoChannel,
            problem: str) -> str | None:
    """Make a video's vector file again; what was done, or None when it could not be."""
    if channel.channel in FROM_CATALOGUE:
        made = rederive_text(session, files, video, channel.channel, channel.model,
                             lambda texts: library._text_encoder(channel.model).encode(texts))
        source = FROM_CATALOGUE[channel.channel]
    else:
        made = _reembed_frames(library, session, files, video, channel)
        source = "its video file"
    if made is None or made.shape[1] != channel.dim:
        return None
    return f"{video.path}: {channel.channel} vectors made again from {source} ({problem})"


def _reembed_frames(library: Library, session: Session, files: VectorFiles, video: Video,
                    channel: VideoChannel) -> np.ndarray | None:
    from vmr.encode.visual import load_visual_encoder
    from vmr.ingest.media import read_frames

    keyframes = [start if keyframe is None else keyframe for start, keyframe in session.execute(
        select(Clip.start, Clip.keyframe_time).where(Clip.video_id == video.id).order_by(Clip.idx))]
    encoder = load_visual_encoder(channel.model, library.device)
    by_time: dict[float, np.ndarray] = {}
    frames = list(read_frames(video.path, keyframes))
    for begin in range(0, len(frames), encoder.batch_size):
        batch = frames[begin:begin + encoder.batch_size]
        by_time.update(zip([t for t, _ in batch], encoder.encode_images([image for _, image in batch])))
    vectors = {i: by_time[t] for i, t in enumerate(keyframes) if t in by_time}
    if not vectors:
        return None
    files.write(video.content_hash, channel.channel, channel.model, len(keyframes), vectors)
    return files.read(video.content_hash, channel.channel, channel.model)


def _way_out(video: Video, channel: VideoChannel, problem: str) -> str:
    if channel.channel in FROM_CATALOGUE:
        return f"{video.path}: {channel.channel} vectors cannot be made again ({problem}): vmr remove it and index it again"
    return (f"{video.path}: {channel.channel} vectors are lost ({problem}) and its file is gone or changed: "
            "restore the file and run vmr check again, or vmr remove it and index it again")


def _check_build(library: Library) -> str:
    """Rebuild the search build from the catalogue and say how the one it replaces was: "ok:
    ..." when it matched (or was only out of date, or absent: it is made on demand), "rebuilt:
    why" when it was damaged."""
    root = library.vectors_dir
    before, damage, note = None, "", ""
    folder = build._current_dir(root)
    if folder is None and (root / "CURRENT").exists():
        damage = "its pointer (CURRENT) was damaged"
    elif folder is None:
        note = "made anew: there was none"
    else:
        try:
            before = build.load_folder(folder)
            if before is None:
                note = "made anew: the one there was from another version of vmr"
            elif (problem := build.data_problem(before)) is not None:
                damage = f"its data was damaged ({problem})"
        except Exception as exc:  # noqa: BLE001 (any reader's error on a damaged file)
            damage = f"it failed to load: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
    kept = None
    if before is not None:  # its files, kept aside by hard links: the rebuild removes the folder
        kept = root / f".build-check-{uuid.uuid4().hex}"  # publish() leaves .build-* alone
        kept.mkdir()
        for file in folder.iterdir():
            os.link(file, kept / file.name)
    try:
        with library.session() as session:
            after = build.rebuild(session, root, library.vector_files, library.storage, library._repairer(session))
        if kept is not None and not damage:
            if before.generation != after.generation:
                note = "brought up to date with the catalogue"
            elif differing := _differences(kept, after.folder):
                damage = (f"{', '.join(differing[:5])}{' and more' if len(differing) > 5 else ''} "
                          "did not match the catalogue")
    finally:
        if kept is not None:
            shutil.rmtree(kept, ignore_errors=True)
    size = f"{after.clip_count} clips, {len(after.video_ids)} videos"
    problems = f"; {len(after.problems)} problems: {'; '.join(after.problems)}" if after.problems else ""
    if damage:
        return f"rebuilt: {damage} ({size}){problems}"
    return f"ok: {note or 'matches the catalogue'} ({size}){problems}"


def _differences(old: Path, new: Path) -> list[str]:
    """The files of two build folders that differ (the manifest compared as data)."""
    import json

    names = sorted({p.name for p in old.iterdir()} | {p.name for p in new.iterdir()})
    differing = []
    for name in names:
        a, b = old / name, new / name
        if not a.exists() or not b.exists():
            differing.append(name)
        elif name == "manifest.json":
            if json.loads(a.read_text()) != json.loads(b.read_text()):
                differing.append(name)
        elif a.read_bytes() != b.read_bytes():
            differing.append(name)
    return differing


def _check_thumbnails(library: Library, report: CheckReport) -> None:
    folder = library.home / THUMBS
    if not folder.is_dir():
        return
    with library.session() as session:
        known = {f"{i}-{h[:16]}" for i, h in session.execute(select(Video.id, Video.content_hash)
                                                            .where(Video.status == INDEXED))}
    for path in folder.iterdir():
        if path.suffix == ".part":
            path.unlink(missing_ok=True)
            report.leftovers_removed += 1
            continue
        report.thumbnails += 1
        owner = path.stem.rsplit("-", 1)[0]
        if owner not in known or not whole_jpeg(path):
            path.unlink(missing_ok=True)
            report.thumbnails_removed += 1


def whole_jpeg(path: Path) -> bool:
    """Whether a file starts and ends as a JPEG does (a cut or overwritten one does not)."""
    try:
        with open(path, "rb") as handle:
            start = handle.read(2)
            handle.seek(-2, 2)
            return start == JPEG_START and handle.read(2) == JPEG_END
    except OSError:
        return False


def _remove_leftovers(library: Library) -> int:
    """Staging folders of builds killed half way (under the build lock: none is being made),
    and half-made catalogues of killed first index runs."""
    removed = 0
    root = library.vectors_dir
    if root.is_dir():
        with build.build_lock(root):
            for staging in root.glob(".build-*"):
                shutil.rmtree(staging, ignore_errors=True)
                removed += 1
    for partial in library.home.glob(".vmr.db.*.new*"):
        partial.unlink(missing_ok=True)
        removed += 1
    return removed
