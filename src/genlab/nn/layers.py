"""Small building blocks shared by model families (GANs, VAEs, diffusion, restoration).

Everything here is modality-neutral: it works on feature maps (B, C, H, W) and
knows nothing about datasets or labels beyond integer class indices.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
from torch import nn

from genlab.core.errors import ConfigError

UpsampleMode = Literal["transpose", "nearest"]


class ResolutionPlan(NamedTuple):
    """How a square image of ``image_size`` pixels is built from a small grid by 2× steps.

    ``image_size == base_size * 2 ** num_stages`` with ``base_size`` in [4, 7].
    """

    base_size: int
    num_stages: int


def plan_resolutions(image_size: int, who: str = "this model", extra_hint: str = "") -> ResolutionPlan:
    """Split ``image_size`` into ``base_size * 2**num_stages`` with 4 ≤ base_size ≤ 7 and num_stages ≥ 1.

    Conv generators start from a base_size × base_size grid and double it
    num_stages times (28 → 7·2², 32 → 4·2³, 64 → 4·2⁴); encoders and
    discriminators halve it back. Sizes with no such split raise ConfigError.
    """
    size, stages = image_size, 0
    while size >= 8 and size % 2 == 0:
        size, stages = size // 2, stages + 1
    if 4 <= size <= 7 and stages >= 1:
        return ResolutionPlan(size, stages)
    working = supported_sizes(max_size=max(128, 2 * image_size))
    nearest = sorted(working, key=lambda s: (abs(s - image_size), s))[:2]
    hint = (
        f"use image size {' or '.join(str(s) for s in sorted(nearest))}; sizes that work are b·2^k with 4 ≤ b ≤ 7: "
        + ", ".join(str(s) for s in working if s <= 128)
        + ", …"
    )
    raise ConfigError(f"{who} cannot build {image_size}×{image_size} images", hint + extra_hint)


def supported_sizes(max_size: int = 128) -> list[int]:
    """All image sizes ≤ ``max_size`` that :func:`plan_resolutions` accepts, ascending."""
    return sorted({b * 2**k for b in range(4, 8) for k in range(1, 12) if b * 2**k <= max_size})


def maybe_spectral_norm(module: nn.Module, enabled: bool) -> nn.Module:
    """Wrap ``module``'s weight in spectral normalization (Miyato et al. 2018) when ``enabled``.

    Uses the parametrization API, whose buffers (``_u``, ``_v``) are plain tensors
    in the state dict, so the wrapped module saves to safetensors like any other.
    """
    return nn.utils.parametrizations.spectral_norm(module) if enabled else module


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm whose scale and shift are looked up per class (de Vries et al. 2017; Miyato & Koyama 2018).

    ``forward(x (B, C, H, W), labels (B,)) -> (B, C, H, W)``. The per-class
    gains start at 1 and shifts at 0, so an untrained layer is plain BatchNorm.
    """

    def __init__(self, num_features: int, num_classes: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(num_features, affine=False)
        self.gain = nn.Embedding(num_classes, num_features)
        self.shift = nn.Embedding(num_classes, num_features)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.shift.weight)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        gain = self.gain(labels)[:, :, None, None]  # (B, C) -> (B, C, 1, 1)
        shift = self.shift(labels)[:, :, None, None]
        return gain * self.norm(x) + shift


def upsample2x(in_channels: int, out_channels: int, mode: UpsampleMode = "transpose") -> nn.Module:
    """A layer that doubles height and width: (B, in, H, W) -> (B, out, 2H, 2W).

    ``transpose``: ConvTranspose2d(k=4, s=2, p=1) as in DCGAN (Radford et al. 2016);
    ``nearest``: nearest-neighbour upsampling then a 3×3 conv, which avoids the
    checkerboard artifacts of strided transposed convs (Odena et al. 2016).
    """
    if mode == "transpose":
        return nn.ConvTranspose2d(in_channels, out_channels, kernel_size=4, stride=2, padding=1)
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(in_channels, out_channels, 3, 1, 1))


def downsample2x(in_channels: int, out_channels: int) -> nn.Conv2d:
    """A strided conv that halves height and width: (B, in, H, W) -> (B, out, H/2, W/2)."""
    return nn.Conv2d(in_channels, out_channels, kernel_size=4, stride=2, padding=1)
