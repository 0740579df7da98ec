"""The bicubic baseline of super-resolution: upscale with the kernel that made the inputs.

``image/bicubic-sr`` has no parameters and nothing to learn (``fit`` returns at once): its output is
:func:`~genlab.image.restoration.degrade.bicubic_resize` to ``scale`` times the size — Keys' cubic
convolution (a = −0.5), the kernel of the degradation and of MATLAB's ``imresize``. It is the row
"Bicubic" of every super-resolution table, the floor a learned model has to beat.

References:
    R. Keys, "Cubic Convolution Interpolation for Digital Image Processing", IEEE Transactions on
    Acoustics, Speech, and Signal Processing 29(6), 1981.

Reading order: model.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from genlab.core.errors import GenlabError
from genlab.core.model import OptimizerSpec, register_model
from genlab.image.restoration.base import RestorationModel
from genlab.image.restoration.degrade import bicubic_resize
from genlab.image.restoration.sr import TASK, SRConfig


@register_model("image/bicubic-sr")
class BicubicSR(RestorationModel):
    """Bicubic upscaling by ``scale``: no parameters, fitted "in closed form" by doing nothing."""

    config_class = SRConfig
    task: ClassVar[str] = TASK
    description: ClassVar[str] = "baseline: bicubic upscaling with the degradation's kernel (nothing to learn)"
    config: SRConfig
    fits_in_closed_form: ClassVar[bool] = True

    @property
    def receptive_radius(self) -> int:
        """2: upscaling, the cubic kernel spans 4 input pixels, 2 on each side of the output pixel's position.

        Output row y = s·k + a (phase a) sits at input coordinate (y + ½)/s, between k and k + 1 in pixel
        units; its taps are the pixels whose centres lie within 2 of it: k − 2 … k + 1 (small a) or k − 1 …
        k + 2 (large a), all with non-zero weight. Tiles are resized with the same weights as the whole.
        """
        return 2

    def fit(self, train_dataset: Any, val_dataset: Any | None = None) -> dict[str, float]:
        """Nothing to learn: the kernel is fixed."""
        return {}

    def optimizer_groups(self) -> list[OptimizerSpec]:
        raise GenlabError(f"{self.registry_name} has no parameters: it is fitted in closed form (by doing nothing)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Low-resolution images (B, C, h, w) resized to (B, C, h·scale, w·scale), not clamped."""
        h, w = x.shape[-2:]
        s = self.config.scale
        return bicubic_resize(x, (h * s, w * s))
