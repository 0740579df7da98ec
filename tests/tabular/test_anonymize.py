from __future__ import annotations

import itertools
import time

import numpy as np
import pandas as pd
import pytest

from genlab.core.errors import BadInputError, ConfigError
from genlab.tabular.anonymize import (
    AnonymizeConfig,
    Lattice,
    anonymize,
    build_hierarchy,
    check_k_anonymity,
    check_l_diversity,
    equivalence_classes,
    nice_width,
    pseudonyms,
    search,
)

QUASI = ["age", "zip", "sex", "admitted"]


def patients(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    zips = ["13053", "13068", "13020", "14850", "14853", "10001", "10003", "10025"]
    return pd.DataFrame(
        {
            "name": [f"patient {i}" for i in range(n)],
            "ssn": [f"{a}-{b}-{c}" for a, b, c in rng.integers([100, 10, 1000], [999, 99, 9999], (n, 3))],
            "age": rng.integers(18, 90, n),
            "zip": rng.choice(zips, n),
            "sex": rng.choice(["F", "M"], n),
            "admitted": pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 1500, n), unit="D"),
            "disease": rng.choice(["flu", "cancer", "hepatitis", "heart disease", "viral infection"], n),
        }
    )


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return patients()


def test_k_anonymity_holds_and_identifiers_are_dropped_or_pseudonymised(table):
    result = anonymize(table, AnonymizeConfig(k=5, quasi=QUASI, drop=["name"], pseudonymize=["ssn"], key="s3cret"))
    out, report = result.table, result.report
    assert out.groupby(QUASI).size().min() >= 5
    assert check_k_anonymity(out, QUASI, 5) and not check_k_anonymity(table, QUASI, 5)
    assert "name" not in out.columns and list(out.columns) == [c for c in table.columns if c != "name"]
    assert out["ssn"].str.fullmatch(r"ssn_[0-9a-f]{16}").all()
    assert all(out[c].map(lambda v: isinstance(v, str)).all() for c in QUASI)
    # the rows kept are the input rows in order: their pseudonyms and sensitive values line up
    kept = pseudonyms(table["ssn"], "s3cret").isin(set(out["ssn"])).to_numpy()
    assert out["disease"].tolist() == table["disease"][kept].tolist()
    assert report["rows_in"] == 300 and report["rows_out"] == len(out) == kept.sum() == 300 - report["suppressed"]
    assert report["suppressed"] <= report["suppression_limit"] == 15
    assert report["smallest_class"] == equivalence_classes(out, QUASI).min() >= 5
    assert report["classes"] == len(equivalence_classes(out, QUASI))
    assert set(report["levels"]) == set(QUASI) and 0 < report["information_loss"] < 1
    assert report["optimal"] and not report["key_generated"] and "key" not in report


def test_generated_key_is_reported_once_and_not_written(table):
    result = anonymize(table, AnonymizeConfig(k=3, quasi=["age", "sex"], pseudonymize=["ssn", "name"]))
    key = result.report["key"]
    assert result.report["key_generated"] and len(key) == 64
    assert key not in result.table.to_csv()
    assert set(result.table["name"]) <= set(pseudonyms(table["name"], key))
    assert result.table["name"].nunique() == len(result.table)  # distinct names keep distinct tokens


def test_l_diversity_holds_when_asked(table):
    config = AnonymizeConfig(k=4, quasi=QUASI, drop=["name", "ssn"], sensitive=["disease"], l=3)
    out = anonymize(table, config).table
    assert out.groupby(QUASI).size().min() >= 4
    assert out.groupby(QUASI)["disease"].nunique().min() >= 3
    assert check_l_diversity(out, QUASI, ["disease"], 3)
    plain = anonymize(table, AnonymizeConfig(k=4, quasi=QUASI, drop=["name", "ssn"])).table
    assert not check_l_diversity(plain, QUASI, ["disease"], 3)  # the constraint is what made the difference


