#!/usr/bin/env python3
"""Build the bundled sample lecture ("Introduction to Machine Learning") from nothing.

Outputs (next to this script):
  lecture.mp4     H.264 (libx264) slides at 10 fps, 1280x720, + AAC mono narration
  lecture.json    ground truth: slides (start, end, title, bullets), every spoken
                  sentence (id, start, end, text) and the silent stretches, seconds
  queries.jsonl   QVHighlights-style queries whose windows come from lecture.json

The outputs are committed, so the demo and the tests need none of this script's tools.
Generator-only requirements (NOT project dependencies):
  apt-get install espeak-ng fonts-dejavu-core
  pip install pillow            # into the project venv; PyAV and numpy come from vmr
Run:  .venv/bin/python samples/make_sample.py

Timing model: each sentence is synthesised on its own with espeak-ng, its leading and
trailing silence trimmed, and the pieces are laid out with fixed pauses, so the
start/end of every sentence in the final audio is known exactly.  The track opens with
a 1 s silent lead-in, and there is a ~4.5 s stretch of digital silence between topic 3
(overfitting) and topic 4 (neural networks) while the overfitting slide stays on screen.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import wave
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
LONG_SILENCE_AFTER = "overfit"  # topic followed by the long silent stretch
LONG_GAP = 4.5         # silence between that topic and the next
SLIDE_LEAD = 0.5       # after a long gap the next slide appears this long before speech
TAIL = 1.0             # silence after the last sentence

# (topic key, title, bullets, sentences)
TOPICS = [
    ("intro", "What Is Machine Learning?", [
        "Programs that improve with experience",
        "Supervised learning: labeled examples",
        "Learn a mapping from input to label",
        "Predict labels for unseen examples",
    ], [
        "Welcome to this short introduction to machine learning.",
        "Machine learning is the study of programs that improve with experience, "
        "instead of following hand written rules.",
        "In supervised learning, we give the computer labeled examples, "
        "such as photos tagged as cat or dog.",
        "The model learns a mapping from each input to its label.",
        "Once trained, it can predict labels for new examples it has never seen.",
    ]),
    ("gd", "Gradient Descent", [
        "Loss: how wrong the predictions are",
        "Gradient: direction of steepest increase",
        "Step downhill: w \u2190 w \u2212 \u03b7 \u00b7 \u2207L",
        "Learning rate \u03b7 sets the step size",
    ], [
        "So how does a model actually learn? The most common answer is gradient descent.",
        "First we define a loss function, which measures how wrong the predictions are.",
        "The gradient of the loss tells us the direction in which the error grows fastest.",
        "Gradient descent takes a small step in the opposite direction, downhill.",
        "Each step updates the weights by subtracting the gradient times the learning rate.",
        "If the learning rate is too large the steps overshoot, "
        "and if it is too small, training is very slow.",
    ]),
    ("overfit", "Overfitting", [
        "Memorizing the training data, noise included",
        "Training error falls, validation error rises",
        "Regularization: penalize large weights",
        "Dropout: randomly switch off neurons",
    ], [
        "A model that fits the training data perfectly is not always a good model.",
        "Overfitting happens when the model memorizes the training examples, "
        "including their noise.",
        "You can spot it when the training error keeps falling, "
        "but the validation error starts rising.",
        "One remedy is regularization, which adds a penalty for large weights.",
        "Another remedy is dropout, which randomly switches off neurons during training.",
    ]),
    ("nn", "Neural Networks & Backpropagation", [
        "Layers of simple units (neurons)",
        "Weighted sum + nonlinear activation",
        "Backpropagation: gradient for every weight",
        "Chain rule, from the output layer backwards",
    ], [
        "Neural networks are built from layers of simple units called neurons.",
        "Each layer computes a weighted sum of its inputs, and passes it through "
        "a nonlinear activation function, such as the rectified linear unit.",
        "Stacking many layers lets the network learn complex patterns.",
        "To train it, backpropagation computes the gradient of the loss for every weight.",
        "It works backwards from the output layer, applying the chain rule of calculus, "
        "one layer at a time.",
    ]),
    ("eval", "Evaluating a Model", [
        "Train / validation / test split",
        "Cross-validation when data is scarce",
        "Precision: predicted positives that are right",
        "Recall: real positives that are found",
    ], [
        "Finally, how do we know whether a model is any good?",
        "We split the data into a training set, a validation set, and a test set.",
        "The test set is used only once, at the very end, to get an honest estimate.",
        "With little data, cross validation rotates which part is held out, "
        "and averages the results.",
        "For classifiers, precision is the fraction of predicted positives that are correct.",
        "Recall is the fraction of real positives that the model manages to find.",
    ]),
    ("summary", "Summary", [
        "Learn from labeled examples",
        "Gradient descent tunes the weights",
        "Regularize against overfitting",
        "Evaluate honestly on held-out data",
    ], [
        "To sum up: machine learning learns from labeled examples, "
        "gradient descent tunes the weights, regularization keeps overfitting in check, "
        "and careful evaluation tells us whether it really works.",
        "Thanks for watching.",
    ]),
]

# (query, kind, first sentence id, last sentence id); the window is the span from the
# start of the first sentence to the end of the last.  Sentence ids are "<topic>.<n>"
# with n counted from 1 within the topic.
QUERIES = [
    ("what is supervised learning with labeled examples", "topic", "intro.2", "intro.5"),
    ("how does gradient descent update the weights", "paraphrase", "gd.3", "gd.5"),
    ("what happens if the learning rate is too big", "paraphrase", "gd.6", "gd.6"),
    ("what is overfitting", "keyword", "overfit.1", "overfit.2"),
    ("how can I stop my model from memorizing the training set", "paraphrase",
     "overfit.4", "overfit.5"),
    ("how do neural networks and backpropagation work", "topic", "nn.1", "nn.5"),
    ("how do we measure a classifier's precision and recall", "paraphrase", "eval.5", "eval.6"),
    ("splitting data into train validation and test sets, cross-validation", "topic",
     "eval.2", "eval.4"),
    ("the validation error starts rising", "quote", "overfit.3", "overfit.3"),
    ("applying the chain rule of calculus", "quote", "nn.5", "nn.5"),
]

PALETTE = [(31, 78, 121), (146, 52, 36), (40, 110, 60), (105, 55, 130), (170, 110, 20),
           (60, 60, 60)]


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


def font(size: int, bold: bool = False):
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for d in ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/TTF"):
        if (Path(d) / name).exists():
            return ImageFont.truetype(str(Path(d) / name), size)
    sys.exit(f"font {name} not found: apt-get install fonts-dejavu-core")


def render_slide(k: int, n: int, title: str, bullets: list[str]) -> np.ndarray:
    colour = PALETTE[k % len(PALETTE)]
    img = Image.new("RGB", (WIDTH, HEIGHT), (250, 250, 246))
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, WIDTH, 150], fill=colour)
    size = 60
    while d.textlength(title, font=font(size, bold=True)) > WIDTH - 140:
        size -= 2  # shrink long titles to fit the bar
    d.text((70, 75), title, font=font(size, bold=True), fill="white", anchor="lm")
    f = font(40)
    y = 225
    for b in bullets:
        d.ellipse([80, y - 9, 98, y + 9], fill=colour)
        d.text((125, y), b, font=f, fill=(25, 25, 25), anchor="lm")
        y += 100
    d.rectangle([0, HEIGHT - 60, WIDTH, HEIGHT], fill=(225, 225, 220))
    d.text((70, HEIGHT - 30), "Introduction to Machine Learning", font=font(26),
           fill=(70, 70, 70), anchor="lm")
    d.text((WIDTH - 70, HEIGHT - 30), f"{k + 1} / {n}", font=font(26),
           fill=(70, 70, 70), anchor="rm")
    # a topic-coloured side stripe so slides differ clearly even at low resolution
    d.rectangle([WIDTH - 40, 150, WIDTH, HEIGHT - 60], fill=colour)
    return np.asarray(img)


def build_audio(workdir: Path):
    """Lay out all sentences; returns (samples, rate, sentences, slides, silences)."""
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
    for k, (key, title, bullets, texts) in enumerate(TOPICS):
        for j, text in enumerate(texts):
            x, r = synth(text, workdir, idx)
            idx += 1
            if rate is None:
                rate = r
                pad(LEAD_IN)
                silences.append({"start": 0.0, "end": LEAD_IN, "kind": "lead-in"})
            assert r == rate
            if j == 0 and k > 0:
                prev_key = TOPICS[k - 1][0]
                gap = LONG_GAP if prev_key == LONG_SILENCE_AFTER else TOPIC_GAP
                gap_start = t
                pad(gap)
                change = t - int(round((SLIDE_LEAD if gap == LONG_GAP else gap / 2) * rate))
                slides[-1]["end"] = change / rate
                if gap == LONG_GAP:
                    silences.append({"start": gap_start / rate, "end": t / rate,
                                     "kind": "pause"})
            elif j > 0:
                pad(SENTENCE_PAUSE)
            if j == 0:
                slides.append({"index": k + 1, "start": 0.0 if k == 0 else slides[-1]["end"],
                               "end": None, "title": title, "bullets": bullets,
                               "topic": key})
            sentences.append({"id": f"{key}.{j + 1}", "slide": k + 1,
                              "start": t / rate, "end": (t + len(x)) / rate, "text": text})
            pieces.append(x)
            t += len(x)
    pad(TAIL)
    slides[-1]["end"] = t / rate
    return np.concatenate(pieces), rate, sentences, slides, silences


def write_mp4(path: Path, audio: np.ndarray, rate: int, slides: list[dict]) -> float:
    duration = len(audio) / rate
    frames = [render_slide(k, len(slides), s["title"], s["bullets"])
              for k, s in enumerate(slides)]
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


def main() -> None:
    if shutil.which("espeak-ng") is None:
        sys.exit("espeak-ng not found: apt-get install espeak-ng")
    with tempfile.TemporaryDirectory() as tmp:
        audio, rate, sentences, slides, silences = build_audio(Path(tmp))
    duration = write_mp4(HERE / "lecture.mp4", audio, rate, slides)

    r3 = lambda v: round(v, 3)  # noqa: E731
    for s in sentences + slides + silences:
        s["start"], s["end"] = r3(s["start"]), r3(s["end"])
    lecture = {
        "vid": "lecture",
        "title": "Introduction to Machine Learning",
        "duration": r3(duration),
        "video": {"file": "lecture.mp4", "width": WIDTH, "height": HEIGHT, "fps": FPS,
                  "codec": "h264"},
        "audio": {"codec": "aac", "sample_rate": rate, "channels": 1,
                  "tts": "espeak-ng " + " ".join(VOICE)},
        "slides": slides,
        "sentences": sentences,
        "silences": silences,
    }
    (HERE / "lecture.json").write_text(json.dumps(lecture, indent=2, ensure_ascii=False) + "\n")

    by_id = {s["id"]: s for s in sentences}
    with open(HERE / "queries.jsonl", "w") as f:
        for qid, (query, kind, first, last) in enumerate(QUERIES):
            a, b = by_id[first], by_id[last]
            assert a["slide"] == b["slide"] and a["start"] < b["end"]
            rec = {"qid": qid, "query": query, "vid": "lecture", "duration": r3(duration),
                   "relevant_windows": [[a["start"], b["end"]]], "kind": kind}
            f.write(json.dumps(rec) + "\n")
    size = (HERE / "lecture.mp4").stat().st_size
    print(f"lecture.mp4: {duration:.2f} s, {size / 1e6:.2f} MB, {len(slides)} slides, "
          f"{len(sentences)} sentences, {len(QUERIES)} queries")


if __name__ == "__main__":
    main()
