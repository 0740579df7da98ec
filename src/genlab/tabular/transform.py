"""Reversible encoding of a table as a float matrix, laid out in spans (:mod:`genlab.tabular.spans`).

Per column kind, in table order:

* numerical, integer, datetime (as float seconds since 1970-01-01):

  - ``numerical="mode"``: mode-specific normalisation (Xu et al. 2019, "Modeling Tabular Data using
    Conditional GAN", section 4.2). A variational Gaussian mixture (scikit-learn's
    ``BayesianGaussianMixture`` with a Dirichlet-process prior, concentration 0.001, at most
    ``max_modes`` components, 100 iterations) is fitted on at most ``max_fit_rows`` present values
    (a seeded random subset); modes of weight > 0.005 are kept, sorted by mean. A value v is encoded as
    α = clip((v − μ_k) / (4 σ_k), −1, 1) and the one-hot of its mode k. The paper samples k from the
    posterior; here k is the most probable mode (argmax of w_k N(v; μ_k, σ_k)), so an encoding is
    deterministic. Values more than 4σ from their mode are clipped there, a limit of the representation:
    a few far outliers decode to the edge of their mode. Spans: alpha (bounded) then mode (softmax).
  - ``numerical="quantile"``: a quantile transform to a standard normal (as TabDDPM, Kotelnikov et al.
    2023): u = F̂(v) by linear interpolation between ``min(1000, n)`` empirical quantiles of all present
    values (ties take the middle of their probability range), z = Φ⁻¹(ε + (1 − 2ε) u) with ε = 1e-7, so
    z stays within ±5.2 and the extremes decode exactly. One unbounded alpha span. A numerical or integer
    column of repeated values — at most ``MAX_SUPPORT`` distinct ones, each seen ``MIN_REPEATS`` times on
    average — keeps them with their empirical CDF instead (its "support"): a value encodes to the middle of
    its probability range and u decodes to the value whose range holds it (the inverse of the step CDF), so
    spiky columns such as Adult's capital gains (92 % zeros and about a hundred amounts) decode to amounts
    that occur, never to a blend of two neighbours; TabDDPM's own code rounds integer columns of at most 32
    values to the nearest training value for the same reason.
    With ``spikes=True`` (TabDDPM's encoding) a numerical or integer column where one value holds at least
    ``SPIKE_SHARE`` of the present values (capital gains: 0 in 92 % of Adult's rows) gets a ``spike`` softmax
    span [other, spike] before its alpha: the dominant value is a category of its own (α = 0 there), and the
    quantiles or support describe the other values only, so a model learns how often the value occurs as
    it learns a category's share instead of through the tail mass of a Gaussian.
  - a column with missing values gets a ``missing`` softmax span [present, missing] before its value
    spans; missing rows have α = 0 and the first mode.
  - on decoding, values are clipped to the column's [min, max], integers rounded, numbers rounded to the
    decimals the training values have (at most 6), datetimes to their resolution (day, hour, minute,
    second, millisecond, microsecond).

* categorical and boolean: one softmax span (role ``category``) over the column's categories (the
  meta's order, which is sorted; booleans: [False, True]), plus one last entry for missing values when
  the column has any. Booleans decode to bool (pandas "boolean" when the column has missing values).
* identifier: not encoded; decoding makes fresh unique ids: consecutive integers after the largest
  training id when the ids were integers, else ``<column>-000001``, … (six digits, more when the training
  table has a million rows or more).

Softmax blocks are decoded by argmax, so probabilities and one-hot rows both work.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pandas as pd

from genlab.core.errors import BadInputError, closest
from genlab.tabular.spans import Span
from genlab.tabular.table import (
    CONTINUOUS_KINDS,
    ColumnMeta,
    TableMeta,
    category_string,
    datetime_seconds,
    prepare_table,
)

NUMERICAL_ENCODINGS = ("mode", "quantile")
MIN_MODE_WEIGHT = 0.005
QUANTILE_EPS = 1e-7
#: a quantile-encoded numerical or integer column with at most this many distinct values decodes to them
MAX_SUPPORT = 1000
#: ... and when its values repeat at least this often on average (a continuous measurement keeps its quantiles)
MIN_REPEATS = 10
#: with ``spikes=True``, a value holding at least this share of a quantile-encoded column's present values
#: gets its own indicator span
SPIKE_SHARE = 0.5
#: candidate resolutions of datetimes, in nanoseconds: day, hour, minute, second, ms, µs, ns
_RESOLUTIONS_NS = (86_400 * 10**9, 3_600 * 10**9, 60 * 10**9, 10**9, 10**6, 10**3, 1)


def _onehot(index: np.ndarray, width: int) -> np.ndarray:
    out = np.zeros((len(index), width), dtype=np.float64)
    out[np.arange(len(index)), index] = 1.0
    return out


def _unseen_missing(name: str) -> BadInputError:
    return BadInputError(
        f"column '{name}' has missing values, but had none when the transformer was fitted",
        "fill them, or fit on a table where the column has missing values",
    )


class _ContinuousEncoder:
    """Numerical, integer and datetime columns (module docstring)."""

    def __init__(self, name: str, kind: str, encoding: str, state: dict[str, Any]):
        self.name, self.kind, self.encoding = name, kind, encoding
        self.has_missing: bool = state["has_missing"]
        self.low, self.high = state["low"], state["high"]
        self.decimals: int | None = state.get("decimals")
        self.resolution_ns: int | None = state.get("resolution_ns")
        self.means = np.asarray(state.get("means", []), dtype=np.float64)
        self.stds = np.asarray(state.get("stds", []), dtype=np.float64)
        self.weights = np.asarray(state.get("weights", []), dtype=np.float64)
        self.quantiles = np.asarray(state.get("quantiles", []), dtype=np.float64)
        self.support = np.asarray(state.get("support", []), dtype=np.float64)  # distinct values, ascending
        self.support_cdf = np.asarray(state.get("support_cdf", []), dtype=np.float64)  # P(v ≤ support[i])
        self.spike: float | None = state.get("spike")  # the dominant value with its own span, or None

    @classmethod
    def fit(cls, s: pd.Series, column: ColumnMeta, encoding: str, options: dict[str, Any]) -> _ContinuousEncoder:
        values = _as_values(s, column.kind)
        present = values[~np.isnan(values)]
        if len(present) == 0:
            raise BadInputError(f"column '{column.name}' has no values to fit", "drop the column")
        state: dict[str, Any] = {
            "has_missing": bool(np.isnan(values).any()) or bool(column.missing_fraction),
            "low": float(column.min if column.min is not None else present.min()),
            "high": float(column.max if column.max is not None else present.max()),
        }
        if column.kind == "integer":
            state["decimals"] = 0
        elif column.kind == "numerical":
            state["decimals"] = _decimals(present)
        else:
            ns = s.dropna().to_numpy(dtype="datetime64[ns]").astype("int64")
            state["resolution_ns"] = next(r for r in _RESOLUTIONS_NS if np.all(ns % r == 0))
        if encoding == "mode":
            if len(present) > options["max_fit_rows"]:
                rng = np.random.default_rng(options["seed"])
                present = rng.choice(present, options["max_fit_rows"], replace=False)
            state.update(_fit_modes(present, options["max_modes"], options["seed"]))
        else:  # quantiles of every value (a sort), so the extremes are kept
            values, counts = np.unique(present, return_counts=True)
            top = int(np.argmax(counts))
            dominant = len(values) > 1 and counts[top] >= SPIKE_SHARE * len(present)
            if options.get("spikes") and column.kind != "datetime" and dominant:  # the others alone are quantiled
                state["spike"] = float(values[top])
                present = present[present != values[top]]
                values, counts = np.delete(values, top), np.delete(counts, top)
            n_quantiles = max(2, min(1000, len(present)))
            state["quantiles"] = np.quantile(present, np.linspace(0.0, 1.0, n_quantiles)).tolist()
            if column.kind != "datetime" and len(values) <= min(MAX_SUPPORT, len(present) / MIN_REPEATS):
                state["support"] = values.tolist()
                state["support_cdf"] = (np.cumsum(counts) / len(present)).tolist()
        return cls(column.name, column.kind, encoding, state)

    @property
    def n_modes(self) -> int:
        return len(self.means) if self.encoding == "mode" else 0

    def spans(self, start: int) -> list[Span]:
        out = []
        if self.has_missing:
            out.append(Span(self.name, "softmax", "missing", start, 2))
            start += 2
        if self.spike is not None:
            out.append(Span(self.name, "softmax", "spike", start, 2))
            start += 2
        out.append(Span(self.name, "alpha", "value", start, 1, bounded=self.encoding == "mode"))
        if self.encoding == "mode":
            out.append(Span(self.name, "softmax", "mode", start + 1, self.n_modes))
        return out

    @property
    def width(self) -> int:
        return 2 * self.has_missing + 2 * (self.spike is not None) + 1 + self.n_modes

    def encode(self, s: pd.Series) -> np.ndarray:
        values = _as_values(s, self.kind)
        missing = np.isnan(values)
        if missing.any() and not self.has_missing:
            raise _unseen_missing(self.name)
        filled = np.where(missing, 0.0, values)
        if self.encoding == "mode":
            mode = np.where(missing, 0, self._most_probable_mode(filled))
            alpha = np.clip((filled - self.means[mode]) / (4 * self.stds[mode]), -1.0, 1.0)
            blocks = [alpha[:, None], _onehot(mode, self.n_modes)]
        else:
            blocks = [self._quantile_normal(filled)[:, None]]
        alpha_block = blocks[0]
        alpha_block[missing] = 0.0
        if self.spike is not None:
            spike = ~missing & (filled == self.spike)
            alpha_block[spike] = 0.0
            blocks.insert(0, _onehot(spike.astype(int), 2))
        if self.has_missing:
            blocks.insert(0, _onehot(missing.astype(int), 2))
        return np.concatenate(blocks, axis=1)

    def _most_probable_mode(self, v: np.ndarray) -> np.ndarray:
        z = (v[:, None] - self.means[None, :]) / self.stds[None, :]  # (n, K)
        log_density = np.log(self.weights)[None, :] - np.log(self.stds)[None, :] - 0.5 * z**2
        return np.argmax(log_density, axis=1)

    def _quantile_normal(self, v: np.ndarray) -> np.ndarray:
        from scipy.special import ndtri

        if len(self.support):  # the middle of the value's probability range (a value between two: interpolated)
            middles = self.support_cdf - 0.5 * np.diff(self.support_cdf, prepend=0.0)
            u = np.interp(v, self.support, middles)
        else:
            q, p = self.quantiles, np.linspace(0.0, 1.0, len(self.quantiles))
            # forward and backward interpolation averaged: a value tied over several quantiles maps to their middle
            u = 0.5 * (np.interp(v, q, p) - np.interp(-v, -q[::-1], -p[::-1]))
        return ndtri(QUANTILE_EPS + (1 - 2 * QUANTILE_EPS) * u)

    def decode(self, x: np.ndarray) -> pd.Series:
        offset = 2 if self.has_missing else 0
        spike = None
        if self.spike is not None:
            spike = np.argmax(x[:, offset : offset + 2], axis=1) == 1
            offset += 2
        alpha = x[:, offset]
        if self.encoding == "mode":
            mode = np.argmax(x[:, offset + 1 : offset + 1 + self.n_modes], axis=1)
            v = np.clip(alpha, -1.0, 1.0) * 4 * self.stds[mode] + self.means[mode]
        else:
            from scipy.special import ndtr

            u = np.clip((ndtr(alpha) - QUANTILE_EPS) / (1 - 2 * QUANTILE_EPS), 0.0, 1.0)
            if len(self.support):  # the value whose probability range holds u
                index = np.minimum(np.searchsorted(self.support_cdf, u), len(self.support) - 1)
                v = self.support[index]
            else:
                v = np.interp(u, np.linspace(0.0, 1.0, len(self.quantiles)), self.quantiles)
        if spike is not None:
            v = np.where(spike, self.spike, v)
        v = np.clip(v, self.low, self.high)
        if self.decimals is not None:
            v = np.round(v, self.decimals)
        if self.has_missing:
            v = np.where(np.argmax(x[:, 0:2], axis=1) == 1, np.nan, v)
        if self.kind != "datetime":
            return pd.Series(v, name=self.name, dtype="float64")
        ticks = np.round(np.nan_to_num(v) * (1e9 / self.resolution_ns)).astype("int64")
        out = pd.Series(pd.to_datetime(ticks * self.resolution_ns, unit="ns"), name=self.name)
        return out.where(~np.isnan(v), pd.NaT).astype("datetime64[ns]")

    def to_dict(self) -> dict[str, Any]:
        state = {"has_missing": self.has_missing, "low": self.low, "high": self.high}
        if self.decimals is not None:
            state["decimals"] = self.decimals
        if self.resolution_ns is not None:
            state["resolution_ns"] = int(self.resolution_ns)
        if self.encoding == "mode":
            state.update(means=self.means.tolist(), stds=self.stds.tolist(), weights=self.weights.tolist())
        else:
            state["quantiles"] = self.quantiles.tolist()
            if len(self.support):
                state.update(support=self.support.tolist(), support_cdf=self.support_cdf.tolist())
            if self.spike is not None:
                state["spike"] = self.spike
        return {"type": "continuous", "name": self.name, "kind": self.kind, "encoding": self.encoding, **state}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> _ContinuousEncoder:
        state = {k: v for k, v in d.items() if k not in ("type", "name", "kind", "encoding")}
        return cls(d["name"], d["kind"], d["encoding"], state)


def _as_values(s: pd.Series, kind: str) -> np.ndarray:
    """A prepared continuous column as float64 (datetimes in seconds since 1970-01-01, NaN for missing)."""
    if kind == "datetime":
        return datetime_seconds(s)
    return s.to_numpy(dtype=np.float64, na_value=np.nan)


def _decimals(values: np.ndarray) -> int | None:
    """The fewest decimals (≤ 6) that represent every value, or None."""
    tolerance = 1e-9 * np.maximum(1.0, np.abs(values))
    for d in range(7):
        if np.all(np.abs(np.round(values, d) - values) <= tolerance):
            return d
    return None


def _fit_modes(values: np.ndarray, max_modes: int, seed: int) -> dict[str, list[float]]:
    """Means, standard deviations and weights of the modes of ``values`` (Xu et al. 2019)."""
    from genlab.core.optional import require

    mixture = require("sklearn.mixture", "tabular", "mode-specific normalisation")
    center, scale = float(values.mean()), float(values.std())
    if np.unique(values).size < 2 or scale == 0:
        return {"means": [center], "stds": [1.0], "weights": [1.0]}
    z = ((values - center) / scale).reshape(-1, 1)  # standardised for a well-conditioned fit
    gmm = mixture.BayesianGaussianMixture(
        n_components=min(max_modes, len(values)),
        weight_concentration_prior_type="dirichlet_process",
        weight_concentration_prior=0.001,
        covariance_type="diag",  # in one dimension the same model as "full", five times faster to fit
        max_iter=100,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: 100 iterations are the recipe
        gmm.fit(z)
    keep = gmm.weights_ > MIN_MODE_WEIGHT
    means = center + scale * gmm.means_[keep, 0]
    stds = scale * np.sqrt(gmm.covariances_.reshape(len(keep), -1)[keep, 0])
    weights = gmm.weights_[keep] / gmm.weights_[keep].sum()
    order = np.argsort(means)
    return {
        "means": means[order].tolist(),
        "stds": np.maximum(stds[order], 1e-12 * max(1.0, scale)).tolist(),
        "weights": weights[order].tolist(),
    }


class _CategoryEncoder:
    """Categorical and boolean columns: a one-hot over the categories (plus missing)."""

    def __init__(self, name: str, kind: str, categories: list[str], has_missing: bool):
        self.name, self.kind, self.categories, self.has_missing = name, kind, list(categories), has_missing
        self.index = {c: i for i, c in enumerate(self.categories)}

    @classmethod
    def fit(cls, s: pd.Series, column: ColumnMeta) -> _CategoryEncoder:
        keys = _category_keys(s)
        if column.kind == "boolean":
            categories = ["False", "True"]
        else:
            categories = list(column.categories or [])
            categories += sorted(set(keys.dropna()) - set(categories))
        has_missing = bool(keys.isna().any()) or bool(column.missing_fraction)
        return cls(column.name, column.kind, categories, has_missing)

    @property
    def width(self) -> int:
        return len(self.categories) + self.has_missing

    def spans(self, start: int) -> list[Span]:
        return [Span(self.name, "softmax", "category", start, self.width)]

    def encode(self, s: pd.Series) -> np.ndarray:
        keys = _category_keys(s)
        missing = keys.isna().to_numpy()
        if missing.any() and not self.has_missing:
            raise _unseen_missing(self.name)
        index = keys.map(self.index)
        unknown = index.isna().to_numpy() & ~missing
        if unknown.any():
            value = keys[unknown].iloc[0]
            raise BadInputError(
                f"column '{self.name}' has the value {value!r}, unseen when the transformer was fitted",
                "fit on a table holding every category, or list it under the column's categories in the meta",
            )
        codes = np.where(missing, len(self.categories), index.fillna(0).to_numpy()).astype(int)
        return _onehot(codes, self.width)

    def position(self, value: Any) -> int:
        """Index of ``value`` (None/NaN: missing) within the column's span."""
        key = category_string(value)
        if key is None:
            if not self.has_missing:
                raise BadInputError(f"column '{self.name}' has no missing values", "give one of its categories")
            return len(self.categories)
        if self.kind == "boolean":
            key = {"true": "True", "yes": "True", "1": "True", "false": "False", "no": "False", "0": "False"}.get(
                key.lower(), key
            )
        if key not in self.index:
            guess = closest(key, self.categories)
            hint = (f"did you mean '{guess}'? " if guess else "") + "categories: " + ", ".join(self.categories[:30])
            raise BadInputError(f"column '{self.name}' has no category {value!r}", hint)
        return self.index[key]

    def decode(self, x: np.ndarray) -> pd.Series:
        codes = np.argmax(x, axis=1)
        values = np.array([*self.categories, None], dtype=object)[codes]
        if self.kind == "boolean":
            flags = pd.Series([None if v is None else v == "True" for v in values], name=self.name, dtype=object)
            return flags.astype("boolean") if self.has_missing else flags.astype(bool)
        return pd.Series(values, name=self.name, dtype=object)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "category",
            "name": self.name,
            "kind": self.kind,
            "categories": list(self.categories),
            "has_missing": self.has_missing,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> _CategoryEncoder:
        return cls(d["name"], d["kind"], d["categories"], d["has_missing"])