@pytest.mark.parametrize("max_suppression", [0.0, 0.02, 0.1])
def test_suppression_stays_within_the_limit(table, max_suppression):
    config = AnonymizeConfig(k=5, quasi=["age", "zip", "sex"], max_suppression=max_suppression)
    report = anonymize(table, config).report
    assert report["suppressed"] <= int(max_suppression * 300) == report["suppression_limit"]
    assert report["rows_out"] == 300 - report["suppressed"]


def test_pseudonyms_are_stable_under_a_key_and_differ_under_another():
    ids = pd.Series(["123-45-6789", "987-65-4321", None, "123-45-6789"], name="ssn")
    a, b, c = pseudonyms(ids, "key-1"), pseudonyms(ids, "key-1"), pseudonyms(ids, "key-2")
    assert a.tolist() == b.tolist()
    assert a[0] == a[3] != a[1] and a[0].startswith("ssn_") and len(a[0]) == 4 + 16
    assert a.isna().tolist() == [False, False, True, False] and c.isna().tolist() == a.isna().tolist()
    assert not set(a.dropna()) & set(c.dropna())
    assert pseudonyms(pd.Series([7.0, 7], name="id"), "k")[0] == pseudonyms(pd.Series([7], name="id"), "k")[0]


def test_numeric_hierarchy_labels():
    assert nice_width(72, integer=True) == 2 and nice_width(0.5, integer=True) == 1
    assert nice_width(1.85, integer=False) == pytest.approx(0.05)
    h = build_hierarchy(pd.Series([34, 37, 52, np.nan], name="age"))
    assert h.kind == "numeric" and h.names == ["value", "width 8", "*"]
    assert h.generalise(0).tolist() == ["34", "37", "52", None]
    assert h.generalise(1).tolist() == ["32-39", "32-39", "48-55", None]
    assert h.generalise(2).tolist() == ["*"] * 4
    wide = build_hierarchy(pd.Series(np.arange(0, 640, 10), name="x"))
    assert wide.names[1:4] == ["width 20", "width 40", "width 80"]
    assert wide.generalise(2)[[3, 4]].tolist() == ["0-39", "40-79"]
    floats = build_hierarchy(pd.Series([0.15, 0.9, 0.33, 2.0]))
    assert floats.generalise(1).tolist() == ["[0, 0.4)", "[0.8, 1.2)", "[0, 0.4)", "[2, 2.4)"]
    signed = build_hierarchy(pd.Series([-7, 3, 12, -1, np.inf]))  # intervals start below the minimum
    assert signed.names == ["value", "width 8", "width 16", "*"]
    assert signed.generalise(1).tolist() == ["[-7, 0]", "1-8", "9-16", "[-7, 0]", None]
    assert signed.generalise(2).tolist() == ["[-7, 8]", "[-7, 8]", "9-24", "[-7, 8]", None]


def test_date_hierarchy_labels():
    days = ["2021-02-14", "2021-02-20", "2021-03-01", "2021-11-30", "2013-05-01", "2019-01-01"]
    for series in (pd.Series(pd.to_datetime(days)), pd.Series(days, dtype=object)):
        h = build_hierarchy(series)
        assert h.kind == "date" and h.names == ["value", "month", "quarter", "year", "decade", "*"]
        assert h.generalise(0).tolist() == days
        assert h.generalise(1).tolist()[:3] == ["2021-02", "2021-02", "2021-03"]
        assert h.generalise(2).tolist()[2:5] == ["2021-Q1", "2021-Q4", "2013-Q2"]
        assert h.generalise(3).tolist()[3:] == ["2021", "2013", "2019"]
        assert h.generalise(4).tolist()[3:] == ["2020s", "2010s", "2010s"]
    times = build_hierarchy(pd.Series(pd.to_datetime(["2021-02-14 08:30", "2021-02-14 17:00", "2021-02-15 09:00"])))
    assert times.names[:2] == ["value", "day"] and times.generalise(1).tolist()[1:] == ["2021-02-14", "2021-02-15"]


