"""The visual channel end to end, through the real CLI, with tiny randomly initialised CLIP and
SigLIP models saved on the spot (no CLIP-family weights ship with vmr), and no network: every
command runs with HF_HUB_OFFLINE=1 and a socket guard that fails any connection attempt.

Random weights still embed identical pictures identically, so a frame of the sample finds the
clips that show it; the vision towers start with larger weights (initializer_factor) so that
the sample's mostly white slides get clearly different vectors."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, SAMPLE, run_vmr
from factory import frame_png, make_video
from vmr.ingest.asr import normalize_text
from vmr.library import Library
from vmr.search.lexical import parse_query
from vmr.search import fusion, parts
from vmr.search.fusion import channel_scores
from vmr.search.options import SearchOptions
from vmr.timecode import TimeSpan

SLIDES = [TimeSpan(s["start"], s["end"]) for s in json.loads((ROOT / "samples" / "lecture.json").read_text())["slides"]]
# espeak-ng -v en-us -s 150 (the sample's voice): "What is overfitting in machine learning?",
# trimmed, 16 kHz mono. (Whisper base hears the shorter "What is overfitting?" as "on her feeding".)
QUESTION = ROOT / "tests" / "data" / "question.wav"
CLIP_DIM = 48
SIGLIP_DIM = 32

GUARD = """\
import socket

_connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex


def _refuse(what):
    raise OSError(f"vmr test guard: network access attempted ({what})")


def _guarded(original):
    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _refuse(address)
        return original(self, address)
    return connect


socket.socket.connect = _guarded(_connect)
socket.socket.connect_ex = _guarded(_connect_ex)
socket.getaddrinfo = lambda host, *args, **kwargs: _refuse(host)
"""


def _tiny_parts():
    from transformers import AutoTokenizer

    from vmr.models.weights import resolve_text_encoder

    # Any tokenizer whose vocabulary matches the text tower's will do: the packaged MiniLM one.
    tokenizer = AutoTokenizer.from_pretrained(resolve_text_encoder())
    text = dict(vocab_size=tokenizer.vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=2, pad_token_id=tokenizer.pad_token_id,
                bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id)
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                  image_size=64, patch_size=8, initializer_factor=5.0)
    return tokenizer, text, vision


def make_tiny_clip(folder: Path) -> Path:
    import torch
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel

    tokenizer, text, vision = _tiny_parts()
    torch.manual_seed(0)
    config = CLIPConfig(text_config={**text, "max_position_embeddings": 77}, vision_config=vision,
                        projection_dim=CLIP_DIM)
    CLIPModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    CLIPImageProcessorPil(size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64}).save_pretrained(folder)
    return folder


def make_tiny_siglip(folder: Path) -> Path:
    import torch
    from transformers import SiglipConfig, SiglipImageProcessorPil, SiglipModel

    tokenizer, text, vision = _tiny_parts()
    torch.manual_seed(1)
    SiglipModel(SiglipConfig(text_config={**text, "max_position_embeddings": 16}, vision_config=vision)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    SiglipImageProcessorPil(size={"height": 64, "width": 64}).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def offline(tmp_path_factory) -> dict:
    """The environment of every command here: offline, with the socket guard loaded at start-up."""
    guard = tmp_path_factory.mktemp("guard")
    (guard / "sitecustomize.py").write_text(GUARD)
    path = os.pathsep.join(filter(None, [str(guard), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("visual-models")
    return {"clip": make_tiny_clip(root / "clip"), "siglip": make_tiny_siglip(root / "siglip")}


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, models, offline) -> tuple[Path, Path]:
    """(home, video): the sample indexed with the tiny CLIP through the CLI."""
    home = tmp_path_factory.mktemp("visual-home")
    videos = tmp_path_factory.mktemp("visual-videos")
    video = videos / "lecture.mp4"
    shutil.copy(SAMPLE, video)
    result = run_vmr("index", videos, "--visual-model", models["clip"], "--json", home=home, env=offline)
    report = json.loads(result.stdout)
    assert report["indexed"][0]["status"] == "indexed" and report["indexed"][0]["seconds"]["visual"] > 0
    assert "visual channel off" not in result.stderr
    return home, video


def visual_rows(home: Path) -> list[tuple]:
    """(model, dim, clips with a vector) of each video's visual channel, from the catalogue's
    record and the video's vector file."""
    from vmr.catalogue.vectors import VectorFiles

    with sqlite3.connect(home / "vmr.db") as db:
        found = db.execute("SELECT v.content_hash, c.model, c.dim FROM video_channels c JOIN videos v "
                           "ON v.id = c.video_id WHERE c.channel = 'visual'").fetchall()
    return [(model, dim, int((~np.isnan(VectorFiles(home).read(content, "visual", model)).any(axis=1)).sum()))
            for content, model, dim in found]


def test_the_guard_refuses_connections(offline):
    probe = "import urllib.request; urllib.request.urlopen('http://example.com', timeout=5)"
    result = subprocess.run([sys.executable, "-c", probe], env=offline, capture_output=True, text=True)
    assert result.returncode != 0 and "vmr test guard: network access attempted" in result.stderr


