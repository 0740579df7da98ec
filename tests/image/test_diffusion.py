"""DDPM and rectified-flow models: the shared model behaviour, guidance and editing."""

import pytest
import torch

from genlab.core.errors import BadInputError, ConfigError
from genlab.core.registry import MODELS
from genlab.image.diffusion import DDPM, RectifiedFlow
from genlab.image.diffusion.editing import half_mask, img2img, inpaint, repaint_moves
from tests.image.model_mixin import ImageModelTesterMixin

TINY = {
    "image_size": 16,
    "num_classes": 3,
    "base_channels": 8,
    "channel_mult": [1, 2],
    "attention_levels": [1],
    "attention_head_dim": 4,
    "sample_steps": 3,
}
KEYS = {"loss", "mse"}


class TestDDPM(ImageModelTesterMixin):
    model_name = "image/ddpm"
    config = TINY
    image_sizes = (28, 64)
    validation_keys = KEYS


class TestConditionalDDPMWithVPredictionCosineMinSNR(ImageModelTesterMixin):
    model_name = "image/ddpm"
    config = {
        **TINY,
        "conditional": True,
        "prediction_type": "v_prediction",
        "beta_schedule": "cosine",
        "min_snr_gamma": 5.0,
        "sampler": "dpm++2m",
    }
    image_sizes = (32,)
    validation_keys = KEYS


class TestRectifiedFlow(ImageModelTesterMixin):
    model_name = "image/flow"
    config = {**TINY, "sampler": "euler"}
    image_sizes = (28,)
    validation_keys = KEYS


class TestConditionalRectifiedFlow(ImageModelTesterMixin):
    model_name = "image/flow"
    config = {**TINY, "conditional": True}
    image_sizes = (28,)
    validation_keys = KEYS


def build(name: str = "image/ddpm", **values):
    cls = MODELS.get(name)
    torch.manual_seed(0)
    return cls(cls.config_class.build({**TINY, **values})).eval()


def randomise_output(model):
    """Give an untrained UNet a non-zero output layer (it starts at zero) so predictions depend on inputs."""
    torch.manual_seed(1)
    for name, p in model.unet.named_parameters():
        if "conv_out" in name or "conv2" in name or "proj" in name:
            torch.nn.init.normal_(p, std=0.05)
    return model


# --------------------------------------------------------------------------- models


def test_every_sampler_runs_from_generate_and_is_deterministic():
    for name, samplers in (("image/ddpm", ["ddpm", "ddim", "dpm++2m"]), ("image/flow", ["euler", "heun"])):
        model = randomise_output(build(name))
        for sampler in samplers:
            g = [torch.Generator().manual_seed(3) for _ in range(2)]
            a = model.generate(2, generator=g[0], sampler=sampler, steps=4)
            assert torch.equal(a, model.generate(2, generator=g[1], sampler=sampler, steps=4)), sampler
            assert a.abs().max() <= 1


def test_evaluation_generate_passes_sampling_options_and_cycles_labels():
    from genlab.core.seeding import make_generator
    from genlab.image.evaluation import generate

    model = randomise_output(build("image/ddpm", conditional=True))
    got = generate(model, 5, seed=4, batch_size=3, sampler="dpm++2m", steps=2, guidance_scale=3.0)
    g = make_generator(4)
    options = {"sampler": "dpm++2m", "steps": 2, "guidance_scale": 3.0}
    want = torch.cat([model.generate(3, torch.tensor([0, 1, 2]), g, **options),
                      model.generate(2, torch.tensor([0, 1]), g, **options)])  # fmt: skip
    assert torch.equal(got, want)
    assert not torch.equal(got, generate(model, 5, seed=4, batch_size=3, sampler="ddim", steps=2))


def test_classifier_free_guidance_combines_conditional_and_null_outputs():
    model = randomise_output(build(conditional=True))
    x, labels = torch.randn(2, 1, 16, 16), torch.tensor([0, 2])
    t = torch.full((2,), 300.0)
    cond, uncond = model.unet(x, t, labels), model.unet(x, t, torch.tensor([3, 3]))
    for scale in (0.0, 1.0, 3.0):
        expected = uncond + scale * (cond - uncond)
        assert torch.allclose(model.guided_output(x, 300, labels, scale), expected, atol=1e-5), scale


def test_label_dropout_uses_the_null_label_in_training_only():
    model = build(conditional=True, cond_drop_prob=0.5)
    labels = torch.zeros(1000, dtype=torch.long)
    dropped = model.training_labels(labels, drop=True)
    assert set(dropped.tolist()) == {0, 3} and 0.4 < (dropped == 3).float().mean() < 0.6
    assert torch.equal(model.training_labels(labels, drop=False), labels)
    assert build().training_labels(labels, drop=True) is None