def _category_keys(s: pd.Series) -> pd.Series:
    """Canonical category strings of a prepared column (None for missing)."""
    values = s.astype(object)
    return values.map(lambda v: v if isinstance(v, str) else category_string(v)).where(values.notna(), None)


class _IdentifierEncoder:
    """Identifier columns: nothing encoded; fresh unique ids on decoding (module docstring)."""

    def __init__(self, name: str, integer: bool, start: int, digits: int):
        self.name, self.integer, self.start, self.digits = name, integer, start, digits
        self.kind = "identifier"

    @classmethod
    def fit(cls, s: pd.Series, column: ColumnMeta) -> _IdentifierEncoder:
        ids = _category_keys(s).dropna()
        integer = len(ids) > 0 and all(re.fullmatch(r"-?\d{1,18}", v) for v in ids)
        start = int(max(int(v) for v in ids)) + 1 if integer else 1
        return cls(column.name, integer, start, max(6, len(str(len(s)))))

    width = 0

    def spans(self, start: int) -> list[Span]:
        return []

    def encode(self, s: pd.Series) -> np.ndarray:
        return np.zeros((len(s), 0))

    def decode(self, x: np.ndarray) -> pd.Series:
        n = len(x)
        if self.integer:
            values = [str(self.start + i) for i in range(n)]
        else:
            values = [f"{self.name}-{i + 1:0{self.digits}d}" for i in range(n)]
        return pd.Series(values, name=self.name, dtype=object)

    def to_dict(self) -> dict[str, Any]:
        fields = {"name": self.name, "integer": self.integer, "start": self.start, "digits": self.digits}
        return {"type": "identifier", **fields}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> _IdentifierEncoder:
        return cls(d["name"], d["integer"], d["start"], d["digits"])


