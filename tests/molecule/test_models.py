"""The molecule language models (char-RNN, SMILES-GPT, SELFIES-GPT): the shared model suite on a few dozen
molecules, the padded per-molecule loss, and sampling until <eos>."""

from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch

pytest.importorskip("rdkit")
pytest.importorskip("selfies")

from genlab.core.errors import BadInputError  # noqa: E402
from genlab.core.registry import MODELS  # noqa: E402
from genlab.molecule import chem  # noqa: E402
from genlab.molecule.tokenizers import BOS_ID, EOS_ID, PAD_ID, train_tokenizer  # noqa: E402
from tests.model_mixin import ModelTesterMixin  # noqa: E402

TINY = Path(__file__).parent / "data" / "tiny.smi"
MOLECULES = chem.read_smiles_file(TINY)[0]
MEMO = ["CCO", "c1ccccc1", "CC(=O)O", "CCN", "NC(=O)CO"]  # canonical


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def padded_rows(tokenizer, smiles: list[str]) -> tuple[torch.Tensor, int]:
    """One molecule per row ``[bos] … [eos] pad…`` and the row length."""
    rows = [tokenizer.encode_smiles(s) for s in smiles]
    length = max(map(len, rows))
    return torch.tensor([r + [PAD_ID] * (length - len(r)) for r in rows]), length


class MoleculeModelTesterMixin(ModelTesterMixin):
    """Molecule hooks: a tokenizer of the tiny set, batches of padded molecules, sampled SMILES as outputs."""

    validation_keys: ClassVar[set[str] | None] = {"loss"}
    kind: ClassVar[str] = "smiles"

    def build(self, **overrides: Any):
        tok, _ = train_tokenizer(self.kind, MOLECULES)
        _, length = padded_rows(tok, MOLECULES)
        values = {"vocab_size": tok.vocab_size, "tokenizer": tok.to_dict(), "block_size": length, **overrides}
        return super().build(**values)

    def batch(self, model) -> torch.Tensor:
        rows, _ = padded_rows(model.tokenizer, MOLECULES[:8])
        return rows

    def sample(self, model, seed: int) -> list[str]:
        return model.sample_smiles(4, generator=torch.Generator().manual_seed(seed))

    def check_output(self, model, out: list[str]) -> None:
        assert len(out) == 4 and all(isinstance(s, str) for s in out)

    # --- molecule-only checks -----------------------------------------------------
    def test_the_loss_ignores_padding(self):
        model = self.build().eval()
        batch = self.batch(model)
        wider = torch.cat([batch, torch.full((len(batch), 5), PAD_ID)], dim=1)
        model.config.block_size += 5  # room for the extra padding in the GPT's positions
        with torch.no_grad():
            a = model.training_losses(batch, "model")["loss"]
            b = model.training_losses(wider, "model")["loss"]
        torch.testing.assert_close(a, b)

    def test_trained_model_writes_its_molecules_as_valid_smiles(self):
        """Trained to memorise five molecules, the model samples them: valid, canonical, from the set."""
        torch.manual_seed(0)
        model = self.build(**self.fit_config).train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        rows, _ = padded_rows(model.tokenizer, MEMO)
        for _ in range(self.fit_steps):
            opt.zero_grad()
            model.training_losses(rows, "model")["loss"].backward()
            opt.step()
        out = model.sample_smiles(40, generator=torch.Generator().manual_seed(0))
        valid = [c for c in (chem.canonical(s) for s in out if s) if c]
        assert len(valid) >= 36, out
        assert sum(v in MEMO for v in valid) >= 0.9 * len(valid), valid
        assert model.training  # sampling restores the training mode

    fit_config: ClassVar[dict[str, Any]] = {}
    fit_steps: ClassVar[int] = 60

    def test_sampling_rejects_bad_arguments(self):
        model = self.build().eval()
        assert model.sample_smiles(0) == []
        with pytest.raises(BadInputError):
            model.sample_smiles(2, temperature=0)


class TestMoleculeCharRNN(MoleculeModelTesterMixin):
    model_name = "molecule/char-rnn"
    config: ClassVar[dict[str, Any]] = {"n_layer": 1, "n_embd": 8, "hidden_size": 16, "dropout": 0.0}
    fit_config: ClassVar[dict[str, Any]] = {"n_layer": 1, "n_embd": 16, "hidden_size": 64}


class TestSmilesGPT(MoleculeModelTesterMixin):
    model_name = "molecule/smiles-gpt"
    config: ClassVar[dict[str, Any]] = {"n_layer": 1, "n_head": 2, "n_embd": 16, "dropout": 0.0}
    fit_config: ClassVar[dict[str, Any]] = {"n_layer": 1, "n_head": 2, "n_embd": 32, "dropout": 0.0}
    fit_steps = 100


class TestSelfiesGPT(MoleculeModelTesterMixin):
    model_name = "molecule/selfies-gpt"
    kind = "selfies"
    config: ClassVar[dict[str, Any]] = {"n_layer": 1, "n_head": 2, "n_embd": 16, "dropout": 0.0}
    fit_config: ClassVar[dict[str, Any]] = {"n_layer": 1, "n_head": 2, "n_embd": 32, "dropout": 0.0}


def test_models_read_their_notation_and_belong_to_the_molecules_task():
    for name, kind in (("char-rnn", "smiles"), ("smiles-gpt", "smiles"), ("selfies-gpt", "selfies")):
        cls = MODELS.get(f"molecule/{name}")
        assert cls.task == "molecules" and cls.tokenizer_kind == kind


def test_a_row_without_eos_is_an_invalid_sample():
    """A model that never writes <eos> returns '' for every row (the length limit was reached)."""
    tok, _ = train_tokenizer("smiles", MOLECULES)
    cls = MODELS.get("molecule/char-rnn")
    model = cls(cls.config_class.build({"vocab_size": tok.vocab_size, "tokenizer": tok.to_dict(), "block_size": 8,
                                        "n_layer": 1, "n_embd": 4, "hidden_size": 8}))  # fmt: skip
    with torch.no_grad():
        model.head.bias.data[:] = -50.0
        model.head.bias.data[tok.index["C"]] = 50.0  # always "C", never <eos>
    assert model.sample_smiles(3, generator=torch.Generator().manual_seed(0)) == ["", "", ""]
    model.head.bias.data[EOS_ID] = 100.0  # now <eos> at once: the empty molecule
    assert model.sample_smiles(2) == ["", ""]
    assert BOS_ID not in tok.encode("CC")
