"""Our top-level `kernels` must never be mistaken for the PyPI package of the same name."""

from __future__ import annotations

from pathlib import Path

from conftest import ROOT, run_vmr


def test_kernels_is_ours_and_transformers_does_not_probe_it():
    import kernels
    from transformers.utils.import_utils import is_kernels_available

    assert Path(kernels.__file__).resolve().parent == ROOT / "kernels"
    assert is_kernels_available() is False  # else transformers would import hub kernels from it


def test_cli_help_lists_every_command():
    out = run_vmr("--help").stdout
    for command in ("index", "search", "remove", "info", "transcript", "serve"):
        assert command in out
