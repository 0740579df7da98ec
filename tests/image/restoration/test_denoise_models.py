import pytest
import torch
from torch import nn

import genlab.image.restoration.dae  # noqa: F401  (registers image/dae)
import genlab.image.restoration.dncnn  # noqa: F401  (registers image/dncnn)
from genlab.core.errors import ConfigError
from genlab.core.registry import MODELS
from genlab.image.restoration.dae import DenoisingAutoencoder, dae_receptive_radius
from genlab.image.restoration.degrade import add_noise
from genlab.image.restoration.denoise import TASK, DenoiseConfig
from genlab.image.restoration.dncnn import DnCNN
from tests.image.restoration.model_mixin import RestorationModelTesterMixin, seeded, structured


class NoisyInputs(RestorationModelTesterMixin):
    """Inputs with Gaussian noise of σ = 25 (0–255 scale), the denoising degradation."""

    def degrade(self, model, clean, generator):
        return add_noise(clean, 25, generator)


class TestDnCNN(NoisyInputs):
    model_name = "image/dncnn"
    config = {"depth": 3, "width": 8, "channels": 1}


class TestDnCNNColor(TestDnCNN):
    config = {"depth": 3, "width": 8, "channels": 3, "residual": False}


class TestDAE(NoisyInputs):
    model_name = "image/dae"
    config = {"width": 4, "levels": 2, "channels": 3}
    input_size = 8  # a multiple of size_multiple (4)


def build(name: str, **config) -> nn.Module:
    cls = MODELS.get(name)
    torch.manual_seed(0)
    return cls(cls.config_class.build(config)).eval()


def dependence_radius(model: nn.Module, size: int, pixels: list[int]) -> int:
    """The largest distance (rows) from output pixel (p, p) to an input pixel its value depends on."""
    radius = 0
    for p in pixels:
        x = torch.randn(8, model.config.channels, size, size, generator=seeded(p), requires_grad=True)
        model(x)[:, :, p, p].abs().sum().backward()
        rows = x.grad.abs().sum((0, 1, 3)).nonzero().flatten()
        radius = max(radius, int(p - rows.min()), int(rows.max() - p))
    return radius


def test_registered_names_tasks_and_defaults():
    assert MODELS.get("image/dncnn") is DnCNN and MODELS.get("image/dae") is DenoisingAutoencoder
    assert DnCNN.task == DenoisingAutoencoder.task == TASK == "denoising"
    assert DnCNN.description and DenoisingAutoencoder.description
    dncnn = DnCNN.config_class()
    assert (dncnn.depth, dncnn.width, dncnn.residual, dncnn.loss, dncnn.lr, dncnn.schedule) == (
        17,
        64,
        True,
        "mse",
        1e-3,
        "constant",
    )
    assert (dncnn.sigma, dncnn.sigma_max) == (25.0, None)
    dae = DenoisingAutoencoder.config_class()
    assert (dae.width, dae.levels) == (32, 2)
    for cls in (DenoiseConfig, DnCNN.config_class, DenoisingAutoencoder.config_class):
        assert all(field.description for field in cls.model_fields.values()), cls


def test_sigma_range_is_checked():
    assert DenoiseConfig.build({"sigma": 0, "sigma_max": 55}).sigma_max == 55
    with pytest.raises(ConfigError, match="sigma_max"):
        DenoiseConfig.build({"sigma": 30, "sigma_max": 10})
    with pytest.raises(ConfigError, match="sigma"):
        DenoiseConfig.build({"sigma": 300})


def test_dncnn_returns_input_minus_predicted_noise():
    model = build("image/dncnn", depth=3, width=8)
    x = torch.rand(2, 3, 10, 11, generator=seeded(0))
    noise = model.net(x)
    assert torch.allclose(model(x), x - noise)
    nn.init.zeros_(model.net[-1].weight)  # predicts no noise: the identity
    assert torch.equal(model(x), x)
    plain = build("image/dncnn", depth=3, width=8, residual=False)
    nn.init.zeros_(plain.net[-1].weight)
    assert torch.equal(plain(x), torch.zeros_like(x))


def test_dncnn_layers_follow_the_paper():
    model = build("image/dncnn", depth=5, width=8)
    convs = [m for m in model.net if isinstance(m, nn.Conv2d)]
    norms = [m for m in model.net if isinstance(m, nn.BatchNorm2d)]
    assert len(convs) == 5 and len(norms) == 3
    assert convs[0].bias is not None and all(c.bias is None for c in convs[1:])
    assert all(c.kernel_size == (3, 3) for c in convs) and convs[-1].out_channels == 3


@pytest.mark.parametrize("depth", [2, 3, 6])
def test_dncnn_receptive_radius_is_its_depth(depth):
    model = build("image/dncnn", depth=depth, width=4, channels=1)
    assert model.receptive_radius == depth
    assert dependence_radius(model, 24, [12]) == depth


@pytest.mark.parametrize("size", [(13, 17), (1, 5), (8, 8), (2, 3)])
def test_dae_takes_any_size(size):
    model = build("image/dae", width=4, levels=2)
    x = torch.rand(2, 3, *size, generator=seeded(0))
    out = model(x)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    assert model.restore(x, tile=None).shape == x.shape


def test_dae_is_skip_free_with_a_sigmoid_output():
    model = build("image/dae", width=4, levels=2)
    nn.init.zeros_(model.head.weight)
    nn.init.zeros_(model.head.bias)
    assert torch.equal(model(torch.rand(1, 3, 8, 8)), torch.full((1, 3, 8, 8), 0.5))
    assert model.size_multiple == 4
    assert model.encoder(torch.zeros(1, 3, 16, 16)).shape == (1, 16, 4, 4)  # width 4 → 8 → 16 channels


@pytest.mark.parametrize("levels", [1, 2, 3])
def test_dae_receptive_radius_bounds_the_measured_dependence(levels):
    model = build("image/dae", width=4, levels=levels, channels=1)
    m = model.size_multiple
    exact = dae_receptive_radius(levels)
    assert exact == 4 * m - 1
    assert model.receptive_radius % m == 0 and exact <= model.receptive_radius < exact + m
    centre = model.receptive_radius + m  # a multiple of m with the whole field inside the image
    measured = dependence_radius(model, 2 * centre, [centre + p for p in range(m)])
    assert measured <= exact
    assert measured > exact - 2  # the derivation is tight, up to dead ReLUs at the edge of the field


def test_dae_tiled_restore_is_exact_on_odd_sizes():
    model = build("image/dae", width=4, levels=2)
    x = structured(1, 3, 45, seeded(3))[..., :41, :45]
    whole = model.restore(x, tile=None)
    pieces = model.restore(x, tile=6)  # rounded up to 8; overlap 16
    assert torch.allclose(pieces, whole, atol=1e-5), (pieces - whole).abs().max()
