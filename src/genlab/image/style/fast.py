"""``image/fast-style``: a feed-forward network trained for one style (Johnson et al. 2016).

Instead of optimising every output image (:mod:`~genlab.image.style.gatys`), Johnson et al. train
an image transformation network once, on many content photos, with the same perceptual loss —
content features, style Gram matrices and total variation, measured by a fixed feature network —
and then stylise a photo in one forward pass. The architecture follows their supplementary
material: a 9×9 convolution, two stride-2 convolutions, residual blocks, two ×2 upsampling stages
and a 9×9 output convolution, with instance normalisation (Ulyanov et al. 2016), which the authors
of that paper showed to improve the results markedly over batch normalisation. Upsampling is
nearest-neighbour followed by a convolution rather than a transposed convolution, which avoids
checkerboard artefacts (Odena et al. 2016). Padding is by reflection.

Training patches come from the task's content photos (``--data``, ``--patch-size``); the style image
(``--style``) is stored with the model (:class:`~genlab.image.style.model.StyleModel`), so the run
alone stylises photos of any size (sides are padded to a multiple of 4 and cropped back).

References:
    J. Johnson, A. Alahi, L. Fei-Fei, "Perceptual Losses for Real-Time Style Transfer and
    Super-Resolution", ECCV 2016.
    D. Ulyanov, A. Vedaldi, V. Lempitsky, "Instance Normalization: The Missing Ingredient for Fast
    Stylization", arXiv:1607.08022, 2016.
    A. Odena, V. Dumoulin, C. Olah, "Deconvolution and Checkerboard Artifacts", Distill, 2016.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from genlab.core.errors import BadInputError
from genlab.core.model import OptimizerSpec, register_model
from genlab.image.style.model import StyleConfig, StyleModel

MIN_SIDE = 16  # inputs are padded to at least this (reflection padding needs room) and to a multiple of 4


class FastStyleConfig(StyleConfig):
    """Johnson et al.'s transformation network and its training."""

    width: int = Field(32, ge=2, le=256, description="channels of the first convolution (×2, ×4 after downsampling)")
    num_residual: int = Field(5, ge=0, le=16, description="residual blocks at 1/4 resolution")
    lr: float = Field(
        1e-3, gt=0, le=1, description="learning rate (fast-style: Adam's; gatys: the optimisation's step size)"
    )
    schedule: Literal["constant", "cosine"] = Field(
        "constant",
        description="learning rate over the run: constant, or cosine decay to 0 (over the steps or minutes of the run)",
    )


def conv(c_in: int, c_out: int, kernel: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.ReflectionPad2d(kernel // 2), nn.Conv2d(c_in, c_out, kernel, stride))


def conv_norm_relu(c_in: int, c_out: int, kernel: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(conv(c_in, c_out, kernel, stride), nn.InstanceNorm2d(c_out, affine=True), nn.ReLU())


class ResidualBlock(nn.Module):
    """x + IN(conv(ReLU(IN(conv(x))))), 3×3 convolutions."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            conv_norm_relu(channels, channels, 3), conv(channels, channels, 3), nn.InstanceNorm2d(channels, affine=True)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Upsample(nn.Module):
    """×2 nearest-neighbour upsampling, then conv–IN–ReLU."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = conv_norm_relu(c_in, c_out, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


@register_model("image/fast-style")
class FastStyle(StyleModel):
    """Johnson et al.'s image transformation network for one style: photo in [0, 1] → stylised photo."""

    config_class = FastStyleConfig
    config: FastStyleConfig
    description: ClassVar[str] = (
        "Johnson et al. 2016: a feed-forward network trained with perceptual losses for one style "
        "(stylises in one pass)"
    )
    method: ClassVar[str] = "fast"

    def __init__(self, config: FastStyleConfig):
        super().__init__(config)
        w = config.width
        self.net = nn.Sequential(
            conv_norm_relu(3, w, 9),
            conv_norm_relu(w, 2 * w, 3, stride=2),
            conv_norm_relu(2 * w, 4 * w, 3, stride=2),
            *(ResidualBlock(4 * w) for _ in range(config.num_residual)),
            Upsample(4 * w, 2 * w),
            Upsample(2 * w, w),
            conv(w, 3, 9),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) in [0, 1] → stylised (B, 3, H, W), not clamped."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise BadInputError(f"{self.registry_name} stylises RGB images (B, 3, H, W), got shape {tuple(x.shape)}")
        h, w = x.shape[-2:]
        ph, pw = max(MIN_SIDE, -(-h // 4) * 4) - h, max(MIN_SIDE, -(-w // 4) * 4) - w
        padded = F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x
        return self.net(padded)[..., :h, :w]

    # --- training -----------------------------------------------------------------
    def optimizer_groups(self) -> list[OptimizerSpec]:
        return [OptimizerSpec("model", list(self.parameters()), lr=self.config.lr, schedule=self.config.schedule)]

    def training_losses(self, batch: Any, group: str = "model") -> dict[str, torch.Tensor]:
        """``batch``: content patches (B, 3, H, W) in [0, 1]. The perceptual loss of their stylisations:
        ``loss`` and its unweighted ``content``, ``style`` and ``tv`` terms."""
        content = batch[0] if isinstance(batch, (list, tuple)) else batch
        loss_fn = self.perceptual_loss(content.device)
        return loss_fn(self(content), loss_fn.content_targets(content))

    def validation_losses(self, batch: Any) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            return self.training_losses(batch)

    # --- inference ------------------------------------------------------------------
    @torch.no_grad()
    def stylize(self, content: torch.Tensor) -> torch.Tensor:
        """Content images (B, 3, H, W) or one (3, H, W) in [0, 1] → stylised, the same shape, in [0, 1]."""
        single = content.dim() == 3
        x = content.unsqueeze(0) if single else content
        was_training = self.training
        self.eval()
        try:
            out = self(x.to(self.device).float()).clamp(0, 1).cpu()
        finally:
            self.train(was_training)
        return out[0] if single else out
