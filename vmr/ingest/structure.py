"""A lecture's structure, from what is said and shown: sentences, passages (a sentence with its
neighbours) and chapters (topics), each larger unit with a vector of its own in the joint text
space, so that a moment can be a sentence, a passage or a chapter, whichever fits the query.

Chapters are cut TextTiling-style: at each gap between two sentences, the similarity of the
few sentences before it to the few after it (their mean embeddings); a topic shift is a deep
valley of that curve (its depth: how far it falls below the peaks on either side), and a slide
whose heading changes there deepens it. The deepest gaps become chapter boundaries, as long as
no chapter gets shorter than MIN_CHAPTER_SECONDS. A chapter's title is the heading of the slide
on screen when it starts, or else its key phrase (the words it says most that the lecture's
other chapters say least).

Computed without the database (a Ray worker does it in `vmr.ingest.analysis`), and again from
the catalogue's rows for a video indexed before chapters existed (`vmr.catalogue.writer`);
the clips' passage and chapter vectors again from the catalogue's chapters when their file is
lost (`known_chapter_vectors`, by `vmr.catalogue.repair`).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from vmr import language
from vmr.channels import Channel
from vmr.timecode import TimeSpan

# The clip channels a structure gives.
CHANNELS = (Channel.PASSAGE, Channel.CHAPTER)

# Stored with each video (`videos.structure`): a video with an older version gets its structure
# again at the next `vmr index`.
VERSION = 1
# Sentences on each side of a gap whose mean embeddings are compared (TextTiling's block).
BLOCK_SENTENCES = 3
# A slide whose heading changes within a gap's sentences adds this much to its depth.
SLIDE_CHANGE_DEPTH = 0.3
# A gap is a boundary if its depth exceeds the mean depth by this many standard deviations.
DEPTH_CUTOFF_SD = 1.0
# No chapter shorter than this (a topic is 30 s to a few minutes).
MIN_CHAPTER_SECONDS = 30.0
# A passage: a sentence with this many neighbours on each side (inside its chapter).
PASSAGE_REACH = 1
# Texts longer than this many words are encoded in pieces of whole sentences, averaged by their
# length: encoders truncate (all-MiniLM-L6-v2 at 256 word pieces).
PIECE_WORDS = 120
TITLE_CHARACTERS = 80

Encode = Callable[[list[str]], np.ndarray]  # texts -> float32 [n, dim], unit rows


@dataclass(frozen=True)
class Sentence(TimeSpan):
    text: str


@dataclass(frozen=True)
class Chapter(TimeSpan):
    """A topic of the lecture: its span (the first starts at 0, the last ends with the video,
    each starts where the next begins) and title."""

    title: str


@dataclass
class Structure:
    sentences: list[Sentence]
    chapters: list[Chapter]
    # Per clip index: the vector of the passage around the clip's sentence, and of its chapter
    passage_vectors: dict[int, np.ndarray]
    chapter_vectors: dict[int, np.ndarray]


def sentences_of(words: Sequence[tuple[float, float, str]]) -> list[Sentence]:
    """Timed words (start, end, text) cut into sentences (`vmr.language.sentences`)."""
    words = [(float(a), float(b), str(t).strip()) for a, b, t in words if str(t).strip()]
    return [Sentence(words[a][0], words[b - 1][1], " ".join(w[2] for w in words[a:b]))
            for a, b in language.sentences(words)]


def heading(text: str, common: frozenset[str] = frozenset()) -> str:
    """A slide's heading: its first line of text (OCR reads top to bottom), past the lines
    that most of the lecture's slides show (`common_lines`: a course line, a lecturer)."""
    for line in text.splitlines():
        if line.strip() and _key(line) not in common:
            return line.strip()
    return ""


def _key(line: str) -> str:
    return " ".join(language.tokens(line))


