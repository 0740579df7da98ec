"""Statistical fidelity of a synthetic table: SDMetrics' Quality Report, computed here.

The definitions follow the SDMetrics documentation (DataCebo, https://docs.sdv.dev/sdmetrics) and
agree with ``sdmetrics.reports.single_table.QualityReport`` (checked in the tests):

* **Column shapes**, one score per column:

  - continuous columns (numerical, integer, datetime as nanoseconds since the epoch): the
    *KSComplement* ``1 − D``, with ``D = sup_x |F_r(x) − F_s(x)|`` the two-sample Kolmogorov–Smirnov
    statistic of the empirical distribution functions (values rounded to 14 decimals first, as SDMetrics);
  - discrete columns (categorical, boolean): the *TVComplement* ``1 − ½ Σ_c |p_r(c) − p_s(c)|``, the
    complement of the total variation distance between the category frequencies, over the union of
    the categories.

  Missing values: both scores use the *present* values only (SDMetrics drops them; how often values are
  missing is a separate question, not part of this report). A column with no present value on one side
  scores NaN and is left out of the mean.
* **Column pair trends**, one score per pair of columns:

  - continuous × continuous: the *CorrelationSimilarity* ``1 − |ρ_r − ρ_s| / 2`` with Pearson's ρ over
    the rows where both values are present; NaN (left out of the mean) when a column is constant;
  - any pair with a discrete column: the *ContingencySimilarity* ``1 − ½ Σ_{a,b} |p_r(a,b) − p_s(a,b)|``
    over the joint frequency table (union of the cells). A missing discrete value is a cell of its own.
    A continuous column in such a pair is first cut into 10 equal-width bins. As in SDMetrics' Quality
    Report (not its stand-alone ``ContingencySimilarity(continuous_column_names=…)``, which bins both
    tables on the real range), *each table is binned on its own range* (``numpy.histogram_bin_edges``),
    and ``numpy.digitize`` puts the maximum in an eleventh bin of its own. One deliberate difference: a
    missing continuous value forms its own cell here, where ``numpy.digitize`` merges it with the
    maximum.

``quality`` is the mean of the two property scores (each the mean of its NaN-free details). Like the report
of SDMetrics 0.32, the pair-trends mean counts only the pairs that are related in the real table (the
thresholds of :func:`quality_report`); every pair is still scored and listed.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pandas as pd

from genlab.core.errors import BadInputError, closest

CONTINUOUS = frozenset({"numerical", "integer", "datetime"})
DISCRETE = frozenset({"categorical", "boolean"})
#: KS inputs are rounded like SDMetrics' KSComplement (sys.float_info.dig - 1)
KS_DECIMALS = 14
NUM_BINS = 10
MISSING_CELL = "\x00missing"
SINGLE_THREAD_ROWS = 20_000


# ----- column helpers shared by the evaluation modules -----


def check_columns(frames: dict[str, pd.DataFrame], kinds: dict[str, str]) -> list[str]:
    """The evaluated columns (kinds that are continuous or discrete, identifiers left out), after checking
    that every table has them; raises :class:`BadInputError` naming the closest column otherwise."""
    unknown = {c: k for c, k in kinds.items() if k not in CONTINUOUS | DISCRETE | {"identifier"}}
    if unknown:
        name, kind = next(iter(unknown.items()))
        raise BadInputError(
            f"column '{name}' has an unknown kind '{kind}'",
            "kinds are numerical, integer, datetime, categorical, boolean or identifier",
        )
    columns = [c for c, k in kinds.items() if k != "identifier"]
    for label, df in frames.items():
        for c in columns:
            if c not in df.columns:
                guess = closest(c, [str(x) for x in df.columns])
                hint = f"did you mean '{guess}'?" if guess else f"its columns: {', '.join(map(str, df.columns[:20]))}"
                raise BadInputError(f"column '{c}' is missing from the {label} table", hint)
    return columns


def numeric_values(series: pd.Series, kind: str) -> np.ndarray:
    """A column as float64 (NaN where missing); datetimes as nanoseconds since the epoch."""
    if kind == "datetime":
        s = series if pd.api.types.is_datetime64_any_dtype(series) else pd.to_datetime(series, errors="coerce")
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_convert(None)
        arr = s.to_numpy(dtype="datetime64[ns]")
        out = arr.view("int64").astype(np.float64)
        out[np.isnat(arr)] = np.nan
        return out
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def discrete_values(series: pd.Series) -> pd.Series:
    """A discrete column as strings, with None where missing (so ``1``/``"1"`` and NA/None/NaN agree)."""
    present = series.notna()
    return series.astype(object).where(~present, series.astype(str)).where(present, None)


def subsample(df: pd.DataFrame, max_rows: int | None, seed: int) -> pd.DataFrame:
    """At most ``max_rows`` rows of ``df`` drawn without replacement with ``seed`` (all of them when it fits)."""
    if max_rows is None or len(df) <= max_rows:
        return df
    return df.sample(n=max_rows, random_state=seed)


def limited_threads(rows: int):
    """A context that keeps scikit-learn's OpenMP and BLAS work on one thread for small inputs (under
    :data:`SINGLE_THREAD_ROWS` rows): there the work is too small to share, and on a busy machine waiting
    threads make a 0.02 s model fit take seconds. Larger inputs use every thread."""
    from threadpoolctl import threadpool_limits  # a dependency of scikit-learn

    return threadpool_limits(limits=1 if rows < SINGLE_THREAD_ROWS else None)


def nanmean(values) -> float:
    """Mean of the finite values (NaN when there is none)."""
    vals = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(vals)) if vals else float("nan")


# ----- single-column scores -----


def ks_complement(real: np.ndarray, synth: np.ndarray) -> float:
    """``1 − D`` of the two-sample Kolmogorov–Smirnov statistic on the present values (NaN when a side is empty)."""
    from scipy.stats import ks_2samp

    r = np.round(real[~np.isnan(real)], KS_DECIMALS)
    s = np.round(synth[~np.isnan(synth)], KS_DECIMALS)
    if len(r) == 0 or len(s) == 0:
        return float("nan")
    return float(1.0 - ks_2samp(r, s).statistic)


def tv_complement(real: pd.Series, synth: pd.Series) -> float:
    """``1 − ½ Σ_c |p_r(c) − p_s(c)|`` over the present categories (NaN when a side is empty)."""
    r, s = discrete_values(real).dropna(), discrete_values(synth).dropna()
    if len(r) == 0 or len(s) == 0:
        return float("nan")
    pr, ps = r.value_counts(normalize=True), s.value_counts(normalize=True)
    pr, ps = pr.align(ps, fill_value=0.0)
    return float(1.0 - 0.5 * np.abs(pr - ps).sum())


def _column_score(real: pd.Series, synth: pd.Series, kind: str) -> tuple[str, float]:
    if kind in CONTINUOUS:
        return "KSComplement", ks_complement(numeric_values(real, kind), numeric_values(synth, kind))
    return "TVComplement", tv_complement(real, synth)


def column_shapes(real: pd.DataFrame, synth: pd.DataFrame, kinds: dict[str, str]) -> dict[str, float]:
    """Per column: KSComplement (continuous) or TVComplement (discrete), in [0, 1] (1 = same marginal)."""
    columns = check_columns({"real": real, "synthetic": synth}, kinds)
    return {c: _column_score(real[c], synth[c], kinds[c])[1] for c in columns}


# ----- column-pair scores -----


def correlation_similarity(
    r1: np.ndarray, r2: np.ndarray, s1: np.ndarray, s2: np.ndarray
) -> tuple[float, float, float]:
    """``(1 − |ρ_r − ρ_s| / 2, ρ_r, ρ_s)`` with Pearson's ρ on the rows where both values are present."""
    rho_r, rho_s = _pearson(r1, r2), _pearson(s1, s2)
    score = 1.0 - abs(rho_r - rho_s) / 2.0 if not (math.isnan(rho_r) or math.isnan(rho_s)) else float("nan")
    return score, rho_r, rho_s


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    if len(x) < 2:
        return float("nan")
    x, y = x - x.mean(), y - y.mean()
    # element-wise sums rather than np.dot: no BLAS threads for a few thousand multiplications
    denom = math.sqrt(float(np.sum(x * x)) * float(np.sum(y * y)))
    return float(np.clip(np.sum(x * y) / denom, -1.0, 1.0)) if denom > 0 else float("nan")


