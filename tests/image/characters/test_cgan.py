"""``character/cgan``: the shared model checks on a hand-made schema, a few training steps through
``genlab.train`` on 16 px characters, the ``character/draw`` pipeline and the save/load round trip."""

from __future__ import annotations

import csv
import math
from typing import Any, ClassVar

import pytest
import torch

import genlab
from genlab.core.registry import MODELS
from genlab.image.characters.cgan import CharacterCGAN
from genlab.image.characters.conditioning import AttributeCondition, CharacterGenerator, ConditionedDecoder
from genlab.image.characters.models import CharacterCVAE
from genlab.image.characters.pipelines import CharacterDrawPipeline
from tests.image.characters.test_models import SCHEMA, CharacterModelChecks

TINY = {"latent_dim": 4, "hidden_dims": [4, 8], "image_size": 16}


class TestCharacterCGAN(CharacterModelChecks):
    model_name = "character/cgan"
    config: ClassVar[dict[str, Any]] = {**TINY, **SCHEMA}
    validation_keys: ClassVar[set[str] | None] = {"d_loss", "d_real", "d_fake", "g_loss", "d_aux", "g_aux"}


def build(**values) -> CharacterCGAN:
    torch.manual_seed(0)
    return CharacterCGAN(CharacterCGAN.config_class.build({**TINY, **SCHEMA, **values}))


def test_registered_and_drawn_by_the_shared_decoder():
    model = build()
    assert MODELS.get("character/cgan") is CharacterCGAN and model.task == "character"
    assert type(model.decoder) is ConditionedDecoder and isinstance(model.schema, AttributeCondition)
    assert issubclass(CharacterCGAN, CharacterGenerator) and issubclass(CharacterCVAE, CharacterGenerator)


def test_projection_term_skips_attributes_that_do_not_apply():
    model = build(aux_weight=0).eval()  # eval: spectral norm's power iteration stays put between calls
    d = model.discriminator
    images = torch.zeros(2, 3, 16, 16)
    labels = torch.tensor([[0, 0, 1, 0], [0, 0, -1, 0]])
    cond = model.schema.one_hot(labels)
    h = d.features(images).flatten(1)
    with torch.no_grad():
        scores, logits = d(images, cond)
        expected = d.head(h).squeeze(1) + (d.embed(cond) * h).sum(1)
        one_block = d.embed(model.schema.one_hot(labels[:1])) - d.embed(model.schema.one_hot(labels[1:]))
    assert logits is None and torch.allclose(scores, expected)
    assert not torch.allclose(one_block, torch.zeros_like(one_block))  # hair colour 1 adds a term, −1 none


def test_auxiliary_heads_ignore_minus_one_labels():
    model = build()
    logits = torch.zeros(2, model.schema.dim)
    labels = torch.tensor([[0, 0, -1, 0], [1, 2, -1, 3]])
    ce = model.attribute_cross_entropy(logits, labels)  # uniform logits: Σ_a log(n_a) over applicable ones
    assert math.isclose(ce.item(), math.log(2) + math.log(3) + math.log(4), rel_tol=1e-6)


@pytest.fixture
def trained(tmp_path, layers, monkeypatch):
    """A tiny CGAN trained for a few steps through ``genlab.train`` on 16 px characters."""
    monkeypatch.setenv("GENLAB_DATA_DIR", str(layers.folder.parent))
    return genlab.train(
        "character", "cgan", "builtin:lpc-characters", "tiny-gan", max_steps=6, runs_dir=tmp_path / "runs",
        data_options={"image_size": 16, "n_train": 12, "n_val": 2, "data_dir": str(layers.folder.parent)},
        model_options=TINY, batch_size=16, sample_every=0, log_every=2,
    )  # fmt: skip


def test_training_is_finite_and_the_run_draws_and_round_trips(trained):
    assert trained.status == "completed" and trained.steps == 6
    with open(trained.run.metrics_path, newline="") as f:
        rows = list(csv.DictReader(f))
    values = [float(v) for r in rows for k, v in r.items() if v and k.split("/")[-1] in ("d_loss", "g_loss")]
    assert values and all(math.isfinite(v) for v in values)
    pipe = genlab.load(trained.run.path)
    assert isinstance(pipe, CharacterDrawPipeline) and isinstance(pipe.model, CharacterCGAN)
    loaded = CharacterCGAN.from_pretrained(trained.run.model_dir)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(pipe.model.generate(4, {"sex": "male"}, g1), loaded.generate(4, {"sex": "male"}, g2))
    images = pipe(attributes={"sex": "female", "direction": "south"}, n=2, seed=0, output_type="pt")
    again = pipe(attributes={"sex": "female", "direction": "south"}, n=2, seed=0, output_type="pt")
    assert images.shape == (2, 3, 16, 16) and images.min() >= -1 and images.max() <= 1 and torch.equal(images, again)
    sheet = pipe.run(pipe.request(n=2, seed=0, sheet=True))
    assert sheet.images.shape[0] == 8