def common_lines(slides: Sequence[TimeSpan]) -> frozenset[str]:
    """The lines (as tokens) on more than 60 % of the slides with text, when there are five or
    more: a course name or lecturer shown on every slide is no heading (a heading repeated by
    a slide that builds up is on a few slides only)."""
    texts = [getattr(s, "text", "") for s in slides if getattr(s, "text", "").strip()]
    if len(texts) < 5:
        return frozenset()
    counts = Counter(key for text in texts for key in {_key(line) for line in text.splitlines() if line.strip()})
    return frozenset(key for key, n in counts.items() if key and n > 0.6 * len(texts))


def _same_heading(a: str, b: str) -> bool:
    ta, tb = set(language.tokens(a)), set(language.tokens(b))
    if not ta or not tb:
        return not ta and not tb
    return len(ta & tb) / len(ta | tb) >= 0.5


def slide_changes(slides: Sequence[TimeSpan]) -> list[float]:
    """The times at which a slide with another heading comes on screen (a slide that builds up,
    bullet by bullet, keeps its heading; pictures without text are skipped)."""
    changes, previous = [], None
    common = common_lines(slides)
    for slide in slides:
        title = heading(getattr(slide, "text", ""), common)
        if not title:
            continue
        if previous is not None and not _same_heading(previous, title):
            changes.append(float(slide.start))
        previous = title
    return changes


def gap_depths(vectors: np.ndarray, block: int | None = None) -> np.ndarray:
    """TextTiling's depth score of each gap g (between sentences g-1 and g, g = 1..n-1; the
    array is indexed g-1): how far the similarity of the blocks either side falls below the
    highest similarity reached walking away from it on each side."""
    n, block = len(vectors), block or BLOCK_SENTENCES
    if n < 2:
        return np.zeros(0)
    sims = np.empty(n - 1)
    for g in range(1, n):
        left = vectors[max(0, g - block):g].mean(axis=0)
        right = vectors[g:g + block].mean(axis=0)
        sims[g - 1] = float(left @ right) / max(float(np.linalg.norm(left) * np.linalg.norm(right)), 1e-12)
    depths = np.empty(n - 1)
    for i, s in enumerate(sims):
        left_peak = s
        j = i - 1
        while j >= 0 and sims[j] >= left_peak:
            left_peak = sims[j]
            j -= 1
        right_peak = s
        j = i + 1
        while j < len(sims) and sims[j] >= right_peak:
            right_peak = sims[j]
            j += 1
        depths[i] = (left_peak - s) + (right_peak - s)
    return depths


def chapter_starts(sentences: Sequence[Sentence], vectors: np.ndarray, changes: Sequence[float],
                   min_seconds: float | None = None) -> list[int]:
    """The sentences that start a chapter (always 0 first)."""
    n, min_seconds = len(sentences), min_seconds or MIN_CHAPTER_SECONDS
    if n < 2:
        return [0]
    depth = gap_depths(vectors)
    for t in changes:  # the gap nearest the slide change, among those of the sentence it falls in
        g = int(np.searchsorted([s.start for s in sentences], t, side="right"))  # sentences[g-1] starts before
        candidates = [x for x in (g - 1, g) if 1 <= x < n]
        if candidates:
            nearest = min(candidates, key=lambda x: abs(sentences[x].start - t))
            depth[nearest - 1] += SLIDE_CHANGE_DEPTH
    cutoff = depth.mean() + DEPTH_CUTOFF_SD * depth.std()
    starts = [0]
    ends = [s.end for s in sentences]
    for g in np.argsort(-depth, kind="stable") + 1:
        if depth[g - 1] <= cutoff:
            break
        bounds = sorted(starts + [int(g)])
        i = bounds.index(int(g))
        before = sentences[g].start - sentences[bounds[i - 1]].start
        after = (sentences[bounds[i + 1]].start if i + 1 < len(bounds) else ends[-1]) - sentences[g].start
        if before >= min_seconds and after >= min_seconds:
            starts = bounds
    return starts