def contingency_similarity(real: pd.DataFrame, synth: pd.DataFrame) -> float:
    """``1 − ½ Σ |p_r(a,b) − p_s(a,b)|`` over the union of the cells of two two-column tables of labels."""
    if len(real) == 0 or len(synth) == 0:
        return float("nan")
    cols = list(real.columns)
    pr = real.groupby(cols, dropna=False).size() / len(real)
    ps = synth.groupby(cols, dropna=False).size() / len(synth)
    pr, ps = pr.align(ps, fill_value=0.0)
    return float(1.0 - 0.5 * np.abs(pr - ps).sum())


def _pair_labels(values: np.ndarray | pd.Series, kind: str) -> pd.Series:
    """Cell labels of one column for a contingency table: categories, or the bin of a continuous value
    (10 equal-width bins on this table's own range, ``numpy.digitize`` indices)."""
    if kind in DISCRETE:
        return discrete_values(values).fillna(MISSING_CELL).reset_index(drop=True)
    present = values[~np.isnan(values)]
    labels = np.full(len(values), MISSING_CELL, dtype=object)
    if len(present):
        edges = np.histogram_bin_edges(present, bins=NUM_BINS)
        labels[~np.isnan(values)] = np.digitize(present, edges).astype(str)
    return pd.Series(labels)


