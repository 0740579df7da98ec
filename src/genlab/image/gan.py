"""Generative adversarial networks for images: ``image/dcgan``, ``image/cgan`` and ``image/wgan-gp``.

A generator G maps noise z ~ N(0, I) to an image; a discriminator (or critic)
D scores images, high for real ones. They are trained in turn: D on real
images and detached fakes, G to raise D's score of its fakes. The adversarial
loss is a choice (non-saturating, hinge, least-squares, Wasserstein); one
architecture serves all three registered models:

* ``image/dcgan``: DCGAN (Radford et al. 2016): transposed-conv generator with
  BatchNorm + ReLU and a Tanh output; strided-conv discriminator with
  LeakyReLU(0.2), spectrally normalized and trained with the hinge loss
  (Miyato et al. 2018), and an EMA of the weights for sampling.
* ``image/cgan``: class-conditional: conditional BatchNorm in the generator and
  a projection discriminator (Miyato & Koyama 2018).
* ``image/wgan-gp``: Wasserstein loss with a gradient penalty on interpolates
  (Gulrajani et al. 2017): LayerNorm critic, trained with the two time-scale update
  rule (Heusel et al. 2017: one critic step per generator step, critic lr 3× the generator's).

Both networks grow or shrink the image by 2× stages from a base grid of 4–7
pixels (28 = 7·2², 32 = 4·2³, 64 = 4·2⁴), see :func:`genlab.nn.layers.plan_resolutions`.

The losses, the gradient penalty and the ``frozen``/``batch_statistics`` helpers live in
:mod:`genlab.nn.adversarial`, shared with GANs of other modalities.

Reading order: config → networks → model → registered names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, field_validator
from torch import nn

from genlab.core.errors import BadInputError, ConfigError
from genlab.core.model import OptimizerSpec, register_model
from genlab.image.base import ImageGenerativeModel, ImageModelConfig
from genlab.nn.adversarial import (
    ADVERSARIAL_LOSSES,
    LIPSCHITZ_HINT,
    AdversarialLoss,
    LossName,
    batch_statistics,
    frozen,
    gradient_penalty,
    unconstrained_critic,
)
from genlab.nn.layers import (
    ConditionalBatchNorm2d,
    downsample2x,
    maybe_spectral_norm,
    plan_resolutions,
    upsample2x,
)

# --------------------------------------------------------------------------- config


class GANConfig(ImageModelConfig):
    """Hyper-parameters shared by the GAN family; the registered configs change only defaults."""

    latent_dim: int = Field(64, ge=1, le=4096, description="size of the noise vector z")
    g_width: int = Field(32, ge=1, le=1024, description="generator channels at its largest feature map (×2 per stage)")
    d_width: int = Field(32, ge=1, le=1024, description="discriminator channels after its first conv (×2 per stage)")
    upsample: Literal["transpose", "nearest"] = Field("transpose", description="generator 2× upsampling layer")
    loss: LossName = Field(
        "non-saturating", description="adversarial loss; wasserstein needs gp_weight > 0 or spectral_norm"
    )
    spectral_norm: bool = Field(False, description="spectral normalization on every discriminator weight")
    d_norm: Literal["auto", "batch", "layer", "none"] = Field(
        "auto", description="discriminator normalization; auto: batch, none with spectral_norm, layer with a penalty"
    )
    lr_g: float = Field(2e-4, gt=0, le=1, description="generator Adam learning rate")
    lr_d: float = Field(2e-4, gt=0, le=1, description="discriminator Adam learning rate")
    betas: tuple[float, float] = Field((0.5, 0.999), description="Adam betas of both optimizers")
    n_critic: int = Field(1, ge=1, le=100, description="discriminator steps per generator step")
    gp_weight: float = Field(0.0, ge=0, description="weight of the gradient penalty on interpolates (0 = off)")

    @field_validator("betas")
    @classmethod
    def _betas_in_range(cls, betas: tuple[float, float]) -> tuple[float, float]:
        if not all(0 <= b < 1 for b in betas):
            raise ValueError("Adam betas must lie in [0, 1), e.g. [0.5, 0.999]")
        return betas

    def discriminator_norm(self) -> str:
        """The normalization the discriminator uses once ``auto`` is resolved."""
        if self.d_norm != "auto":
            return self.d_norm
        if self.spectral_norm:
            return "none"  # spectral norm already controls the scale; BatchNorm would undo its Lipschitz bound
        return "layer" if self.gp_weight > 0 else "batch"


class DCGANConfig(GANConfig):
    """``image/dcgan``: DCGAN networks trained with the hinge loss and spectral normalization in the discriminator
    (no BatchNorm there), Adam(2e-4, β=(0, 0.9)) as in Miyato et al. (2018)'s standard-CNN rows, and an EMA of the
    weights (decay 0.999, :attr:`DCGAN.default_ema_decay`) that samples and the export use.

    Radford et al.'s own recipe (non-saturating loss, BatchNorm in D, β=(0.5, 0.999), no EMA) drew malformed
    digits on MNIST: FID 181.7 at 10 CPU-minutes against 98.4 for this one (docs/evaluation.md, "Recipes for the
    unconditional generators"). It stays four options away: ``model.loss=non-saturating
    model.spectral_norm=false model.betas=[0.5,0.999] train.ema_decay=0``.
    """

    loss: LossName = Field("hinge", description="adversarial loss; wasserstein needs gp_weight > 0 or spectral_norm")
    spectral_norm: bool = Field(True, description="spectral normalization on every discriminator weight")
    betas: tuple[float, float] = Field((0.0, 0.9), description="Adam betas of both optimizers")


class CGANConfig(GANConfig):
    """``image/cgan``: Radford et al.'s DCGAN recipe with labels (conditional BatchNorm, projection discriminator):
    non-saturating loss, BatchNorm in both networks, Adam(2e-4, β=(0.5, 0.999))."""


class WGANGPConfig(GANConfig):
    """``image/wgan-gp``: Wasserstein loss, penalty 10, LayerNorm critic, Adam β=(0, 0.9) (Gulrajani et al. 2017),
    trained with the two time-scale update rule (Heusel et al. 2017): one critic step per generator step,
    critic learning rate 3e-4, generator 1e-4.

    Gulrajani et al. take five critic steps at 1e-4 for both networks
    (``n_critic=5 lr_d=1e-4``); at a fixed CPU budget that gives the generator a fifth
    of the updates, and the TTUR defaults reach a much lower FID in the same time
    (docs/evaluation.md).
    """

    loss: LossName = "wasserstein"
    d_norm: Literal["auto", "batch", "layer", "none"] = "layer"
    lr_g: float = Field(1e-4, gt=0, le=1, description="generator Adam learning rate")
    lr_d: float = Field(3e-4, gt=0, le=1, description="critic Adam learning rate (TTUR: 3× the generator's)")
    betas: tuple[float, float] = Field((0.0, 0.9), description="Adam betas of both optimizers")
    n_critic: int = Field(1, ge=1, le=100, description="critic steps per generator step (Gulrajani et al.: 5)")
    gp_weight: float = Field(10.0, ge=0, description="weight of the gradient penalty on interpolates (0 = off)")


def check_gan_config(config: GANConfig, who: str) -> None:
    """Reject combinations that cannot train, with the fix in the hint."""
    norm = config.discriminator_norm()
    if config.gp_weight > 0 and norm == "batch":
        raise ConfigError(
            f"{who}: a gradient penalty cannot be used with BatchNorm in the discriminator",
            "the penalty needs per-image gradients and BatchNorm mixes images; set d_norm=layer or d_norm=none",
        )
    if config.spectral_norm and norm == "batch":
        raise ConfigError(f"{who}: spectral_norm with d_norm=batch", "set d_norm=none (or auto) with spectral_norm")
    if problem := unconstrained_critic(config.loss, config.gp_weight, config.spectral_norm):
        raise ConfigError(f"{who}: {problem}", LIPSCHITZ_HINT)


# --------------------------------------------------------------------------- networks

DISCRIMINATOR_NORMS: dict[str, Callable[[int], nn.Module]] = {
    "batch": nn.BatchNorm2d,
    "layer": lambda c: nn.GroupNorm(1, c),  # one group = LayerNorm over (C, H, W), per image
    "none": lambda c: nn.Identity(),
}


def dcgan_init_(module: nn.Module) -> None:
    """Weights ~ N(0, 0.02), BatchNorm gains ~ N(1, 0.02), biases 0 (Radford et al. 2016, section 4)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d) and module.affine:
        nn.init.normal_(module.weight, 1.0, 0.02)
    if getattr(module, "bias", None) is not None:
        nn.init.zeros_(module.bias)


