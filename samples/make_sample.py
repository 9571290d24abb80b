#!/usr/bin/env python3
"""Build the bundled sample lectures from nothing, each from the declarative LECTURES below.

Outputs (next to this script, or in --out DIR):
  <vid>.mp4       H.264 (libx264) slides at 10 fps, 1280x720, + AAC mono narration
  <vid>.json      ground truth: slides (start, end, title, bullets, and the figure's text
                  where a slide has one), every spoken sentence (id, start, end, text) and
                  the silent stretches, seconds
  queries.jsonl   QVHighlights-style queries of every lecture, with windows from the above

The outputs are committed, so the demo and the tests need none of this script's tools.
Generator-only requirements (NOT project dependencies):
  apt-get install espeak-ng fonts-dejavu-core
  pip install pillow            # into the project venv; PyAV and numpy come from vmr
Run:  .venv/bin/python samples/make_sample.py [--out DIR]
The output is deterministic: the same tools give byte-identical files.

Timing model: each sentence is synthesised on its own with espeak-ng, its leading and
trailing silence trimmed, and the pieces are laid out with fixed pauses, so the
start/end of every sentence in the final audio is known exactly.  Each track opens with
a 1 s silent lead-in.  A lecture may hold a ~4.5 s stretch of digital silence after one
topic while that topic's slide stays on screen.  A topic's first slide appears halfway
through the gap before the topic; a slide listed between two sentences of a topic appears
halfway through the short pause between them, while the speaker goes on.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import wave
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
VOICE = ["-v", "en-us", "-s", "150"]
WIDTH, HEIGHT, FPS = 1280, 720, 10
LEAD_IN = 1.0          # silent lead-in before the first sentence
SENTENCE_PAUSE = 0.35  # silence between sentences of one topic
TOPIC_GAP = 1.0        # silence between topics; the slide changes halfway through
LONG_GAP = 4.5         # silence after a lecture's `long_pause_after` topic
SLIDE_LEAD = 0.5       # after a long gap the next slide appears this long before speech
TAIL = 1.0             # silence after the last sentence
BACKGROUND = (250, 250, 246)
INK = (25, 25, 25)


def font(size: int, bold: bool = False, mono: bool = False):
    name = "DejaVuSansMono.ttf" if mono else "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for d in ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/TTF"):
        if (Path(d) / name).exists():
            return ImageFont.truetype(str(Path(d) / name), size)
    sys.exit(f"font {name} not found: apt-get install fonts-dejavu-core")


def tint(colour: tuple[int, int, int], share: float = 0.18) -> tuple[int, int, int]:
    """The colour mixed into the background: a light fill of the topic's colour."""
    return tuple(round(c * share + b * (1 - share)) for c, b in zip(colour, BACKGROUND))


# -- figure elements: what a slide shows beside its bullets.  Each draws itself and names the
# -- text it puts on screen, which goes into the ground truth as the slide's "figure".
@dataclass(frozen=True)
class Text:
    x: int
    y: int
    text: str
    size: int = 34
    bold: bool = False

    def draw(self, d: ImageDraw.ImageDraw, colour) -> None:
        d.text((self.x, self.y), self.text, font=font(self.size, self.bold), fill=INK, anchor="lm")

    def texts(self) -> list[str]:
        return [self.text]


@dataclass(frozen=True)
class Code:
    x: int
    y: int
    lines: tuple[str, ...]
    size: int = 32

    def draw(self, d, colour) -> None:
        f, step = font(self.size, mono=True), round(self.size * 1.35)
        width = max(d.textlength(line, font=f) for line in self.lines)
        d.rounded_rectangle([self.x - 20, self.y - 20, self.x + width + 20,
                             self.y + step * len(self.lines) + 8], 12, fill=(236, 236, 232))
        for i, line in enumerate(self.lines):
            d.text((self.x, self.y + i * step), line, font=f, fill=INK, anchor="la")

    def texts(self) -> list[str]:
        return list(self.lines)


@dataclass(frozen=True)
class Box:
    """A rounded box (or an ellipse) with centred lines of text."""
    x0: int
    y0: int
    x1: int
    y1: int
    lines: tuple[str, ...] = ()
    size: int = 32
    ellipse: bool = False
    filled: bool = True

    def draw(self, d, colour) -> None:
        box, fill = [self.x0, self.y0, self.x1, self.y1], tint(colour) if self.filled else None
        if self.ellipse:
            d.ellipse(box, fill=fill, outline=colour, width=5)
        else:
            d.rounded_rectangle(box, 16, fill=fill, outline=colour, width=5)
        step = round(self.size * 1.3)
        top = (self.y0 + self.y1) / 2 - step * (len(self.lines) - 1) / 2
        for i, line in enumerate(self.lines):
            d.text(((self.x0 + self.x1) / 2, top + i * step), line, font=font(self.size),
                   fill=INK, anchor="mm")

    def texts(self) -> list[str]:
        return list(self.lines)