def test_zip_and_categorical_hierarchies():
    zips = ["12345", "12346", "12399", "12001", "13000"]
    h = build_hierarchy(pd.Series(zips, name="zip"))
    assert h.kind == "mask" and h.names == ["value", "mask 1", "mask 2", "mask 3", "*"]
    assert h.generalise(1).tolist() == ["1234*", "1234*", "1239*", "1200*", "1300*"]
    assert h.generalise(2).tolist() == ["123**", "123**", "123**", "120**", "130**"]
    assert h.generalise(3).tolist() == ["12***", "12***", "12***", "12***", "13***"]
    sex = build_hierarchy(pd.Series(["F", "M", None, "F"], name="sex"))
    assert sex.kind == "categorical" and sex.generalise(0).tolist() == ["F", "M", None, "F"]
    assert sex.names == ["value", "*"] and set(sex.generalise(1)) == {"*"}
    user = {
        "Lyon": ["Rhone", "France"],
        "Villeurbanne": ["Rhone", "France"],
        "Vienne": ["Isere", "France"],
        "Turin": ["Piemonte", "Italy"],
    }
    city = build_hierarchy(pd.Series(["Lyon", "Villeurbanne", "Vienne", "Turin"], name="city"), user)
    assert city.kind == "user" and city.names == ["value", "level 1", "level 2", "*"]
    assert city.generalise(1).tolist() == ["Rhone", "Rhone", "Isere", "Piemonte"]
    assert city.generalise(2).tolist() == ["France", "France", "France", "Italy"]
    with pytest.raises(BadInputError, match="no entry for 'Paris'"):
        build_hierarchy(pd.Series(["Lyon", "Paris"], name="city"), user)
    with pytest.raises(BadInputError, match="not nested"):
        build_hierarchy(pd.Series(["a", "b", "c"], name="c"), {"a": ["x", "p"], "b": ["x", "q"], "c": ["y", "q"]})


def test_user_hierarchy_is_used_in_the_search():
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"city": rng.choice(["Lyon", "Vienne", "Turin", "Milan"], 60), "x": rng.normal(size=60)})
    user = {"Lyon": ["France"], "Vienne": ["France"], "Turin": ["Italy"], "Milan": ["Italy"]}
    df.loc[:3, "city"] = "Vienne"
    df.loc[4:, "city"] = df.loc[4:, "city"].replace("Vienne", "Lyon")  # Vienne: 4 rows, too few for k=6
    result = anonymize(df, AnonymizeConfig(k=6, quasi=["city"], hierarchies={"city": user}, max_suppression=0))
    assert result.report["generalisation"] == {"city": "level 1"}
    assert set(result.table["city"]) == {"France", "Italy"}


@pytest.mark.parametrize(("quasi", "diversity", "budget"), [(QUASI[:3], None, 6), (QUASI, 3, 10)])
def test_search_finds_the_least_loss_node(table, quasi, diversity, budget):
    """Exhaustive scoring of every lattice node agrees with the pruned search."""
    hierarchies = [build_hierarchy(table[c]) for c in quasi]
    sensitive = [pd.factorize(table["disease"])[0]] if diversity else []
    lattice = Lattice(hierarchies, sensitive, k=6, diversity=diversity, budget=budget)
    best, evaluated, complete = search(lattice, max_nodes=10_000)
    nodes = itertools.product(*[range(h.height + 1) for h in hierarchies])
    scores = [lattice.score(node) for node in nodes]
    exhaustive = min((s for s in scores if s.ok), key=lambda s: (s.loss, s.discernibility))
    assert complete and best.node == exhaustive.node and evaluated < len(scores)
    # monotonicity, which the pruning relies on: a generalisation of a satisfying node satisfies
    ok = {s.node for s in scores if s.ok}
    assert all(succ in ok for node in ok for succ in lattice.successors(node))