_STOP = frozenset("""a an the and or but if of to in on at by for with from as is are was were be been being
it its this that these those there here we you they he she i me my our your their his her them us so
then than also very just can could will would should may might must do does did done not no yes what
which who whom whose when where why how all any some each every more most other such only own same too
into over under about after before again further once up down out off above below between through
during while because until against among let let's now one two first second next last like get got
make made way thing things say said see well really going go know lot kind""".split())


def key_phrase(texts: Sequence[str], chapter: int) -> str:
    """The chapter's key phrase: of its one- to three-word phrases without stop words at the
    edges, the one with the highest count times inverse chapter frequency (two-word phrases
    and longer preferred at equal scores)."""
    def phrases(text: str) -> Counter:
        words = [w.lower() for w in re.findall(r"[^\W_]+(?:'[^\W_]+)*", text)]
        found: Counter = Counter()
        for size in (1, 2, 3):
            for i in range(len(words) - size + 1):
                run = words[i:i + size]
                if run[0] in _STOP or run[-1] in _STOP or any(w.isdigit() for w in run) or len(run[0]) < 3:
                    continue
                found[" ".join(run)] += 1
        return found

    counts = [phrases(t) for t in texts]
    mine = counts[chapter]
    if not mine:
        return ""
    spread = Counter(p for c in counts for p in c)

    def score(p: str) -> tuple[float, int]:
        return mine[p] * math.log(1 + len(texts) / spread[p]) * (1 + 0.5 * (p.count(" ") > 0)), p.count(" ")

    best = max(sorted(mine), key=score)
    return best[:1].upper() + best[1:]


def _title(slides: Sequence[TimeSpan], span: TimeSpan, texts: Sequence[str], index: int) -> str:
    """The heading of the slide on screen at the chapter's start (or the first to come on in
    its first third), else its key phrase."""
    common = common_lines(slides)
    for slide in slides:
        text = getattr(slide, "text", "")
        if heading(text, common) and slide.start <= span.start + span.duration / 3 and slide.end > span.start:
            if slide.end - max(slide.start, span.start) >= min(5.0, span.duration / 4):
                return heading(text, common)[:TITLE_CHARACTERS]
    return key_phrase(texts, index)[:TITLE_CHARACTERS] or f"Part {index + 1}"


def encode_long(encode: Encode, pieces: Sequence[Sequence[str]]) -> np.ndarray:
    """One unit vector per text given as its sentences (in one call of `encode`): a text longer
    than PIECE_WORDS is encoded in pieces of whole sentences, and the pieces' vectors averaged
    by length."""
    chunks, owner, weight = [], [], []
    for t, sentences in enumerate(pieces):
        current: list[str] = []
        for sentence in list(sentences) + [None]:
            if sentence is None or (current and sum(len(s.split()) for s in current) + len(sentence.split()) > PIECE_WORDS):
                if current:
                    chunks.append(" ".join(current))
                    owner.append(t)
                    weight.append(sum(len(s.split()) for s in current))
                current = []
            if sentence is not None and sentence.strip():
                current.append(sentence.strip())
    out = None
    if chunks:
        vectors = np.asarray(encode(chunks), dtype=np.float32)
        out = np.zeros((len(pieces), vectors.shape[1]), dtype=np.float32)
        np.add.at(out, np.array(owner), vectors * np.array(weight, dtype=np.float32)[:, None])
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out = np.where(norms > 0, out / np.maximum(norms, 1e-12), np.nan).astype(np.float32)
    return out if out is not None else np.full((len(pieces), 0), np.nan, dtype=np.float32)


