"""Variational autoencoders for images: ``image/vae``, ``image/conv-vae`` and ``image/cvae``.

A VAE (Kingma & Welling 2014) pairs an encoder q(z|x) = N(mu, diag(exp(logvar)))
with a decoder p(x|z) and a standard normal prior p(z), and is trained by
maximising the evidence lower bound per image (in nats, summed over pixels)::

    ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z))

The loss is ``recon + beta * kl`` with ``recon = -log p(x|z)`` for one sample
z ~ q (β-VAE, Higgins et al. 2017, for beta ≠ 1). The conditional VAE (Sohn et
al. 2015) feeds a one-hot label to both the encoder and the decoder.

Pixels are modelled on the [0, 1] scale, x01 = (x + 1) / 2: the decoder gives
one logit per pixel, read as a Bernoulli probability sigmoid(logit) or as the
mean of a Gaussian with fixed ``obs_std``. ``decoder_log_prob`` returns
log p(x|z) per image, the piece an importance-weighted bound (IWAE) needs.

Reading order: config → likelihoods and KL → networks → model → registered names.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, field_validator
from torch import nn

from genlab.core.errors import BadInputError, ConfigError
from genlab.core.model import OptimizerSpec, register_model
from genlab.core.stats import fit_gaussian_mixture
from genlab.image.base import ImageGenerativeModel, ImageModelConfig
from genlab.nn.layers import downsample2x, plan_resolutions, upsample2x

# --------------------------------------------------------------------------- config


class VAEConfig(ImageModelConfig):
    """Hyper-parameters of the VAE family (``image/vae``: MLP encoder and decoder)."""

    latent_dim: int = Field(16, ge=1, le=4096, description="size of the latent code z")
    architecture: Literal["mlp", "conv"] = Field("mlp", description="encoder/decoder type")
    hidden_dims: list[int] | None = Field(
        None,
        description="mlp: encoder hidden sizes (the decoder mirrors them); conv: channels of each stride-2 stage; "
        "None picks defaults for the image size",
    )
    beta: float = Field(1.0, ge=0, description="weight of the KL term (β-VAE); 1 gives the true ELBO")
    likelihood: Literal["bernoulli", "gaussian"] = Field("bernoulli", description="pixel model p(x|z)")
    obs_std: float = Field(0.1, gt=0, le=10, description="std of the Gaussian likelihood on the [0, 1] pixel scale")
    lr: float = Field(1e-3, gt=0, le=1, description="Adam learning rate")
    # On MNIST the mixture took a 30-minute MLP VAE from FID 144.0 to 46.1 on the same weights (docs/evaluation.md).
    prior: Literal["standard", "gmm"] = Field(
        "gmm",
        description="where samples' latents come from: standard N(0, I), or gmm: a Gaussian mixture fitted to the "
        "training images' posterior means once training ends (ex-post density estimation, Ghosh et al. 2020)",
    )
    prior_components: int = Field(10, ge=1, le=256, description="components of the gmm prior")
    prior_fit_images: int = Field(20_000, ge=10, description="the gmm prior is fitted on at most this many images")

    @field_validator("hidden_dims")
    @classmethod
    def _positive_dims(cls, dims: list[int] | None) -> list[int] | None:
        if dims is not None and (not dims or min(dims) < 1):
            raise ValueError("hidden_dims must be a non-empty list of positive sizes, e.g. [512, 256]")
        return dims


class ConvVAEConfig(VAEConfig):
    """``image/conv-vae``: the VAE with a convolutional encoder and decoder (image sizes b·2^k, 4 ≤ b ≤ 7)."""

    architecture: Literal["mlp", "conv"] = "conv"


class CVAEConfig(VAEConfig):
    """``image/cvae``: the VAE conditioned on a class label (needs labelled data); its samples draw from N(0, I)."""

    prior: Literal["standard", "gmm"] = Field("standard", description="where samples' latents come from")


def default_hidden_dims(config: VAEConfig) -> list[int]:
    """Hidden sizes for the image size: wider MLPs for big images, one conv stage per 2× resolution."""
    if config.architecture == "mlp":
        pixels = config.channels * config.image_size**2
        return [512, 256] if pixels <= 4096 else [1024, 512]
    stages = plan_resolutions(config.image_size).num_stages
    return [min(32 * 2**i, 256) for i in range(stages)]  # 28 px: [32, 64]; 64 px: [32, 64, 128, 256]


# --------------------------------------------------------------------------- likelihoods and KL


def bernoulli_log_prob(logits: torch.Tensor, x01: torch.Tensor, obs_std: float) -> torch.Tensor:
    """log p(x|z) of pixels x01 (B, C, H, W) in [0, 1] under Bernoulli(sigmoid(logits)), summed per image: (B,)."""
    return -F.binary_cross_entropy_with_logits(logits, x01, reduction="none").flatten(1).sum(1)


def gaussian_log_prob(logits: torch.Tensor, x01: torch.Tensor, obs_std: float) -> torch.Tensor:
    """log p(x|z) under N(sigmoid(logits), obs_std²) per pixel, summed per image: (B,).

    -Σ [(x - μ)² / (2σ²) + log σ + ½ log 2π]; the constant keeps the value a true
    log-density (on the [0, 1] pixel scale), comparable across models.
    """
    mean = torch.sigmoid(logits)
    per_pixel = (x01 - mean) ** 2 / (2 * obs_std**2) + math.log(obs_std) + 0.5 * math.log(2 * math.pi)
    return -per_pixel.flatten(1).sum(1)


LIKELIHOODS: dict[str, Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]] = {
    "bernoulli": bernoulli_log_prob,
    "gaussian": gaussian_log_prob,
}


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per row of (B, D) inputs, in nats: (B,).

    Closed form (Kingma & Welling 2014, appendix B): ½ Σ (mu² + σ² - 1 - log σ²).
    """
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)