@dataclass(frozen=True)
class Arrow:
    x0: int
    y0: int
    x1: int
    y1: int
    label: str = ""
    size: int = 30

    def draw(self, d, colour) -> None:
        d.line([self.x0, self.y0, self.x1, self.y1], fill=INK, width=5)
        v = np.array([self.x1 - self.x0, self.y1 - self.y0], float)
        v /= np.linalg.norm(v)
        n = np.array([-v[1], v[0]])
        tip = np.array([self.x1, self.y1], float)
        head = [tuple(tip), tuple(tip - 24 * v + 12 * n), tuple(tip - 24 * v - 12 * n)]
        d.polygon(head, fill=INK)
        if not self.label:
            return
        mid = (np.array([self.x0, self.y0]) + tip) / 2
        if abs(v[0]) < 0.5:  # a steep arrow: label beside it, else above it
            d.text((mid[0] + 20, mid[1]), self.label, font=font(self.size), fill=INK, anchor="lm")
        else:
            d.text(tuple(mid + 28 * (n if n[1] < 0 else -n)), self.label, font=font(self.size),
                   fill=INK, anchor="mm")

    def texts(self) -> list[str]:
        return [self.label] if self.label else []


@dataclass(frozen=True)
class Shape:
    """A polygon (closed, filled with the topic's tint) or a polyline; no text."""
    points: tuple[tuple[float, float], ...]
    closed: bool = True
    width: int = 5

    def draw(self, d, colour) -> None:
        if self.closed:
            d.polygon(self.points, fill=tint(colour, 0.35), outline=colour, width=self.width)
        else:
            d.line(self.points, fill=colour, width=self.width, joint="curve")

    def texts(self) -> list[str]:
        return []


@dataclass(frozen=True)
class Table:
    x: int
    y: int
    caption: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    col: int = 150
    size: int = 32

    def draw(self, d, colour) -> None:
        row_h = round(self.size * 1.7)
        d.text((self.x, self.y), self.caption, font=font(self.size, bold=True), fill=colour,
               anchor="lb")
        width = self.col * len(self.header)
        d.rectangle([self.x, self.y + 10, self.x + width, self.y + 10 + row_h], fill=tint(colour))
        for r, cells in enumerate((self.header, *self.rows)):
            top = self.y + 10 + r * row_h
            d.rectangle([self.x, top, self.x + width, top + row_h], outline=INK, width=2)
            for c, cell in enumerate(cells):
                d.text((self.x + c * self.col + 16, top + row_h / 2), cell,
                       font=font(self.size, bold=r == 0), fill=INK, anchor="lm")
        for c in range(1, len(self.header)):
            x = self.x + c * self.col
            d.line([x, self.y + 10, x, self.y + 10 + row_h * (len(self.rows) + 1)], fill=INK,
                   width=2)

    def texts(self) -> list[str]:
        return [self.caption] + [" | ".join(cells) for cells in (self.header, *self.rows)]


Figure = Text | Code | Box | Arrow | Shape | Table


@dataclass(frozen=True)
class Slide:
    title: str
    bullets: tuple[str, ...] = ()
    figure: tuple[Figure, ...] = ()


@dataclass(frozen=True)
class Lecture:
    vid: str
    title: str
    # (topic key, [Slide, sentence, ...]): a topic opens with its slide; a Slide between two
    # sentences changes the picture in mid-paragraph.  Sentence ids are "<topic>.<n>" and
    # slide ids "<topic>#<n>", n counted from 1 within the topic.
    topics: tuple[tuple[str, tuple[Slide | str, ...]], ...]
    # (query, kind, windows): each window is "<id>" or "<first id>-<last id>", from the start
    # of the first sentence or slide to the end of the last.
    queries: tuple[tuple[str, str, str | tuple[str, ...]], ...]
    long_pause_after: str | None = None


PALETTE = [(31, 78, 121), (146, 52, 36), (40, 110, 60), (105, 55, 130), (170, 110, 20),
           (60, 60, 60)]

