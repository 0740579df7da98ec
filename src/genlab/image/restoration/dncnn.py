"""DnCNN: a deep plain CNN that removes Gaussian noise by predicting it (residual learning).

The network is ``depth`` 3×3 convolutions: conv → ReLU; (depth − 2) × [conv (no bias) → BatchNorm →
ReLU]; conv → C channels. With residual learning it estimates the noise ``v = y − x`` of the noisy image
``y`` and returns ``y − R(y)``; the paper's loss ½‖R(y) − (y − x)‖² is then the squared error of the
restored image, so the default pixel loss is the MSE. Padding keeps the size, so any H × W goes in.

Training follows the common PyTorch re-implementation (Adam, lr 1e-3; constant, or cosine decay) rather
than the paper's SGD with an exponentially decaying lr from 1e-1; the weights start from He et al.'s
initialisation, as in the paper.

References:
    K. Zhang, W. Zuo, Y. Chen, D. Meng and L. Zhang, "Beyond a Gaussian Denoiser: Residual Learning of
    Deep CNN for Image Denoising", IEEE Transactions on Image Processing 26(7), 2017.
    K. He, X. Zhang, S. Ren and J. Sun, "Delving Deep into Rectifiers: Surpassing Human-Level Performance
    on ImageNet Classification", ICCV 2015.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from pydantic import Field
from torch import nn

from genlab.core.model import register_model
from genlab.image.restoration.base import RestorationModel
from genlab.image.restoration.denoise import TASK, DenoiseConfig


class DnCNNConfig(DenoiseConfig):
    """DnCNN's depth and width, residual learning, and the paper's MSE loss."""

    depth: int = Field(17, ge=2, le=64, description="3×3 conv layers (17 for one σ, 20 for blind denoising)")
    width: int = Field(64, ge=1, le=512, description="feature channels of the hidden layers")
    residual: bool = Field(
        True, description="predict the noise and return input − noise (residual learning); false: the clean image"
    )
    loss: Literal["l1", "mse"] = Field(
        "mse", description="pixel loss between the restored and the clean image (the paper's: mse)"
    )


@register_model("image/dncnn")
class DnCNN(RestorationModel):
    """DnCNN (Zhang et al. 2017): ``depth`` 3×3 convs with BatchNorm, predicting the noise."""

    config_class = DnCNNConfig
    task: ClassVar[str] = TASK
    description: ClassVar[str] = "DnCNN Gaussian denoiser: a deep CNN with BatchNorm that predicts the noise"
    config: DnCNNConfig

    def __init__(self, config: DnCNNConfig):
        super().__init__(config)
        c, width = config.channels, config.width
        layers: list[nn.Module] = [nn.Conv2d(c, width, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(config.depth - 2):
            layers += [nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(width, c, 3, padding=1, bias=False))
        self.net = nn.Sequential(*layers)
        for module in self.net.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    @property
    def receptive_radius(self) -> int:
        """``depth``: each 3×3 conv (stride 1) widens the field by one pixel on each side."""
        return self.config.depth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The clean estimate (B, C, H, W) of noisy images (B, C, H, W): ``x − R(x)`` with residual learning."""
        out = self.net(x)
        return x - out if self.config.residual else out