# --------------------------------------------------------------------------- networks
# Encoders map x (B, C, H, W) and an optional one-hot label (B, K) to (mu, logvar), each (B, latent_dim).
# Decoders map z (B, latent_dim) and the label to pixel logits (B, C, H, W).


def _mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers between consecutive ``sizes`` with ReLU after each."""
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers)


def _with_label(h: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
    return h if cond is None else torch.cat([h, cond], dim=1)


class MLPEncoder(nn.Module):
    """Flattened pixels (+ label) → hidden layers → (mu, logvar)."""

    def __init__(self, config: VAEConfig, hidden_dims: list[int], cond_dim: int):
        super().__init__()
        in_features = config.channels * config.image_size**2 + cond_dim
        self.body = _mlp([in_features, *hidden_dims])
        self.head = nn.Linear(hidden_dims[-1], 2 * config.latent_dim)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(_with_label(x.flatten(1), cond))  # (B, C, H, W) -> (B, CHW [+ K]) -> (B, hidden)
        mu, logvar = self.head(h).chunk(2, dim=1)
        return mu, logvar


class MLPDecoder(nn.Module):
    """z (+ label) → the encoder's hidden layers in reverse → one logit per pixel."""

    def __init__(self, config: VAEConfig, hidden_dims: list[int], cond_dim: int):
        super().__init__()
        self.image_shape = (config.channels, config.image_size, config.image_size)
        self.body = _mlp([config.latent_dim + cond_dim, *reversed(hidden_dims)])
        self.head = nn.Linear(hidden_dims[0], math.prod(self.image_shape))

    def forward(self, z: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        logits = self.head(self.body(_with_label(z, cond)))
        return logits.view(-1, *self.image_shape)  # (B, CHW) -> (B, C, H, W)


class ConvEncoder(nn.Module):
    """Stride-2 convs halve the image down to its base grid (28 → 14 → 7); the label joins at the linear head."""

    def __init__(self, config: VAEConfig, hidden_dims: list[int], cond_dim: int):
        super().__init__()
        base = plan_resolutions(config.image_size).base_size
        layers: list[nn.Module] = []
        for a, b in zip([config.channels, *hidden_dims[:-1]], hidden_dims, strict=True):
            layers += [downsample2x(a, b), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(hidden_dims[-1] * base * base + cond_dim, 2 * config.latent_dim)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x).flatten(1)  # (B, C, H, W) -> (B, width, base, base) -> (B, width·base²)
        mu, logvar = self.head(_with_label(h, cond)).chunk(2, dim=1)
        return mu, logvar


class ConvDecoder(nn.Module):
    """z (+ label) → linear → (width, base, base) grid → 2× upsampling stages → pixel logits."""

    def __init__(self, config: VAEConfig, hidden_dims: list[int], cond_dim: int):
        super().__init__()
        self.base = plan_resolutions(config.image_size).base_size
        widths = list(reversed(hidden_dims))  # widest channels at the smallest grid
        self.project = nn.Linear(config.latent_dim + cond_dim, widths[0] * self.base**2)
        layers: list[nn.Module] = []
        for a, b in zip(widths, [*widths[1:], config.channels], strict=True):
            layers += [nn.ReLU(), upsample2x(a, b)]
        self.body = nn.Sequential(*layers)  # ends on the last upsampling: raw logits, no activation

    def forward(self, z: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        h = self.project(_with_label(z, cond)).view(z.shape[0], -1, self.base, self.base)
        return self.body(h)


ARCHITECTURES: dict[str, tuple[type[nn.Module], type[nn.Module]]] = {
    "mlp": (MLPEncoder, MLPDecoder),
    "conv": (ConvEncoder, ConvDecoder),
}


def build_hidden_dims(config: VAEConfig, who: str) -> list[int]:
    """The hidden sizes to build with; a conv VAE needs an image size b·2^k and one width per stride-2 stage."""
    if config.architecture == "mlp":
        return config.hidden_dims or default_hidden_dims(config)
    hint = "; or use architecture=mlp, which takes any image size"
    stages = plan_resolutions(config.image_size, who=f"{who} (architecture=conv)", extra_hint=hint).num_stages
    dims = config.hidden_dims or default_hidden_dims(config)
    if len(dims) != stages:
        raise ConfigError(
            f"{who}: {config.image_size}px conv layers have {stages} stride-2 stages but hidden_dims has "
            f"{len(dims)} widths",
            f"give {stages} channel widths, e.g. hidden_dims={default_hidden_dims(config)}",
        )
    return dims


# --------------------------------------------------------------------------- model


@register_model("image/vae")
class VAE(ImageGenerativeModel):
    """``image/vae``: variational autoencoder; ``forward`` is not used — call the named methods.

    ``encode(x, labels) -> (mu, logvar)``, ``decode(z, labels) -> mean image``,
    ``decoder_log_prob(x, z, labels) -> log p(x|z)``, ``reconstruct``, ``generate``.
    """

    config_class: ClassVar[type[VAEConfig]] = VAEConfig
    description: ClassVar[str] = "variational autoencoder, MLP encoder/decoder by default (Kingma & Welling 2014)"
    can_reconstruct: ClassVar[bool] = True
    config: VAEConfig

    def __init__(self, config: VAEConfig):
        super().__init__(config)
        if self.conditional and config.num_classes < 2:
            raise ConfigError(
                f"{self.registry_name} is conditional and needs num_classes ≥ 2, got {config.num_classes}",
                "train it on labelled data, or use image/vae for unlabelled images",
            )
        if self.conditional and config.prior == "gmm":
            raise ConfigError(
                f"{self.registry_name}: prior=gmm is for unconditional VAEs",
                "a conditional VAE picks the class with its label; keep prior=standard",
            )
        hidden_dims = build_hidden_dims(config, self.registry_name)
        cond_dim = config.num_classes if self.conditional else 0
        encoder_cls, decoder_cls = ARCHITECTURES[config.architecture]
        self.encoder = encoder_cls(config, hidden_dims, cond_dim)
        self.decoder = decoder_cls(config, hidden_dims, cond_dim)
        if config.prior == "gmm":  # saved with the weights; N(0, I) until fit_prior fills them
            k, d = config.prior_components, config.latent_dim
            self.register_buffer("prior_weights", torch.zeros(k))
            self.register_buffer("prior_means", torch.zeros(k, d))
            self.register_buffer("prior_cholesky", torch.eye(d).repeat(k, 1, 1))

    def _condition(self, labels: torch.Tensor | None) -> torch.Tensor | None:
        """One-hot labels (B, K) for conditional models; None for unconditional ones."""
        if not self.conditional:
            return None
        return F.one_hot(labels.long(), self.config.num_classes).float()

    # --- the two halves -------------------------------------------------------
    def encode(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters for images (B, C, H, W) in [-1, 1]: ``(mu, logvar)``, each (B, latent_dim)."""
        return self.encoder(images, self._condition(labels))

    def decode_logits(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Pixel logits (B, C, H, W) for latents z (B, latent_dim)."""
        return self.decoder(z, self._condition(labels))

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Mean image of p(x|z), (B, C, H, W) in [-1, 1]."""
        return 2 * torch.sigmoid(self.decode_logits(z, labels)) - 1

    def decoder_log_prob(
        self, images: torch.Tensor, z: torch.Tensor, labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        """log p(x|z) in nats for images (B, C, H, W) in [-1, 1] and latents (B, latent_dim): (B,)."""
        x01 = (images + 1) / 2
        log_prob = LIKELIHOODS[self.config.likelihood]
        return log_prob(self.decode_logits(z, labels), x01, self.config.obs_std)

    # --- training -------------------------------------------------------------
    def optimizer_groups(self) -> list[OptimizerSpec]:
        return [OptimizerSpec("vae", list(self.parameters()), lr=self.config.lr)]

    def training_losses(self, batch: Any, group: str = "vae") -> dict[str, torch.Tensor]:
        """One-sample ELBO terms, per image in nats: ``{"loss": recon + beta·kl, "recon", "kl"}``."""
        images, labels = batch
        labels = labels if self.conditional else None
        mu, logvar = self.encode(images, labels)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)  # reparameterisation: gradients flow to mu, logvar
        recon = -self.decoder_log_prob(images, z, labels).mean()
        kl = gaussian_kl(mu, logvar).mean()
        return {"loss": recon + self.config.beta * kl, "recon": recon, "kl": kl}

    # --- likelihood -----------------------------------------------------------
    @torch.no_grad()
    def log_likelihood_iw(
        self,
        images: torch.Tensor,
        k: int = 100,
        labels: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Importance-weighted estimate of log p(x) in nats per image (Burda et al. 2016): (B,).

        log (1/k) Σᵢ p(x|zᵢ) p(zᵢ) / q(zᵢ|x) with zᵢ ~ q(z|x); k = 1 gives the one-sample ELBO,
        and the estimate tightens towards log p(x) as k grows. Samples are drawn in chunks.
        """
        labels = labels.to(self.device) if self.conditional and labels is not None else None
        images = images.to(self.device)
        mu, logvar = self.encode(images, labels)  # (B, L) each
        std = torch.exp(0.5 * logvar)
        b, log2pi = images.shape[0], math.log(2 * math.pi)
        chunk = max(1, 10_000 // b)
        log_w = []
        for start in range(0, k, chunk):
            m = min(chunk, k - start)
            eps = torch.randn((m, *mu.shape), generator=generator).to(mu.device)  # (m, B, L)
            z = mu + std * eps
            log_q = -0.5 * (eps.pow(2) + logvar + log2pi).sum(-1)  # (m, B)
            log_prior = -0.5 * (z.pow(2) + log2pi).sum(-1)
            rep = images.unsqueeze(0).expand(m, *images.shape).reshape(m * b, *images.shape[1:])
            rep_labels = None if labels is None else labels.repeat(m)
            log_px = self.decoder_log_prob(rep, z.reshape(m * b, -1), rep_labels).view(m, b)
            log_w.append(log_px + log_prior - log_q)
        return torch.logsumexp(torch.cat(log_w), dim=0) - math.log(k)

    # --- the prior samples come from ----------------------------------------------
    @property
    def prior_fitted(self) -> bool:
        """Whether samples come from a fitted mixture (``prior=gmm`` after :meth:`fit_prior`)."""
        return self.config.prior == "gmm" and bool(self.prior_weights.sum() > 0)

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """(n, latent_dim) latents: N(0, I), or draws from the fitted mixture (a component by its weight,
        then its mean plus its Cholesky factor times N(0, I) noise)."""
        if not self.prior_fitted:
            return super().sample_latent(n, generator)
        weights = self.prior_weights.cpu()
        component = torch.multinomial(weights, n, replacement=True, generator=generator)  # (n,)
        eps = torch.randn((n, self.config.latent_dim, 1), generator=generator)
        z = self.prior_means.cpu()[component] + (self.prior_cholesky.cpu()[component] @ eps).squeeze(-1)
        return z.to(self.device)

    @torch.no_grad()
    def fit_prior(self, images: torch.Tensor, seed: int = 0) -> dict[str, Any]:
        """Fit the ``gmm`` prior (full covariances, EM) to the posterior means of images (N, C, H, W) in
        [-1, 1]. Samples from N(0, I) land where no training image's code is when the aggregate posterior
        does not fill the prior; a mixture fitted to the codes draws where they are (Ghosh et al. 2020, §4).
        Returns a summary for the model card."""
        if self.config.prior != "gmm":
            raise ConfigError(f"{self.registry_name} has prior={self.config.prior}", "set model.prior=gmm")
        images = images[: self.config.prior_fit_images]
        codes = torch.cat([self.encode(images[i : i + 500].to(self.device))[0] for i in range(0, len(images), 500)])
        codes = codes.double().cpu()  # (N, latent_dim) posterior means
        k = min(self.config.prior_components, len(codes))
        gmm = fit_gaussian_mixture(codes, k, seed, f"{self.registry_name} with prior=gmm", reg_covar=1e-5)
        self.prior_weights.zero_()[:k] = gmm.weights
        self.prior_means.zero_()[:k] = gmm.means
        self.prior_cholesky[:k] = gmm.cholesky
        return {"components": k, "images": len(codes), "log_likelihood": gmm.log_likelihood, "converged": gmm.converged}

    # --- inference ------------------------------------------------------------
    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Decode the posterior mean of each image: (B, C, H, W) in [-1, 1] -> same shape."""
        if self.conditional and labels is None:
            raise BadInputError(
                f"{self.registry_name} needs the images' labels to reconstruct them", "pass one label per image"
            )
        labels = self.check_labels(labels, images.shape[0])
        mu, _ = self.encode(images.to(self.device), labels)
        return self.decode(mu, labels)


@register_model("image/conv-vae")
class ConvVAE(VAE):
    """``image/conv-vae``: VAE with strided-conv encoder and transposed-conv decoder."""

    config_class: ClassVar[type[VAEConfig]] = ConvVAEConfig
    description: ClassVar[str] = "variational autoencoder with conv encoder/decoder (Kingma & Welling 2014)"


@register_model("image/cvae")
class CVAE(VAE):
    """``image/cvae``: conditional VAE; the one-hot label enters the encoder and the decoder (Sohn et al. 2015)."""

    config_class: ClassVar[type[VAEConfig]] = CVAEConfig
    description: ClassVar[str] = "conditional VAE: pick the class of each sample (Sohn et al. 2015)"
    conditional: ClassVar[bool] = True
