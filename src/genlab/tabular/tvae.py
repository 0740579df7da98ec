"""``tabular/tvae``: the tabular variational autoencoder TVAE (Xu et al. 2019, Modeling Tabular data using
Conditional GAN, section 4.2 and appendix).

An encoder MLP maps an encoded row x (spans of :mod:`genlab.tabular.spans`) to the mean μ and log-variance
log σ² of a Gaussian posterior q(z | x); a decoder MLP maps z back to one output per span:

* alpha span: the mean of a Gaussian p(x_alpha | z) = N(m, σ²), with m = tanh(decoder) for bounded alphas
  (they lie in [-1, 1]) and the raw output for unbounded ones. σ is a learned scale per alpha column, shared
  by all rows, clamped to [0.01, 1] as in the paper's implementation;
* softmax span: the logits of a categorical p(x_block | z).

Loss per row (averaged over the batch), the negative evidence lower bound with the reconstruction term
weighted by ``loss_factor`` (the paper's code uses 2):

    loss_factor · [Σ_alpha ((x - m)² / 2σ² + log σ) + Σ_softmax CE(logits, x)] + KL(q(z | x) ‖ N(0, I))

(the Gaussian NLL without its constant ½ log 2π). Sampling: z ~ N(0, I), decode, alpha = its mean, softmax
blocks = one-hot of the argmax, the decision rule of the paper's sampling code (no noise is added to the
mean, and the category is the most likely one given z: the spread comes from z).

Anomaly scores (:meth:`TVAE.score_rows`): the importance-weighted bound on −log p(x) of Burda et al. 2016 with
k draws from q(z | x) (k = 1: the negative ELBO), with the decoder's likelihood unweighted and its Gaussian
constant included, in nats per encoded row.

The networks hold only ``Linear`` and ``ReLU`` layers (no BatchNorm, nothing in place), so per-sample
gradients for DP-SGD (Opacus) are available for every parameter; σ is a linear layer on a constant input
for that reason.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from genlab.core.errors import BadInputError
from genlab.core.model import OptimizerSpec, register_model
from genlab.tabular.base import CategoryCondition, TabularModel, TabularModelConfig
from genlab.tabular.spans import check_layout

#: bounds of the decoder's σ for alpha columns and its initial value (the paper's implementation)
SIGMA_MIN, SIGMA_MAX, SIGMA_INIT = 0.01, 1.0, 0.1


class TVAEConfig(TabularModelConfig):
    """TVAE hyper-parameters (defaults of Xu et al. 2019)."""

    embedding_dim: int = Field(128, ge=1, le=4096, description="size of the latent code z")
    hidden: list[Annotated[int, Field(ge=1, le=65536)]] = Field(
        default_factory=lambda: [128, 128],
        description="widths of the encoder's hidden layers (the decoder uses them in reverse order)",
    )
    lr: float = Field(1e-3, gt=0, le=1, description="Adam learning rate")
    weight_decay: float = Field(1e-5, ge=0, le=1, description="Adam weight decay (L2 penalty)")
    loss_factor: float = Field(2.0, gt=0, description="weight of the reconstruction term against the KL term")
    categories: Literal["sample", "argmax"] = Field(
        "sample", description="generated categories (and modes): drawn from the decoder's softmax, or its argmax"
    )


def mlp(dims: list[int]) -> nn.Sequential:
    """Linear → ReLU between consecutive ``dims``, with no activation after the last Linear."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(dims) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class AlphaScale(nn.Module):
    """The decoder's σ per alpha column, shared by every row, clamped to [SIGMA_MIN, SIGMA_MAX].

    A bias-free linear layer applied to a constant 1 (its weight is σ): to DP-SGD libraries this is an
    ordinary ``Linear`` layer whose per-sample gradients they know how to compute.
    """

    def __init__(self, n_alpha: int):
        super().__init__()
        self.sigma = nn.Linear(1, n_alpha, bias=False)
        nn.init.constant_(self.sigma.weight, SIGMA_INIT)

    def forward(self, n: int, like: torch.Tensor) -> torch.Tensor:
        """σ broadcast to ``n`` rows: (n, n_alpha)."""
        return self.sigma(like.new_ones(n, 1)).clamp(SIGMA_MIN, SIGMA_MAX)