def test_keyframes_are_decoded_in_one_pass_at_their_times(tmp_path):
    from vmr.ingest.media import read_frames, scan_video

    # Frame i is a flat grey of shade 37 * i % 256; the gaps make clips that share a keyframe.
    times = [0.0, 0.04, 0.5, 0.52, 3.0, 7.5, 7.6, 9.0]
    video = make_video(tmp_path / "vfr.mp4", times)
    keyframes = scan_video(video).keyframe_times
    assert keyframes == [0.0, 3.0, 3.0, 7.5, 9.0]
    frames = list(read_frames(video, keyframes))
    assert [t for t, _ in frames] == [0.0, 3.0, 7.5, 9.0]
    for t, frame in frames:
        assert frame.shape == (120, 160, 3)
        assert abs(int(frame[60, 80, 0]) - 37 * times.index(t) % 256) <= 3


def test_every_clip_has_a_frame_vector_of_the_projection_size(indexed, models):
    home, _ = indexed
    lib = Library(home)
    matrix = lib.search_build()
    visual = matrix.channels["visual"]
    assert visual.model == str(models["clip"]) and visual.vectors.shape == (matrix.clip_count, CLIP_DIM)
    assert np.asarray(visual.present).all() and matrix.clip_count == 84
    assert visual_rows(home) == [(str(models["clip"]), CLIP_DIM, 84)]
    info = lib.info()
    assert info.visual_model == str(models["clip"]) and info.text_models == ["all-MiniLM-L6-v2"]


def test_text_queries_fuse_speech_with_frames(indexed, models):
    home, _ = indexed
    lib = Library(home)
    matrix = lib.search_build()
    speech, visual = matrix.channels["speech"], matrix.channels["visual"]
    from vmr.encode.text import load_text_encoder
    from vmr.encode.visual import load_visual_encoder

    query = ["what is overfitting"]
    vectors = {speech.model: load_text_encoder(speech.model, "cpu").encode(query),
               visual.model: load_visual_encoder(visual.model, "cpu").encode_texts(query)}
    # Speech and frames only (the slides and lexical channels have tests of their own).
    options = SearchOptions(channel_weights={"speech": 1.0, "visual": 0.1}, lexical_weight=0.0)
    request = parts.request_for(matrix, [parse_query(query[0])], vectors, options)
    scores, stats = fusion.clip_scores(matrix, request, {})
    fusion.fuse(matrix, scores, fusion.plan(stats, matrix, request))
    fused = scores.fused[0]
    s = channel_scores(speech, vectors[speech.model], None)[0]
    v = channel_scores(visual, vectors[visual.model], None)[0]
    # The mean and best frames score what the mean and best sentences do; weights 1 : 0.1.
    said = s[np.asarray(speech.present)]
    mapped = said.mean() + (v - v.mean()) / (v.max() - v.mean()) * (said.max() - said.mean())
    both = np.asarray(speech.present) & np.asarray(visual.present)
    np.testing.assert_allclose(fused[both], (s[both] + 0.1 * mapped[both]) / 1.1, atol=1e-4)
    silent = ~np.asarray(speech.present)
    assert silent.any()  # the pause and the lead-in: ranked on their frames alone
    np.testing.assert_allclose(fused[silent], mapped[silent], atol=1e-4)
    # Through the CLI, speech still leads to the answer (the frames here are noise).
    found = json.loads(run_vmr("search", query[0], "-k", "3", "--json", home=home).stdout)
    assert any(TimeSpan(m["start"], m["end"]).iou(TimeSpan(60.7, 71.0)) >= 0.5 for m in found)


@pytest.mark.parametrize("slide", range(len(SLIDES)))
def test_an_image_of_a_slide_finds_the_moments_showing_it(indexed, tmp_path, slide):
    home, video = indexed
    seconds = round((SLIDES[slide].start + SLIDES[slide].end) / 2, 1)
    _, found = Library(home).search_image(frame_png(video, seconds, tmp_path / "shot.png"), k=3, read_text=False)
    best = found[0]
    assert best.start <= seconds <= best.end, (seconds, best)


def test_search_by_image_on_the_command_line(indexed, tmp_path, offline):
    home, video = indexed
    shot = frame_png(video, 75.0, tmp_path / "slide.png")
    answer = json.loads(run_vmr("search", "--image", shot, "-k", "3", "--json", home=home, env=offline).stdout)
    assert answer["query"].startswith("Overfitting Memorizing the training data")  # read by OCR
    found = answer["moments"]
    assert found[0]["start"] <= 75.0 <= found[0]["end"] and found[0]["video"] == str(video)
    (tmp_path / "notes.png").write_text("not an image")
    result = run_vmr("search", "--image", tmp_path / "notes.png", home=home, check=False, env=offline)
    assert result.returncode == 1
    assert result.stderr.strip() == f"vmr: error: {tmp_path / 'notes.png'}: not a readable image (PNG, JPEG, WebP, ...)"


