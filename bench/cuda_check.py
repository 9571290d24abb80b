#!/usr/bin/env python3
"""The CUDA paths once, on a machine with an NVIDIA GPU: what runs there, what breaks, what it says.

    python bench/cuda_check.py [--tokenizers DIR]

Run from the repository root. The models are tiny random ones made here (no weights travel): a
CLIP, a sentence-transformers model and a Whisper converted to CTranslate2, on the tokenizers of
the packaged MiniLM and Whisper base (or of `DIR/minilm` and `DIR/whisper`, where the packaged
weights are not installed). Steps, each recorded as ok or with its error:

- what `--device auto` picks for PyTorch and for CTranslate2;
- faster-whisper with `--device cuda` (float16), and with `auto`;
- the visual model in fp16 on the GPU against float32 on the CPU (cosine of the vectors);
- the text encoder on the GPU against the CPU;
- `vmr --device auto index samples/lecture.mp4`, then the same search with `--device auto`,
  `cuda` and `cpu` (the moments must be the same);
- `vmr --device cuda index` with the openai-whisper backend (PyTorch, fp16).

Writes bench-results/cuda.json (or $OUT/cuda.json where OUT is set).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
QUERY = "how does gradient descent update the weights"


def make_models(tokenizers: Path | None, out: Path) -> dict[str, Path]:
    """Tiny random models on real vocabularies (as tests/test_visual.py's make_tiny_clip)."""
    import ctranslate2
    import torch
    from transformers import (AutoTokenizer, BertConfig, BertModel, CLIPConfig, CLIPModel, WhisperConfig,
                              WhisperForConditionalGeneration)

    if tokenizers is None:
        from vmr.models.weights import resolve_text_encoder, resolve_whisper

        minilm, whisper = Path(resolve_text_encoder()), Path(resolve_whisper("base"))
    else:
        minilm, whisper = tokenizers / "minilm", tokenizers / "whisper"
    tok = AutoTokenizer.from_pretrained(minilm)
    text = dict(vocab_size=tok.vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=2, pad_token_id=tok.pad_token_id)
    models = {name: out / name for name in ("clip", "st", "whisper")}

    torch.manual_seed(0)
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                  image_size=64, patch_size=8, initializer_factor=5.0)
    CLIPModel(CLIPConfig(text_config={**text, "max_position_embeddings": 77, "bos_token_id": tok.cls_token_id,
                                      "eos_token_id": tok.sep_token_id},
                         vision_config=vision, projection_dim=16)).save_pretrained(models["clip"])
    tok.save_pretrained(models["clip"])
    try:
        from transformers import CLIPImageProcessorPil as Processor
    except ImportError:  # transformers before the PIL processors' own names
        from transformers import CLIPImageProcessor as Processor
    Processor(size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64}).save_pretrained(models["clip"])

    torch.manual_seed(0)
    from sentence_transformers import SentenceTransformer, models as st

    bert = out / "bert"
    BertModel(BertConfig(**text)).save_pretrained(bert)
    tok.save_pretrained(bert)
    SentenceTransformer(modules=[st.Transformer(str(bert)), st.Pooling(32, "mean"), st.Normalize()]).save(
        str(models["st"]))

    torch.manual_seed(0)
    hf = out / "whisper-hf"
    WhisperForConditionalGeneration(WhisperConfig(
        vocab_size=51865, d_model=64, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=256, decoder_ffn_dim=256)).save_pretrained(hf)
    ctranslate2.converters.TransformersConverter(str(hf)).convert(str(models["whisper"]), quantization="float16")
    (models["whisper"] / "vocabulary.json").unlink(missing_ok=True)
    for name in ("tokenizer.json", "vocabulary.txt"):
        shutil.copy(whisper / name, models["whisper"])
    base = json.loads((whisper / "config.json").read_text())
    config = json.loads((models["whisper"] / "config.json").read_text())
    config.update({k: base[k] for k in ("lang_ids", "suppress_ids", "suppress_ids_begin")})
    (models["whisper"] / "config.json").write_text(json.dumps(config))
    return models


class Report:
    def __init__(self, path: Path):
        self.path, self.steps = path, {}

    def step(self, name: str, fn) -> None:  # noqa: ANN001
        t0 = time.perf_counter()
        try:
            self.steps[name] = {"ok": True, **(fn() or {})}
        except Exception as exc:  # noqa: BLE001 (what breaks is the finding)
            self.steps[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:800],
                                "trace": traceback.format_exc()[-1500:]}
        self.steps[name]["seconds"] = round(time.perf_counter() - t0, 2)
        print(name, json.dumps(self.steps[name])[:1200], flush=True)
        self.path.write_text(json.dumps(self.steps, indent=1))


