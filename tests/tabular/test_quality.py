from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from genlab.core.errors import BadInputError
from genlab.tabular.quality import column_pair_trends, column_shapes, quality_report

KINDS = {"x": "numerical", "y": "numerical", "c": "categorical", "d": "categorical"}


def test_column_shapes_by_hand():
    real = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "c": ["a", "a", "b", None]})
    synth = pd.DataFrame({"x": [1.0, 2.0, 3.0, 10.0], "c": ["a", "b", "b", "b"]})
    scores = column_shapes(real, synth, {"x": "numerical", "c": "categorical"})
    # KS: on [4, 10) the real ECDF is 1 and the synthetic one 3/4
    assert scores["x"] == pytest.approx(0.75)
    # TV on present values: real a 2/3, b 1/3; synthetic a 1/4, b 3/4 -> TV = 5/12
    assert scores["c"] == pytest.approx(7 / 12)


def test_datetime_and_boolean_shapes():
    days = pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-03", None])
    real = pd.DataFrame({"t": days, "b": pd.array([True, True, False, None], dtype="boolean")})
    synth = pd.DataFrame({"t": days[[0, 0, 0, 1]], "b": [True, False, False, False]})
    scores = column_shapes(real, synth, {"t": "datetime", "b": "boolean"})
    # NaT dropped; at day 1 the real ECDF is 1/3 and the synthetic one 3/4 (day 2: 2/3 against 1)
    assert scores["t"] == pytest.approx(1 - 5 / 12)
    # present values: real True 2/3, False 1/3; synthetic True 1/4, False 3/4
    assert scores["b"] == pytest.approx(7 / 12)


def test_pair_trends_by_hand():
    kinds = {"x": "numerical", "y": "numerical", "c": "categorical", "d": "categorical"}
    real = pd.DataFrame({"x": [1.0, 2, 3, 4], "y": [1.0, 2, 3, 4], "c": list("aabb"), "d": list("uuvv")})
    synth = pd.DataFrame({"x": [1.0, 2, 3, 4], "y": [1.0, -1, -1, 1], "c": list("aabb"), "d": list("uvvv")})
    pairs = column_pair_trends(real, synth, kinds)
    assert list(pairs) == [("x", "y"), ("x", "c"), ("x", "d"), ("y", "c"), ("y", "d"), ("c", "d")]
    assert pairs[("x", "y")] == pytest.approx(0.5)  # rho 1 against rho 0
    # joint table: real (a,u) .5, (b,v) .5; synthetic (a,u) .25, (a,v) .25, (b,v) .5 -> TV .25
    assert pairs[("c", "d")] == pytest.approx(0.75)


def test_mixed_pairs_bin_each_table_on_its_own_range():
    kinds = {"x": "numerical", "c": "categorical"}
    real = pd.DataFrame({"x": [0.0, 0, 10, 10], "c": list("aabb")})
    shifted = pd.DataFrame({"x": [5.0, 5, 7, 7], "c": list("aabb")})
    assert column_pair_trends(real, shifted, kinds)[("x", "c")] == pytest.approx(1.0)
    crossed = pd.DataFrame({"x": [0.0, 10, 0, 10], "c": list("aabb")})
    assert column_pair_trends(real, crossed, kinds)[("x", "c")] == pytest.approx(0.5)


def test_missing_discrete_value_is_a_cell_of_its_own():
    kinds = {"c": "categorical", "d": "categorical"}
    real = pd.DataFrame({"c": ["a", "a", "b", "b"], "d": ["u", "u", "v", "v"]})
    synth = pd.DataFrame({"c": ["a", "a", "b", "b"], "d": ["u", None, "v", "v"]})
    assert column_pair_trends(real, synth, kinds)[("c", "d")] == pytest.approx(0.75)
    assert column_shapes(real, synth, kinds)["d"] == pytest.approx(1 - 0.5 * (abs(0.5 - 1 / 3) + abs(0.5 - 2 / 3)))


def _frame(seed: int, n: int = 300, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, n)
    y = 2 * x + rng.normal(0.0, 1.0 + shift, n)
    c = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    d = np.where(x + rng.normal(0.0, 1.0, n) > shift, "yes", "no")
    return pd.DataFrame({"x": x, "y": y, "c": c, "d": d})


