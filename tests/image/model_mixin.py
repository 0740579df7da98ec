"""The image hooks and image-only checks of the shared model test suite.

A test class inherits :class:`ImageModelTesterMixin` and sets ``model_name`` and a tiny
``config``; :class:`tests.model_mixin.ModelTesterMixin` supplies save/load, determinism,
learning and validation checks, this mixin image sizes, channels, labels and reconstruction.
"""

from __future__ import annotations

from typing import ClassVar

import pytest
import torch

from genlab.core.errors import BadInputError
from genlab.image.base import ImageGenerativeModel
from genlab.image.data import ImageTensorDataset
from tests.model_mixin import ModelTesterMixin


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


class ImageModelTesterMixin(ModelTesterMixin):
    """Inherit in a ``Test…`` class; ``num_classes`` in ``config`` is ignored by unconditional models."""

    #: image sizes ``generate`` must support, tried with 1 and 3 channels
    image_sizes: ClassVar[tuple[int, ...]] = (28, 32, 64)
    #: images ``sample`` draws
    num_samples: ClassVar[int] = 4

    # --- hooks ----------------------------------------------------------------
    def batch(self, model: ImageGenerativeModel, n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
        """A fixed batch: images in [-1, 1] with some structure (a bright square), labels cycling classes."""
        g = seeded(123)
        c, s = model.config.channels, model.config.image_size
        images = torch.rand(n, c, s, s, generator=g) * 0.5 - 1
        images[:, :, s // 4 : 3 * s // 4, s // 4 : 3 * s // 4] += 1.2
        labels = torch.arange(n) % max(model.config.num_classes, 1)
        return images.clamp(-1, 1), labels

    def sample(self, model: ImageGenerativeModel, seed: int) -> torch.Tensor:
        """``generate`` with a seeded generator; conditional models get labels cycling their classes."""
        return model.generate(self.num_samples, labels=self.labels(model, self.num_samples), generator=seeded(seed))

    def check_output(self, model: ImageGenerativeModel, out: torch.Tensor) -> None:
        c, s = model.config.channels, model.config.image_size
        assert out.shape == (self.num_samples, c, s, s) and out.dtype == torch.float32, (out.shape, out.dtype)
        assert out.min() >= -1 and out.max() <= 1 and out.std() > 0

    def fit_data(self, model: ImageGenerativeModel, n: int = 300) -> tuple[ImageTensorDataset, None]:
        """Images x = m + A z with z ~ N(0, I₃) (a rank-3 Gaussian inside [-1, 1]) as a uint8 dataset."""
        g = seeded(0)
        c, s = model.config.channels, model.config.image_size
        a = torch.randn(c * s * s, 3, generator=g) * 0.1
        m = torch.linspace(-0.5, 0.5, c * s * s)
        images = (m + torch.randn(n, 3, generator=g) @ a.T).view(n, c, s, s)
        return self.as_dataset(images, torch.arange(n) % max(model.config.num_classes, 1)), None

    def check_reloaded(self, model: ImageGenerativeModel, loaded: ImageGenerativeModel) -> None:
        if model.can_reconstruct:
            images, batch_labels = self.batch(model, 4)
            batch_labels = batch_labels if model.conditional else None
            assert torch.equal(loaded.reconstruct(images, batch_labels), model.reconstruct(images, batch_labels))

    # --- helpers ----------------------------------------------------------------
    @staticmethod
    def as_dataset(images: torch.Tensor, labels: torch.Tensor) -> ImageTensorDataset:
        """Images (N, C, H, W) in [-1, 1] and labels (N,) as an in-memory uint8 dataset."""
        uint8 = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return ImageTensorDataset(uint8, labels)

    def labels(self, model: ImageGenerativeModel, n: int) -> torch.Tensor | None:
        return torch.arange(n) % model.config.num_classes if model.conditional else None

    # --- generate at every size and channel count -------------------------------
    @pytest.mark.parametrize("channels", [1, 3])
    def test_generate_shape_dtype_range(self, channels):
        for size in self.image_sizes:
            model = self.fitted(self.build(image_size=size, channels=channels))
            labels = self.labels(model, 3)
            images = model.generate(3, labels=labels, generator=seeded(0))
            assert images.shape == (3, channels, size, size) and images.dtype == torch.float32
            with torch.no_grad():  # decode itself must stay in range: generate's clamp must not hide a bad output
                raw = model.decode(model.sample_latent(3, seeded(0)), labels)
            assert raw.min() >= -1 and raw.max() <= 1 and raw.std() > 0, size

    # --- labels -----------------------------------------------------------------
    def test_labels_are_checked(self):
        model = self.build().eval()
        k = model.config.num_classes
        if not model.conditional:
            with pytest.raises(BadInputError, match="unconditional"):
                model.generate(2, labels=torch.tensor([0, 0]))
            return
        for bad in (k, -1):
            with pytest.raises(BadInputError, match="out of range"):
                model.generate(2, labels=torch.tensor([0, bad]))
        with pytest.raises(BadInputError):
            model.generate(3, labels=torch.tensor([0, 1]))  # neither one label nor one per sample

    def test_labels_steer_conditional_models_only(self):
        model = self.build()
        if model.conditional:
            model = self.trained_a_little(model)
            a = model.generate(4, labels=torch.tensor(0), generator=seeded(0))
            b = model.generate(4, labels=torch.tensor(1), generator=seeded(0))
            assert (a - b).abs().max() > 1e-4
            return
        # An unconditional model trains on labelled data too, and ignores the labels.
        if model.fits_in_closed_form:
            train, _ = self.fit_data(model)
            samples = []
            for labels in (torch.arange(len(train)) % 3, torch.zeros(len(train), dtype=torch.long)):
                refitted = self.build()
                refitted.fit(ImageTensorDataset(train.images, labels))
                samples.append(self.sample(refitted.eval(), 0))
            assert torch.equal(*samples)
            return
        model = self.trained_a_little(model)
        images, labels = self.batch(model)
        group = model.optimizer_groups()[0].name
        losses = []
        for batch_labels in (labels, torch.zeros_like(labels)):
            torch.manual_seed(0)
            losses.append(model.training_losses((images, batch_labels), group)["loss"])
        assert torch.equal(*losses)
