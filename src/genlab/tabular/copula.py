"""``tabular/copula``: a Gaussian copula with per-column marginals; ``tabular/marginals``: independent marginals.

Every column is mapped to a standard-normal score through its own marginal and the dependence between
columns is a Gaussian copula — a multivariate normal of the scores with correlation matrix ``R`` (Sklar 1959;
the copula model of synthetic data of Patki et al. 2016, "The Synthetic Data Vault"):

* numerical, integer and datetime columns: the quantile-normal score of the table transformer (``numerical_
  encoding = "quantile"``): ``z = Φ⁻¹(F̂(x))`` with ``F̂`` the column's empirical CDF (its quantile table), so the
  marginal is the data's own distribution, not a parametric fit;
* categorical and boolean columns, and the present/missing indicator of a column with missing values: the
  categories in their encoded order split [0, 1] into intervals of their frequencies; a row's score is
  ``Φ⁻¹(u)`` with ``u`` drawn uniformly inside its category's interval (the frequency encoding of categories
  in a Gaussian copula).

``R`` is the sample correlation of the scores, shrunk by ``shrinkage`` towards the identity so it stays
positive definite. Sampling draws ``z ~ N(0, R)``, keeps numerical scores as they are (the transformer
inverts the quantile map) and turns a categorical score into the category whose interval holds ``Φ(z)``.
``tabular/marginals`` is the same model with ``R = I``: every column drawn independently from its marginal —
the trivial baseline every synthesiser has to beat on column-pair trends.

Both score rows as anomalies (:meth:`GaussianCopula.score_rows`): the negative log of the copula density at the
rows' normal scores times their marginal densities, in nats (:mod:`genlab.tabular.likelihood`).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import torch
from pydantic import Field

from genlab.core.errors import BadInputError, GenlabError
from genlab.core.model import register_model
from genlab.tabular.base import TabularModel, TabularModelConfig

EPS = 1e-6


class CopulaConfig(TabularModelConfig):
    """Gaussian copula options."""

    shrinkage: float = Field(
        1e-3, ge=0, le=1, description="weight of the identity mixed into the correlation matrix (keeps it invertible)"
    )
    max_fit_rows: int = Field(200_000, ge=100, description="rows used to estimate the correlation matrix")


@register_model("tabular/copula")
class GaussianCopula(TabularModel):
    """Gaussian copula over per-column marginals (module docstring); fitted in closed form in seconds."""

    config_class = CopulaConfig
    description: ClassVar[str] = "Gaussian copula: per-column marginals joined by a correlation matrix"
    numerical_encoding = "quantile"
    fits_in_closed_form = True
    can_score = True
    #: False: the correlation matrix stays the identity (independent columns)
    correlated: ClassVar[bool] = True
    config: CopulaConfig

    def __init__(self, config: CopulaConfig):
        super().__init__(config)
        self.dims = [s for s in self.spans if s.kind == "alpha" or s.role in ("category", "missing")]
        m = len(self.dims)
        self.register_buffer("correlation", torch.eye(m))
        widths = [s.width for s in self.dims if s.kind == "softmax"]
        self.register_buffer("frequencies", torch.zeros(sum(widths)))  # category frequencies, span after span
        offsets, at = [], 0
        for s in self.dims:
            offsets.append(at if s.kind == "softmax" else -1)
            at += s.width if s.kind == "softmax" else 0
        self.offsets = offsets

    def optimizer_groups(self):
        raise GenlabError(f"{self.registry_name} is fitted in closed form, not by gradient steps")

    def _cumulative(self, i: int) -> torch.Tensor:
        s = self.dims[i]
        p = self.frequencies[self.offsets[i] : self.offsets[i] + s.width]
        return torch.cumsum(p / p.sum().clamp_min(EPS), 0)

    def fit(self, train_dataset: Any, val_dataset: Any | None = None) -> dict[str, float]:
        """Category frequencies and the correlation of the normal scores of the training rows."""
        x = train_dataset.encoded
        if x is None or len(x) < 2:
            raise BadInputError("the copula needs at least two rows", "give a table with more rows")
        g = torch.Generator().manual_seed(0)
        if len(x) > self.config.max_fit_rows:
            x = x[torch.randperm(len(x), generator=g)[: self.config.max_fit_rows]]
        for i, s in enumerate(self.dims):
            if s.kind == "softmax":
                counts = x[:, s.start : s.stop].sum(0)
                self.frequencies[self.offsets[i] : self.offsets[i] + s.width] = counts / counts.sum().clamp_min(1)
        normal = torch.distributions.Normal(0.0, 1.0)
        scores = torch.empty(len(x), len(self.dims), dtype=torch.float64)
        for i, s in enumerate(self.dims):
            if s.kind == "alpha":
                scores[:, i] = x[:, s.start].double()
                continue
            cum = self._cumulative(i).double()
            k = x[:, s.start : s.stop].argmax(1)
            low = torch.where(k > 0, cum[(k - 1).clamp_min(0)], torch.zeros_like(cum[k]))
            u = low + (cum[k] - low) * torch.rand(len(x), generator=g, dtype=torch.float64)
            scores[:, i] = normal.icdf(u.clamp(EPS, 1 - EPS))
        if self.correlated and len(self.dims) > 1:
            corr = torch.corrcoef(scores.T)
            corr = torch.nan_to_num(corr, nan=0.0)  # a constant column correlates with nothing
            corr.fill_diagonal_(1.0)
            shrink = self.config.shrinkage
            self.correlation.copy_(((1 - shrink) * corr + shrink * torch.eye(len(self.dims))).float())
        off = self.correlation - torch.diag(torch.diag(self.correlation))
        return {"rows": float(len(x)), "mean_abs_correlation": float(off.abs().sum() / max(1, off.numel() - len(off)))}

    def generate_encoded(self, n: int, generator: torch.Generator | None = None, conditions=None) -> torch.Tensor:
        m = len(self.dims)
        chol = torch.linalg.cholesky(self.correlation.double())
        z = torch.randn(n, m, generator=generator, dtype=torch.float64) @ chol.T
        out = torch.zeros(n, self.config.data_dim)
        u = 0.5 * (1 + torch.erf(z / math.sqrt(2)))
        for i, s in enumerate(self.dims):
            if s.kind == "alpha":
                out[:, s.start] = z[:, i].float()
                continue
            cum = self._cumulative(i).double()
            k = torch.searchsorted(cum.contiguous(), u[:, i].contiguous()).clamp_max(s.width - 1)
            out[torch.arange(n), s.start + k] = 1.0
        for s in self.spans:  # mode spans do not occur with quantile encoding; fill any other block validly
            if s.kind == "softmax" and s not in self.dims:
                out[:, s.start] = 1.0
        return out

    @torch.no_grad()
    def score_rows(self, table, samples: int = 16, generator: torch.Generator | None = None) -> np.ndarray:
        """Negative log-likelihood in nats (n,) of the rows of ``table``: −[log c(z) + Σ_j log f_j(x_j)].

        * c: the Gaussian copula density at the rows' normal scores z (Sklar 1959), log N(z; 0, R) − Σ log φ(z_i)
          (:func:`~genlab.tabular.likelihood.gaussian_copula_log_density`; 0 for ``marginals``, R = I).
          A numerical score is the transformer's quantile-normal value (0 for a missing value); a category's is
          Φ⁻¹ of the middle of its frequency interval — the copula density at that point standing in for the
          probability of the whole interval, an approximation that keeps the score deterministic.
        * f_j: numerical columns, the density of the quantile table with an out-of-range tail
          (:func:`~genlab.tabular.likelihood.numerical_log_density`); categorical and boolean columns and
          present/missing indicators, the training frequency of the row's category.

        A value the model never saw (a category with no training rows, a missing value in a column that had
        none) counts its column at ``UNSEEN_PROBABILITY`` with normal score 0. ``samples`` and ``generator`` are
        unused (the score is closed form)."""
        from scipy.special import ndtri

        from genlab.tabular import likelihood as L
        from genlab.tabular.transform import _as_values

        encoded, unseen, data = L.encode_for_scoring(self.transformer, table)
        x, n = encoded.astype(np.float64), len(encoded)
        encoders = {enc.name: enc for enc in self.transformer.encoders}
        z = np.zeros((n, len(self.dims)))
        per_column: dict[str, np.ndarray] = {}
        frequencies = self.frequencies.double().cpu().numpy()
        for i, s in enumerate(self.dims):
            if s.kind == "alpha":  # a quantile-normal score; missing values were encoded as 0
                z[:, i] = x[:, s.start]
                values = _as_values(data[s.column], encoders[s.column].kind)
                present = ~np.isnan(values)
                log_f = np.zeros(n)
                log_f[present] = L.numerical_log_density(encoders[s.column], values[present])
            else:
                p = frequencies[self.offsets[i] : self.offsets[i] + s.width]
                p = p / max(p.sum(), EPS)
                k = x[:, s.start : s.stop].argmax(1)
                seen = p[k] > 0
                middle = np.cumsum(p)[k] - p[k] / 2  # the middle of the category's interval of [0, 1]
                z[:, i] = np.where(seen, ndtri(np.clip(middle, EPS, 1 - EPS)), 0.0)
                log_f = np.where(seen, np.log(np.where(seen, p[k], 1.0)), math.log(L.UNSEEN_PROBABILITY))
            per_column[s.column] = per_column.get(s.column, np.zeros(n)) + log_f
        for column, bad in unseen.items():  # the whole column at the floor, its normal scores neutral
            per_column[column] = np.where(bad, math.log(L.UNSEEN_PROBABILITY), per_column.get(column, 0.0))
            z[bad[:, None] & np.array([s.column == column for s in self.dims])[None, :]] = 0.0
        log_copula = L.gaussian_copula_log_density(z, self.correlation.double().cpu().numpy())
        return -(log_copula + sum(per_column.values(), np.zeros(n)))


@register_model("tabular/marginals")
class IndependentMarginals(GaussianCopula):
    """Every column drawn independently from its own marginal: the trivial baseline."""

    description: ClassVar[str] = "independent marginals: each column drawn on its own (the trivial baseline)"
    correlated: ClassVar[bool] = False
