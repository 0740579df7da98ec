"""Constraints of a meta file: parsing, checks against the columns, clipping and rejection masks."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from genlab.core.errors import BadInputError, GenlabError
from genlab.tabular.constraints import ConstraintSet, parse_constraint
from genlab.tabular.table import TableMeta, detect_meta, prepare_table


def people() -> pd.DataFrame:
    n = 40
    rng = np.random.default_rng(0)
    start = pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 100, n), unit="D")
    city = rng.choice(["Paris", "Lyon", "Berlin"], n)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 80, n),
            "income": rng.normal(3000, 500, n).round(2),
            "start": start,
            "end": start + pd.to_timedelta(rng.integers(1, 30, n), unit="D"),
            "city": city,
            "country": np.where(city == "Berlin", "DE", "FR"),
        }
    )


def meta_with(constraints: list[dict]) -> TableMeta:
    return detect_meta(people(), meta=TableMeta(constraints=constraints))


def test_range_clips_and_masks() -> None:
    meta = meta_with(
        [
            {"type": "range", "column": "age", "low": 30, "high": 60},
            {"type": "range", "column": "start", "high": "2022-02-01"},
        ]
    )
    cs = ConstraintSet.from_meta(meta).check_against(meta)
    df = prepare_table(people(), meta)
    df.loc[0, "age"] = np.nan
    mask = cs.valid(df)
    inside = df["age"].between(30, 60) & (df["start"] <= pd.Timestamp("2022-02-01"))
    np.testing.assert_array_equal(mask[1:], inside.to_numpy()[1:])
    assert mask[0] == (df.loc[0, "start"] <= pd.Timestamp("2022-02-01"))  # a missing age is not judged
    clipped = cs.transform(df)
    assert cs.valid(clipped).all() and clipped["age"].max() == 60 and clipped["age"].min() == 30
    assert np.isnan(clipped.loc[0, "age"]) and df["age"].max() > 60  # the input is left alone
    assert "age in [30, 60] (clipped)" in cs.describe()


def test_inequality_by_rejection() -> None:
    meta = meta_with([{"type": "inequality", "low": "start", "high": "end"}])
    cs = ConstraintSet.from_meta(meta).check_against(meta)
    df = prepare_table(people(), meta)
    assert cs.valid(df).all()
    df.loc[[1, 2], "end"] = df.loc[[1, 2], "start"] - pd.Timedelta(days=1)
    df.loc[3, "end"] = df.loc[3, "start"]
    df.loc[4, "start"] = pd.NaT
    mask = cs.valid(df)
    assert not mask[1] and not mask[2] and mask[3] and mask[4] and mask.sum() == len(df) - 2
    strict = ConstraintSet.from_specs([{"type": "inequality", "low": "start", "high": "end", "strict": True}])
    assert not strict.valid(df)[3]
    assert cs.transform(df).equals(df)  # rejection: nothing changed


def test_fixed_combinations_fit_mask_and_saved_state() -> None:
    meta = meta_with([{"type": "fixed-combinations", "columns": ["city", "country"]}])
    df = prepare_table(people(), meta)
    cs = ConstraintSet.from_meta(meta).check_against(meta)
    with pytest.raises(GenlabError, match="before it was fitted"):
        cs.valid(df)
    cs.fit(df)
    assert cs.valid(df).all()
    df.loc[0, ["city", "country"]] = ["Berlin", "FR"]
    df.loc[1, "country"] = None
    assert cs.valid(df).tolist()[:3] == [False, False, True]
    saved = json.loads(json.dumps(cs.to_dict()))
    assert saved["constraints"][0]["combinations"] == [["Berlin", "DE"], ["Lyon", "FR"], ["Paris", "FR"]]
    np.testing.assert_array_equal(ConstraintSet.from_dict(saved).valid(df), cs.valid(df))
    assert "3 seen combinations" in cs.describe()


@pytest.mark.parametrize(
    ("spec", "match", "hint"),
    [
        ({"type": "rnge", "column": "age", "low": 1}, "unknown constraint type 'rnge'", "range"),
        ({"type": "range", "colum": "age", "low": 1}, "unknown key 'colum'", "column"),
        ({"type": "range", "column": "age"}, "needs 'low', 'high'", "low"),
        ({"type": "inequality", "low": "age"}, "'high' is missing", "high"),
        ({"type": "fixed-combinations", "columns": ["city"]}, "two or more", "columns"),
    ],
)
def test_malformed_specs(spec: dict, match: str, hint: str) -> None:
    with pytest.raises(BadInputError, match=match) as err:
        parse_constraint(spec)
    assert hint in err.value.hint


@pytest.mark.parametrize(
    ("spec", "match", "hint"),
    [
        ({"type": "range", "column": "agge", "low": 1}, "unknown column 'agge'", "'age'"),
        ({"type": "inequality", "low": "city", "high": "age"}, "cannot compare 'city'", "numerical"),
        ({"type": "inequality", "low": "start", "high": "age"}, "cannot compare 'start'", "datetime"),
        ({"type": "range", "column": "city", "low": 1}, "'city' is categorical", "numerical"),
        ({"type": "range", "column": "age", "low": 5, "high": 1}, "above high", "swap"),
        ({"type": "fixed-combinations", "columns": ["city", "income"]}, "'income' is numerical", "categorical"),
    ],
)
def test_checks_against_the_columns(spec: dict, match: str, hint: str) -> None:
    meta = detect_meta(people())
    with pytest.raises(BadInputError, match=match) as err:
        ConstraintSet.from_specs([spec]).check_against(meta)
    assert hint in err.value.hint
    with pytest.raises(BadInputError, match=match):  # the same check when a meta file lists it
        meta_with([spec])


def test_meta_refuses_malformed_constraints() -> None:
    with pytest.raises(BadInputError, match="unknown constraint type"):
        TableMeta(constraints=[{"type": "between", "column": "age"}])
    assert ConstraintSet().describe() == "no constraints" and ConstraintSet().valid(people()).all()
