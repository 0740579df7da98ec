"""Image tensors ↔ PIL images, sample grids, and the images output of pipelines."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from genlab.core.pipeline import Output


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] → uint8 array (N, H, W, C)."""
    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def to_pil(images: torch.Tensor) -> list[Image.Image]:
    """(N, C, H, W) in [-1, 1] → list of PIL images (mode L or RGB)."""
    arr = to_uint8(images)
    return [Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a) for a in arr]


def make_grid(images: torch.Tensor, nrow: int | None = None, padding: int = 2) -> Image.Image:
    """Tile (N, C, H, W) images in [-1, 1] into one PIL image, ``nrow`` per row (default √N)."""
    n, c, h, w = images.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    arr = to_uint8(images)
    grid = np.zeros((rows * (h + padding) + padding, nrow * (w + padding) + padding, c), dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        grid[y : y + h, x : x + w] = arr[i]
    return Image.fromarray(grid[..., 0] if c == 1 else grid)


def save_grid(images: torch.Tensor, path: str | Path, nrow: int | None = None, scale: int = 1) -> Path:
    """Write a grid PNG of ``images`` (optionally upscaled ×``scale`` with nearest neighbour)."""
    img = make_grid(images, nrow)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


class ImagesOutput(Output):
    """Images (N, C, H, W) in [-1, 1]: saved as a grid (a ``.png``/``.jpg``/``.webp`` path) or as one PNG per
    image (any other path is a folder). ``lead`` images (an input, a masked input) open the grid."""

    formats = {"png": "image/png", "npy": "application/x-npy"}
    suffix = ".png"

    def __init__(self, images: torch.Tensor, nrow: int | None = None, scale: int = 1, lead: torch.Tensor | None = None):
        self.images = images.detach().cpu()
        self.nrow, self.scale = nrow, scale
        self.lead = None if lead is None else lead.detach().cpu()

    def grid_images(self) -> torch.Tensor:
        """What the grid shows: the lead images, then the outputs."""
        return self.images if self.lead is None else torch.cat([self.lead, self.images])

    def pil(self) -> list[Image.Image]:
        """The outputs (without lead images) as PIL images."""
        return to_pil(self.images)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        if path.suffix.lower() in IMAGE_SUFFIXES:
            return save_grid(self.grid_images(), path, nrow=self.nrow, scale=self.scale)
        path.mkdir(parents=True, exist_ok=True)
        for i, img in enumerate(self.pil()):
            img.save(path / f"{i:04d}.png")
        return path

    def encode(self, format: str | None = None) -> bytes:
        format = self.check_format(format)
        buffer = io.BytesIO()
        if format == "npy":
            np.save(buffer, self.images.numpy())
        else:
            img = make_grid(self.grid_images(), self.nrow)
            if self.scale > 1:
                img = img.resize((img.width * self.scale, img.height * self.scale), Image.NEAREST)
            img.save(buffer, format="PNG")
        return buffer.getvalue()