def test_option_errors_name_the_fix():
    with pytest.raises(BadInputError, match="conditional") as err:
        build().generate(2, guidance_scale=2.0)
    assert "model.conditional=true" in err.value.hint
    with pytest.raises(BadInputError, match="does not work with flow"):
        build("image/flow").generate(2, sampler="ddim")
    with pytest.raises(BadInputError, match="at least 1"):
        build().generate(1, steps=0)
    with pytest.raises(ConfigError, match="labelled data"):
        build(conditional=True, num_classes=0)
    assert MODELS.get("image/ddpm") is DDPM and MODELS.get("image/flow") is RectifiedFlow
    assert DDPM.default_ema_decay and not DDPM.conditional  # per-instance: the config decides


def test_min_snr_changes_the_loss_but_not_the_mse():
    images = torch.rand(8, 1, 16, 16) * 2 - 1
    out = []
    for gamma in (None, 1.0):
        model = randomise_output(build(min_snr_gamma=gamma))
        torch.manual_seed(0)
        out.append(model.training_losses((images, torch.zeros(8, dtype=torch.long)), "denoiser"))
    assert torch.equal(out[0]["mse"], out[1]["mse"]) and out[1]["loss"] < out[0]["loss"]


# --------------------------------------------------------------------------- editing


def test_repaint_walk():
    assert repaint_moves(3, 1, 1) == [(0, 1), (1, 2), (2, 3)]
    moves = repaint_moves(4, 2, 3)
    assert moves[:4] == [(0, 1), (1, 2), (2, 0), (0, 1)]
    assert moves[-1] == (3, 4) and sum(1 for a, b in moves if b < a) == 2  # jumps only at index 2 (4 is the end)
    with pytest.raises(BadInputError):
        repaint_moves(4, 0, 1)


@pytest.mark.parametrize("name", ["image/ddpm", "image/flow"])
def test_inpainting_keeps_known_pixels_and_fills_the_rest(name):
    model = randomise_output(build(name))
    images = torch.rand(2, 1, 16, 16) * 2 - 1
    mask = half_mask("bottom", 16)
    out = inpaint(model, images, mask, generator=torch.Generator().manual_seed(0), steps=6, jump_length=2, resamples=2)
    assert torch.equal(out[..., :8, :], images[..., :8, :])
    assert not torch.allclose(out[..., 8:, :], images[..., 8:, :])
    with pytest.raises(BadInputError, match="mask"):
        inpaint(model, images, torch.ones(1, 1, 8, 8))


@pytest.mark.parametrize("name", ["image/ddpm", "image/flow"])
def test_img2img_strength_controls_how_far_the_output_moves(name):
    model = randomise_output(build(name, sample_steps=10))
    images = torch.rand(4, 1, 16, 16) * 2 - 1
    dist = []
    for strength in (0.2, 1.0):
        out = img2img(model, images, strength, generator=torch.Generator().manual_seed(0))
        dist.append((out - images).abs().mean().item())
    assert dist[0] < dist[1]
    with pytest.raises(BadInputError, match="strength"):
        img2img(model, images, 0.0)


def test_half_masks():
    assert half_mask("left", 4)[0, 0, :, :2].eq(1).all() and half_mask("left", 4)[0, 0, :, 2:].eq(0).all()
    assert half_mask("center", 8).sum() == 16
    with pytest.raises(BadInputError, match="unknown mask"):
        half_mask("diagonal", 8)


# --------------------------------------------------------------------------- learning end to end


def two_pattern_batch(n: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Class 0: bright top half; class 1: bright bottom half (8×8, values ±1)."""
    labels = torch.arange(n) % 2
    images = -torch.ones(n, 1, 8, 8)
    images[labels == 0, :, :4] = 1.0
    images[labels == 1, :, 4:] = 1.0
    return images, labels


@pytest.mark.slow
@pytest.mark.parametrize(("name", "sampler", "steps"), [("image/ddpm", "ddim", 300), ("image/flow", "euler", 150)])
def test_a_trained_conditional_model_draws_the_pattern_of_its_label(name, sampler, steps):
    model = build(name, image_size=8, num_classes=2, conditional=True, cond_drop_prob=0.2, lr=3e-3)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=model.config.lr)
    images, labels = two_pattern_batch()
    torch.manual_seed(0)
    for _ in range(steps):
        opt.zero_grad()
        model.training_losses((images, labels), "denoiser")["loss"].backward()
        opt.step()
    model.eval()
    g = torch.Generator().manual_seed(0)
    out = model.generate(8, labels=torch.arange(8) % 2, generator=g, sampler=sampler, steps=10, guidance_scale=1.5)
    top, bottom = out[:, 0, :4].mean((1, 2)), out[:, 0, 4:].mean((1, 2))  # per-sample brightness of each half
    margin0 = (top[0::2] - bottom[0::2]).mean()  # label 0 should be bright on top
    margin1 = (bottom[1::2] - top[1::2]).mean()  # label 1 at the bottom
    assert margin0 > 0.5 and margin1 > 0.5, (top, bottom)
