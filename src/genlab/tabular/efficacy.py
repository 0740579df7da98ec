"""Machine-learning efficacy of a synthetic table ("train on synthetic, test on real").

A model is trained on the synthetic table and scored on a real holdout table; the same model trained on the
real training table gives the reference (Xu et al. 2019, "Modeling Tabular data using Conditional GAN",
§5: machine-learning efficacy; Jordon et al. 2022, "Synthetic Data — what, why and how?"). The model is
scikit-learn's ``HistGradientBoostingClassifier`` / ``HistGradientBoostingRegressor`` (LightGBM-style
histogram gradient boosting; it takes missing values and native categorical splits), with a fixed seed.

Protocol:

* features: every column of ``kinds`` except the target and identifiers; continuous columns as numbers
  (datetimes as nanoseconds since the epoch, missing as NaN); discrete columns as integer codes of the
  categories of *all* tables (synthetic, real training, real test), so the two models see the same codes.
  Columns with at most 255 categories are native categorical features; a category the model never saw
  in training is treated as missing at prediction (scikit-learn's rule). Columns with more categories
  are given as ordinal codes (the histogram model bins at most 255 categories).
* rows with a missing target are dropped from every table;
* classification (discrete target): with two classes in the real data, the metric is the **F1 score of
  the positive class**, the class less frequent in the real training table (ties: the first in sorted
  order); with more classes it is the **macro F1** over the classes present in the test table. Accuracy
  is reported beside it. A training table whose target has a single class gives a model that predicts
  that class for every row.
* regression (continuous target): the coefficient of determination **R²** on the test table.
"""

from __future__ import annotations

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

#: the most categories a histogram gradient-boosting model takes as a native categorical feature
MAX_NATIVE_CATEGORIES = 255


