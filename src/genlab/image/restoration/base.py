"""The base of restoration models: image in, better image out (super-resolution, denoising, inpainting).

A :class:`RestorationModel` maps a degraded image (B, C, h, w) in [0, 1] to the restored one
(B, C, h·scale, w·scale), is trained on ``(input, target)`` batches with a pixel loss (L1 or MSE),
and restores photos of any size through :meth:`restore`, tile by tile
(:func:`~genlab.image.restoration.tiling.tiled`), so memory stays bounded.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from genlab.core.errors import BadInputError
from genlab.core.model import GenerativeModel, ModelConfig, OptimizerSpec
from genlab.image.restoration.tiling import tiled


class RestorationConfig(ModelConfig):
    """What every restoration model has: channels (filled from the data) and the pixel loss."""

    channels: int = Field(3, ge=1, le=3, description="image channels (1: gray or luma, 3: RGB); set from the data")
    color: Literal["rgb", "y", "gray"] = Field("rgb", description="what the channels hold; set from the data")
    loss: Literal["l1", "mse"] = Field("l1", description="pixel loss between the restored and the clean image")
    lr: float = Field(1e-3, gt=0, le=1, description="Adam learning rate")
    schedule: Literal["constant", "cosine"] = Field(
        "constant",
        description="learning rate over the run: constant (a --max-minutes budget alone will do) or cosine decay "
        "to 0 (over the run's steps, or its --max-minutes)",
    )


class RestorationModel(GenerativeModel):
    """Base class; subclasses build the network in ``__init__`` and implement :meth:`forward`."""

    config: RestorationConfig
    #: how many times larger the output is than the input (super-resolution), 1 otherwise
    scale: ClassVar[int] = 1

    @property
    def output_scale(self) -> int:
        """The upscaling factor of this model instance (super-resolution models read it from their config)."""
        return getattr(self.config, "scale", self.scale)

    #: networks that downsample (an encoder-decoder) need input sides that are multiples of this; tiles and
    #: their overlap are then aligned to it too, so tiled and untiled results agree
    size_multiple: ClassVar[int] = 1

    @property
    def receptive_radius(self) -> int:
        """Input pixels each output pixel depends on, on each side: the overlap tiling needs to be exact."""
        return 16

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    # --- model contract -------------------------------------------------------
    def optimizer_groups(self) -> list[OptimizerSpec]:
        return [OptimizerSpec("model", list(self.parameters()), lr=self.config.lr, schedule=self.config.schedule)]

    def pixel_loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.l1_loss(output, target) if self.config.loss == "l1" else F.mse_loss(output, target)

    def training_losses(self, batch: Any, group: str = "model") -> dict[str, torch.Tensor]:
        """``batch`` = (degraded inputs, clean targets): the pixel loss and the batch PSNR (dB)."""
        inputs, target = batch
        output = self(inputs)
        mse = F.mse_loss(output.detach().clamp(0, 1), target)
        return {"loss": self.pixel_loss(output, target), "psnr": 10 * torch.log10(1 / mse.clamp_min(1e-10))}

    def validation_losses(self, batch: Any) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            return self.training_losses(batch)

    # --- inference ------------------------------------------------------------
    def check_input(self, x: torch.Tensor) -> None:
        """A clear error for images with the wrong number of channels."""
        if x.dim() != 4 or x.shape[1] != self.config.channels:
            raise BadInputError(
                f"{self.registry_name} restores {self.config.channels}-channel images, got shape {tuple(x.shape)}",
                "pass (B, C, H, W) tensors in [0, 1] with the model's channels",
            )

    @torch.no_grad()
    def restore(self, x: torch.Tensor, tile: int | None = 256) -> torch.Tensor:
        """Restore images (B, C, H, W) in [0, 1]; returns (B, C, H·scale, W·scale) clamped to [0, 1].

        ``tile`` (pixels of input per tile; None = whole image) bounds memory on large photos; tiles
        overlap by the receptive radius, so the result equals the untiled one.
        """
        self.check_input(x)
        was_training = self.training
        self.eval()
        device = next(self.parameters(), torch.empty(0)).device
        try:
            run = lambda t: self(t.to(device)).cpu()  # noqa: E731
            if tile is None:
                out = run(x)
            else:
                m = self.size_multiple
                tile, overlap = -(-tile // m) * m, -(-self.receptive_radius // m) * m  # rounded up to multiples
                out = tiled(run, x, tile, overlap, self.output_scale)
        finally:
            self.train(was_training)
        return out.clamp(0, 1)