def lecture_structure(words: Sequence[tuple[float, float, str]], slides: Sequence[TimeSpan],
                      clips: Sequence[TimeSpan], duration: float, encode: Encode,
                      known: Mapping[str, np.ndarray] | None = None,
                      whole: np.ndarray | None = None) -> Structure:
    """Sentences, chapters and the clips' passage and chapter vectors of one video, from its
    timed words, its slides (SlideSpan: start, end, text) and its clip grid. `known`: vectors
    already made by `encode` for some texts (the speech channel's clip texts, which are mostly
    whole sentences: lecture.mp4's 24 of 30), taken for the sentences that cut the chapters;
    `whole`: `whole_passage_vectors` of these words, made before. Passages and chapters are
    encoded here as `known_chapter_vectors` encodes them, so that a lost vector file is made
    again alike, bit for bit."""
    sentences, shown = _said_and_shown(words, slides)
    if not sentences:
        if not shown:
            return Structure([], [], {}, {})
        chapters = [Chapter(0.0, max(duration, 0.0), heading(shown[0].text, common_lines(shown))[:TITLE_CHARACTERS])]
        return Structure([], chapters, *clip_vectors([], [0], chapters, shown, clips, encode))
    known = known or {}
    new = list(dict.fromkeys(s.text for s in sentences if s.text not in known))
    made = dict(zip(new, np.asarray(encode(new), dtype=np.float32))) if new else {}
    sentence_vectors = np.array([known.get(s.text, made.get(s.text)) for s in sentences], dtype=np.float32)
    starts = chapter_starts(sentences, sentence_vectors, slide_changes(shown))
    bounds = list(zip(starts, starts[1:] + [len(sentences)]))
    # Spans: each chapter starts where its first sentence does (the first at 0), and ends
    # where the next starts (the last with the video).
    times = [0.0] + [sentences[a].start for a, _ in bounds[1:]] + [max(duration, sentences[-1].end)]
    spoken = [" ".join(s.text for s in sentences[a:b]) for a, b in bounds]
    chapters = [Chapter(times[i], times[i + 1], _title(shown, TimeSpan(times[i], times[i + 1]), spoken, i))
                for i in range(len(bounds))]
    return Structure(sentences, chapters, *clip_vectors(sentences, starts, chapters, shown, clips, encode, whole))


def known_chapter_vectors(words: Sequence[tuple[float, float, str]], slides: Sequence[TimeSpan],
                          chapters: Sequence[Chapter], clips: Sequence[TimeSpan],
                          encode: Encode) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """The clips' passage and chapter vectors of a lecture already cut into `chapters` (the
    catalogue's), as `lecture_structure` made them: for a vector file lost after indexing."""
    sentences, shown = _said_and_shown(words, slides)
    return clip_vectors(sentences, first_sentences(sentences, chapters), chapters, shown, clips, encode)


def _said_and_shown(words: Sequence[tuple[float, float, str]],
                    slides: Sequence[TimeSpan]) -> tuple[list[Sentence], list[TimeSpan]]:
    """The sentences of the timed words, and the slides with text in the order they come on."""
    slides = sorted(slides, key=lambda s: s.start)
    return sentences_of(words), [s for s in slides if getattr(s, "text", "").strip()]


def first_sentences(sentences: Sequence[Sentence], chapters: Sequence[TimeSpan]) -> list[int]:
    """The sentence each chapter starts with, from the chapters' spans as `lecture_structure`
    cut them (each after the first starts where its first sentence does): the chapter starts
    of an indexed video, from the catalogue's chapters, without cutting them again. (Two
    sentences that start at the same instant, of zero-length words, would be ambiguous: the
    first of them is taken.)"""
    begins = [s.start for s in sentences]
    return [0] + [int(np.searchsorted(begins, chapter.start)) for chapter in chapters[1:]]


def passages(sentences: Sequence[Sentence], bounds: Sequence[tuple[int, int]]) -> list[list[str]]:
    """Each sentence's passage: it and PASSAGE_REACH neighbours on each side, all within
    `bounds[i]` (the sentences [a, b) of sentence i's chapter)."""
    return [[s.text for s in sentences[max(a, i - PASSAGE_REACH):min(b, i + PASSAGE_REACH + 1)]]
            for i, (a, b) in enumerate(bounds)]


