"""``anomaly/ddpm-recon``: diffusion reconstruction at partial noise (the AnoDDPM idea, Wyatt et al. 2022).

A DDPM (:class:`genlab.image.diffusion.DDPM`, the image UNet) is trained on normal images. To score an image
it is noised to a fraction ``noise_level`` of the chain and denoised back with a few deterministic DDIM steps
(SDEdit, :func:`genlab.image.diffusion.editing.img2img`): enough noise wipes out a defect but keeps the layout,
and the denoiser restores what a normal image would have there. The heat map is the squared error between
the image and its reconstruction; the score its mean. The starting noise comes from the generator passed to
``score`` (seeded: the same seed gives the same scores).
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from pydantic import Field

from genlab.core.model import register_model
from genlab.image.anomaly.base import AnomalyDetector, squared_error_map
from genlab.image.diffusion.editing import img2img
from genlab.image.diffusion.models import DDPM, DDPMConfig


class DDPMReconConfig(DDPMConfig):
    """``anomaly/ddpm-recon``: the DDPM's fields and how far images are noised before reconstruction."""

    noise_level: float = Field(0.3, gt=0, le=1, description="share of the diffusion chain images are noised to")
    recon_steps: int = Field(
        20, ge=1, le=1000, description="sampler steps of the whole chain (≈ noise_level × this run)"
    )
    recon_sampler: Literal["ddim", "ddpm"] = Field("ddim", description="sampler of the reconstruction")
    num_timesteps: int = Field(400, ge=2, le=10000, description="length T of the diffusion chain")


@register_model("anomaly/ddpm-recon")
class DDPMRecon(AnomalyDetector, DDPM):
    """Partial-noise diffusion reconstruction; ``score(images, generator) -> (mean error (N,), error map)``."""

    config_class: ClassVar[type[DDPMReconConfig]] = DDPMReconConfig
    description: ClassVar[str] = "DDPM reconstruction from partial noise (AnoDDPM-style, Wyatt et al. 2022)"
    config: DDPMReconConfig
    score_batch_size: ClassVar[int] = 64

    def reconstruct(self, images: torch.Tensor, labels: torch.Tensor | None = None, generator=None) -> torch.Tensor:
        """Images (B, C, H, W) noised to ``noise_level`` and denoised back, in [-1, 1]."""
        c = self.config
        return img2img(self, images, c.noise_level, None, generator, sampler=c.recon_sampler, steps=c.recon_steps)

    def score_batch(self, images: torch.Tensor, generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
        maps = squared_error_map(images, self.reconstruct(images, generator=generator))
        return maps.flatten(1).mean(1), maps
