import pytest
import torch
from torch import nn

from genlab.core.errors import ConfigError
from genlab.core.registry import MODELS
from genlab.image.gan import CGAN, DCGAN, WGANGP
from tests.image.model_mixin import ImageModelTesterMixin

TINY = {"image_size": 16, "latent_dim": 8, "g_width": 4, "d_width": 4, "num_classes": 3}
GAN_KEYS = {"d_loss", "g_loss", "d_real", "d_fake"}


class TestDCGAN(ImageModelTesterMixin):
    model_name = "image/dcgan"
    config = TINY
    validation_keys = GAN_KEYS


class TestDCGANSpectralNormHinge(ImageModelTesterMixin):
    model_name = "image/dcgan"
    config = {**TINY, "spectral_norm": True, "loss": "hinge", "upsample": "nearest"}
    image_sizes = (28,)
    validation_keys = GAN_KEYS


class TestLeastSquaresGAN(TestDCGANSpectralNormHinge):
    config = {**TINY, "loss": "least-squares"}


class TestCGAN(ImageModelTesterMixin):
    model_name = "image/cgan"
    config = TINY
    validation_keys = GAN_KEYS


class TestWGANGP(ImageModelTesterMixin):
    model_name = "image/wgan-gp"
    config = TINY
    validation_keys = GAN_KEYS
    optimizer_steps = 10  # lr 1e-4


def build(cls, **values):
    torch.manual_seed(0)
    return cls(cls.config_class.build({**TINY, **values}))


def test_registered_names_and_paper_defaults():
    assert MODELS.get("image/dcgan") is DCGAN and MODELS.get("image/cgan") is CGAN
    assert MODELS.get("image/wgan-gp") is WGANGP and CGAN.conditional and not DCGAN.conditional
    d, g = build(WGANGP).optimizer_groups()  # TTUR (Heusel et al. 2017) on Gulrajani et al.'s Adam betas
    assert (d.name, d.lr, d.betas, d.every) == ("discriminator", 3e-4, (0.0, 0.9), 1)
    assert (g.name, g.lr, g.betas, g.every) == ("generator", 1e-4, (0.0, 0.9), 1)
    d, g = build(WGANGP, n_critic=5, lr_d=1e-4).optimizer_groups()  # the paper's own schedule
    assert (d.lr, g.lr, g.every) == (1e-4, 1e-4, 5)
    d, g = build(DCGAN).optimizer_groups()  # Miyato et al. (2018): hinge loss, spectral norm, β = (0, 0.9)
    assert (d.lr, d.betas, g.every) == (2e-4, (0.0, 0.9), 1)
    dcgan = build(DCGAN)
    assert (dcgan.config.loss, dcgan.config.spectral_norm, dcgan.config.discriminator_norm()) == ("hinge", True, "none")
    assert DCGAN.default_ema_decay == 0.999 and CGAN.default_ema_decay is None and WGANGP.default_ema_decay is None
    d, g = build(CGAN).optimizer_groups()  # the cGAN keeps Radford et al.'s recipe
    assert d.betas == (0.5, 0.999) and build(CGAN).config.loss == "non-saturating"


def test_wgan_gp_critic_loss_adds_the_weighted_penalty_and_has_no_batchnorm():
    model = build(WGANGP)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.discriminator.modules())
    assert any(isinstance(m, nn.GroupNorm) for m in model.discriminator.modules())
    images = torch.rand(4, 1, 16, 16) * 2 - 1
    out = model.training_losses((images, torch.zeros(4, dtype=torch.long)), "discriminator")
    assert out["gp"].item() > 0
    assert out["loss"].item() == pytest.approx((out["d_loss"] + 10 * out["gp"]).item(), rel=1e-6)
    assert out["d_loss"].item() == pytest.approx((out["d_fake"] - out["d_real"]).item(), rel=1e-5, abs=1e-6)


def test_generator_step_leaves_discriminator_gradients_empty():
    model = build(DCGAN)
    out = model.training_losses((torch.zeros(4, 1, 16, 16), torch.zeros(4, dtype=torch.long)), "generator")
    out["loss"].backward()
    assert all(p.grad is None for p in model.discriminator.parameters())
    assert all(p.grad is not None for p in model.generator.parameters())
    assert all(p.requires_grad for p in model.discriminator.parameters())  # unfrozen again


def test_discriminator_step_does_not_backprop_into_the_generator():
    model = build(DCGAN)
    out = model.training_losses((torch.zeros(4, 1, 16, 16), torch.zeros(4, dtype=torch.long)), "discriminator")
    out["loss"].backward()
    assert all(p.grad is None for p in model.generator.parameters())
    assert set(out) == {"loss", "d_loss", "d_real", "d_fake"}


def test_projection_discriminator_adds_the_label_inner_product():
    model = build(CGAN).eval()
    d = model.discriminator
    images = torch.rand(3, 1, 16, 16) * 2 - 1
    labels = torch.tensor([0, 1, 2])
    with torch.no_grad():
        h = d.features(images).flatten(1)
        expected = d.head(h).squeeze(1) + (d.embed.weight[labels] * h).sum(1)
        assert torch.allclose(d(images, labels), expected, atol=1e-6)
        assert not torch.allclose(d(images, labels), d(images, torch.tensor([1, 2, 0])))


@pytest.mark.parametrize(("size", "base"), [(28, 7), (32, 4), (64, 4), (8, 4), (48, 6)])
def test_generator_starts_from_a_4_to_7_pixel_grid(size, base):
    model = build(DCGAN, image_size=size)
    assert model.generator.base == base
    assert model.generate(2).shape == (2, 1, size, size)


@pytest.mark.parametrize("size", [30, 9, 100])
def test_unsupported_image_size_lists_working_sizes(size):
    with pytest.raises(ConfigError) as err:
        build(DCGAN, image_size=size)
    assert f"{size}×{size}" in err.value.message
    assert "28" in err.value.hint and "32" in err.value.hint and "64" in err.value.hint


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"gp_weight": 10.0, "d_norm": "batch"}, "BatchNorm"),
        ({"spectral_norm": True, "d_norm": "batch"}, "spectral_norm"),
        ({"loss": "wasserstein", "spectral_norm": False}, "Lipschitz"),
    ],
)
def test_unworkable_combinations_are_refused(values, match):
    with pytest.raises(ConfigError, match=match):
        build(DCGAN, **values)


def test_spectral_norm_bounds_discriminator_weights():
    model = build(DCGAN, spectral_norm=True).train()
    x = torch.rand(4, 1, 16, 16)
    for _ in range(20):  # power iterations run in training mode
        model.discriminator(x)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.discriminator.modules())
    weight = model.discriminator.head.weight  # the normalised weight seen by forward
    assert torch.linalg.matrix_norm(weight, ord=2).item() == pytest.approx(1.0, abs=1e-3)


def test_validation_does_not_move_batchnorm_statistics():
    model = build(DCGAN).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model.validation_losses((torch.rand(4, 1, 16, 16), torch.zeros(4, dtype=torch.long)))
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert not model.discriminator.training and all(not m.training for m in model.discriminator.modules())
