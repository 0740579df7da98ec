"""``genlab translate RUN in.png out.png --direction a2b``: one image through a translation model.

The image is read as the model's channels (colour to gray by luma, gray repeated to RGB), and an image
of another size is centre-cropped to a square and resized (bicubic) to the model's size, the way
training images were prepared; a note says so. The output is the translated image at the model's
size: :class:`~genlab.image.restoration.photo.PhotoOutput` (PNG, JPEG, WebP, BMP or TIFF by suffix).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from pydantic import Field

from genlab.core.console import info
from genlab.core.errors import BadInputError, DataError
from genlab.core.pipeline import Pipeline, Request, register_pipeline
from genlab.image.data import IMAGE_EXTENSIONS, open_image
from genlab.image.restoration.photo import PhotoOutput
from genlab.image.translation.cyclegan import TASK

ImageInput = str | Path | torch.Tensor


class Translation(Request):
    """Options of ``genlab translate``."""

    image: str = Field(
        description="input image (PNG, JPEG, WebP, BMP); another size is centre-cropped and resized to the model's",
        json_schema_extra={"file": "image", "positional": True},
    )
    direction: Literal["a2b", "b2a"] = Field("a2b", description="a2b: domain A → B (G_AB); b2a: B → A (G_BA)")


def read_image(path: str | Path, channels: int) -> Image.Image:
    """An image file as an 8-bit L (``channels`` 1) or RGB PIL image; clear errors for missing or unreadable files."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"image {path} not found", "check the path" + (" (it is a folder)" if path.is_dir() else ""))
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        raise BadInputError(
            f"unsupported image format '{path.suffix or path.name}'",
            f"give an image file: {', '.join(IMAGE_EXTENSIONS)}",
        )
    try:
        return open_image(path, "L" if channels == 1 else "RGB")
    except Exception as e:  # Pillow raises several types on bad files
        raise DataError(
            f"cannot read {path}: {e}", "give a PNG, JPEG, WebP or BMP image (the file may be corrupt)"
        ) from None


def to_model_input(image: ImageInput, channels: int, size: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """(1, channels, size, size) in [-1, 1] from a path or a tensor (C, H, W) in [0, 1], and the input's (H, W)."""
    if isinstance(image, torch.Tensor):
        x = image.detach().float()
        if x.dim() != 3 or x.shape[0] not in (1, 3):
            raise BadInputError(f"expected an image tensor (C, H, W) with 1 or 3 channels, got {tuple(x.shape)}")
        h, w = x.shape[-2:]
        if x.shape[0] != channels:
            x = x.mean(0, keepdim=True) if channels == 1 else x.expand(3, -1, -1)
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        x = x[:, top : top + side, left : left + side].unsqueeze(0)
        if side != size:
            x = F.interpolate(x, size=(size, size), mode="bicubic", antialias=True, align_corners=False)
        return x.clamp(0, 1) * 2 - 1, (int(h), int(w))
    img = read_image(image, channels)
    w, h = img.size
    if (w, h) != (size, size):
        img = ImageOps.fit(img, (size, size), method=Image.Resampling.BICUBIC)
    array = np.asarray(img, dtype=np.uint8).reshape(size, size, channels)
    x = torch.from_numpy(array.copy()).permute(2, 0, 1).float().div(127.5).sub(1)
    return x.unsqueeze(0), (h, w)


@register_pipeline("image/translate")
class TranslationPipeline(Pipeline):
    """``pipe("digit.png", direction="a2b")`` → the translated image (:class:`PhotoOutput`, the model's size)."""

    task = TASK
    verb = "translate"
    description = "translate an image from domain A to B (or B to A) with a translation model (CycleGAN)"
    request_class = Translation
    output_class = PhotoOutput
    positional_out = True

    def default_filename(self, request: Translation) -> str:
        return f"{Path(request.image).stem}_{request.direction}.png"

    def __call__(self, image: ImageInput, direction: str = "a2b") -> PhotoOutput:
        model = self.model
        model.generator_for(direction)  # an unknown direction fails before any reading
        c, size = model.config.channels, model.config.image_size
        x, (h, w) = to_model_input(image, c, size)
        resized = (h, w) != (size, size)
        if resized:
            info(
                f"[yellow]note:[/] the {w}×{h} input was centre-cropped to a square and resized to the model's "
                f"{size}×{size}; the output is {size}×{size}"
            )
        out = model.translate(x, direction)[0]
        domains = (model.config.domain_a, model.config.domain_b)
        source, target = domains if direction == "a2b" else domains[::-1]
        details = {"direction": direction, "from": source, "to": target, "input_size": [h, w], "size": [size, size]}
        return PhotoOutput((out + 1) / 2, details | {"resized": resized})

    def run(self, request: Translation) -> PhotoOutput:
        return self(request.image, request.direction)
