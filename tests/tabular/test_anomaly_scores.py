"""Anomaly scores of table rows: negative log-likelihoods under the copula, the marginals and TVAE, thresholds
on the validation rows, the refusal of models without a likelihood, and ``genlab synth score``."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

import genlab.tabular  # noqa: F401  (registers the models and pipelines)
from genlab.core.anomaly import auroc
from genlab.core.errors import BadInputError
from genlab.core.registry import MODELS
from genlab.tabular.likelihood import TAIL_WEIGHT, gaussian_copula_log_density, numerical_log_density
from genlab.tabular.table import detect_meta
from genlab.tabular.transform import TableTransformer
from tests.cli_helpers import cli_ok


def gaussian_table(n: int, seed: int, rho: float = 0.9) -> pd.DataFrame:
    """Two standard-normal columns with correlation ``rho`` (3 decimals) and a category x/y/z at 80/15/5 %."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    b = rho * a + math.sqrt(1 - rho**2) * rng.normal(size=n)
    c = rng.choice(["x", "y", "z"], size=n, p=[0.8, 0.15, 0.05])
    return pd.DataFrame({"a": a.round(3), "b": b.round(3), "c": c})


def build(name: str, table: pd.DataFrame, **config):
    """An unfitted model ``tabular/<name>`` whose transformer is fitted on ``table``, and the encoded rows."""
    cls = MODELS.get(f"tabular/{name}")
    transformer = TableTransformer().fit(table, detect_meta(table), numerical=cls.numerical_encoding)
    values = {"data_dim": transformer.output_dim, "spans": [s.to_dict() for s in transformer.spans]}
    model = cls(cls.config_class.build({**values, "transformer": transformer.to_dict(), **config}))
    return model, torch.from_numpy(transformer.transform(table))


def fitted_copula(name: str, table: pd.DataFrame):
    model, x = build(name, table)
    model.fit(SimpleNamespace(encoded=x), None)
    return model.eval()


def outliers() -> pd.DataFrame:
    """Rows against the correlation (a, b of opposite signs) and out of the fitted range (|value| ≥ 8)."""
    return pd.DataFrame({"a": [1.5, -1.5, 2.0, 8.0, 0.0], "b": [-1.5, 1.5, -1.0, 0.0, -9.0], "c": ["x"] * 5})


def test_copula_term_is_the_ratio_of_the_multivariate_to_the_independent_normal_density():
    stats = pytest.importorskip("scipy.stats")
    z = np.array([[0.3, -1.2, 2.0], [0.0, 0.0, 0.0], [-2.5, 1.0, 0.4]])
    r = np.array([[1.0, 0.6, -0.2], [0.6, 1.0, 0.1], [-0.2, 0.1, 1.0]])
    expected = stats.multivariate_normal(np.zeros(3), r).logpdf(z) - stats.norm.logpdf(z).sum(1)
    assert gaussian_copula_log_density(z, r) == pytest.approx(expected, rel=1e-10)
    assert gaussian_copula_log_density(z, np.eye(3)) == pytest.approx(np.zeros(3), abs=1e-12)
    # in the fitted model: copula and marginals share the marginals, so their scores differ by −log c(z) alone
    table = gaussian_table(400, 0).drop(columns="c")
    copula, marginals = fitted_copula("copula", table), fitted_copula("marginals", table)
    rows = pd.concat([table.head(5), outliers().drop(columns="c")], ignore_index=True)
    z_rows = copula.transformer.transform(rows).astype(np.float64)  # the quantile-normal scores
    ratio = stats.multivariate_normal(np.zeros(2), copula.correlation.double().numpy()).logpdf(z_rows)
    ratio -= stats.norm.logpdf(z_rows).sum(1)
    assert marginals.score_rows(rows) - copula.score_rows(rows) == pytest.approx(ratio, rel=1e-6, abs=1e-6)


