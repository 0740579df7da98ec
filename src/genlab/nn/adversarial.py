"""Adversarial training pieces shared by every GAN, whatever the modality.

* Losses on raw discriminator scores: non-saturating (Goodfellow et al. 2014),
  hinge (Lim & Ye 2017), least squares (Mao et al. 2017) and Wasserstein
  (Arjovsky et al. 2017), paired in :data:`ADVERSARIAL_LOSSES` (names: :data:`LossName`);
  :func:`unconstrained_critic` says when a Wasserstein critic lacks its Lipschitz constraint.
* :func:`gradient_penalty` (Gulrajani et al. 2017) on inputs of any shape (B, ...).
* Context managers for the alternating updates: :func:`frozen` (no gradients into
  D's weights during G's step) and :func:`batch_statistics` (BatchNorm with batch
  statistics without touching its running ones).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

# --------------------------------------------------------------------------- losses
# Scores are raw discriminator outputs (logits or critic values), shape (B,); each function returns a scalar.


def d_non_saturating(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """-log σ(D(x)) - log(1 - σ(D(G(z)))) (Goodfellow et al. 2014), via softplus for stability."""
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def g_non_saturating(fake: torch.Tensor) -> torch.Tensor:
    """-log σ(D(G(z))): the generator loss with strong gradients early in training (Goodfellow et al. 2014)."""
    return F.softplus(-fake).mean()


def d_hinge(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """max(0, 1 - D(x)) + max(0, 1 + D(G(z))) (Lim & Ye 2017; Miyato et al. 2018)."""
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def g_linear(fake: torch.Tensor) -> torch.Tensor:
    """-D(G(z)): the generator loss of the hinge and Wasserstein GANs."""
    return -fake.mean()


def d_least_squares(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """½(D(x) - 1)² + ½ D(G(z))² (LSGAN, Mao et al. 2017, targets a=0, b=1)."""
    return 0.5 * (real - 1).pow(2).mean() + 0.5 * fake.pow(2).mean()


def g_least_squares(fake: torch.Tensor) -> torch.Tensor:
    """½(D(G(z)) - 1)² (LSGAN, Mao et al. 2017, target c=1)."""
    return 0.5 * (fake - 1).pow(2).mean()


def d_wasserstein(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """D(G(z)) - D(x): minus the critic's estimate of the Wasserstein-1 distance (Arjovsky et al. 2017)."""
    return fake.mean() - real.mean()


class AdversarialLoss(NamedTuple):
    """The discriminator loss (real scores, fake scores) and the generator loss (fake scores) of one GAN flavour."""

    discriminator: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    generator: Callable[[torch.Tensor], torch.Tensor]


#: The names of :data:`ADVERSARIAL_LOSSES`, for config fields.
LossName = Literal["non-saturating", "hinge", "least-squares", "wasserstein"]

ADVERSARIAL_LOSSES: dict[str, AdversarialLoss] = {
    "non-saturating": AdversarialLoss(d_non_saturating, g_non_saturating),
    "hinge": AdversarialLoss(d_hinge, g_linear),
    "least-squares": AdversarialLoss(d_least_squares, g_least_squares),
    "wasserstein": AdversarialLoss(d_wasserstein, g_linear),
}


#: How to give a Wasserstein critic its Lipschitz constraint (the hint of :func:`unconstrained_critic`'s problem).
LIPSCHITZ_HINT = "set gp_weight=10 (WGAN-GP) or spectral_norm=true"


def unconstrained_critic(loss: str, gp_weight: float, spectral_norm: bool) -> str | None:
    """Why a discriminator trained with ``loss`` would be unconstrained, or None: the Wasserstein loss needs a
    Lipschitz critic (Arjovsky et al. 2017), from a gradient penalty or spectral normalisation."""
    if loss == "wasserstein" and gp_weight == 0 and not spectral_norm:
        return "the Wasserstein loss needs a Lipschitz critic, but gp_weight=0 and spectral_norm=false"
    return None


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor
) -> torch.Tensor:
    """E[(‖∇D(x̂)‖₂ - 1)²] on x̂ = εx + (1-ε)x̃, ε ~ U[0, 1] per sample (WGAN-GP, Gulrajani et al. 2017).

    ``real`` and ``fake`` have the same shape (B, ...): images (B, C, H, W), sequences
    (B, T, D) or rows (B, D); ``critic`` maps such a batch to scores (B,). The gradient
    norm is taken over all non-batch dimensions. The result is a scalar that stays
    differentiable (``create_graph``) so it can be minimised through D.
    """
    eps_shape = (real.shape[0],) + (1,) * (real.dim() - 1)  # (B, 1, ..., 1): one ε per sample, broadcast
    eps = torch.rand(eps_shape, device=real.device, dtype=real.dtype)
    mixed = (eps * real + (1 - eps) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return (grad.flatten(1).norm(2, dim=1) - 1).pow(2).mean()


# --------------------------------------------------------------------------- training helpers


@contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Stop gradients into ``module``'s parameters (they still flow through its activations)."""
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(module.parameters(), flags, strict=True):
            p.requires_grad_(flag)


@contextmanager
def batch_statistics(module: nn.Module) -> Iterator[None]:
    """Make ``module``'s BatchNorm layers normalise with batch statistics, leaving their running ones untouched."""
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.training, m.track_running_stats) for m in norms]
    for m in norms:
        m.training, m.track_running_stats = True, False  # BatchNorm then passes no running buffers to F.batch_norm
    try:
        yield
    finally:
        for m, (training, track) in zip(norms, saved, strict=True):
            m.training, m.track_running_stats = training, track
