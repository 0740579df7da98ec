"""The reversible table encoding: round trips, span layout, saved state."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from genlab.core.errors import BadInputError
from genlab.tabular.spans import spans_width
from genlab.tabular.table import detect_meta, prepare_table
from genlab.tabular.transform import TableTransformer


def mixed_table(n: int = 300) -> pd.DataFrame:
    """Every kind: a bimodal number with missing values, integers, dates, categories, booleans, ids."""
    rng = np.random.default_rng(0)
    income = np.where(rng.random(n) < 0.5, rng.normal(20, 2, n), rng.normal(80, 5, n)).round(2)
    income[rng.random(n) < 0.1] = np.nan
    sick = rng.choice(["yes", "no"], n).astype(object)
    sick[:5] = None
    return pd.DataFrame(
        {
            "id": [f"P{i:04d}" for i in range(n)],
            "income": income,
            "age": rng.integers(18, 90, n),
            "visit": pd.Timestamp("2021-03-01") + pd.to_timedelta(rng.integers(0, 400, n), unit="D"),
            "city": rng.choice(["Paris", "Lyon", "Nice", None], n, p=[0.5, 0.3, 0.15, 0.05]),
            "smoker": rng.integers(0, 2, n).astype(bool),
            "sick": sick,
        }
    )


@pytest.fixture(scope="module")
def table() -> tuple[pd.DataFrame, object]:
    df = mixed_table()
    return df, detect_meta(df)


def assert_same_table(a: pd.DataFrame, b: pd.DataFrame, meta, skip: tuple[str, ...] = ()) -> None:
    assert list(a.columns) == list(b.columns)
    for name, kind in meta.kinds().items():
        if name in skip:
            continue
        assert a[name].dtype == b[name].dtype, name
        if kind in ("numerical", "integer"):
            np.testing.assert_allclose(a[name].to_numpy(), b[name].to_numpy(), rtol=1e-6, atol=1e-6, err_msg=name)
        else:
            pd.testing.assert_series_equal(a[name], b[name], check_names=False)


@pytest.mark.parametrize("numerical", ["mode", "quantile"])
def test_round_trip(table, numerical: str) -> None:
    df, meta = table
    tr = TableTransformer().fit(df, meta, numerical=numerical)
    x = tr.transform(df)
    assert x.dtype == np.float32 and x.shape == (len(df), tr.output_dim) and np.isfinite(x).all()
    back = tr.inverse_transform(x)
    assert_same_table(back, prepare_table(df, meta), meta, skip=("id",))
    assert back["id"].is_unique and back["id"].iloc[0] == "id-000001"


@pytest.mark.parametrize("numerical", ["mode", "quantile"])
def test_spans_cover_the_width(table, numerical: str) -> None:
    df, meta = table
    tr = TableTransformer().fit(df, meta, numerical=numerical)
    stop = 0
    for span in tr.spans:
        assert span.start == stop and span.width >= 1
        stop = span.stop
    assert stop == tr.output_dim == spans_width(tr.spans)
    layout = [(s.column, s.kind, s.role) for s in tr.spans]
    expected_income = [("income", "softmax", "missing"), ("income", "alpha", "value")]
    if numerical == "mode":
        expected_income.append(("income", "softmax", "mode"))
    assert layout[: len(expected_income)] == expected_income
    assert {s.column for s in tr.spans} == set(meta.names()) - {"id"}
    x = tr.transform(df)
    for s in tr.spans:
        block = x[:, s.start : s.stop]
        if s.kind == "softmax":
            assert np.all(block.sum(1) == 1) and np.all((block == 0) | (block == 1)), s
        elif s.bounded:
            assert np.abs(block).max() <= 1.0, s
    assert [s.width for s in tr.spans if s.column == "sick"] == [3]  # no, yes, missing
    assert [s.width for s in tr.spans if s.column == "smoker"] == [2]


def test_modes_of_a_bimodal_column(table) -> None:
    df, meta = table
    tr = TableTransformer().fit(df, meta, numerical="mode", max_modes=5)
    encoder = tr.to_dict()["columns"][1]
    assert encoder["name"] == "income" and 2 <= len(encoder["means"]) <= 5
    means = np.array(encoder["means"])
    assert np.abs(means - 20).min() < 2 and np.abs(means - 80).min() < 3


def test_quantile_values_are_standard_normal() -> None:
    df = pd.DataFrame({"x": np.random.default_rng(2).exponential(3.0, 2000)})
    meta = detect_meta(df)
    tr = TableTransformer().fit(df, meta, numerical="quantile")
    z = tr.transform(df)[:, 0]
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1) < 0.1 and not tr.spans[0].bounded


def test_quantile_columns_of_few_values_decode_to_values_that_occur() -> None:
    """A spiky column (mostly 0, a few amounts) decodes only to its own values, each from its probability
    range; a column of more than MAX_SUPPORT values keeps the interpolated quantiles."""
    from scipy.special import ndtr

    gain = np.r_[np.zeros(1100), np.full(50, 7688), np.full(30, 15024), 100 + 3 * np.arange(20)].astype(int)
    df = pd.DataFrame({"gain": gain, "x": np.random.default_rng(0).normal(size=len(gain))})
    tr = TableTransformer().fit(df, detect_meta(df), numerical="quantile")
    state = tr.to_dict()["columns"]
    assert "support" in state[0] and "support" not in state[1]  # 1,200 distinct values of x: quantiles
    pd.testing.assert_frame_equal(tr.inverse_transform(tr.transform(df)), df, check_dtype=False)  # exact
    z = np.linspace(-5.2, 5.2, 4001)
    decoded = tr.inverse_transform(np.stack([z, np.zeros_like(z)], 1))["gain"]
    assert set(decoded) == set(gain)  # every value reachable, nothing in between
    u = ndtr(tr.transform(df.iloc[[0, 1100, 1150]])[:, 0])  # 0, 7688, 15024
    np.testing.assert_allclose(u, [550 / 1200, 1145 / 1200, 1185 / 1200], atol=1e-6)  # middles of their ranges


def test_a_dominant_value_gets_its_own_span_with_spikes() -> None:
    """With ``spikes``, 0 in 92 % of the rows is a category [other, spike] and the quantiles describe the
    rest; the round trip is exact, missing values still have their own span, and without ``spikes`` (or for
    a column with no dominant value) nothing changes."""
    rng = np.random.default_rng(0)
    gain = np.r_[np.zeros(920), rng.integers(1, 50_000, 80)].astype(float)
    gain[5] = np.nan
    df = pd.DataFrame({"gain": gain, "x": rng.normal(size=1000)})
    meta = detect_meta(df)
    tr = TableTransformer().fit(df, meta, numerical="quantile", spikes=True)
    spans = [(s.column, s.role, s.width) for s in tr.spans]
    assert spans == [("gain", "missing", 2), ("gain", "spike", 2), ("gain", "value", 1), ("x", "value", 1)]
    x = tr.transform(df)
    assert x[:, 3].sum() == 919 and np.all(x[x[:, 3] == 1, 4] == 0)  # the spike rows, α = 0
    assert abs(x[x[:, 3] == 0, 4][1:].mean()) < 0.3  # the other values fill the normal scores on their own
    pd.testing.assert_frame_equal(tr.inverse_transform(x), df, check_dtype=False)
    loaded = TableTransformer.from_dict(json.loads(json.dumps(tr.to_dict())))
    pd.testing.assert_frame_equal(loaded.inverse_transform(x), df, check_dtype=False)
    plain = TableTransformer().fit(df, meta, numerical="quantile")
    assert [s.role for s in plain.spans] == ["missing", "value", "value"]


def test_saved_state_gives_identical_results(table) -> None:
    df, meta = table
    for numerical in ["mode", "quantile"]:
        tr = TableTransformer().fit(df, meta, numerical=numerical, seed=3)
        loaded = TableTransformer.from_dict(json.loads(json.dumps(tr.to_dict())))
        x = tr.transform(df)
        np.testing.assert_array_equal(loaded.transform(df), x)
        pd.testing.assert_frame_equal(loaded.inverse_transform(x), tr.inverse_transform(x))
        assert loaded.spans == tr.spans and loaded.output_dim == tr.output_dim


def test_same_seed_same_fit_and_row_subset(table) -> None:
    df, meta = table
    a = TableTransformer().fit(df, meta, seed=1, max_fit_rows=100).to_dict()
    b = TableTransformer().fit(df, meta, seed=1, max_fit_rows=100).to_dict()
    assert a == b


def test_inverse_of_probabilities_and_noise(table) -> None:
    df, meta = table
    tr = TableTransformer().fit(df, meta)
    x = tr.transform(df).astype(np.float64)
    soft = x.copy()
    for s in tr.spans:
        if s.kind == "softmax":  # probabilities peaking at the one-hot entry
            soft[:, s.start : s.stop] = 0.6 * x[:, s.start : s.stop] + 0.4 / s.width
    pd.testing.assert_frame_equal(tr.inverse_transform(soft), tr.inverse_transform(x))
    noise = np.random.default_rng(0).normal(0, 3, x.shape)  # out-of-range rows still decode inside the ranges
    out = tr.inverse_transform(noise)
    age = meta.column("age")
    assert out["age"].min() >= age.min and out["age"].max() <= age.max and (out["age"] % 1 == 0).all()
    assert out["visit"].min() >= df["visit"].min() and out["visit"].max() <= df["visit"].max()


def test_category_index_and_errors(table) -> None:
    df, meta = table
    tr = TableTransformer().fit(df, meta)
    assert tr.category_index("city", "Lyon") == 0 and tr.category_index("city", "Paris") == 2
    assert tr.category_index("city", None) == 3
    assert tr.category_index("smoker", True) == 1 and tr.category_index("sick", "yes") == 1
    with pytest.raises(BadInputError, match="Pariss") as err:
        tr.category_index("city", "Pariss")
    assert "Paris" in err.value.hint
    with pytest.raises(BadInputError, match="numerical"):
        tr.category_index("income", 3)
    unseen = df.copy()
    unseen.loc[0, "city"] = "Brest"
    with pytest.raises(BadInputError, match="'Brest'"):
        tr.transform(unseen)
    with pytest.raises(BadInputError, match="shape"):
        tr.inverse_transform(np.zeros((2, tr.output_dim + 1)))


def test_integer_ids_continue_after_the_largest() -> None:
    df = pd.DataFrame({"id": np.arange(101, 131), "x": np.linspace(0, 1, 30)})
    meta = detect_meta(df)
    assert meta.column("id").kind == "identifier"
    tr = TableTransformer().fit(df, meta, numerical="quantile")
    out = tr.inverse_transform(tr.transform(df))
    assert out["id"].tolist()[:2] == ["131", "132"] and tr.output_dim == 1


def test_bad_arguments(table) -> None:
    df, meta = table
    with pytest.raises(BadInputError, match="numerical encoding"):
        TableTransformer().fit(df, meta, numerical="gauss")
    with pytest.raises(BadInputError, match="not fitted"):
        TableTransformer().transform(df)
