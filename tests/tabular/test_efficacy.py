from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genlab.core.errors import BadInputError
from genlab.tabular.efficacy import ml_efficacy

KINDS = {"id": "identifier", "x1": "numerical", "x2": "integer", "c": "categorical", "y": "categorical"}


def _table(seed: int, n: int, classes: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.integers(0, 5, n).astype(float)
    c = rng.choice(["a", "b", "c"], n)
    score = x1 + (c == "a") * 1.5
    if classes == 2:
        y = np.where(score > 1.0, "yes", "no")
    else:
        y = np.array(["low", "mid", "high"])[np.digitize(score, [-0.3, 0.9])]
    x1[rng.random(n) < 0.05] = np.nan  # missing features are taken as they are
    return pd.DataFrame(
        {"id": np.arange(n), "x1": x1, "x2": x2, "c": c, "y": y, "t": 2 * score + rng.normal(0, 0.2, n)}
    )


def test_binary_classification_learns_from_a_faithful_table():
    train, test, synth = _table(0, 300), _table(1, 200), _table(2, 300)
    result = ml_efficacy(train, test, "y", KINDS, synth=synth)
    assert result["task"] == "classification" and result["metric"] == "f1"
    assert result["positive_class"] == "yes"  # the rarer class of the real training table
    assert result["ml_efficacy_real"] > 0.8 and result["ml_efficacy"] > 0.8
    assert 0.8 < result["accuracy"] <= 1.0 and 0.8 < result["accuracy_real"] <= 1.0
    assert result["protocol"]["features"] == ["x1", "x2", "c"]
    assert result == ml_efficacy(train, test, "y", KINDS, synth=synth)  # seeded


def test_a_table_without_the_signal_scores_lower():
    train, test = _table(0, 300), _table(1, 200)
    noise = _table(2, 300)
    noise["y"] = np.random.default_rng(5).permutation(noise["y"].to_numpy())
    result = ml_efficacy(train, test, "y", KINDS, synth=noise)
    assert result["ml_efficacy"] < result["ml_efficacy_real"] - 0.3


def test_single_class_synthetic_target_predicts_that_class():
    train, test = _table(0, 300), _table(1, 200)
    synth = train.assign(y="no")
    result = ml_efficacy(train, test, "y", KINDS, synth=synth)
    assert result["ml_efficacy"] == 0.0  # never predicts the positive class
    assert result["accuracy"] == pytest.approx((test["y"] == "no").mean())


def test_multiclass_macro_f1_by_hand():
    kinds = {**KINDS, "y": "categorical"}
    train, test = _table(0, 300, classes=3), _table(1, 200, classes=3)
    result = ml_efficacy(train, test, "y", kinds, synth=train.assign(y="mid"))
    assert "positive_class" not in result
    share = (test["y"] == "mid").mean()
    # always "mid": its precision is its share and its recall 1; the two other classes score 0
    assert result["ml_efficacy"] == pytest.approx(2 * share / (1 + share) / 3)
    assert result["ml_efficacy_real"] > 0.6


def test_regression_r2():
    kinds = {**KINDS, "y": "identifier", "t": "numerical"}
    train, test = _table(0, 300), _table(1, 200)
    result = ml_efficacy(train, test, "t", kinds, synth=_table(2, 300))
    assert result["task"] == "regression" and result["metric"] == "r2" and "accuracy" not in result
    assert result["ml_efficacy_real"] > 0.8 and result["ml_efficacy"] > 0.8
    constant = ml_efficacy(train, test, "t", kinds, synth=train.assign(t=1.0))
    y = test["t"].to_numpy()
    assert constant["ml_efficacy"] == pytest.approx(1 - ((y - 1.0) ** 2).sum() / ((y - y.mean()) ** 2).sum())


def test_unseen_categories_and_missing_targets():
    train, test, synth = _table(0, 200), _table(1, 100), _table(2, 200)
    test.loc[:9, "c"] = "never seen"
    synth.loc[:9, "y"] = None
    result = ml_efficacy(train, test, "y", KINDS, synth=synth)
    assert result["protocol"]["rows"]["synthetic"] == 190
    assert 0.0 <= result["ml_efficacy"] <= 1.0


def test_reference_only_without_synthetic_table():
    result = ml_efficacy(_table(0, 200), _table(1, 100), "y", KINDS)
    assert result["ml_efficacy"] is None and result["accuracy"] is None
    assert result["ml_efficacy_real"] > 0.7


def test_bad_input():
    train, test = _table(0, 50), _table(1, 50)
    with pytest.raises(BadInputError, match="target column 'yy'") as err:
        ml_efficacy(train, test, "yy", KINDS, synth=train)
    assert "'y'" in err.value.hint
    with pytest.raises(BadInputError, match="cannot predict"):
        ml_efficacy(train, test, "id", KINDS, synth=train)
    with pytest.raises(BadInputError, match="synthetic table has no rows"):
        ml_efficacy(train, test, "y", KINDS, synth=train.iloc[:0])
    with pytest.raises(BadInputError, match="missing in every row"):
        ml_efficacy(train, test, "y", KINDS, synth=train.assign(y=None))
