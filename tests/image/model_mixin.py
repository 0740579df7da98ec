"""One behavioural test suite shared by every image model.

A test class inherits :class:`ImageModelTesterMixin` and sets ``model_name`` and a
tiny ``config``; it then checks save/load, determinism, that every optimizer group
lowers its own loss, output shape/range/dtype, label handling and validation.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
import torch

from genlab.core.errors import BadInputError
from genlab.core.model import GenerativeModel
from genlab.core.registry import MODELS
from genlab.image.base import ImageGenerativeModel


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


class ImageModelTesterMixin:
    """Inherit in a ``Test…`` class; override the class attributes below."""

    model_name: ClassVar[str]
    #: tiny config values for fast tests (num_classes is ignored by unconditional models)
    config: ClassVar[dict[str, Any]]
    #: image sizes ``generate`` must support, tried with 1 and 3 channels
    image_sizes: ClassVar[tuple[int, ...]] = (28, 32, 64)
    #: keys ``validation_losses`` must return
    validation_keys: ClassVar[set[str]]
    #: Adam steps in the loss-lowering test (WGAN-GP's lr is small)
    optimizer_steps: ClassVar[int] = 5

    # --- helpers --------------------------------------------------------------
    def build(self, **overrides: Any) -> ImageGenerativeModel:
        cls = MODELS.get(self.model_name)
        config = cls.config_class.build({**self.config, **overrides})
        torch.manual_seed(0)
        return cls(config)

    def batch(self, model: ImageGenerativeModel, n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
        """A fixed batch: images in [-1, 1] with some structure (a bright square), labels cycling classes."""
        g = seeded(123)
        c, s = model.config.channels, model.config.image_size
        images = torch.rand(n, c, s, s, generator=g) * 0.5 - 1
        images[:, :, s // 4 : 3 * s // 4, s // 4 : 3 * s // 4] += 1.2
        labels = torch.arange(n) % max(model.config.num_classes, 1)
        return images.clamp(-1, 1), labels

    def labels(self, model: ImageGenerativeModel, n: int) -> torch.Tensor | None:
        return torch.arange(n) % model.config.num_classes if model.conditional else None

    def train_a_little(self, model: ImageGenerativeModel, steps: int = 3) -> ImageGenerativeModel:
        """A few engine-style steps: weights, BatchNorm statistics and label embeddings leave their init."""
        model.train()
        specs = model.optimizer_groups()
        opts = [torch.optim.Adam(s.params, lr=1e-2, betas=s.betas) for s in specs]
        batch = self.batch(model)
        for _ in range(steps):
            for spec, opt in zip(specs, opts, strict=True):
                opt.zero_grad()
                model.training_losses(batch, spec.name)["loss"].backward()
                opt.step()
        return model.eval()

    # --- (a) checkpoint round-trip -------------------------------------------
    def test_save_pretrained_roundtrip(self, tmp_path):
        model = self.train_a_little(self.build())
        model.save_pretrained(tmp_path)
        loaded = GenerativeModel.from_pretrained(tmp_path)
        assert type(loaded) is type(model) and loaded.config == model.config
        labels = self.labels(model, 4)
        expected = model.generate(4, labels=labels, generator=seeded(0))
        assert torch.equal(loaded.generate(4, labels=labels, generator=seeded(0)), expected)
        if model.can_reconstruct:
            images, batch_labels = self.batch(model, 4)
            batch_labels = batch_labels if model.conditional else None
            assert torch.equal(loaded.reconstruct(images, batch_labels), model.reconstruct(images, batch_labels))

    # --- (b) determinism -----------------------------------------------------
    def test_same_seed_same_samples_other_seed_other_samples(self):
        model = self.build().eval()
        labels = self.labels(model, 6)
        a = model.generate(6, labels=labels, generator=seeded(0))
        b = model.generate(6, labels=labels, generator=seeded(0))
        c = model.generate(6, labels=labels, generator=seeded(1))
        assert torch.equal(a, b)
        assert (a - c).abs().max() > 1e-4

    # --- (c) every optimizer group lowers its own loss ------------------------
    def test_each_optimizer_group_lowers_its_loss(self):
        names = [spec.name for spec in self.build().optimizer_groups()]
        for i, name in enumerate(names):
            model = self.build().train()
            batch = self.batch(model)
            spec = model.optimizer_groups()[i]
            owned = {id(p) for p in spec.params}
            others = {k: p.detach().clone() for k, p in model.named_parameters() if id(p) not in owned}
            opt = torch.optim.Adam(spec.params, lr=spec.lr, betas=spec.betas, weight_decay=spec.weight_decay)

            def loss(model=model, batch=batch, name=name) -> torch.Tensor:
                torch.manual_seed(7)  # the same noise (z, ε, fakes) at every evaluation
                return model.training_losses(batch, name)["loss"]

            before = loss().item()
            for _ in range(self.optimizer_steps):
                opt.zero_grad()
                loss().backward()
                opt.step()
            after = loss().item()
            assert after < before, f"group {name}: loss {before:.4f} -> {after:.4f}"
            for k, p in model.named_parameters():
                if k in others:
                    assert torch.equal(p, others[k]), f"stepping group {name} changed {k}"

    def test_optimizer_groups_partition_the_parameters(self):
        model = self.build()
        groups = [[id(p) for p in spec.params] for spec in model.optimizer_groups()]
        flat = [i for g in groups for i in g]
        assert len(flat) == len(set(flat)), "a parameter is in two groups"
        assert set(flat) == {id(p) for p in model.parameters()}, "a parameter is in no group"

    # --- (d) generate: shape, dtype, range -----------------------------------
    @pytest.mark.parametrize("channels", [1, 3])
    def test_generate_shape_dtype_range(self, channels):
        for size in self.image_sizes:
            model = self.build(image_size=size, channels=channels).eval()
            labels = self.labels(model, 3)
            images = model.generate(3, labels=labels, generator=seeded(0))
            assert images.shape == (3, channels, size, size) and images.dtype == torch.float32
            with torch.no_grad():  # decode itself must stay in range: generate's clamp must not hide a bad output
                raw = model.decode(model.sample_latent(3, seeded(0)), labels)
            assert raw.min() >= -1 and raw.max() <= 1 and raw.std() > 0, size

    # --- (e) labels ----------------------------------------------------------
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
        model = self.train_a_little(self.build())
        if model.conditional:
            a = model.generate(4, labels=torch.tensor(0), generator=seeded(0))
            b = model.generate(4, labels=torch.tensor(1), generator=seeded(0))
            assert (a - b).abs().max() > 1e-4
            return
        # An unconditional model trains on labelled data too, and ignores the labels.
        images, labels = self.batch(model)
        group = model.optimizer_groups()[0].name
        losses = []
        for batch_labels in (labels, torch.zeros_like(labels)):
            torch.manual_seed(0)
            losses.append(model.training_losses((images, batch_labels), group)["loss"])
        assert torch.equal(*losses)

    # --- (f) validation ------------------------------------------------------
    def test_validation_losses_without_autograd(self):
        model = self.build().eval()
        with torch.no_grad():
            values = model.validation_losses(self.batch(model))
        assert self.validation_keys <= set(values), set(values)
        for key, value in values.items():
            assert value.dim() == 0 and torch.isfinite(value), key
