"""Images for style transfer: reading a style or content image, resizing by the longest side, and a
fingerprint of the pixels a model stores.

Images are float tensors (3, H, W) in [0, 1], RGB (a gray image is repeated on three channels). A
source is an image file (PNG, JPEG, WebP, BMP; EXIF-rotated) or ``builtin:NAME``, one of the photographs
bundled with scikit-image (``builtin:brick``, ``builtin:gravel``, ``builtin:coffee``, …; no download).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from genlab.core.errors import BadInputError, DataError, unknown_name
from genlab.image.restoration.data import SKIMAGE_PHOTOS, read_photo, skimage_photo
from genlab.image.restoration.degrade import bicubic_resize, quantize

BUILTIN_PREFIX = "builtin:"


def read_image(source: str | Path) -> torch.Tensor:
    """An image file or ``builtin:NAME`` → RGB float (3, H, W) in [0, 1]; a missing or unreadable file is a
    :class:`DataError` with a hint."""
    text = str(source)
    if text.startswith(BUILTIN_PREFIX):
        return builtin_image(text[len(BUILTIN_PREFIX) :])
    return read_photo(Path(text).expanduser(), "rgb")


def builtin_image(name: str) -> torch.Tensor:
    """One of scikit-image's bundled photographs as RGB (3, H, W) in [0, 1]."""
    if name not in SKIMAGE_PHOTOS:
        raise unknown_name("built-in image", name, [BUILTIN_PREFIX + n for n in SKIMAGE_PHOTOS])
    return skimage_photo(name, "rgb")


def as_image(x: torch.Tensor, what: str = "image") -> torch.Tensor:
    """A tensor given from Python as an RGB image (3, H, W) in [0, 1] (a gray (1, H, W) one is repeated)."""
    x = x.detach().float().cpu()
    if x.dim() != 3 or x.shape[0] not in (1, 3):
        raise BadInputError(f"expected the {what} as a tensor (C, H, W) with 1 or 3 channels, got {tuple(x.shape)}")
    return x.expand(3, -1, -1).clone() if x.shape[0] == 1 else x


def longest_side_shape(shape: tuple[int, int], longest: int, enlarge: bool = True) -> tuple[int, int]:
    """(H, W) scaled so that max(H, W) = ``longest`` (aspect kept; ``enlarge`` False: never larger)."""
    h, w = shape
    scale = longest / max(h, w)
    if not enlarge:
        scale = min(scale, 1.0)
    return max(1, round(h * scale)), max(1, round(w * scale))


def resize(x: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """``x`` (…, H, W) resized to ``shape`` with antialiased bicubic interpolation, clamped to [0, 1]."""
    return x if tuple(x.shape[-2:]) == tuple(shape) else bicubic_resize(x, tuple(shape)).clamp(0, 1)


def resize_longest(x: torch.Tensor, longest: int, enlarge: bool = True) -> torch.Tensor:
    """``x`` resized so that its longest side is ``longest`` pixels."""
    return resize(x, longest_side_shape(tuple(x.shape[-2:]), longest, enlarge))


def pixel_digest(x: torch.Tensor) -> str:
    """sha256 (hex) of an image's 8-bit pixels and shape: equal for the same picture read from any lossless copy."""
    array = (x.detach().cpu().clamp(0, 1) * 255).round().to(torch.uint8).contiguous().numpy()
    h = hashlib.sha256(str(tuple(array.shape)).encode())
    h.update(array.tobytes())
    return h.hexdigest()


def read_style(source: str | Path, longest: int) -> torch.Tensor:
    """The style image of ``source`` as a model stores it: resized so its longest side is ``longest``, 8-bit."""
    image = read_image(source)
    if min(image.shape[-2:]) < 8:
        raise DataError(
            f"the style image {source} is only {image.shape[-1]}×{image.shape[-2]} pixels", "give a larger one"
        )
    return quantize(resize_longest(image, longest))
