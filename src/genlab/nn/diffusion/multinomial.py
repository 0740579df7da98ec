"""Multinomial diffusion of categorical variables, in log space (Hoogeboom et al. 2021, "Argmax Flows and
Multinomial Diffusion: Learning Categorical Distributions", §4).

Several categorical variables, each with its own number of classes K, lie side by side as one-hot blocks
of a (B, ΣK) matrix (a table's categorical columns, the tokens of a short sequence, …). With the β_t of a
:class:`~genlab.nn.diffusion.schedules.NoiseSchedule`, α_t = 1 - β_t and ᾱ_t = Π_{s≤t} α_s:

* forward step: q(x_t | x_{t-1}) = Cat(α_t x_{t-1} + (1 - α_t)/K): keep the class or resample it uniformly;
* marginal: q(x_t | x_0) = Cat(ᾱ_t x_0 + (1 - ᾱ_t)/K), uniform as ᾱ_t → 0;
* posterior: q(x_s | x_t, x_0) ∝ [α x_t + (1 - α)/K] ⊙ [ᾱ_s x_0 + (1 - ᾱ_s)/K] for s < t, with α = ᾱ_t/ᾱ_s.
  For s = t - 1 this is the paper's θ_post (eq. 12); for an earlier s (a strided sampling grid) it is exact
  too: the step matrices α I + (1 - α)/K·11ᵀ commute and compose by multiplying their α, so the chain
  between two grid points is one step with β = 1 - ᾱ_t/ᾱ_s recomputed from the cumulative ᾱ;
* reverse model: p(x_s | x_t) = the posterior with x_0 replaced by the network's class probabilities x̂_0;
* loss at t > 0: KL(q(x_{t-1} | x_t, x_0) ‖ p(x_{t-1} | x_t)); at t = 0 the decoder term -log p(x_0 | x_1)
  (the posterior towards clean data puts all its mass on x_0, so its KL would be that NLL plus a constant).

Time points follow :class:`NoiseSchedule`: integers in [-1, T), where -1 is clean data (ᾱ = 1).
Everything is computed on log-probabilities (``logaddexp``), so tiny ᾱ_t never underflow; one-hot
rows enter as log(max(x, 1e-30)).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from genlab.nn.diffusion.schedules import NoiseSchedule

#: log of the zero entries of a one-hot row (≈ -69): finite, so 0·log 0 terms stay 0 instead of NaN
LOG_EPS = 1e-30


def log_onehot(x: torch.Tensor) -> torch.Tensor:
    """log x of one-hot (or probability) rows, with zeros as log 1e-30."""
    return torch.log(x.clamp_min(LOG_EPS))


class MultinomialDiffusion:
    """Multinomial diffusion of ``len(num_classes)`` categorical variables laid out as one-hot blocks.

    ``schedule`` supplies β_t (the same chain as a Gaussian part, as in TabDDPM); ``num_classes[j]`` is the
    number of classes K_j of variable j, whose block takes columns ``offsets[j] : offsets[j] + K_j``.
    Time arguments ``t`` are ints or (B,) long tensors in [-1, T).
    """

    def __init__(self, schedule: NoiseSchedule, num_classes: Sequence[int]):
        if not num_classes or min(num_classes) < 1:
            raise ValueError(f"multinomial diffusion needs variables with at least one class, got {num_classes}")
        self.schedule = schedule
        self.num_timesteps = schedule.num_timesteps
        self.num_classes = [int(k) for k in num_classes]
        k = torch.tensor(self.num_classes)
        self.width = int(k.sum())
        self.max_classes = int(k.max())
        self.block = torch.repeat_interleave(torch.arange(len(k)), k)  # (D,): the variable of each column
        self.offsets = torch.cumsum(k, 0) - k  # (V,): first column of each block
        self.position = torch.arange(self.width) - self.offsets[self.block]  # (D,): class index within the block
        self.log_k = torch.log(k.double())[self.block]  # (D,): log K of each column's variable
        # log ᾱ_t and log(1 - ᾱ_t) for t = -1 … T-1 (index t + 1); ᾱ_{-1} = 1, so log(1 - ᾱ_{-1}) = -inf
        log_abar = torch.cat([torch.zeros(1, dtype=torch.float64), torch.cumsum(torch.log1p(-schedule.betas), 0)])
        self.log_abar = log_abar
        self.log_1m_abar = torch.log(-torch.expm1(log_abar))

    # --- helpers ------------------------------------------------------------------
    def _column(self, values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """Per-column constants (D,) as a (1, D) row in ``like``'s dtype and device."""
        return values.to(device=like.device, dtype=like.dtype)[None]

    @staticmethod
    def _per_row(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """A scalar or (B,) coefficient as a scalar or (B, 1) column in ``like``'s dtype and device."""
        values = values.to(device=like.device, dtype=like.dtype)
        return values.reshape(-1, 1) if values.dim() else values

    def _at(self, table: torch.Tensor, t: int | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """``table[t + 1]`` (a table over t = -1 … T-1) per row of ``like``."""
        return self._per_row(table[torch.as_tensor(t, dtype=torch.long).cpu() + 1], like)

    def _padded(self, x: torch.Tensor, fill: float) -> torch.Tensor:
        """(B, D) -> (B, V, K_max), the positions past a block's K set to ``fill``."""
        out = x.new_full((x.shape[0], len(self.num_classes), self.max_classes), fill)
        block, position = self.block.to(x.device), self.position.to(x.device)
        return out.index_put((torch.arange(x.shape[0], device=x.device)[:, None], block, position), x)

    def block_logsumexp(self, x: torch.Tensor) -> torch.Tensor:
        """log Σ exp over each block of (B, D), broadcast back to every column of the block: (B, D).

        Summed block by block over the D columns themselves (a scatter of each block's maximum, then an
        index-add of the shifted exponentials), not over a (B, V, K_max) padding: a table with one category
        column of 42 values and ten small ones would otherwise exponentiate four times the columns it has."""
        block = self.block.to(x.device)
        rows = block.expand(x.shape[0], -1)
        top = x.new_full((x.shape[0], len(self.num_classes)), float("-inf"))
        top = top.scatter_reduce(1, rows, x.detach(), "amax").nan_to_num(neginf=0.0)  # (B, V); any shift is exact
        sums = x.new_zeros(top.shape).index_add(1, block, (x - top[:, block]).exp())
        return (top + sums.log())[:, block]

    def log_softmax(self, logits: torch.Tensor) -> torch.Tensor:
        """Blockwise log-softmax of (B, D) logits: log class probabilities of every variable."""
        return logits - self.block_logsumexp(logits)

    def uniform_log_probs(self, n: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """log 1/K everywhere: the stationary distribution the forward chain tends to, (n, D)."""
        return (-self.log_k).to(device=device, dtype=torch.float32)[None].expand(n, -1).clone()

    # --- forward process ----------------------------------------------------------
    def q_log_probs(self, log_x0: torch.Tensor, t: int | torch.Tensor) -> torch.Tensor:
        """log q(x_t | x_0) = log(ᾱ_t x_0 + (1 - ᾱ_t)/K), (B, D)."""
        log_k = self._column(self.log_k, log_x0)
        return torch.logaddexp(
            log_x0 + self._at(self.log_abar, t, log_x0), self._at(self.log_1m_abar, t, log_x0) - log_k
        )

    def step_log_probs(self, log_x: torch.Tensor, t_from: int | torch.Tensor, t_to: int | torch.Tensor) -> torch.Tensor:
        """log q(x_{t_to} | x_{t_from}) = log(α x + (1 - α)/K), α = ᾱ_{t_to}/ᾱ_{t_from}, for t_to ≥ t_from.

        The transition is symmetric, so the same vector read as a function of x_{t_from} is the likelihood of
        an observed x_{t_to} = ``log_x`` under each class of x_{t_from}.
        """
        index = [torch.as_tensor(t, dtype=torch.long).cpu() + 1 for t in (t_to, t_from)]
        log_alpha = self.log_abar[index[0]] - self.log_abar[index[1]]  # in float64
        log_1m_alpha = torch.log(-torch.expm1(log_alpha))  # -inf when t_to == t_from
        log_k = self._column(self.log_k, log_x)
        return torch.logaddexp(log_x + self._per_row(log_alpha, log_x), self._per_row(log_1m_alpha, log_x) - log_k)

    def q_sample(
        self, x0: torch.Tensor, t: int | torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """One-hot x_t ~ q(x_t | x_0) for one-hot rows ``x0`` (B, D)."""
        return self.sample(self.q_log_probs(log_onehot(x0), t), generator)

    # --- reverse process ----------------------------------------------------------
    def posterior_log_probs(
        self,
        log_x0: torch.Tensor,
        log_xt: torch.Tensor,
        t: int | torch.Tensor,
        t_prev: int | torch.Tensor | None = None,
    ) -> torch.Tensor:
        """log q(x_s | x_t, x_0) for s = ``t_prev`` (default t - 1; any -1 ≤ s < t), normalised per block.

        ``log_x0`` may be the log-probabilities x̂_0 of a network: that is the reverse model p(x_s | x_t).
        """
        if t_prev is None:
            t_prev = torch.as_tensor(t) - 1
        unnormed = self.step_log_probs(log_xt, t_prev, t) + self.q_log_probs(log_x0, t_prev)
        return unnormed - self.block_logsumexp(unnormed)

    def sample(self, log_probs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One-hot rows (B, D) drawn from each block's categorical distribution (Gumbel-max).

        The uniform noise comes from ``generator`` on its device (the same draws on any accelerator), or from
        the global generator of the rows' device when ``generator`` is None.
        """
        device = generator.device if generator is not None else log_probs.device
        u = torch.rand(log_probs.shape, generator=generator, device=device).clamp_min(1e-20).to(log_probs.device)
        scores = self._padded(log_probs - torch.log(-torch.log(u)), float("-inf"))  # (B, V, K_max)
        index = scores.argmax(-1) + self.offsets.to(log_probs.device)  # (B, V): chosen column of each block
        return torch.zeros_like(log_probs).scatter_(1, index, 1.0)

    # --- losses -------------------------------------------------------------------
    @staticmethod
    def kl(log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
        """Σ over all columns of p (log p - log q): the KL divergences of the blocks summed per row, (B,)."""
        return (log_p.exp() * (log_p - log_q)).sum(1)

    def loss_terms(
        self, log_x0: torch.Tensor, log_x0_hat: torch.Tensor, log_xt: torch.Tensor, t: torch.Tensor
    ) -> torch.Tensor:
        """Per-row L_t (B,): KL(q(x_{t-1} | x_t, x_0) ‖ p(x_{t-1} | x_t)) where t > 0; where t = 0 (one step from
        clean data) the decoder term -log p(x_{-1} = x_0 | x_t).

        ``log_x0`` are the true one-hot rows (in log), ``log_x0_hat`` the network's log-probabilities,
        ``log_xt`` the noisy one-hot rows at times ``t`` (B,). Summed over the variables.
        """
        log_model = self.posterior_log_probs(log_x0_hat, log_xt, t)
        kl = self.kl(self.posterior_log_probs(log_x0, log_xt, t), log_model)
        nll = -(log_x0.exp() * log_model).sum(1)
        return torch.where(t.to(kl.device) == 0, nll, kl)

    def kl_prior(self, log_x0: torch.Tensor) -> torch.Tensor:
        """KL(q(x_{T-1} | x_0) ‖ uniform) per row (B,): near 0 when the chain ends in noise (no parameters)."""
        log_q = self.q_log_probs(log_x0, self.num_timesteps - 1)
        return self.kl(log_q, -self._column(self.log_k, log_x0).expand_as(log_q))