MACHINE_LEARNING = Lecture("lecture", "Introduction to Machine Learning", long_pause_after="overfit", topics=(
    ("intro", (
        Slide("What Is Machine Learning?", (
            "Programs that improve with experience",
            "Supervised learning: labeled examples",
            "Learn a mapping from input to label",
            "Predict labels for unseen examples",
        )),
        "Welcome to this short introduction to machine learning.",
        "Machine learning is the study of programs that improve with experience, "
        "instead of following hand written rules.",
        "In supervised learning, we give the computer labeled examples, "
        "such as photos tagged as cat or dog.",
        "The model learns a mapping from each input to its label.",
        "Once trained, it can predict labels for new examples it has never seen.",
    )),
    ("gd", (
        Slide("Gradient Descent", (
            "Loss: how wrong the predictions are",
            "Gradient: direction of steepest increase",
            "Step downhill: w \u2190 w \u2212 \u03b7 \u00b7 \u2207L",
            "Learning rate \u03b7 sets the step size",
        )),
        "So how does a model actually learn? The most common answer is gradient descent.",
        "First we define a loss function, which measures how wrong the predictions are.",
        "The gradient of the loss tells us the direction in which the error grows fastest.",
        "Gradient descent takes a small step in the opposite direction, downhill.",
        "Each step updates the weights by subtracting the gradient times the learning rate.",
        "If the learning rate is too large the steps overshoot, "
        "and if it is too small, training is very slow.",
    )),
    ("overfit", (
        Slide("Overfitting", (
            "Memorizing the training data, noise included",
            "Training error falls, validation error rises",
            "Regularization: penalize large weights",
            "Dropout: randomly switch off neurons",
        )),
        "A model that fits the training data perfectly is not always a good model.",
        "Overfitting happens when the model memorizes the training examples, "
        "including their noise.",
        "You can spot it when the training error keeps falling, "
        "but the validation error starts rising.",
        "One remedy is regularization, which adds a penalty for large weights.",
        "Another remedy is dropout, which randomly switches off neurons during training.",
    )),
    ("nn", (
        Slide("Neural Networks & Backpropagation", (
            "Layers of simple units (neurons)",
            "Weighted sum + nonlinear activation",
            "Backpropagation: gradient for every weight",
            "Chain rule, from the output layer backwards",
        )),
        "Neural networks are built from layers of simple units called neurons.",
        "Each layer computes a weighted sum of its inputs, and passes it through "
        "a nonlinear activation function, such as the rectified linear unit.",
        "Stacking many layers lets the network learn complex patterns.",
        "To train it, backpropagation computes the gradient of the loss for every weight.",
        "It works backwards from the output layer, applying the chain rule of calculus, "
        "one layer at a time.",
    )),
    ("eval", (
        Slide("Evaluating a Model", (
            "Train / validation / test split",
            "Cross-validation when data is scarce",
            "Precision: predicted positives that are right",
            "Recall: real positives that are found",
        )),
        "Finally, how do we know whether a model is any good?",
        "We split the data into a training set, a validation set, and a test set.",
        "The test set is used only once, at the very end, to get an honest estimate.",
        "With little data, cross validation rotates which part is held out, "
        "and averages the results.",
        "For classifiers, precision is the fraction of predicted positives that are correct.",
        "Recall is the fraction of real positives that the model manages to find.",
    )),
    ("summary", (
        Slide("Summary", (
            "Learn from labeled examples",
            "Gradient descent tunes the weights",
            "Regularize against overfitting",
            "Evaluate honestly on held-out data",
        )),
        "To sum up: machine learning learns from labeled examples, "
        "gradient descent tunes the weights, regularization keeps overfitting in check, "
        "and careful evaluation tells us whether it really works.",
        "Thanks for watching.",
    )),
), queries=(
    ("what is supervised learning with labeled examples", "paraphrase", "intro.2-intro.5"),
    ("how does gradient descent update the weights", "paraphrase", "gd.3-gd.5"),
    ("what happens if the learning rate is too big", "paraphrase", "gd.6"),
    ("what is overfitting", "keyword", "overfit.1-overfit.2"),
    ("how can I stop my model from memorizing the training set", "paraphrase",
     "overfit.4-overfit.5"),
    ("how do neural networks and backpropagation work", "paraphrase", "nn.1-nn.5"),
    ("how do we measure a classifier's precision and recall", "paraphrase", "eval.5-eval.6"),
    ("splitting data into train validation and test sets, cross-validation", "paraphrase",
     "eval.2-eval.4"),
    ("the validation error starts rising", "quote", "overfit.3"),
    ("applying the chain rule of calculus", "quote", "nn.5"),
    ("direction of steepest increase", "slide", "gd#1"),
    ("w \u2190 w \u2212 \u03b7 \u00b7 \u2207L", "slide", "gd#1"),
))

STUDENTS = Table(90, 300, "students", ("id", "name", "year"),
                 (("1", "Ada", "2"), ("2", "Alan", "3"), ("3", "Grace", "1")))
JOIN_CODE = ("SELECT s.name, e.course", "FROM students s", "JOIN enrolments e",
             "  ON e.student_id = s.id;")

