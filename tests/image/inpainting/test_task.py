"""Inpainting end to end: train a tiny gated U-Net through the engine on a folder of photos, evaluate it
on seeded holes against biharmonic inpainting, and fill a photo from the CLI; mistakes get clear errors."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

import genlab
from genlab.core.errors import BadInputError
from genlab.image.inpainting.evaluation import biharmonic_fill, psnr_hole
from genlab.image.inpainting.task import mask_degradation
from tests.cli_helpers import cli_ok
from tests.image.restoration.test_foundation import photo
from tests.image.restoration.test_tasks import save_photo

TINY = ["model.width=4", "model.levels=2", "data.patch_size=16", "data.patches_per_epoch=16", "data.val_patches=2"]


@pytest.fixture(scope="module")
def inpainter(tmp_path_factory, photos):
    runs = tmp_path_factory.mktemp("runs")
    return genlab.train(
        "inpainting", model="unet-inpaint", data=str(photos), name="inp", runs_dir=runs, max_steps=4, batch_size=4,
        sample_every=0, progress=False, overrides=[*TINY, "data.val_fraction=0.4", "data.mask=box"],
    )  # fmt: skip


def test_degradation_masks_the_clean_patch():
    clean = photo(3, 16, 16)
    (masked, mask), target = mask_degradation("stroke")(clean, torch.Generator().manual_seed(0))
    assert mask.shape == (1, 16, 16) and set(mask.unique().tolist()) <= {0.0, 1.0} and mask.any()
    assert torch.equal(target, clean) and torch.equal(masked, clean * (1 - mask))


def test_training_records_the_masks_and_previews(inpainter):
    run = inpainter.run.path
    model = genlab.load(run).model
    assert model.registry_name == "image/unet-inpaint" and model.config.channels == 3 and model.config.color == "rgb"
    data = json.loads((run / "model" / "config.json").read_text())["data"]
    assert data["n_val"] == 2 and len(data["val_images"]) == 2 and data["extra"] == {"mask": "box"}
    preview = Image.open(run / "samples" / "final.png")
    assert preview.size[0] > preview.size[1] / 2  # rows of masked | filled | clean


def test_evaluation_on_held_out_photos_with_the_biharmonic_baseline(inpainter, photos):
    result = genlab.evaluate(inpainter.run.path)
    assert set(result["metrics"]) == {"psnr_hole", "ssim_whole"} and set(result["baselines"]) == {"biharmonic"}
    baseline = result["baselines"]["biharmonic"]
    assert baseline["psnr_hole"] > 20 and 0.5 < baseline["ssim_whole"] <= 1  # smooth synthetic photos fill well
    p = result["protocol"]
    assert (
        p["n_reference"] == 2 and p["mask_kind"] == "mixed" and p["mask_seed"] == 0 and 0 < p["mean_hole_fraction"] < 1
    )
    again = genlab.evaluate(inpainter.run.path, ref=str(photos), n=3, mask_kind="stroke", seed=1, save=False)
    assert again["protocol"]["n_reference"] == 3 and again["protocol"]["mask_kind"] == "stroke"
    same = genlab.evaluate(inpainter.run.path, ref=str(photos), n=3, mask_kind="stroke", seed=1, save=False)
    assert same["metrics"] == again["metrics"] and same["baselines"] == again["baselines"]  # seeded masks


def test_eval_command_takes_the_mask_kind(inpainter, photos, capsys):
    code, text = cli_ok(
        ["eval", str(inpainter.run.path), "--ref", str(photos), "--n", "1", "--mask-kind", "box"], capsys
    )
    assert code == 0 and "psnr_hole" in text and "biharmonic" in text, text
    code, text = cli_ok(["eval", str(inpainter.run.path), "--mask-kind", "blob"], capsys)
    assert code == 2 and "blob" in text and "internal error" not in text, text


def test_psnr_hole_scores_only_the_hole():
    clean = photo(3, 16, 16)
    mask = torch.zeros(1, 16, 16)
    mask[:, 4:8, 4:8] = 1
    out = clean.clone()
    out[:, 4:8, 4:8] += 0.1  # an error of 0.1 on every hole pixel: 20 dB
    assert psnr_hole(out, clean, mask) == pytest.approx(20.0, abs=1e-4)
    assert psnr_hole(clean, clean, mask) == 100.0
    with pytest.raises(BadInputError, match="no missing pixel"):
        psnr_hole(out, clean, torch.zeros(1, 16, 16))


def test_biharmonic_fill_keeps_the_known_pixels_and_fills_smoothly():
    clean = photo(3, 24, 24)
    mask = torch.zeros(1, 24, 24)
    mask[:, 8:14, 8:14] = 1
    filled = biharmonic_fill(clean * (1 - mask), mask)
    known = (mask == 0).expand_as(clean)
    assert torch.allclose(filled[known], clean[known], atol=1e-6)
    assert (filled - clean)[~known].abs().mean() < 0.1  # far better than the zeros it replaced
    assert (clean * (1 - mask) - clean)[~known].abs().mean() > 0.3


def save_mask(path, h, w, box=(5, 10, 8, 20)):
    array = np.zeros((h, w), dtype=np.uint8)
    top, bottom, left, right = box
    array[top:bottom, left:right] = 255
    Image.fromarray(array).save(path)
    return path


def test_inpaint_image_command_fills_only_the_white_part(inpainter, tmp_path, capsys):
    src, mask = save_photo(tmp_path / "in.png", h=30, w=40), save_mask(tmp_path / "mask.png", 30, 40)
    out = tmp_path / "filled.png"
    code, text = cli_ok(["inpaint-image", str(src), str(mask), str(out), "--model", str(inpainter.run.path)], capsys)
    assert code == 0 and Image.open(out).size == (40, 30) and Image.open(out).mode == "RGB", text
    before, after = np.asarray(Image.open(src)), np.asarray(Image.open(out))
    hole = np.asarray(Image.open(mask)) > 127
    assert np.array_equal(after[~hole], before[~hole]) and not np.array_equal(after[hole], before[hole])
    run_first = tmp_path / "again.png"
    args = ["inpaint-image", str(inpainter.run.path), str(src), str(mask), str(run_first), "--tile", "16"]
    code, text = cli_ok(args, capsys)
    assert code == 0 and np.array_equal(np.asarray(Image.open(run_first)), after), text  # tiled = untiled


def test_inpaint_image_command_errors(inpainter, tmp_path, capsys):
    run = str(inpainter.run.path)
    src, mask = save_photo(tmp_path / "in.png", h=30, w=40), save_mask(tmp_path / "mask.png", 30, 40)
    small = save_mask(tmp_path / "small.png", 20, 25)
    out = str(tmp_path / "out.png")
    code, text = cli_ok(["inpaint-image", str(src), str(small), out, "--model", run], capsys)
    assert code == 2 and "mask is 25×20 but the image is 40×30" in text and "resize the mask" in text, text
    code, text = cli_ok(["inpaint-image", str(tmp_path / "missing.png"), str(mask), out, "--model", run], capsys)
    assert code == 2 and "not found" in text, text
    code, text = cli_ok(["inpaint-image", str(src), str(tmp_path / "nomask.png"), out, "--model", run], capsys)
    assert code == 2 and "mask" in text and "not found" in text, text
    (tmp_path / "notes.txt").write_text("hello")
    code, text = cli_ok(["inpaint-image", str(tmp_path / "notes.txt"), str(mask), out, "--model", run], capsys)
    assert code == 2 and "cannot read" in text and "hint:" in text, text
    code, text = cli_ok(["inpaint-image", str(src), str(mask), str(tmp_path / "x.gif"), "--model", run], capsys)
    assert code == 2 and "cannot save" in text, text
    code, text = cli_ok(["inpaint-image", str(src), "--model", run], capsys)
    assert code == 2 and "missing MASK" in text, text
    code, text = cli_ok(["inpaint-image", "--model", run], capsys)
    assert code == 2 and "missing IMAGE" in text, text


def test_pipeline_in_python_with_tensors_and_gray_photos(inpainter):
    pipe = genlab.load(inpainter.run.path)
    x = photo(1, 20, 28)  # a gray photo through an RGB model stays gray
    mask = torch.zeros(20, 28)
    mask[5:12, 6:20] = 1
    out = pipe(x, mask)
    assert out.image.shape == (1, 20, 28) and out.info["filled_fraction"] == pytest.approx(98 / 560, abs=1e-4)
    assert torch.equal(out.image[:, mask == 0], x[:, mask == 0])
    with pytest.raises(BadInputError, match="mask tensor"):
        pipe(x, torch.zeros(2, 3, 20, 28))
    with pytest.raises(BadInputError, match="1 or 3 channels"):
        pipe(torch.rand(4, 20, 28), mask)