class Generator(nn.Module):
    """z (B, latent_dim) [+ labels (B,)] -> images (B, C, H, W) in [-1, 1].

    linear → (width, base, base) grid, then per stage: norm → ReLU → 2× upsample;
    the last upsampling outputs the image channels and goes through Tanh. With
    ``num_classes > 0`` every BatchNorm is class-conditional.
    """

    def __init__(self, config: GANConfig, num_classes: int, who: str = "the generator"):
        super().__init__()
        self.base, stages = plan_resolutions(config.image_size, who=who)
        widths = [config.g_width * 2 ** (stages - 1 - i) for i in range(stages)]  # 28 px, g_width 32: [64, 32]
        self.project = nn.Linear(config.latent_dim, widths[0] * self.base**2)
        self.norms = nn.ModuleList(
            ConditionalBatchNorm2d(w, num_classes) if num_classes else nn.BatchNorm2d(w) for w in widths
        )
        outs = [*widths[1:], config.channels]
        self.ups = nn.ModuleList(upsample2x(a, b, config.upsample) for a, b in zip(widths, outs, strict=True))
        self.apply(dcgan_init_)  # leaves ConditionalBatchNorm2d's gains at 1 and shifts at 0

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.project(z).view(z.shape[0], -1, self.base, self.base)  # (B, width·base²) -> (B, width, base, base)
        for norm, up in zip(self.norms, self.ups, strict=True):
            h = norm(h, labels) if isinstance(norm, ConditionalBatchNorm2d) else norm(h)
            h = up(F.relu(h))  # (B, w, s, s) -> (B, w/2, 2s, 2s)
        return torch.tanh(h)


