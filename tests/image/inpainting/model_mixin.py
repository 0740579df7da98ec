"""The inpainting hooks of the shared model test suite: inputs are (masked image, mask) pairs.

:class:`InpaintingModelTesterMixin` adapts :class:`RestorationModelTesterMixin` (which it inherits, so the
shared save/load, determinism, learning, validation and output-range checks run unchanged) by overriding
its hooks: ``degrade`` masks the clean images, ``sample`` fills them, and the tiling check cuts the mask
with the image. It adds the inpainting contract: the known pixels come back exactly.
"""

from __future__ import annotations

from typing import ClassVar

import torch

from genlab.image.inpainting.model import UNetInpaint
from genlab.image.restoration.degrade import random_mask
from tests.image.restoration.model_mixin import RestorationModelTesterMixin, seeded, structured


def masks(n: int, size: int, generator: torch.Generator, kind: str = "mixed", width: int | None = None) -> torch.Tensor:
    """(n, 1, size, width or size) random masks, 1 = missing."""
    return torch.stack([random_mask(size, width or size, kind, generator) for _ in range(n)])


class InpaintingModelTesterMixin(RestorationModelTesterMixin):
    """Inherit in a ``Test…`` class; ``input_size`` should be a multiple of the model's ``size_multiple``."""

    input_size: ClassVar[int] = 16

    def degrade(self, model: UNetInpaint, clean: torch.Tensor, generator: torch.Generator):
        """(masked images, masks): random boxes and strokes, the masked pixels set to 0."""
        m = masks(clean.shape[0], clean.shape[-1], generator)
        return clean * (1 - m), m

    def sample(self, model: UNetInpaint, seed: int) -> torch.Tensor:
        g = seeded(seed)
        clean = structured(self.num_samples, model.config.channels, self.input_size, g)
        image, mask = self.degrade(model, clean, g)
        return model.restore(image, mask, tile=None)

    def test_tiled_restore_equals_untiled(self):
        """Image and mask cut into tiles overlapping by the receptive radius give the untiled result: no seams.

        Tiles of radius + one size multiple: the second row and the middle columns of tiles have their context
        cut by the neighbouring tiles exactly at the radius (not by the photo's border), so a radius one
        pixel too small would show.
        """
        model = self.build().eval()
        g = seeded(7)
        tile = model.receptive_radius + model.size_multiple
        height, width = tile + 7, 3 * tile + 9  # 2 × 4 tiles, the last ones partial
        x = structured(1, model.config.channels, width, g)[..., :height, :]
        m = masks(1, height, g, "stroke", width)
        whole = model.restore(x, m, tile=None)
        pieces = model.restore(x, m, tile=tile)
        assert pieces.shape == whole.shape
        assert torch.allclose(pieces, whole, atol=1e-6), (pieces - whole).abs().max()

    def test_known_pixels_are_kept_exactly(self):
        model = self.trained_a_little(self.build())
        g = seeded(3)
        clean = structured(3, model.config.channels, self.input_size + 3, g)  # not a multiple: padded inside
        image, mask = self.degrade(model, clean, g)
        known = (mask == 0).expand_as(clean)
        for out in (model(image, mask), model.restore(image, mask, tile=None), model.restore(clean, mask, tile=8)):
            assert out.shape == clean.shape
            assert torch.equal(out[known], clean[known])  # restore() masks the hole itself: its content is unused
        assert not torch.equal(model.restore(image, mask, tile=None)[~known], clean[~known])

    def test_the_hole_content_is_ignored(self):
        model = self.build().eval()
        g = seeded(4)
        clean = structured(2, model.config.channels, self.input_size, g)
        _, mask = self.degrade(model, clean, g)
        scribbled = torch.where(mask.bool().expand_as(clean), torch.rand(clean.shape, generator=g), clean)
        assert torch.equal(model.restore(clean, mask, tile=None), model.restore(scribbled, mask, tile=None))
