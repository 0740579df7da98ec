"""CycleGAN (image/cyclegan): the shared model suite, exact checks of its losses, and its size rules."""

import pytest
import torch
from torch import nn

from genlab.core.errors import BadInputError, ConfigError
from genlab.core.registry import MODELS
from genlab.image.translation.cyclegan import CycleGANConfig, ImagePool
from tests.image.translation.model_mixin import TranslationModelTesterMixin

TINY = {"width": 4, "num_blocks": 1, "d_width": 4, "image_size": 16, "pool_size": 0}


class TestCycleGAN(TranslationModelTesterMixin):
    model_name = "image/cyclegan"
    config = TINY
    validation_keys = {"d_a", "d_b", "g_adv", "cycle", "identity"}


def build(**overrides):
    torch.manual_seed(0)
    cls = MODELS.get("image/cyclegan")
    return cls(cls.config_class.build({**TINY, **overrides}))


def test_defaults_follow_the_paper():
    c = CycleGANConfig()
    assert (c.cycle_weight, c.identity_ratio, c.lr, c.betas, c.pool_size) == (10.0, 0.5, 2e-4, (0.5, 0.999), 50)
    assert [g.name for g in build().optimizer_groups()] == ["discriminator", "generator"]


def test_identity_generators_have_zero_cycle_and_identity_loss():
    model = build()
    model.g_ab, model.g_ba = nn.Identity(), nn.Identity()
    a, b = torch.rand(2, 1, 16, 16) * 2 - 1, torch.rand(2, 1, 16, 16) * 2 - 1
    losses = model.generator_losses(a, b)
    assert losses["cycle"].item() == 0 and losses["identity"].item() == 0
    with torch.no_grad():  # what is left is the least-squares adversarial loss, (D(fake) - 1)² for both D's
        expected = (model.d_b(a) - 1).pow(2).mean() + (model.d_a(b) - 1).pow(2).mean()
    assert torch.allclose(losses["loss"], expected) and torch.allclose(losses["g_adv"], expected)


def test_generator_loss_weights_cycle_and_identity_as_configured():
    model = build(cycle_weight=3.0, identity_ratio=0.5)
    a, b = torch.rand(2, 1, 16, 16) * 2 - 1, torch.rand(2, 1, 16, 16) * 2 - 1
    torch.manual_seed(0)
    out = model.generator_losses(a, b)
    assert torch.allclose(out["loss"], out["g_adv"] + 3.0 * out["cycle"] + 1.5 * out["identity"])
    model.config.identity_ratio = 0.0
    off = model.generator_losses(a, b)
    assert torch.allclose(off["loss"], off["g_adv"] + 3.0 * off["cycle"]) and off["identity"] > 0  # still logged


def test_discriminator_loss_is_least_squares_on_both_domains():
    model = build()
    a, b = torch.rand(2, 1, 16, 16) * 2 - 1, torch.rand(2, 1, 16, 16) * 2 - 1
    out = model.discriminator_losses(a, b)
    with torch.no_grad():
        fake_a, fake_b = model.g_ba(b), model.g_ab(a)
        d_a = 0.5 * (model.d_a(a) - 1).pow(2).mean() + 0.5 * model.d_a(fake_a).pow(2).mean()
        d_b = 0.5 * (model.d_b(b) - 1).pow(2).mean() + 0.5 * model.d_b(fake_b).pow(2).mean()
    assert torch.allclose(out["d_a"], d_a) and torch.allclose(out["d_b"], d_b)
    assert torch.allclose(out["loss"], d_a + d_b)


def test_patch_discriminator_scores_patches():
    model = build(image_size=28)
    assert model.d_a(torch.zeros(2, 1, 28, 28)).shape == (2, 1, 5, 5)  # 14 → 7 → 6 → 5
    assert build(image_size=32, d_layers=3).d_b(torch.zeros(1, 1, 32, 32)).shape == (1, 1, 2, 2)


def test_image_pool_returns_new_images_until_full_then_mixes_in_old_ones():
    pool = ImagePool(3)
    first = torch.arange(3.0).view(3, 1)
    assert torch.equal(pool.query(first), first)
    torch.manual_seed(0)
    mixed = pool.query(torch.full((20, 1), 9.0))
    assert set(mixed.flatten().tolist()) == {0.0, 1.0, 2.0, 9.0}  # some old, some new
    assert torch.equal(ImagePool(0).query(first), first)


@pytest.mark.parametrize(("size", "d_layers", "message"), [(30, 2, "multiple of 4"), (8, 2, "no patch left")])
def test_sizes_the_networks_cannot_handle_are_refused_with_a_size_that_works(size, d_layers, message):
    with pytest.raises(ConfigError, match=message) as err:
        build(image_size=size, d_layers=d_layers)
    assert "--image-size 28 or 32" in err.value.hint or "d_layers" in err.value.hint


def test_a_batch_that_is_not_two_domains_is_refused():
    with pytest.raises(BadInputError, match="images_a, images_b"):
        build().training_losses(torch.zeros(2, 1, 16, 16), "generator")
    with pytest.raises(BadInputError, match="unknown optimizer group"):
        build().training_losses((torch.zeros(2, 1, 16, 16),) * 2, "critic")