def test_numerical_density_is_piecewise_constant_between_knots_with_a_finite_tail():
    # knots 0, 1, 3 at probabilities 0, ½, 1: density ½ on [0, 1), ¼ on [1, 3]; values with 2 decimals (h = 0.01)
    column = SimpleNamespace(kind="numerical", decimals=2, resolution_ns=None, quantiles=[0.0, 1.0, 3.0])
    log_f = numerical_log_density(column, np.array([0.5, 2.0, 10.0, 20.0]))
    tail = TAIL_WEIGHT * np.exp(-0.5 * ((np.array([0.5, 2.0]) - 1.5) / 3) ** 2) / (3 * math.sqrt(2 * math.pi))
    assert np.exp(log_f[:2]) == pytest.approx((1 - TAIL_WEIGHT) * np.array([0.5, 0.25]) + tail, rel=1e-9)
    out_of_range = math.log(TAIL_WEIGHT) - 0.5 * ((10 - 1.5) / 3) ** 2 - math.log(3 * math.sqrt(2 * math.pi))
    assert log_f[2] == pytest.approx(out_of_range) and np.isfinite(log_f).all() and log_f[3] < log_f[2]


@pytest.mark.parametrize("name", ["copula", "marginals"])
def test_out_of_range_values_score_high_but_finite(name):
    model = fitted_copula(name, gaussian_table(400, 0))
    typical = model.score_rows(gaussian_table(50, 1))
    far = model.score_rows(pd.DataFrame({"a": [0.0, 8.0, 80.0], "b": [0.0, 0.0, 0.0], "c": ["x"] * 3}))
    assert np.isfinite(far).all() and far[1] > typical.max() and far[2] > far[1] > far[0]


def test_copula_ranks_outliers_above_typical_rows():
    model = fitted_copula("copula", gaussian_table(500, 0).drop(columns="c"))  # numbers only
    normal, odd = gaussian_table(100, 1).drop(columns="c"), outliers().drop(columns="c")
    scores = model.score_rows(pd.concat([normal, odd], ignore_index=True))
    labels = np.r_[np.zeros(len(normal)), np.ones(len(odd))]
    assert auroc(labels, scores) > 0.9
    assert scores.dtype == np.float64 and scores.shape == (len(normal) + len(odd),) and np.isfinite(scores).all()


@pytest.mark.parametrize("name", ["copula", "marginals"])
def test_a_rare_category_scores_above_a_common_one(name):
    model = fitted_copula(name, gaussian_table(600, 0))
    rows = pd.DataFrame({"a": [0.2] * 3, "b": [0.1] * 3, "c": ["x", "z", "never-seen"]})
    common, rare, unseen = model.score_rows(rows)
    assert common < rare < unseen and math.isfinite(unseen)
    frequencies = model.frequencies.double().numpy()  # x, y, z: their training shares
    if name == "marginals":  # no copula term: the difference is the log ratio of the frequencies
        assert rare - common == pytest.approx(math.log(frequencies[0] / frequencies[2]), rel=1e-6)


