"""The layered decoder (``decoder="layered"``): the shared model checks for both generators, each drawing step
reading only its own attributes, the composite being the "over" stack of its layers, and the errors."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
import torch

from genlab.core.errors import ConfigError
from genlab.image.characters.cgan import CharacterCGAN
from genlab.image.characters.conditioning import LayeredDecoder
from genlab.image.characters.models import CharacterCVAE, layer_nll
from tests.image.characters.test_cgan import TINY
from tests.image.characters.test_models import SCHEMA, CharacterModelChecks

#: Two drawing steps over the hand-made schema: a body chosen by sex, hair by sex, style and colour.
LAYERED = {**TINY, **SCHEMA, "decoder": "layered", "layer_dims": [8, 4],
           "layers": {"body": ["sex"], "hair": ["sex", "hair_style", "hair_color"]}}  # fmt: skip


class TestLayeredCVAE(CharacterModelChecks):
    model_name = "character/cvae"
    config: ClassVar[dict[str, Any]] = LAYERED
    validation_keys: ClassVar[set[str] | None] = {"loss", "recon", "kl"}


class TestLayeredPaletteCVAE(CharacterModelChecks):
    model_name = "character/cvae"
    config: ClassVar[dict[str, Any]] = {**LAYERED, "layer_latent": False, "layer_colour": "palette", "layer_palette": 4}
    validation_keys: ClassVar[set[str] | None] = {"loss", "recon", "kl"}


class TestLayeredDefaultCVAE(CharacterModelChecks):
    """``character/layered`` (the task's default): its batches carry the data's layers."""

    model_name = "character/layered"
    config: ClassVar[dict[str, Any]] = LAYERED
    validation_keys: ClassVar[set[str] | None] = {"loss", "recon", "kl", "layers"}

    def batch(self, model):
        images, labels = super().batch(model)
        g = torch.Generator().manual_seed(1)
        layers = (torch.rand((6, 2, 4, 16, 16), generator=g) < 0.3).float()  # hard-edged coverage …
        layers[:, :, :3] = torch.rand((6, 2, 3, 16, 16), generator=g)  # … of random colours
        return images, labels, premultiplied(layers)


class TestLayeredCGAN(CharacterModelChecks):
    model_name = "character/cgan"
    config: ClassVar[dict[str, Any]] = LAYERED
    validation_keys: ClassVar[set[str] | None] = {"d_loss", "d_real", "d_fake", "g_loss", "d_aux", "g_aux"}


def build(cls=CharacterCVAE, **values):
    torch.manual_seed(0)
    return cls(cls.config_class.build({**LAYERED, **values})).eval()


def test_a_step_reads_only_its_own_attributes_and_the_direction():
    model = build()
    decoder = model.decoder
    assert isinstance(decoder, LayeredDecoder) and decoder.names == ["body", "hair"]
    z = torch.zeros(1, model.config.latent_dim)
    base = torch.tensor([[0, 1, 0, 2]])  # male, plain black hair, facing south
    layers = decoder.layers(z, model.schema.one_hot(base))
    assert layers.shape == (1, 2, 4, 16, 16) and layers.min() >= 0 and layers.max() <= 1
    hair_changed = decoder.layers(z, model.schema.one_hot(torch.tensor([[0, 2, 1, 2]])))
    assert torch.equal(hair_changed[:, 0], layers[:, 0])  # the body does not see the hair
    assert not torch.allclose(hair_changed[:, 1], layers[:, 1])
    turned = decoder.layers(z, model.schema.one_hot(torch.tensor([[0, 1, 0, 3]])))
    assert not torch.allclose(turned[:, 0], layers[:, 0])  # every step sees the direction


def test_the_composite_is_the_layers_drawn_over_the_background_in_order():
    decoder = build().decoder
    z, cond = torch.randn(2, 4), build().schema.one_hot(torch.tensor([[0, 1, 0, 2], [1, 0, -1, 0]]))
    with torch.no_grad():
        layers = decoder.layers(z, cond)
        expected = torch.sigmoid(decoder.background)[None, :, None, None].expand(2, 3, 16, 16)
        for k in range(2):
            alpha = layers[:, k, 3:]
            expected = alpha * layers[:, k, :3] + (1 - alpha) * expected
        got = torch.sigmoid(decoder(z, cond))
    assert torch.allclose(got, expected.clamp(1e-4, 1 - 1e-4), atol=1e-6)


def test_the_gan_generator_is_layered_too():
    assert isinstance(build(CharacterCGAN).decoder, LayeredDecoder)


def test_missing_steps_unknown_attributes_and_wrong_widths_are_config_errors():
    with pytest.raises(ConfigError, match="drawing steps"):
        build(layers={})
    with pytest.raises(ConfigError, match="unknown attributes: wings"):
        build(layers={"body": ["sex", "wings"]})
    with pytest.raises(ConfigError, match="layer_dims"):
        build(layer_dims=[8, 8, 8])


def test_without_the_latent_a_character_is_a_function_of_its_attributes():
    model = build(layer_latent=False)
    labels = torch.tensor([[1, 2, 1, 0]]).expand(3, -1)
    a = model.generate(3, labels, generator=torch.Generator().manual_seed(0))
    b = model.generate(3, labels, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and torch.allclose(a[0], a[2], atol=1e-6)
    assert not torch.equal(build().generate(3, labels, generator=torch.Generator().manual_seed(0))[0],
                           build().generate(3, labels, generator=torch.Generator().manual_seed(1))[0])  # fmt: skip


def test_without_the_latent_shared_layers_are_drawn_once_with_the_same_result_and_gradients():
    model = build(layer_latent=False).train()
    decoder = model.decoder
    labels = torch.tensor([[0, 1, 0, 2], [0, 2, 1, 2], [0, 1, 0, 2], [1, 0, -1, 0]])  # rows 0 and 2 alike
    cond, z = model.schema.one_hot(labels), torch.zeros(4, model.config.latent_dim)
    calls = []
    hook = decoder.project.register_forward_hook(lambda m, i, o: calls.append(len(i[0])))
    batched = decoder.layers(z, cond)
    hook.remove()
    assert calls == [5]  # bodies: male, female; hair: two of the male, the female without a style
    alone = torch.cat([decoder.layers(z[i : i + 1], cond[i : i + 1]) for i in range(4)])
    assert torch.allclose(batched, alone, atol=1e-6)
    weights = torch.randn_like(batched)
    (grad_batched,) = torch.autograd.grad((batched * weights).sum(), decoder.project.weight)
    (grad_alone,) = torch.autograd.grad((alone * weights).sum(), decoder.project.weight)
    assert torch.allclose(grad_batched, grad_alone, atol=1e-5)


def test_palette_layers_mix_their_own_colours():
    model = build(layer_latent=False, layer_colour="palette", layer_palette=4)
    decoder = model.decoder
    labels = torch.tensor([[0, 1, 0, 2], [1, 2, 1, 0]])
    cond, z = model.schema.one_hot(labels), torch.zeros(2, model.config.latent_dim)
    layers = decoder.layers(z, cond)
    assert layers.shape == (2, 2, 4, 16, 16) and layers.min() >= 0 and layers.max() <= 1
    step = torch.cat([cond[:, None, :] * decoder.masks, decoder.steps.expand(2, 2, 2)], dim=2).flatten(0, 1)
    palettes = torch.sigmoid(decoder.recolour(step).view(4, 4, 3))  # (layers, colours, rgb)
    rgb = layers[:, :, :3].flatten(0, 1)  # (layers, 3, H, W): inside the box of each layer's own palette
    low, high = palettes.amin(1)[:, :, None, None], palettes.amax(1)[:, :, None, None]
    assert (rgb >= low - 1e-6).all() and (rgb <= high + 1e-6).all()
    assert palettes.std() > 0.1  # the colours start apart, so the softmax has something to choose between


def test_layers_without_the_latent_train_no_encoder():
    model = build(layer_latent=False).train()
    images = torch.rand(2, 3, 16, 16) * 2 - 1
    losses = model.training_losses((images, torch.tensor([[0, 1, 0, 2], [1, 0, -1, 0]])))
    assert losses["kl"] == 0 and torch.equal(losses["loss"], losses["recon"])
    losses["loss"].backward()
    assert all(p.grad is None for p in model.encoder.parameters())
    assert all(p.grad is not None for p in model.decoder.project.parameters())


def premultiplied(layers: torch.Tensor) -> torch.Tensor:
    """Straight RGBA layers in [0, 1] -> uint8 premultiplied RGBA, the data's layer targets."""
    alpha = layers[:, :, 3:]
    return (torch.cat([layers[:, :, :3] * alpha, alpha], dim=2) * 255).round().to(torch.uint8)


def with_logits(layers: torch.Tensor) -> torch.Tensor:
    """Straight RGBA layers with hard alpha -> colour and alpha logits (±20), as ``layer_logits`` gives."""
    return torch.cat([layers[:, :, :3], (layers[:, :, 3:] * 2 - 1) * 20], dim=2)


def test_the_layer_term_is_least_where_the_layers_are_the_data_s():
    layers = torch.rand(2, 3, 4, 8, 8)
    layers[:, :, 3] = layers[:, :, 3].round()  # hard-edged coverage, as pixel art has
    targets = premultiplied(layers)
    for likelihood in ("gaussian", "laplace"):
        exact = layer_nll(with_logits(layers), targets, likelihood, 0.1)
        assert exact.shape == (2,)
        assert (layer_nll(with_logits(layers.roll(1, dims=1)), targets, likelihood, 0.1) > exact + 100).all()
    recoloured = layers.clone()
    recoloured[:, :, :3] = torch.where(layers[:, :, 3:] == 0, 1 - layers[:, :, :3], layers[:, :, :3])
    assert torch.allclose(layer_nll(with_logits(recoloured), targets, "gaussian", 0.1),
                          layer_nll(with_logits(layers), targets, "gaussian", 0.1))  # fmt: skip
    empty = torch.zeros(1, 1, 4, 8, 8)
    empty[:, :, 3] = -100  # a saturated alpha: the coverage term still pulls it towards the target
    empty.requires_grad_(True)
    layer_nll(empty, premultiplied(layers[:1, :1]), "gaussian", 0.1).sum().backward()
    assert torch.allclose(empty.grad[:, :, 3][layers[:1, :1, 3] == 1], torch.tensor(-1.0))


def test_a_layer_weight_fits_the_layers_to_the_data_s():
    model = build(layer_latent=False, layer_weight=1.0).train()
    labels = torch.tensor([[0, 1, 0, 2], [1, 0, -1, 0]])
    torch.manual_seed(1)
    truth = torch.rand(2, 2, 4, 16, 16).round()  # two steps of hard-edged RGBA layers
    targets = premultiplied(truth)
    with torch.no_grad():
        images = model.decoder.composite(truth).sigmoid() * 2 - 1
    losses = model.training_losses((images, labels, targets))
    assert set(losses) == {"loss", "recon", "kl", "layers"}
    assert torch.allclose(losses["loss"], losses["recon"] + losses["layers"])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = losses["layers"].item()
    for _ in range(40):
        opt.zero_grad()
        model.training_losses((images, labels, targets))["loss"].backward()
        opt.step()
    assert model.training_losses((images, labels, targets))["layers"].item() < 0.7 * first


def test_a_layer_weight_needs_layered_drawing_and_the_layers_in_the_batch():
    with pytest.raises(ConfigError, match="decoder=layered"):
        build(decoder="conv", layer_weight=1.0)
    model = build(layer_latent=False, layer_weight=1.0)
    with pytest.raises(ConfigError, match="layer_targets=true"):
        model.training_losses((torch.zeros(1, 3, 16, 16), torch.tensor([[0, 1, 0, 2]])))
    gan = build(CharacterCGAN).train()  # the GAN takes batches with layers too, and leaves them out
    batch = (torch.zeros(2, 3, 16, 16), torch.tensor([[0, 1, 0, 2], [1, 0, -1, 0]]), torch.zeros(2, 2, 4, 16, 16))
    assert set(gan.training_losses(batch, "discriminator")) >= {"loss"}