_ENCODERS = {"continuous": _ContinuousEncoder, "category": _CategoryEncoder, "identifier": _IdentifierEncoder}


class TableTransformer:
    """Encodes a table as a float32 matrix (n, :attr:`output_dim`) in :attr:`spans`, and decodes it back."""

    def __init__(self) -> None:
        self.meta: TableMeta | None = None
        self.numerical: str = "mode"
        self._encoders: list[Any] = []
        self.spans: list[Span] = []
        self.output_dim = 0

    def fit(
        self,
        df: pd.DataFrame,
        meta: TableMeta,
        numerical: str = "mode",
        max_modes: int = 10,
        seed: int = 0,
        max_fit_rows: int = 20000,
        spikes: bool = False,
    ) -> TableTransformer:
        """Fit the encodings of every column of ``df`` (described by ``meta``); returns self. ``spikes``: give
        the dominant value of a quantile-encoded column its own span (module docstring)."""
        if numerical not in NUMERICAL_ENCODINGS:
            raise BadInputError(f"unknown numerical encoding '{numerical}'", "use 'mode' or 'quantile'")
        if max_modes < 1 or max_fit_rows < 1:
            raise BadInputError("max_modes and max_fit_rows must be at least 1", "give positive numbers")
        data = prepare_table(df, meta)
        options = {"max_modes": max_modes, "seed": seed, "max_fit_rows": max_fit_rows, "spikes": spikes}
        encoders: list[Any] = []
        for column in meta.columns:
            s = data[column.name]
            if column.kind in CONTINUOUS_KINDS:
                encoders.append(_ContinuousEncoder.fit(s, column, numerical, options))
            elif column.kind == "identifier":
                encoders.append(_IdentifierEncoder.fit(s, column))
            else:
                encoders.append(_CategoryEncoder.fit(s, column))
        self._set(meta, numerical, encoders)
        return self

    def _set(self, meta: TableMeta, numerical: str, encoders: list[Any]) -> None:
        self.meta, self.numerical, self._encoders = meta, numerical, encoders
        self.spans, start = [], 0
        for enc in encoders:
            self.spans += enc.spans(start)
            start += enc.width
        self.output_dim = start

    def _fitted(self) -> TableMeta:
        if self.meta is None:
            raise BadInputError("the table transformer is not fitted", "call fit(df, meta) first")
        return self.meta

    @property
    def columns(self) -> list[str]:
        """Table column names in order."""
        return self._fitted().names()

    @property
    def encoders(self) -> list[Any]:
        """The fitted encoder of every column, in table order (each has ``name``, ``kind``, ``width``, ``encode``)."""
        return list(self._encoders)

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        """The encoded rows of ``df``: float32 (n, output_dim)."""
        data = prepare_table(df, self._fitted())
        blocks = [enc.encode(data[enc.name]) for enc in self._encoders if enc.width]
        if not blocks:
            return np.zeros((len(data), 0), dtype=np.float32)
        return np.concatenate(blocks, axis=1).astype(np.float32)

    def inverse_transform(self, x: np.ndarray) -> pd.DataFrame:
        """The table of encoded rows ``x`` (n, output_dim); softmax blocks may hold probabilities or one-hots.
        Columns and dtypes are those of :func:`~genlab.tabular.table.prepare_table`."""
        meta = self._fitted()
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.output_dim:
            raise BadInputError(
                f"encoded rows must have shape (n, {self.output_dim}), got {x.shape}", "pass rows of the model's width"
            )
        columns, start = {}, 0
        for enc in self._encoders:
            columns[enc.name] = enc.decode(x[:, start : start + enc.width]).reset_index(drop=True)
            start += enc.width
        return pd.DataFrame(columns, columns=meta.names())

    def category_values(self, column: str) -> list[Any]:
        """The values of the ``category`` span of categorical/boolean ``column``, position by position, as the
        decoded table holds them (strings; ``True``/``False`` for booleans; None for the missing slot)."""
        enc = self._category_encoder(column)
        values: list[Any] = [c == "True" if enc.kind == "boolean" else c for c in enc.categories]
        return values + [None] * enc.has_missing

    def category_index(self, column: str, value: Any) -> int:
        """Index of ``value`` within the ``category`` span of categorical/boolean ``column`` (None: missing)."""
        return self._category_encoder(column).position(value)

    def _category_encoder(self, column: str) -> _CategoryEncoder:
        for enc in self._encoders:
            if enc.name == column:
                if not isinstance(enc, _CategoryEncoder):
                    raise BadInputError(f"column '{column}' is {enc.kind}, not categorical", "condition on a category")
                return enc
        guess = closest(column, self.columns)
        raise BadInputError(f"unknown column '{column}'", f"did you mean '{guess}'?" if guess else None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe state (plain lists and numbers)."""
        return {
            "numerical": self.numerical,
            "meta": self._fitted().to_dict(),
            "columns": [enc.to_dict() for enc in self._encoders],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TableTransformer:
        """The transformer saved by :meth:`to_dict`."""
        out = cls()
        encoders = [_ENCODERS[d["type"]].from_dict(d) for d in data["columns"]]
        out._set(TableMeta.build(data["meta"]), data["numerical"], encoders)
        return out
