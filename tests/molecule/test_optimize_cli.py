"""``genlab optimize`` on tiny trained runs: latent BO for a mol-vae, policy gradient for a char-RNN."""

import json
from pathlib import Path

import pytest
import torch

pytest.importorskip("rdkit")
pytest.importorskip("selfies")

from tests.cli_helpers import cli_ok  # noqa: E402

TINY = Path(__file__).parent / "data" / "tiny.smi"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    import genlab

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("runs")
    vae = genlab.train(
        "molecules", "mol-vae", str(TINY), "vae", max_steps=3, runs_dir=root, progress=False,
        model_options={"latent_dim": 4, "embedding_dim": 8, "encoder_hidden": 16, "decoder_hidden": 16,
                       "decoder_layers": 1, "predictor_hidden": 8},
    )  # fmt: skip
    rnn = genlab.train(
        "molecules", "char-rnn", str(TINY), "rnn", max_steps=3, runs_dir=root, progress=False,
        model_options={"n_layer": 1, "hidden_size": 16, "n_embd": 8},
    )  # fmt: skip
    torch.set_num_threads(before)
    return {"vae": vae.run.path, "rnn": rnn.run.path}


@pytest.mark.parametrize("name, method", [("vae", "latent-bo"), ("rnn", "policy-gradient")])
def test_optimize_writes_the_best_molecules_and_a_trace_within_the_budget(runs, name, method, tmp_path, capsys):
    out = tmp_path / "best.smi"
    args = ["optimize", str(runs[name]), "--objective", "qed-0.1*sa", "--budget", "8", "--n-init", "3"]
    code, text = cli_ok([*args, "--batch-size", "4", "--seed", "1", "--quiet", "--out", str(out)], capsys)
    assert code == 0, text
    lines = out.read_text().splitlines()
    assert lines[0] == "# objective qed-0.1*sa; seed 1" and 1 <= len(lines) - 1 <= 8
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["method"] == method and record["seed"] == 1 and record["oracle_calls"] <= 8
    assert [c["call"] for c in record["trace"]] == list(range(1, record["oracle_calls"] + 1))
    if name == "vae":  # latent BO always finds new molecules among the training set and decodings
        assert record["oracle_calls"] == 8


def test_optimize_with_an_unknown_objective_lists_the_known_terms(runs, capsys):
    code, text = cli_ok(["optimize", str(runs["vae"]), "--objective", "qed - 0.1*sas", "--budget", "5"], capsys)
    assert code == 2 and "unknown objective term 'sas'" in text
    assert "known terms: qed, logp, sa, mw" in text and "internal error" not in text