DATABASES = Lecture("databases", "Introduction to Databases and SQL", topics=(
    ("intro", (
        Slide("What Is a Database?", (
            "Organized, shared, persistent data",
            "DBMS: PostgreSQL, MySQL, SQLite",
            "Relational model: E. F. Codd, 1970",
        )),
        "Welcome to this introduction to databases and the SQL language.",
        "A database is an organized collection of data that many programs can share "
        "at the same time.",
        "Instead of every application keeping its own files, a database management system "
        "stores the data in one place, and decides who may read or change it.",
        "Most of the databases you will meet at work are relational, "
        "and that is the kind we look at today.",
    )),
    ("tables", (
        Slide("Tables, Rows and Keys", figure=(
            STUDENTS, Text(90, 600, "Primary key: id (unique per row)", 30))),
        "In a relational database, all data lives in tables.",
        "Each row describes one thing, such as one student, "
        "and each column holds one property of it, like the name.",
        "Every table has a primary key, a column whose value is different in every row, "
        "so that each row can always be found again.",
        # the same table, now with a second one pointing at it: a small change on screen
        Slide("Tables, Rows and Keys", figure=(
            STUDENTS, Text(90, 600, "Primary key: id (unique per row)", 30),
            Table(760, 300, "enrolments", ("student_id", "course"),
                  (("1", "CS101"), ("1", "MA201"), ("3", "CS101")), col=220),
            Arrow(760, 420, 560, 420, "FK"))),
        "A second table can refer to the first one through a foreign key, "
        "a column that stores the primary key of a row in the other table.",
        "This is how tables are linked, without copying the same information twice.",
    )),
    ("select", (
        Slide("Querying with SELECT", ("Declarative: say what, not how",), figure=(
            Code(110, 340, ("SELECT name, year", "FROM students", "WHERE year >= 2",
                            "ORDER BY name;"), 38),
            Arrow(640, 430, 780, 430),
            Table(820, 370, "result", ("name", "year"), (("Ada", "2"), ("Alan", "3")),
                  col=160))),
        "To ask questions of the data, we write queries in SQL, "
        "the structured query language.",
        "A select statement lists the columns you want to see, and the table they come from.",
        "The where clause keeps only the rows that satisfy a condition, "
        "and order by sorts what is left, for example alphabetically.",
        "Notice that you describe the result you want, "
        "and the database works out by itself how to compute it.",
    )),
    ("joins", (
        Slide("Joining Tables", figure=(
            Box(70, 200, 470, 460, ellipse=True),
            Box(290, 200, 690, 460, ellipse=True, filled=False),
            Text(100, 330, "students", 30),
            Text(500, 330, "enrolments", 30),
            Text(230, 510, "INNER JOIN = overlap", 30, bold=True),
            Code(750, 250, JOIN_CODE, 30))),
        "Often the answer needs data from two tables at once.",
        "A join combines them, pairing each row of one table with the rows of the other "
        "that share the same key value.",
        "An inner join keeps only the pairs that match, while a left join also keeps "
        "the rows on the left side that have no partner at all.",
    )),
    ("index", (
        Slide("Indexes", (
            "Full table scan: O(n)",
            "B-tree index: O(log n)",
            "CREATE INDEX idx_name ON students(name);",
        )),
        "When a table grows to millions of rows, reading every one of them "
        "to answer a question becomes slow.",
        "An index is a sorted structure, like the index at the back of a book, "
        "that lets the database jump straight to the matching rows.",
        "The price is extra disk space, and writes that are a little slower, "
        "because every index must be kept up to date.",
        Slide("Transactions", ("ACID: Atomicity, Consistency, Isolation, Durability",), figure=(
            Code(110, 300, ("BEGIN;", "UPDATE accounts SET balance = balance - 100",
                            "  WHERE id = 1;", "UPDATE accounts SET balance = balance + 100",
                            "  WHERE id = 2;", "COMMIT;")),)),
        "Databases also protect your data when something goes wrong halfway.",
        "A transaction groups several changes, so that either all of them happen, "
        "or none of them do.",
        "If the power fails while money moves between two accounts, "
        "the bank never ends up with half of a transfer.",
    )),
    ("summary", (
        Slide("Summary", (
            "Tables, rows, primary and foreign keys",
            "SELECT \u2026 FROM \u2026 WHERE \u2026 ORDER BY",
            "JOIN matches rows on shared keys",
            "Indexes for speed, transactions for safety",
        )),
        "To sum up: relational databases keep data in linked tables, SQL lets you ask "
        "for exactly the rows you need, and indexes and transactions make it fast and safe.",
        "Thanks for watching.",
    )),
), queries=(
    ("a column whose value is different in every row", "quote", "tables.3"),
    ("like the index at the back of a book", "quote", "index.2"),
    ("the bank never ends up with half of a transfer", "quote", "index.6"),
    ("foreign key", "keyword", "tables.4-tables.5"),
    ("inner join", "keyword", "joins.3"),
    ("where clause", "keyword", "select.3"),
    ("how can lookups in a huge dataset be sped up", "paraphrase", "index.1-index.3"),
    ("making sure a batch of updates succeeds or fails as a unit", "paraphrase",
     "index.5-index.6"),
    ("connect related records kept in separate places", "paraphrase", "joins.1-joins.3"),
    ("you state the outcome and the engine figures out the steps", "paraphrase", "select.4"),
    ("PostgreSQL, MySQL, SQLite", "slide", "intro#1"),
    ("E. F. Codd, 1970", "slide", "intro#1"),
    ("WHERE year >= 2", "slide", "select#1"),
    ("ON e.student_id = s.id", "slide", "joins#1"),
    ("B-tree index O(log n)", "slide", "index#1"),
))

