"""Property-guided optimisation: the oracle's counting rule, latent BO with a tiny mol-vae, policy-gradient
fine-tuning of a tiny char-RNN, and the ``optimize`` pipeline's outputs."""

import json
from pathlib import Path

import pytest
import torch

pytest.importorskip("rdkit")
pytest.importorskip("selfies")

from genlab.core.errors import BadInputError  # noqa: E402
from genlab.core.model import GenerativeModel  # noqa: E402
from genlab.molecule import chem  # noqa: E402
from genlab.molecule.objectives import parse_objective  # noqa: E402
from genlab.molecule.optimize import BOSettings, Oracle, RLSettings, latent_bo, policy_gradient  # noqa: E402
from genlab.molecule.optimize_pipeline import OptimizePipeline  # noqa: E402
from genlab.molecule.tokenizers import train_tokenizer  # noqa: E402
from genlab.molecule.vae import MolVAE, MolVAEConfig  # noqa: E402

TINY = Path(__file__).parent / "data" / "tiny.smi"


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def smiles() -> list[str]:
    return chem.read_smiles_file(TINY)[0]


def fit(model, ids: torch.Tensor, steps: int, group: str) -> None:
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        model.training_losses(ids, group)["loss"].backward()
        opt.step()
    model.eval()


@pytest.fixture(scope="module")
def vae(smiles) -> MolVAE:
    tok, _ = train_tokenizer("selfies", smiles)
    config = MolVAEConfig(
        vocab_size=tok.vocab_size, tokenizer=tok.to_dict(), latent_dim=6, embedding_dim=8, encoder_hidden=16,
        decoder_hidden=16, decoder_layers=1, predictor_hidden=8, kl_warmup_steps=5, max_length=64,
    )  # fmt: skip
    torch.manual_seed(0)
    model = MolVAE(config)
    fit(model, model.tokenize(smiles)[0], 15, "vae")
    return model


@pytest.fixture(scope="module")
def rnn(smiles):
    from genlab.molecule.models import MoleculeCharRNN, MoleculeRNNConfig

    tok, _ = train_tokenizer("smiles", smiles)
    config = MoleculeRNNConfig(
        vocab_size=tok.vocab_size, tokenizer=tok.to_dict(), block_size=64, n_layer=1, hidden_size=32, n_embd=8,
        dropout=0.0,
    )  # fmt: skip
    torch.manual_seed(0)
    model = MoleculeCharRNN(config)
    rows = [tok.encode_smiles(s) for s in smiles]
    ids = torch.zeros(len(rows), max(map(len, rows)), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
    fit(model, ids, 40, "model")
    return model


def test_oracle_counts_distinct_valid_molecules_and_stops_at_the_budget():
    oracle = Oracle(parse_objective("qed"), budget=3)
    out = oracle(["CCO", "OCC", "C1CC", "", "c1ccccc1", "CCN", "CCCC"], "test")
    assert [o[2] for o in out] == [True, False, False, False, True, True, False]  # OCC = CCO; C1CC invalid
    assert out[1][1] == out[0][1] and out[2] == (None, None, False) and out[6] == ("CCCC", None, False)
    assert [c.call for c in oracle.trace] == [1, 2, 3] and oracle.remaining == 0
    assert oracle.invalid == 2 and oracle.repeats == 1
    assert oracle.best == max(c.score for c in oracle.trace)


def test_latent_bo_spends_the_budget_exactly_and_never_loses_the_best(vae, smiles):
    oracle = Oracle(parse_objective("qed"), budget=20)
    summary = latent_bo(vae, oracle, smiles, BOSettings(n_init=8, batch_size=4, fit_steps=10), seed=0)
    assert len(oracle.trace) == 20 and summary["rounds"] >= 3
    assert len({c.smiles for c in oracle.trace}) == 20  # distinct molecules
    init = [c.score for c in oracle.trace if c.source == "init"]
    assert len(init) == 8 and oracle.best >= max(init)
    assert all(chem.canonical(c.smiles) == c.smiles for c in oracle.trace)


def test_latent_bo_is_reproducible_with_its_seed(vae, smiles):
    runs = []
    for _ in range(2):
        oracle = Oracle(parse_objective("logp"), budget=12)
        latent_bo(vae, oracle, smiles, BOSettings(n_init=4, batch_size=4, fit_steps=5), seed=3)
        runs.append([c.smiles for c in oracle.trace])
    assert runs[0] == runs[1]


def test_policy_gradient_spends_the_budget_exactly_and_leaves_the_model_untouched(rnn):
    before = {k: v.clone() for k, v in rnn.state_dict().items()}
    oracle = Oracle(parse_objective("qed-0.1*sa"), budget=20)
    summary = policy_gradient(rnn, oracle, RLSettings(batch_size=16), seed=0)
    assert len(oracle.trace) == 20 and summary["steps"] >= 1
    assert all(torch.equal(before[k], v) for k, v in rnn.state_dict().items())


def test_pipeline_writes_the_best_molecules_and_the_trace(vae, tmp_path):
    vae.save_pretrained(tmp_path / "vae")
    pipe = OptimizePipeline(GenerativeModel.from_pretrained(tmp_path / "vae"))
    request = pipe.request(objective="qed", budget=12, n_init=4, batch_size=4, init_data=str(TINY), seed=5, top=5)
    request.quiet = True
    out = pipe.run(request)
    path = out.save(tmp_path / "best.smi")
    lines = path.read_text().splitlines()
    assert lines[0].startswith("# objective qed; seed 5") and len(lines) == 6
    scores = [float(line.split("\t")[1]) for line in lines[1:]]
    assert scores == sorted(scores, reverse=True)
    record = json.loads((tmp_path / "best.json").read_text())
    assert record["seed"] == 5 and record["method"] == "latent-bo" and record["oracle_calls"] == 12
    assert len(record["trace"]) == 12 and record["best"] == pytest.approx(scores[0], rel=1e-5)
    assert "distinct valid molecule" in record["counting_rule"]


def test_pipeline_refuses_an_unknown_objective_naming_the_terms(vae):
    pipe = OptimizePipeline(vae)
    with pytest.raises(BadInputError, match="unknown objective term 'tpsa'") as err:
        pipe.run(pipe.request(objective="qed+tpsa", budget=5))
    assert "qed, logp, sa, mw" in err.value.hint