class FeatureEncoder:
    """Numeric feature matrix of a table: continuous columns as floats, discrete ones as category codes of
    the union of the categories seen by :meth:`fit`."""

    def __init__(self, columns: list[str], kinds: dict[str, str]):
        self.columns = columns
        self.kinds = kinds
        self.categories: dict[str, dict[str, int]] = {}

    def fit(self, frames: list[pd.DataFrame]) -> FeatureEncoder:
        for c in self.columns:
            if self.kinds[c] in DISCRETE:
                values = set()
                for df in frames:
                    values.update(discrete_values(df[c]).dropna().unique())
                self.categories[c] = {v: i for i, v in enumerate(sorted(values))}
        return self

    @property
    def categorical_mask(self) -> np.ndarray:
        """True for the columns given to the model as native categorical features."""
        return np.array(
            [c in self.categories and len(self.categories[c]) <= MAX_NATIVE_CATEGORIES for c in self.columns],
            dtype=bool,
        )

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(df), len(self.columns)), dtype=np.float64)
        for j, c in enumerate(self.columns):
            if c in self.categories:
                codes = discrete_values(df[c]).map(self.categories[c])
                out[:, j] = pd.to_numeric(codes, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            else:
                out[:, j] = numeric_values(df[c], self.kinds[c])
        return out


def _check_target(frames: dict[str, pd.DataFrame], target: str, kinds: dict[str, str]) -> str:
    """The target's kind, after checking it is in ``kinds`` and every table."""
    for label, df in frames.items():
        if target not in df.columns:
            guess = closest(target, [str(c) for c in df.columns])
            hint = f"did you mean '{guess}'?" if guess else "name a column of the table"
            raise BadInputError(f"target column '{target}' is not in the {label} table", hint)
    kind = kinds.get(target)
    if kind not in CONTINUOUS | DISCRETE:
        raise BadInputError(
            f"target column '{target}' has kind '{kind}', which a model cannot predict",
            "choose a numerical, integer, datetime, categorical or boolean column",
        )
    return kind


def _target_values(df: pd.DataFrame, target: str, kind: str) -> pd.Series:
    if kind in DISCRETE:
        return discrete_values(df[target])
    return pd.Series(numeric_values(df[target], kind), index=df.index)


def _with_target(df: pd.DataFrame, target: str, kind: str, label: str) -> tuple[pd.DataFrame, pd.Series]:
    if len(df) == 0:
        raise BadInputError(f"the {label} table has no rows", "ML efficacy needs rows to train and test on")
    y = _target_values(df, target, kind)
    keep = y.notna().to_numpy()
    if not keep.any():
        raise BadInputError(
            f"the target '{target}' is missing in every row of the {label} table", "choose another target"
        )
    return df[keep].reset_index(drop=True), y[keep].reset_index(drop=True)


def _fit_predict(
    x_fit: np.ndarray, y_fit: pd.Series, x_test: np.ndarray, classify: bool, mask: np.ndarray, seed: int
) -> np.ndarray:
    """Predictions of a seeded histogram gradient-boosting model; a constant target gives a constant model."""
    ensemble = require("sklearn.ensemble", "tabular", "ML efficacy")
    y = y_fit.to_numpy(dtype=object if classify else np.float64)
    distinct = pd.unique(y)
    if len(distinct) == 1 or len(y) < 2:
        constant = distinct[0] if classify else float(np.mean(y))
        return np.full(len(x_test), constant, dtype=object if classify else np.float64)
    model_class = ensemble.HistGradientBoostingClassifier if classify else ensemble.HistGradientBoostingRegressor
    model = model_class(random_state=seed, categorical_features=mask if mask.any() else None)
    with limited_threads(len(y)):
        model.fit(x_fit, y)
        return model.predict(x_test)


def _positive_class(y_train: pd.Series, classes: list[str]) -> str:
    counts = y_train.value_counts().reindex(classes, fill_value=0)
    return min(classes, key=lambda c: (counts[c], c))


def _classification_scores(y_true: pd.Series, pred: np.ndarray, positive: str | None) -> tuple[float, float]:
    metrics = require("sklearn.metrics", "tabular", "ML efficacy")
    y_true = y_true.to_numpy(dtype=object)
    pred = pred.astype(object)
    labels = [positive] if positive is not None else sorted(pd.unique(y_true))
    f1 = metrics.f1_score(y_true, pred, labels=labels, average="macro", zero_division=0)
    return float(f1), float(metrics.accuracy_score(y_true, pred))


def ml_efficacy(
    train: pd.DataFrame,
    test: pd.DataFrame,
    target: str,
    kinds: dict[str, str],
    synth: pd.DataFrame | None = None,
    seed: int = 0,
    max_train_rows: int | None = 50_000,
) -> dict[str, Any]:
    """Score a model trained on ``synth`` (``ml_efficacy``) and one trained on the real ``train`` table
    (``ml_efficacy_real``), both on the real ``test`` table.

    Training tables are subsampled to ``max_train_rows`` (seeded). Returns ``{"task": "classification" |
    "regression", "metric": "f1" | "r2", "ml_efficacy", "ml_efficacy_real", "accuracy", "accuracy_real"
    (classification only), "positive_class" (binary only), "protocol"}``; ``ml_efficacy`` and ``accuracy``
    are None without ``synth``.
    """
    frames = {"real training": train, "real test": test}
    if synth is not None:
        frames["synthetic"] = synth
    kind = _check_target(frames, target, kinds)
    features = [c for c in check_columns(frames, kinds) if c != target]
    if not features:
        raise BadInputError(f"no feature column besides the target '{target}'", "ML efficacy needs feature columns")
    fitted = {label: _with_target(df, target, kind, label) for label, df in frames.items()}
    classify = kind in DISCRETE
    encoder = FeatureEncoder(features, kinds).fit([df for df, _ in fitted.values()])
    test_df, y_test = fitted["real test"]
    x_test = encoder.transform(test_df)

    positive = None
    if classify:
        classes = sorted(set(fitted["real training"][1]) | set(y_test))
        if len(classes) == 2:
            positive = _positive_class(fitted["real training"][1], classes)
    result: dict[str, Any] = {
        "task": "classification" if classify else "regression",
        "metric": "f1" if classify else "r2",
    }
    for label, key in [("synthetic", ""), ("real training", "_real")]:
        if label not in fitted:
            result[f"ml_efficacy{key}"] = None
            if classify:
                result[f"accuracy{key}"] = None
            continue
        df, y = fitted[label]
        df = subsample(df, max_train_rows, seed)
        pred = _fit_predict(encoder.transform(df), y.loc[df.index], x_test, classify, encoder.categorical_mask, seed)
        if classify:
            result[f"ml_efficacy{key}"], result[f"accuracy{key}"] = _classification_scores(y_test, pred, positive)
        else:
            metrics = require("sklearn.metrics", "tabular", "ML efficacy")
            result[f"ml_efficacy{key}"] = float(metrics.r2_score(y_test.to_numpy(dtype=np.float64), pred))
    if positive is not None:
        result["positive_class"] = positive
    result["protocol"] = _protocol(fitted, target, features, classify, positive, seed, max_train_rows)
    return result


def _protocol(fitted, target, features, classify, positive, seed, max_train_rows) -> dict[str, Any]:
    model = "HistGradientBoostingClassifier" if classify else "HistGradientBoostingRegressor"
    if not classify:
        metric = "R^2 on the real test table"
    elif positive is not None:
        metric = f"F1 of the positive class '{positive}' (the rarer in the real training table)"
    else:
        metric = "macro F1 over the classes of the real test table"
    return {
        "model": f"sklearn {model}(random_state={seed}), default hyper-parameters",
        "target": target,
        "features": features,
        "metric": metric,
        "rows": {
            label: len(df) if label == "real test" else min(len(df), max_train_rows or len(df))
            for label, (df, _) in fitted.items()
        },
        "max_train_rows": max_train_rows,
        "seed": seed,
        "reference": "train on synthetic, test on real (Xu et al. 2019, CTGAN, section 5)",
    }
