"""The tabular-synthesis task end to end: fit on a CSV, sample with conditions, report; CLI and Python API."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import genlab
from genlab.core.errors import BadInputError
from tests.cli_helpers import cli_ok

TINY = {
    "tvae": {"embedding_dim": 4, "hidden": [16]},
    "ctgan": {"embedding_dim": 8, "generator_dim": [16], "discriminator_dim": [16], "pac": 2},
    "tab-ddpm": {"hidden": [16], "num_timesteps": 30},
    "copula": {},
    "marginals": {},
}


def patients(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """A small patient table: numbers, an integer, categories, a boolean, a date and missing values."""
    rng = np.random.default_rng(seed)
    age = rng.integers(20, 90, n)
    sex = rng.choice(["Female", "Male"], n)
    bmi = np.round(rng.normal(27, 4, n), 1)
    bmi[rng.random(n) < 0.1] = np.nan
    smoker = rng.random(n) < 0.3
    disease = np.where(age + 10 * smoker + rng.normal(0, 10, n) > 70, "yes", "no")
    visit = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    return pd.DataFrame(
        {"age": age, "sex": sex, "bmi": bmi, "smoker": smoker, "visit": visit.strftime("%Y-%m-%d"), "disease": disease}
    )


@pytest.fixture(scope="module")
def table_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("tables") / "patients.csv"
    patients().to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, table_csv):
    """One tiny run per model on the patient table."""
    root = tmp_path_factory.mktemp("runs")
    runs = {}
    for model, options in TINY.items():
        result = genlab.train(
            "tabular-synthesis", model, str(table_csv), model, runs_dir=root, max_steps=4, progress=False,
            model_options=options, batch_size=50,
        )  # fmt: skip
        assert result.status == "completed"
        runs[model] = result.run.path
    return runs


@pytest.mark.parametrize("model", list(TINY))
def test_every_model_fits_and_samples_the_table_s_columns_and_types(fitted, model):
    pipe = genlab.load(fitted[model])
    table, record = pipe.sample(40, seed=0)
    assert list(table.columns) == list(patients().columns) and len(table) == 40
    assert set(table["sex"].dropna()) <= {"Female", "Male"}
    assert table["age"].dropna().between(20, 89).all() and (table["age"].dropna() % 1 == 0).all()
    again, _ = pipe.sample(40, seed=0)
    pd.testing.assert_frame_equal(table, again)
    assert record["drawn"] >= 40


@pytest.mark.parametrize("model", ["ctgan", "tab-ddpm", "copula"])
def test_conditional_sampling_meets_the_condition(fitted, model):
    pipe = genlab.load(fitted[model])
    table, _ = pipe.sample(30, seed=1, condition="sex=Female,age>40")
    assert (table["sex"] == "Female").all() and (table["age"] > 40).all() and len(table) == 30


@pytest.mark.parametrize("model", ["tab-ddpm", "copula", "marginals"])
def test_stratified_draws_keep_the_training_shares_exactly(fitted, model):
    pipe = genlab.load(fitted[model])
    shares = patients()["sex"].value_counts()
    assert pipe.model.config.category_counts["sex"] == [shares["Female"], shares["Male"]]  # recorded at fit
    assert pipe.model.config.category_counts["disease"] == [185, 115]  # yes/no: a boolean column, False first
    n = 97  # the shares do not divide it: largest remainders make up the total
    table, record = pipe.sample(n, seed=3, stratify="sex")
    exact = shares / shares.sum() * n
    got = table["sex"].value_counts()
    assert len(table) == n and record["stratified_on"] == "sex" and got.sum() == n
    assert all(abs(got[c] - exact[c]) < 1 for c in exact.index)
    assert table["sex"].iloc[:20].nunique() == 2  # the strata are shuffled together, not one after the other
    again, _ = pipe.sample(n, seed=3, stratify="sex")
    pd.testing.assert_frame_equal(table, again)
    both, _ = pipe.sample(20, seed=0, stratify="disease", condition="sex=Female")
    assert (both["sex"] == "Female").all() and len(both) == 20
    assert both["disease"].sum() == round(20 * 115 / 300)  # a boolean column stratifies too


def test_stratifying_on_a_bad_column_is_explained(fitted):
    pipe = genlab.load(fitted["copula"])
    with pytest.raises(BadInputError, match="not categorical"):
        pipe.sample(10, stratify="age")
    with pytest.raises(BadInputError, match="did you mean 'disease'"):
        pipe.sample(10, stratify="diseas")
    with pytest.raises(BadInputError, match="both stratified and conditioned"):
        pipe.sample(10, stratify="sex", condition="sex=Male")
    pipe.model.config.category_counts.pop("disease")  # a model fitted before the counts were recorded
    with pytest.raises(BadInputError, match="no training counts"):
        pipe.sample(10, stratify="disease")


def test_a_condition_that_cannot_be_met_stops_with_a_clear_error(fitted):
    pipe = genlab.load(fitted["copula"])
    with pytest.raises(BadInputError, match="could not draw 10 rows meeting age>200"):
        pipe.sample(10, seed=0, condition="age>200", max_draws=3)


@pytest.mark.parametrize(
    "condition, message",
    [("sexx=Female", "did you mean 'sex'"), ("sex=Femal", "did you mean 'Female'"), ("age>old", "not a number"),
     ("sex<Female", "only = and !=")],
)  # fmt: skip
def test_bad_conditions_are_explained(fitted, condition, message):
    pipe = genlab.load(fitted["copula"])
    with pytest.raises(BadInputError, match=message):
        pipe.sample(5, condition=condition)


def test_cli_synth_fit_sample_report(tmp_path, table_csv, capsys):
    runs = tmp_path / "runs"
    code, out = cli_ok(
        ["synth", "fit", str(table_csv), "--model", "copula", "--name", "pts", "--runs-dir", str(runs)], capsys
    )
    assert code == 0, out
    assert "age" in out and "categorical" in out  # the detected column types are shown
    run = runs / "tabular-synthesis" / "pts"
    meta = (run / "samples" / "meta.yaml").read_text(encoding="utf-8")  # the detected kinds, ready to edit
    assert "kind: categorical" in meta and "kind: datetime" in meta
    synthetic = tmp_path / "synthetic.csv"
    code, out = cli_ok(["synth", "sample", str(run), "--n", "50", "--out", str(synthetic), "--seed", "0"], capsys)
    assert code == 0, out
    assert len(pd.read_csv(synthetic)) == 50
    holdout = tmp_path / "holdout.csv"
    patients(200, seed=1).to_csv(holdout, index=False)
    report = tmp_path / "report.html"
    code, out = cli_ok(
        ["synth", "report", str(run), "--real", str(table_csv), "--holdout", str(holdout), "--target", "disease",
         "--out", str(report)], capsys,
    )  # fmt: skip
    assert code == 0, out
    html = report.read_text(encoding="utf-8")
    assert "<html" in html.lower() and "quality" in html.lower()
    stratified = tmp_path / "stratified.csv"
    code, out = cli_ok(["synth", "sample", str(run), "--n", "40", "--stratify", "disease", "--out", str(stratified)],
                       capsys)  # fmt: skip
    assert code == 0, out
    assert len(pd.read_csv(stratified)) == 40


def test_python_api_fits_a_dataframe_and_reports(tmp_path):
    import genlab.synth

    df = patients()
    model = genlab.synth.fit(df, model="marginals", runs_dir=tmp_path, progress=False)
    fake = model.sample(100, seed=0)
    assert list(fake.columns) == list(df.columns)
    report = model.report(real=df, holdout=patients(100, seed=2), target="disease")
    assert 0 <= report["quality"]["quality"] <= 1 and "ml_efficacy" in report["efficacy"]
    assert report["model"]["stratified_on"] is None
    stratified = model.report(real=df, holdout=patients(100, seed=2), target="disease", stratify="disease")
    assert stratified["model"]["stratified_on"] == "disease" and "ml_efficacy" in stratified["efficacy"]
    assert model.sample(30, seed=0, stratify="sex")["sex"].value_counts().sum() == 30


def test_builtin_tables_fit_offline(tmp_path):
    for source in ("builtin:diabetes", "builtin:breast-cancer"):
        result = genlab.train("tabular-synthesis", "copula", source, source.split(":")[1], runs_dir=tmp_path,
                              progress=False)  # fmt: skip
        table, _ = genlab.load(result.run.path).sample(20, seed=0)
        assert len(table) == 20


def test_cli_anonymize_makes_the_table_k_anonymous_and_keeps_the_key_apart(tmp_path, capsys):
    df = patients(400)
    df.insert(0, "name", [f"person {i}" for i in range(len(df))])
    df.insert(1, "patient_id", [f"P{i:05d}" for i in range(len(df))])
    source, out = tmp_path / "patients.csv", tmp_path / "anon.csv"
    df.to_csv(source, index=False)
    code, text = cli_ok(
        ["anonymize", str(source), str(out), "--k", "5", "--quasi", "age,sex,visit", "--drop", "name",
         "--pseudonymize", "patient_id"], capsys,
    )  # fmt: skip
    assert code == 0, text
    anon = pd.read_csv(out, dtype=str)
    assert "name" not in anon.columns and not anon["patient_id"].str.startswith("P0").any()
    assert anon.groupby(["age", "sex", "visit"], dropna=False).size().min() >= 5
    assert len(anon) >= 0.95 * len(df)
    key = out.with_suffix(".key")
    assert key.is_file() and (key.stat().st_mode & 0o077) == 0
    report = out.with_suffix(".anonymization.json").read_text(encoding="utf-8")
    assert key.read_text().strip() not in report and '"k": 5' in report


def test_cli_anonymize_bad_column_is_a_clear_error(tmp_path, table_csv, capsys):
    code, text = cli_ok(["anonymize", str(table_csv), str(tmp_path / "a.csv"), "--quasi", "agee"], capsys)
    assert code == 2 and "age" in text


@pytest.mark.parametrize("model", ["copula", "tvae"])
def test_a_one_column_table_fits_and_samples(tmp_path, model):
    path = tmp_path / "one.csv"
    pd.DataFrame({"age": np.random.default_rng(0).integers(20, 80, 100)}).to_csv(path, index=False)
    result = genlab.train(
        "tabular-synthesis", model, str(path), "one", runs_dir=tmp_path, max_steps=2, progress=False,
        model_options=TINY[model],
    )  # fmt: skip
    table = genlab.load(result.run.path)(n=7, seed=0)  # the pipeline called like the others
    assert list(table.columns) == ["age"] and len(table) == 7


@pytest.mark.parametrize(
    "content, message",
    [("", "empty"), ("a,b\n", "no rows"), ("a,b\n,1\n,2\n", "all missing|only missing|no values")],
)
def test_bad_tables_stop_training_with_a_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(BadInputError, match=message):
        genlab.train("tabular-synthesis", "copula", str(path), "bad", runs_dir=tmp_path, progress=False)


def test_constraints_of_the_metadata_file_hold_in_every_sampled_row(tmp_path):
    df = patients(300)
    df["discharge_age"] = df["age"] + np.random.default_rng(1).integers(0, 5, len(df))
    source, meta = tmp_path / "p.csv", tmp_path / "meta.yaml"
    df.to_csv(source, index=False)
    meta.write_text(
        "constraints:\n  - {type: range, column: bmi, low: 20, high: 32}\n"
        "  - {type: inequality, low: age, high: discharge_age}\n"
        "  - {type: fixed-combinations, columns: [sex, disease]}\n"
    )
    result = genlab.train(
        "tabular-synthesis", "marginals", str(source), "c", runs_dir=tmp_path, progress=False,
        data_options={"meta": str(meta)},
    )  # fmt: skip
    table = genlab.load(result.run.path)(n=200, seed=0)
    assert table["bmi"].dropna().between(20, 32).all()
    assert (table["age"] <= table["discharge_age"]).all()
    seen = set(zip(df["sex"], df["disease"] == "yes", strict=True))  # yes/no is read as a boolean
    assert set(zip(table["sex"], table["disease"], strict=True)) <= seen


def test_synth_group_help_lists_its_commands(capsys):
    code, out = cli_ok(["synth", "--help"], capsys)
    assert code == 0 and "internal error" not in out
    assert all(name in out for name in ("fit", "sample", "report"))


def test_augment_draws_per_class_rows_of_a_label_column(fitted, tmp_path, capsys):
    pipe = genlab.load(fitted["copula"])
    from genlab.core.pipeline import pipeline_for

    augment = pipeline_for(pipe.model, "augment")(pipe.model)
    out = augment(column="disease", per_class=40, seed=0)
    assert sorted(out.table["disease"].value_counts().tolist()) == [40, 40]  # yes/no: read as a boolean column
    only = augment(column="sex", per_class=5, classes="Male", seed=1)
    assert set(only.table["sex"]) == {"Male"} and len(only.table) == 5
    with pytest.raises(BadInputError, match="not a categorical column"):
        augment(column="bmi")
    with pytest.raises(BadInputError, match="no categories"):
        augment(column="sex", classes="Other")
    code, text = cli_ok(["augment", str(fitted["copula"]), "--column", "smoker", "--per-class", "10",
                         "--out", str(tmp_path / "aug.csv")], capsys)  # fmt: skip
    assert code == 0, text
    assert len(pd.read_csv(tmp_path / "aug.csv")) == 20
