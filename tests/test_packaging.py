"""Our top-level `kernels` must never be mistaken for the PyPI package of the same name."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import ROOT, run_vmr


def test_kernels_is_ours_and_transformers_does_not_probe_it():
    import kernels
    from transformers.utils.import_utils import is_kernels_available

    assert Path(kernels.__file__).resolve().parent == ROOT / "kernels"
    assert is_kernels_available() is False  # else transformers would import hub kernels from it


def commands() -> list[str]:
    """Every subcommand the parser knows, read from the parser itself."""
    import argparse

    from vmr.app.cli import build_parser

    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return list(sub.choices)


def test_cli_help_lists_every_command():
    names = commands()
    assert {"index", "search", "info", "remove", "show", "transcript", "eval", "serve"} <= set(names)
    out = run_vmr("--help").stdout
    listed = re.findall(r"^ {2,6}([a-z][\w-]*)", out, re.MULTILINE)  # not the help texts' wrapped lines
    missing = [name for name in names if name not in listed]
    assert not missing, f"vmr --help does not list {missing}:\n{out}"
