"""The translation hooks and translation-only checks of the shared model test suite.

A test class inherits :class:`TranslationModelTesterMixin` and sets ``model_name`` and a tiny ``config``;
:class:`tests.model_mixin.ModelTesterMixin` supplies save/load, determinism, learning and validation
checks. A translation model's output is a deterministic function of its input, so ``sample`` translates
fixed images both ways and ignores the seed (``seeded_outputs = False``).
"""

from __future__ import annotations

from typing import ClassVar

import pytest
import torch

from genlab.core.errors import BadInputError
from genlab.core.model import GenerativeModel
from tests.model_mixin import ModelTesterMixin


def strokes(n: int, channels: int, size: int, width: int, seed: int) -> torch.Tensor:
    """Images in [-1, 1] with a bright bar of ``width`` pixels at a random place on a dark background."""
    g = torch.Generator().manual_seed(seed)
    images = torch.full((n, channels, size, size), -1.0)
    for i in range(n):
        top, left = torch.randint(1, size // 2, (2,), generator=g).tolist()
        images[i, :, top : top + size // 2, left : left + width] = 1.0
    return images


class TranslationModelTesterMixin(ModelTesterMixin):
    """Inherit in a ``Test…`` class of a translation model (``translate(x, direction)``, batches ``(a, b)``)."""

    seeded_outputs: ClassVar[bool] = False
    #: images translated each way by ``sample``
    num_images: ClassVar[int] = 3
    #: image sizes ``translate`` must keep, tried with 1 and 3 channels
    image_sizes: ClassVar[tuple[int, ...]] = (16, 28)

    # --- hooks ----------------------------------------------------------------
    def batch(self, model: GenerativeModel, n: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
        """Domain A: thin bars; domain B: thick bars (not pairs of each other)."""
        c, s = model.config.channels, model.config.image_size
        return strokes(n, c, s, 1, seed=1), strokes(n, c, s, 4, seed=2)

    def sample(self, model: GenerativeModel, seed: int) -> torch.Tensor:
        a, b = self.batch(model, self.num_images)
        return torch.cat([model.translate(a, "a2b"), model.translate(b, "b2a")])

    def check_output(self, model: GenerativeModel, out: torch.Tensor) -> None:
        c, s = model.config.channels, model.config.image_size
        assert out.shape == (2 * self.num_images, c, s, s) and out.dtype == torch.float32, (out.shape, out.dtype)
        assert out.min() >= -1 and out.max() <= 1 and out.std() > 0

    def check_reloaded(self, model: GenerativeModel, loaded: GenerativeModel) -> None:
        a, b = self.batch(model, 2)
        for x, direction in ((a, "a2b"), (b, "b2a")):
            assert torch.equal(loaded.translate(x, direction), model.translate(x, direction)), direction

    # --- translation checks -----------------------------------------------------
    @pytest.mark.parametrize("channels", [1, 3])
    def test_translate_keeps_shape_and_range_both_ways(self, channels):
        for size in self.image_sizes:
            model = self.build(image_size=size, channels=channels).eval()
            a, b = self.batch(model, 2)
            for x, direction in ((a, "a2b"), (b, "b2a")):
                out = model.translate(x, direction)
                assert out.shape == x.shape and out.dtype == torch.float32, (size, direction)
                assert out.min() >= -1 and out.max() <= 1 and out.std() > 0

    def test_directions_use_different_generators(self):
        model = self.trained_a_little(self.build())
        a, _ = self.batch(model, 2)
        assert not torch.equal(model.translate(a, "a2b"), model.translate(a, "b2a"))

    def test_translate_refuses_bad_input_with_a_hint(self):
        model = self.build().eval()
        c, s = model.config.channels, model.config.image_size
        with pytest.raises(BadInputError, match="direction") as err:
            model.translate(torch.zeros(1, c, s, s), "sideways")
        assert "a2b" in err.value.hint and "b2a" in err.value.hint
        for shape in ((1, c + 1, s, s), (c, s, s), (1, c, s + 2, s)):
            with pytest.raises(BadInputError, match="translates") as err:
                model.translate(torch.zeros(shape))
            assert err.value.hint

    def test_training_leaves_translate_in_training_mode_and_needs_no_grad(self):
        model = self.build().train()
        a, _ = self.batch(model, 2)
        out = model.translate(a)
        assert model.training and not out.requires_grad
