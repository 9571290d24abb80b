"""The search matrices: one contiguous, memory-mapped array per channel under `HOME/vectors`,
and the lexical (BM25) index of the transcript sentences and slide text beside them.

They are derived data, rebuilt from the database whenever the catalogue's generation moves on,
and swapped in atomically (a new folder, then the `CURRENT` pointer replaced), so a search never
reads a half-written matrix and a killed rebuild leaves the previous one in place.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from vmr import language
from vmr.search import lexical
from vmr.errors import VmrError
from vmr.catalogue.store import Clip, ClipVector, SlideText, Video, Word, generation

STORAGE_FORMATS = ("int8", "float16", "float32")
# From this many clips on, search first ranks sign-bit codes by Hamming distance and scores
# exactly only the best candidates (bench/kernels_bench.py: window recall@10 0.997 after the
# exact refinement, 3.6x faster at a million clips; below this size a scan takes milliseconds).
PREFILTER_MIN_CLIPS = 200_000
# The layout of a generation folder; folders written in another layout are rebuilt on load.
FORMAT = 2  # 2: the lexical index


@dataclass(frozen=True)
class ChannelMatrix:
    name: str
    model: str
    vectors: np.ndarray  # [N, D] in the storage dtype, rows L2-normalised before quantising
    scales: np.ndarray | None  # [N] for int8
    present: np.ndarray  # bool [N]: the clip has this channel (speech needs words)
    codes: np.ndarray | None  # uint64 [N, ceil(D/64)] sign bits for the prefilter, large libraries only
    # float16 [N, D] next to int8 storage: never scanned, only the few thousand rows around
    # the best windows are read to rank them exactly (kernels.refine_windows).
    exact: np.ndarray | None = None

    @property
    def approximate(self) -> bool:
        """Scores from a scan of this channel are not exact (int8, or the binary prefilter)."""
        return self.exact is not None


@dataclass(frozen=True)
class ClipMatrix:
    generation: int
    video_ids: np.ndarray  # int64 [V]
    video_offsets: np.ndarray  # int64 [V+1]: clips of video i are rows offsets[i]:offsets[i+1]
    starts: np.ndarray  # float64 [N]
    ends: np.ndarray  # float64 [N]
    channels: dict[str, ChannelMatrix]
    folder: Path | None = None  # where it is mapped from
    lexical: lexical.LexicalIndex | None = None

    @property
    def clip_count(self) -> int:
        return len(self.starts)

    def video_of_row(self, row: int) -> int:
        return int(self.video_ids[np.searchsorted(self.video_offsets, row, side="right") - 1])

    def video_rows(self, row: int) -> tuple[int, int]:
        """The rows [first, stop) of the video that holds `row`."""
        position = int(np.searchsorted(self.video_offsets, row, side="right")) - 1
        return int(self.video_offsets[position]), int(self.video_offsets[position + 1])


def _current_dir(root: Path) -> Path | None:
    try:
        name = (root / "CURRENT").read_text().strip()
    except FileNotFoundError:
        return None
    return root / name


def load(root: Path) -> ClipMatrix | None:
    """The current matrices, memory-mapped; None when none were built yet (or by another
    version of vmr, in another layout)."""
    while (folder := _current_dir(root)) is not None:
        try:
            return load_folder(folder)
        except FileNotFoundError:
            if _current_dir(root) == folder:  # a dangling pointer: the caller rebuilds
                return None
            # else a rebuild in another process replaced the folder as we opened it: again
    return None


def load_folder(folder: Path) -> ClipMatrix | None:
    """The matrices of one build, memory-mapped (a shard worker maps the one its driver uses);
    None for a build in another layout."""
    manifest = json.loads((folder / "manifest.json").read_text())
    if manifest.get("format") != FORMAT:
        return None

    def array(name: str) -> np.ndarray:
        return np.load(folder / f"{name}.npy", mmap_mode="r")

    channels = {
        name: ChannelMatrix(
            name=name,
            model=info["model"],
            vectors=array(f"{name}.vectors"),
            scales=array(f"{name}.scales") if info["storage"] == "int8" else None,
            present=array(f"{name}.present"),
            codes=array(f"{name}.codes") if info.get("codes") else None,
            exact=array(f"{name}.exact") if info.get("exact") else None,
        )
        for name, info in manifest["channels"].items()
    }
    index = None
    if "lexical" in manifest:
        vocab = json.loads((folder / "lexical.vocab.json").read_text())
        index = lexical.load_index(vocab, {name: array(f"lexical.{name}") for name in lexical.LexicalIndex.ARRAYS})
    return ClipMatrix(
        generation=manifest["generation"],
        video_ids=array("video_ids"),
        video_offsets=array("video_offsets"),
        starts=array("starts"),
        ends=array("ends"),
        channels=channels,
        folder=folder,
        lexical=index,
    )


def _to_storage(vectors: np.ndarray, storage: str) -> tuple[np.ndarray, np.ndarray | None]:
    if storage == "int8":
        import kernels

        return kernels.quantize_int8(vectors)
    return vectors.astype(storage), None


def current(session: Session, root: Path, storage: str = "int8") -> ClipMatrix:
    """The matrices of the catalogue's generation: the ones on disk, else built now."""
    found = load(root)
    if found is None or found.generation != generation(session):
        with build_lock(root):
            found = load(root)  # another process may have built them while this one waited
            if found is None or found.generation != generation(session):
                found = _build(session, root, storage)
    return found


