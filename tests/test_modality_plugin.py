"""A modality defined only in the test suite plugs in through the ``genlab.modalities`` entry point.

It trains, samples (saving its own CSV output type) and evaluates through the generic CLI,
with no file under ``src/`` naming it. The ``toy_modality`` fixture is in ``tests/conftest.py``.
"""

import csv
import json

import pytest

from genlab.core import registry
from tests.cli_helpers import cli_ok


def test_toy_modality_is_not_there_without_its_entry_point():
    assert "toy" not in registry.modality_names()
    assert "toy/gaussian" not in registry.MODELS


def test_toy_modality_trains_samples_and_evaluates_through_the_cli(toy_modality, tmp_path, capsys):
    assert "toy" in registry.modality_names()
    assert registry.DATASETS.names(modality="toy") == ["builtin:toy-normal"]
    code, out = cli_ok(["models"], capsys)
    assert code == 0 and "gaussian" in out and "toy-numbers" in out
    code, out = cli_ok(["train", "toy-numbers", "--help"], capsys)
    assert code == 0 and "--n" in out and "numbers to draw" in out

    runs = tmp_path / "runs"
    args = ["train", "toy-numbers", "--data", "builtin:toy-normal", "--n", "256", "--name", "g", "--max-steps", "150"]
    code, out = cli_ok([*args, "--batch-size", "64", "--no-progress", "--runs-dir", str(runs)], capsys)
    assert code == 0, out
    run = runs / "toy-numbers" / "g"
    assert (run / "model" / "model.safetensors").is_file() and list((run / "samples").glob("*.csv"))

    out_csv = tmp_path / "draws.csv"
    code, out = cli_ok(["sample", str(run), "--n", "500", "--seed", "1", "--out", str(out_csv)], capsys)
    assert code == 0, out
    values = [float(r["value"]) for r in csv.DictReader(out_csv.open())]
    assert len(values) == 500
    assert sum(values) / len(values) == pytest.approx(3.0, abs=0.3)  # the model learned the data's mean

    code, out = cli_ok(["sample", str(run), "--help"], capsys)
    assert code == 0 and "how many numbers" in out and "--guidance" not in out
    code, out = cli_ok(["generate", str(run)], capsys)
    assert code == 2 and "toy-numbers" in out and "genlab sample" in out

    code, out = cli_ok(["eval", str(run), "--help"], capsys)
    assert code == 0 and "numbers to draw for evaluation" in out
    result_json = tmp_path / "eval.json"
    code, out = cli_ok(["eval", str(run), "--n", "2000", "--out", str(result_json)], capsys)
    assert code == 0, out
    result = json.loads(result_json.read_text())
    assert result["metrics"]["mean_error"] < 0.3 < result["baselines"]["zero"]["mean_error"]
    assert result["protocol"]["n_generated"] == 2000 and "mean_error" in result["protocol"]
    assert (run / "eval.json").is_file()