BIOLOGY = Lecture("biology", "Cellular Respiration and Photosynthesis", long_pause_after="stages",
                  topics=(
    ("intro", (
        Slide("Energy in the Cell", (
            "ATP: adenosine triphosphate",
            "ATP \u2192 ADP + phosphate + energy",
            "About 30.5 kJ/mol per ATP split",
        )),
        "Welcome. Today we follow the energy that keeps every living cell running.",
        "A cell needs a steady supply of energy to build molecules, to move, and to divide.",
        "That energy is carried by a small molecule called ATP, "
        "which works like a rechargeable battery.",
        "Plants charge their batteries with sunlight, and animals charge theirs with food.",
    )),
    ("photo", (
        Slide("Photosynthesis", figure=(
            Box(440, 220, 840, 470, ("chloroplast",), ellipse=True),
            Arrow(120, 250, 440, 300, "light"),
            Arrow(120, 360, 430, 360, "6 CO\u2082"),
            Arrow(120, 450, 440, 420, "6 H\u2082O"),
            Arrow(840, 300, 1160, 250, "C\u2086H\u2081\u2082O\u2086"),
            Arrow(840, 420, 1160, 450, "6 O\u2082"),
            Text(200, 580, "6 CO\u2082 + 6 H\u2082O + light \u2192 C\u2086H\u2081\u2082O\u2086 "
                 "+ 6 O\u2082", 36))),
        "Plants, algae and some bacteria make their own food by photosynthesis.",
        "Inside the chloroplasts, a green pigment called chlorophyll absorbs sunlight.",
        "The plant uses this light energy to join carbon dioxide from the air "
        "with water from the soil, and builds sugar.",
        "Oxygen is released as a by-product, and that is the oxygen we breathe.",
        Slide("Two Stages of Photosynthesis", figure=(
            Box(80, 230, 500, 420, ("Light reactions", "thylakoid membrane")),
            Arrow(500, 325, 760, 325, "ATP + NADPH"),
            Box(760, 230, 1180, 420, ("Calvin cycle", "stroma, RuBisCO")),
            Arrow(290, 520, 290, 425, "H\u2082O \u2192 O\u2082"),
            Arrow(970, 420, 970, 540),
            Text(880, 580, "G3P \u2192 glucose", 34))),
        "This happens in two stages.",
        "First, the light reactions split water, "
        "and store the captured energy in carrier molecules.",
        "Then the Calvin cycle spends that stored energy to fix carbon into sugar.",
    )),
    ("resp", (
        Slide("Cellular Respiration", (
            "C\u2086H\u2081\u2082O\u2086 + 6 O\u2082 \u2192 6 CO\u2082 + 6 H\u2082O",
            "Yield: about 30\u201332 ATP per glucose",
            "Aerobic: needs O\u2082",
        )),
        "Cellular respiration runs the same reaction the other way.",
        "It breaks sugar down again with the help of oxygen, "
        "and stores the released energy in ATP.",
        "Carbon dioxide and water are left over, and we breathe the carbon dioxide out.",
    )),
    ("stages", (
        Slide("Three Stages of Respiration", figure=(
            Box(40, 250, 330, 450, ("Glycolysis", "cytoplasm", "2 ATP"), 30),
            Box(400, 180, 1220, 650, ellipse=True),
            Shape(((470, 540), (540, 470), (610, 540), (680, 470), (750, 540), (820, 470),
                   (890, 540), (960, 470), (1030, 540), (1100, 470)), closed=False),
            Text(720, 595, "mitochondrion", 28),
            Arrow(330, 350, 500, 350, "pyruvate"),
            Box(500, 250, 780, 430, ("Krebs cycle", "matrix", "2 ATP"), 30),
            Arrow(780, 340, 850, 340),
            Box(850, 250, 1180, 430, ("Electron", "transport chain", "~28 ATP"), 30))),
        "Respiration happens in three stages.",
        "Glycolysis splits each glucose molecule into two smaller pieces, "
        "out in the cytoplasm.",
        "These pieces then enter the mitochondria, the power plants of the cell, "
        "where the citric acid cycle strips off their electrons.",
        "Finally, the electron transport chain uses those electrons to pump protons "
        "across a membrane, and the protons flowing back drive a tiny rotating enzyme "
        "that makes most of the ATP.",
    )),
    ("ferment", (
        Slide("Without Oxygen: Fermentation", (
            "Muscle: pyruvate \u2192 lactate",
            "Yeast: pyruvate \u2192 ethanol + CO\u2082",
            "Only 2 ATP per glucose",
        )),
        "When oxygen runs short, as in a sprinter's legs, cells fall back on fermentation.",
        "Fermentation releases far less energy, but it keeps glycolysis going for a while.",
        "Yeast uses the same trick to turn sugar into alcohol, "
        "which is why bread rises and grape juice becomes wine.",
    )),
    ("summary", (
        Slide("Summary", (
            "Photosynthesis stores light in glucose",
            "Respiration releases it as ATP",
            "Glycolysis \u2192 Krebs cycle \u2192 electron transport",
            "Fermentation when O\u2082 is scarce",
        )),
        "To sum up: photosynthesis captures the energy of sunlight in sugar, "
        "and respiration releases it again as ATP, "
        "with fermentation as a backup when oxygen is scarce.",
        "Thanks for watching.",
    )),
), queries=(
    ("works like a rechargeable battery", "quote", "intro.3"),
    ("that is the oxygen we breathe", "quote", "photo.4"),
    ("why bread rises and grape juice becomes wine", "quote", "ferment.3"),
    ("chlorophyll pigment", "keyword", "photo.2"),
    ("electron transport chain", "keyword", "stages.4"),
    ("Calvin cycle", "keyword", "photo.5-photo.7"),
    ("what happens in my burning muscles when I cannot breathe fast enough", "paraphrase",
     "ferment.1-ferment.2"),
    ("how does a leaf turn daylight into nourishment", "paraphrase", "photo.1-photo.3"),
    ("which step produces the bulk of the energy molecules", "paraphrase", "stages.4"),
    ("what waste gas do we exhale after using food as fuel", "paraphrase", "resp.3"),
    ("adenosine triphosphate", "slide", "intro#1"),
    ("thylakoid membrane", "slide", "photo#2"),
    ("Krebs cycle in the matrix", "slide", "stages#1"),
    ("pyruvate \u2192 lactate", "slide", "ferment#1"),
))

