"""The visual channel: keyframes and queries in a CLIP-family joint image-text space.

Any transformers dual encoder with `get_image_features` / `get_text_features` works (CLIPModel,
SiglipModel, ...), loaded from a local folder or a Hugging Face hub id. No such weights ship
with vmr, so the channel is off until a model is named (`[index] visual_model` in
HOME/config.toml, or `vmr index --visual-model NAME`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from vmr.models.devices import torch_device
from vmr.errors import ModelError, QueryError, os_problem

EXAMPLE_MODEL = "openai/clip-vit-base-patch32"


def off_hint(config: Path) -> str:
    """How to turn the channel on, in one line."""
    return (f'set [index] visual_model = "{EXAMPLE_MODEL}" (or a local folder) in {config}, '
            "or pass vmr index --visual-model NAME")


def resolve_visual_model(name: str) -> str:
    """A local folder as an absolute path (it is stored with the vectors and must find the same
    weights from any working directory), anything else unchanged as a hub id."""
    path = Path(name).expanduser()
    if path.is_dir():
        return str(path.resolve())
    if path.exists() or name.startswith((".", "/", "~")):
        raise ModelError(f"{name}: not a model folder (want a CLIP/SigLIP folder or a hub id)")
    return name


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


class VisualEncoder:
    """Images and texts into one space; every output row is float32 and L2-normalised."""

    def __init__(self, name: str, device: str = "auto"):
        self.name = resolve_visual_model(name)
        import torch
        from transformers import AutoImageProcessor, AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights" bars would break --json runs' stderr
        self.device = torch_device(device)
        # Half precision halves a GPU's memory traffic; CPUs lack fast fp16 matmuls.
        self.dtype = torch.float16 if self.device.startswith("cuda") else torch.float32
        # transformers warns about its own defaults while building some configs (SigLIP's text
        # tower): noise on stderr, where vmr says what went wrong in one line.
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        try:
            self.model = AutoModel.from_pretrained(self.name, dtype=self.dtype).to(self.device).eval()
            self.tokenizer = AutoTokenizer.from_pretrained(self.name)
            self.processor = AutoImageProcessor.from_pretrained(self.name)
        except (OSError, ValueError) as exc:
            if _offline() and self.name == name:
                raise ModelError(
                    f"visual model {name!r} is neither a local folder nor in the Hugging Face cache, and "
                    "HF_HUB_OFFLINE is set: pass a folder with CLIP/SigLIP weights, or go online to download it"
                ) from exc
            raise ModelError(f"cannot load visual model {name!r}: {exc}".splitlines()[0]) from exc
        finally:
            hf_logging.set_verbosity(verbosity)
        if not (hasattr(self.model, "get_image_features") and hasattr(self.model, "get_text_features")):
            raise ModelError(f"{name}: a {type(self.model).__name__} is not an image-text dual encoder "
                             "(want CLIP, SigLIP or another model with image and text towers)")
        config = self.model.config
        self.dim = int(getattr(config, "projection_dim", 0) or config.text_config.hidden_size)
        # SigLIP was trained on texts padded to the full length; CLIP pools at the end token.
        self.pad_to_max = "siglip" in config.model_type
        self.max_tokens = int(config.text_config.max_position_embeddings)
        self.batch_size = 64 if self.device.startswith("cuda") else 16
        self.input_side = _input_side(self.processor)

    def encode_images(self, images: list[np.ndarray]) -> np.ndarray:
        """RGB uint8 arrays [H, W, 3] of any size -> float32 [n, dim]."""
        return self._encode(images, "get_image_features", lambda batch: self.processor(
            images=[_fit(image, self.input_side) for image in batch], return_tensors="pt"))

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        """Queries through the text tower -> float32 [n, dim]."""
        return self._encode(texts, "get_text_features", lambda batch: self.tokenizer(
            batch, truncation=True, max_length=self.max_tokens,
            padding="max_length" if self.pad_to_max else True, return_tensors="pt"))

    encode = encode_texts  # the TextEncoder interface: search encodes query texts per channel

    def _encode(self, items: list, method: str, prepare: Callable) -> np.ndarray:
        import torch

        out = [np.zeros((0, self.dim), np.float32)]
        for begin in range(0, len(items), self.batch_size):
            inputs = {key: value.to(self.device, self.dtype if value.is_floating_point() else value.dtype)
                      for key, value in prepare(items[begin:begin + self.batch_size]).items()}
            with torch.inference_mode():
                found = getattr(self.model, method)(**inputs)
                # transformers 5 returns the projected vectors as an output's pooler_output.
                found = getattr(found, "pooler_output", found)
                out.append(torch.nn.functional.normalize(found.float(), dim=-1).cpu().numpy())
        return np.concatenate(out)


def _input_side(processor) -> int:
    """The longest side the model looks at (224 for ViT-B): frames are shrunk near it first."""
    sides = [v for key in ("size", "crop_size") for edge, v in dict(getattr(processor, key, None) or {}).items()
             if edge in ("height", "width", "shortest_edge")]
    return max(sides, default=224)


def _fit(image: np.ndarray, side: int) -> np.ndarray:
    """A frame made square by black bars, at twice the model's input side at most. CLIP's
    processor would centre-crop a 16:9 slide to its middle square, cutting off the start of
    every bullet line. Shrinking first (area filter) halves the processor's time on a padded
    720p frame (15 against 33 ms), for a mean change of 0.005 in its normalised pixels."""
    import cv2

    height, width = image.shape[:2]
    scale = 2 * side / max(height, width)
    if scale < 1:
        width, height = max(1, round(width * scale)), max(1, round(height * scale))
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    square = max(height, width)
    top, left = (square - height) // 2, (square - width) // 2
    return cv2.copyMakeBorder(image, top, square - height - top, left, square - width - left,
                              cv2.BORDER_CONSTANT, value=(0, 0, 0))


def load_visual_encoder(name: str, device: str = "auto") -> VisualEncoder:
    return VisualEncoder(name, device)


def read_image(path: str | Path) -> np.ndarray:
    """An image file (a screenshot, a photo of a slide) as RGB uint8 [H, W, 3]."""
    import cv2

    try:
        os.stat(path)  # a missing file, a loop, a name too long: said as such, not as "unreadable"
    except OSError as exc:
        raise QueryError(f"{path}: {os_problem(exc)}") from exc
    pixels = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if pixels is None:
        raise QueryError(f"{path}: not a readable image (PNG, JPEG, WebP, ...)")
    return cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)