class Discriminator(nn.Module):
    """images (B, C, H, W) [+ labels (B,)] -> scores (B,), high for real images.

    Stride-2 convs with LeakyReLU(0.2) halve the image to its base grid (no norm
    after the first conv, as in DCGAN), then a linear head scores the flattened
    features h. With labels it is a projection discriminator (Miyato & Koyama
    2018): score = linear(h) + ⟨embed(y), h⟩.
    """

    def __init__(self, config: GANConfig, num_classes: int):
        super().__init__()
        base, stages = plan_resolutions(config.image_size)
        widths = [config.d_width * 2**i for i in range(stages)]  # 28 px, d_width 32: [32, 64] at 14 and 7 px
        make_norm = DISCRIMINATOR_NORMS[config.discriminator_norm()]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip([config.channels, *widths[:-1]], widths, strict=True)):
            layers += [downsample2x(a, b), make_norm(b) if i > 0 else nn.Identity(), nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*layers)
        feature_dim = widths[-1] * base**2
        self.head = nn.Linear(feature_dim, 1)
        self.embed = nn.Embedding(num_classes, feature_dim) if num_classes else None
        self.apply(dcgan_init_)
        if self.embed is not None:
            nn.init.normal_(self.embed.weight, 0.0, 0.02)  # N(0, 1) would let the label term swamp linear(h) at first
        for module in list(self.modules()):  # a list: wrapping adds submodules while we walk
            if isinstance(module, (nn.Conv2d, nn.Linear, nn.Embedding)):
                maybe_spectral_norm(module, config.spectral_norm)  # registers the parametrization in place

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(images).flatten(1)  # (B, C, H, W) -> (B, width, base, base) -> (B, width·base²)
        scores = self.head(h).squeeze(1)
        if self.embed is not None:
            scores = scores + (self.embed(labels) * h).sum(1)  # projection term ⟨embed(y), h⟩
        return scores


# --------------------------------------------------------------------------- model


