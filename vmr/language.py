"""Text as both sides of search see it: sentences cut from timed words, and normalised tokens.

Normalisation is the same for documents and queries, and depends on the language of the text
(an ISO 639-1 code, as Whisper detects it per video; `None` is English, what vmr assumed before
it knew languages):

- Unicode NFKC and lower case, for every language;
- words of scripts written without spaces (Chinese, Japanese kana, Thai, Lao, Khmer, Burmese)
  become overlapping character bigrams ("机器学习" -> 机器 器学 学习), so a query's words match
  wherever the text says them, with no dictionary to cut words;
- Snowball stems in the 30-odd languages Snowball has a stemmer for ("mensajes" and "mensaje"
  meet, so do "сообщения" and "сообщение"); no stemming in the others;
- after stemming, Latin and Greek letters lose their accents and "ß" is "ss" ("caffè" and
  "caffe" meet, "perché" and "perche");
- numbers as digits: in English, number words too ("eleventh", "11th" and "11" are one token,
  so are "three" and "3", "twenty six" is "26"); in other languages only digits, with "1.000"
  read as one thousand where a dot groups the thousands.

Ingest uses it to recognise the lines most slides share; search builds its lexical index and
matches phrases on it, each document in its video's language and the query in every language
the library holds.
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from dataclasses import dataclass

_TOKEN = re.compile(r"\d+(?:[.,]\d+)+|[^\W_]+(?:'[^\W_]+)*")
_ORDINAL_SUFFIX = re.compile(r"^(\d+)(?:st|nd|rd|th|s)$")
_THOUSANDS = re.compile(r"^\d{1,3}(?:,\d{3})+$")
_DOT_THOUSANDS = re.compile(r"^\d{1,3}(?:\.\d{3})+$")
# Scripts written without spaces between words: Han, Hiragana, Katakana (and their
# extensions), Thai, Lao, Khmer, Burmese. Their runs are cut into character bigrams.
_UNSPACED_RANGES = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf" \
    "\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_UNSPACED = re.compile(f"[{_UNSPACED_RANGES}]+")
_UNSPACED_GAP = re.compile(f"(?<=[{_UNSPACED_RANGES}])\\s+(?=[{_UNSPACED_RANGES}])")
_SCRIPT_RUN = re.compile(f"[{_UNSPACED_RANGES}]+|[^{_UNSPACED_RANGES}]+")

# Whisper's languages (ISO 639-1, "haw" and "yue" beside them): what --language accepts.
WHISPER_LANGUAGES = frozenset(
    "af am ar as az ba be bg bn bo br bs ca cs cy da de el en es et eu fa fi fo fr gl gu ha haw he hi hr "
    "ht hu hy id is it ja jw ka kk km kn ko la lb ln lo lt lv mg mi mk ml mn mr ms mt my ne nl nn no oc "
    "pa pl ps pt ro ru sa sd si sk sl sn so sq sr su sv sw ta te tg th tk tl tr tt uk ur uz vi yi yo zh "
    "yue".split())
# The Snowball stemmer of each language that has one (snowballstemmer.algorithms()).
SNOWBALL = {
    "ar": "arabic", "hy": "armenian", "eu": "basque", "ca": "catalan", "cs": "czech", "da": "danish",
    "nl": "dutch", "en": "english", "et": "estonian", "fi": "finnish", "fr": "french", "de": "german",
    "el": "greek", "hi": "hindi", "hu": "hungarian", "id": "indonesian", "ms": "indonesian", "ga": "irish",
    "it": "italian", "lt": "lithuanian", "ne": "nepali", "no": "norwegian", "nn": "norwegian",
    "fa": "persian", "pl": "polish", "pt": "portuguese", "ro": "romanian", "ru": "russian",
    "sr": "serbian", "es": "spanish", "sv": "swedish", "ta": "tamil", "tr": "turkish", "yi": "yiddish",
    "eo": "esperanto", "st": "sesotho",
}
# Languages whose numbers group thousands with a dot ("1.720"); English groups with a comma.
_DOT_GROUPING = frozenset("de it es pt nl da id tr el ro ca hr sr sl bs is vi".split())
DEFAULT_LANGUAGE = "en"

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


def _fold(token: str) -> str:
    """A stem without the accents of its Latin and Greek letters, and "ß" as "ss"."""
    if token.isascii():
        return token
    out = []
    for char in unicodedata.normalize("NFD", token.replace("ß", "ss")):
        if unicodedata.combining(char) and out and (out[-1] < "\u0250" or "\u0370" <= out[-1] < "\u0400"
                                                     or "\u1e00" <= out[-1] < "\u1f00"):
            continue
        out.append(char)
    return unicodedata.normalize("NFC", "".join(out))


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'").replace("\u2018", "'")
    return _UNSPACED_GAP.sub("", text)


def _raw_tokens(text: str, comma_thousands: bool, dot_thousands: bool,
                english: bool = True) -> tuple[list[str], list[int]]:
    """The tokens of normalised text, and the character offset where each starts; runs of a
    script without spaces become their character bigrams (a lone character stays alone). In
    English an apostrophe joins ("don't", "newton's" -> "newton"); elsewhere it separates, as
    in "l'espresso", "dell'Europa", "c'è" (Whisper writes them "l 'espresso" as often)."""
    tokens, offsets = [], []
    for match in _TOKEN.finditer(text):
        token, at = match.group(), match.start()
        if _UNSPACED.search(token):
            for piece in _SCRIPT_RUN.finditer(token):
                chars, begin = piece.group(), at + piece.start()
                if _UNSPACED.match(chars):
                    for i in range(max(len(chars) - 1, 1)):
                        tokens.append(chars[i:i + 2])
                        offsets.append(begin + i)
                else:
                    for sub in _TOKEN.finditer(chars):
                        tokens.append(sub.group())
                        offsets.append(begin + sub.start())
            continue
        if "'" in token and not english:
            for piece in re.finditer(r"[^']+", token):
                tokens.append(piece.group())
                offsets.append(at + piece.start())
            continue
        if "'" in token:
            token = token.removesuffix("'s").replace("'", "")
        if comma_thousands and _THOUSANDS.match(token):
            token = token.replace(",", "")
        elif dot_thousands and _DOT_THOUSANDS.match(token):
            token = token.replace(".", "")
        tokens.append(token)
        offsets.append(at)
    return tokens, offsets


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


@dataclass(frozen=True)
class Analyser:
    """How the text of one language becomes tokens (see the module's docstring)."""

    language: str  # ISO 639-1
    stemmer: str | None  # the Snowball algorithm, None where Snowball has none
    number_words: bool  # English number words as digits
    dot_thousands: bool  # "1.000" is one thousand

    def tokens(self, text: str) -> list[str]:
        """The normalised tokens of a text, in order (phrases are matched on these)."""
        return self.word_tokens([text])[0]

    def word_tokens(self, words: list[str]) -> tuple[list[str], list[int]]:
        """The normalised tokens of words said one after another (the same tokens as their text
        joined by spaces), and for each token the index of the word it starts in."""
        pieces: list[str] = []
        owner: list[int] = []  # per character of the joined text, the word it belongs to
        for i, word in enumerate(words):
            word = _normalise(word).strip()
            if not word:
                continue
            # a space between words, except between two characters of a script without spaces
            if pieces and not (_UNSPACED.match(word[0]) and _UNSPACED.match(pieces[-1][-1])):
                pieces.append(" ")
                owner.append(i)
            pieces.append(word)
            owner += [i] * len(word)
        raw, offsets = _raw_tokens("".join(pieces), self.number_words, self.dot_thousands, self.language == "en")
        sources = [owner[at] for at in offsets]
        if self.number_words:
            raw, sources = _numbers(raw, sources)
        return [t if t[0].isdigit() else self._stem(t) for t in raw], sources

    @functools.lru_cache(maxsize=200_000)
    def _stem(self, word: str) -> str:
        # Snowball in pure Python costs ~0.2 ms a word; a library's vocabulary is small.
        if self.stemmer is not None and not _UNSPACED.match(word):
            word = _snowball(self.stemmer).stemWord(word)
        return _fold(word)


_local = threading.local()


def _snowball(algorithm: str):
    """This thread's stemmer of `algorithm`: a Snowball stemmer keeps the word it works on in
    itself, so two threads (concurrent searches in `vmr serve`) must not share one."""
    stemmers = _local.__dict__.setdefault("stemmers", {})
    found = stemmers.get(algorithm)
    if found is None:
        import snowballstemmer  # (here: its __init__ imports every language's module, ~30 ms)

        found = stemmers[algorithm] = snowballstemmer.stemmer(algorithm)
    return found


@functools.lru_cache(maxsize=None)
def analyser(language: str | None = DEFAULT_LANGUAGE) -> Analyser:
    """The analyser of a language (ISO 639-1; a region or script after "-" or "_" is ignored);
    None is English."""
    code = (language or DEFAULT_LANGUAGE).lower().replace("_", "-").split("-")[0]
    return Analyser(code, SNOWBALL.get(code), code == "en", code in _DOT_GROUPING)


def tokens(text: str, language: str | None = DEFAULT_LANGUAGE) -> list[str]:
    """The normalised tokens of a text in a language, in order (phrases are matched on these)."""
    return analyser(language).tokens(text)


def word_tokens(words: list[str], language: str | None = DEFAULT_LANGUAGE) -> tuple[list[str], list[int]]:
    """The normalised tokens of words said one after another in a language, and for each token
    the index of the word it starts in."""
    return analyser(language).word_tokens(words)
