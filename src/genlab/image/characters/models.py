"""Attribute-conditioned character generator ``character/cvae``: a conditional VAE.

The conditional VAE (Sohn et al. 2015) feeds the attribute condition (one one-hot block per attribute,
:mod:`.conditioning`) to the encoder's head and to the decoder, so decoding one latent z under different
conditions changes the chosen features and keeps the rest.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from pydantic.fields import FieldInfo

from genlab.core.errors import ConfigError
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

__all__ = [
    "AttributeCondition",
    "Attributes",
    "CharacterCVAE",
    "CharacterCVAEConfig",
    "CharacterLayeredCVAE",
    "CharacterLayeredCVAEConfig",
]


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
    layer_weight: float = Field(
        0.0,
        ge=0,
        description="weight of a second likelihood term on the layered decoder's layers themselves, against the "
        "layers each training image is composited from (needs decoder=layered and data.layer_targets=true)",
    )


def layer_nll(layers: torch.Tensor, targets: torch.Tensor, likelihood: str, scale: float) -> torch.Tensor:
    """Negative log-likelihood per image (B,) of the data's layers ``targets`` (B, K, C + 1, S, S), uint8
    premultiplied RGBA, under the decoder's ``layers`` (B, K, C + 1, S, S): colour in [0, 1], then the logit of
    alpha (:meth:`~genlab.image.characters.conditioning.LayeredDecoder.layer_logits`).

    A pixel's coverage (alpha) is a Bernoulli observation (cross-entropy on the logit: its gradient does not
    vanish when the sigmoid saturates, where a squared error on alpha let every layer turn transparent for good,
    most of a layer being empty); its colour a Gaussian (or Laplace) one of scale ``scale``, counted as much as
    the pixel is covered (the colour under a transparent pixel is never drawn).
    """
    target = targets.float() / 255
    cover = target[:, :, -1:]
    colour = target[:, :, :-1] / cover.clamp(min=1 / 255)  # straight colour; 0 where nothing is drawn
    coverage = F.binary_cross_entropy_with_logits(layers[:, :, -1:], cover, reduction="none").flatten(1).sum(1)
    err = layers[:, :, :-1] - colour
    if likelihood == "laplace":
        per_pixel = err.abs() / scale + math.log(2 * scale)
    else:
        per_pixel = err**2 / (2 * scale**2) + math.log(scale) + 0.5 * math.log(2 * math.pi)
    return coverage + (cover * per_pixel).flatten(1).sum(1)


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
        if config.layer_weight and config.decoder != "layered":
            raise ConfigError(
                "model.layer_weight compares the layers of the layered decoder with the data's", "set decoder=layered"
            )

    def encode(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters of images (B, 3, S, S): ``(mu, logvar)``, each (B, latent_dim)."""
        return self.encoder(images, self.schema.one_hot(labels.to(images.device)))

    # --- training -------------------------------------------------------------
    def optimizer_groups(self) -> list[OptimizerSpec]:
        return [OptimizerSpec("vae", list(self.parameters()), lr=self.config.lr, schedule=self.config.lr_schedule)]

    def training_losses(self, batch: Any, group: str = "vae") -> dict[str, torch.Tensor]:
        """One-sample ELBO terms per image in nats: ``{"loss": recon + beta·kl, "recon", "kl"}``; with a
        ``layer_weight`` and the data's layers as a third batch item, also ``layers`` (their negative
        log-likelihood, :func:`layer_nll`), and the loss adds ``layer_weight·layers``."""
        images, labels = batch[0], batch[1]
        targets = batch[2] if self.config.layer_weight and len(batch) > 2 else None
        if self.config.layer_weight and targets is None:
            raise ConfigError(
                "model.layer_weight needs the layers of the training images in every batch",
                "train on builtin:lpc-characters with data.layer_targets=true",
            )
        if self.decoder.use_latent:
            mu, logvar = self.encode(images, labels)
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)  # reparameterisation
            kl = gaussian_kl(mu, logvar).mean()
        else:  # layers that ignore z: the best posterior is the prior itself (KL 0), so the encoder is left out
            z = torch.zeros(len(images), self.config.latent_dim, device=images.device)
            kl = images.new_zeros(())
        x01 = (images + 1) / 2
        if targets is None:
            logits = self.decode_logits(z, labels)
        else:
            drawn = self.decoder.layer_logits(z, self.schema.one_hot(labels.to(z.device)))
            logits = self.decoder.composite(self.decoder.straight(drawn))
            layer_loss = layer_nll(drawn, targets, self.config.likelihood, self.config.obs_std).mean()
        if self.config.likelihood == "laplace":
            recon = -laplace_log_prob(logits, x01, self.config.obs_std).mean()
        else:
            recon = -gaussian_log_prob(logits, x01, self.config.obs_std).mean()
        losses = {"loss": recon + self.config.beta * kl, "recon": recon, "kl": kl}
        if targets is not None:
            losses |= {"loss": losses["loss"] + self.config.layer_weight * layer_loss, "layers": layer_loss}
        return losses


def _default(name: str, default: Any) -> Any:
    """The field ``name`` of :class:`CharacterCVAEConfig` (description, bounds) with another default."""
    return FieldInfo.merge_field_infos(CharacterCVAEConfig.model_fields[name], default=default)


class CharacterLayeredCVAEConfig(CharacterCVAEConfig):
    """``character/layered``: the CVAE with the benchmark's best recipe as its defaults (``cvae-layered-targets``
    in benchmarks/characters.py): layered decoder without z, fitted to the data's layers, beta 100, lr 2e-3 with a
    cosine schedule. It needs ``data.layer_targets`` (the task's default)."""

    decoder: Literal["conv", "layered"] = _default("decoder", "layered")
    layer_latent: bool = _default("layer_latent", False)
    layer_weight: float = _default("layer_weight", 1.0)
    beta: float = _default("beta", 100.0)
    lr: float = _default("lr", 2e-3)
    lr_schedule: Literal["constant", "cosine"] = _default("lr_schedule", "cosine")


@register_model("character/layered")
class CharacterLayeredCVAE(CharacterCVAE):
    """:class:`CharacterCVAE` under :class:`CharacterLayeredCVAEConfig`'s defaults, trained on batches of 32 (each
    character draws eight layers): the task's default model."""

    config_class: ClassVar[type[CharacterLayeredCVAEConfig]] = CharacterLayeredCVAEConfig
    description: ClassVar[str] = "layered conditional VAE: one RGBA layer per drawing step, fitted to the data's layers"
    default_batch_size: ClassVar[int] = 32
