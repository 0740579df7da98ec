"""Noise schedules and the paths between data and noise.

Two forward processes share the samplers (:mod:`genlab.nn.diffusion.samplers`) and the
editing code of the modalities:

* :class:`NoiseSchedule`, the discrete Gaussian diffusion of DDPM (Ho et al. 2020):
  ``x_t = √ᾱ_t · x_0 + √(1 - ᾱ_t) · ε`` for integer ``t`` in ``[0, T)``, with
  ``ᾱ_t = Π_{s≤t} (1 - β_s)``. The point ``t = -1`` stands for clean data (ᾱ = 1),
  so a sampler's last step lands exactly on its prediction of ``x_0``.
* :class:`FlowPath`, the straight path of rectified flow / flow matching
  (Liu et al. 2023; Lipman et al. 2023): ``x_t = (1 - t) · ε + t · x_1`` for ``t``
  in ``[0, 1]``, noise at ``t = 0`` and data at ``t = 1``; its velocity is ``x_1 - ε``.

Both expose ``q_sample`` (noise clean samples to a time point) and ``renoise``
(move a sample to a noisier time point), which is all SDEdit and RePaint need.
Nothing here is specific to images: samples are tensors (B, ...), e.g. images
(B, C, H, W) or sequences (B, T, D).
"""

from __future__ import annotations

import math
from typing import Literal

import torch

BetaSchedule = Literal["linear", "cosine"]
PredictionType = Literal["epsilon", "v_prediction"]


def linear_betas(
    num_timesteps: int, beta_start: float = 1e-4, beta_end: float = 0.02, max_beta: float = 0.999
) -> torch.Tensor:
    """β_t evenly spaced from ``beta_start`` to ``beta_end`` (Ho et al. 2020: 1e-4 … 0.02 for T = 1000).

    For T ≠ 1000 both ends are scaled by 1000 / T (Nichol & Dhariwal 2021) so a shorter
    chain still ends close to pure noise; they are capped at ``max_beta`` as the cosine schedule's are
    (from T ≤ 20 the scaled end would reach β = 1: ᾱ = 0 and a step that no network can invert).
    """
    scale = 1000 / num_timesteps
    betas = torch.linspace(beta_start * scale, beta_end * scale, num_timesteps, dtype=torch.float64)
    return betas.clamp(max=max_beta)


