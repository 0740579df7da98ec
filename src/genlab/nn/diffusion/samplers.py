"""Samplers: swappable objects that turn noise into samples (B, ...) with a trained denoiser.

A sampler knows its time grid and how to take one step; the model supplies a
``predict(x, t)`` function (with classifier-free guidance already applied), so
every sampler works with every model of its family and guidance works in all of them.

Diffusion samplers (for :class:`~genlab.nn.diffusion.schedules.NoiseSchedule`), where
``predict`` returns (x̂_0, ε̂):

* ``ddpm``: ancestral sampling of the reverse chain (Ho et al. 2020), on any subset of steps;
* ``ddim``: DDIM with stochasticity η (Song et al. 2021, eq. 12); η = 0 is deterministic;
* ``dpm++2m``: DPM-Solver++(2M), second-order multistep in log-SNR (Lu et al. 2022, alg. 2).

Flow samplers (for :class:`~genlab.nn.diffusion.schedules.FlowPath`), where ``predict``
returns the velocity: ``euler`` and ``heun`` (second order, Euler on the last step as in
Karras et al. 2022).

Time grids run from the noisiest point to clean data: diffusion grids use "trailing"
spacing (Lin et al. 2024), so the first step starts at t = T - 1 whatever the step count,
and end at t = -1 (ᾱ = 1); flow grids are uniform in [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar, Literal

import numpy as np
import torch

from genlab.core.errors import BadInputError
from genlab.nn.diffusion.schedules import FlowPath, NoiseSchedule

Family = Literal["diffusion", "flow"]
DiffusionPredict = Callable[[torch.Tensor, int], tuple[torch.Tensor, torch.Tensor]]
FlowPredict = Callable[[torch.Tensor, float], torch.Tensor]

SAMPLERS: dict[str, type[Sampler]] = {}


def register_sampler(cls: type[Sampler]) -> type[Sampler]:
    """Class decorator: make a sampler selectable by its ``name``."""
    SAMPLERS[cls.name] = cls
    return cls


def sampler_names(family: Family) -> list[str]:
    """Names of the samplers that work with models of ``family``."""
    return [name for name, cls in SAMPLERS.items() if cls.family == family]


def make_sampler(name: str, family: Family, path, num_steps: int, eta: float = 0.0) -> Sampler:
    """Build sampler ``name`` for a model of ``family``; unknown or mismatched names raise BadInputError."""
    valid = sampler_names(family)
    if name not in valid:
        raise BadInputError(
            f"sampler '{name}' does not work with {family} models", "choose one of: " + ", ".join(valid)
        )
    if num_steps < 1:
        raise BadInputError(f"--steps must be at least 1, got {num_steps}")
    if eta < 0:
        raise BadInputError(f"--eta must be ≥ 0, got {eta}", "0 = deterministic DDIM, 1 ≈ ancestral DDPM")
    if eta != 0 and not SAMPLERS[name].takes_eta:
        raise BadInputError(f"sampler '{name}' has no η (eta)", "eta applies to the ddim sampler; drop --eta")
    return SAMPLERS[name](path, num_steps, eta=eta)


class Sampler:
    """Base class: ``time_points()`` (noisiest → clean) and ``step(predict, x, t, t_next, generator)``."""

    name: ClassVar[str] = ""
    family: ClassVar[Family] = "diffusion"
    takes_eta: ClassVar[bool] = False

    def __init__(self, path, num_steps: int, eta: float = 0.0):
        self.path = path
        self.num_steps = num_steps
        self.eta = eta

    def time_points(self) -> list:
        """num_steps + 1 time points from pure noise to clean data."""
        raise NotImplementedError

    def reset(self) -> None:
        """Forget state carried between steps (multistep solvers); called before a new trajectory or after a jump."""

    def step(self, predict: Callable, x: torch.Tensor, t, t_next, generator: torch.Generator | None) -> torch.Tensor:
        """Move ``x`` from time ``t`` to the less noisy ``t_next``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_steps={self.num_steps}, eta={self.eta})"


