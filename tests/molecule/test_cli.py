"""End to end through the CLI on the shipped fixture: train, sample (filters, PNG grid), eval, bad input."""

import json
from pathlib import Path

import pytest

pytest.importorskip("rdkit")
pytest.importorskip("selfies")

from genlab.molecule import chem  # noqa: E402
from tests.cli_helpers import cli_ok  # noqa: E402

TINY = Path(__file__).parent / "data" / "tiny.smi"
RNN = ["--n-layer", "1", "--hidden-size", "32", "--n-embd", "8", "--batch-size", "8", "--no-progress"]
GPT = ["--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--batch-size", "8", "--no-progress"]


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    """The fixture's 48 molecules plus two lines that are not SMILES."""
    path = tmp_path_factory.mktemp("mols") / "mols.smi"
    path.write_text(TINY.read_text() + "C1CC broken ring\nnot-a-molecule\n")
    return path


def train(args, runs, capsys):
    code, out = cli_ok(["train", "molecules", *args, "--runs-dir", str(runs)], capsys)
    assert code == 0, out
    return out


def test_train_sample_and_eval_a_selfies_gpt(data_file, tmp_path, capsys):
    runs = tmp_path / "runs"
    out = train(
        ["--model", "selfies-gpt", "--data", str(data_file), "--name", "s", "--max-steps", "6", *GPT], runs, capsys
    )
    assert "skipped 2 line(s) that are not valid SMILES" in out
    run = runs / "molecules" / "s"
    config = json.loads((run / "model" / "config.json").read_text())
    assert config["config"]["tokenizer"]["type"] == "selfies" and config["data"]["n_invalid"] == 2
    assert (run / "samples" / "final.smi").is_file()

    smi = tmp_path / "mols.smi"
    code, out = cli_ok(["sample", str(run), "--n", "12", "--seed", "0", "--out", str(smi)], capsys)
    assert code == 0, out
    lines = smi.read_text().splitlines()
    assert len(lines) == 12 and all(chem.canonical(s) == s for s in lines)  # valid and canonical
    assert smi.with_suffix(".png").is_file() and "drew" in out
    code, again = cli_ok(["sample", str(run), "--n", "12", "--seed", "0", "--out", str(tmp_path / "b.smi")], capsys)
    assert (tmp_path / "b.smi").read_text() == smi.read_text()  # seeded

    code, out = cli_ok(["sample", str(run), "--n", "3", "--min-qed", "0.3", "--max-sa", "5", "--seed", "1",
                        "--out", str(tmp_path / "f.csv")], capsys)  # fmt: skip
    assert code == 0, out
    rows = (tmp_path / "f.csv").read_text().splitlines()
    assert rows[0] == "smiles,qed,logp,sa,mol_weight" and len(rows) == 4
    for row in rows[1:]:
        _, qed, _, sa, _ = row.split(",")
        assert float(qed) >= 0.3 and float(sa) <= 5

    metrics = "validity,uniqueness,novelty,internal-diversity,snn,frag,scaf,filters"
    code, out = cli_ok(["eval", str(run), "--metrics", metrics, "--n", "30"], capsys)
    assert code == 0, out
    result = json.loads((run / "eval.json").read_text())
    m, p = result["metrics"], result["protocol"]
    assert m["validity"] > 0.5  # SELFIES: almost every string decodes
    assert 0 <= m["novelty"] <= 1 and 0 <= m["internal_diversity"] <= 1 and 0 <= m["snn"] <= 1
    assert p["n_samples"] == 30 and p["reference"].endswith("(held-out validation molecules)")

    code, out = cli_ok(["eval", str(run), "--metrics", "validity,sparkle"], capsys)
    assert code == 2 and "sparkle" in out


def test_char_rnn_trains_and_bad_inputs_are_clear_errors(data_file, tmp_path, capsys):
    runs = tmp_path / "runs"
    train(["--model", "char-rnn", "--data", str(data_file), "--name", "r", "--max-steps", "3", *RNN], runs, capsys)
    config = json.loads((runs / "molecules" / "r" / "model" / "config.json").read_text())
    assert config["model"] == "molecule/char-rnn" and config["config"]["tokenizer"]["type"] == "smiles"

    empty = tmp_path / "empty.smi"
    empty.write_text("")
    code, out = cli_ok(["train", "molecules", "--data", str(empty), "--name", "e", "--runs-dir", str(runs)], capsys)
    assert code == 2 and "empty" in out
    args = ["train", "molecules", "--model", "smiles-gpt", "--data", str(data_file), "--tokenizer", "selfies"]
    code, out = cli_ok([*args, "--name", "x", "--max-steps", "1", "--runs-dir", str(runs)], capsys)
    assert code == 2 and "reads SMILES" in out
