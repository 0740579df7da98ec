"""A convolutional denoising autoencoder: encode the noisy image to a coarse code, decode a clean one.

Vincent et al. (2008) train an autoencoder to reconstruct the clean input from a corrupted copy
(the denoising criterion), which forces the code to capture the structure of the data rather than
copy the input. Here the encoder and decoder are small convolutional stacks, without skip
connections (a true autoencoder: everything passes through the bottleneck):

* a 3×3 conv → ``width`` channels + ReLU at full resolution;
* ``levels`` stride-2 3×3 convs + ReLU, each halving the size and doubling the channels;
* a 3×3 conv + ReLU bottleneck at 1/2^levels of the size;
* the mirror decoder: ``levels`` × [nearest 2× upsampling, 3×3 conv + ReLU] halving the channels back,
  (upsampling then convolving avoids the checkerboard artefacts of transposed convs, Odena et al. 2016);
* a 3×3 conv → C channels and a sigmoid, so the output lies in [0, 1].

Inputs of any size are reflect-padded on the bottom and right up to a multiple of 2^levels and the
output cropped back; padding only there keeps the stride-2 grid anchored at the top-left pixel, so a
tile that starts at a multiple of 2^levels sees the same grid as the whole image and tiled inference
is exact.

References:
    P. Vincent, H. Larochelle, Y. Bengio and P.-A. Manzagol, "Extracting and Composing Robust Features
    with Denoising Autoencoders", ICML 2008.
    A. Odena, V. Dumoulin and C. Olah, "Deconvolution and Checkerboard Artifacts", Distill 2016.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from genlab.core.model import register_model
from genlab.image.restoration.base import RestorationModel
from genlab.image.restoration.denoise import TASK, DenoiseConfig
from genlab.nn.layers import upsample2x


class DAEConfig(DenoiseConfig):
    """Width and depth of the encoder/decoder; the squared-error denoising criterion by default."""

    width: int = Field(32, ge=1, le=256, description="channels at full resolution, doubled at each downsampling")
    levels: int = Field(
        2, ge=1, le=6, description="stride-2 downsamplings (inputs are padded to multiples of 2^levels)"
    )
    loss: Literal["l1", "mse"] = Field(
        "mse", description="pixel loss between the restored and the clean image (mse: the squared-error criterion)"
    )


def dae_receptive_radius(levels: int) -> int:
    """Input pixels each output pixel of a ``levels``-level DAE depends on, per side (exact, before rounding).

    Follows an output pixel's dependence back through the layers as an interval [lo, hi] of positions
    on each layer's own grid: a 3×3 conv widens it by one; a nearest 2× upsampling maps fine positions
    to coarse ones (⌊i/2⌋); a stride-2 3×3 conv (padding 1) maps coarse position j to fine 2j − 1 … 2j + 1.
    The result depends on the pixel's phase modulo 2^levels; this is the largest over phases:
    2^(levels+2) − 1 (7, 15, 31, … pixels), reached on the left of the pixels of phase 2^levels − 1.
    """
    radius = 0
    for p in range(2**levels):
        lo, hi = p - 1, p + 1  # the output conv
        for _ in range(levels):  # decoder, finest level first: its conv, then the upsampling
            lo, hi = (lo - 1) // 2, (hi + 1) // 2
        lo, hi = lo - 1, hi + 1  # the bottleneck conv
        for _ in range(levels):  # encoder, coarsest level first: the stride-2 convs
            lo, hi = 2 * lo - 1, 2 * hi + 1
        lo, hi = lo - 1, hi + 1  # the full-resolution input conv
        radius = max(radius, p - lo, hi - p)
    return radius


@register_model("image/dae")
class DenoisingAutoencoder(RestorationModel):
    """A skip-free convolutional denoising autoencoder (Vincent et al. 2008) with a sigmoid output."""

    config_class = DAEConfig
    task: ClassVar[str] = TASK
    description: ClassVar[str] = "convolutional denoising autoencoder: skip-free encoder/decoder with a sigmoid output"
    config: DAEConfig

    def __init__(self, config: DAEConfig):
        super().__init__(config)
        c, w, levels = config.channels, config.width, config.levels
        widths = [w * 2**i for i in range(levels + 1)]  # channels at each level, full resolution first
        encoder: list[nn.Module] = [nn.Conv2d(c, w, 3, padding=1), nn.ReLU(inplace=True)]
        for i in range(levels):
            encoder += [nn.Conv2d(widths[i], widths[i + 1], 3, stride=2, padding=1), nn.ReLU(inplace=True)]
        self.encoder = nn.Sequential(*encoder)
        self.bottleneck = nn.Sequential(nn.Conv2d(widths[-1], widths[-1], 3, padding=1), nn.ReLU(inplace=True))
        decoder: list[nn.Module] = []
        for i in reversed(range(levels)):
            decoder += [upsample2x(widths[i + 1], widths[i], mode="nearest"), nn.ReLU(inplace=True)]
        self.decoder = nn.Sequential(*decoder)
        self.head = nn.Conv2d(w, c, 3, padding=1)

    @property
    def size_multiple(self) -> int:  # type: ignore[override]  # depends on the config's levels
        """2^levels: the sizes the stride-2 convs halve exactly."""
        return 2**self.config.levels

    @property
    def receptive_radius(self) -> int:
        """:func:`dae_receptive_radius`, rounded up to a multiple of :attr:`size_multiple` (16 at 2 levels)."""
        m = self.size_multiple
        return -(-dae_receptive_radius(self.config.levels) // m) * m

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The clean estimate (B, C, H, W) in [0, 1] of noisy images (B, C, H, W) of any size."""
        h, w = x.shape[-2:]
        m = self.size_multiple
        pad_h, pad_w = -h % m, -w % m
        if pad_h or pad_w:  # reflect needs the pad smaller than the side; tiny images are replicated
            mode = "reflect" if pad_h < h and pad_w < w else "replicate"
            x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        out = torch.sigmoid(self.head(self.decoder(self.bottleneck(self.encoder(x)))))
        return out[..., :h, :w]