def _whole_passages(sentences: Sequence[Sentence]) -> list[list[str]]:
    return passages(sentences, [(0, len(sentences))] * len(sentences))


def whole_passage_vectors(words: Sequence[tuple[float, float, str]], encode: Encode) -> np.ndarray:
    """The vectors of each sentence's passage as if no chapter cut it: the first of the two calls
    of `encode` that make the passage vectors (`passage_vectors`). It needs the words alone, so
    an index run makes it while the slides are still being read."""
    return encode_long(encode, _whole_passages(sentences_of(words)))


def passage_vectors(sentences: Sequence[Sentence], bounds: Sequence[tuple[int, int]], encode: Encode,
                    whole: np.ndarray | None = None) -> np.ndarray:
    """Each sentence's passage vector, the passage within its chapter (`bounds[i]`): the
    passages as if no chapter cut them in one call (`whole`, where that call was made before),
    then the few that a chapter's edge cuts in a second."""
    uncut = _whole_passages(sentences)
    vectors = encode_long(encode, uncut) if whole is None else whole.copy()
    cut = passages(sentences, bounds)
    edges = [i for i, (a, b) in enumerate(zip(cut, uncut)) if a != b]
    if edges:
        vectors[edges] = encode_long(encode, [cut[i] for i in edges])
    return vectors


def clip_vectors(sentences: Sequence[Sentence], starts: Sequence[int], chapters: Sequence[Chapter],
                 shown: Sequence[TimeSpan], clips: Sequence[TimeSpan], encode: Encode,
                 whole: np.ndarray | None = None) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Per clip index, the vector of the passage around its sentence, and of its chapter, of
    a lecture cut into `chapters` (chapter i starting with sentence `starts[i]`), with the
    slides that have text (`shown`, by start). One function for an index run and for
    `vmr check`, which makes them again from the catalogue: the same texts, encoded alike.
    `whole`: `whole_passage_vectors` of the same sentences, made before."""
    if not sentences:  # slides alone: one chapter, of all they show
        vectors = encode_long(encode, [[s.text.replace("\n", ". ") for s in shown]])
        return {}, {i: vectors[0] for i in range(len(clips))} if vectors.shape[1] else {}
    bounds = list(zip(starts, list(starts[1:]) + [len(sentences)]))
    # A chapter's text: its slides' text (each distinct text once), then what is said in it.
    chapter_texts = []
    for (a, b), chapter in zip(bounds, chapters):
        on_screen = list(dict.fromkeys(s.text.replace("\n", ". ") for s in shown
                                       if s.end > chapter.start and s.start < chapter.end))
        chapter_texts.append(on_screen + [s.text for s in sentences[a:b]])
    chapter_vectors = encode_long(encode, chapter_texts)
    chapter_of = np.repeat(np.arange(len(bounds)), [b - a for a, b in bounds])
    by_sentence = passage_vectors(sentences, [bounds[c] for c in chapter_of], encode, whole)
    # Each clip: the sentence said at its middle (or the nearest one), and its chapter.
    starts_s = np.array([s.start for s in sentences])
    ends_s = np.array([s.end for s in sentences])
    passage_by_clip, chapter_by_clip = {}, {}
    chapter_times = np.array([c.start for c in chapters])
    for i, clip in enumerate(clips):
        middle = (clip.start + clip.end) / 2
        overlap = np.minimum(ends_s, clip.end) - np.maximum(starts_s, clip.start)
        if overlap.max() > 0:
            passage_by_clip[i] = by_sentence[int(np.argmax(overlap))]
        c = max(0, int(np.searchsorted(chapter_times, middle, side="right")) - 1)
        if chapter_vectors.shape[1] and not np.isnan(chapter_vectors[c]).any():
            chapter_by_clip[i] = chapter_vectors[c]
    return passage_by_clip, chapter_by_clip
