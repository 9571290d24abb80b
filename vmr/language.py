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
    import snowballstemmer

    return snowballstemmer.stemmer("english")


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


def _numbers(tokens: list[str]) -> list[str]:
    """Runs of number words become one decimal token ("twenty six" -> "26", "sixteen hundred"
    -> "1600", "eleventh" -> "11"); "11th" -> "11". A run ends where it stops being one number
    ("one two" is 1, 2) and after an ordinal."""
    out: list[str] = []
    total = current = 0
    last = None  # kind of the previous number word in the run, None outside a run

    def flush() -> None:
        nonlocal total, current, last
        if last is not None:
            out.append(str(total + current))
        total = current = 0
        last = None

    for i, token in enumerate(tokens):
        if token in _UNITS or token in _ORDINALS and _ORDINALS[token] < 100:
            value = _UNITS.get(token, _ORDINALS.get(token))
            kind = "tens" if value >= 20 else "teen" if value >= 10 else "unit"
            # "twenty one" continues a run; "one two" or "ten three" starts a new one.
            if last in ("unit", "teen", "tens") and not (last == "tens" and kind == "unit"):
                flush()
            current += value
            last = kind
            if token in _ORDINALS:
                flush()
        elif token in _TENS:
            if last in ("unit", "teen", "tens"):
                flush()
            current += _TENS[token]
            last = "tens"
        elif token in _SCALES or token in _ORDINALS:
            scale = _SCALES.get(token, _ORDINALS.get(token))
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
    flush()
    return out


# A sentence with no end in sight (no punctuation) is cut once it has run this long.
MAX_SENTENCE_SECONDS = 20.0
_SENTENCE_END = re.compile(r"[.?!][\"')\]]*$")


def sentences(words: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """Timed words (start, end, text) grouped into sentences (start, end, text). Whisper's own
    segments are no sentences: they cut one in two at a line length, or join two."""
    out: list[tuple[float, float, str]] = []
    current: list[tuple[float, float, str]] = []
    for word in words:
        current.append(word)
        if _SENTENCE_END.search(word[2].strip()) or word[1] - current[0][0] >= MAX_SENTENCE_SECONDS:
            out.append((current[0][0], current[-1][1], " ".join(w[2].strip() for w in current)))
            current = []
    if current:
        out.append((current[0][0], current[-1][1], " ".join(w[2].strip() for w in current)))
    return out


def tokens(text: str) -> list[str]:
    """The normalised tokens of a text, in order (phrases are matched on these)."""
    return [t if t[0].isdigit() else _stem(t) for t in _numbers(_raw_tokens(text))]
