"""The lexical channel: BM25 over transcript sentences and slide text, built by vmr itself so it
works on every database (SQLite, PostgreSQL), as derived data in the search build.

Documents and queries are tokenised alike (`vmr.language`): each document in its video's
language, and the query in each language the library holds, so that a document is scored on
the query as its own language reads it. The documents are the spoken sentences (Whisper's
words, split where one ends with . ? or !) and the slides, each mapped to the clip rows it
overlaps; a clip's score on a field is its best document's. A query's "double-quoted phrase"
must appear in a document as a token sequence for that document to score.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import numpy as np

from vmr.channels import LEXICAL_CHANNELS
from vmr.language import DEFAULT_LANGUAGE, analyser, tokens
from vmr.search.texts import Texts
from vmr.timecode import TimeSpan

FIELDS = tuple(str(channel) for channel in LEXICAL_CHANNELS)
# BM25 constants (the usual ones); b is lower than 0.75 because sentences and slides are short
# and similar in length, so length says little about relevance.
K1 = 1.2
B = 0.5


@dataclass(frozen=True)
class Analysed:
    """A query as one language reads it: its `tokens`, the lexical `terms` (distinct tokens),
    and the quoted `phrases` a document must contain."""

    tokens: list[str]
    terms: list[str]
    phrases: list[list[str]]


@dataclass(frozen=True)
class Query:
    """A query as the channels see it: `text` for the encoder (quotes removed), and its
    `quoted` phrases as typed; `analysed(language)` gives its tokens in a language."""

    text: str
    quoted: tuple[str, ...] = ()
    _analyses: dict = field(default_factory=dict, compare=False, repr=False)

    def analysed(self, language: str | None = DEFAULT_LANGUAGE) -> Analysed:
        found = self._analyses.get(language)
        if found is None:
            read = analyser(language)
            sequence = read.tokens(self.text)
            phrases = [p for p in (read.tokens(q) for q in self.quoted) if p]
            found = self._analyses[language] = Analysed(sequence, list(dict.fromkeys(sequence)), phrases)
        return found


def parse_query(query: str) -> Query:
    quoted = re.findall(r'"([^"]+)"', query)
    text = " ".join(query.replace('"', " ").split())
    return Query(text, tuple(q for q in quoted if tokens(q)))


@dataclass(frozen=True)
class Document(TimeSpan):
    """A sentence said, or a slide shown: the unit BM25 scores and moments snap to."""

    field: int  # index into FIELDS
    video: int  # position of its video in the build
    first_row: int  # the clip rows it covers: [first_row, stop_row)
    stop_row: int
    text: str
    # A sentence's words, and the index of the first in the build's word arrays: each token
    # keeps the word it came from, so a quote's moment can end where its words end.
    words: tuple[str, ...] = ()
    first_word: int = -1


@dataclass(frozen=True)
class LexicalIndex:
    """Inverted (postings) and forward (token sequences, for phrases) CSR arrays. Documents come
    video by video, in build order; within a video by field, then by start."""

    vocab: dict[str, int]
    video_docs: np.ndarray  # int64 [V+1]: video i's documents are [video_docs[i], video_docs[i+1])
    doc_field: np.ndarray  # int8 [D]
    doc_first: np.ndarray  # int64 [D]
    doc_stop: np.ndarray  # int64 [D]
    doc_start: np.ndarray  # float64 [D], seconds
    doc_end: np.ndarray  # float64 [D]
    doc_length: np.ndarray  # float32 [D], tokens
    token_offsets: np.ndarray  # int64 [D+1]
    token_ids: np.ndarray  # int32: document d's tokens are token_ids[offsets[d]:offsets[d+1]]
    token_word: np.ndarray  # int64 per token: the build's word it starts in (-1: a slide's)
    posting_offsets: np.ndarray  # int64 [T+1]
    posting_docs: np.ndarray  # int32: the documents holding term t, ascending
    posting_tf: np.ndarray  # float32: its count in each
    # Statistics of the whole library, also in a shard's part, so BM25 scores the same there;
    # per language, so that a word common in one language's documents (Italian "la", "della")
    # is common there, not rare because the library's English documents lack it.
    doc_freq: np.ndarray  # float32 [L, F, T]: documents of each language and field holding the term
    field_docs: np.ndarray  # float32 [L, F]: documents per language and field
    field_avg_length: np.ndarray  # float32 [F]
    doc_text: Texts
    # The languages of the whole library's documents (ISO 639-1), and each document's and
    # video's position among them: a document is scored on the query as its language reads it.
    languages: tuple[str, ...] = (DEFAULT_LANGUAGE,)
    doc_language: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))  # int8 [D]
    video_language: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))  # int8 [V]

    ARRAYS = ("video_docs", "doc_field", "doc_first", "doc_stop", "doc_start", "doc_end", "doc_length",
              "token_offsets", "token_ids", "token_word", "posting_offsets", "posting_docs", "posting_tf",
              "doc_freq", "field_docs", "field_avg_length", "doc_language", "video_language")
    ARRAY_FILES = (*ARRAYS, "doc_text.offsets", "doc_text.blob")

    @classmethod
    def build(cls, documents: list[Document], videos: int,
              video_languages: list[str | None] | None = None) -> LexicalIndex:
        """The index of `documents` of `videos` videos (put in index order: see the class),
        each analysed in its video's language (`video_languages`, per position; None or
        missing: English)."""
        documents = sorted(documents, key=lambda d: (d.video, d.field, d.start))
        spoken = [language or DEFAULT_LANGUAGE for language in (video_languages or [None] * videos)]
        languages = tuple(sorted(set(spoken))) or (DEFAULT_LANGUAGE,)
        video_language = np.array([languages.index(language) for language in spoken], dtype=np.int8)
        vocab: dict[str, int] = {}
        sequences, words = [], []
        for d in documents:
            read = analyser(spoken[d.video])
            found, sources = read.word_tokens(list(d.words)) if d.words else (read.tokens(d.text), [])
            sequences.append(np.array([vocab.setdefault(t, len(vocab)) for t in found], dtype=np.int32))
            words.append(np.array(sources, dtype=np.int64) + d.first_word if d.words
                         else np.full(len(found), -1, dtype=np.int64))
        n_terms, n_docs = len(vocab), len(documents)
        lengths = np.array([len(s) for s in sequences], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        token_ids = np.concatenate(sequences) if sequences else np.zeros(0, np.int32)
        doc_field = np.array([d.field for d in documents], dtype=np.int8)
        # Postings: one (term, doc) pair per distinct term of a document, sorted by term.
        doc_of_token = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
        pairs, tf = np.unique(token_ids.astype(np.int64) * max(n_docs, 1) + doc_of_token, return_counts=True)
        terms, docs = pairs // max(n_docs, 1), pairs % max(n_docs, 1)
        posting_offsets = np.searchsorted(terms, np.arange(n_terms + 1)).astype(np.int64)
        doc_video = np.array([d.video for d in documents], dtype=np.int64)
        doc_language = video_language[doc_video] if n_docs else np.zeros(0, np.int8)
        doc_freq = np.zeros((len(languages), len(FIELDS), n_terms), dtype=np.float32)
        np.add.at(doc_freq, (doc_language[docs], doc_field[docs], terms), 1)
        field_docs = np.zeros((len(languages), len(FIELDS)), dtype=np.float32)
        np.add.at(field_docs, (doc_language, doc_field), 1)
        field_tokens = np.bincount(doc_field, weights=lengths, minlength=len(FIELDS))
        per_field = field_docs.sum(axis=0)
        return cls(
            vocab=vocab,
            video_docs=np.searchsorted(doc_video, np.arange(videos + 1)).astype(np.int64),
            doc_field=doc_field,
            doc_first=np.array([d.first_row for d in documents], dtype=np.int64),
            doc_stop=np.array([d.stop_row for d in documents], dtype=np.int64),
            doc_start=np.array([d.start for d in documents], dtype=np.float64),
            doc_end=np.array([d.end for d in documents], dtype=np.float64),
            doc_length=lengths.astype(np.float32), token_offsets=offsets, token_ids=token_ids,
            token_word=np.concatenate(words) if words else np.zeros(0, np.int64),
            posting_offsets=posting_offsets, posting_docs=docs.astype(np.int32),
            posting_tf=tf.astype(np.float32), doc_freq=doc_freq, field_docs=field_docs,
            field_avg_length=(field_tokens / np.maximum(per_field, 1)).astype(np.float32),
            doc_text=Texts.of([d.text for d in documents]), languages=languages, doc_language=doc_language,
            video_language=video_language,
        )

    def part(self, first_video: int, stop_video: int, first_row: int, first_word: int) -> LexicalIndex:
        """The documents of videos [first_video, stop_video), numbered from 0 like the rows and
        words of the build's part, with the whole library's statistics (so BM25 scores them
        as the whole index does)."""
        d0, d1 = int(self.video_docs[first_video]), int(self.video_docs[stop_video])
        t0, t1 = int(self.token_offsets[d0]), int(self.token_offsets[d1])
        keep = (self.posting_docs >= d0) & (self.posting_docs < d1)
        kept_before = np.concatenate([[0], np.cumsum(keep)]).astype(np.int64)
        token_word = np.asarray(self.token_word[t0:t1])
        return replace(
            self,
            video_docs=np.asarray(self.video_docs[first_video:stop_video + 1]) - d0,
            doc_field=self.doc_field[d0:d1],
            doc_first=np.asarray(self.doc_first[d0:d1]) - first_row,
            doc_stop=np.asarray(self.doc_stop[d0:d1]) - first_row,
            doc_start=self.doc_start[d0:d1], doc_end=self.doc_end[d0:d1], doc_length=self.doc_length[d0:d1],
            token_offsets=np.asarray(self.token_offsets[d0:d1 + 1]) - t0,
            token_ids=self.token_ids[t0:t1],
            token_word=np.where(token_word >= 0, token_word - first_word, -1),
            posting_offsets=kept_before[np.asarray(self.posting_offsets)],
            posting_docs=(np.asarray(self.posting_docs)[keep] - d0).astype(np.int32),
            posting_tf=np.asarray(self.posting_tf)[keep],
            doc_text=self.doc_text.part(d0, d1), doc_language=self.doc_language[d0:d1],
            video_language=self.video_language[first_video:stop_video],
        )

    def documents_of(self, video: int, field: str) -> slice:
        """The documents of one field of the video at this position, in order."""
        lo, hi = int(self.video_docs[video]), int(self.video_docs[video + 1])
        f = FIELDS.index(field)
        fields = self.doc_field[lo:hi]
        return slice(lo + int(np.searchsorted(fields, f, side="left")),
                     lo + int(np.searchsorted(fields, f, side="right")))

    def of_video(self, docs: np.ndarray, video: int) -> np.ndarray:
        """The documents among `docs` that belong to the video at this position."""
        return docs[(docs >= self.video_docs[video]) & (docs < self.video_docs[video + 1])]

    def language_of(self, video: int) -> str:
        """The language the documents of the video at this position were analysed in."""
        return self.languages[int(self.video_language[video])]

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in self.ARRAYS} | self.doc_text.arrays("doc_text")

    def idf(self, term: int, language: int = 0) -> np.ndarray:
        """BM25's (always positive) idf of a term id on each field [F] among the documents of a
        language (its position in `languages`); -1 is an unknown term."""
        df = self.doc_freq[language, :, term] if term >= 0 else np.zeros(len(FIELDS), np.float32)
        return np.log1p((self.field_docs[language] - df + 0.5) / (df + 0.5))

    def phrase_documents(self, phrases: list[list[str]], field: str | None = None,
                         max_edits: int = 0, language: str | None = None) -> np.ndarray:
        """The documents (of one field, or any; of one language, or any) holding every phrase,
        each with at most `max_edits` words missing, extra or different."""
        docs = None
        for phrase in phrases:
            found = self.phrase_docs(phrase, max_edits, language)
            docs = found if docs is None else np.intersect1d(docs, found)
        docs = np.zeros(0, np.int64) if docs is None else docs
        return docs[self.doc_field[docs] == FIELDS.index(field)] if field is not None else docs

    def rows_of(self, docs: np.ndarray, n_rows: int) -> np.ndarray:
        """bool [n_rows]: the clips the documents cover."""
        rows = np.zeros(n_rows, dtype=bool)
        for d in docs:
            rows[self.doc_first[d]:self.doc_stop[d]] = True
        return rows

    def phrase_docs(self, phrase: list[str], max_edits: int = 0, language: str | None = None) -> np.ndarray:
        """The documents (of one language, or any) holding the phrase as a run of tokens, within
        `max_edits` word edits."""
        ids = [self.vocab.get(t, -1) for t in phrase]
        known = sorted({t for t in ids if t >= 0})
        need = len(set(ids)) - max_edits  # distinct phrase words a candidate must hold
        if need < 1 or len(known) < need:
            return np.zeros(0, np.int64)
        postings = np.concatenate([self.posting_docs[self.posting_offsets[t]:self.posting_offsets[t + 1]]
                                   for t in known])
        held = np.bincount(postings, minlength=len(self.doc_field))
        if language is not None and len(self.languages) > 1:
            held[self.doc_language != self.languages.index(language)] = 0
        target = np.array(ids, dtype=np.int64)
        found = [d for d in np.nonzero(held >= need)[0]
                 if _substring_edits(target, self.token_ids[self.token_offsets[d]:self.token_offsets[d + 1]]) <= max_edits]
        return np.array(found, dtype=np.int64)

    def clip_scores(self, query: Query, n_rows: int) -> np.ndarray:
        """float32 [F, n_rows]: per field, each clip's best document's BM25 score divided by the
        sum of the query terms' idf, so ~1 means "every query word, once" whatever the query.
        Each document is scored on the query's tokens in its own language."""
        out = np.zeros((len(FIELDS), n_rows), dtype=np.float32)
        if not len(self.doc_field):
            return out
        doc_scores = np.zeros(len(self.doc_field), dtype=np.float32)
        for position, language in enumerate(self.languages):
            mine = None if len(self.languages) == 1 else self.doc_language == position
            if mine is None or mine.any():
                self._score_documents(query.analysed(language), doc_scores, mine, position)
        hit = np.nonzero(doc_scores > 0)[0]
        spans = self.doc_stop[hit] - self.doc_first[hit]
        rows = np.repeat(self.doc_first[hit] - np.cumsum(spans) + spans, spans) + np.arange(spans.sum())
        np.maximum.at(out, (np.repeat(self.doc_field[hit], spans), rows), np.repeat(doc_scores[hit], spans))
        return out

    def _score_documents(self, query: Analysed, doc_scores: np.ndarray, mine: np.ndarray | None,
                         language: int = 0) -> None:
        """Adds the normalised BM25 score of the query (as one language reads it) to the
        documents of that language (`mine`, None: every document; `language`, its position)."""
        ids = [self.vocab.get(t, -1) for t in query.terms]
        if not ids:
            return
        weighted = [(t, self.idf(t, language)) for t in ids]
        norm = sum(idf for _, idf in weighted)
        # OCR often loses the space between two words ("thylakoidmembrane"): such a token
        # stands for both query words.
        for a, b in zip(query.tokens, query.tokens[1:]):
            joined = self.vocab.get(a + b, -1)
            if joined >= 0 and a + b not in query.terms:
                weighted.append((joined, self.idf(self.vocab.get(a, -1), language)
                                 + self.idf(self.vocab.get(b, -1), language)))
        scores = np.zeros(len(self.doc_field), dtype=np.float32)
        for t, idf in weighted:
            if t < 0:
                continue
            span = slice(self.posting_offsets[t], self.posting_offsets[t + 1])
            docs, tf = self.posting_docs[span], self.posting_tf[span]
            if mine is not None:
                keep = mine[docs]
                docs, tf = docs[keep], tf[keep]
            field = self.doc_field[docs]
            length = self.doc_length[docs] / self.field_avg_length[field]
            scores[docs] += idf[field] * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length))
        scores /= norm[self.doc_field].astype(np.float32)
        for phrase in query.phrases:
            keep = np.zeros(len(scores), dtype=bool)
            keep[self.phrase_docs(phrase)] = True
            scores[~keep] = 0
        doc_scores += scores


