"""Reading tables, detecting column kinds, the meta file, canonical dtypes and writing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genlab.core.errors import BadInputError
from genlab.tabular.table import (
    ColumnMeta,
    TableMeta,
    detect_meta,
    prepare_table,
    read_table,
    write_table,
)


def kinds_table(n: int = 60) -> pd.DataFrame:
    """One column of every kind (and a few missing values)."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "row": np.arange(1, n + 1),
            "height": rng.normal(170, 10, n).round(2),
            "age": rng.integers(18, 90, n),
            "children": rng.integers(0, 4, n),
            "city": rng.choice(["Paris", "Lyon", "Nice"], n),
            "smoker": rng.choice(["yes", "no"], n),
            "member": rng.integers(0, 2, n).astype(bool),
            "joined": pd.date_range("2020-01-01", periods=n, freq="D").strftime("%d/%m/%Y"),
            "code": [f"C{i:05d}" for i in range(n)],
        }
    )
    df.loc[[3, 7], "height"] = np.nan
    df.loc[5, "city"] = "?"
    return df


def test_detect_gives_each_kind() -> None:
    meta = detect_meta(kinds_table())
    assert meta.kinds() == {
        "row": "identifier",
        "height": "numerical",
        "age": "integer",
        "children": "categorical",
        "city": "categorical",
        "smoker": "boolean",
        "member": "boolean",
        "joined": "datetime",
        "code": "identifier",
    }
    assert meta.column("joined").datetime_format == "%d/%m/%Y"
    assert meta.column("city").categories == ["Lyon", "Nice", "Paris"]
    assert meta.column("children").categories == ["0", "1", "2", "3"]
    assert meta.column("smoker").categories == ["no", "yes"]
    assert meta.column("height").missing_fraction == pytest.approx(2 / 60)
    assert meta.column("city").missing_fraction == pytest.approx(1 / 60)
    age = meta.column("age")
    assert (age.min, age.max) == (float(kinds_table()["age"].min()), float(kinds_table()["age"].max()))
    assert meta.column("joined").min == pd.Timestamp("2020-01-01").timestamp()


def test_integer_rules_and_id_names() -> None:
    rng = np.random.default_rng(1)
    df = pd.DataFrame(
        {
            "user_id": rng.permutation(10**6)[:30],  # all distinct, sparse: an identifier by its name
            "score": rng.permutation(1000)[:30],  # all distinct, sparse, no id name: an integer
            "flag": rng.integers(0, 2, 30),
            "grade": rng.integers(1, 4, 30),
        }
    )
    assert detect_meta(df).kinds() == {
        "user_id": "identifier",
        "score": "integer",
        "flag": "boolean",
        "grade": "categorical",
    }
    assert detect_meta(df.head(10)).column("user_id").kind == "integer"  # too few rows to call it an id


def test_one_column_table_and_overrides() -> None:
    df = pd.DataFrame({"x": [1.5, 2.5, 3.5, 4.5]})
    assert detect_meta(df).kinds() == {"x": "numerical"}
    meta = detect_meta(kinds_table(), overrides={"children": "integer", "code": "categorical"})
    assert meta.column("children").kind == "integer" and meta.column("children").max == 3
    assert meta.column("code").kind == "categorical" and len(meta.column("code").categories) == 60
    with pytest.raises(BadInputError, match="unknown column kind 'integr'") as err:
        detect_meta(df, overrides={"x": "integr"})
    assert "integer" in err.value.hint


@pytest.mark.parametrize(
    ("column", "match", "hint"),
    [
        ([None] * 30, "no values", "drop"),
        ([f"c{i % 10_000}" for i in range(20_000)], "10000 distinct values", "identifier"),
        ([str(20 + i % 15) for i in range(27)] + ["unknown", "-", "n/a"], "'unknown', '-', 'n/a'", "missing_values"),
        ([f"this is a long free text answer number {i}" for i in range(30)], "free text", "drop"),
    ],
    ids=["all-null", "10000-categories", "mixed-types", "free-text"],
)
def test_detect_refuses(column: list, match: str, hint: str) -> None:
    df = pd.DataFrame({"bad": column, "ok": np.arange(len(column)) % 3})
    with pytest.raises(BadInputError, match=match) as err:
        detect_meta(df)
    assert "'bad'" in err.value.message and hint in err.value.hint


def test_mixed_types_fixed_by_missing_values_in_meta(tmp_path) -> None:
    df = pd.DataFrame({"n": [str(20 + i % 15) for i in range(27)] + ["unknown", "-", "n/a"]})
    meta = TableMeta(missing_values=[*TableMeta().missing_values, "unknown", "-", "n/a"])
    detected = detect_meta(df, meta=meta)
    assert detected.column("n").kind == "integer" and detected.column("n").missing_fraction == pytest.approx(0.1)
    prepared = prepare_table(df, detected)
    assert prepared["n"].dtype == np.float64 and prepared["n"].isna().sum() == 3


def test_meta_yaml_round_trip_and_user_edits(tmp_path) -> None:
    df = kinds_table()
    meta = detect_meta(df)
    path = tmp_path / "meta.yaml"
    meta.save(path)
    assert TableMeta.load(path) == meta
    # a user-edited meta naming only one column (and a constraint) wins for that column
    path.write_text(
        "columns:\n  - {name: children, kind: integer}\nconstraints:\n  - {type: range, column: age, low: 20}\n"
    )
    edited = detect_meta(df, meta=TableMeta.load(path))
    assert edited.column("children").kind == "integer" and edited.column("city").kind == "categorical"
    assert edited.constraints == [{"type": "range", "column": "age", "low": 20}]
    path.write_text("columns:\n  - {name: chidren, kind: integer}\n")
    with pytest.raises(BadInputError, match="unknown column 'chidren'") as err:
        detect_meta(df, meta=TableMeta.load(path))
    assert "children" in err.value.hint
    path.write_text("constraints:\n  - {type: range, column: agee, low: 20}\n")
    with pytest.raises(BadInputError, match="agee") as err:
        detect_meta(df, meta=TableMeta.load(path))
    assert "'age'" in err.value.hint


