"""The right picture: each result's thumbnail is the frame of the moment's best clip, inside the
moment, and a slide moment shows its slide. Checked for the top 5 moments of every sample
query against the slide timings the samples were made with (samples/<vid>.json), and against
the pixels: each thumbnail looks most like the slide on screen at its time."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import cv2
import numpy as np
import pytest

from conftest import local_client, ROOT
from vmr.ingest.media import read_frame

SAMPLES = ROOT / "samples"
QUERIES = [json.loads(line) for line in (SAMPLES / "queries.jsonl").read_text().splitlines() if line.strip()]


def words(text: str) -> set[str]:
    return set(re.findall(r"\w+", unicodedata.normalize("NFKC", text).lower().replace("’", "'")))


@pytest.fixture(scope="module")
def client(samples_home):
    with local_client(samples_home) as client:
        yield client


@pytest.fixture(scope="module")
def slides() -> dict[str, list[dict]]:
    return {path.stem: json.loads(path.read_text())["slides"] for path in SAMPLES.glob("*.json")}


@pytest.fixture(scope="module")
def references(client, slides) -> dict[str, list[np.ndarray]]:
    """Per video, the frame in the middle of each slide, at thumbnail size, in grey."""
    found = {}
    for entry in client.get("/api/videos").json():
        vid = Path(entry["title"]).stem
        found[vid] = [small(read_frame(Path(entry["path"]), (s["start"] + s["end"]) / 2)) for s in slides[vid]]
    return found


def small(image: np.ndarray) -> np.ndarray:
    return cv2.resize(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), (160, 90), interpolation=cv2.INTER_AREA).astype(float)


def pictured(image: np.ndarray, references: list[np.ndarray]) -> int:
    """The slide an image shows: the one whose picture it is closest to."""
    return int(np.argmin([np.abs(small(image) - ref).mean() for ref in references]))


def test_every_thumbnail_shows_the_moment_and_a_slide_moment_its_slide(client, slides, references):
    checked, wrong = 0, []
    for query in QUERIES:
        for rank, m in enumerate(client.get("/api/search", params={"q": query["query"], "k": 5}).json(), 1):
            vid = Path(m["title"]).stem
            t = float(parse_qs(urlparse(m["thumbnail"]).query)["t"][0])
            where = f"{query['query']!r} #{rank} ({vid} {m['start']}-{m['end']}, t={t}, {m['why']})"
            assert t == m["frame"] and m["start"] <= t <= m["end"], where
            image = cv2.imdecode(np.frombuffer(client.get(m["thumbnail"]).content, np.uint8), cv2.IMREAD_COLOR)
            shown = slides[vid][pictured(image, references[vid])]
            overlap = min(shown["end"], m["end"]) - max(shown["start"], m["start"])
            if overlap < min(1.0, (m["end"] - m["start"]) / 2):
                wrong.append(f"{where}: shows {shown['title']!r} ({shown['start']}-{shown['end']}), "
                             "a slide not on screen during the moment")
            elif m["why"] == "slides" and len(words(shown["title"]) & words(m["slide_text"])) < 0.6 * len(words(shown["title"])):
                wrong.append(f"{where}: shows {shown['title']!r}, the moment is the slide "
                             f"{m['slide_text'].splitlines()[0]!r}")
            checked += 1
    assert checked >= 250  # 54 queries, 5 moments each, less any a query did not fill
    assert wrong == []
