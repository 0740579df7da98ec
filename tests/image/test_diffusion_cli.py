"""Diffusion end to end: train a tiny model with the engine, then sample, inpaint and img2img from the CLI."""

import pytest
import torch
import yaml
from PIL import Image

import genlab
from genlab.image.diffusion import Image2ImagePipeline, ImageInpaintingPipeline
from tests.cli_helpers import cli_ok

TINY_UNET = ["model.base_channels=8", "model.channel_mult=[1,2]", "model.attention_levels=[1]"]
TINY_DATA = ["data.image_size=8", "data.max_images=128"]


def tiny_train(runs_dir, name, model, *extra):
    return genlab.train(
        "image-generation", model=model, data="builtin:digits", name=name, runs_dir=runs_dir, max_steps=4,
        batch_size=16, sample_every=0, progress=False, overrides=[*TINY_DATA, *TINY_UNET, *extra],
    )  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    ddpm = tiny_train(root, "ddpm", "ddpm", "model.conditional=true", "model.sample_steps=3")
    flow = tiny_train(root, "flow", "flow", "model.sample_steps=2")
    return {"ddpm": ddpm.run.path, "flow": flow.run.path, "root": root}


def cli(args, capsys):
    return cli_ok([str(a) for a in args], capsys)


@pytest.mark.slow
def test_training_keeps_an_ema_by_default_and_exports_it(runs):
    cfg = yaml.safe_load((runs["ddpm"] / "config.yaml").read_text())
    assert cfg["train"]["ema_decay"] == 0.995 and cfg["model"]["conditional"] is True
    state = torch.load(runs["ddpm"] / "checkpoints" / "last.ckpt", weights_only=True)
    shadow = next(v for k, v in state["callbacks"].items() if k.startswith("EMA"))["shadow"]
    exported = genlab.load(runs["ddpm"]).model.state_dict()
    key = "unet.conv_in.weight"
    assert torch.allclose(exported[key], shadow[key])
    assert not torch.allclose(exported[key], state["state_dict"][f"model.{key}"])
    assert (runs["ddpm"] / "samples" / "final.png").is_file()


@pytest.mark.slow
def test_sample_with_sampler_options(runs, tmp_path, capsys):
    out = tmp_path / "s.png"
    args = ["sample", runs["ddpm"], "--n", 4, "--label", 3, "--seed", 0, "--out", out]
    code, text = cli([*args, "--sampler", "dpm++2m", "--steps", 4, "--guidance", 2.0], capsys)
    assert code == 0 and out.is_file(), text
    code, text = cli([*args, "--sampler", "heun"], capsys)
    assert code == 2 and "does not work with diffusion" in text and "hint:" in text
    code, text = cli([*args, "--precision", "bf16", "--steps", 2], capsys)
    assert code == 0 and out.is_file(), text
    code, text = cli([*args, "--precision", "fp16"], capsys)
    assert code == 2 and "'fp16' is not one of '32', 'bf16'" in text
    code, text = cli(["sample", runs["flow"], "--n", 2, "--eta", 0.5, "--out", out], capsys)
    assert code == 2 and "no η" in text
    code, text = cli(["sample", runs["flow"], "--n", 2, "--guidance", 3, "--out", out], capsys)
    assert code == 2 and "unconditional" in text


@pytest.mark.slow
def test_sampling_options_are_refused_by_other_models(runs, capsys, tmp_path):
    vae = genlab.train(
        "image-generation", model="vae", data="builtin:digits", name="vae", runs_dir=runs["root"], max_steps=2,
        sample_every=0, progress=False, overrides=[*TINY_DATA, "model.latent_dim=2", "model.hidden_dims=[8]"],
    )  # fmt: skip
    code, text = cli(["sample", vae.run.path, "--steps", 10, "--out", tmp_path / "v.png"], capsys)
    assert code == 2 and "takes no sampling options" in text
    code, text = cli(["sample", vae.run.path, "--n", 2, "--out", tmp_path / "v.png"], capsys)
    assert code == 0, text  # without the options VAE sampling is unchanged
    code, text = cli(["inpaint", vae.run.path, "--image", tmp_path / "v.png", "--mask", "left"], capsys)
    assert code == 2 and "cannot edit images" in text


@pytest.mark.slow
def test_inpaint_and_img2img_commands(runs, tmp_path, capsys):
    digit = tmp_path / "digit.png"
    Image.new("L", (8, 8), 0).save(digit)
    mask = tmp_path / "mask.png"
    Image.fromarray((torch.arange(64).reshape(8, 8) % 8 >= 4).numpy().astype("uint8") * 255).save(mask)
    for mask_arg in ("bottom", mask):
        out = tmp_path / "filled.png"
        args = ["inpaint", runs["ddpm"], "--image", digit, "--mask", mask_arg, "--n", 3, "--steps", 4]
        code, text = cli([*args, "--label", 1, "--jump-length", 2, "--resamples", 2, "--seed", 0, "--out", out], capsys)
        # masked input + 3 fills: 4 tiles of 8 px with 2 px padding, upscaled ×2
        assert code == 0 and Image.open(out).size == (2 * (4 * 10 + 2), 2 * 12), text
    out = tmp_path / "edited.png"
    code, text = cli(["img2img", runs["flow"], "--image", digit, "--strength", 0.5, "--n", 2, "--out", out], capsys)
    assert code == 0 and out.is_file(), text
    code, text = cli(["img2img", runs["flow"], "--image", digit, "--precision", "bf16", "--out", out], capsys)
    assert code == 0 and out.is_file(), text
    code, text = cli(["img2img", runs["flow"], "--image", tmp_path / "missing.png", "--out", out], capsys)
    assert code == 2 and "not found" in text


@pytest.mark.slow
def test_editing_pipelines_from_python(runs):
    inpaint = ImageInpaintingPipeline.from_pretrained(runs["ddpm"])
    image = torch.rand(1, 1, 8, 8) * 2 - 1
    filled = inpaint(image, mask="right", n=2, label=[0, 1], seed=0, steps=3, output_type="pt")
    assert filled.shape == (2, 1, 8, 8) and torch.equal(filled[..., :4], image.expand(2, -1, -1, -1)[..., :4])
    pil = Image2ImagePipeline.from_pretrained(runs["flow"])(image, strength=0.3, seed=0)
    assert len(pil) == 1 and pil[0].size == (8, 8)
