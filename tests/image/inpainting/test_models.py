"""image/unet-inpaint: the shared model suite (plain and adversarial), the gated U-Net's layout, its exact
receptive radius (measured by input gradients), sizes, masks and the hole-weighted loss."""

import pytest
import torch
from torch import nn

from genlab.core.errors import BadInputError, ConfigError
from genlab.core.registry import MODELS
from genlab.image.inpainting.model import (
    TASK,
    GatedConv2d,
    InpaintConfig,
    UNetInpaint,
    inpaint_receptive_radius,
    level_widths,
)
from tests.image.inpainting.model_mixin import InpaintingModelTesterMixin, masks
from tests.image.restoration.model_mixin import seeded, structured

TINY = {"width": 4, "levels": 2, "channels": 3}


class TestUNetInpaint(InpaintingModelTesterMixin):
    model_name = "image/unet-inpaint"
    config = TINY


class TestUNetInpaintGray(TestUNetInpaint):
    config = {"width": 4, "levels": 1, "channels": 1, "color": "gray", "loss": "mse"}
    input_size = 12


class TestUNetInpaintAdversarial(InpaintingModelTesterMixin):
    model_name = "image/unet-inpaint"
    config = {**TINY, "adversarial_weight": 0.1, "d_width": 4}
    validation_keys = {"loss", "psnr", "valid", "hole"}


def build(**config) -> UNetInpaint:
    torch.manual_seed(0)
    return UNetInpaint(InpaintConfig.build({**TINY, **config})).eval()


def test_registered_name_task_and_defaults():
    assert MODELS.get("image/unet-inpaint") is UNetInpaint and UNetInpaint.task == TASK == "inpainting"
    c = InpaintConfig()
    assert (c.width, c.levels, c.loss, c.lr, c.schedule, c.adversarial_weight, c.hole_weight) == (
        32, 3, "l1", 1e-3, "constant", 0.0, 6.0,
    )  # fmt: skip
    assert all(field.description for field in InpaintConfig.model_fields.values())
    with pytest.raises(ConfigError, match="color"):
        InpaintConfig.build({"color": "y"})  # a luma model could not fill the chroma of a hole


def test_convolutions_are_gated_and_widths_are_capped():
    model = build(width=4, levels=3)
    gated = [m for m in model.net.modules() if isinstance(m, GatedConv2d)]
    plain = [m for m in model.net.modules() if isinstance(m, nn.Conv2d) and not any(m is g.conv for g in gated)]
    assert plain == [model.net.head] and len(gated) == 2 + 2 * 3 + 2 + 3  # level 0, levels, middle, decoders
    assert gated[0].conv.in_channels == 4 and gated[0].conv.out_channels == 8  # image + mask → features and gates
    assert level_widths(4, 3) == [4, 8, 16, 16]
    assert model.discriminator is None and model.size_multiple == 8


def test_gated_conv_is_elu_features_times_sigmoid_gate():
    layer = GatedConv2d(2, 3)
    x = torch.randn(1, 2, 5, 5, generator=seeded(0))
    f, g = layer.conv(x).chunk(2, dim=1)
    assert torch.allclose(layer(x), nn.functional.elu(f) * torch.sigmoid(g))


@pytest.mark.parametrize("size", [(13, 17), (1, 5), (8, 8), (2, 3)])
def test_any_size(size):
    model = build()
    x = torch.rand(2, 3, *size, generator=seeded(0))
    m = (torch.rand(2, 1, *size, generator=seeded(1)) > 0.5).float()
    out = model.restore(x, m, tile=None)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    assert model.restore(x, m[:1], tile=None).shape == x.shape  # one mask for the whole batch


def test_restore_checks_the_mask():
    model = build()
    x = torch.rand(1, 3, 8, 10)
    with pytest.raises(BadInputError, match="mask is 10×9 but the image is 10×8"):
        model.restore(x, torch.zeros(1, 1, 9, 10))
    with pytest.raises(BadInputError, match="needs a mask"):
        model.restore(x, torch.zeros(1, 3, 8, 10))
    with pytest.raises(BadInputError, match="3-channel"):
        model.restore(torch.rand(1, 1, 8, 10), torch.zeros(1, 1, 8, 10))


def dependence_radius(model: UNetInpaint, size: int, pixels: list[int]) -> int:
    """The largest distance (rows) from output pixel (p, p) to an input pixel (image or mask) it depends on."""
    radius = 0
    for p in pixels:
        x = torch.rand(2, model.config.channels, size, size, generator=seeded(p), requires_grad=True)
        m = torch.full((2, 1, size, size), 0.5, requires_grad=True)  # soft: gradients reach image and mask
        model(x, m)[:, :, p, p].abs().sum().backward()
        rows = (x.grad.abs().sum((0, 1, 3)) + m.grad.abs().sum((0, 1, 3))).nonzero().flatten()
        radius = max(radius, int(p - rows.min()), int(rows.max() - p))
    return radius


@pytest.mark.parametrize("levels", [1, 2])
def test_receptive_radius_is_exact(levels):
    model = build(levels=levels, width=2, channels=1, color="gray")
    mult = model.size_multiple
    exact = inpaint_receptive_radius(levels)
    assert exact == 11 * 2**levels - 1
    assert model.receptive_radius % mult == 0 and exact <= model.receptive_radius < exact + mult
    centre = model.receptive_radius + mult  # a multiple of the size multiple, the whole field inside the image
    assert dependence_radius(model, 2 * centre + mult, [centre + p for p in range(mult)]) == exact


def test_default_radius():
    assert UNetInpaint(InpaintConfig()).receptive_radius == 88 == inpaint_receptive_radius(3) + 1


def test_loss_weights_the_hole(monkeypatch):
    model = build(hole_weight=6.0)
    clean = structured(2, 3, 16, seeded(0))
    mask = masks(2, 16, seeded(1), "box")
    # a network that predicts 0.5 everywhere: the loss is the known-pixel error plus 6 × the hole error
    monkeypatch.setattr(model, "predict", lambda image, m: torch.full_like(image, 0.5))
    losses = model.training_losses(((clean * (1 - mask), mask), clean), "model")
    error = (clean - 0.5).abs()
    n = error.numel()
    valid, hole = (error * (1 - mask)).sum() / n, (error * mask).sum() / n
    assert torch.allclose(losses["valid"], valid) and torch.allclose(losses["hole"], hole)
    assert torch.allclose(losses["loss"], valid + 6 * hole)


def test_adversarial_groups_and_their_losses():
    model = build(adversarial_weight=0.1, d_width=4)
    names = [spec.name for spec in model.optimizer_groups()]
    assert names == ["discriminator", "model"]
    d_params = {id(p) for p in model.discriminator.parameters()}
    assert {id(p) for p in model.optimizer_groups()[0].params} == d_params
    assert model.optimizer_groups()[0].betas == (0.5, 0.999)
    clean = structured(2, 3, 16, seeded(0))
    mask = masks(2, 16, seeded(1))
    batch = ((clean * (1 - mask), mask), clean)
    assert {"loss", "d_real", "d_fake"} <= set(model.training_losses(batch, "discriminator"))
    g = model.training_losses(batch, "model")
    assert torch.allclose(g["loss"], g["valid"] + 6 * g["hole"] + 0.1 * g["adversarial"])
    assert "adversarial" not in model.validation_losses(batch)
    with pytest.raises(BadInputError, match="discriminator"):
        model.training_losses(batch, "generator")
    with pytest.raises(BadInputError, match="'model'"):
        build().training_losses(batch, "discriminator")  # no discriminator without the adversarial term