def test_identical_tables_score_one():
    real = _frame(0, 200)
    report = quality_report(real, real.copy(), KINDS, real_correlation_threshold=0, real_association_threshold=0)
    assert report["column_shapes"] == pytest.approx(1.0)
    assert report["column_pair_trends"] == pytest.approx(1.0)
    assert report["quality"] == pytest.approx(1.0)
    assert {d["column"] for d in report["column_details"]} == set(KINDS)
    assert len(report["pair_details"]) == 6


def test_report_thresholds_and_identifiers():
    real, synth = _frame(0, 200), _frame(1, 200, shift=0.5)
    kinds = {**KINDS, "id": "identifier"}
    real["id"], synth["id"] = range(200), range(200)
    full = quality_report(real, synth, kinds, real_correlation_threshold=0, real_association_threshold=0)
    assert all(d["column"] != "id" for d in full["column_details"])
    assert full["column_pair_trends"] == pytest.approx(np.mean([d["score"] for d in full["pair_details"]]))
    related = quality_report(real, synth, kinds)
    counted = [d["score"] for d in related["pair_details"] if d["meets_threshold"]]
    assert 0 < len(counted) < 6 and related["protocol"]["pairs_counted"] == len(counted)
    assert related["column_pair_trends"] == pytest.approx(np.mean(counted))
    assert related["quality"] == pytest.approx((related["column_shapes"] + related["column_pair_trends"]) / 2)


def test_subsampling_is_seeded():
    real, synth = _frame(0, 300), _frame(1, 300)
    a = quality_report(real, synth, KINDS, max_rows=100, seed=3)
    b = quality_report(real, synth, KINDS, max_rows=100, seed=3)
    assert a["protocol"]["rows_real"] == 100 and a["protocol"]["rows_synthetic"] == 100
    assert a["quality"] == b["quality"]


def test_bad_input():
    real = _frame(0, 20)
    with pytest.raises(BadInputError, match="'cc' is missing") as err:
        column_shapes(real, real, {"cc": "categorical"})
    assert "'c'" in err.value.hint
    with pytest.raises(BadInputError, match="unknown kind"):
        column_shapes(real, real, {"c": "text"})
    with pytest.raises(BadInputError, match="no rows"):
        quality_report(real, real.iloc[:0], KINDS)


def test_constant_column_scores_nan_and_is_left_out():
    real = pd.DataFrame({"x": [1.0, 2, 3, 4], "y": [1.0, 1, 1, 1]})
    pairs = column_pair_trends(real, real, {"x": "numerical", "y": "numerical"})
    assert math.isnan(pairs[("x", "y")])


@pytest.mark.parametrize("seed,shift,n_synth", [(1, 0.5, 250), (2, 0.0, 300), (3, 1.0, 320)])
def test_agrees_with_sdmetrics(seed, shift, n_synth):
    pytest.importorskip("sdmetrics")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the single-table report is deprecated in favour of the unified one
        from sdmetrics.reports.single_table import QualityReport

    real, synth = _frame(0), _frame(seed, n_synth, shift)
    metadata = {
        "columns": {c: {"sdtype": "numerical" if k == "numerical" else "categorical"} for c, k in KINDS.items()}
    }
    for thresholds in [(0.5, 0.3), (0.0, 0.0)]:
        peer = QualityReport()
        peer.real_correlation_threshold, peer.real_association_threshold = thresholds
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            peer.generate(real, synth, metadata, verbose=False)
        props = dict(zip(peer.get_properties()["Property"], peer.get_properties()["Score"], strict=True))
        ours = quality_report(
            real, synth, KINDS, real_correlation_threshold=thresholds[0], real_association_threshold=thresholds[1]
        )
        assert ours["column_shapes"] == pytest.approx(props["Column Shapes"], abs=1e-6)
        assert ours["column_pair_trends"] == pytest.approx(props["Column Pair Trends"], abs=1e-6)
        assert ours["quality"] == pytest.approx(peer.get_score(), abs=1e-6)
        details = peer.get_details("Column Pair Trends")
        theirs = details["Score"].to_numpy(dtype=float)
        mine = np.array([d["score"] if d["meets_threshold"] else np.nan for d in ours["pair_details"]])
        np.testing.assert_allclose(mine, theirs, atol=1e-6)  # NaN where a pair does not count, on both sides