def test_tvae_scores_after_a_short_fit():
    torch.manual_seed(0)
    table = gaussian_table(400, 0)
    model, x = build("tvae", table, embedding_dim=8, hidden=[32, 32])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(100):
        loss = model.training_losses(x[torch.randint(0, len(x), (128,))], "tvae")["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    normal = gaussian_table(60, 1)
    normal["c"] = "x"
    rows = pd.concat([normal, outliers()], ignore_index=True)
    scores = model.score_rows(rows, samples=8, generator=torch.Generator().manual_seed(0))
    assert np.isfinite(scores).all() and scores.shape == (len(rows),)
    assert auroc(np.r_[np.zeros(len(normal)), np.ones(5)], scores) > 0.9
    again = model.score_rows(rows, samples=8, generator=torch.Generator().manual_seed(0))
    assert np.array_equal(scores, again)  # the same generator, the same importance samples
    rare = model.score_rows(pd.DataFrame({"a": [0.0] * 3, "b": [0.0] * 3, "c": ["x", "z", "never-seen"]}), samples=8)
    assert rare[0] < rare[2] and rare[1] < rare[2] and math.isfinite(rare[2])


def test_models_without_a_likelihood_are_refused_by_name():
    from genlab.tabular.pipelines import TabularScorePipeline

    ctgan, _ = build("ctgan", gaussian_table(50, 0))
    with pytest.raises(BadInputError, match="tabular/ctgan cannot score rows") as info:
        ctgan.score_rows(gaussian_table(5, 1))
    assert all(name in info.value.hint for name in ("copula", "marginals", "tvae"))
    with pytest.raises(BadInputError, match="cannot score rows") as info:
        TabularScorePipeline(ctgan)
    assert "copula" in info.value.hint and "tvae" in info.value.hint


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Copula runs on a CSV of 300 rows: one holding out 20 % for validation, one with no validation rows."""
    import genlab

    root = tmp_path_factory.mktemp("anomaly-runs")
    data = root / "train.csv"
    gaussian_table(300, 0).to_csv(data, index=False)
    val = genlab.train(
        "tabular-synthesis", "copula", str(data), "val", runs_dir=root, progress=False,
        data_options={"val_fraction": 0.2},
    )  # fmt: skip
    plain = genlab.train("tabular-synthesis", "copula", str(data), "plain", runs_dir=root, progress=False)
    return SimpleNamespace(val=val.run.path, plain=plain.run.path, root=root)


@pytest.mark.parametrize("target_fpr", [0.0, 0.05, 0.2])
def test_auto_threshold_flags_at_most_the_target_share_of_validation_rows(runs, target_fpr):
    import genlab
    from genlab.tabular.task import validation_rows

    pipe = genlab.load(runs.val)
    val = validation_rows(pipe.model.provenance.data["config"])
    assert len(val) == 60
    out = pipe.score(val, threshold="auto", target_fpr=target_fpr)
    assert out.info["n_validation"] == 60 and out.info["threshold_rule"].startswith("validation rows")
    assert out.table["anomalous"].mean() <= target_fpr
    assert out.table["anomalous"].sum() == math.floor(target_fpr * 60 + 1e-9)  # no ties among the scores


def test_auto_threshold_scores_the_validation_rows_once_per_pipeline(runs, monkeypatch):
    import genlab

    pipe = genlab.load(runs.val)
    calls = []
    score_rows = pipe.model.score_rows
    monkeypatch.setattr(
        pipe.model, "score_rows", lambda table, **kw: calls.append(len(table)) or score_rows(table, **kw)
    )
    first = pipe.score(gaussian_table(5, 1), threshold="auto", target_fpr=0.05)
    second = pipe.score(gaussian_table(7, 2), threshold="auto", target_fpr=0.2)
    assert first.info["n_validation"] == second.info["n_validation"] == 60
    assert sorted(calls) == [5, 7, 60]  # the validation rows once, each input once
    pipe.score(gaussian_table(5, 1), threshold="auto", seed=3)
    assert calls.count(60) == 2  # another seed draws other samples: the validation rows are scored again


def test_auto_threshold_without_validation_rows_asks_for_a_number(runs):
    import genlab

    pipe = genlab.load(runs.plain)
    with pytest.raises(BadInputError, match="validation rows") as info:
        pipe.score(gaussian_table(5, 1), threshold="auto")
    assert "--threshold" in info.value.hint and "--val-fraction" in info.value.hint
    out = pipe.score(gaussian_table(5, 1), threshold="30")
    assert out.info["threshold_rule"] == "given" and set(out.table["anomalous"]) <= {0, 1}


def test_cli_writes_scores_and_reports_auroc(runs, tmp_path, capsys):
    rows = pd.concat([gaussian_table(40, 2), outliers()], ignore_index=True)
    rows["label"] = [0] * 40 + [1] * 5
    rows["note"] = "kept"  # a column the model does not read stays in the output
    path, out = tmp_path / "new.csv", tmp_path / "scores.csv"
    rows.to_csv(path, index=False)
    code, text = cli_ok(
        ["synth", "score", str(runs.val), str(path), "--out", str(out), "--label-column", "label"], capsys
    )
    assert code == 0, text
    assert "AUROC" in text and "AUPR" in text and "F1" in text
    written = pd.read_csv(out)
    assert list(written.columns) == ["a", "b", "c", "label", "note", "anomaly_score", "anomalous"]
    assert set(written["anomalous"]) <= {0, 1} and written["anomaly_score"].notna().all()
    report = json.loads(out.with_suffix(".anomaly.json").read_text())
    assert report["metrics"]["auroc"] > 0.9 and 0 <= report["metrics"]["aupr"] <= 1 and "f1" in report["metrics"]
    assert report["threshold_rule"].startswith("validation rows") and report["n_validation"] == 60


def test_cli_names_the_missing_columns(runs, tmp_path, capsys):
    path = tmp_path / "partial.csv"
    gaussian_table(5, 1).drop(columns=["b", "c"]).to_csv(path, index=False)
    code, text = cli_ok(["synth", "score", str(runs.val), str(path), "--threshold", "10"], capsys)
    assert code == 2 and "lacks the model's column(s) b, c" in text and "hint:" in text
    code, text = cli_ok(["synth", "score", str(runs.val), str(path), "--threshold", "high"], capsys)
    assert code == 2 and "threshold" in text
