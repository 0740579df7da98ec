"""The anomaly-detector hooks of the shared model test suite, and the toy data the detector tests share.

Toy data: "normal" images are dark with faint noise and one soft horizontal band; an anomaly is the same image
with a bright square somewhere (its mask known). ``sample`` is ``score`` on a fixed batch of both kinds.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
import torch

from genlab.core.errors import BadInputError
from genlab.core.model import GenerativeModel
from genlab.image.data import ImageTensorDataset
from tests.model_mixin import ModelTesterMixin


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def normal_images(n: int, size: int, channels: int = 1, seed: int = 0) -> torch.Tensor:
    """(n, C, S, S) in [-1, 1]: dark noise with a brighter horizontal band at a random height."""
    g = seeded(seed)
    images = -0.8 + 0.05 * torch.randn(n, channels, size, size, generator=g)
    rows = torch.randint(size // 4, 3 * size // 4, (n,), generator=g)
    for i, r in enumerate(rows.tolist()):
        images[i, :, r : r + 2] += 0.6
    return images.clamp(-1, 1)


def anomalous_images(n: int, size: int, channels: int = 1, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Normal images with a bright square (side S/4) at a random place; and the masks (n, S, S)."""
    images = normal_images(n, size, channels, seed)
    g = seeded(seed + 100)
    side = size // 4
    masks = torch.zeros(n, size, size, dtype=torch.bool)
    corners = torch.randint(0, size - side, (n, 2), generator=g)
    for i, (y, x) in enumerate(corners.tolist()):
        images[i, :, y : y + side, x : x + side] = 0.9
        masks[i, y : y + side, x : x + side] = True
    return images, masks


def as_dataset(images: torch.Tensor) -> ImageTensorDataset:
    uint8 = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return ImageTensorDataset(uint8, torch.zeros(len(images), dtype=torch.long))


class AnomalyModelTesterMixin(ModelTesterMixin):
    """Inherit in a ``Test…`` class with ``model_name`` and a tiny ``config`` (image_size, channels inside)."""

    validation_keys: ClassVar[set[str] | None] = {"loss"}
    seeded_outputs: ClassVar[bool] = False  # a detector's score of an image does not depend on the seed

    def batch(self, model: GenerativeModel, n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
        c, s = model.config.channels, model.config.image_size
        return normal_images(n, s, c), torch.zeros(n, dtype=torch.long)

    def inputs(self, model: GenerativeModel) -> torch.Tensor:
        c, s = model.config.channels, model.config.image_size
        return torch.cat([normal_images(3, s, c, seed=5), anomalous_images(3, s, c)[0]])

    def sample(self, model: GenerativeModel, seed: int) -> Any:
        return model.score(self.inputs(model), generator=seeded(seed))

    def check_output(self, model: GenerativeModel, out: Any) -> None:
        scores, maps = out
        s = model.config.image_size
        assert scores.shape == (6,) and maps.shape == (6, s, s), (scores.shape, maps.shape)
        assert scores.dtype == maps.dtype == torch.float32
        assert torch.isfinite(scores).all() and torch.isfinite(maps).all()
        assert maps.min() >= -1e-5, "heat maps are distances or errors: never negative"

    def fit_data(self, model: GenerativeModel) -> tuple[ImageTensorDataset, ImageTensorDataset]:
        c, s = model.config.channels, model.config.image_size
        return as_dataset(normal_images(40, s, c)), as_dataset(normal_images(8, s, c, seed=9))

    def test_score_rejects_images_of_another_size(self):
        model = self.fitted(self.build())
        s = model.config.image_size
        with pytest.raises(BadInputError, match="scores images of shape"):
            model.score(torch.zeros(2, model.config.channels, s + 4, s + 4))