@register_model("tabular/tvae")
class TVAE(TabularModel):
    """Tabular VAE (Xu et al. 2019): one optimizer group ``tvae``; :meth:`generate_encoded` decodes z ~ N(0, I)."""

    config_class: ClassVar[type[TVAEConfig]] = TVAEConfig
    description: ClassVar[str] = "tabular variational autoencoder TVAE (Xu et al. 2019)"
    config: TVAEConfig
    can_score = True

    def __init__(self, config: TVAEConfig):
        super().__init__(config)
        who = self.registry_name or type(self).__name__
        check_layout(self.spans, config.data_dim, who)
        hidden = list(config.hidden)
        self.encoder = mlp([config.data_dim, *hidden, 2 * config.embedding_dim])  # -> [μ, log σ²]
        self.decoder = mlp([config.embedding_dim, *reversed(hidden), config.data_dim])
        alphas = [s for s in self.spans if s.kind == "alpha"]
        self.softmax_spans = [s for s in self.spans if s.kind == "softmax"]
        self.alpha_scale = AlphaScale(len(alphas)) if alphas else None
        self.spans_by_start = {s.start: s for s in self.spans}
        # index buffers (not saved: they follow from the spans) so they move with the model's device
        self.register_buffer("alpha_index", torch.tensor([s.start for s in alphas], dtype=torch.long), persistent=False)
        self.register_buffer(
            "alpha_bounded", torch.tensor([s.bounded for s in alphas], dtype=torch.bool), persistent=False
        )

    # --- networks ---------------------------------------------------------------
    def encode(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance, each (B, embedding_dim), of encoded rows (B, data_dim)."""
        mu, logvar = self.encoder(rows).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Raw decoder outputs (B, data_dim): alpha pre-activations and softmax logits, laid out as the spans."""
        return self.decoder(z)

    def alpha_means(self, out: torch.Tensor) -> torch.Tensor:
        """The Gaussian means (B, n_alpha) of the alpha columns: tanh for bounded ones, raw otherwise."""
        raw = out[:, self.alpha_index]
        return torch.where(self.alpha_bounded, torch.tanh(raw), raw)

    # --- training -----------------------------------------------------------------
    def optimizer_groups(self) -> list[OptimizerSpec]:
        c = self.config
        return [OptimizerSpec("tvae", list(self.parameters()), lr=c.lr, weight_decay=c.weight_decay)]

    def training_losses(self, batch: Any, group: str) -> dict[str, torch.Tensor]:
        """``loss`` (the negative ELBO per row), ``reconstruction`` (× loss_factor) and ``kl``, batch means."""
        if group != "tvae":
            raise BadInputError(f"unknown optimizer group '{group}'", "TVAE has one group, 'tvae'")
        rows = self.rows_of(batch)
        mu, logvar = self.encode(rows)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)  # reparameterisation (Kingma & Welling 2014)
        out = self.decode(z)
        reconstruction = self.config.loss_factor * self.reconstruction_nll(out, rows).mean()
        kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)).mean()
        return {"loss": reconstruction + kl, "reconstruction": reconstruction, "kl": kl}

    def reconstruction_nll(self, out: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """Per-row negative log-likelihood (B,) of ``rows`` under the decoder outputs ``out`` (module docstring)."""
        nll = rows.new_zeros(rows.shape[0])
        if self.alpha_scale is not None:
            sigma = self.alpha_scale(rows.shape[0], rows)  # (B, n_alpha)
            target = rows[:, self.alpha_index]
            nll = nll + ((target - self.alpha_means(out)).pow(2) / (2 * sigma.pow(2)) + sigma.log()).sum(1)
        for s in self.softmax_spans:
            target = rows[:, s.start : s.stop].argmax(1)
            nll = nll + F.cross_entropy(out[:, s.start : s.stop], target, reduction="none")
        return nll

    # --- likelihood ---------------------------------------------------------------
    def span_log_likelihoods(self, out: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """log p(x_span | z) in nats (B, n_spans) of ``rows`` under the decoder outputs ``out``, span by span in
        :attr:`spans` order: alphas log N(x; m, σ²) (with its ½ log 2π), softmax blocks log softmax(logits)[x]."""
        columns, alpha_at = [], 0
        if self.alpha_scale is not None:
            sigma = self.alpha_scale(rows.shape[0], rows)  # (B, n_alpha)
            residual = (rows[:, self.alpha_index] - self.alpha_means(out)) / sigma
            alpha_log = -0.5 * residual.pow(2) - sigma.log() - 0.5 * math.log(2 * math.pi)
        for s in self.spans:
            if s.kind == "alpha":
                columns.append(alpha_log[:, alpha_at])
                alpha_at += 1
            else:
                target = rows[:, s.start : s.stop].argmax(1, keepdim=True)
                columns.append(F.log_softmax(out[:, s.start : s.stop], 1).gather(1, target).squeeze(1))
        return torch.stack(columns, 1)

    @torch.no_grad()
    def score_rows(self, table, samples: int = 16, generator: torch.Generator | None = None) -> np.ndarray:
        """Negative log-likelihood bound in nats (n,) of the rows of ``table`` as the model encodes them — a
        density of the *encoded* row (α offsets within modes, one-hot modes and categories), not of raw values.

        The importance-weighted bound of Burda et al. 2016 with k = ``samples`` draws z_k ~ q(z | x):
        −log (1/k) Σ_k p(x | z_k) p(z_k) / q(z_k | x), which tightens towards −log p(x) as k grows; k = 1 is a
        one-draw estimate of the negative ELBO (Kingma & Welling 2014). p(x | z) is the decoder's likelihood
        without TVAE's ``loss_factor`` weighting. z is drawn on the CPU with ``generator`` (the same generator
        gives the same scores). A value the model never saw counts its column at ``UNSEEN_PROBABILITY``."""
        from genlab.tabular.likelihood import UNSEEN_PROBABILITY, encode_for_scoring

        if samples < 1:
            raise BadInputError(f"samples must be at least 1, got {samples}", "e.g. samples=16")
        encoded, unseen, _ = encode_for_scoring(self.transformer, table)
        rows = torch.from_numpy(encoded).to(self.device)
        # the log-likelihood of a column with an unseen value is the floor, carried by its first span
        floor = torch.zeros(len(rows), len(self.spans), dtype=torch.float64)
        replaced = torch.zeros(len(rows), len(self.spans), dtype=torch.bool)
        for j, s in enumerate(self.spans):
            if s.column in unseen:
                bad = torch.from_numpy(unseen[s.column])
                replaced[:, j] = bad
                first = next(i for i, t in enumerate(self.spans) if t.column == s.column) == j
                floor[bad, j] = math.log(UNSEEN_PROBABILITY) if first else 0.0
        scores, chunk = [], max(1, 65536 // samples)
        for at in range(0, len(rows), chunk):
            part = slice(at, at + chunk)
            log_w = self._log_weights(rows[part], samples, generator, floor[part], replaced[part])  # (k, B)
            scores.append(-(torch.logsumexp(log_w, 0) - math.log(samples)))
        return torch.cat(scores).numpy() if scores else np.zeros(0)

    def _log_weights(self, rows, k, generator, floor, replaced) -> torch.Tensor:
        """log p(x | z_k) + log p(z_k) − log q(z_k | x), float64 (k, B), for k draws z_k ~ q(z | x)."""
        mu, logvar = self.encode(rows)
        std = torch.exp(0.5 * logvar)
        eps = torch.randn(k, *mu.shape, generator=generator).to(mu.device)  # drawn on the CPU: same scores anywhere
        z = mu + std * eps  # (k, B, embedding_dim)
        log_q = torch.distributions.Normal(mu, std).log_prob(z).sum(-1)
        log_prior = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
        repeated = rows.repeat(k, 1)
        terms = self.span_log_likelihoods(self.decode(z.reshape(-1, z.shape[-1])).float(), repeated)
        terms = terms.double().cpu().reshape(k, len(rows), -1)
        terms = torch.where(replaced[None], floor[None], terms)
        return terms.sum(-1) + (log_prior - log_q).double().cpu()

    # --- generation ---------------------------------------------------------------
    @torch.no_grad()
    def generate_encoded(
        self,
        n: int,
        generator: torch.Generator | None = None,
        conditions: list[CategoryCondition] | None = None,
    ) -> torch.Tensor:
        """``n`` encoded rows (n, data_dim), float32 on the CPU: decode z ~ N(0, I) drawn with ``generator``.

        Alphas are drawn from the decoder's Gaussian, ``tanh(mean) + σ·ε`` with the learned σ (as the TVAE
        reference implementation decodes them; bounded alphas clipped to [-1, 1]); softmax blocks are one-hot
        categories drawn from the decoder's softmax (``categories="sample"``, which keeps rare categories at
        their rate) or its argmax. ``conditions`` are not honoured (``conditions_natively`` is False): the
        caller rejects rows.
        """
        if n < 0:
            raise BadInputError(f"cannot generate {n} rows", "ask for a number of rows ≥ 0")
        z = torch.randn(n, self.config.embedding_dim, generator=generator)  # drawn on the CPU: same rows anywhere
        out = self.decode(z.to(self.device)).float()
        rows = torch.zeros(n, self.config.data_dim)
        if self.alpha_scale is not None:
            index = self.alpha_index.cpu()
            sigma = self.alpha_scale(n, out).cpu()
            noise = torch.randn(n, len(index), generator=generator)
            alphas = self.alpha_means(out).cpu() + sigma * noise
            bounded = torch.tensor([self.spans_by_start[int(i)].bounded for i in index], dtype=torch.bool)
            rows[:, index] = torch.where(bounded, alphas.clamp(-1, 1), alphas)
        out = out.cpu()
        for s in self.softmax_spans:
            logits = out[:, s.start : s.stop]
            if self.config.categories == "sample":
                pick = torch.multinomial(torch.softmax(logits, 1), 1, generator=generator).squeeze(1)
            else:
                pick = logits.argmax(1)
            rows[:, s.start : s.stop] = F.one_hot(pick, s.width).float()
        return rows
