"""Privacy of a synthetic table: how close its rows come to the real training rows.

All distances are **Euclidean distances on one numeric encoding** of the rows (:class:`PrivacyEncoder`):

* a continuous column (numerical, integer, datetime) is min-max scaled on the real training table, so a
  coordinate differs by at most 1 inside the training range;
* a discrete column is one-hot encoded with entries ``1/√2``, so two different categories are at distance
  exactly 1 and equal ones at 0 (a missing value is a category of its own);
* a continuous column with missing values gets an indicator coordinate (1 when missing; the value
  coordinate is then 0), so a missing value is at least 1 away from any present one.

The squared distance is thus the sum of the squared scaled differences of the continuous columns plus the
number of mismatching categories: a Euclidean form of Gower's mixed-type distance (Gower 1971, "A general
coefficient of similarity and some of its properties"), the distance used for DCR by table-GAN (Park et
al. 2018) and CTAB-GAN (Zhao et al. 2021). Nearest neighbours are found by scikit-learn's brute-force
search on float32 matrices, query rows in chunks to bound memory.

Metrics:

* :func:`dcr` — distance to the closest record (Park et al. 2018) of each synthetic row in the training
  set and in a holdout set of the same size; ``share_closer_to_train`` is the fraction of synthetic rows
  nearer to the training set (ties count half): about 0.5 when the generator has not memorised its training
  rows (Platzer & Reutterer 2021, "Holdout-based fidelity and privacy assessment of mixed-type synthetic
  data"); ``exact_matches`` the fraction of synthetic rows identical to a training row.
* :func:`nndr` — nearest-neighbour distance ratio d1/d2 of each synthetic row's two nearest training rows
  (Zhao et al. 2021); near 0 = a synthetic row sits on one particular training row.
* :func:`membership_inference` — a distance attack (Chen et al. 2020, "GAN-Leaks"): a record scores
  ``−(distance to its closest synthetic row)``; the AUROC of telling training members from holdout
  non-members is 0.5 when the synthetic table does not reveal membership and 1 when it copies its rows.
* :func:`attribute_inference` — an attacker who knows the quasi-identifiers of a training record takes
  the sensitive value of its nearest synthetic row (on the quasi-identifiers), against the baseline of
  guessing the synthetic table's majority class or mean (Stadler et al. 2022, "Synthetic Data —
  Anonymisation Groundhog Day").
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from genlab.core.errors import BadInputError, closest
from genlab.core.optional import require
from genlab.tabular.quality import (
    CONTINUOUS,
    DISCRETE,
    check_columns,
    discrete_values,
    limited_threads,
    numeric_values,
    subsample,
)

#: query rows per nearest-neighbour call (a chunk of 4096 × 10,000 float64 distances is about 330 MB)
CHUNK_ROWS = 4096
MISSING = "\x00missing"
DISTANCE = "Euclidean on min-max scaled continuous columns (train range) and 1/sqrt(2)-scaled one-hot categories"


class PrivacyEncoder:
    """Rows as float32 vectors whose Euclidean distance is the metric of this module (see the module doc)."""

    def __init__(self, columns: list[str], kinds: dict[str, str]):
        self.columns = columns
        self.kinds = kinds
        self.ranges: dict[str, tuple[float, float]] = {}
        self.with_missing: set[str] = set()
        self.categories: dict[str, dict[str, int]] = {}

    def fit(self, train: pd.DataFrame, others: list[pd.DataFrame]) -> PrivacyEncoder:
        """Ranges from the real ``train`` table; categories and missing indicators from every table."""
        frames = [train, *others]
        for c in self.columns:
            if self.kinds[c] in CONTINUOUS:
                values = numeric_values(train[c], self.kinds[c])
                present = values[~np.isnan(values)]
                low, high = (float(present.min()), float(present.max())) if len(present) else (0.0, 1.0)
                self.ranges[c] = (low, high - low if high > low else 1.0)
                if any(df[c].isna().any() for df in frames):
                    self.with_missing.add(c)
            else:
                values = set()
                for df in frames:
                    values.update(discrete_values(df[c]).fillna(MISSING).unique())
                self.categories[c] = {v: i for i, v in enumerate(sorted(values))}
        return self

    @property
    def width(self) -> int:
        return sum(
            len(self.categories[c]) if c in self.categories else 1 + (c in self.with_missing) for c in self.columns
        )

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        out = np.zeros((len(df), self.width), dtype=np.float32)
        j = 0
        for c in self.columns:
            if c in self.categories:
                codes = discrete_values(df[c]).fillna(MISSING).map(self.categories[c]).to_numpy(dtype=np.int64)
                out[np.arange(len(df)), j + codes] = 1.0 / math.sqrt(2.0)
                j += len(self.categories[c])
                continue
            low, span = self.ranges[c]
            values = (numeric_values(df[c], self.kinds[c]) - low) / span
            missing = np.isnan(values)
            out[:, j] = np.where(missing, 0.0, values)
            j += 1
            if c in self.with_missing:
                out[:, j] = missing
                j += 1
        out[out == 0] = 0.0  # -0.0 -> 0.0, so equal rows have equal bytes
        return out

    def row_keys(self, df: pd.DataFrame, chunk: int = 50_000) -> set[bytes]:
        """The encoded rows of ``df`` as bytes (for exact-match tests), encoded in chunks to bound memory."""
        return {row.tobytes() for i in range(0, len(df), chunk) for row in self.transform(df.iloc[i : i + chunk])}


def nearest_distances(query: np.ndarray, reference: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Distances (n, k) and indices (n, k) of the ``k`` nearest ``reference`` rows of each ``query`` row."""
    neighbors = require("sklearn.neighbors", "tabular", "privacy metrics")
    if len(reference) < k:
        raise BadInputError(f"the nearest-neighbour search needs at least {k} reference rows", "use a larger table")
    with limited_threads(len(query) + len(reference)):
        index = neighbors.NearestNeighbors(n_neighbors=k, algorithm="brute", metric="euclidean").fit(reference)
        parts = [index.kneighbors(query[i : i + CHUNK_ROWS]) for i in range(0, len(query), CHUNK_ROWS)]
    if not parts:
        return np.zeros((0, k)), np.zeros((0, k), dtype=np.int64)
    dist = np.concatenate([p[0] for p in parts]).astype(np.float64)
    return np.maximum(dist, 0.0), np.concatenate([p[1] for p in parts])


