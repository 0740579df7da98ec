"""``anomaly/vae``: a convolutional VAE trained on normal images; anomalies are what it cannot reconstruct.

The score of an image is the mean of its heat map: the per-pixel squared error between the image and the
decoding of its posterior mean (``score=l2``), or one minus the local SSIM between them (``score=ssim``,
the structural variant of Bergmann et al. 2019, "Improving unsupervised defect segmentation by applying
structural similarity to autoencoders"), which reacts to a change of texture more than to a shift of
brightness. Training is the plain ELBO of :class:`genlab.image.vae.VAE`.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from pydantic import Field

from genlab.core.model import register_model
from genlab.image.anomaly.base import AnomalyDetector, squared_error_map, ssim_map
from genlab.image.vae import VAE, ConvVAEConfig


class AnomalyVAEConfig(ConvVAEConfig):
    """``anomaly/vae``: the conv VAE's fields and the reconstruction score."""

    score: Literal["l2", "ssim"] = Field("l2", description="heat map: squared error (l2) or 1 − local SSIM (ssim)")
    latent_dim: int = Field(32, ge=1, le=4096, description="size of the latent code z")


@register_model("anomaly/vae")
class AnomalyVAE(AnomalyDetector, VAE):
    """Reconstruction-error detector: ``score(images) -> (mean of the map (N,), map (N, H, W))``."""

    config_class: ClassVar[type[AnomalyVAEConfig]] = AnomalyVAEConfig
    description: ClassVar[str] = "VAE reconstruction error (squared error or SSIM) on normal images"
    config: AnomalyVAEConfig

    def score_batch(self, images: torch.Tensor, generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
        recon = self.reconstruct(images)  # decodes the posterior mean: deterministic
        maps = 1 - ssim_map(images, recon) if self.config.score == "ssim" else squared_error_map(images, recon)
        return maps.flatten(1).mean(1), maps
