"""Gaussian-process regression and expected improvement in torch, for Bayesian optimisation in a latent space.

The GP (Rasmussen & Williams 2006, "Gaussian Processes for Machine Learning", ch. 2 and 5) has a constant mean,
a Matérn-5/2 or RBF kernel with one length-scale per input dimension (ARD), a signal variance and a Gaussian
noise variance. Targets are standardised before fitting; the hyper-parameters (log length-scales, log signal
variance, log noise variance, the mean) maximise the log marginal likelihood

    log p(y | X) = -½ (y - m)ᵀ K⁻¹ (y - m) - ½ log |K| - n/2 log 2π,      K = k(X, X) + σ²ₙ I

by Adam on the Cholesky-factored expression. The posterior at test inputs X* is

    μ* = m + K*ᵀ K⁻¹ (y - m),      σ²* = k(x*, x*) - diag(K*ᵀ K⁻¹ K*)          (R&W eq. 2.25-2.26)

Expected improvement over the incumbent best f⁺ (Jones, Schonlau & Welch 1998, "Efficient Global Optimization of
Expensive Black-Box Functions", eq. 15), for maximisation:

    EI(x) = (μ - f⁺ - ξ) Φ(u) + σ φ(u),      u = (μ - f⁺ - ξ) / σ,

which is ≥ 0 everywhere. :func:`maximize_ei` searches it in a trust region around the incumbent (a box of side
``length`` scaled by the length-scales, as TuRBO does; Eriksson et al. 2019, "Scalable Global Optimization via
Local Bayesian Optimization"): random candidates, then gradient ascent from the best of them, clamped to the box.
A batch of q points is chosen one by one with the "kriging believer" heuristic (Ginsbourger et al. 2010): each
chosen point is added to the data with its posterior mean as a fantasy target before the next is chosen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

Kernel = Literal["matern52", "rbf"]


def kernel_matrix(
    a: torch.Tensor, b: torch.Tensor, lengthscale: torch.Tensor, variance: torch.Tensor, kind: Kernel
) -> torch.Tensor:
    """k(a, b) for (N, D) and (M, D) inputs → (N, M); ``lengthscale`` (D,) or scalar, ``variance`` scalar."""
    a, b = a / lengthscale, b / lengthscale
    # ‖a - b‖² = ‖a‖² + ‖b‖² - 2 a·b: one matrix product instead of an (N, M, D) difference tensor
    r2 = (a.pow(2).sum(1, keepdim=True) + b.pow(2).sum(1) - 2 * a @ b.T).clamp_min(0)
    if kind == "rbf":
        return variance * torch.exp(-0.5 * r2)
    r = torch.sqrt(r2.clamp_min(1e-12))
    s5r = math.sqrt(5.0) * r
    return variance * (1.0 + s5r + 5.0 / 3.0 * r2) * torch.exp(-s5r)


@dataclass
class GPHyper:
    """Hyper-parameters of :class:`GaussianProcess` (natural scale, targets standardised)."""

    lengthscale: torch.Tensor  # (D,)
    variance: torch.Tensor  # scalar signal variance
    noise: torch.Tensor  # scalar noise variance
    mean: torch.Tensor  # scalar constant mean


class GaussianProcess:
    """Exact GP regression with a constant mean; ``fit`` learns the hyper-parameters, ``posterior`` predicts."""

    def __init__(self, kernel: Kernel = "matern52", min_noise: float = 1e-6):
        self.kernel = kernel
        self.min_noise = min_noise
        self.x: torch.Tensor | None = None
        self.y: torch.Tensor | None = None
        self.hyper: GPHyper | None = None
        self.y_mean, self.y_std = 0.0, 1.0

    # --- data and hyper-parameters -------------------------------------------------
    def set_data(self, x: torch.Tensor, y: torch.Tensor, hyper: GPHyper | None = None) -> GaussianProcess:
        """Condition on (N, D) inputs and (N,) targets (standardised inside) with fixed ``hyper`` (or the
        current ones; defaults: unit length-scales and variance, noise 1e-2, zero mean)."""
        self.x = x.double()
        y = y.double()
        self.y_mean = float(y.mean())
        self.y_std = float(y.std()) if y.numel() > 1 and float(y.std()) > 1e-9 else 1.0
        self.y = (y - self.y_mean) / self.y_std
        d = x.shape[1]
        if hyper is not None:
            self.hyper = hyper
        elif self.hyper is None or self.hyper.lengthscale.numel() != d:
            one = torch.tensor(1.0, dtype=torch.float64)
            self.hyper = GPHyper(torch.ones(d, dtype=torch.float64), one, torch.tensor(1e-2).double(), 0 * one)
        self._factor()
        return self

    def _factor(self) -> None:
        h = self.hyper
        k = kernel_matrix(self.x, self.x, h.lengthscale, h.variance, self.kernel)
        k = k + (h.noise + self.min_noise) * torch.eye(len(self.x), dtype=k.dtype)
        self._chol = _cholesky(k)
        self._alpha = torch.cholesky_solve((self.y - h.mean).unsqueeze(1), self._chol)  # K⁻¹ (y - m), (N, 1)

    def log_marginal_likelihood(self, hyper: GPHyper | None = None) -> torch.Tensor:
        """log p(y | X, θ) of the standardised targets (differentiable in ``hyper``'s tensors)."""
        h = hyper or self.hyper
        n = len(self.x)
        k = kernel_matrix(self.x, self.x, h.lengthscale, h.variance, self.kernel)
        k = k + (h.noise + self.min_noise) * torch.eye(n, dtype=k.dtype)
        chol = _cholesky(k)
        r = (self.y - h.mean).unsqueeze(1)
        alpha = torch.cholesky_solve(r, chol)
        return -0.5 * (r * alpha).sum() - torch.log(torch.diagonal(chol)).sum() - 0.5 * n * math.log(2 * math.pi)

    def fit(
        self, x: torch.Tensor, y: torch.Tensor, steps: int = 100, lr: float = 0.05, warm_start: bool = False
    ) -> GaussianProcess:
        """Set the data and maximise the log marginal likelihood over the hyper-parameters (Adam on logs).

        Length-scales start at the median pairwise distance of the inputs (a common heuristic), or with
        ``warm_start`` at the previous fit's values, and are kept in [1e-2, 1e3] times that distance; the noise
        variance of the standardised targets in [1e-6, 1].
        """
        previous = self.hyper if warm_start else None
        self.set_data(x, y)
        d = self.x.shape[1]
        dist = torch.cdist(self.x, self.x)
        scale = float(dist[dist > 0].median()) if (dist > 0).any() else 1.0
        if previous is not None and previous.lengthscale.numel() == d:
            log_ls = previous.lengthscale.log().clone().requires_grad_(True)
            log_var = previous.variance.log().clone().requires_grad_(True)
            log_noise = previous.noise.log().clone().requires_grad_(True)
            mean = previous.mean.clone().requires_grad_(True)
        else:
            log_ls = torch.full((d,), math.log(scale), dtype=torch.float64, requires_grad=True)
            log_var = torch.zeros((), dtype=torch.float64, requires_grad=True)
            log_noise = torch.tensor(math.log(1e-2), dtype=torch.float64, requires_grad=True)
            mean = torch.zeros((), dtype=torch.float64, requires_grad=True)
        params = [log_ls, log_var, log_noise, mean]
        opt = torch.optim.Adam(params, lr=lr)
        lo, hi = math.log(scale * 1e-2), math.log(scale * 1e3)

        def hyper() -> GPHyper:
            return GPHyper(
                log_ls.clamp(lo, hi).exp(), log_var.clamp(-6, 6).exp(), log_noise.clamp(-13.8, 0).exp(), mean
            )

        best, best_lml = None, -math.inf
        for _ in range(steps):
            opt.zero_grad()
            try:
                lml = self.log_marginal_likelihood(hyper())
            except torch.linalg.LinAlgError:
                break
            if float(lml.detach()) > best_lml:
                best_lml = float(lml.detach())
                best = GPHyper(*(t.detach().clone() for t in (hyper().lengthscale, hyper().variance,
                                                                   hyper().noise, mean)))  # fmt: skip
            (-lml / len(self.x)).backward()
            opt.step()
        self.hyper = best or self.hyper
        self._factor()
        return self

    # --- prediction -----------------------------------------------------------------
    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and standard deviation (N,), (N,) at (N, D) inputs, in the targets' original units.

        Differentiable in ``x`` (used by the gradient search of :func:`maximize_ei`).
        """
        h = self.hyper
        xs = x.double()
        ks = kernel_matrix(self.x, xs, h.lengthscale, h.variance, self.kernel)  # (N_train, N)
        mu = h.mean + (ks * self._alpha).sum(0)
        v = torch.cholesky_solve(ks, self._chol)
        var = (h.variance - (ks * v).sum(0)).clamp_min(1e-12)
        return mu * self.y_std + self.y_mean, var.sqrt() * self.y_std

    def add_fantasy(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Condition on extra points with the same hyper-parameters and the same target scaling."""
        ys = (y.double() - self.y_mean) / self.y_std
        self.x = torch.cat([self.x, x.double()])
        self.y = torch.cat([self.y, ys])
        self._factor()


def _cholesky(k: torch.Tensor) -> torch.Tensor:
    """Cholesky factor, adding jitter (up to 1e-3 of the mean diagonal) when K is numerically not positive-definite."""
    chol, info = torch.linalg.cholesky_ex(k)
    scale = float(k.detach().diagonal().mean())
    jitter = 1e-8 * scale
    while int(info) != 0 and jitter < 1e-2 * scale:
        chol, info = torch.linalg.cholesky_ex(k + jitter * torch.eye(len(k), dtype=k.dtype))
        jitter *= 10
    if int(info) != 0:
        raise torch.linalg.LinAlgError("kernel matrix is not positive definite")
    return chol


def expected_improvement(mu: torch.Tensor, sigma: torch.Tensor, best: float, xi: float = 0.0) -> torch.Tensor:
    """EI for maximisation (Jones et al. 1998): ``(μ - f⁺ - ξ) Φ(u) + σ φ(u)``, u = (μ - f⁺ - ξ)/σ; ≥ 0."""
    sigma = sigma.clamp_min(1e-12)
    imp = mu - best - xi
    u = imp / sigma
    normal = torch.distributions.Normal(torch.zeros((), dtype=mu.dtype), torch.ones((), dtype=mu.dtype))
    ei = imp * normal.cdf(u) + sigma * torch.exp(normal.log_prob(u))
    return ei.clamp_min(0.0)


def maximize_ei(
    gp: GaussianProcess,
    center: torch.Tensor,
    half_width: torch.Tensor,
    best: float,
    q: int = 1,
    n_candidates: int = 1000,
    n_starts: int = 4,
    steps: int = 20,
    generator: torch.Generator | None = None,
    bounds: float | None = None,
) -> torch.Tensor:
    """``q`` points (q, D) of high EI in the box ``center ± half_width`` (kriging believer between points).

    Each point: ``n_candidates`` uniform candidates in the box scored by EI; Adam ascent of EI (``steps`` steps,
    clamped to the box) from the ``n_starts`` best; the best result is kept and added to a copy of the GP with
    its posterior mean as a fantasy target. ``bounds``: also clamp every coordinate to [-bounds, bounds].
    """
    lo, hi = center - half_width, center + half_width
    if bounds is not None:
        lo, hi = lo.clamp(-bounds, bounds), hi.clamp(-bounds, bounds)
    model = GaussianProcess(gp.kernel, gp.min_noise)
    model.x, model.y, model.hyper, model.y_mean, model.y_std = gp.x, gp.y, gp.hyper, gp.y_mean, gp.y_std
    model._chol, model._alpha = gp._chol, gp._alpha
    chosen = []
    for _ in range(q):
        u = torch.rand(n_candidates, len(center), generator=generator, dtype=torch.float64)
        cand = lo.double() + u * (hi - lo).double()
        with torch.no_grad():
            ei = expected_improvement(*model.posterior(cand), best)
        starts = cand[ei.argsort(descending=True)[:n_starts]].clone().requires_grad_(True)
        opt = torch.optim.Adam([starts], lr=0.05 * float((hi - lo).mean()))
        for _ in range(steps):
            opt.zero_grad()
            (-expected_improvement(*model.posterior(starts), best).sum()).backward()
            opt.step()
            with torch.no_grad():
                starts.copy_(torch.maximum(torch.minimum(starts, hi.double()), lo.double()))
        with torch.no_grad():
            final = expected_improvement(*model.posterior(starts), best)
            x = starts[final.argmax()].detach().unsqueeze(0)
            mu, _ = model.posterior(x)
        chosen.append(x)
        model.add_fantasy(x, mu)
    return torch.cat(chosen).to(center.dtype)