def test_describe_is_an_aligned_table() -> None:
    text = detect_meta(kinds_table()).describe()
    lines = text.splitlines()
    assert lines[0].split() == ["column", "kind", "missing", "values"]
    assert len({line.index(line.split()[1]) for line in lines}) == 1  # the kind column is aligned
    assert "3 categories" in text and "3.3%" in text and "2020-01-01" in text


def test_prepare_table_dtypes_and_bad_values() -> None:
    df = kinds_table()
    meta = detect_meta(df)
    out = prepare_table(df, meta)
    dtypes = {c: str(t) for c, t in out.dtypes.items()}
    assert dtypes["height"] == dtypes["age"] == "float64"
    assert dtypes["joined"] == "datetime64[ns]" and dtypes["smoker"] == dtypes["member"] == "bool"
    assert (
        out["city"].dtype == object and out["city"].iloc[5] is None and out["children"].iloc[0] in {"0", "1", "2", "3"}
    )
    assert out["row"].iloc[0] == "1" and out["smoker"].sum() == (df["smoker"] == "yes").sum()
    bad = df.astype({"height": object})
    bad.loc[2, "height"] = "tall"
    with pytest.raises(BadInputError, match="column 'height'.*'tall'"):
        prepare_table(bad, meta)
    with pytest.raises(BadInputError, match="'age'"):
        prepare_table(df.drop(columns="age"), meta)


def test_boolean_with_missing_is_nullable() -> None:
    df = pd.DataFrame({"b": ["True", "false", None, "TRUE"]})
    meta = detect_meta(df)
    assert meta.column("b").kind == "boolean"
    out = prepare_table(df, meta)["b"]
    assert str(out.dtype) == "boolean" and out.isna().sum() == 1 and out.sum() == 2


def test_read_csv_delimiters_whitespace_and_missing(tmp_path) -> None:
    for sep in [",", ";", "\t", "|"]:
        path = tmp_path / "t.csv"
        path.write_text(sep.join(["age", "work", "note"]) + "\n" + sep.join(["39", " Private ", "NA"]) + "\n"
                        + sep.join(["50", "?", "ok"]) + "\n")  # fmt: skip
        df = read_table(path)
        assert list(df.columns) == ["age", "work", "note"], sep
        assert df["age"].tolist() == [39, 50] and df["work"].tolist() == ["Private", None]
        assert df["note"].tolist() == [None, "ok"]
    tsv = tmp_path / "t.tsv"
    tsv.write_text("a\tb\n1\t007\n2\t010\n")
    assert read_table(tsv)["b"].tolist() == ["007", "010"]  # leading zeros: codes stay strings


def test_read_errors(tmp_path) -> None:
    with pytest.raises(BadInputError, match="not found"):
        read_table(tmp_path / "missing.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(BadInputError, match="empty"):
        read_table(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text("a,b\n")
    with pytest.raises(BadInputError, match="no rows"):
        read_table(tmp_path / "header.csv")
    (tmp_path / "t.xlsx").write_text("a")
    with pytest.raises(BadInputError, match="unknown table format"):
        read_table(tmp_path / "t.xlsx")
    (tmp_path / "latin.csv").write_bytes(b"name,x\ncaf\xe9,1\n")
    with pytest.raises(BadInputError, match="not UTF-8: byte 0xe9 on line 2") as err:
        read_table(tmp_path / "latin.csv")
    assert "--encoding latin-1" in err.value.hint
    assert read_table(tmp_path / "latin.csv", encoding="latin-1")["name"].tolist() == ["café"]


def test_write_and_read_back(tmp_path) -> None:
    df = kinds_table(25)
    meta = detect_meta(df)
    prepared = prepare_table(df, meta)
    for name in ["out.csv", "out.parquet"]:
        write_table(prepared, tmp_path / name, meta=meta)
        back = read_table(tmp_path / name)
        if name == "out.csv":
            assert back["joined"].iloc[0] == "01/01/2020" and back["smoker"].isin(["yes", "no"]).all()
            assert back["age"].dtype == np.int64  # integers written without ".0"
        pd.testing.assert_frame_equal(prepare_table(back, meta), prepared)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "out.parquet"]  # no temporary files left


def test_column_meta_refuses_unknown_kind() -> None:
    with pytest.raises(BadInputError):
        ColumnMeta.build({"name": "x", "kind": "float"})


def test_datetime_formats_prefer_month_first_on_ties() -> None:
    df = pd.DataFrame(
        {
            "iso": ["2020-01-05", "2020-02-05"] * 10,
            "day_first": ["05/01/2020", "25/02/2020"] * 10,
            "zoned": ["2020-01-05T10:20:30+02:00", "2021-03-01T00:00:00+00:00"] * 10,
        }
    )
    meta = detect_meta(df)
    assert [c.datetime_format for c in meta.columns] == ["%Y-%m-%d", "%d/%m/%Y", "%Y-%m-%dT%H:%M:%S%z"]
    out = prepare_table(df, meta)
    assert out["day_first"].iloc[1] == pd.Timestamp("2020-02-25")
    assert out["zoned"].iloc[0] == pd.Timestamp("2020-01-05 08:20:30")  # converted to UTC
    bad = df.copy()
    bad.loc[0, "iso"] = "soon"
    with pytest.raises(BadInputError, match="'soon'"):
        prepare_table(bad, meta)
