"""Attribute-conditioned character generator ``character/cvae``: a conditional VAE.

The conditional VAE (Sohn et al. 2015) feeds the attribute condition (one one-hot block per attribute,
:mod:`.conditioning`) to the encoder's head and to the decoder, so decoding one latent z under different
conditions changes the chosen features and keeps the rest.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import torch
from pydantic import Field

from genlab.core.model import OptimizerSpec, register_model
from genlab.image.characters.conditioning import (
    AttributeCondition,
    Attributes,
    CharacterGenerator,
    CharacterModelConfig,
    make_decoder,
    stage_widths,
)
from genlab.image.vae import ConvEncoder, gaussian_kl, gaussian_log_prob

__all__ = ["AttributeCondition", "Attributes", "CharacterCVAE", "CharacterCVAEConfig"]


class CharacterCVAEConfig(CharacterModelConfig):
    """``character/cvae``: conv CVAE on 3-channel characters; attributes and values come from the data."""

    # A character is a deterministic function of its attributes, so z should carry little: a small latent and a
    # KL weight above 1 push the content into the condition (at beta=1, latent 64, drawn characters ignored the
    # chosen direction after a few minutes of training; at beta=4, latent 16, they follow it).
    beta: float = Field(4.0, ge=0, description="weight of the KL term (β-VAE; 1 gives the true ELBO)")
    likelihood: Literal["gaussian", "laplace"] = Field(
        "gaussian", description="pixel likelihood: gaussian (squared error) or laplace (absolute error)"
    )
    obs_std: float = Field(0.1, gt=0, le=10, description="scale of the pixel likelihood on the [0, 1] scale")
    lr: float = Field(1e-3, gt=0, le=1, description="Adam learning rate")
    lr_schedule: Literal["constant", "cosine"] = Field("constant", description="learning rate over the run")


def laplace_log_prob(logits: torch.Tensor, x01: torch.Tensor, scale: float) -> torch.Tensor:
    """Log-likelihood per image (B,) of targets in [0, 1] under Laplace(sigmoid(logits), scale) per pixel.

    Absolute errors weigh a small region drawn in the wrong colour as much as its area, where squared
    errors let the decoder blur it towards the average colour first.
    """
    err = (torch.sigmoid(logits) - x01).abs().flatten(1)
    return -(err / scale + math.log(2 * scale)).sum(1)


@register_model("character/cvae")
class CharacterCVAE(CharacterGenerator):
    """Conditional VAE over characters; the condition is one one-hot block per attribute.

    ``encode(images, labels) -> (mu, logvar)``, ``decode(z, labels) -> images``, ``generate``.
    Images are (B, 3, S, S) in [-1, 1]; labels are long (B, A) rows of value indices (−1: does not apply).
    """

    config_class: ClassVar[type[CharacterCVAEConfig]] = CharacterCVAEConfig
    description: ClassVar[str] = "conditional VAE on character attributes: one one-hot block per attribute"
    config: CharacterCVAEConfig

    def __init__(self, config: CharacterCVAEConfig):
        super().__init__(config)
        widths = stage_widths(config, "character/cvae")
        self.encoder = ConvEncoder(config, widths, self.schema.dim)  # type: ignore[arg-type]  (duck-typed config)
        self.decoder = make_decoder(config, widths, self.schema, "character/cvae")

    def encode(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters of images (B, 3, S, S): ``(mu, logvar)``, each (B, latent_dim)."""
        return self.encoder(images, self.schema.one_hot(labels.to(images.device)))

    # --- training -------------------------------------------------------------
    def optimizer_groups(self) -> list[OptimizerSpec]:
        return [OptimizerSpec("vae", list(self.parameters()), lr=self.config.lr, schedule=self.config.lr_schedule)]

    def training_losses(self, batch: Any, group: str = "vae") -> dict[str, torch.Tensor]:
        """One-sample ELBO terms per image in nats: ``{"loss": recon + beta·kl, "recon", "kl"}``."""
        images, labels = batch
        if self.decoder.use_latent:
            mu, logvar = self.encode(images, labels)
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)  # reparameterisation
            kl = gaussian_kl(mu, logvar).mean()
        else:  # layers that ignore z: the best posterior is the prior itself (KL 0), so the encoder is left out
            z = torch.zeros(len(images), self.config.latent_dim, device=images.device)
            kl = images.new_zeros(())
        x01 = (images + 1) / 2
        logits = self.decode_logits(z, labels)
        if self.config.likelihood == "laplace":
            recon = -laplace_log_prob(logits, x01, self.config.obs_std).mean()
        else:
            recon = -gaussian_log_prob(logits, x01, self.config.obs_std).mean()
        return {"loss": recon + self.config.beta * kl, "recon": recon, "kl": kl}
