"""The search build: everything a search reads, derived from the catalogue and the clip-vector
files, as memory-mapped arrays under `HOME/vectors`:

- the clip grid (rows: every clip of every video, video by video) with each clip's keyframe;
- one matrix per dense channel (int8 with a float16 copy for exact refinement, by default);
- the lexical (BM25) index of the spoken sentences and the slides, with their texts;
- every word said, with its times, so that a moment's edges and text need no query.

A search touches no catalogue row but the videos on its result page. A build is rebuilt when
the catalogue's generation moves on, and swapped in atomically (a new folder, then the
`CURRENT` pointer replaced), so a search never reads a half-written build and a killed rebuild
leaves the previous one in place. A shard maps the same folder and takes a `part` of it.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vmr import language
from vmr.catalogue.reads import Read, generation
from vmr.catalogue.vectors import VectorFiles
from vmr.channels import Channel
from vmr.errors import VmrError
from vmr.search import lexical
from vmr.search.texts import Texts

if TYPE_CHECKING:  # writing a build reads the catalogue's rows through SQLAlchemy; a search maps one
    from sqlalchemy.orm import Session

STORAGE_FORMATS = ("int8", "float16", "float32")
# (video id, channel, model) -> the video's vectors made again, written to its file; None when
# they cannot be made here (see vmr.catalogue.repair).
Repair = Callable[[int, str, str], "np.ndarray | None"]
# From this many clips on, search first ranks sign-bit codes by Hamming distance and scores
# exactly only the best candidates (bench/kernels_bench.py: window recall@10 0.997 after the
# exact refinement, 3.6x faster at a million clips; below this size a scan takes milliseconds).
PREFILTER_MIN_CLIPS = 200_000
# The layout of a build folder; folders written in another layout are rebuilt on load.
FORMAT = 6  # 3: words, keyframes and document texts (moments read no catalogue rows); 4: passages, chapters;
# 5: languages; 6: BM25 statistics per language
# The typical clip length is the median over this many clips (window lengths are in clips).
CLIP_SAMPLE = 4096


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

    def part(self, rows: slice) -> ChannelMatrix:
        def cut(array: np.ndarray | None) -> np.ndarray | None:
            return None if array is None else array[rows]

        return replace(self, vectors=self.vectors[rows], scales=cut(self.scales), present=self.present[rows],
                       codes=cut(self.codes), exact=cut(self.exact))


@dataclass(frozen=True)
class SearchBuild:
    generation: int
    video_ids: np.ndarray  # int64 [V]
    video_offsets: np.ndarray  # int64 [V+1]: clips of video i are rows offsets[i]:offsets[i+1]
    starts: np.ndarray  # float64 [N]
    ends: np.ndarray  # float64 [N]
    keyframes: np.ndarray  # float64 [N]: the time of the frame that shows each clip
    channels: dict[str, ChannelMatrix]
    lexical: lexical.LexicalIndex
    word_offsets: np.ndarray  # int64 [V+1]: words of video i, in time order
    word_start: np.ndarray  # float64 [W]
    word_end: np.ndarray  # float64 [W]
    word_text: Texts
    clip_seconds: float  # the library's typical clip length (window lengths are in clips)
    library_clips: int  # clips in the whole library, also in a part of it
    first_row: int = 0  # the row of the whole build where a part starts
    folder: Path | None = None  # where it is mapped from
    # What the build had to go without (a video's vector file lost or damaged, not re-derivable
    # here): `vmr check` repairs it, or says what to do.
    problems: tuple[str, ...] = ()

    @property
    def clip_count(self) -> int:
        return len(self.starts)

    def video_at(self, row: int) -> int:
        """The position of the video that holds `row`."""
        return int(np.searchsorted(self.video_offsets, row, side="right")) - 1

    def video_of_row(self, row: int) -> int:
        return int(self.video_ids[self.video_at(row)])

    def video_rows(self, video: int) -> tuple[int, int]:
        """The rows [first, stop) of the video at this position."""
        return int(self.video_offsets[video]), int(self.video_offsets[video + 1])

    def words_in(self, video: int, start: float, end: float) -> slice:
        """The words of the video at this position whose middle lies in [start, end)."""
        first, stop = int(self.word_offsets[video]), int(self.word_offsets[video + 1])
        middles = (np.asarray(self.word_start[first:stop]) + self.word_end[first:stop]) / 2
        return slice(first + int(np.searchsorted(middles, start, side="left")),
                     first + int(np.searchsorted(middles, end, side="left")))

    def said(self, video: int, start: float, end: float) -> str:
        found = self.words_in(video, start, end)
        return " ".join(self.word_text.run(found.start, found.stop))

    def part(self, first_video: int, stop_video: int) -> SearchBuild:
        """Videos [first_video, stop_video) as a build of their own (views of the arrays, the
        lexical postings filtered), for a shard; the whole build when it is all of it."""
        if (first_video, stop_video) == (0, len(self.video_ids)):
            return self
        r0, r1 = self.video_rows(first_video)[0], self.video_rows(stop_video - 1)[1]
        w0, w1 = int(self.word_offsets[first_video]), int(self.word_offsets[stop_video])
        rows = slice(r0, r1)
        return replace(
            self, video_ids=self.video_ids[first_video:stop_video],
            video_offsets=np.asarray(self.video_offsets[first_video:stop_video + 1]) - r0,
            starts=self.starts[rows], ends=self.ends[rows], keyframes=self.keyframes[rows],
            channels={name: channel.part(rows) for name, channel in self.channels.items()},
            lexical=self.lexical.part(first_video, stop_video, r0, w0),
            word_offsets=np.asarray(self.word_offsets[first_video:stop_video + 1]) - w0,
            word_start=self.word_start[w0:w1], word_end=self.word_end[w0:w1],
            word_text=self.word_text.part(w0, w1), first_row=self.first_row + r0,
        )


def _current_dir(root: Path) -> Path | None:
    try:
        name = (root / "CURRENT").read_text().strip()
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    except NotADirectoryError:
        return None
    if not name or "/" in name or name.startswith("."):  # not a name publish() writes
        return None
    return root / name


class DamagedBuild(ValueError):
    """A build folder whose files do not fit together (or do not load)."""


def load(root: Path) -> SearchBuild | None:
    """The current build, memory-mapped; None when none was built yet, by another version of
    vmr (in another layout), or when its files fail to load: derived data, rebuilt by the
    caller from the catalogue."""
    while (folder := _current_dir(root)) is not None:
        try:
            return load_folder(folder)
        except FileNotFoundError:
            if _current_dir(root) == folder:  # a dangling pointer: the caller rebuilds
                return None
            # else a rebuild in another process replaced the folder as we opened it: again
        except Exception:  # noqa: BLE001 (garbage in a manifest or an array: any error of any reader)
            if _current_dir(root) == folder:
                return None
    return None


def load_folder(folder: Path) -> SearchBuild | None:
    """One build, memory-mapped (a shard worker maps the one its driver uses); None for a build
    in another layout."""
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
    vocab = json.loads((folder / "lexical.vocab.json").read_text())
    index = lexical.load_index(vocab, {name: array(f"lexical.{name}") for name in lexical.LexicalIndex.ARRAY_FILES},
                               manifest["lexical"]["languages"])
    return validate(SearchBuild(
        generation=manifest["generation"],
        video_ids=array("video_ids"),
        video_offsets=array("video_offsets"),
        starts=array("starts"),
        ends=array("ends"),
        keyframes=array("keyframes"),
        channels=channels,
        lexical=index,
        word_offsets=array("word_offsets"),
        word_start=array("word_start"),
        word_end=array("word_end"),
        word_text=Texts.load({name: array(name) for name in ("word_text.offsets", "word_text.blob")}, "word_text"),
        clip_seconds=manifest["clip_seconds"],
        library_clips=manifest["clips"],
        folder=folder,
        problems=tuple(manifest.get("problems", ())),
    ), manifest)


def validate(found: SearchBuild, manifest: dict) -> SearchBuild:
    """The build, if its arrays fit together as `_build` writes them (shapes and offsets, no
    scan of the data); else DamagedBuild naming what does not."""
    def need(ok: bool, what: str) -> None:
        if not ok:
            raise DamagedBuild(f"{found.folder}: {what}")

    n, videos, words = len(found.starts), len(found.video_ids), len(found.word_start)
    need(n == manifest["clips"], f"{n} clip rows, the manifest says {manifest['clips']}")
    need(found.video_offsets.shape == (videos + 1,) and (videos == 0 or (
        found.video_offsets[0] == 0 and found.video_offsets[-1] == n)), "video offsets")
    need(found.ends.shape == (n,) and found.keyframes.shape == (n,), "clip times")
    for name, channel in found.channels.items():
        dim = manifest["channels"][name]["dim"]
        need(channel.vectors.shape == (n, dim) and channel.present.shape == (n,), f"{name} matrix")
        need(channel.scales is None or channel.scales.shape == (n,), f"{name} scales")
        need(channel.exact is None or channel.exact.shape == (n, dim), f"{name} exact copy")
        need(channel.codes is None or len(channel.codes) == n, f"{name} codes")
    need(found.word_offsets.shape == (videos + 1,) and int(found.word_offsets[-1]) == words, "word offsets")
    need(found.word_end.shape == (words,) and len(found.word_text) == words
         and int(found.word_text.offsets[-1]) == len(found.word_text.blob), "words")
    index = found.lexical
    docs, terms = len(index.doc_field), len(index.vocab)
    need(index.video_docs.shape == (videos + 1,) and int(index.video_docs[-1]) == docs, "lexical documents")
    need(all(len(getattr(index, name)) == docs for name in
             ("doc_first", "doc_stop", "doc_start", "doc_end", "doc_length")), "lexical document arrays")
    need(index.token_offsets.shape == (docs + 1,) and int(index.token_offsets[-1]) == len(index.token_ids)
         == len(index.token_word), "lexical tokens")
    need(index.posting_offsets.shape == (terms + 1,) and int(index.posting_offsets[-1]) == len(index.posting_docs)
         == len(index.posting_tf), "lexical postings")
    need(index.doc_freq.shape == (len(index.languages), len(lexical.FIELDS), terms), "lexical statistics")
    need(len(index.doc_text) == docs and int(index.doc_text.offsets[-1]) == len(index.doc_text.blob),
         "lexical texts")
    return found


def data_problem(found: SearchBuild) -> str | None:
    """What in a build's data is not what `_build` writes (a scan of every array: for `vmr
    check`, and after a search failed on the build), or None."""
    n, docs = found.clip_count, len(found.lexical.doc_field)
    checks = [
        (np.isfinite(found.starts).all() and np.isfinite(found.ends).all() and np.isfinite(found.keyframes).all(),
         "clip times"),
        ((np.diff(found.video_offsets) >= 0).all(), "video offsets"),
        (np.isfinite(found.word_start).all() and np.isfinite(found.word_end).all(), "word times"),
        (not docs or (0 <= np.min(found.lexical.doc_first) and np.max(found.lexical.doc_stop) <= n), "lexical rows"),
        (not len(found.lexical.posting_docs) or (0 <= np.min(found.lexical.posting_docs)
                                                 and np.max(found.lexical.posting_docs) < docs), "lexical postings"),
        (not len(found.lexical.token_ids) or (0 <= np.min(found.lexical.token_ids)
                                              and np.max(found.lexical.token_ids) < len(found.lexical.vocab)),
         "lexical tokens"),
    ]
    for name, channel in found.channels.items():
        for what, array in (("scales", channel.scales), ("exact copy", channel.exact),
                            ("vectors", None if channel.vectors.dtype == np.int8 else channel.vectors)):
            if array is not None:
                checks.append((np.isfinite(array).all(), f"{name} {what}"))
    bad = [what for ok, what in checks if not ok]
    return f"not finite or out of range: {', '.join(bad)}" if bad else None


def _to_storage(vectors: np.ndarray, storage: str) -> tuple[np.ndarray, np.ndarray | None]:
    if storage == "int8":
        import kernels

        return kernels.for_clips(len(vectors)).quantize_int8(vectors)  # numpy below SMALL_LIBRARY
    return vectors.astype(storage), None


def current(read: Read, root: Path, make: Callable[[], SearchBuild]) -> SearchBuild:
    """The build of the catalogue's generation (read through `read`): the one on disk, else
    the one `make()` writes now, under the build lock (`write` with a session of the
    catalogue), also when the one on disk fails to load: it is derived data."""
    found = load(root)
    if found is None or found.generation != generation(read):
        with build_lock(root):
            found = load(root)  # another process may have built it while this one waited
            if found is None or found.generation != generation(read):
                found = make()
    return found


def rebuild(session: Session, root: Path, files: VectorFiles, storage: str = "int8",
            repair: Repair | None = None) -> SearchBuild:
    """Write the build for the catalogue as it is now and make it current."""
    with build_lock(root):
        return write(session, root, files, storage, repair)


def write(session: Session, root: Path, files: VectorFiles, storage: str = "int8",
          repair: Repair | None = None) -> SearchBuild:
    """Write the build for the catalogue as it is now and make it current (the caller holds
    `build_lock(root)`)."""
    from sqlalchemy import select

    from vmr.catalogue.store import Clip, Video, generation as session_generation

    if storage not in STORAGE_FORMATS:
        raise ValueError(f"unknown vector storage {storage!r}; one of {', '.join(STORAGE_FORMATS)}")
    # Read first: a video committed while the rows are read makes the build look stale, and
    # the next search rebuilds it; each video's rows are written in one transaction.
    gen = session_generation(session)
    rows = session.execute(
        select(Clip.video_id, Clip.start, Clip.end, Clip.keyframe_time)
        .join(Video)
        .where(Video.status == "indexed")
        .order_by(Clip.video_id, Clip.idx)
    ).all()
    clip_videos = np.array([r[0] for r in rows], dtype=np.int64)
    video_ids, first_rows = np.unique(clip_videos, return_index=True)
    offsets = np.append(first_rows, len(rows)).astype(np.int64)
    starts = np.array([r[1] for r in rows], dtype=np.float64)
    ends = np.array([r[2] for r in rows], dtype=np.float64)
    arrays: dict[str, np.ndarray] = {
        "video_ids": video_ids.astype(np.int64),
        "video_offsets": offsets,
        "starts": starts,
        "ends": ends,
        "keyframes": np.array([r[1] if r[3] is None else r[3] for r in rows], dtype=np.float64),
    }
    sample = slice(0, CLIP_SAMPLE)
    clip_seconds = float(np.median(ends[sample] - starts[sample])) if len(rows) else 2.0
    manifest: dict = {"format": FORMAT, "generation": gen, "storage": storage, "channels": {},
                      "clip_seconds": clip_seconds, "clips": len(rows)}
    problems: list[str] = []
    arrays |= _channel_arrays(session, files, video_ids, offsets, storage, manifest["channels"], problems, repair)
    manifest["problems"] = problems
    words = _words(session, video_ids)
    arrays["word_offsets"] = np.searchsorted([w[0] for w in words], video_ids, side="left").astype(np.int64)
    arrays["word_offsets"] = np.append(arrays["word_offsets"], len(words))
    arrays["word_start"] = np.array([w[1] for w in words], dtype=np.float64)
    arrays["word_end"] = np.array([w[2] for w in words], dtype=np.float64)
    arrays |= Texts.of([w[3] for w in words]).arrays("word_text")
    spoken = dict(session.execute(select(Video.id, Video.language)).all())  # each video's language
    index = lexical.LexicalIndex.build(_documents(session, arrays, words), len(video_ids),
                                       [spoken.get(int(v)) for v in video_ids])
    arrays |= {f"lexical.{name}": array for name, array in index.arrays().items()}
    manifest["lexical"] = {"documents": len(index.doc_field), "terms": len(index.vocab),
                           "languages": list(index.languages)}
    return publish(root, arrays, manifest, {"lexical.vocab.json": json.dumps(index.vocab, ensure_ascii=False)})


def _channel_arrays(session: Session, files: VectorFiles, video_ids: np.ndarray, offsets: np.ndarray,
                    storage: str, described: dict, problems: list[str],
                    repair: Repair | None = None) -> dict[str, np.ndarray]:
    """Per channel, its matrix (and scales, presence, codes, exact copy) assembled from the
    videos' vector files, in row order; `described` gets each channel's manifest entry. A
    vector file that is lost or damaged is made again by `repair` where it can be (a channel
    of vmr.catalogue.repair.FROM_CATALOGUE); else the video's clips go without that channel
    and `problems` says so."""
    from sqlalchemy import select

    from vmr.catalogue.store import Video, VideoChannel

    position = {int(v): i for i, v in enumerate(video_ids)}
    found = session.execute(select(VideoChannel.video_id, VideoChannel.channel, VideoChannel.model,
                                   VideoChannel.dim, Video.content_hash, Video.path).join(Video)).all()
    arrays: dict[str, np.ndarray] = {}
    n = int(offsets[-1])
    for channel, entries in itertools.groupby(sorted(found, key=lambda r: r[1]), key=lambda r: r[1]):
        entries = [e for e in entries if e[0] in position]
        if not entries:
            continue
        models, dims = {e[2] for e in entries}, {e[3] for e in entries}
        if len(models) != 1 or len(dims) != 1:
            raise VmrError(
                f"the {channel} vectors come from different models ({', '.join(sorted(models))}): "
                "the library is moving to one text model, which an index run does at its end "
                "(it embeds the other videos again); search again once it has ended, and if none "
                "is running, vmr index any of the library's videos finishes the move"
            )
        matrix = np.zeros((n, dims.pop()), dtype=np.float32)
        present = np.zeros(n, dtype=bool)
        for video_id, _, model, _, content_hash, path in entries:
            first, stop = offsets[position[video_id]], offsets[position[video_id] + 1]
            try:
                vectors = read_vectors(files, content_hash, channel, model, (stop - first, matrix.shape[1]))
            except VmrError as exc:
                vectors = repair(video_id, channel, model) if repair else None
                if vectors is None or vectors.shape != (stop - first, matrix.shape[1]):
                    problems.append(f"{path}: searched without its {channel} vectors, lost or damaged "
                                    f"({exc}): vmr check makes them again where it can")
                    continue
            has = ~np.isnan(vectors).any(axis=1)
            matrix[first:stop][has] = vectors[has]
            present[first:stop] = has
        vectors, scales = _to_storage(matrix, storage)
        arrays[f"{channel}.vectors"] = vectors
        arrays[f"{channel}.present"] = present
        if scales is not None:
            arrays[f"{channel}.scales"] = scales
            arrays[f"{channel}.exact"] = matrix.astype(np.float16)
        with_codes = n >= PREFILTER_MIN_CLIPS
        if with_codes:
            import kernels

            arrays[f"{channel}.codes"] = kernels.pack_sign_bits(matrix)
        described[channel] = {"model": models.pop(), "dim": matrix.shape[1], "storage": storage,
                              "codes": with_codes, "exact": scales is not None}
    return arrays


def read_vectors(files: VectorFiles, content_hash: str, channel: str, model: str,
                 shape: tuple[int, int]) -> np.ndarray:
    """A video's vector file, which must hold `shape` (its clips, the channel's dimension)."""
    vectors = files.read(content_hash, channel, model)
    if vectors.shape != shape:
        raise VmrError(f"{files.path(content_hash, channel, model)}: holds {vectors.shape[0]} clips of "
                       f"{vectors.shape[1]} dimensions, the catalogue {shape[0]} of {shape[1]}")
    return vectors


def _words(session: Session, video_ids: np.ndarray) -> list[tuple[int, float, float, str]]:
    """Every word said in the build's videos: (video id, start, end, text), video by video."""
    from sqlalchemy import select

    from vmr.catalogue.store import Word

    wanted = set(int(v) for v in video_ids)
    found = session.execute(select(Word.video_id, Word.start, Word.end, Word.text)
                            .order_by(Word.video_id, Word.start, Word.id)).all()
    return [tuple(w) for w in found if w[0] in wanted]


def publish(root: Path, arrays: dict[str, np.ndarray], manifest: dict,
            texts: dict[str, str] | None = None) -> SearchBuild:
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


def _documents(session: Session, arrays: dict[str, np.ndarray],
               words: list[tuple[int, float, float, str]]) -> list[lexical.Document]:
    """The lexical documents, video by video: every spoken sentence (with its words), every
    slide with text, every passage (a sentence with its neighbours in its chapter) and every
    chapter (its slides' text and speech; its span from its first word to its last), each
    with the clip rows it overlaps."""
    from sqlalchemy import select

    from vmr.catalogue.store import ChapterRow, SlideText, TranslatedSentence
    from vmr.ingest.structure import PASSAGE_REACH

    offsets, starts, ends = arrays["video_offsets"], arrays["starts"], arrays["ends"]
    slides: dict[int, list] = {}
    for video_id, start, end, text in session.execute(
            select(SlideText.video_id, SlideText.start, SlideText.end, SlideText.text)
            .where(SlideText.text != "").order_by(SlideText.video_id, SlideText.idx)):
        slides.setdefault(video_id, []).append((start, end, text))
    translated: dict[int, list] = {}
    for video_id, start, end, text in session.execute(
            select(TranslatedSentence.video_id, TranslatedSentence.start, TranslatedSentence.end, TranslatedSentence.text)
            .order_by(TranslatedSentence.video_id, TranslatedSentence.idx)):
        translated.setdefault(video_id, []).append((start, end, text))
    chapters: dict[int, list] = {}
    for video_id, start, end in session.execute(
            select(ChapterRow.video_id, ChapterRow.start, ChapterRow.end).order_by(ChapterRow.video_id, ChapterRow.idx)):
        chapters.setdefault(video_id, []).append((start, end))
    speech, shown = lexical.FIELDS.index(Channel.SPEECH), lexical.FIELDS.index(Channel.SLIDES)
    passage, chapter = lexical.FIELDS.index(Channel.PASSAGE), lexical.FIELDS.index(Channel.CHAPTER)
    docs = []
    for position, video_id in enumerate(arrays["video_ids"]):
        first, stop = int(offsets[position]), int(offsets[position + 1])

        def document(field: int, start: float, end: float, text: str, **said) -> lexical.Document:
            begin = min(first + int(np.searchsorted(ends[first:stop], start, side="right")), stop - 1)
            end_row = first + int(np.searchsorted(starts[first:stop], end, side="left"))
            return lexical.Document(start, end, field=field, video=position, first_row=begin,
                                    stop_row=max(end_row, begin + 1), text=text, **said)

        w0, w1 = int(arrays["word_offsets"][position]), int(arrays["word_offsets"][position + 1])
        said = [(w[1], w[2], w[3]) for w in words[w0:w1]]
        spoken = language.sentences(said)
        for a, b in spoken:
            texts = tuple(w[2].strip() for w in said[a:b])
            docs.append(document(speech, said[a][0], said[b - 1][1], " ".join(texts), words=texts,
                                 first_word=w0 + a))
        # The English translation's sentences (a video in another language) are spoken documents
        # too, without words of their own (analysed, like the rest, in the video's language).
        docs += [document(speech, start, end, text) for start, end, text in translated.get(int(video_id), [])]
        shown_here = slides.get(int(video_id), [])
        docs += [document(shown, start, end, text) for start, end, text in shown_here]
        spans = chapters.get(int(video_id), [])
        if not spans:
            continue  # indexed before chapters: sentences and slides only
        chapter_starts = np.array([start for start, _ in spans])
        chapter_of = [max(0, int(np.searchsorted(chapter_starts, said[a][0], side="right")) - 1) for a, _ in spoken]
        for i, (a, b) in enumerate(spoken):  # the passage around each sentence, inside its chapter
            inside = [j for j in range(max(0, i - PASSAGE_REACH), min(len(spoken), i + PASSAGE_REACH + 1))
                      if chapter_of[j] == chapter_of[i]]
            a0, b0 = spoken[inside[0]][0], spoken[inside[-1]][1]
            texts = tuple(w[2].strip() for w in said[a0:b0])
            docs.append(document(passage, said[a0][0], said[b0 - 1][1], " ".join(texts), words=texts,
                                 first_word=w0 + a0))
        for c, (start, end) in enumerate(spans):
            in_chapter = [j for j in range(len(spoken)) if chapter_of[j] == c]
            on_screen = list(dict.fromkeys(t for s, e, t in shown_here if start <= (s + e) / 2 < end))
            if in_chapter:
                a0, b0 = spoken[in_chapter[0]][0], spoken[in_chapter[-1]][1]
                text = " ".join(on_screen + [w[2].strip() for w in said[a0:b0]])
                docs.append(document(chapter, said[a0][0], said[b0 - 1][1], text))
            elif on_screen:
                docs.append(document(chapter, start, end, " ".join(on_screen)))
    return docs
