"""Slide text: picture changes found at the right times, each distinct picture read once by the
real OCR models, page numbers and footers left out."""

from __future__ import annotations

import difflib

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from factory import make_video
from vmr.ingest.media import PICTURE_STEP, scan_video
from vmr.ingest.ocr import ScreenText, SlideReader, slide_texts

SIZE = (640, 360)


def slide(title: str, lines: tuple[str, ...] = (), footer: str = "Physics 101") -> np.ndarray:
    """An RGB slide; Pillow's own scalable font, so no system font is needed."""
    img = Image.new("RGB", SIZE, (250, 250, 246))
    draw = ImageDraw.Draw(img)
    draw.text((30, 30), title, font=ImageFont.load_default(size=36), fill=(20, 20, 20))
    for i, line in enumerate(lines):
        draw.text((30, 110 + 50 * i), line, font=ImageFont.load_default(size=26), fill=(20, 20, 20))
    draw.text((30, 320), footer, font=ImageFont.load_default(size=16), fill=(90, 90, 90))
    return np.asarray(img)


@pytest.fixture(scope="module")
def reader() -> SlideReader:
    return SlideReader()


def _similar(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio()


def test_reads_the_lines_of_a_rendered_slide(reader):
    lines = ("Gradient of the loss for every weight", "Learning rate 0.01, batch size 32")
    shown = reader.read(np.ascontiguousarray(slide("Backpropagation", lines)[:, :, ::-1]))  # BGR
    assert len(shown.lines) == len(shown.scores) >= 3
    for expected in ("Backpropagation", *lines):
        best = max(shown.lines, key=lambda got: _similar(got, expected))
        assert _similar(best, expected) > 0.85, (expected, shown.lines)
    assert min(shown.scores) >= 0.5


def test_small_text_is_enlarged_so_words_keep_their_spaces(reader):
    """A 320 x 180 picture of the slide (a photo, a low-resolution recording): its lines are
    about half the recogniser's height, and read without enlarging them the words run together."""
    import cv2

    lines = ("Chain rule, from the output layer backwards", "Weighted sum and nonlinear activation")
    small = cv2.resize(np.ascontiguousarray(slide("Backpropagation", lines)[:, :, ::-1]), (320, 180),
                       interpolation=cv2.INTER_AREA)
    shown = reader.read(small)
    for expected in lines:
        best = max(shown.lines, key=lambda got: _similar(got, expected))
        assert best.split() == expected.split(), shown.lines


def test_blank_picture_reads_nothing(reader):
    assert reader.read(np.full((360, 640, 3), 250, np.uint8)).lines == ()


def test_picture_changes_are_found_once_each(tmp_path):
    a = slide("Inertia", ("A body keeps moving",))
    a_more = slide("Inertia", ("A body keeps moving", "unless a force acts on it"))  # one more line
    b = slide("Gravitation", ("F = G m1 m2 / r^2",))
    changes = [(0.0, np.full_like(a, 30)), (1.0, a), (2.6, a_more), (4.2, b), (5.8, a)]

    def picture(t: float) -> np.ndarray:
        shown = [p for start, p in changes if start <= t][-1].copy()
        shown[200:203, int(100 + 40 * t):int(103 + 40 * t)] = 0  # a moving pointer is no change
        return shown

    video = make_video(tmp_path / "slides.mp4", [i / 10 for i in range(75)], size=SIZE, picture=picture)
    read = []
    scan = scan_video(video, 2.0, lambda index, frame: read.append((index, frame.shape)))
    assert [shot.picture for shot in scan.shots] == [0, 1, 2, 3, 1]  # the return to `a` is known
    assert [index for index, _ in read] == [0, 1, 2, 3]  # ... and not read again
    assert all(shape == (SIZE[1], SIZE[0], 3) for _, shape in read)
    for shot, (start, _) in zip(scan.shots, changes):
        assert abs(shot.start - start) <= PICTURE_STEP, (shot, start)
    assert scan.shots[-1].end == pytest.approx(scan.duration)
    assert all(a.end == b.start for a, b in zip(scan.shots, scan.shots[1:]))


def test_slide_texts_drop_page_numbers_and_shared_footers():
    def shown(*lines: str) -> ScreenText:
        return ScreenText(lines, tuple(0.9 for _ in lines))

    spans = [
        (0.0, 10.0, shown("Inertia", "A body keeps moving", "Physics 101", "1 / 3")),
        (10.0, 20.0, shown()),
        (20.0, 30.0, shown("Gravitation", "Physics 101", "2 / 3")),
        (30.0, 40.0, shown("Relativity", "Physics 101", "3/3")),
    ]
    texts = slide_texts(spans)
    assert [(t.start, t.end) for t in texts] == [(s, e) for s, e, _ in spans]
    assert [t.text for t in texts] == ["Inertia\nA body keeps moving", "", "Gravitation", "Relativity"]
    assert texts[0].confidence == pytest.approx(0.9) and texts[1].confidence is None


def test_a_photo_of_a_slide_finds_it_by_its_words(sample_home, sample_video, tmp_path):
    """No visual model in this library: the image is searched by the text OCR reads on it."""
    import cv2

    from conftest import run_json
    from factory import frame_at

    frame = frame_at(sample_video, 105.0)  # the neural networks slide, 90.7 s to 120.8 s
    # A photo, not a frame: smaller, off-centre on a grey wall, with sensor noise.
    small = cv2.resize(frame, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)
    height, width = frame.shape[:2]
    photo = np.full((int(height * 0.8), int(width * 0.8), 3), 96, np.uint8)
    photo[40:40 + small.shape[0], 90:90 + small.shape[1]] = small
    noise = np.random.default_rng(0).normal(0, 6, photo.shape)
    cv2.imwrite(str(tmp_path / "photo.jpg"), np.clip(photo + noise, 0, 255).astype(np.uint8))
    answer = run_json("search", "--image", tmp_path / "photo.jpg", "-k", "3", home=sample_home)
    assert "Backpropagation" in answer["query"] and "Chain rule" in answer["query"]
    best = answer["moments"][0]
    assert best["video"] == str(sample_video) and 90.6 <= (best["start"] + best["end"]) / 2 <= 120.8