RAMP = Shape(((90, 600), (760, 600), (760, 260)))
# balls resting on the ramp at distances 0, 1, 4, 9, 16 from the top: the odd-number rule
_DOWN = np.array([-670, 340]) / np.hypot(670, 340)
BALLS = tuple(Box(*(c - 20), *(c + 20), ellipse=True)
              for c in (np.array([760, 260]) + 44 * s * _DOWN + 22 * np.array([-_DOWN[1], _DOWN[0]])
                        for s in (0, 1, 4, 9, 16)))
MECHANICS = Lecture("mechanics", "A Short History of Mechanics", topics=(
    ("intro", (
        Slide("Why Do Things Move?", (
            "Aristotle (384\u2013322 BC): motion needs a mover",
            "Ibn Sina (980\u20131037): mayl, an inner push",
            "Buridan (c. 1350): impetus theory",
        )),
        "This lecture tells the story of how we learned to describe motion.",
        "For a long time, people followed the Greek philosopher Aristotle, "
        "who taught that a moving object stops as soon as nothing pushes it.",
        "In the eleventh century, the Persian scholar Ibn Sina argued instead "
        "that a thrown stone keeps moving because the thrower gives it an inner inclination.",
        "It took six hundred more years to turn that idea into a precise law.",
    )),
    ("galileo", (
        Slide("Galileo and the Inclined Plane", figure=(
            RAMP,
            *BALLS,
            Text(480, 250, "1 : 3 : 5 : 7", 34),
            Text(860, 330, "d \u221d t\u00b2", 48, bold=True),
            Text(860, 450, "Galileo Galilei", 34),
            Text(860, 500, "1564\u20131642", 34))),
        "In the early sixteen hundreds, Galileo rolled bronze balls down gentle ramps, "
        "and timed them with a water clock.",
        "He found that the distance covered grows with the square of the time.",
        "And a heavy ball and a light ball reach the bottom together, "
        "as long as air resistance can be ignored.",
    )),
    ("newton", (
        Slide("Newton's Three Laws", (
            "Principia Mathematica, 1687",
            "1. Inertia",
            "2. F = m \u00b7 a",
            "3. Action = \u2212 Reaction",
        )),
        "Isaac Newton brought these ideas together in one great book, "
        "with three laws of motion.",
        "The first law says that a body keeps moving in a straight line at constant speed, "
        "unless a force acts on it.",
        "The second law says that the force equals the mass times the acceleration.",
        "The third law says that every action has an equal and opposite reaction, "
        "which is why a rocket is pushed forward by the gas it throws back.",
        Slide("Universal Gravitation", figure=(
            Box(110, 230, 390, 510, ("Earth",), 36, ellipse=True),
            Box(900, 320, 1000, 420, ("Moon",), 24, ellipse=True),
            Arrow(890, 370, 560, 370, "F"),
            Arrow(400, 450, 890, 450, "r"),
            Text(180, 590, "F = G \u00b7 m\u2081 \u00b7 m\u2082 / r\u00b2", 40, bold=True),
            Text(700, 590, "G = 6.674 \u00d7 10\u207b\u00b9\u00b9 N\u00b7m\u00b2/kg\u00b2",
                 32))),
        "Newton also realised that the force which makes an apple fall "
        "is the same force that holds the moon in its orbit.",
        "The pull between two bodies grows weaker with the square of the distance "
        "between them.",
    )),
    ("einstein", (
        Slide("1905: Einstein's Miracle Year", (
            "Photoelectric effect (Nobel Prize 1921)",
            "Brownian motion: atoms are real",
            "Special relativity",
            "E = mc\u00b2",
        )),
        "Newton's mechanics went unchallenged for more than two hundred years.",
        "Then in 1905, a twenty six year old clerk at the patent office in Bern, "
        "Albert Einstein, published four papers that changed physics.",
        "One of them showed that the speed of light is the same for every observer, "
        "so a moving clock ticks more slowly.",
        "Another explained that light comes in small packets of energy, "
        "which we now call photons.",
    )),
    ("today", (
        Slide("Is Newton Still Right?", figure=(
            Shape(((150, 200), (150, 600), (760, 600)), closed=False, width=4),
            Shape(tuple((150 + 600 * v, 600 - 70 * (1 / np.sqrt(1 - v * v) - 1) - 60)
                        for v in np.linspace(0, 0.97, 40)), closed=False),
            Text(700, 640, "v / c", 30),
            Text(90, 200, "\u03b3", 40),
            Text(800, 300, "\u03b3 = 1 / \u221a(1 \u2212 v\u00b2/c\u00b2)", 38),
            Text(800, 400, "Car, plane, rocket: \u03b3 \u2248 1", 30),
            Text(800, 460, "GPS clocks: 38 \u03bcs per day", 30))),
        "So was Newton wrong?",
        "Not for everyday life.",
        "At the speed of a car, or even a rocket, the corrections from relativity "
        "are far too small to notice without atomic clocks.",
        "That is why engineers still design bridges, and send probes to other planets, "
        "with Newton's laws.",
    )),
    ("summary", (
        Slide("Summary", (
            "Aristotle \u2192 Ibn Sina \u2192 Galileo \u2192 Newton",
            "Newton: three laws + gravitation (1687)",
            "Einstein: relativity, photons (1905)",
            "Newton still runs everyday engineering",
        )),
        "To sum up: in two thousand years, our picture of motion moved from Aristotle's "
        "pushes, through Galileo's ramps and Newton's laws, to Einstein's relativity.",
        "Thanks for watching.",
    )),
), queries=(
    ("a moving object stops as soon as nothing pushes it", "quote", "intro.2"),
    ("a rocket is pushed forward by the gas it throws back", "quote", "newton.4"),
    ("a moving clock ticks more slowly", "quote", "einstein.3"),
    ("the eleventh century", "keyword", "intro.3"),
    ("Newton's 3 laws", "keyword", "newton.1-newton.4"),
    ("Einstein 1905", "keyword", "einstein.2"),
    ("does weight change how quickly things fall", "paraphrase", "galileo.3"),
    ("what keeps our satellite circling the planet", "paraphrase", "newton.5"),
    ("is seventeenth century physics good enough to build machines", "paraphrase",
     "today.3-today.4"),
    ("Principia Mathematica, 1687", "slide", "newton#1"),
    ("F = G m1 m2 / r\u00b2", "slide", "newton#2"),
    ("Nobel Prize 1921", "slide", "einstein#1"),
    ("Galileo Galilei 1564\u20131642", "slide", "galileo#1"),
))

