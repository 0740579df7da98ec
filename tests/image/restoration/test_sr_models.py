import pytest
import torch
from torch import nn

import genlab.image.restoration.bicubic  # noqa: F401  (registers image/bicubic-sr)
import genlab.image.restoration.espcn  # noqa: F401  (registers image/espcn)
import genlab.image.restoration.srresnet  # noqa: F401  (registers image/srresnet and image/srgan)
from genlab.core.errors import BadInputError, GenlabError
from genlab.core.registry import MODELS
from genlab.image.restoration.bicubic import BicubicSR
from genlab.image.restoration.degrade import bicubic_resize, downscale
from genlab.image.restoration.espcn import ESPCN
from genlab.image.restoration.sr import TASK, SRConfig
from genlab.image.restoration.srresnet import SRGAN, SRGANDiscriminator, SRResNet, srresnet_receptive_radius
from tests.image.restoration.model_mixin import RestorationModelTesterMixin, seeded, structured

ESPCN_TINY = {"width1": 8, "width2": 4}
SRRESNET_TINY = {"width": 8, "num_blocks": 1}
SRGAN_TINY = {**SRRESNET_TINY, "d_width": 4}


class BicubicInputs(RestorationModelTesterMixin):
    """Inputs made by the super-resolution degradation: bicubic downscaling, rounded to 8 bits."""

    def degrade(self, model, clean, generator):
        return downscale(clean, model.output_scale)


class TestESPCN(BicubicInputs):
    model_name = "image/espcn"
    config = ESPCN_TINY


class TestESPCNGrayScale2(TestESPCN):
    config = {**ESPCN_TINY, "channels": 1, "color": "y", "scale": 2}


class TestSRResNet(BicubicInputs):
    model_name = "image/srresnet"
    config = SRRESNET_TINY
    optimizer_steps = 10  # lr 1e-4


class TestSRResNetScale4(TestSRResNet):
    config = {**SRRESNET_TINY, "scale": 4}
    input_size = 8


class TestSRGAN(BicubicInputs):
    model_name = "image/srgan"
    config = SRGAN_TINY
    optimizer_steps = 10  # lr 1e-4


class TestBicubicSR(BicubicInputs):
    model_name = "image/bicubic-sr"
    config = {"scale": 3}

    def fit_data(self, model):
        return list(zip(*self.batch(model), strict=True)), None

    def check_fit(self) -> None:
        """Nothing to learn: ``fit`` logs nothing and leaves the output as it was."""
        model = self.build().eval()
        before = self.sample(model, 0)
        assert model.fit(*self.fit_data(model)) == {}
        assert self.same(self.sample(model, 0), before)


# --------------------------------------------------------------------------- helpers


def build(name: str, **config) -> nn.Module:
    cls = MODELS.get(name)
    torch.manual_seed(0)
    return cls(cls.config_class.build(config)).eval()


def dependence_radius(model: nn.Module, size: int) -> int:
    """The largest distance (input rows) from output row y = s·k + a, for every phase a, to an input row
    its value depends on (k in the middle of a size × size input)."""
    s, k, radius = model.output_scale, size // 2, 0
    for a in range(s):
        x = torch.randn(2, model.config.channels, size, size, generator=seeded(a), requires_grad=True)
        model(x)[:, :, s * k + a, s * k + a].abs().sum().backward()
        rows = x.grad.abs().sum((0, 1, 3)).nonzero().flatten()
        radius = max(radius, int(k - rows.min()), int(rows.max() - k))
    return radius


