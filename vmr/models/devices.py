"""One `--device` for every model: "auto" means the GPU when the runtime in question sees one."""

from __future__ import annotations

import os

DEVICES = ("auto", "cpu", "cuda")


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity where the system tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def torch_device(device: str) -> str:
    """For PyTorch models (openai-whisper, sentence-transformers, the visual model); "cuda"
    where PyTorch sees none is a one-line error, not a traceback from the first tensor moved."""
    if device == "cpu":
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if device == "cuda":
        from vmr.errors import ModelError

        raise ModelError(f"--device cuda: PyTorch {torch.__version__} sees no CUDA GPU (a CPU-only build, "
                         "or no driver); use --device auto or cpu")
    return "cpu"


def ctranslate2_device(device: str) -> str:
    """For CTranslate2 models (faster-whisper): its own CUDA build, whatever torch was installed."""
    if device != "auto":
        return device
    import ctranslate2

    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"


def cuda_visible() -> bool:
    """Whether a CUDA GPU is visible, without importing torch (seconds): CTranslate2's count
    (it is installed with faster-whisper, and loaded anyway by an index run)."""
    try:
        import ctranslate2
    except ImportError:
        return False
    try:
        return ctranslate2.get_cuda_device_count() > 0
    except RuntimeError:
        return False
