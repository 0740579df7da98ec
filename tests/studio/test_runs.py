"""The Runs tab's views: the table, one run's files, two runs compared, the model as a zip."""

from __future__ import annotations

import zipfile

import pytest

from genlab.core.errors import BadInputError
from genlab.studio import runs


def test_runs_table(studio_runs):
    table = runs.runs_table(studio_runs)
    rows = {r[0]: r for r in table["data"]}
    assert table["headers"][:3] == ["run", "status", "steps"]
    assert set(rows) == {"image-generation/digits", "image-generation/other"}  # a bare model folder is no run
    assert rows["image-generation/digits"][1:3] == ["completed", "3"]
    assert "train/loss=0.9" in rows["image-generation/digits"][3]


def test_run_details(studio_runs):
    d = runs.run_details(studio_runs, "image-generation/digits")
    assert d["loss_plot"].endswith("loss.png") and len(d["samples"]) == 1
    assert "image/cgan" in d["card"] or "cgan" in d["card"]
    assert d["metrics"] == {"fid": 123.4}
    other = runs.run_details(studio_runs, "image-generation/other")
    assert "no exported model" in other["card"]
    with pytest.raises(BadInputError, match="no run"):
        runs.run_details(studio_runs, "../../etc")


def test_compare_runs(studio_runs):
    from genlab.core.compare import compare_runs

    c = compare_runs(studio_runs, ["image-generation/digits", "other"])  # a unique bare name is enough
    assert c["config"]["headers"] == ["setting", "image-generation/digits", "image-generation/other"]
    assert c["config"]["data"] == [["train.lr", "0.0002", "0.001"], ["train.max_steps", "10", "20"]]
    assert c["metrics"]["data"] == [["fid", "123.4", "99"], ["kid", "", "0.1"]]
    assert c["progress"]["data"][:2] == [["status", "completed", "completed"], ["steps", "3", "2"]]
    assert ["train/loss", "0.9", "1.0"] in c["progress"]["data"]
    with pytest.raises(BadInputError, match="at least two"):
        compare_runs(studio_runs, ["other"])


def test_model_zip(studio_runs, tmp_path):
    path = runs.model_zip(studio_runs, "image-generation/digits", tmp_path)
    assert {"config.json", "model.safetensors", "README.md"} <= set(zipfile.ZipFile(path).namelist())
    with pytest.raises(BadInputError, match="no exported model"):
        runs.model_zip(studio_runs, "image-generation/other", tmp_path)


def test_cli_compare_with_a_plot(studio_runs, tmp_path, capsys):
    from tests.cli_helpers import cli_ok

    png = tmp_path / "curves.png"
    code, out = cli_ok(["runs", "--runs-dir", str(studio_runs), "--compare", "digits", "other", "--plot", str(png)],
                       capsys)  # fmt: skip
    assert code == 0, out
    assert "settings that differ" in out and "train.lr" in out and "123.4" in out
    assert png.is_file() and png.stat().st_size > 1000
    code, out = cli_ok(["runs", "--runs-dir", str(studio_runs), "--compare", "digits", "nope"], capsys)
    assert code == 2 and "no run 'nope'" in out
