"""ESPCN: super-resolution with an efficient sub-pixel convolution layer.

All convolutions run at the low resolution; only the last one outputs C·r² channels, which a pixel
shuffle rearranges into the r× larger image (each group of r² channels becomes an r × r block of
pixels). The network of the paper: conv 5×5 → n1 = 64, tanh; conv 3×3 → n2 = 32, tanh; conv 3×3 →
C·r²; pixel shuffle r. Padding keeps the size, so any h × w goes in.

The paper trains on the luma channel with the MSE (the default loss here), lowering the learning rate
from 0.01 to 0.0001 as the loss stops improving; here Adam at 1e-3 (constant, or cosine decay), as in common
re-implementations.

References:
    W. Shi, J. Caballero, F. Huszár, J. Totz, A. P. Aitken, R. Bishop, D. Rueckert and Z. Wang,
    "Real-Time Single Image and Video Super-Resolution Using an Efficient Sub-Pixel Convolutional
    Neural Network", CVPR 2016.

Reading order: config → model.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from pydantic import Field
from torch import nn

from genlab.core.model import register_model
from genlab.image.restoration.base import RestorationModel
from genlab.image.restoration.sr import TASK, SRConfig


class ESPCNConfig(SRConfig):
    """ESPCN's two hidden widths and the paper's MSE loss."""

    width1: int = Field(64, ge=1, le=1024, description="channels of the first (5×5) conv layer (the paper's n1)")
    width2: int = Field(32, ge=1, le=1024, description="channels of the second (3×3) conv layer (the paper's n2)")
    loss: Literal["l1", "mse"] = Field(
        "mse", description="pixel loss between the restored and the clean image (the paper's: mse)"
    )


@register_model("image/espcn")
class ESPCN(RestorationModel):
    """ESPCN (Shi et al. 2016): three convs at low resolution, then a pixel shuffle by ``scale``."""

    config_class = ESPCNConfig
    task: ClassVar[str] = TASK
    description: ClassVar[str] = "ESPCN super-resolution: three convs at low resolution and a sub-pixel shuffle"
    config: ESPCNConfig

    def __init__(self, config: ESPCNConfig):
        super().__init__(config)
        c, r = config.channels, config.scale
        self.net = nn.Sequential(
            nn.Conv2d(c, config.width1, 5, padding=2),
            nn.Tanh(),
            nn.Conv2d(config.width1, config.width2, 3, padding=1),
            nn.Tanh(),
            nn.Conv2d(config.width2, c * r * r, 3, padding=1),
            nn.PixelShuffle(r),
        )

    @property
    def receptive_radius(self) -> int:
        """4: the 5×5 conv reaches 2 input pixels on each side, each 3×3 conv 1 more; the shuffle adds none
        (output pixel (r·i + a, r·j + b) is a channel of low-resolution position (i, j))."""
        return 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The upscaled images (B, C, h·r, w·r) of low-resolution images (B, C, h, w)."""
        return self.net(x)  # (B, C, h, w) -> (B, C·r², h, w) -> (B, C, h·r, w·r)
