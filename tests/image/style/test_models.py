"""The style-transfer models through the shared model suite, the Gatys optimisation, and the stored style."""

from typing import ClassVar

import pytest
import torch

from genlab.core.errors import BadInputError, ConfigError, DataError
from genlab.core.model import GenerativeModel
from genlab.core.registry import MODELS
from genlab.image.style import FastStyle, Gatys
from genlab.image.style.features import RandomFeatures
from genlab.image.style.gatys import optimise
from genlab.image.style.images import builtin_image, pixel_digest, quantize, resize
from genlab.image.style.loss import PerceptualLoss
from tests.image.style.helpers import photo, stripes
from tests.model_mixin import ModelTesterMixin

STYLE = {"features": "random", "style_image": "builtin:brick", "style_height": 16, "style_width": 16}


class TestFastStyle(ModelTesterMixin):
    """Johnson et al.'s network: content patches in, stylised patches out; the output ignores the seed."""

    model_name = "image/fast-style"
    config: ClassVar[dict] = {"width": 4, "num_residual": 1, **STYLE}
    validation_keys: ClassVar[set[str] | None] = {"loss", "content", "style", "tv"}
    seeded_outputs = False

    def batch(self, model):
        return torch.stack([photo(16, 16, seed=i) for i in range(4)])

    def sample(self, model, seed):
        return model.stylize(torch.stack([photo(20, 24, seed=5), photo(20, 24, seed=6)]))

    def check_output(self, model, out):
        assert out.shape == (2, 3, 20, 24) and out.dtype == torch.float32, (out.shape, out.dtype)
        assert out.min() >= 0 and out.max() <= 1 and out.std() > 0


class TestGatys(ModelTesterMixin):
    """Nothing to train: ``fit`` logs nothing, and the output is an optimisation from the content photo."""

    model_name = "image/gatys"
    config: ClassVar[dict] = {"steps": 3, "size": 16, **STYLE}
    validation_keys: ClassVar[set[str] | None] = None  # no losses to validate: it has no parameters
    seeded_outputs = False  # starts from the content photo

    def batch(self, model):
        return torch.stack([photo(16, 16)])

    def sample(self, model, seed):
        return model.stylize(photo(16, 16, seed=5)).image

    def check_output(self, model, out):
        assert out.shape == (3, 16, 16) and out.dtype == torch.float32
        assert out.min() >= 0 and out.max() <= 1 and out.std() > 0

    def fit_data(self, model):
        return [photo(16, 16)], None

    def check_fit(self) -> None:
        model = self.build().eval()
        before = self.sample(model, 0)
        assert model.fit(*self.fit_data(model)) == {}
        assert self.same(self.sample(model, 0), before)


def build(name: str, **config) -> GenerativeModel:
    cls = MODELS.get(name)
    torch.manual_seed(0)
    return cls(cls.config_class.build(config))


# --------------------------------------------------------------------------- Gatys optimisation


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_a_few_gatys_steps_lower_the_loss(optimizer):
    loss = PerceptualLoss(RandomFeatures(0), stripes(32, 32), 1.0, 300.0, 50.0)
    content = photo(32, 32)
    result = optimise(loss, content, steps=6, optimizer=optimizer)
    assert result.image.shape == content.shape and result.image.min() >= 0 and result.image.max() <= 1
    assert len(result.losses) >= 5 and result.losses[0] > 0
    assert result.final["loss"] < 0.8 * result.losses[0], (result.losses, result.final)
    assert result.final["style"] < loss(content.unsqueeze(0), loss.content_targets(content.unsqueeze(0)))["style"]


def test_gatys_from_noise_depends_on_the_seed_only():
    loss = PerceptualLoss(RandomFeatures(0), stripes(16, 16), 1.0, 300.0, 50.0)
    runs = [
        optimise(loss, photo(16, 16), 2, "adam", init="noise", generator=torch.Generator().manual_seed(s)).image
        for s in (0, 0, 1)
    ]
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])


def test_gatys_runs_at_the_configured_size_and_never_enlarges():
    model = build("image/gatys", steps=2, size=24, **STYLE)
    assert model.stylize(photo(48, 64)).image.shape == (3, 18, 24)
    assert model.stylize(photo(12, 16)).image.shape == (3, 12, 16)
    assert model.stylize(photo(48, 64), size=16).image.shape == (3, 12, 16)


def test_gatys_takes_another_style_per_call_and_needs_one():
    model = build("image/gatys", steps=2, size=16, **STYLE)
    own, other = model.stylize(photo(16, 16)).image, model.stylize(photo(16, 16), stripes(16, 16)).image
    assert not torch.equal(own, other)
    bare = build("image/gatys", steps=2, size=16, features="random")
    with pytest.raises(BadInputError, match="no style image"):
        bare.stylize(photo(16, 16))
    assert bare.stylize(photo(16, 16), stripes(16, 16)).image.shape == (3, 16, 16)


# --------------------------------------------------------------------------- fast-style network


@pytest.mark.parametrize("shape", [(1, 1), (5, 7), (16, 16), (18, 30)])
def test_fast_style_keeps_any_size(shape):
    model = build("image/fast-style", width=4, num_residual=1, **STYLE)
    out = model.stylize(torch.rand(1, 3, *shape))
    assert out.shape == (1, 3, *shape) and out.min() >= 0 and out.max() <= 1


def test_fast_style_refuses_a_gray_batch():
    model = build("image/fast-style", width=4, num_residual=1, **STYLE)
    with pytest.raises(BadInputError, match="RGB"):
        model(torch.rand(1, 1, 16, 16))


def test_feature_network_is_not_part_of_the_weights():
    model = build("image/fast-style", width=4, num_residual=1, **STYLE)
    model.training_losses(torch.rand(2, 3, 16, 16))  # builds the feature network and the loss
    assert set(model.state_dict()) == {f"net.{k}" for k in model.net.state_dict()} | {"style", "style_ready"}


# --------------------------------------------------------------------------- the stored style


def test_the_style_is_read_once_checked_and_saved_with_the_model(tmp_path):
    brick = quantize(resize(builtin_image("brick"), (16, 16)))
    model = build("image/fast-style", width=4, num_residual=1, **STYLE, style_digest=pixel_digest(brick))
    assert torch.equal(model.style_pixels(), brick) and int(model.style_ready) == 1
    model.save_pretrained(tmp_path / "m")
    loaded = GenerativeModel.from_pretrained(tmp_path / "m")
    assert int(loaded.style_ready) == 1 and torch.equal(loaded.style_pixels(), brick)
    assert loaded.style_matches(builtin_image("brick")) and not loaded.style_matches(builtin_image("gravel"))
    changed = build("image/fast-style", width=4, num_residual=1, **STYLE, style_digest="0" * 64)
    with pytest.raises(DataError, match="changed since"):
        changed.style_pixels()


def test_a_model_saved_before_any_step_still_holds_its_style(tmp_path):
    model = build("image/gatys", steps=2, size=16, **STYLE)
    model.save_pretrained(tmp_path / "g")
    state = GenerativeModel.from_pretrained(tmp_path / "g").state_dict()
    assert int(state["style_ready"]) == 1 and state["style"].std() > 0


def test_style_shape_comes_with_the_style_image():
    with pytest.raises(ConfigError, match="style_height and style_width"):
        build("image/fast-style", style_image="builtin:brick")


def test_registered_names_and_tasks():
    assert MODELS.get("image/fast-style") is FastStyle and MODELS.get("image/gatys") is Gatys
    assert FastStyle.task == Gatys.task == "style-transfer"
    assert Gatys.fits_in_closed_form and not FastStyle.fits_in_closed_form