LECTURES = (MACHINE_LEARNING, DATABASES, BIOLOGY, MECHANICS)


def synth(text: str, workdir: Path, idx: int) -> tuple[np.ndarray, int]:
    """espeak-ng -> mono float32 in [-1, 1], leading/trailing silence trimmed."""
    path = workdir / f"s{idx:03d}.wav"
    subprocess.run(["espeak-ng", *VOICE, "-w", str(path), text], check=True)
    with wave.open(str(path), "rb") as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2, "expected 16-bit mono"
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    x = pcm.astype(np.float32) / 32768.0
    loud = np.flatnonzero(np.abs(x) > 0.01)
    if loud.size == 0:
        raise RuntimeError(f"espeak-ng produced silence for {text!r}")
    return x[loud[0]:loud[-1] + 1], rate


def render_slide(slide: Slide, colour, footer: str, page: str) -> np.ndarray:
    img = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, WIDTH, 150], fill=colour)
    size = 60
    while d.textlength(slide.title, font=font(size, bold=True)) > WIDTH - 140:
        size -= 2  # shrink long titles to fit the bar
    d.text((70, 75), slide.title, font=font(size, bold=True), fill="white", anchor="lm")
    f = font(40)
    y = 225
    for b in slide.bullets:
        d.ellipse([80, y - 9, 98, y + 9], fill=colour)
        d.text((125, y), b, font=f, fill=INK, anchor="lm")
        y += 100
    for element in slide.figure:
        element.draw(d, colour)
    d.rectangle([0, HEIGHT - 60, WIDTH, HEIGHT], fill=(225, 225, 220))
    d.text((70, HEIGHT - 30), footer, font=font(26), fill=(70, 70, 70), anchor="lm")
    d.text((WIDTH - 70, HEIGHT - 30), page, font=font(26), fill=(70, 70, 70), anchor="rm")
    # a topic-coloured side stripe so slides differ clearly even at low resolution
    d.rectangle([WIDTH - 40, 150, WIDTH, HEIGHT - 60], fill=colour)
    return np.asarray(img)


def build_audio(lecture: Lecture, workdir: Path):
    """Lay out all sentences; returns (samples, rate, sentences, slides, silences), where each
    slide also carries its Slide ("shown") and its topic's number ("k") for rendering."""
    pieces: list[np.ndarray] = []
    rate = None
    t = 0  # in samples
    sentences, slides, silences = [], [], []

    def pad(seconds: float):
        nonlocal t
        n = int(round(seconds * rate))
        pieces.append(np.zeros(n, np.float32))
        t += n

    idx = 0
    for k, (key, items) in enumerate(lecture.topics):
        assert isinstance(items[0], Slide), f"topic {key} must open with its slide"
        j, shown, pending = 0, 0, None
        for item in items:
            if isinstance(item, Slide):
                pending = item
                continue
            x, r = synth(item, workdir, idx)
            idx += 1
            if rate is None:
                rate = r
                pad(LEAD_IN)
                silences.append({"start": 0.0, "end": LEAD_IN, "kind": "lead-in"})
            assert r == rate
            change = 0
            if j == 0 and k > 0:
                gap = LONG_GAP if lecture.topics[k - 1][0] == lecture.long_pause_after else TOPIC_GAP
                gap_start = t
                pad(gap)
                change = t - int(round((SLIDE_LEAD if gap == LONG_GAP else gap / 2) * rate))
                if gap == LONG_GAP:
                    silences.append({"start": gap_start / rate, "end": t / rate,
                                     "kind": "pause"})
            elif j > 0:
                pad(SENTENCE_PAUSE)
                change = t - int(round(SENTENCE_PAUSE / 2 * rate))
            if pending is not None:
                if slides:
                    slides[-1]["end"] = change / rate
                shown += 1
                slides.append({"index": len(slides) + 1, "start": change / rate, "end": None,
                               "title": pending.title, "bullets": list(pending.bullets),
                               "topic": key, "id": f"{key}#{shown}", "shown": pending, "k": k})
                pending = None
            j += 1
            sentences.append({"id": f"{key}.{j}", "slide": len(slides),
                              "start": t / rate, "end": (t + len(x)) / rate, "text": item})
            pieces.append(x)
            t += len(x)
        assert pending is None, f"topic {key} ends with a slide nobody talks over"
    pad(TAIL)
    slides[-1]["end"] = t / rate
    return np.concatenate(pieces), rate, sentences, slides, silences