def lr_hr(scale: int, channels: int = 3, n: int = 2, size: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    hr = structured(n, channels, size * scale, seeded(5))
    return downscale(hr, scale), hr


# --------------------------------------------------------------------------- all models


def test_registered_names_tasks_and_defaults():
    assert MODELS.get("image/espcn") is ESPCN and MODELS.get("image/srresnet") is SRResNet
    assert MODELS.get("image/srgan") is SRGAN and MODELS.get("image/bicubic-sr") is BicubicSR
    assert ESPCN.task == SRResNet.task == SRGAN.task == BicubicSR.task == TASK == "super-resolution"
    assert all(cls.description for cls in (ESPCN, SRResNet, SRGAN, BicubicSR))
    assert SRConfig().scale == 3 and BicubicSR.fits_in_closed_form and not SRGAN.fits_in_closed_form
    espcn = ESPCN.config_class()
    assert (espcn.width1, espcn.width2, espcn.loss, espcn.lr) == (64, 32, "mse", 1e-3)
    srresnet = SRResNet.config_class()
    assert (srresnet.width, srresnet.num_blocks, srresnet.loss, srresnet.lr) == (64, 16, "mse", 1e-4)
    srgan = SRGAN.config_class()
    assert (srgan.d_width, srgan.adversarial_weight, srgan.lr, srgan.loss) == (64, 1e-3, 1e-4, "mse")
    for cls in (SRConfig, ESPCN.config_class, SRResNet.config_class, SRGAN.config_class):
        assert all(field.description for field in cls.model_fields.values()), cls


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("name", ["image/espcn", "image/srresnet", "image/srgan", "image/bicubic-sr"])
def test_output_is_scale_times_larger(name, scale):
    config = {"image/espcn": ESPCN_TINY, "image/srresnet": SRRESNET_TINY, "image/srgan": SRGAN_TINY}.get(name, {})
    model = build(name, scale=scale, **config)
    x = torch.rand(2, 3, 7, 9)
    assert model.output_scale == scale
    assert model(x).shape == (2, 3, 7 * scale, 9 * scale)
    assert model.restore(x, tile=4).shape == (2, 3, 7 * scale, 9 * scale)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_receptive_radius_is_exact(scale):
    """The declared radius is the measured one, at every scale and for every output phase."""
    for name, config in [
        ("image/espcn", ESPCN_TINY),
        ("image/srresnet", {"width": 4, "num_blocks": 0}),
        ("image/srresnet", {"width": 4, "num_blocks": 1}),
        ("image/srgan", {"width": 4, "num_blocks": 2, "d_width": 2}),
        ("image/bicubic-sr", {}),
    ]:
        model = build(name, scale=scale, **config)
        assert dependence_radius(model, 2 * model.receptive_radius + 5) == model.receptive_radius, (name, config)
    assert srresnet_receptive_radius(16) == 40  # the paper's network


# --------------------------------------------------------------------------- bicubic


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bicubic_sr_is_bicubic_resize(scale):
    model = build("image/bicubic-sr", scale=scale)
    x = torch.rand(2, 3, 6, 5)
    assert torch.equal(model(x), bicubic_resize(x, (6 * scale, 5 * scale)))
    assert torch.equal(model.restore(x, tile=None), bicubic_resize(x, (6 * scale, 5 * scale)).clamp(0, 1))
    assert not list(model.parameters()) and model.fit(None) == {}
    with pytest.raises(GenlabError, match="no parameters"):
        model.optimizer_groups()


# --------------------------------------------------------------------------- SRGAN


def test_srgan_groups_losses_and_gradients():
    model = build("image/srgan", **SRGAN_TINY).train()
    d, g = model.optimizer_groups()
    assert (d.name, d.lr, d.betas, d.every) == ("discriminator", 1e-4, (0.9, 0.999), 1)
    assert (g.name, g.lr, g.betas, g.every) == ("generator", 1e-4, (0.9, 0.999), 1)
    assert {id(p) for p in d.params} == {id(p) for p in model.discriminator.parameters()}
    assert {id(p) for p in g.params} == {id(p) for p in model.generator.parameters()}
    batch = lr_hr(3)

    losses = model.training_losses(batch, "discriminator")
    assert {"loss", "d_real", "d_fake"} <= set(losses)
    assert all(v.dim() == 0 and torch.isfinite(v) for v in losses.values())
    losses["loss"].backward()
    assert all(p.grad is None for p in model.generator.parameters()), "D's step reached the generator"
    assert all(p.grad is not None for p in model.discriminator.parameters())
    model.zero_grad(set_to_none=True)

    losses = model.training_losses(batch, "generator")
    assert {"loss", "pixel", "feature", "adversarial", "psnr"} <= set(losses)
    assert all(v.dim() == 0 and torch.isfinite(v) for v in losses.values())
    c = model.config
    total = losses["pixel"] + c.feature_weight * losses["feature"] + c.adversarial_weight * losses["adversarial"]
    assert torch.allclose(losses["loss"], total)
    assert losses["feature"] > 0
    losses["loss"].backward()
    assert all(p.grad is None for p in model.discriminator.parameters()), "G's step trained the discriminator"
    assert all(p.requires_grad for p in model.discriminator.parameters())  # unfrozen afterwards
    assert all(p.grad is not None for p in model.generator.parameters())

    with pytest.raises(BadInputError, match="unknown optimizer group"):
        model.training_losses(batch, "model")


def test_srgan_zero_weights_leave_the_pixel_loss():
    model = build("image/srgan", **SRGAN_TINY, feature_weight=0.0, adversarial_weight=0.0).train()
    batch = lr_hr(3)
    torch.manual_seed(0)
    losses = model.training_losses(batch, "generator")
    assert torch.equal(losses["loss"], losses["pixel"])


def test_srgan_validation_is_the_generators_pixel_loss():
    model = build("image/srgan", **SRGAN_TINY)
    inputs, target = lr_hr(3)
    values = model.validation_losses((inputs, target))
    assert set(values) == {"loss", "psnr"}
    with torch.no_grad():
        assert torch.allclose(values["loss"], nn.functional.mse_loss(model.generator(inputs), target))


def test_srgan_discriminator_scores_any_size():
    disc = SRGANDiscriminator(channels=3, width=2).eval()
    assert disc(torch.rand(3, 3, 20, 28)).shape == (3,)
    assert len(disc.features(torch.rand(1, 3, 16, 16))) == 8
    assert disc.features(torch.rand(1, 3, 32, 32))[-1].shape == (1, 16, 2, 2)  # four stride-2 convs, 8·width