def _substring_edits(phrase: np.ndarray, tokens: np.ndarray) -> int:
    """The fewest word edits turning the phrase into some run of `tokens`."""
    return int(_edits_by_end(phrase, tokens).min())


def _edits_by_end(phrase: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """Per position j of `tokens` (0..len), the fewest word edits turning the phrase into a run
    of tokens that ends just before j (Sellers' algorithm: edit distance with a free start and
    end in the text)."""
    row = np.zeros(len(tokens) + 1, dtype=np.int64)  # matching nothing costs nothing anywhere
    for i, word in enumerate(phrase, 1):
        diagonal = row[:-1] + (tokens != word)
        above = row[1:] + 1
        new = np.empty_like(row)
        new[0] = i
        best = np.minimum(diagonal, above)
        for j in range(1, len(row)):  # a word skipped in the text: a left-to-right dependency
            new[j] = min(best[j - 1], new[j - 1] + 1)
        row = new
    return row


def matched_run(phrase: list[str], text: list[str]) -> tuple[int, int]:
    """[start, stop) of the run of tokens in `text` closest to the phrase (fewest word edits;
    of those, the first to end, and the shortest ending there)."""
    ids: dict[str, int] = {}
    target = np.array([ids.setdefault(t, len(ids)) for t in phrase], dtype=np.int64)
    found = np.array([ids.get(t, -1) for t in text], dtype=np.int64)
    stop = int(np.argmin(_edits_by_end(target, found)))
    back = _edits_by_end(target[::-1], found[:stop][::-1])  # the same match, read backwards
    return stop - int(np.argmin(back)), stop


def load_index(vocab: dict[str, int], arrays: dict[str, np.ndarray], languages: list[str]) -> LexicalIndex:
    return LexicalIndex(vocab=vocab, doc_text=Texts.load(arrays, "doc_text"), languages=tuple(languages),
                        **{name: arrays[name] for name in LexicalIndex.ARRAYS})
