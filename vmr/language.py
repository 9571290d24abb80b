"""Text as both sides of search see it: sentences cut from timed words, and normalised tokens.

Normalisation is the same for documents and queries: Unicode NFKC, lower case, numbers as
digits ("eleventh", "11th" and "11" are one token, so are "three" and "3", "twenty six" is
"26"), and Snowball stems ("memorizing" and "memorizes" meet). Ingest uses it to recognise
the lines most slides share; search builds its lexical index and matches phrases on it.
"""

from __future__ import annotations

import functools
import re
import unicodedata

_TOKEN = re.compile(r"\d+(?:[.,]\d+)+|[^\W_]+(?:'[^\W_]+)*")
_ORDINAL_SUFFIX = re.compile(r"^(\d+)(?:st|nd|rd|th|s)$")
_THOUSANDS = re.compile(r"^\d{1,3}(?:,\d{3})+$")

_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)}
_SCALES = {"hundred": 100, "hundreds": 100, "thousand": 1000, "thousands": 1000,
           "million": 10**6, "millions": 10**6, "billion": 10**9, "billions": 10**9}
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19, "twentieth": 20, "thirtieth": 30, "fortieth": 40, "fiftieth": 50,
    "sixtieth": 60, "seventieth": 70, "eightieth": 80, "ninetieth": 90, "hundredth": 100,
    "thousandth": 1000, "millionth": 10**6,
}


@functools.lru_cache(maxsize=1)
def _stemmer():
    # The English module alone: the package's __init__ imports every language's (tens of ms).
    from snowballstemmer.english_stemmer import EnglishStemmer

    return EnglishStemmer()


@functools.lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    # Snowball in pure Python costs ~0.2 ms a word; a library's vocabulary is small.
    return _stemmer().stemWord(word)


def _raw_tokens(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'").replace("\u2018", "'")
    tokens = []
    for token in _TOKEN.findall(text):
        if "'" in token:
            token = token.removesuffix("'s").replace("'", "")
        if _THOUSANDS.match(token):
            token = token.replace(",", "")
        tokens.append(token)
    return tokens


def _numbers(tokens: list[str], sources: list[int]) -> tuple[list[str], list[int]]:
    """Runs of number words become one decimal token ("twenty six" -> "26", "sixteen hundred"
    -> "1600", "eleventh" -> "11"); "11th" -> "11". A run ends where it stops being one number
    ("one two" is 1, 2) and after an ordinal. Each output token keeps the source (a word's
    index) of the first token it was made of."""
    out: list[str] = []
    out_sources: list[int] = []
    total = current = 0
    last = None  # kind of the previous number word in the run, None outside a run
    run_source = 0

    def flush() -> None:
        nonlocal total, current, last
        if last is not None:
            out.append(str(total + current))
            out_sources.append(run_source)
        total = current = 0
        last = None

    def extend(source: int) -> None:
        nonlocal run_source
        if last is None:
            run_source = source

    for i, (token, source) in enumerate(zip(tokens, sources)):
        if token in _UNITS or token in _ORDINALS and _ORDINALS[token] < 100:
            value = _UNITS.get(token, _ORDINALS.get(token))
            kind = "tens" if value >= 20 else "teen" if value >= 10 else "unit"
            # "twenty one" continues a run; "one two" or "ten three" starts a new one.
            if last in ("unit", "teen", "tens") and not (last == "tens" and kind == "unit"):
                flush()
            extend(source)
            current += value
            last = kind
            if token in _ORDINALS:
                flush()
        elif token in _TENS:
            if last in ("unit", "teen", "tens"):
                flush()
            extend(source)
            current += _TENS[token]
            last = "tens"
        elif token in _SCALES or token in _ORDINALS:
            scale = _SCALES.get(token, _ORDINALS.get(token))
            extend(source)
            if scale == 100:
                current = max(current, 1) * 100
            else:
                total += max(current, 1) * scale
                current = 0
            last = "scale"
            if token in _ORDINALS:
                flush()
        elif token == "and" and last == "scale" and i + 1 < len(tokens) and (
                tokens[i + 1] in _UNITS or tokens[i + 1] in _TENS or tokens[i + 1] in _ORDINALS):
            continue  # "one hundred and five"
        else:
            flush()
            match = _ORDINAL_SUFFIX.match(token)
            out.append(match.group(1) if match else token)
            out_sources.append(source)
    flush()
    return out, out_sources


# A sentence with no end in sight (no punctuation) is cut once it has run this long.
MAX_SENTENCE_SECONDS = 20.0
_SENTENCE_END = re.compile(r"[.?!][\"')\]]*$")


def sentences(words: list[tuple[float, float, str]]) -> list[tuple[int, int]]:
    """Timed words (start, end, text) grouped into sentences: [first, stop) ranges of the list.
    Whisper's own segments are no sentences: they cut one in two at a line length, or join two."""
    out: list[tuple[int, int]] = []
    first = 0
    for i, (_, end, text) in enumerate(words):
        if _SENTENCE_END.search(text.strip()) or end - words[first][0] >= MAX_SENTENCE_SECONDS:
            out.append((first, i + 1))
            first = i + 1
    if first < len(words):
        out.append((first, len(words)))
    return out


def tokens(text: str) -> list[str]:
    """The normalised tokens of a text, in order (phrases are matched on these)."""
    return word_tokens([text])[0]


def word_tokens(words: list[str]) -> tuple[list[str], list[int]]:
    """The normalised tokens of words said one after another (the same tokens as their text
    joined by spaces), and for each token the index of the word it starts in."""
    raw: list[str] = []
    sources: list[int] = []
    for i, word in enumerate(words):
        found = _raw_tokens(word)
        raw += found
        sources += [i] * len(found)
    out, out_sources = _numbers(raw, sources)
    return [t if t[0].isdigit() else _stem(t) for t in out], out_sources
