"""Small images and files for the style-transfer tests."""

import numpy as np
import torch
from PIL import Image


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def photo(h: int = 32, w: int = 32, seed: int = 0) -> torch.Tensor:
    """An RGB image (3, h, w) in [0, 1] with structure: smooth colour gradients, a bright square, some noise."""
    y, x = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    base = torch.stack([(x * 3).sin().abs(), y, (x * y * 5).cos().abs()])
    base[:, h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] += 0.4
    return (0.7 * base + 0.2 * torch.rand(3, h, w, generator=seeded(seed))).clamp(0, 1)


def stripes(h: int = 32, w: int = 32, period: int = 6) -> torch.Tensor:
    """A style-like image: diagonal stripes of two colours."""
    y, x = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    on = (((x + y) // (period // 2)) % 2).float()
    return torch.stack([0.9 * on + 0.1, 0.3 * on + 0.2, 0.8 * (1 - on) + 0.1])


def save_image(x: torch.Tensor, path):
    """Write (3, H, W) in [0, 1] as an 8-bit image file; returns the path."""
    Image.fromarray((x.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(path)
    return path
