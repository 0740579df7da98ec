"""Log-likelihoods of table rows: the pieces the tabular models share to score rows as anomalies.

An anomaly score of a row is its negative log-likelihood under a fitted model, in nats: higher means less
likely under the model, so more anomalous. Each model that can score implements
:meth:`~genlab.tabular.base.TabularModel.score_rows` (the Gaussian copula and independent marginals in
:mod:`genlab.tabular.copula`, TVAE in :mod:`genlab.tabular.tvae`); this module holds what they share:

* :func:`encode_for_scoring`: rows encoded by the model's own table transformer. A value the transformer
  never saw — a category absent from the training rows, a missing value in a column that had none — cannot
  be encoded; it is replaced by a placeholder (the first slot of its spans) and flagged, and the model counts
  that column at the floor probability :data:`UNSEEN_PROBABILITY` (1e-6, 13.8 nats) instead of its own
  likelihood: less likely than any category seen in fewer than a million training rows.
* :func:`numerical_log_density`: the log density of a quantile-encoded numerical column (below).
* :func:`gaussian_copula_log_density`: log c(z) = log N(z; 0, R) − Σ_i log φ(z_i), the log density of a
  Gaussian copula (Sklar 1959) at the normal scores z, in closed form −½ zᵀ(R⁻¹ − I)z − ½ log det R.

Numerical density. The transformer's quantile table q_0 ≤ … ≤ q_{K−1} (probabilities j/(K−1)) defines a
piecewise-linear CDF F̂, so a piecewise-constant density (1/(K−1)) / (q_{j+1} − q_j) between knots. Tied
knots (a value seen many times) are point masses, so the density used is that of the value at the column's
resolution h: f̂(v) = [F̂(v + h/2) − F̂(v − h/2)] / h, with h = 1 for integers, 10^−d for numbers written with
d ≤ 6 decimals, a datetime's resolution in seconds, and 10^−6 of the range for other numbers. Between
distinct knots more than h apart it is the piecewise-constant density itself. F̂ is flat outside
[q_0, q_{K−1}], so a value out of the fitted range would have density 0; the density scored is the mixture
(1 − λ) f̂(v) + λ N(v; c, w²) with λ = :data:`TAIL_WEIGHT` (10^−3), c the middle of the fitted range and
w its width (at least h): an out-of-range value scores −log λ + log(w√(2π)) + (v − c)²/(2w²) nats, large but
finite and growing with its distance from the range.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

#: probability a value the model never saw is counted at (an unseen category, an unexpected missing value)
UNSEEN_PROBABILITY = 1e-6
#: weight of the broad Gaussian mixed into a numerical column's density, so out-of-range values stay finite
TAIL_WEIGHT = 1e-3


def encode_for_scoring(transformer, table: pd.DataFrame) -> tuple[np.ndarray, dict[str, np.ndarray], pd.DataFrame]:
    """Encoded rows (n, output_dim) float32 of ``table`` (in the transformer's columns, any dtype it reads);
    per column with values the transformer never saw, a boolean mask (n,) of those rows (their encoded spans
    hold a placeholder: first category, first mode, value 0); and the table typed by the transformer's meta."""
    from genlab.tabular.table import prepare_table
    from genlab.tabular.transform import _as_values, _category_keys, _CategoryEncoder, _ContinuousEncoder

    data = prepare_table(table, transformer.meta)
    blocks, unseen = [], {}
    for enc in transformer.encoders:
        if not enc.width:
            continue
        s = data[enc.name]
        if isinstance(enc, _CategoryEncoder):
            keys = _category_keys(s)
            missing = keys.isna().to_numpy()
            known = keys.map(enc.index).notna().to_numpy()
            bad = np.where(missing, not enc.has_missing, ~known)
        elif isinstance(enc, _ContinuousEncoder):
            bad = np.isnan(_as_values(s, enc.kind)) & (not enc.has_missing)
        else:
            bad = np.zeros(len(s), dtype=bool)
        block = np.zeros((len(s), enc.width), dtype=np.float64)
        if (~bad).any():
            block[~bad] = enc.encode(s[~bad])
        if bad.any():
            unseen[enc.name] = bad
            # placeholder: first category; for a mode-encoded number (no missing span here) α = 0 in mode 0
            block[bad, 1 if isinstance(enc, _ContinuousEncoder) and enc.n_modes else 0] = 1.0
        blocks.append(block)
    encoded = np.concatenate(blocks, axis=1) if blocks else np.zeros((len(data), 0))
    return encoded.astype(np.float32), unseen, data


def resolution(encoder: Any) -> float:
    """The width h of the bins a numerical column's density is measured on (module docstring)."""
    if encoder.kind == "datetime" and encoder.resolution_ns:
        return encoder.resolution_ns / 1e9
    if encoder.decimals is not None:
        return 10.0 ** (-encoder.decimals)
    span = float(encoder.quantiles[-1] - encoder.quantiles[0])
    return 1e-6 * span if span > 0 else 1e-6


def _cdf(v: np.ndarray, q: np.ndarray, p: np.ndarray) -> np.ndarray:
    # forward and backward interpolation averaged: at a tied knot (a jump of F̂) the middle of the jump
    return 0.5 * (np.interp(v, q, p) - np.interp(-v, -q[::-1], -p[::-1]))


def numerical_log_density(encoder: Any, values: np.ndarray) -> np.ndarray:
    """log density (n,) of ``values`` (float64; seconds for datetimes; NaN stays NaN) under the quantile table
    of a quantile-encoded continuous column, with the out-of-range tail of the module docstring."""
    q = np.asarray(encoder.quantiles, dtype=np.float64)
    p = np.linspace(0.0, 1.0, len(q))
    h = resolution(encoder)
    mass = np.clip(_cdf(values + h / 2, q, p) - _cdf(values - h / 2, q, p), 0.0, 1.0)
    centre, width = 0.5 * (q[0] + q[-1]), max(float(q[-1] - q[0]), h)
    log_tail = math.log(TAIL_WEIGHT) - 0.5 * ((values - centre) / width) ** 2 - math.log(width * math.sqrt(2 * math.pi))
    with np.errstate(divide="ignore"):
        log_body = np.log1p(-TAIL_WEIGHT) + np.log(mass / h)
    return np.logaddexp(log_body, log_tail)


def gaussian_copula_log_density(z: np.ndarray, correlation: np.ndarray) -> np.ndarray:
    """log c(z) = log N(z; 0, R) − Σ_i log φ(z_i) per row (n,) of normal scores ``z`` (n, m); 0 for R = I."""
    z = np.asarray(z, dtype=np.float64)
    if z.shape[1] == 0:
        return np.zeros(len(z))
    chol = np.linalg.cholesky(np.asarray(correlation, dtype=np.float64))
    y = np.linalg.solve(chol, z.T).T  # (n, m): zᵀ R⁻¹ z = |y|²
    log_det = 2.0 * np.log(np.diag(chol)).sum()
    return -0.5 * ((y**2).sum(1) - (z**2).sum(1)) - 0.5 * log_det


def scoring_models() -> list[str]:
    """Names (``copula``, ``tvae``, …, without the ``tabular/`` prefix) of the tabular models that can score
    rows (``can_score``)."""
    from genlab.core.registry import MODELS

    return sorted(
        name.split("/", 1)[1]
        for name, cls in MODELS.loaded()
        if name.startswith("tabular/") and getattr(cls, "can_score", False)
    )
