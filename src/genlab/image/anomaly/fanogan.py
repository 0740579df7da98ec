"""``anomaly/f-anogan``: f-AnoGAN (Schlegl et al. 2019), a GAN with an encoder into its latent space.

A WGAN-GP (:class:`genlab.image.gan.WGANGP`) learns to generate normal images; an encoder E learns to map an
image x to the latent z whose generated image G(z) looks like x, with the generator and critic fixed: the
**izi_f** loss ‖x − G(E(x))‖² / n_pixels + κ · ‖f(x) − f(G(E(x)))‖² / n_features, where f are the critic's
last convolutional features. Since G only produces normal images, an anomaly is reconstructed as a nearby
normal image, and the same quantity scores it: residual + κ · feature residual; the heat map is the residual
per pixel.

Schlegl et al. train E after the GAN has converged; here the three optimizer groups (critic, generator,
encoder) step together, the encoder chasing the current generator, so one ``genlab train`` run with one time
budget trains all of it (the encoder catches up once the generator settles; a longer run is better).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from pydantic import Field
from torch import nn

from genlab.core.model import OptimizerSpec, evaluating, register_model
from genlab.image.anomaly.base import AnomalyDetector, squared_error_map
from genlab.image.gan import WGANGP, WGANGPConfig
from genlab.nn.adversarial import frozen
from genlab.nn.layers import downsample2x, plan_resolutions


class FAnoGANConfig(WGANGPConfig):
    """``anomaly/f-anogan``: the WGAN-GP's fields, the encoder's width and learning rate, and κ."""

    e_width: int = Field(32, ge=1, le=1024, description="encoder channels after its first conv (×2 per stage)")
    lr_e: float = Field(2e-4, gt=0, le=1, description="encoder Adam learning rate")
    kappa: float = Field(1.0, ge=0, description="weight κ of the critic-feature residual (izi_f loss and score)")


class Encoder(nn.Module):
    """images (B, C, H, W) in [-1, 1] -> latents (B, latent_dim): stride-2 convs to the base grid, then linear."""

    def __init__(self, config: FAnoGANConfig):
        super().__init__()
        base, stages = plan_resolutions(config.image_size)
        widths = [config.e_width * 2**i for i in range(stages)]
        layers: list[nn.Module] = []
        for a, b in zip([config.channels, *widths[:-1]], widths, strict=True):
            layers += [downsample2x(a, b), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(widths[-1] * base**2, config.latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x).flatten(1))  # (B, w, base, base) -> (B, w·base²) -> (B, latent_dim)


@register_model("anomaly/f-anogan")
class FAnoGAN(AnomalyDetector, WGANGP):
    """WGAN-GP plus an izi_f encoder; ``score(images) -> (residual + κ·feature residual (N,), residual map)``."""

    config_class: ClassVar[type[FAnoGANConfig]] = FAnoGANConfig
    description: ClassVar[str] = "f-AnoGAN: WGAN-GP on normal images plus an izi_f encoder (Schlegl et al. 2019)"
    config: FAnoGANConfig

    def __init__(self, config: FAnoGANConfig):
        super().__init__(config)
        self.encoder = Encoder(config)

    def optimizer_groups(self) -> list[OptimizerSpec]:
        c = self.config
        return [*super().optimizer_groups(), OptimizerSpec("encoder", list(self.encoder.parameters()), lr=c.lr_e)]

    def training_losses(self, batch: Any, group: str) -> dict[str, torch.Tensor]:
        """``encoder``: {loss, izif, residual, feature_residual}; the GAN groups as in WGAN-GP."""
        if group != "encoder":
            return super().training_losses(batch, group)
        images, _ = batch
        residual, feature = self.izif_terms(images)
        loss = residual.mean() + self.config.kappa * feature.mean()
        return {"loss": loss, "izif": loss.detach(), "residual": residual.mean(), "feature_residual": feature.mean()}

    def validation_losses(self, batch: Any) -> dict[str, torch.Tensor]:
        out = super().validation_losses(batch)
        return {**out, "izif": self.training_losses(batch, "encoder")["loss"]}

    def izif_terms(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-image residual (B,) and critic-feature residual (B,) of x against G(E(x)), G and the critic fixed
        (in eval mode, no gradients into their weights)."""
        with frozen(self.generator), frozen(self.discriminator), evaluating(self.generator):
            recon = self.generator(self.encoder(images))
            with evaluating(self.discriminator):
                features = self.discriminator.features
                feature = (features(images) - features(recon)).pow(2).flatten(1).mean(1)
        residual = squared_error_map(images, recon).flatten(1).mean(1)
        return residual, feature

    def reconstruct(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """G(E(x)): the normal image the encoder maps ``images`` (B, C, H, W) to."""
        with torch.no_grad(), evaluating(self.generator):
            return self.generator(self.encoder(images.to(self.device)))

    def score_batch(self, images: torch.Tensor, generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
        recon = self.reconstruct(images)
        maps = squared_error_map(images, recon)
        with evaluating(self.discriminator):
            f = self.discriminator.features
            feature = (f(images) - f(recon)).pow(2).flatten(1).mean(1)
        return maps.flatten(1).mean(1) + self.config.kappa * feature, maps
