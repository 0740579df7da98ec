"""Degradations that make training inputs from clean images, on the fly: bicubic downscaling,
Gaussian noise and random masks (boxes and free-form strokes).

Images are float tensors in [0, 1], (C, H, W) or (B, C, H, W). The bicubic kernel here is the one
the evaluation and the bicubic baseline use too (:func:`bicubic_resize`): Keys' cubic with
a = -0.5 and, when shrinking, the kernel widened by the scale factor (antialiasing), as MATLAB's
``imresize`` does — the degradation behind the published Set5/Set14 figures.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from genlab.core.errors import BadInputError


def _batched(x: torch.Tensor) -> tuple[torch.Tensor, bool]:
    if x.dim() == 3:
        return x.unsqueeze(0), True
    if x.dim() != 4:
        raise BadInputError(f"expected an image (C, H, W) or a batch (B, C, H, W), got shape {tuple(x.shape)}")
    return x, False


def bicubic_resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``x`` resized to ``size`` (H, W) with the antialiased bicubic kernel; same dims as ``x``.

    No clamping: bicubic overshoots slightly at edges, as MATLAB's does before its uint8 rounding.
    """
    batch, single = _batched(x)
    out = F.interpolate(batch.float(), size=size, mode="bicubic", align_corners=False, antialias=True)
    return out[0] if single else out


def modcrop(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Crop the bottom/right so that height and width are multiples of ``scale`` (the SR convention)."""
    h, w = x.shape[-2:]
    return x[..., : h - h % scale, : w - w % scale]


def downscale(x: torch.Tensor, scale: int) -> torch.Tensor:
    """The low-resolution input of super-resolution: ``x`` (height and width multiples of ``scale``)
    shrunk ``scale`` times with :func:`bicubic_resize` and rounded to 8-bit levels, as a saved LR image is."""
    h, w = x.shape[-2:]
    if h % scale or w % scale:
        raise BadInputError(f"image of {h}×{w} is not divisible by the scale {scale}", "crop it with modcrop first")
    return quantize(bicubic_resize(x, (h // scale, w // scale)))


def quantize(x: torch.Tensor) -> torch.Tensor:
    """Clamp to [0, 1] and round to the 256 levels of an 8-bit image."""
    return (x.clamp(0, 1) * 255).round() / 255


def add_noise(x: torch.Tensor, sigma: float | torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Additive white Gaussian noise of standard deviation ``sigma`` on the 0–255 scale (``sigma`` a number,
    or one per image of a batch); not clipped, as in the DnCNN protocol."""
    noise = torch.randn(x.shape, generator=generator, dtype=torch.float32).to(x.device)
    sigma = torch.as_tensor(sigma, dtype=torch.float32, device=x.device)
    if sigma.dim() == 1:  # one per image of a batch
        sigma = sigma.view(-1, *([1] * (x.dim() - 1)))
    return x + noise * sigma / 255.0


# --------------------------------------------------------------------------- masks (1 = missing, to fill)


def box_mask(
    height: int, width: int, generator: torch.Generator | None = None, min_frac: float = 0.15, max_frac: float = 0.5
) -> torch.Tensor:
    """A (1, H, W) mask with one random axis-aligned box (sides between ``min_frac`` and ``max_frac``)."""
    mask = torch.zeros(1, height, width)
    r = torch.rand(4, generator=generator).tolist()
    bh = max(1, int(height * (min_frac + (max_frac - min_frac) * r[0])))
    bw = max(1, int(width * (min_frac + (max_frac - min_frac) * r[1])))
    top, left = int((height - bh) * r[2]), int((width - bw) * r[3])
    mask[:, top : top + bh, left : left + bw] = 1
    return mask


def stroke_mask(
    height: int,
    width: int,
    generator: torch.Generator | None = None,
    strokes: int = 4,
    vertices: int = 8,
    max_width_frac: float = 0.08,
) -> torch.Tensor:
    """A (1, H, W) free-form mask: ``strokes`` random polylines of thick round brush strokes
    (the irregular masks of Yu et al. 2019, "Free-Form Image Inpainting with Gated Convolution")."""
    ys, xs = torch.meshgrid(torch.arange(height).float(), torch.arange(width).float(), indexing="ij")
    mask = torch.zeros(height, width, dtype=torch.bool)
    side = min(height, width)

    def uniform(lo: float, hi: float) -> float:
        return lo + (hi - lo) * float(torch.rand(1, generator=generator))

    for _ in range(strokes):
        y, x = uniform(0, height - 1), uniform(0, width - 1)
        radius = max(1.0, uniform(0.3, 1.0) * max_width_frac * side)
        for _ in range(int(uniform(1, vertices + 1))):
            angle, length = uniform(0, 2 * math.pi), uniform(0.05, 0.25) * side
            y2 = min(max(y + length * math.sin(angle), 0), height - 1)
            x2 = min(max(x + length * math.cos(angle), 0), width - 1)
            # distance of every pixel to the segment (y, x) → (y2, x2)
            dy, dx = y2 - y, x2 - x
            seg = max(dy * dy + dx * dx, 1e-9)
            t = (((ys - y) * dy + (xs - x) * dx) / seg).clamp(0, 1)
            mask |= (ys - (y + t * dy)) ** 2 + (xs - (x + t * dx)) ** 2 <= radius * radius
            y, x = y2, x2
    return mask.float().unsqueeze(0)


def random_mask(height: int, width: int, kind: str = "mixed", generator: torch.Generator | None = None) -> torch.Tensor:
    """A (1, H, W) training mask: ``box``, ``stroke`` or ``mixed`` (each half of the time)."""
    if kind == "mixed":
        kind = "box" if float(torch.rand(1, generator=generator)) < 0.5 else "stroke"
    if kind == "box":
        return box_mask(height, width, generator)
    if kind == "stroke":
        return stroke_mask(height, width, generator)
    raise BadInputError(f"unknown mask kind '{kind}'", "choose box, stroke or mixed")