def rebuild(session: Session, root: Path, storage: str = "int8") -> ClipMatrix:
    """Write the matrices for the catalogue as it is now and make them current."""
    with build_lock(root):
        return _build(session, root, storage)


def _build(session: Session, root: Path, storage: str) -> ClipMatrix:
    if storage not in STORAGE_FORMATS:
        raise ValueError(f"unknown vector storage {storage!r}; one of {', '.join(STORAGE_FORMATS)}")
    # Read first: a video committed while the rows are read makes the matrix look stale, and
    # the next search rebuilds it; each video's rows are written in one transaction.
    gen = generation(session)
    rows = session.execute(
        select(Clip.id, Clip.video_id, Clip.start, Clip.end)
        .join(Video)
        .where(Video.status == "indexed")
        .order_by(Clip.video_id, Clip.idx)
    ).all()
    clip_ids = np.array([r[0] for r in rows], dtype=np.int64)
    clip_videos = np.array([r[1] for r in rows], dtype=np.int64)
    video_ids, first_rows = np.unique(clip_videos, return_index=True)
    offsets = np.append(first_rows, len(rows)).astype(np.int64)
    row_of_clip = {int(clip_id): row for row, clip_id in enumerate(clip_ids)}

    arrays: dict[str, np.ndarray] = {
        "video_ids": video_ids.astype(np.int64),
        "video_offsets": offsets,
        "starts": np.array([r[2] for r in rows], dtype=np.float64),
        "ends": np.array([r[3] for r in rows], dtype=np.float64),
    }
    manifest: dict = {"format": FORMAT, "generation": gen, "storage": storage, "channels": {}}
    channel_names = session.scalars(select(ClipVector.channel).distinct()).all()
    for channel in sorted(channel_names):
        found = session.execute(
            select(ClipVector.clip_id, ClipVector.model, ClipVector.dim, ClipVector.vector).where(
                ClipVector.channel == channel
            )
        ).all()
        found = [r for r in found if r[0] in row_of_clip]
        if not found:
            continue
        models = {r[1] for r in found}
        dims = {r[2] for r in found}
        if len(models) != 1 or len(dims) != 1:
            raise VmrError(
                f"the {channel} vectors come from different models ({', '.join(sorted(models))}): "
                "vmr remove the videos indexed with the other one and index them again"
            )
        dim = dims.pop()
        matrix = np.zeros((len(rows), dim), dtype=np.float32)
        present = np.zeros(len(rows), dtype=bool)
        for clip_id, _model, _dim, blob in found:
            row = row_of_clip[clip_id]
            matrix[row] = np.frombuffer(blob, dtype=np.float32)
            present[row] = True
        vectors, scales = _to_storage(matrix, storage)
        arrays[f"{channel}.vectors"] = vectors
        arrays[f"{channel}.present"] = present
        if scales is not None:
            arrays[f"{channel}.scales"] = scales
            arrays[f"{channel}.exact"] = matrix.astype(np.float16)
        with_codes = len(rows) >= PREFILTER_MIN_CLIPS
        if with_codes:
            import kernels

            arrays[f"{channel}.codes"] = kernels.pack_sign_bits(matrix)
        manifest["channels"][channel] = {"model": models.pop(), "dim": dim, "storage": storage,
                                         "codes": with_codes, "exact": scales is not None}

    index = lexical.LexicalIndex.build(_documents(session, arrays))
    arrays.update({f"lexical.{name}": array for name, array in index.arrays().items()})
    manifest["lexical"] = {"documents": len(index.doc_field), "terms": len(index.vocab)}
    return publish(root, arrays, manifest, {"lexical.vocab.json": json.dumps(index.vocab, ensure_ascii=False)})


