"""Restoration end to end: train tiny models through the engine, evaluate with the SR/denoising
protocol, and restore photos from the CLI; user mistakes get clear errors."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

import genlab
from genlab.core.errors import BadInputError
from tests.cli_helpers import cli_ok
from tests.image.restoration.test_foundation import photo

TINY_DNCNN = ["model.depth=3", "model.width=8", "data.patches_per_epoch=64", "data.val_patches=4"]


def save_photo(path, c=3, h=48, w=64, seed=0):
    array = (photo(c, h, w, seed).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    Image.fromarray(array[..., 0] if c == 1 else array).save(path)
    return path


@pytest.fixture(scope="module")
def denoiser(tmp_path_factory, photos):
    runs = tmp_path_factory.mktemp("runs")
    return genlab.train(
        "denoising", model="dncnn", data=str(photos), name="dn", runs_dir=runs, max_steps=6, batch_size=8,
        sample_every=0, progress=False, overrides=[*TINY_DNCNN, "data.patch_size=16", "data.val_fraction=0.4"],
    )  # fmt: skip


def cli(args, capsys):
    return cli_ok([str(a) for a in args], capsys)


@pytest.mark.slow
def test_denoiser_trains_records_its_noise_and_previews(denoiser):
    run = denoiser.run.path
    model = genlab.load(run).model
    assert model.config.sigma == 25 and model.config.color == "gray" and model.config.channels == 1
    data = json.loads((run / "model" / "config.json").read_text())["data"]
    assert data["n_val"] == 2 and len(data["val_images"]) == 2 and data["extra"] == {"sigma": 25.0, "sigma_max": None}
    preview = Image.open(run / "samples" / "final.png")
    assert preview.size[0] > preview.size[1] / 2  # rows of input | restored | clean


@pytest.mark.slow
def test_denoiser_evaluates_on_its_held_out_photos_with_the_noisy_input_baseline(denoiser, photos):
    result = genlab.evaluate(denoiser.run.path)
    assert set(result["metrics"]) == {"psnr", "ssim"} and set(result["baselines"]) == {"noisy_input"}
    noisy = result["baselines"]["noisy_input"]["psnr"]
    assert 19 < noisy < 23  # σ = 25 on the 0–255 scale: 20.2 dB before 8-bit clipping
    p = result["protocol"]
    assert p["n_reference"] == 2 and p["sigma"] == 25 and p["crop_border"] == 0 and p["y_channel"] is False
    again = genlab.evaluate(denoiser.run.path, ref=str(photos), sigma=50, n=3)
    assert again["protocol"]["n_reference"] == 3 and again["baselines"]["noisy_input"]["psnr"] < noisy - 4


@pytest.mark.slow
def test_denoise_command_restores_a_photo_at_full_size(denoiser, tmp_path, capsys):
    src = save_photo(tmp_path / "in.png", h=70, w=90)
    out = tmp_path / "out.png"
    code, text = cli(["denoise", denoiser.run.path, src, "--add-noise", 25, "--out", out, "--tile", 32], capsys)
    assert code == 0 and Image.open(out).size == (90, 70) and Image.open(out).mode == "RGB", text
    code, text = cli(["denoise", denoiser.run.path, tmp_path / "missing.png", "--out", out], capsys)
    assert code == 2 and "not found" in text
    (tmp_path / "notes.txt").write_text("hello")
    code, text = cli(["denoise", denoiser.run.path, tmp_path / "notes.txt", "--out", out], capsys)
    assert code == 2 and "cannot read" in text and "hint:" in text
    code, text = cli(["denoise", denoiser.run.path, src, "--out", tmp_path / "x.gif"], capsys)
    assert code == 2 and "cannot save" in text


def test_pipeline_tiles_give_the_untiled_photo(denoiser):
    pipe = genlab.load(denoiser.run.path)
    x = photo(3, 50, 70)
    whole = pipe(x, tile=4096).image
    tiled = pipe(x, tile=16).image
    assert whole.shape == (3, 50, 70) and torch.allclose(whole, tiled, atol=1e-5)


def test_pipeline_refuses_a_tensor_that_is_not_an_image(denoiser):
    with pytest.raises(BadInputError, match="1 or 3 channels"):
        genlab.load(denoiser.run.path)(torch.rand(4, 10, 10))


@pytest.fixture(scope="module")
def upscaler(tmp_path_factory, photos):
    runs = tmp_path_factory.mktemp("runs")
    return genlab.train(
        "super-resolution", model="espcn", data=str(photos), name="sr", runs_dir=runs, max_steps=4, batch_size=4,
        sample_every=0, progress=False,
        overrides=["data.scale=2", "data.patch_size=16", "data.patches_per_epoch=16", "data.val_patches=2",
                   "data.val_fraction=0.4", "model.width1=8", "model.width2=4"],
    )  # fmt: skip


@pytest.mark.slow
def test_sr_model_learns_the_data_scale_and_luma(upscaler):
    model = genlab.load(upscaler.run.path).model
    assert model.output_scale == 2 and model.config.color == "y" and model.config.channels == 1


@pytest.mark.slow
def test_sr_evaluation_follows_the_papers_protocol_with_a_bicubic_baseline(upscaler, photos):
    result = genlab.evaluate(upscaler.run.path, ref=str(photos))
    p = result["protocol"]
    assert p["y_channel"] is True and p["crop_border"] == 2 and p["scale"] == 2 and p["n_reference"] == 5
    assert set(result["baselines"]) == {"bicubic"} and result["baselines"]["bicubic"]["psnr"] > 20


def test_bicubic_sr_scores_exactly_its_own_baseline(tmp_path, photos):
    res = genlab.train(
        "super-resolution", model="bicubic-sr", data=str(photos), name="bicubic", runs_dir=tmp_path, progress=False,
        max_steps=1, overrides=["data.scale=2", "data.patch_size=16", "data.val_fraction=0.4"],
    )  # fmt: skip
    result = genlab.evaluate(res.run.path)
    assert result["metrics"] == result["baselines"]["bicubic"]


@pytest.mark.slow
def test_upscale_command_positional_and_model_forms(upscaler, tmp_path, capsys):
    src = save_photo(tmp_path / "in.jpg", h=30, w=40)
    out = tmp_path / "big.png"
    code, text = cli(["upscale", src, out, "--model", upscaler.run.path, "--scale", 2], capsys)
    assert code == 0 and Image.open(out).size == (80, 60) and Image.open(out).mode == "RGB", text
    code, text = cli(["upscale", upscaler.run.path, src, tmp_path / "b2.png", "--tile", 16], capsys)
    assert code == 0 and np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(tmp_path / "b2.png")))
    code, text = cli(["upscale", src, out, "--model", upscaler.run.path, "--scale", 3], capsys)
    assert code == 2 and "upscales ×2, not ×3" in text and "--scale 3" in text
    code, text = cli(["upscale", "--model", upscaler.run.path], capsys)
    assert code == 2 and "missing IMAGE" in text