def test_already_anonymous_table_comes_back_ungeneralised():
    base = pd.DataFrame({"age": [30, 41, 52], "zip": ["12345", "12399", "54321"], "sex": ["F", "M", "F"]})
    df = pd.concat([base] * 5, ignore_index=True).assign(score=np.arange(15))
    result = anonymize(df, AnonymizeConfig(k=5, quasi=["age", "zip", "sex"]))
    assert result.report["levels"] == {"age": 0, "zip": 0, "sex": 0} and result.report["information_loss"] == 0
    assert result.report["suppressed"] == 0 and result.report["nodes_evaluated"] == 2  # the top, then the bottom
    assert result.table["age"].tolist() == [str(a) for a in df["age"]]
    assert result.table["zip"].tolist() == df["zip"].tolist() and result.table["score"].tolist() == list(range(15))


def test_search_bound_returns_the_best_found_and_says_so(table):
    report = anonymize(table, AnonymizeConfig(k=5, quasi=QUASI, max_nodes=1)).report
    assert report["optimal"] is False and report["information_loss"] == 1.0
    assert report["nodes_evaluated"] == 1 and set(report["generalisation"].values()) == {"*"}


def test_errors(table):
    with pytest.raises(BadInputError, match="unknown column 'agee' in quasi") as err:
        anonymize(table, AnonymizeConfig(quasi=["agee"]))
    assert "did you mean 'age'" in err.value.hint
    with pytest.raises(BadInputError, match="unknown column 'nam' in drop"):
        anonymize(table, AnonymizeConfig(quasi=["age"], drop=["nam"]))
    with pytest.raises(BadInputError, match="'age' is both in quasi and in drop"):
        anonymize(table, AnonymizeConfig(quasi=["age", "sex"], drop=["age"]))
    with pytest.raises(BadInputError, match="larger than the number of rows"):
        anonymize(table.head(4), AnonymizeConfig(k=5, quasi=["age"]))
    with pytest.raises(BadInputError, match="no rows"):
        anonymize(table.head(0), AnonymizeConfig(quasi=["age"]))
    with pytest.raises(BadInputError, match="not a quasi-identifier"):
        anonymize(table, AnonymizeConfig(quasi=["age"], hierarchies={"sex": {"F": ["*"], "M": ["*"]}}))
    with pytest.raises(BadInputError, match="no generalisation") as err:
        anonymize(table, AnonymizeConfig(quasi=["age"], sensitive=["sex"], l=3))
    assert "lower k" in err.value.hint and "max_suppression" in err.value.hint
    for bad in ({"quasi": []}, {"quasi": ["age"], "k": 1}, {"quasi": ["age"], "l": 2}, {"quasi": ["a", "a"]}):
        with pytest.raises(ConfigError):
            AnonymizeConfig.build(bad)
    with pytest.raises(ConfigError, match="unknown config key 'kk'"):
        AnonymizeConfig.build({"quasi": ["age"], "kk": 3})


def test_missing_quasi_values_form_their_own_class():
    df = pd.DataFrame({"age": [30.0, np.nan, 31.0, np.nan, 30.0, 31.0], "sex": ["F", "F", "F", "F", "F", "F"]})
    out = anonymize(df, AnonymizeConfig(k=2, quasi=["age", "sex"], max_suppression=0)).table
    assert out["age"].tolist()[:2] == ["30", None] and check_k_anonymity(out, ["age", "sex"], 2)


def test_adult_sized_table_is_fast():
    df = patients(32_561, seed=1).drop(columns=["name", "ssn"])
    start = time.perf_counter()
    result = anonymize(df, AnonymizeConfig(k=10, quasi=QUASI, sensitive=["disease"], l=2))
    assert time.perf_counter() - start < 5.0
    assert result.table.groupby(QUASI).size().min() >= 10
