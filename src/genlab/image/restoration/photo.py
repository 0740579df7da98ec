"""A restored photo as a pipeline output, and colour handling between photos and models.

Models see what they were trained on (``rgb``, ``y`` luma or ``gray``); a photo of another kind is
converted on the way in and back on the way out: a luma model restores Y while Cb and Cr follow
(bicubic when the size changes), a gray model restores each colour channel in turn, an RGB model
gets a gray photo repeated on three channels.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from genlab.core.errors import BadInputError
from genlab.core.pipeline import Output
from genlab.image.restoration.color import rgb_to_ycbcr, ycbcr_to_rgb
from genlab.image.restoration.data import read_photo
from genlab.image.restoration.degrade import bicubic_resize

SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP", ".tif": "TIFF",
                ".tiff": "TIFF"}  # fmt: skip


def to_pil_image(x: torch.Tensor) -> Image.Image:
    """(C, H, W) in [0, 1] → an 8-bit L or RGB PIL image."""
    array = (x.detach().clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    return Image.fromarray(array[0] if array.shape[0] == 1 else np.ascontiguousarray(array.transpose(1, 2, 0)))


class PhotoOutput(Output):
    """One restored photo (C, H, W) in [0, 1], saved at full size (PNG, JPEG, WebP, BMP, TIFF by suffix)."""

    formats = {"png": "image/png", "jpeg": "image/jpeg"}
    suffix = ".png"

    def __init__(self, image: torch.Tensor, info: dict | None = None):
        self.image = image.detach().cpu()
        self.info = dict(info or {})

    def pil(self) -> Image.Image:
        return to_pil_image(self.image)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        kind = SAVE_FORMATS.get(path.suffix.lower())
        if kind is None:
            raise BadInputError(
                f"cannot save an image as '{path.suffix or path.name}'", f"use one of {', '.join(SAVE_FORMATS)}"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        self.pil().save(path, format=kind, **({"quality": 95} if kind == "JPEG" else {}))
        return path

    def encode(self, format: str | None = None) -> bytes:
        format = self.check_format(format)
        buffer = io.BytesIO()
        self.pil().save(buffer, format=format.upper(), **({"quality": 95} if format == "jpeg" else {}))
        return buffer.getvalue()


PhotoInput = str | Path | torch.Tensor


def photo_input(image: PhotoInput) -> torch.Tensor:
    """A photo (C, H, W) in [0, 1] from a path (gray stays gray, anything else is RGB) or a tensor."""
    if isinstance(image, torch.Tensor):
        x = image.detach().float()
        if x.dim() != 3 or x.shape[0] not in (1, 3):
            raise BadInputError(f"expected an image tensor (C, H, W) with 1 or 3 channels, got {tuple(x.shape)}")
        return x
    return read_photo(image, "auto")


def restore_photo(
    photo: torch.Tensor, color: str, scale: int, restore: Callable[[torch.Tensor], torch.Tensor]
) -> torch.Tensor:
    """``restore`` (on (1, C, h, w) in the model's ``color``) applied to a photo (3 or 1, H, W) in [0, 1];
    returns the photo's own kind (RGB stays RGB, gray stays gray), ``scale`` times larger."""
    h, w = photo.shape[-2:]
    if color == "rgb":
        rgb = photo.expand(3, -1, -1) if photo.shape[0] == 1 else photo
        out = restore(rgb.unsqueeze(0))[0]
        return out.mean(0, keepdim=True) if photo.shape[0] == 1 else out
    if photo.shape[0] == 1:
        return restore(photo.unsqueeze(0))[0]
    if color == "y":  # the luma through the model, the chroma through bicubic
        ycc = rgb_to_ycbcr(photo)
        y = restore(ycc[:1].unsqueeze(0))[0]
        chroma = bicubic_resize(ycc[1:], (h * scale, w * scale)) if scale > 1 else ycc[1:]
        return ycbcr_to_rgb(torch.cat([y, chroma])).clamp(0, 1)
    return torch.cat([restore(photo[i : i + 1].unsqueeze(0))[0] for i in range(3)])  # gray model, colour photo