def _randn_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Standard normal noise shaped like ``x``, drawn on the CPU generator (reproducible on any device)."""
    return torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)


class DiffusionSampler(Sampler):
    """Shared grid of the discrete-time samplers."""

    path: NoiseSchedule

    def time_points(self) -> list[int]:
        T = self.path.num_timesteps
        if self.num_steps > T:
            raise BadInputError(f"--steps {self.num_steps} exceeds the model's {T} diffusion timesteps")
        # trailing spacing: T-1, …, evenly spaced down; then -1, the clean end point
        grid = np.round(np.arange(T, 0, -T / self.num_steps)).astype(np.int64) - 1
        return [int(t) for t in grid[: self.num_steps]] + [-1]


@register_sampler
class DDPMSampler(DiffusionSampler):
    """Ancestral sampling: x_{t'} ~ q(x_{t'} | x_t, x̂_0), the DDPM posterior with σ² = β̃ (Ho et al. 2020, eq. 6–7).

    With fewer steps than T the posterior is taken between the grid points, i.e. with
    ᾱ_t / ᾱ_{t'} in place of α_t.
    """

    name: ClassVar[str] = "ddpm"

    def step(self, predict: DiffusionPredict, x, t, t_next, generator):
        x0, _ = predict(x, t)
        a_t, a_next = float(self.path.alpha_bar(t)), float(self.path.alpha_bar(t_next))
        alpha = a_t / a_next
        beta = 1 - alpha
        mean = (math.sqrt(a_next) * beta / (1 - a_t)) * x0 + (math.sqrt(alpha) * (1 - a_next) / (1 - a_t)) * x
        if t > 0:  # no noise is added when leaving t = 0
            variance = max((1 - a_next) / (1 - a_t) * beta, 1e-20)
            mean = mean + math.sqrt(variance) * _randn_like(x, generator)
        return mean


@register_sampler
class DDIMSampler(DiffusionSampler):
    """DDIM (Song et al. 2021, eq. 12): x_{t'} = √ᾱ' x̂_0 + √(1 - ᾱ' - σ²) ε̂ + σ z, σ = η·√((1-ᾱ')/(1-ᾱ)·(1-ᾱ/ᾱ'))."""

    name: ClassVar[str] = "ddim"
    takes_eta: ClassVar[bool] = True

    def step(self, predict: DiffusionPredict, x, t, t_next, generator):
        x0, eps = predict(x, t)
        a_t, a_next = float(self.path.alpha_bar(t)), float(self.path.alpha_bar(t_next))
        std = self.eta * math.sqrt((1 - a_next) / (1 - a_t) * (1 - a_t / a_next))
        out = math.sqrt(a_next) * x0 + math.sqrt(max(1 - a_next - std**2, 0.0)) * eps
        if self.eta > 0:
            out = out + std * _randn_like(x, generator)
        return out


@register_sampler
class DPMSolverPlusPlus2M(DiffusionSampler):
    """DPM-Solver++(2M) (Lu et al. 2022, algorithm 2), data prediction, multistep.

    With λ = log(√ᾱ / √(1-ᾱ)) and h = λ_{t'} - λ_t:
    x_{t'} = (σ_{t'}/σ_t) x_t - α_{t'} (e^{-h} - 1) D, where D = x̂_0 on the first step and
    D = (1 + 1/(2r)) x̂_0 - 1/(2r) x̂_0^{prev}, r = h_prev / h, after it. The last step to clean
    data (σ = 0) is first order, i.e. returns x̂_0.
    """

    name: ClassVar[str] = "dpm++2m"

    def __init__(self, path, num_steps: int, eta: float = 0.0):
        super().__init__(path, num_steps, eta)
        self.reset()

    def reset(self) -> None:
        self.prev_x0: torch.Tensor | None = None
        self.prev_h: float | None = None

    def step(self, predict: DiffusionPredict, x, t, t_next, generator):
        x0, _ = predict(x, t)
        a_t, a_next = float(self.path.alpha_bar(t)), float(self.path.alpha_bar(t_next))
        if a_next >= 1.0:  # clean end point: σ' = 0, the update reduces to x̂_0
            self.reset()
            return x0
        lam_t = 0.5 * math.log(a_t / (1 - a_t))
        lam_next = 0.5 * math.log(a_next / (1 - a_next))
        h = lam_next - lam_t
        d = x0
        if self.prev_x0 is not None and self.prev_h is not None:
            r = self.prev_h / h
            d = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * self.prev_x0
        self.prev_x0, self.prev_h = x0, h
        return math.sqrt((1 - a_next) / (1 - a_t)) * x - math.sqrt(a_next) * math.expm1(-h) * d


class FlowSampler(Sampler):
    """Shared uniform grid of the flow samplers: t = 0, 1/N, …, 1."""

    family: ClassVar[Family] = "flow"
    path: FlowPath

    def time_points(self) -> list[float]:
        return [i / self.num_steps for i in range(self.num_steps + 1)]


@register_sampler
class EulerSampler(FlowSampler):
    """Euler's method on dx/dt = v(x, t): x_{t'} = x_t + (t' - t) v."""

    name: ClassVar[str] = "euler"

    def step(self, predict: FlowPredict, x, t, t_next, generator):
        return x + (t_next - t) * predict(x, t)


@register_sampler
class HeunSampler(FlowSampler):
    """Heun's second-order method (the trapezoid rule with an Euler predictor); the step to t = 1 is Euler's."""

    name: ClassVar[str] = "heun"

    def step(self, predict: FlowPredict, x, t, t_next, generator):
        dt = t_next - t
        v = predict(x, t)
        x_euler = x + dt * v
        if t_next >= 1:  # the velocity at t = 1 is undefined for a clipped data prediction; stay first order
            return x_euler
        return x + dt * 0.5 * (v + predict(x_euler, t_next))


def sample_loop(
    sampler: Sampler,
    predict: Callable,
    x: torch.Tensor,
    generator: torch.Generator | None = None,
    start: int = 0,
    after_step: Callable[[torch.Tensor, int], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Run ``sampler`` from grid index ``start`` to the clean end; ``after_step(x, i)`` may edit x at index i."""
    points = sampler.time_points()
    sampler.reset()
    for i in range(start, len(points) - 1):
        x = sampler.step(predict, x, points[i], points[i + 1], generator)
        if after_step is not None:
            x = after_step(x, i + 1)
    return x