def cramers_v(labels: pd.DataFrame) -> float:
    """Cramér's V (no continuity correction) of a two-column table of labels; NaN when a column has one label."""
    from scipy.stats.contingency import association

    counts = pd.crosstab(labels.iloc[:, 0], labels.iloc[:, 1])
    if counts.to_numpy().sum() == 0 or min(counts.shape) < 2:
        return float("nan")
    return float(association(counts.to_numpy(), method="cramer"))


class _PairColumns:
    """One table's columns as the pair scores read them, computed once: numbers of the continuous columns
    and contingency labels of every column."""

    def __init__(self, df: pd.DataFrame, columns: list[str], kinds: dict[str, str]):
        self.numbers = {c: numeric_values(df[c], kinds[c]) for c in columns if kinds[c] in CONTINUOUS}
        self.labels = {c: _pair_labels(self.numbers.get(c, df[c]), kinds[c]) for c in columns}


def _pair_detail(
    real: _PairColumns,
    synth: _PairColumns,
    a: str,
    b: str,
    kinds: dict[str, str],
    correlation_threshold: float = 0.0,
    association_threshold: float = 0.0,
) -> dict[str, Any]:
    """Score of one pair, the real table's correlation or association, and whether the pair counts in the
    mean (real ``|ρ| > correlation_threshold`` or Cramér's V ``> association_threshold``; always with 0)."""
    if kinds[a] in CONTINUOUS and kinds[b] in CONTINUOUS:
        score, rho_r, rho_s = correlation_similarity(
            real.numbers[a], real.numbers[b], synth.numbers[a], synth.numbers[b]
        )
        meets = correlation_threshold <= 0 or (not math.isnan(rho_r) and abs(rho_r) > correlation_threshold)
        detail = {"metric": "CorrelationSimilarity", "real_correlation": rho_r, "synthetic_correlation": rho_s}
        return {**detail, "score": score, "meets_threshold": bool(meets)}
    tables = [pd.DataFrame({"a": t.labels[a], "b": t.labels[b]}) for t in (real, synth)]
    association = cramers_v(tables[0])
    meets = association_threshold <= 0 or (not math.isnan(association) and association > association_threshold)
    score = contingency_similarity(*tables)
    return {
        "metric": "ContingencySimilarity",
        "real_association": association,
        "score": score,
        "meets_threshold": meets,
    }


