"""The molecular VAE: the shared model suite, then encoding/decoding shapes, learning on a few dozen molecules,
the property predictor's statistics and validity of SELFIES decodings."""

from pathlib import Path
from typing import Any

import pytest
import torch

pytest.importorskip("rdkit")
pytest.importorskip("selfies")

from genlab.molecule import chem  # noqa: E402
from genlab.molecule.tokenizers import BOS_ID, EOS_ID, PAD_ID, train_tokenizer  # noqa: E402
from genlab.molecule.vae import MolVAE  # noqa: E402
from tests.model_mixin import ModelTesterMixin  # noqa: E402

TINY = Path(__file__).parent / "data" / "tiny.smi"
SMILES = chem.read_smiles_file(TINY)[0]


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class TestMolVAE(ModelTesterMixin):
    model_name = "molecule/mol-vae"
    config = {
        "latent_dim": 4, "embedding_dim": 8, "encoder_hidden": 16, "decoder_hidden": 16, "decoder_layers": 1,
        "predictor_hidden": 8, "kl_warmup_steps": 0, "max_length": 64, "lr": 1e-2,
    }  # fmt: skip
    validation_keys = {"loss", "reconstruction", "kl", "property_mse", "token_accuracy"}

    def build(self, **overrides: Any) -> MolVAE:
        tok, _ = train_tokenizer("selfies", SMILES)
        return super().build(**{"vocab_size": tok.vocab_size, "tokenizer": tok.to_dict(), **overrides})

    def batch(self, model: MolVAE) -> torch.Tensor:
        return model.tokenize(SMILES[:12])[0]

    def sample(self, model: MolVAE, seed: int) -> torch.Tensor:
        """Ids decoded at temperature 1 from 3 prior latents drawn with ``seed``."""
        gen = torch.Generator().manual_seed(seed)
        return model.decode_ids(model.sample_latent(3, gen), temperature=1.0, generator=gen)

    def check_output(self, model: MolVAE, out: torch.Tensor) -> None:
        assert out.dtype == torch.long and out.shape[0] == 3 and out.shape[1] <= model.config.max_length - 1
        assert out.min() >= 0 and out.max() < model.config.vocab_size
        assert not (out == BOS_ID).any()
        for row in out.tolist():  # nothing but padding after <eos>
            if EOS_ID in row:
                assert all(t == PAD_ID for t in row[row.index(EOS_ID) + 1 :])

    def check_reloaded(self, model: MolVAE, loaded: MolVAE) -> None:
        assert torch.equal(model.property_mean, loaded.property_mean) and float(loaded.property_count) > 0
        z, _ = model.encode_smiles(SMILES[:3])
        assert torch.equal(z, loaded.encode_smiles(SMILES[:3])[0])

    # --- mol-vae checks ------------------------------------------------------------
    def test_encode_decode_shapes(self):
        model = self.build().eval()
        z, kept = model.encode_smiles(["CCO", "not a molecule [", *SMILES[:3]])
        assert z.shape == (4, 4) and kept == [0, 2, 3, 4]
        mu, logvar = model.encode_ids(model.tokenize(SMILES[:5])[0])
        assert mu.shape == logvar.shape == (5, 4)
        assert model.predict_properties(z).shape == (4, 3)
        assert len(model.decode_smiles(z)) == 4 and len(model.sample_smiles(7, torch.Generator().manual_seed(0))) == 7

    def test_loss_goes_down_on_a_few_dozen_molecules(self):
        model = self.build(kl_warmup_steps=20, free_bits=0.1).train()
        ids = model.tokenize(SMILES)[0]
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        losses = []
        for _ in range(25):
            out = model.training_losses(ids, "vae")
            opt.zero_grad()
            out["loss"].backward()
            opt.step()
            losses.append(float(out["reconstruction"]))
        assert losses[-1] < 0.8 * losses[0]
        assert int(model.step_count) == 25 and model.kl_weight() == pytest.approx(1.0)
        props = torch.tensor([[chem.qed(m), chem.logp(m), chem.sa_score(m)] for m in map(chem.parse_smiles, SMILES)])
        assert torch.allclose(model.property_mean.float(), props.mean(0), atol=1e-4)  # running statistics = data's

    def test_selfies_decodings_are_valid_molecules(self):
        model = self.build().eval()
        smiles = model.sample_smiles(10, torch.Generator().manual_seed(0), temperature=1.0)
        assert sum(chem.parse_smiles(s) is not None for s in smiles) >= 8  # '' only when nothing is decoded

    def test_free_bits_keep_small_kl_dimensions_unpenalised(self):
        model = self.build(free_bits=10.0, kl_warmup_steps=0).train()
        ids = self.batch(model)
        torch.manual_seed(0)
        out = model.training_losses(ids, "vae")
        # every dimension is below 10 nats, so the KL part of the loss is the constant 10 · latent_dim
        extra = float(out["loss"] - out["reconstruction"] - out["property_mse"])
        assert extra == pytest.approx(10.0 * 4, rel=1e-5)
