from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from genlab.core.errors import BadInputError
from genlab.tabular.privacy import PrivacyEncoder, attribute_inference, dcr, membership_inference, nndr

KINDS = {"id": "identifier", "x": "numerical", "y": "numerical", "c": "categorical", "s": "categorical"}


def _draw(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = x + rng.normal(0.0, 0.5, n)
    c = rng.choice(["a", "b", "c"], n)
    s = np.where(rng.random(n) < 0.7, "no", "yes")  # independent of the rest
    return pd.DataFrame({"id": np.arange(n), "x": x, "y": y, "c": c, "s": s})


def test_three_row_example_by_hand():
    kinds = {"x": "numerical", "c": "categorical"}
    train = pd.DataFrame({"x": [0.0, 10.0, 5.0], "c": ["a", "b", "a"]})
    holdout = pd.DataFrame({"x": [6.0, 0.0, 0.0], "c": ["b", "a", "a"]})
    synth = pd.DataFrame({"x": [5.0], "c": ["b"]})
    # x scaled on the training range [0, 10]; a category mismatch adds 1 to the squared distance:
    # (5, b) to (0, a): sqrt(0.5² + 1); to (10, b): 0.5; to (5, a): 1
    enc = PrivacyEncoder(["x", "c"], kinds).fit(train, [synth, holdout])
    rows = enc.transform(pd.concat([synth, train]))
    dist = np.linalg.norm(rows[1:] - rows[0], axis=1)
    np.testing.assert_allclose(dist, [math.sqrt(0.25 + 1), math.sqrt(0.25), 1.0], rtol=1e-6)
    result = dcr(synth, train, holdout, kinds)
    assert result["dcr_median"] == pytest.approx(0.5)  # (10, b): same category, 0.5 apart
    assert result["dcr_holdout_median"] == pytest.approx(0.1)  # (6, b)
    assert result["share_closer_to_train"] == 0.0
    assert result["exact_matches"] == 0.0
    assert nndr(synth, train, kinds)["nndr_median"] == pytest.approx(0.5 / 1.0)


def test_a_copy_of_the_training_rows_is_caught():
    train, holdout = _draw(0, 200), _draw(1, 200)
    synth = train.sample(frac=1.0, random_state=3)
    result = dcr(synth, train, holdout, KINDS)
    assert result["dcr_median"] == pytest.approx(0.0, abs=1e-6)
    assert result["dcr_5th_percentile"] == pytest.approx(0.0, abs=1e-6)
    assert result["exact_matches"] == 1.0
    assert result["share_closer_to_train"] == 1.0
    assert nndr(synth, train, KINDS)["nndr_median"] == pytest.approx(0.0, abs=1e-6)
    assert membership_inference(synth, train, holdout, KINDS)["mia_auroc"] > 0.99


def test_an_independent_draw_leaks_nothing():
    train, holdout, synth = _draw(0, 300), _draw(1, 300), _draw(2, 300)
    result = dcr(synth, train, holdout, KINDS)
    assert result["exact_matches"] == 0.0 and result["dcr_median"] > 0.01
    assert abs(result["share_closer_to_train"] - 0.5) < 0.1
    assert abs(result["dcr_median"] - result["dcr_holdout_median"]) < 0.3 * result["dcr_median"]
    assert abs(membership_inference(synth, train, holdout, KINDS)["mia_auroc"] - 0.5) < 0.1
    assert 0.3 < nndr(synth, train, KINDS)["nndr_median"] < 1.0


def test_half_copied_rows_are_counted():
    train, holdout, fresh = _draw(0, 100), _draw(1, 100), _draw(2, 100)
    synth = pd.concat([train.iloc[:50], fresh.iloc[:50]])
    assert dcr(synth, train, holdout, KINDS)["exact_matches"] == 0.5


def test_holdout_and_train_are_compared_at_equal_size():
    train, holdout, synth = _draw(0, 300), _draw(1, 100), _draw(2, 100)
    result = dcr(synth, train, holdout, KINDS)
    assert result["protocol"]["rows_train"] == result["protocol"]["rows_holdout"] == 100
    assert result["protocol"]["rows_train_exact_matches"] == 300


def test_missing_values_are_at_least_one_apart():
    kinds = {"x": "numerical", "c": "categorical"}
    train = pd.DataFrame({"x": [0.0, 1.0, np.nan], "c": ["a", None, "b"]})
    enc = PrivacyEncoder(["x", "c"], kinds).fit(train, [])
    rows = enc.transform(train)
    assert rows.shape == (3, 2 + 3)  # value + missing indicator; a, b and missing
    assert np.linalg.norm(rows[2] - rows[0]) >= 1.0
    assert np.linalg.norm(rows[1] - rows[0]) == pytest.approx(math.sqrt(1 + 1))


def test_attribute_inference_on_a_copy_and_on_a_fresh_draw():
    train = _draw(0, 300)
    train["s"] = np.where(train["x"] > 0.5, "yes", "no")  # the quasi-identifiers reveal it
    copied = attribute_inference(train.copy(), train, KINDS, quasi=["x", "c"], sensitive="s")
    assert copied["attack_accuracy"] == 1.0
    assert copied["baseline_accuracy"] == pytest.approx((train["s"] == "no").mean())
    assert copied["risk"] == pytest.approx(1.0 - copied["baseline_accuracy"])
    independent = _draw(0, 300)
    fresh = attribute_inference(_draw(2, 300), independent, KINDS, quasi=["x", "c"], sensitive="s")
    assert abs(fresh["risk"]) < 0.2 and fresh["risk"] < 0.1


def test_attribute_inference_continuous():
    train = _draw(0, 200)
    copied = attribute_inference(train.copy(), train, KINDS, quasi=["x", "c"], sensitive="y")
    assert copied["attack_error"] == pytest.approx(0.0)
    assert copied["risk"] == pytest.approx(copied["baseline_error"]) and copied["baseline_error"] > 0.05
    fresh = attribute_inference(_draw(2, 200), train, KINDS, quasi=["c"], sensitive="y")
    assert fresh["attack_error"] > fresh["baseline_error"] - 0.05  # the category says nothing about y


def test_bad_input():
    train, holdout = _draw(0, 20), _draw(1, 20)
    with pytest.raises(BadInputError, match="no rows"):
        dcr(train.iloc[:0], train, holdout, KINDS)
    with pytest.raises(BadInputError, match="'xx'") as err:
        attribute_inference(train, train, KINDS, quasi=["xx"], sensitive="s")
    assert "'x'" in err.value.hint
    with pytest.raises(BadInputError, match="also a quasi-identifier"):
        attribute_inference(train, train, KINDS, quasi=["x", "s"], sensitive="s")
    with pytest.raises(BadInputError, match="two training rows"):
        nndr(train, train.iloc[:1], KINDS)