def column_pair_trends(real: pd.DataFrame, synth: pd.DataFrame, kinds: dict[str, str]) -> dict[tuple[str, str], float]:
    """Per pair of columns (in ``kinds`` order): CorrelationSimilarity (continuous × continuous) or
    ContingencySimilarity (every other pair), in [0, 1]."""
    columns = check_columns({"real": real, "synthetic": synth}, kinds)
    r, s = _PairColumns(real, columns, kinds), _PairColumns(synth, columns, kinds)
    return {(a, b): _pair_detail(r, s, a, b, kinds)["score"] for a, b in itertools.combinations(columns, 2)}


# ----- the report -----


def quality_report(
    real: pd.DataFrame,
    synth: pd.DataFrame,
    kinds: dict[str, str],
    max_rows: int | None = 50_000,
    seed: int = 0,
    real_correlation_threshold: float = 0.5,
    real_association_threshold: float = 0.3,
) -> dict[str, Any]:
    """SDMetrics-style quality report of ``synth`` against ``real``.

    Both tables are first subsampled to at most ``max_rows`` rows (seeded). Every pair is scored, but the
    ``column_pair_trends`` mean counts only the pairs that are related in the real table: real Pearson
    ``|ρ| > real_correlation_threshold`` (continuous pairs) or real Cramér's V ``> real_association_threshold``
    (other pairs), the defaults of SDMetrics 0.32 (0.5 and 0.3); NaN when no pair qualifies, and
    then ``quality`` is the column-shapes score. Both thresholds at 0 give the classic mean over every pair.

    Returns ``{"quality", "column_shapes", "column_pair_trends", "column_details": [{"column", "kind", "metric",
    "score"}], "pair_details": [{"column_1", "column_2", "metric", "score", …}], "protocol"}``; the three
    headline numbers lie in [0, 1] (1 = the synthetic table reproduces the marginals and pair trends).
    """
    columns = check_columns({"real": real, "synthetic": synth}, kinds)
    if len(real) == 0 or len(synth) == 0:
        which = "real" if len(real) == 0 else "synthetic"
        raise BadInputError(f"the {which} table has no rows", "evaluate a table with at least one row")
    real_s, synth_s = subsample(real, max_rows, seed), subsample(synth, max_rows, seed + 1)
    column_details = []
    for c in columns:
        metric, score = _column_score(real_s[c], synth_s[c], kinds[c])
        column_details.append({"column": c, "kind": kinds[c], "metric": metric, "score": score})
    pr, ps = _PairColumns(real_s, columns, kinds), _PairColumns(synth_s, columns, kinds)
    pair_details = [
        {
            "column_1": a,
            "column_2": b,
            **_pair_detail(pr, ps, a, b, kinds, real_correlation_threshold, real_association_threshold),
        }
        for a, b in itertools.combinations(columns, 2)
    ]
    shapes = nanmean(d["score"] for d in column_details)
    trends = nanmean(d["score"] for d in pair_details if d["meets_threshold"])
    return {
        "quality": nanmean([shapes, trends]),
        "column_shapes": shapes,
        "column_pair_trends": trends,
        "column_details": column_details,
        "pair_details": pair_details,
        "protocol": {
            "rows_real": len(real_s),
            "rows_synthetic": len(synth_s),
            "max_rows": max_rows,
            "seed": seed,
            "real_correlation_threshold": real_correlation_threshold,
            "real_association_threshold": real_association_threshold,
            "pairs_counted": sum(bool(d["meets_threshold"]) for d in pair_details),
            "column_shapes": (
                "KSComplement 1-D (continuous, datetime as ns) / TVComplement 1-TV (discrete), on present values"
            ),
            "column_pair_trends": (
                "CorrelationSimilarity 1-|rho_r-rho_s|/2, Pearson (continuous pairs) / ContingencySimilarity 1-TV of "
                "the joint table, continuous columns in 10 equal-width bins on each table's range (other pairs)"
            ),
            "reference": "SDMetrics Quality Report (DataCebo), https://docs.sdv.dev/sdmetrics",
        },
    }