def cosine_betas(num_timesteps: int, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """β_t from ᾱ(u) = cos²(((u + s) / (1 + s)) · π/2), u = t/T (Nichol & Dhariwal 2021, eq. 17), capped at 0.999."""

    def alpha_bar(u: float) -> float:
        return math.cos((u + s) / (1 + s) * math.pi / 2) ** 2

    betas = [
        min(1 - alpha_bar((i + 1) / num_timesteps) / alpha_bar(i / num_timesteps), max_beta)
        for i in range(num_timesteps)
    ]
    return torch.tensor(betas, dtype=torch.float64)


BETA_SCHEDULES = {"linear": linear_betas, "cosine": cosine_betas}


def _per_sample(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(B,) or () coefficients -> broadcastable against ``like`` (B, ...), in its dtype/device."""
    values = values.to(device=like.device, dtype=like.dtype)
    return values.reshape(-1, *([1] * (like.dim() - 1))) if values.dim() else values


class NoiseSchedule:
    """The discrete forward process of DDPM: β_t, ᾱ_t and the conversions between predictions.

    Time points are integers in ``[-1, T)``; ``-1`` is clean data (ᾱ = 1). Coefficients are
    computed in float64 and cast to the sample's dtype when used.
    """

    def __init__(self, num_timesteps: int = 1000, beta_schedule: BetaSchedule = "linear"):
        self.num_timesteps = num_timesteps
        self.beta_schedule = beta_schedule
        self.betas = BETA_SCHEDULES[beta_schedule](num_timesteps)
        self.alphas_cumprod = torch.cumprod(1.0 - self.betas, dim=0)

    def alpha_bar(self, t: int | torch.Tensor) -> torch.Tensor:
        """ᾱ_t for integer time(s) ``t`` in [-1, T); ᾱ_{-1} = 1."""
        t = torch.as_tensor(t, dtype=torch.long).cpu()  # the table lives on the CPU
        padded = torch.cat([torch.ones(1, dtype=torch.float64), self.alphas_cumprod])
        return padded[t + 1]

    def snr(self, t: int | torch.Tensor) -> torch.Tensor:
        """Signal-to-noise ratio ᾱ_t / (1 - ᾱ_t)."""
        a = self.alpha_bar(t)
        return a / (1 - a)

    def q_sample(self, x0: torch.Tensor, t: int | torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t = √ᾱ_t x_0 + √(1 - ᾱ_t) ε for time(s) ``t`` (an int or (B,))."""
        a = _per_sample(self.alpha_bar(t), x0)
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def renoise(
        self, x: torch.Tensor, t_from: int, t_to: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Sample q(x_{t_to} | x_{t_from}) for t_to ≥ t_from: the forward chain run from t_from to t_to."""
        ratio = float(self.alpha_bar(t_to) / self.alpha_bar(t_from))  # ᾱ_to / ᾱ_from = Π (1 - β) in between
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
        return math.sqrt(ratio) * x + math.sqrt(1 - ratio) * noise

    def target(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor, prediction_type: PredictionType):
        """The regression target: ε, or v = √ᾱ ε - √(1 - ᾱ) x_0 (Salimans & Ho 2022)."""
        if prediction_type == "epsilon":
            return noise
        a = _per_sample(self.alpha_bar(t), x0)
        return a.sqrt() * noise - (1 - a).sqrt() * x0

    def split_prediction(
        self, output: torch.Tensor, x_t: torch.Tensor, t: int, prediction_type: PredictionType, clip: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Turn a network output at time ``t`` into (x̂_0, ε̂).

        With ``clip`` x̂_0 is clamped to [-1, 1] and ε̂ re-derived from the clamped x̂_0,
        so both stay consistent with x_t (as in GLIDE and DDIM's ``use_clipped_model_output``).
        """
        a = self.alpha_bar(t).item()
        sa, sb = math.sqrt(a), math.sqrt(1 - a)
        if prediction_type == "epsilon":
            eps = output
            x0 = (x_t - sb * eps) / sa
        else:
            x0 = sa * x_t - sb * output
            eps = sa * output + sb * x_t
        if clip:
            x0 = x0.clamp(-1, 1)
            eps = (x_t - sa * x0) / sb
        return x0, eps

    def min_snr_weight(self, t: torch.Tensor, gamma: float, prediction_type: PredictionType) -> torch.Tensor:
        """Min-SNR-γ loss weight (Hang et al. 2023): min(SNR, γ)/SNR for ε, min(SNR, γ)/(SNR + 1) for v."""
        snr = self.snr(t)
        clipped = torch.clamp(snr, max=gamma)
        return (clipped / snr if prediction_type == "epsilon" else clipped / (snr + 1)).float()


class FlowPath:
    """The straight (rectified-flow) path ``x_t = (1 - t) ε + t x_1``; time 0 is noise, 1 is data."""

    def q_sample(self, x1: torch.Tensor, t: float | torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """A point on the path at time(s) ``t`` (a float or (B,))."""
        t = _per_sample(torch.as_tensor(t, dtype=torch.float64), x1)
        return (1 - t) * noise + t * x1

    def renoise(
        self, x: torch.Tensor, t_from: float, t_to: float, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Move a sample back towards noise, t_to ≤ t_from, keeping the path's marginals.

        x_to = (t_to / t_from) · x_from + s · ε with s² = (1 - t_to)² - (t_to / t_from)² (1 - t_from)²,
        so the noise share is (1 - t_to) again and the data share t_to.
        """
        ratio = t_to / t_from
        std = math.sqrt(max((1 - t_to) ** 2 - ratio**2 * (1 - t_from) ** 2, 0.0))
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
        return ratio * x + std * noise

    @staticmethod
    def target(x1: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """The velocity d x_t / d t = x_1 - ε that the network regresses."""
        return x1 - noise
