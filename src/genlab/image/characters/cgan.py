"""Attribute-conditioned character generator ``character/cgan``: a multi-label conditional GAN.

The generator is the conditioned decoder the CVAE draws with (:class:`.conditioning.ConditionedDecoder`:
z and the one-hot blocks at the input, a per-stage bias from the condition). The discriminator is a stack of
spectrally normalised stride-2 convolutions (Miyato et al. 2018) whose features h are scored by

    score = linear(h) + Σ_a ⟨embed_a(y_a), h⟩

— a projection term per attribute (Miyato & Koyama 2018), which is one linear map of the concatenated
one-hot blocks, so a −1 label (an all-zero block) adds no term. With ``aux_weight > 0`` it also carries one
classifier head per attribute (AC-GAN, Odena et al. 2017): the discriminator learns them on real characters,
and the generator is pushed to draw characters they read as the asked-for attributes. Loss: hinge
(Lim & Ye 2017) by default. Optimizer groups ``discriminator`` (every batch) and ``generator``, as the
engine trains every GAN (:mod:`genlab.image.gan`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from genlab.core.errors import BadInputError, ConfigError
from genlab.core.model import OptimizerSpec, register_model
from genlab.image.characters.conditioning import (
    AttributeCondition,
    CharacterGenerator,
    CharacterModelConfig,
    make_decoder,
    stage_widths,
)
from genlab.nn.adversarial import ADVERSARIAL_LOSSES, LossName, frozen
from genlab.nn.layers import downsample2x, maybe_spectral_norm


class CharacterCGANConfig(CharacterModelConfig):
    """``character/cgan``: hinge-loss GAN, projection (+ auxiliary-classifier) discriminator."""

    latent_dim: int = Field(32, ge=1, le=1024, description="size of the noise z")
    d_widths: list[int] | None = Field(None, description="channels of the discriminator's stages; None: hidden_dims")
    loss: LossName = Field("hinge", description="adversarial loss")
    aux_weight: float = Field(1.0, ge=0, description="weight of the per-attribute classifier heads (AC-GAN); 0: off")
    lr_g: float = Field(2e-4, gt=0, le=1, description="generator Adam learning rate")
    lr_d: float = Field(2e-4, gt=0, le=1, description="discriminator Adam learning rate")
    betas: tuple[float, float] = Field((0.0, 0.9), description="Adam betas of both optimizers")
    n_critic: int = Field(1, ge=1, le=10, description="discriminator steps per generator step")
    generator_norm: bool = Field(True, description="batch-normalise the input of every generator stage")


class ProjectionDiscriminator(nn.Module):
    """images (B, 3, S, S) + condition (B, Σ values) -> scores (B,) and per-attribute logits.

    Spectrally normalised stride-2 convs with LeakyReLU(0.2) down to the base grid, flattened to h;
    score = linear(h) + ⟨project(condition), h⟩, the projection being Σ_a embed_a(y_a).
    """

    def __init__(self, config: CharacterModelConfig, widths: list[int], schema: AttributeCondition, aux: bool):
        super().__init__()
        layers: list[nn.Module] = []
        for a, b in zip([config.channels, *widths[:-1]], widths, strict=True):
            layers += [maybe_spectral_norm(downsample2x(a, b), True), nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*layers)
        base = config.image_size // 2 ** len(widths)
        feature_dim = widths[-1] * base**2
        self.head = maybe_spectral_norm(nn.Linear(feature_dim, 1), True)
        self.embed = maybe_spectral_norm(nn.Linear(schema.dim, feature_dim, bias=False), True)
        # one logit per value of every attribute, split into blocks by ``schema.sizes``
        self.classify = nn.Linear(feature_dim, schema.dim) if aux else None

    def forward(self, images: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        h = self.features(images).flatten(1)  # (B, C, S, S) -> (B, width, base, base) -> (B, width·base²)
        scores = self.head(h).squeeze(1) + (self.embed(cond) * h).sum(1)
        return scores, (self.classify(h) if self.classify is not None else None)


@register_model("character/cgan")
class CharacterCGAN(CharacterGenerator):
    """Conditional GAN over characters: ``decode(z, labels) -> images``, ``generate``.

    Images are (B, 3, S, S) in [-1, 1]; labels are long (B, A) rows of value indices (−1: does not apply).
    """

    config_class: ClassVar[type[CharacterCGANConfig]] = CharacterCGANConfig
    description: ClassVar[str] = "conditional GAN on character attributes: projection + auxiliary-classifier critic"
    config: CharacterCGANConfig

    def __init__(self, config: CharacterCGANConfig):
        super().__init__(config)
        widths = stage_widths(config, "character/cgan")
        d_widths = config.d_widths or widths
        if len(d_widths) != len(widths):
            raise ConfigError(f"character/cgan: d_widths needs {len(widths)} entries", f"got {len(d_widths)}")
        self.decoder = make_decoder(config, widths, self.schema, "character/cgan", norm=config.generator_norm)
        self.discriminator = ProjectionDiscriminator(config, d_widths, self.schema, aux=config.aux_weight > 0)

    # --- training -------------------------------------------------------------
    def optimizer_groups(self) -> list[OptimizerSpec]:
        c = self.config
        return [
            OptimizerSpec("discriminator", list(self.discriminator.parameters()), lr=c.lr_d, betas=c.betas),
            OptimizerSpec("generator", list(self.decoder.parameters()), lr=c.lr_g, betas=c.betas, every=c.n_critic),
        ]

    def training_losses(self, batch: Any, group: str) -> dict[str, torch.Tensor]:
        """``discriminator``: {loss, d_loss, d_real, d_fake[, d_aux]}; ``generator``: {loss, g_loss[, g_aux]}."""
        images, labels = batch[0], batch[1]  # (a third item, the data's layer targets, is not used)
        labels = labels.to(images.device)
        if group == "discriminator":
            return self.discriminator_losses(images, labels)
        if group == "generator":
            return self.generator_losses(labels)
        raise BadInputError(f"unknown optimizer group '{group}'", "the groups are 'discriminator' and 'generator'")

    def discriminator_losses(self, images: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """D's loss on real images and fresh fakes under the same labels; d_real/d_fake are mean raw scores."""
        cond = self.schema.one_hot(labels)
        with torch.no_grad():  # the generator is not trained here: skip its graph
            fake = self.decode(self.sample_latent(len(labels)), labels)
        real_scores, real_logits = self.discriminator(images, cond)
        fake_scores, _ = self.discriminator(fake, cond)
        d_loss = ADVERSARIAL_LOSSES[self.config.loss].discriminator(real_scores, fake_scores)
        out = {"loss": d_loss, "d_loss": d_loss, "d_real": real_scores.mean(), "d_fake": fake_scores.mean()}
        if real_logits is not None:
            aux = self.attribute_cross_entropy(real_logits, labels)
            out |= {"loss": d_loss + self.config.aux_weight * aux, "d_aux": aux}
        return out

    def generator_losses(self, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """G's loss on fresh fakes under ``labels``, scored by a frozen D (its weights get no gradients)."""
        fake = self.decode(self.sample_latent(len(labels)), labels)
        with frozen(self.discriminator):
            scores, logits = self.discriminator(fake, self.schema.one_hot(labels))
        g_loss = ADVERSARIAL_LOSSES[self.config.loss].generator(scores)
        out = {"loss": g_loss, "g_loss": g_loss}
        if logits is not None:
            aux = self.attribute_cross_entropy(logits, labels)
            out |= {"loss": g_loss + self.config.aux_weight * aux, "g_aux": aux}
        return out

    def attribute_cross_entropy(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Sum over attributes of the mean cross-entropy of logits (B, Σ values) split per attribute; −1 ignored."""
        total = logits.new_zeros(())
        for j, block in enumerate(logits.split(self.schema.sizes, dim=1)):
            if (labels[:, j] >= 0).any():
                total = total + F.cross_entropy(block, labels[:, j], ignore_index=-1)
        return total

    def validation_losses(self, batch: Any) -> dict[str, torch.Tensor]:
        """d_loss, d_real, d_fake and g_loss (with the auxiliary terms, if any) on a held-out batch."""
        images, labels = batch[0], batch[1]  # (a third item, the data's layer targets, is not used)
        labels = labels.to(images.device)
        d = self.discriminator_losses(images, labels)
        g = self.generator_losses(labels)
        return {**{k: v for k, v in d.items() if k != "loss"}, **{k: v for k, v in g.items() if k != "loss"}}