def _prepare(tables: dict[str, pd.DataFrame], kinds: dict[str, str], columns: list[str] | None = None) -> list[str]:
    cols = check_columns(tables, kinds) if columns is None else columns
    if not cols:
        raise BadInputError("no column to compare", "give the kinds of the table's columns")
    for label, df in tables.items():
        if len(df) == 0:
            raise BadInputError(f"the {label} table has no rows", "privacy metrics need rows on every side")
    return cols


def _protocol(**extra: Any) -> dict[str, Any]:
    return {"distance": DISTANCE, "neighbours": "sklearn NearestNeighbors, brute force, float32", **extra}


def dcr(
    synth: pd.DataFrame,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    kinds: dict[str, str],
    max_rows: int = 10_000,
    seed: int = 0,
) -> dict[str, Any]:
    """Distance to the closest record of each synthetic row, in the training and in the holdout set.

    Training and holdout sets are subsampled to the same number of rows (the smaller size, at most
    ``max_rows``) so that neither is favoured by its size; the synthetic table to ``max_rows``. Returns
    ``dcr_median`` and ``dcr_5th_percentile`` (to the training rows), ``dcr_holdout_median``,
    ``share_closer_to_train`` (ties count half) and ``exact_matches`` (fraction of synthetic rows equal to a
    row of the whole training table), plus the protocol.
    """
    columns = _prepare({"synthetic": synth, "real training": train, "holdout": holdout}, kinds)
    n_ref = min(len(train), len(holdout), max_rows)
    train_s, holdout_s = subsample(train, n_ref, seed), subsample(holdout, n_ref, seed + 1)
    synth_s = subsample(synth, max_rows, seed + 2)
    enc = PrivacyEncoder(columns, kinds).fit(train, [synth, holdout])
    x_synth = enc.transform(synth_s)
    d_train = nearest_distances(x_synth, enc.transform(train_s))[0][:, 0]
    d_hold = nearest_distances(x_synth, enc.transform(holdout_s))[0][:, 0]
    train_rows = enc.row_keys(train)
    exact = np.fromiter((row.tobytes() in train_rows for row in x_synth), dtype=bool, count=len(x_synth))
    return {
        "dcr_median": float(np.median(d_train)),
        "dcr_holdout_median": float(np.median(d_hold)),
        "dcr_5th_percentile": float(np.percentile(d_train, 5)),
        "share_closer_to_train": float(np.mean(d_train < d_hold) + 0.5 * np.mean(d_train == d_hold)),
        "exact_matches": float(exact.mean()),
        "protocol": _protocol(
            rows_synthetic=len(synth_s),
            rows_train=n_ref,
            rows_holdout=n_ref,
            rows_train_exact_matches=len(train),
            seed=seed,
            reference="DCR: Park et al. 2018 (table-GAN); holdout share: Platzer & Reutterer 2021",
        ),
    }


