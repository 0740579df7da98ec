"""Translation end to end: train a tiny CycleGAN on the built-in stroke domains through the engine, score it
against the true translation, and translate images from the CLI; user mistakes get clear errors."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

import genlab
from genlab.core.errors import BadInputError
from genlab.image.translation.evaluation import psnr_values
from genlab.image.translation.strokes import THICK, THIN, digit_parts, morph
from tests.cli_helpers import cli_ok

TINY = ["model.width=4", "model.num_blocks=1", "model.d_width=4", "data.max_images=40"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    result = genlab.train(
        "translation", name="strokes", runs_dir=runs, max_steps=3, batch_size=4, sample_every=0, progress=False,
        overrides=TINY,
    )  # fmt: skip
    assert result.status == "completed"
    return result.run.path


def test_training_records_both_domains_and_previews_rows_of_four(run):
    model = genlab.load(run).model
    assert (model.config.domain_a, model.config.domain_b) == (THIN, THICK)
    assert model.config.image_size == 28 and model.config.channels == 1
    data = json.loads((run / "model" / "config.json").read_text())["data"]
    assert data["source_a"] == THIN and data["n_train_a"] == data["n_train_b"] == 38 and data["n_val_a"] == 2
    preview = Image.open(run / "samples" / "final.png")
    assert preview.size[0] > 1.5 * preview.size[1]  # two held-out rows of A | G_AB(A) | B | G_BA(B)


def test_evaluation_scores_both_directions_against_the_truth_with_baselines(run):
    result = genlab.evaluate(run, n=20)
    keys = {"psnr_truth", "psnr_truth_b2a", "label_kept", "label_kept_b2a"}
    assert set(result["metrics"]) == keys and set(result["baselines"]) == {"identity", "morphology"}
    identity = result["baselines"]["identity"]
    assert set(identity) == keys
    images, labels = digit_parts()["test"]
    thin, thick = (torch.from_numpy(morph(images[:20], k)).permute(0, 3, 1, 2).float() / 127.5 - 1 for k in (-1, 1))
    assert identity["psnr_truth"] == pytest.approx(float(psnr_values(thin, thick).mean()), abs=1e-3)
    assert identity["psnr_truth_b2a"] == pytest.approx(identity["psnr_truth"], abs=1e-3)  # the same pairs
    assert result["baselines"]["morphology"]["psnr_truth"] > identity["psnr_truth"]
    assert all(0 <= result["metrics"][k] <= 1 for k in ("label_kept", "label_kept_b2a"))
    p = result["protocol"]
    assert p["n_reference"] == 20 and p["label_classifier"] == "mnist-lenet" and p["domain_a"] == THIN
    assert set(p["label_kept_of_truth"]) == {"a2b", "b2a"} and "erosion" in p["domains_made_by"]
    assert json.loads((run / "eval.json").read_text())["metrics"] == result["metrics"]


def test_evaluation_on_other_labelled_digits_makes_them_thin_and_thick_at_their_native_size(run):
    result = genlab.evaluate(run, ref="builtin:digits", n=12, save=False)
    p = result["protocol"]
    assert p["reference"] == "builtin:digits" and p["n_reference"] == 12 and "native 32 px" in p["domains_made_by"]
    assert set(result["metrics"]) == {"psnr_truth", "psnr_truth_b2a", "label_kept", "label_kept_b2a"}


def test_models_of_other_domains_have_no_truth_to_score_against(tmp_path):
    from genlab.core.registry import MODELS

    cls = MODELS.get("image/cyclegan")
    config = {"width": 4, "num_blocks": 1, "d_width": 4, "domain_a": "photos/summer", "domain_b": "photos/winter"}
    cls(cls.config_class.build(config)).save_pretrained(tmp_path)
    with pytest.raises(BadInputError, match="known true translation"):
        genlab.evaluate(tmp_path)


def save_digit(path, h=28, w=28, mode="L"):
    images, _ = digit_parts()["test"]
    array = morph(images[:1], -1)[0, ..., 0]
    Image.fromarray(array).convert(mode).resize((w, h), Image.BICUBIC).save(path)
    return path


def test_translate_command_positional_and_model_forms(run, tmp_path, capsys):
    src, out = save_digit(tmp_path / "thin.png"), tmp_path / "thick.png"
    code, text = cli_ok(["translate", str(run), str(src), str(out)], capsys)
    assert code == 0 and Image.open(out).size == (28, 28) and Image.open(out).mode == "L", text
    assert "note" not in text
    again = tmp_path / "again.png"
    code, text = cli_ok(["translate", str(src), str(again), "--model", str(run), "--direction", "a2b"], capsys)
    assert code == 0 and np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(again))), text
    back = tmp_path / "back.png"
    code, text = cli_ok(["translate", str(run), str(src), "--out", str(back), "--direction", "b2a"], capsys)
    assert code == 0 and not np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(back))), text


def test_translate_resizes_other_sizes_and_colour_with_a_note(run, tmp_path, capsys):
    src, out = save_digit(tmp_path / "big.jpg", h=60, w=80, mode="RGB"), tmp_path / "o.png"
    code, text = cli_ok(["translate", str(run), str(src), str(out)], capsys)
    assert code == 0 and Image.open(out).size == (28, 28) and "note" in text and "80×60" in text, text
    pipe = genlab.load(run)
    photo = pipe(torch.rand(3, 40, 30), direction="b2a")
    assert photo.image.shape == (1, 28, 28) and photo.info["resized"] and photo.info["to"] == THIN


def test_translate_mistakes_get_an_error_and_a_hint(run, tmp_path, capsys):
    src, out = save_digit(tmp_path / "in.png"), tmp_path / "out.png"
    code, text = cli_ok(["translate", str(run), str(tmp_path / "missing.png"), str(out)], capsys)
    assert code == 2 and "not found" in text and "hint:" in text, text
    (tmp_path / "notes.txt").write_text("hello")
    code, text = cli_ok(["translate", str(run), str(tmp_path / "notes.txt"), str(out)], capsys)
    assert code == 2 and "unsupported image format '.txt'" in text and ".png" in text, text
    (tmp_path / "broken.png").write_bytes(b"not a png")
    code, text = cli_ok(["translate", str(run), str(tmp_path / "broken.png"), str(out)], capsys)
    assert code == 2 and "cannot read" in text and "hint:" in text, text
    code, text = cli_ok(["translate", str(run), str(src), str(out), "--direction", "sideways"], capsys)
    assert code == 2 and "sideways" in text and "a2b" in text and "internal error" not in text, text
    code, text = cli_ok(["translate", "--model", str(run)], capsys)
    assert code == 2 and "missing IMAGE" in text, text
    with pytest.raises(BadInputError, match="unknown direction") as err:
        genlab.load(run)(str(src), direction="up")
    assert THIN in err.value.hint and not out.exists()


def test_eval_command_prints_the_truth_metrics(run, capsys):
    code, text = cli_ok(["eval", str(run), "--n", "10"], capsys)
    assert code == 0 and "psnr_truth" in text and "identity" in text and "morphology" in text, text