def test_show_prints_what_was_said_and_shown(indexed, models):
    home, video = indexed
    view = json.loads(run_vmr("show", video, "64", "00:01:12", "--json", home=home).stdout)
    assert "overfitting happens when the model memorizes" in view["said"].lower()
    assert len(view["keyframes"]) == 4 and all(64 <= t < 72 for t in view["keyframes"])
    assert view["visual_model"] == str(models["clip"]) and view["link"].endswith("#t=64.0,72.0")
    (slide,) = view["shown"]  # the overfitting slide, 60.2 s to 90.7 s, as OCR read it
    assert slide["start"] <= 64 and slide["end"] >= 72
    assert slide["text"].startswith("Overfitting\nMemorizing the training data, noise included\n")
    text = run_vmr("show", video, "64", "72", home=home).stdout
    assert "\nshown  00:01:00." in text and "\n       Dropout: randomly switch off neurons\n" in text
    assert "said   a good model. Overfitting happens" in text and "frames keyframes at 00:01:05.000, " in text
    result = run_vmr("show", video, "72", "64", home=home, check=False)
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and "START < END" in result.stderr


def test_a_spoken_question_is_transcribed_and_searched(indexed, offline):
    home, _ = indexed
    answer = json.loads(run_vmr("search", "--audio", QUESTION, "-k", "3", "--json", home=home, env=offline).stdout)
    assert normalize_text(answer["query"]) == "what is overfitting in machine learning"
    typed = json.loads(run_vmr("search", "what is overfitting in machine learning", "-k", "3", "--json",
                               home=home).stdout)
    found = [TimeSpan(m["start"], m["end"]) for m in answer["moments"]]
    assert found == [TimeSpan(m["start"], m["end"]) for m in typed]  # the same moments as typed
    # the definition among them (the summary's "regularization keeps overfitting in check" may come first)
    assert any(moment.iou(TimeSpan(60.7, 71.0)) >= 0.5 for moment in found)


def test_siglip_replaces_the_frames_of_unchanged_videos(indexed, models, offline, tmp_path):
    home, video = indexed
    copy = tmp_path / "home"
    shutil.copytree(home, copy)
    report = json.loads(run_vmr("index", video, "--visual-model", models["siglip"], "--json", home=copy, env=offline).stdout)
    assert report["indexed"][0]["status"] == "updated" and "speech" not in report["indexed"][0]["seconds"]
    assert visual_rows(copy) == [(str(models["siglip"]), SIGLIP_DIM, 84)]
    _, (best,) = Library(copy).search_image(frame_png(video, 135.0, tmp_path / "shot.png"), k=1, read_text=False)
    assert best.start <= 135.0 <= best.end
    again = json.loads(run_vmr("index", video, "--visual-model", models["siglip"], "--json", home=copy, env=offline).stdout)
    assert again["indexed"][0]["status"] == "unchanged"


def test_off_by_default_and_both_commands_say_how_to_turn_it_on(tmp_path, offline):
    home = tmp_path / "home"
    silent = make_video(tmp_path / "silent.mp4", [i * 0.1 for i in range(30)])
    result = run_vmr("index", silent, home=home, env=offline)
    (note,) = result.stderr.strip().splitlines()
    assert note.startswith("vmr: note: visual channel off") and f"{home / 'config.toml'}" in note
    assert "--visual-model with a local CLIP/SigLIP folder" in note  # the offline way first
    again = run_vmr("index", make_video(tmp_path / "silent2.mp4", [i * 0.1 for i in range(30)]), home=home, env=offline)
    assert "vmr: note:" not in again.stderr  # once per library
    info = run_vmr("info", home=home).stdout
    assert "visual     off; to turn it on, set [index] visual_model" in info
    shot = frame_png(silent, 1.0, tmp_path / "shot.png")
    result = run_vmr("search", "--image", shot, home=home, check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == (f"vmr: error: {shot}: no text read on the image, and searching by the "
                                     "picture needs frames indexed with a visual model (vmr index --visual-model NAME)")


def test_a_model_that_is_not_there_is_one_line_and_no_download(tmp_path, offline):
    silent = make_video(tmp_path / "silent.mp4", [i * 0.1 for i in range(30)])
    result = run_vmr("index", silent, "--visual-model", "nobody/no-such-clip", home=tmp_path / "home",
                     check=False, env=offline)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("vmr: error: visual model 'nobody/no-such-clip' is neither a local folder nor in "
                           "the Hugging Face cache, and HF_HUB_OFFLINE is set")
    config = tmp_path / "home" / "config.toml"
    config.write_text('[index]\nvisual_model = "./no/such/folder"\n')
    result = run_vmr("index", silent, home=tmp_path / "home", check=False, env=offline)
    assert result.returncode == 1 and result.stderr.strip() == (
        "vmr: error: ./no/such/folder: not a model folder (want a CLIP/SigLIP folder or a hub id)")