def nndr(
    synth: pd.DataFrame, train: pd.DataFrame, kinds: dict[str, str], max_rows: int = 10_000, seed: int = 0
) -> dict[str, Any]:
    """Nearest-neighbour distance ratio d1/d2 of each synthetic row's two nearest training rows (both
    tables subsampled to ``max_rows``): ``nndr_median`` and ``nndr_5th_percentile``. A row at distance 0
    from two training rows (a duplicated training row) has ratio 1: it points at no single record."""
    columns = _prepare({"synthetic": synth, "real training": train}, kinds)
    if len(train) < 2:
        raise BadInputError("NNDR needs at least two training rows", "use a larger training table")
    synth_s, train_s = subsample(synth, max_rows, seed + 2), subsample(train, max_rows, seed)
    enc = PrivacyEncoder(columns, kinds).fit(train, [synth])
    dist = nearest_distances(enc.transform(synth_s), enc.transform(train_s), k=2)[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(dist[:, 1] > 0, dist[:, 0] / dist[:, 1], 1.0)
    return {
        "nndr_median": float(np.median(ratio)),
        "nndr_5th_percentile": float(np.percentile(ratio, 5)),
        "protocol": _protocol(
            rows_synthetic=len(synth_s), rows_train=len(train_s), seed=seed, reference="Zhao et al. 2021 (CTAB-GAN)"
        ),
    }


def membership_inference(
    synth: pd.DataFrame,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    kinds: dict[str, str],
    max_rows: int = 10_000,
    seed: int = 0,
) -> dict[str, Any]:
    """AUROC of a distance attack telling training members from holdout non-members (equal numbers of
    each, at most ``max_rows``): a record's score is minus its distance to the closest synthetic row."""
    metrics = require("sklearn.metrics", "tabular", "privacy metrics")
    columns = _prepare({"synthetic": synth, "real training": train, "holdout": holdout}, kinds)
    n = min(len(train), len(holdout), max_rows)
    members, others = subsample(train, n, seed), subsample(holdout, n, seed + 1)
    synth_s = subsample(synth, max_rows, seed + 2)
    enc = PrivacyEncoder(columns, kinds).fit(train, [synth, holdout])
    x_synth = enc.transform(synth_s)
    d_members = nearest_distances(enc.transform(members), x_synth)[0][:, 0]
    d_others = nearest_distances(enc.transform(others), x_synth)[0][:, 0]
    labels = np.r_[np.ones(n), np.zeros(n)]
    auroc = metrics.roc_auc_score(labels, -np.r_[d_members, d_others])
    return {
        "mia_auroc": float(auroc),
        "protocol": _protocol(
            attack="score = -(distance to the closest synthetic row); AUROC members vs non-members",
            members=n,
            non_members=n,
            rows_synthetic=len(synth_s),
            seed=seed,
            reference="Chen et al. 2020 (GAN-Leaks)",
        ),
    }


def _check_attribute_columns(train: pd.DataFrame, kinds: dict[str, str], quasi: list[str], sensitive: str) -> None:
    if not quasi:
        raise BadInputError("attribute inference needs quasi-identifier columns", "name the columns an attacker knows")
    for name in [*quasi, sensitive]:
        if name not in kinds or kinds[name] == "identifier":
            guess = closest(name, [c for c, k in kinds.items() if k != "identifier"])
            hint = f"did you mean '{guess}'?" if guess else "name a column of the table"
            raise BadInputError(f"column '{name}' is not an evaluated column of the table", hint)
    if sensitive in quasi:
        raise BadInputError(f"the sensitive column '{sensitive}' is also a quasi-identifier", "name it once")


def attribute_inference(
    synth: pd.DataFrame,
    train: pd.DataFrame,
    kinds: dict[str, str],
    quasi: list[str],
    sensitive: str,
    max_rows: int = 10_000,
    seed: int = 0,
) -> dict[str, Any]:
    """A nearest-neighbour attribute-inference attack on ``sensitive`` from the ``quasi`` columns.

    For each training record (at most ``max_rows``, with a sensitive value) the attacker predicts the
    sensitive value of the synthetic row nearest on the quasi-identifiers. Discrete ``sensitive``:
    ``attack_accuracy``, ``baseline_accuracy`` (always guessing the synthetic majority class) and ``risk`` =
    attack − baseline. Continuous: ``attack_error`` and ``baseline_error`` (guessing the synthetic mean), mean
    absolute errors divided by the training range, and ``risk`` = baseline − attack. A positive risk means
    the synthetic rows tell more about a known person than the column's distribution does.
    """
    _check_attribute_columns(train, kinds, quasi, sensitive)
    _prepare(
        {"synthetic": synth, "real training": train}, {**{q: kinds[q] for q in quasi}, sensitive: kinds[sensitive]}
    )
    kind = kinds[sensitive]
    discrete = kind in DISCRETE

    def values(df: pd.DataFrame) -> pd.Series:
        v = discrete_values(df[sensitive]) if discrete else pd.Series(numeric_values(df[sensitive], kind), df.index)
        return v.reset_index(drop=True)

    targets, synth_s = subsample(train, max_rows, seed), subsample(synth, max_rows, seed + 2)
    y_true, y_synth = values(targets), values(synth_s)
    targets, y_true = targets[y_true.notna().to_numpy()], y_true.dropna().reset_index(drop=True)
    synth_s, y_synth = synth_s[y_synth.notna().to_numpy()], y_synth.dropna().reset_index(drop=True)
    if len(targets) == 0 or len(synth_s) == 0:
        raise BadInputError(f"the sensitive column '{sensitive}' has no values to attack", "choose another column")
    enc = PrivacyEncoder(list(quasi), kinds).fit(train, [synth])
    index = nearest_distances(enc.transform(targets), enc.transform(synth_s))[1][:, 0]
    guess = y_synth.to_numpy()[index]
    truth = y_true.to_numpy()
    result: dict[str, Any] = {"sensitive": sensitive, "quasi_identifiers": list(quasi)}
    if discrete:
        majority = y_synth.value_counts().idxmax()
        result["attack_accuracy"] = float(np.mean(guess == truth))
        result["baseline_accuracy"] = float(np.mean(truth == majority))
        result["risk"] = result["attack_accuracy"] - result["baseline_accuracy"]
    else:
        present = numeric_values(train[sensitive], kind)
        span = float(np.nanmax(present) - np.nanmin(present)) or 1.0
        result["attack_error"] = float(np.mean(np.abs(guess.astype(np.float64) - truth)) / span)
        result["baseline_error"] = float(np.mean(np.abs(float(y_synth.mean()) - truth)) / span)
        result["risk"] = result["baseline_error"] - result["attack_error"]
    result["protocol"] = _protocol(
        attack="sensitive value of the nearest synthetic row on the quasi-identifiers",
        baseline="synthetic majority class" if discrete else "synthetic mean (errors / training range)",
        targets=len(targets),
        rows_synthetic=len(synth_s),
        seed=seed,
        reference="Stadler et al. 2022, Synthetic Data - Anonymisation Groundhog Day",
    )
    return result