def vmr(*args: str) -> tuple[subprocess.CompletedProcess, float]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "vmr", *args], capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode:
        raise RuntimeError(f"vmr {' '.join(args[:5])}: rc {done.returncode}: {done.stderr.strip().splitlines()[-1:]}")
    return done, round(time.perf_counter() - t0, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokenizers", type=Path, help="DIR/minilm and DIR/whisper (default: the packaged weights')")
    args = parser.parse_args()
    out = Path(os.environ["OUT"]) if os.environ.get("OUT") else ROOT / "bench-results"
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="vmr-cuda-"))
    report = Report(out / "cuda.json")
    models = make_models(args.tokenizers, work / "models")

    from vmr.encode.text import load_text_encoder
    from vmr.encode.visual import load_visual_encoder
    from vmr.errors import ModelError
    from vmr.ingest.asr import AsrOptions, load_transcriber
    from vmr.models.devices import ctranslate2_device, torch_device

    def versions() -> dict:
        import ctranslate2
        import torch

        return {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__, "torch_cuda": torch.version.cuda,
                "ctranslate2": ctranslate2.__version__, "auto_torch": torch_device("auto"),
                "auto_ctranslate2": ctranslate2_device("auto")}

    def whisper(device: str) -> dict:
        try:
            t = load_transcriber(AsrOptions(model=str(models["whisper"]), device=device, language="en"))
        except ModelError as exc:
            return {"error_line": str(exc), "one_line": "\n" not in str(exc)}
        return {"device": t.device, "compute_type": t.compute_type, "note": t.note}

    def visual() -> dict:
        rng = np.random.default_rng(0)
        images = [rng.integers(0, 255, (120, 160, 3), dtype=np.uint8) for _ in range(40)]
        texts = ["gradient descent", "a slide about overfitting"]
        gpu, cpu = (load_visual_encoder(str(models["clip"]), d) for d in ("auto", "cpu"))
        gi, ci, gt, ct = gpu.encode_images(images), cpu.encode_images(images), gpu.encode_texts(texts), cpu.encode_texts(texts)
        return {"device": gpu.device, "dtype": str(gpu.dtype), "min_cos_images": float((gi * ci).sum(1).min()),
                "min_cos_texts": float((gt * ct).sum(1).min())}

    def text() -> dict:
        texts = [QUERY, "what is overfitting"] * 8
        gpu, cpu = (load_text_encoder(str(models["st"]), d) for d in ("auto", "cpu"))
        return {"encoder": type(gpu).__name__, "min_cos": float((gpu.encode(texts) * cpu.encode(texts)).sum(1).min())}

    home = work / "home"

    def index(device: str, backend: str, home: Path) -> dict:
        home.mkdir(parents=True)
        (home / "config.toml").write_text(
            f'[index]\ntext_model = "{models["st"]}"\nvisual_model = "{models["clip"]}"\nocr = false\n'
            f'[index.asr]\nbackend = "{backend}"\nmodel = "{models["whisper"]}"\nlanguage = "en"\n')
        done, wall = vmr("--device", device, "--home", str(home), "index", "samples/lecture.mp4", "--json")
        return {"wall_s": wall, "notes": json.loads(done.stdout)["notes"],
                "stages": json.loads(done.stdout)["indexed"][0]["seconds"]}

    def search() -> dict:
        found = {}
        for device in ("auto", "cuda", "cpu"):
            done, wall = vmr("--device", device, "--home", str(home), "search", QUERY, "-k", "5", "--json")
            found[device] = [(m["video"], m["start"], m["end"], round(m["score"], 2)) for m in json.loads(done.stdout)]
        return {"moments": len(found["cpu"]), "auto_is_cpu": found["auto"] == found["cpu"],
                "cuda_is_cpu": found["cuda"] == found["cpu"]}

    report.step("versions", versions)
    report.step("faster_whisper_cuda", lambda: whisper("cuda"))
    report.step("faster_whisper_auto", lambda: whisper("auto"))
    report.step("visual_fp16", visual)
    report.step("text_encoder", text)
    report.step("index_auto", lambda: index("auto", "faster-whisper", home))
    report.step("search_auto_cuda_cpu", search)
    report.step("index_cuda_openai_whisper", lambda: index("cuda", "openai-whisper", work / "home-openai"))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
