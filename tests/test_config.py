"""HOME/config.toml names the models; flags on the command line win over it."""

from __future__ import annotations

from conftest import run_json, run_vmr
from factory import make_video


def test_config_names_the_models_and_flags_override_it(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('device = "cpu"\n[index]\nasr_model = "tiny.en"\nclip_seconds = 1.0\n')
    make_video(tmp_path / "a.mp4", [i * 0.1 for i in range(30)], audio_seconds=3.0)
    make_video(tmp_path / "b.mp4", [i * 0.1 for i in range(30)], audio_seconds=3.0, tone_hz=220.0)
    run_vmr("index", tmp_path / "a.mp4", home=home)
    run_vmr("index", tmp_path / "b.mp4", "--asr-backend", "openai-whisper", home=home)
    videos = {v["path"].rsplit("/", 1)[-1]: v for v in run_json("info", home=home)["videos"]}
    assert videos["a.mp4"]["asr_model"] == "faster-whisper:tiny.en"
    assert videos["b.mp4"]["asr_model"] == "openai-whisper:tiny.en"
    assert videos["a.mp4"]["clips"] == 3  # 1-s clips from the file


def test_bad_config_is_one_line_naming_the_file(tmp_path):
    (tmp_path / "config.toml").write_text("[index]\nasr_modle = 'base'\n")
    (tmp_path / "v.mp4").write_text("x")
    result = run_vmr("index", tmp_path / "v.mp4", home=tmp_path, check=False)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"vmr: error: {tmp_path / 'config.toml'}: unknown [index] setting 'asr_modle'")


def test_unknown_backend_is_one_line(tmp_path):
    (tmp_path / "config.toml").write_text("[index]\nasr_backend = 'whisper.cpp'\n")
    result = run_vmr("index", tmp_path, home=tmp_path, check=False)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert "unknown ASR backend 'whisper.cpp'" in line
