"""The restoration hooks of the shared model test suite, and restoration-only checks.

A test class inherits :class:`RestorationModelTesterMixin` and sets ``model_name`` and a tiny
``config``; the shared suite checks save/load, determinism, learning and validation; this mixin
adds output sizes (× the model's scale), the [0, 1] range and exact tiling.
"""

from __future__ import annotations

from typing import ClassVar

import torch

from genlab.image.restoration.base import RestorationModel
from tests.model_mixin import ModelTesterMixin


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def structured(n: int, c: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """Images in [0, 1] with structure (a bright square on a noisy background)."""
    x = torch.rand(n, c, size, size, generator=generator) * 0.4
    x[:, :, size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] += 0.5
    return x.clamp(0, 1)


class RestorationModelTesterMixin(ModelTesterMixin):
    """Inherit in a ``Test…`` class; ``input_size`` is the side of the degraded test inputs."""

    input_size: ClassVar[int] = 12
    num_samples: ClassVar[int] = 2
    validation_keys: ClassVar[set[str] | None] = {"loss", "psnr"}

    def degrade(self, model: RestorationModel, clean: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The model's input for clean images (default: a ``scale``× box downscale plus a little noise)."""
        s = model.output_scale
        small = torch.nn.functional.avg_pool2d(clean, s) if s > 1 else clean
        return (small + 0.05 * torch.randn(small.shape, generator=generator)).clamp(0, 1)

    def batch(self, model: RestorationModel, n: int = 4):
        g = seeded(123)
        s = model.output_scale
        clean = structured(n, model.config.channels, self.input_size * s, g)
        return self.degrade(model, clean, g), clean

    def sample(self, model: RestorationModel, seed: int) -> torch.Tensor:
        g = seeded(seed)
        clean = structured(self.num_samples, model.config.channels, self.input_size * model.output_scale, g)
        return model.restore(self.degrade(model, clean, g), tile=None)

    def check_output(self, model: RestorationModel, out: torch.Tensor) -> None:
        c, side = model.config.channels, self.input_size * model.output_scale
        assert out.shape == (self.num_samples, c, side, side) and out.dtype == torch.float32, (out.shape, out.dtype)
        assert out.min() >= 0 and out.max() <= 1

    def test_tiled_restore_equals_untiled(self):
        """Tiles overlapping by the receptive radius give the untiled result: no seams."""
        model = self.build().eval()
        x = structured(1, model.config.channels, 3 * self.input_size + 5, seeded(7))
        whole = model.restore(x, tile=None)
        pieces = model.restore(x, tile=self.input_size)
        assert pieces.shape == whole.shape
        assert torch.allclose(pieces, whole, atol=1e-5), (pieces - whole).abs().max()
