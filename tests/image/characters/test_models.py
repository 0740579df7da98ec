"""The shared model checks (tests/model_mixin.py) for ``character/cvae``, on a hand-made attribute schema (no
layer folder needed)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from genlab.core.seeding import make_generator
from tests.model_mixin import ModelTesterMixin

SCHEMA = {
    "attributes": ["sex", "hair_style", "hair_color", "direction"],
    "values": {"sex": ["male", "female"], "hair_style": ["none", "plain", "long"], "hair_color": ["black", "blue"],
               "direction": ["north", "west", "south", "east"]},
    "not_applicable": {"hair_color": [["hair_style", "none"]]},
}  # fmt: skip


class CharacterModelChecks(ModelTesterMixin):
    """Batches, samples and output checks every character generator shares (subclasses name the model)."""

    def batch(self, model):
        g = torch.Generator().manual_seed(0)
        images = torch.rand((6, 3, 16, 16), generator=g) * 2 - 1
        labels = torch.tensor([[0, 1, 0, 0], [1, 2, 1, 1], [0, 0, -1, 2], [1, 1, 1, 3], [0, 2, 0, 2], [1, 0, -1, 0]])
        return images, labels

    def sample(self, model, seed):
        return model.generate(3, {"sex": "female"}, generator=make_generator(seed))

    def check_output(self, model, out):
        assert out.shape == (3, 3, 16, 16) and out.dtype == torch.float32
        assert out.min() >= -1 and out.max() <= 1


class TestCharacterCVAE(CharacterModelChecks):
    model_name = "character/cvae"
    config: ClassVar[dict[str, Any]] = {"latent_dim": 4, "hidden_dims": [4, 8], "image_size": 16, **SCHEMA}
    validation_keys: ClassVar[set[str] | None] = {"loss", "recon", "kl"}