@register_model("image/dcgan")
class DCGAN(ImageGenerativeModel):
    """``image/dcgan``: a GAN with DCGAN networks; the subclasses below change defaults and add labels.

    Optimizer groups: ``discriminator`` (every batch), then ``generator`` (every
    ``n_critic`` batches). ``decode(z, labels)`` runs the generator.
    """

    config_class: ClassVar[type[GANConfig]] = DCGANConfig
    description: ClassVar[str] = "deep convolutional GAN (Radford et al. 2016), hinge loss and spectral norm"
    #: Samples and the export use an EMA of the weights (``--ema`` sets another decay).
    default_ema_decay: ClassVar[float | None] = 0.999
    config: GANConfig

    def __init__(self, config: GANConfig):
        super().__init__(config)
        who = self.registry_name or type(self).__name__
        check_gan_config(config, who)
        if self.conditional and config.num_classes < 2:
            raise ConfigError(
                f"{who} is conditional and needs num_classes ≥ 2, got {config.num_classes}",
                "train it on labelled data, or use image/dcgan for unlabelled images",
            )
        num_classes = config.num_classes if self.conditional else 0
        self.generator = Generator(config, num_classes, who=who)
        self.discriminator = Discriminator(config, num_classes)

    @property
    def adversarial_loss(self) -> AdversarialLoss:
        return ADVERSARIAL_LOSSES[self.config.loss]

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Generator output (B, C, H, W) in [-1, 1] for noise z (B, latent_dim)."""
        return self.generator(z, labels)

    # --- training -------------------------------------------------------------
    def optimizer_groups(self) -> list[OptimizerSpec]:
        c = self.config
        return [
            OptimizerSpec("discriminator", list(self.discriminator.parameters()), lr=c.lr_d, betas=c.betas),
            OptimizerSpec("generator", list(self.generator.parameters()), lr=c.lr_g, betas=c.betas, every=c.n_critic),
        ]

    def training_losses(self, batch: Any, group: str) -> dict[str, torch.Tensor]:
        """``discriminator``: {loss, d_loss, d_real, d_fake[, gp]}; ``generator``: {loss, g_loss}."""
        images, labels = self._unpack(batch)
        if group == "discriminator":
            return self.discriminator_losses(images, labels)
        if group == "generator":
            return self.generator_losses(images.shape[0], labels)
        raise BadInputError(f"unknown optimizer group '{group}'", "GAN groups are 'discriminator' and 'generator'")

    def discriminator_losses(
        self, images: torch.Tensor, labels: torch.Tensor | None, penalty: bool = True
    ) -> dict[str, torch.Tensor]:
        """D's loss on real images and fresh, detached fakes; d_real/d_fake are mean raw scores."""
        with torch.no_grad():  # the generator is not trained here: skip its graph
            fake = self.generator(self._noise(images.shape[0]), labels)
        real_scores = self.discriminator(images, labels)
        fake_scores = self.discriminator(fake, labels)
        d_loss = self.adversarial_loss.discriminator(real_scores, fake_scores)
        out = {"loss": d_loss, "d_loss": d_loss, "d_real": real_scores.mean(), "d_fake": fake_scores.mean()}
        if penalty and self.config.gp_weight > 0:
            gp = gradient_penalty(lambda x: self.discriminator(x, labels), images, fake)
            out.update(loss=d_loss + self.config.gp_weight * gp, gp=gp)
        return out

    def generator_losses(self, n: int, labels: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """G's loss on ``n`` fresh fakes, scored by a frozen D (its weights get no gradients)."""
        fake = self.generator(self._noise(n), labels)
        with frozen(self.discriminator):
            scores = self.discriminator(fake, labels)
        g_loss = self.adversarial_loss.generator(scores)
        return {"loss": g_loss, "g_loss": g_loss}

    def validation_losses(self, batch: Any) -> dict[str, torch.Tensor]:
        """d_loss (no penalty: it needs autograd), d_real, d_fake and g_loss on a held-out batch.

        D scores with batch statistics as in training: its BatchNorm running statistics
        average all-real and all-fake batches and would make the scores unlike the training ones.
        """
        images, labels = self._unpack(batch)
        with batch_statistics(self.discriminator):
            d = self.discriminator_losses(images, labels, penalty=False)
            g = self.generator_losses(images.shape[0], labels)
        return {"d_loss": d["d_loss"], "d_real": d["d_real"], "d_fake": d["d_fake"], "g_loss": g["g_loss"]}

    def _unpack(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
        images, labels = batch
        return images, (labels.to(images.device) if self.conditional else None)

    def _noise(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.config.latent_dim, device=self.device)


@register_model("image/cgan")
class CGAN(DCGAN):
    """``image/cgan``: class-conditional GAN (conditional BatchNorm generator, projection discriminator)."""

    config_class: ClassVar[type[GANConfig]] = CGANConfig
    description: ClassVar[str] = "conditional GAN with a projection discriminator (Miyato & Koyama 2018)"
    conditional: ClassVar[bool] = True
    default_ema_decay: ClassVar[float | None] = None  # its recipe was measured without one


@register_model("image/wgan-gp")
class WGANGP(DCGAN):
    """``image/wgan-gp``: Wasserstein GAN with gradient penalty (Gulrajani et al. 2017)."""

    config_class: ClassVar[type[GANConfig]] = WGANGPConfig
    description: ClassVar[str] = "Wasserstein GAN with gradient penalty (Gulrajani et al. 2017)"
    default_ema_decay: ClassVar[float | None] = None  # its recipe was measured without one