def publish(root: Path, arrays: dict[str, np.ndarray], manifest: dict,
            texts: dict[str, str] | None = None) -> ClipMatrix:
    """Write a build (arrays, and text files by name) and make it current (the caller holds
    `build_lock(root)`)."""
    staging = root / f".build-{uuid.uuid4().hex}"
    staging.mkdir()
    for name, array in arrays.items():
        np.save(staging / f"{name}.npy", array)
    for name, text in (texts or {}).items():
        (staging / name).write_text(text)
    (staging / "manifest.json").write_text(json.dumps(manifest))
    final = root / f"g{manifest['generation']:08d}-{uuid.uuid4().hex[:8]}"
    staging.rename(final)
    pointer = root / f".CURRENT-{uuid.uuid4().hex}"
    pointer.write_text(final.name)
    os.replace(pointer, root / "CURRENT")
    # Older folders go; a search that still maps one keeps its data until it closes (POSIX).
    for old in root.iterdir():
        if old.is_dir() and old != final and not old.name.startswith(".build-"):
            shutil.rmtree(old, ignore_errors=True)
    return load_folder(final)


@contextmanager
def build_lock(root: Path) -> Iterator[None]:
    """One build at a time per folder: two processes (an index run finishing, a search) that
    rebuild at once would each delete the other's new folder."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, or the process dies
        yield


def _documents(session: Session, arrays: dict[str, np.ndarray]) -> list[lexical.Document]:
    """The lexical documents: every spoken sentence and every slide with text, each with the
    clip rows it overlaps."""
    offsets = arrays["video_offsets"]
    row_range = {int(v): (int(offsets[i]), int(offsets[i + 1])) for i, v in enumerate(arrays["video_ids"])}
    words = session.execute(select(Word.video_id, Word.start, Word.end, Word.text).order_by(Word.video_id, Word.start))
    spans: list[tuple[int, int, tuple[float, float, str]]] = [
        (lexical.FIELDS.index("speech"), video_id, sentence)
        for video_id, group in itertools.groupby(words, key=lambda w: w[0])
        for sentence in language.sentences([(w[1], w[2], w[3]) for w in group])
    ]
    slides = session.execute(select(SlideText.video_id, SlideText.start, SlideText.end, SlideText.text)
                             .where(SlideText.text != "").order_by(SlideText.video_id, SlideText.idx))
    spans += [(lexical.FIELDS.index("slides"), video_id, (start, end, text)) for video_id, start, end, text in slides]
    docs = []
    for field, video_id, (start, end, text) in spans:
        if video_id not in row_range:
            continue
        first, stop = row_range[video_id]
        begin = min(first + int(np.searchsorted(arrays["ends"][first:stop], start, side="right")), stop - 1)
        end_row = first + int(np.searchsorted(arrays["starts"][first:stop], end, side="left"))
        docs.append(lexical.Document(field, begin, max(end_row, begin + 1), text, start, end))
    return docs
