"""One behavioural test suite shared by every registered model, whatever its modality.

A test class inherits a modality's mixin (``ImageModelTesterMixin``, ``TextModelTesterMixin``,
all derived from :class:`ModelTesterMixin`) and sets ``model_name`` and a tiny ``config``. The
checks here know nothing of images or text: they reach the model's outputs and data through
the modality hooks below, which the modality mixin implements.

Hooks a modality mixin overrides:

* ``build(**overrides)`` – a fresh tiny model (default: ``config`` with overrides, seed 0);
* ``batch(model)`` – a fixed training batch for ``training_losses``/``validation_losses``;
* ``sample(model, seed)`` – the model's seeded output: images from ``generate``, token ids
  from the decoder, or (for a classifier, whose output ignores the seed) predictions on a
  fixed input with ``seeded_outputs = False``;
* ``check_output(model, out)`` – asserts the shape, range and dtype of a ``sample`` output;
* ``fit_data(model)`` – ``(train, val)`` datasets for ``fit`` (closed-form models only);
* ``check_reloaded(model, loaded)`` – extra round-trip checks (e.g. reconstructions);
* ``same(a, b)`` – equality of two ``sample`` outputs (tensors, strings, lists of them).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import pytest
import torch

from genlab.core.errors import ConfigError, GenlabError
from genlab.core.model import GenerativeModel, ModelConfig
from genlab.core.registry import MODELS


class ModelTesterMixin:
    """Inherit (through a modality mixin) in a ``Test…`` class; override the class attributes below."""

    #: the registry name of the model under test (``image/dcgan``, ``text/gpt``)
    model_name: ClassVar[str]
    #: tiny config values for fast tests
    config: ClassVar[dict[str, Any]]
    #: keys ``validation_losses`` must return; None: the model has none (it raises a GenlabError)
    validation_keys: ClassVar[set[str] | None]
    #: Adam steps in the loss-lowering test (a small lr needs more)
    optimizer_steps: ClassVar[int] = 5
    #: the loss-lowering test wants each group's loss to fall by more than this
    min_loss_drop: ClassVar[float] = 0.0
    #: False for models whose output ignores the seed (a classifier's predictions)
    seeded_outputs: ClassVar[bool] = True

    # --- modality hooks ---------------------------------------------------------
    def build(self, **overrides: Any) -> GenerativeModel:
        """A fresh model of ``model_name`` from ``config`` and ``overrides``, initialised from seed 0."""
        cls = MODELS.get(self.model_name)
        config = cls.config_class.build({**self.config, **overrides})
        torch.manual_seed(0)
        return cls(config)

    def batch(self, model: GenerativeModel) -> Any:
        """A fixed training batch for ``model``."""
        raise NotImplementedError

    def sample(self, model: GenerativeModel, seed: int) -> Any:
        """The model's output drawn with ``seed`` (the same seed must give the same output)."""
        raise NotImplementedError

    def check_output(self, model: GenerativeModel, out: Any) -> None:
        """Assert that a ``sample`` output has the right shape, range and dtype."""
        raise NotImplementedError

    def fit_data(self, model: GenerativeModel) -> tuple[Any, Any]:
        """``(train, val)`` datasets ``fit`` accepts (val may be None); closed-form models only."""
        raise NotImplementedError(f"{type(self).__name__} tests a closed-form model: define fit_data")

    def check_reloaded(self, model: GenerativeModel, loaded: GenerativeModel) -> None:
        """Extra checks that a reloaded model behaves like the saved one (default: none)."""

    def same(self, a: Any, b: Any) -> bool:
        """Whether two ``sample`` outputs are identical (tensors compared exactly)."""
        if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
            return a.shape == b.shape and a.dtype == b.dtype and torch.equal(a, b)
        if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
            return len(a) == len(b) and all(self.same(x, y) for x, y in zip(a, b, strict=True))
        return a == b

    # --- helpers ------------------------------------------------------------------
    @property
    def closed_form(self) -> bool:
        return MODELS.get(self.model_name).fits_in_closed_form

    def fitted(self, model: GenerativeModel) -> GenerativeModel:
        """A closed-form model fitted on ``fit_data`` (unfitted it has no distribution); others as built."""
        if model.fits_in_closed_form:
            model.fit(*self.fit_data(model))
        return model.eval()

    def trained_a_little(self, model: GenerativeModel, steps: int = 3) -> GenerativeModel:
        """Weights (BatchNorm statistics, embeddings, …) moved off their initial values, or a fitted model."""
        if model.fits_in_closed_form:
            return self.fitted(model)
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

    # --- registry and config ------------------------------------------------------
    def test_registered_name_round_trips(self):
        cls = MODELS.get(self.model_name)
        assert cls.registry_name == self.model_name and MODELS.get(cls.registry_name) is cls
        assert issubclass(cls, GenerativeModel) and issubclass(cls.config_class, ModelConfig)

    def test_config_rejects_an_unknown_key(self):
        key = next(iter(self.config))
        with pytest.raises(ConfigError, match="unknown config key") as err:
            self.build(**{key + "_x": 1})
        assert f"did you mean '{key}'" in err.value.hint

    # --- checkpoint round-trip ----------------------------------------------------
    def test_save_pretrained_roundtrip(self, tmp_path):
        model = self.trained_a_little(self.build())
        model.save_pretrained(tmp_path)
        assert {"config.json", "model.safetensors", "README.md"} <= {p.name for p in tmp_path.iterdir()}
        assert self.model_name in (tmp_path / "README.md").read_text(encoding="utf-8")  # a card even without a run
        loaded = GenerativeModel.from_pretrained(tmp_path)
        assert type(loaded) is type(model) and loaded.config == model.config
        assert self.same(self.sample(loaded, 0), self.sample(model, 0))
        self.check_reloaded(model, loaded)

    # --- determinism and outputs --------------------------------------------------
    def test_same_seed_same_output_other_seed_other_output(self):
        model = self.fitted(self.build())
        a, b, c = self.sample(model, 0), self.sample(model, 0), self.sample(model, 1)
        assert self.same(a, b), "the same seed gave different outputs"
        if self.seeded_outputs:
            assert not self.same(a, c), "another seed gave the same output"
        else:
            assert self.same(a, c), "the output depends on the seed"

    def test_output_shape_range_dtype(self):
        model = self.fitted(self.build())
        self.check_output(model, self.sample(model, 0))

    # --- learning -----------------------------------------------------------------
    def test_optimizer_groups_partition_the_parameters(self):
        model = self.build()
        if model.fits_in_closed_form:  # the trainer only calls fit: a parameter would never be trained
            trainable = [k for k, p in model.named_parameters() if p.requires_grad]
            assert not trainable, f"a closed-form model is never stepped, yet has trainable parameters {trainable}"
            return
        groups = [[id(p) for p in spec.params] for spec in model.optimizer_groups()]
        flat = [i for g in groups for i in g]
        assert len(flat) == len(set(flat)), "a parameter is in two groups"
        assert set(flat) == {id(p) for p in model.parameters()}, "a parameter is in no group"

    def test_steps_lower_each_groups_loss_or_fit_succeeds(self):
        """Gradient models: see :meth:`check_group_lowers_its_loss`; closed-form ones: :meth:`check_fit`."""
        if self.closed_form:
            self.check_fit()
            return
        for i, name in enumerate(spec.name for spec in self.build().optimizer_groups()):
            self.check_group_lowers_its_loss(i, name)

    def check_fit(self) -> None:
        """``fit`` returns finite metrics and changes the seeded output."""
        model = self.build().eval()
        before = self.sample(model, 0)
        metrics = model.fit(*self.fit_data(model))
        assert metrics, "fit logs no metric"
        for key, value in metrics.items():
            assert isinstance(key, str) and math.isfinite(float(value)), (key, value)
        assert not self.same(self.sample(model.eval(), 0), before), "fitting did not change the output"

    def check_group_lowers_its_loss(self, index: int, name: str) -> None:
        """A few Adam steps of group ``name`` lower its own loss and leave every other parameter alone."""
        model = self.build().train()
        batch = self.batch(model)
        spec = model.optimizer_groups()[index]
        owned = {id(p) for p in spec.params}
        others = {k: p.detach().clone() for k, p in model.named_parameters() if id(p) not in owned}
        opt = torch.optim.Adam(spec.params, lr=spec.lr, betas=spec.betas, weight_decay=spec.weight_decay)

        def loss() -> torch.Tensor:
            torch.manual_seed(7)  # the same noise (z, ε, fakes, dropout) at every evaluation
            return model.training_losses(batch, name)["loss"]

        before = loss().item()
        for _ in range(self.optimizer_steps):
            opt.zero_grad()
            loss().backward()
            opt.step()
        after = loss().item()
        assert after < before - self.min_loss_drop, f"group {name}: loss {before:.4f} -> {after:.4f}"
        for k, p in model.named_parameters():
            if k in others:
                assert torch.equal(p, others[k]), f"stepping group {name} changed {k}"

    # --- validation ---------------------------------------------------------------
    def test_validation_losses_without_autograd(self):
        model = self.build().eval()
        if self.validation_keys is None:
            with pytest.raises(GenlabError):
                model.validation_losses(self.batch(model))
            return
        with torch.no_grad():
            values = model.validation_losses(self.batch(model))
        assert self.validation_keys <= set(values), set(values)
        for key, value in values.items():
            assert value.dim() == 0 and torch.isfinite(value), key