def write_mp4(path: Path, lecture: Lecture, audio: np.ndarray, rate: int,
              slides: list[dict]) -> float:
    duration = len(audio) / rate
    frames = [render_slide(s["shown"], PALETTE[s["k"] % len(PALETTE)], lecture.title,
                           f"{n + 1} / {len(slides)}") for n, s in enumerate(slides)]
    n_video = int(round(duration * FPS))
    with av.open(str(path), "w", format="mp4") as out:
        vs = out.add_stream("libx264", rate=FPS)
        vs.width, vs.height, vs.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        vs.codec_context.gop_size = 10 * FPS  # x264 scenecut adds I-frames at slide changes
        vs.options = {"crf": "28", "preset": "medium", "tune": "stillimage"}
        as_ = out.add_stream("aac", rate=rate)
        as_.layout = "mono"
        as_.bit_rate = 48000

        # interleave roughly by time: video for one second, then its audio
        a_pos, chunk = 0, 1024
        for i in range(n_video):
            ts = i / FPS
            k = next(k for k, s in enumerate(slides) if ts < s["end"] or k == len(slides) - 1)
            vf = av.VideoFrame.from_ndarray(frames[k], format="rgb24")
            vf.pts, vf.time_base = i, Fraction(1, FPS)
            out.mux(vs.encode(vf))
            while a_pos < len(audio) and a_pos / rate < (i + 1) / FPS:
                block = audio[a_pos:a_pos + chunk]
                af = av.AudioFrame.from_ndarray(block.reshape(1, -1), format="fltp",
                                                layout="mono")
                af.sample_rate, af.pts, af.time_base = rate, a_pos, Fraction(1, rate)
                out.mux(as_.encode(af))
                a_pos += len(block)
        while a_pos < len(audio):
            block = audio[a_pos:a_pos + chunk]
            af = av.AudioFrame.from_ndarray(block.reshape(1, -1), format="fltp", layout="mono")
            af.sample_rate, af.pts, af.time_base = rate, a_pos, Fraction(1, rate)
            out.mux(as_.encode(af))
            a_pos += len(block)
        out.mux(vs.encode(None))
        out.mux(as_.encode(None))
    return duration


def window(spec: str, spans: dict[str, tuple[float, float]]) -> list[float]:
    first, _, last = spec.partition("-")
    start, end = spans[first][0], spans[last or first][1]
    assert start < end, spec
    return [start, end]


def make_lecture(lecture: Lecture, out_dir: Path) -> list[dict]:
    """Write <vid>.mp4 and <vid>.json; returns the lecture's query records (without qid)."""
    with tempfile.TemporaryDirectory() as tmp:
        audio, rate, sentences, slides, silences = build_audio(lecture, Path(tmp))
    mp4 = out_dir / f"{lecture.vid}.mp4"
    duration = write_mp4(mp4, lecture, audio, rate, slides)

    r3 = lambda v: round(v, 3)  # noqa: E731
    spans = {}
    for s in sentences + slides + silences:
        s["start"], s["end"] = r3(s["start"]), r3(s["end"])
        if "id" in s:
            spans[s["id"]] = (s["start"], s["end"])
    for s in slides:
        shown, _ = s.pop("shown"), s.pop("k")
        del s["id"]
        figure = [text for element in shown.figure for text in element.texts()]
        if figure:
            s["figure"] = figure
    truth = {
        "vid": lecture.vid,
        "title": lecture.title,
        "duration": r3(duration),
        "video": {"file": mp4.name, "width": WIDTH, "height": HEIGHT, "fps": FPS,
                  "codec": "h264"},
        "audio": {"codec": "aac", "sample_rate": rate, "channels": 1,
                  "tts": "espeak-ng " + " ".join(VOICE)},
        "slides": slides,
        "sentences": sentences,
        "silences": silences,
    }
    (out_dir / f"{lecture.vid}.json").write_text(
        json.dumps(truth, indent=2, ensure_ascii=False) + "\n")
    print(f"{mp4.name}: {duration:.2f} s, {mp4.stat().st_size / 1e6:.2f} MB, "
          f"{len(slides)} slides, {len(sentences)} sentences, {len(lecture.queries)} queries")
    return [{"query": query, "vid": lecture.vid, "duration": r3(duration),
             "relevant_windows": [window(w, spans) for w in
                                  ((windows,) if isinstance(windows, str) else windows)],
             "kind": kind}
            for query, kind, windows in lecture.queries]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: here)")
    out_dir = parser.parse_args().out
    if shutil.which("espeak-ng") is None:
        sys.exit("espeak-ng not found: apt-get install espeak-ng")
    out_dir.mkdir(parents=True, exist_ok=True)
    records = [rec for lecture in LECTURES for rec in make_lecture(lecture, out_dir)]
    with open(out_dir / "queries.jsonl", "w") as f:
        for qid, rec in enumerate(records):
            f.write(json.dumps({"qid": qid, **rec}) + "\n")


if __name__ == "__main__":
    main()
