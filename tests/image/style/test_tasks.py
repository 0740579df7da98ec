"""Style transfer end to end: a tiny fast-style network and a gatys run made through the engine, then
``genlab stylize`` in both forms; user mistakes get clear errors with hints."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

import genlab
from genlab.core.errors import ConfigError, DataError
from tests.cli_helpers import cli_ok
from tests.image.style.helpers import photo, save_image, stripes

TINY_DATA = ["data.patch_size=16", "data.patches_per_epoch=8", "data.val_patches=2", "data.val_fraction=0.4",
             "data.style_size=24"]  # fmt: skip


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("style")
    photos = root / "photos"
    photos.mkdir()
    for i in range(5):
        save_image(photo(32, 40, seed=i), photos / f"p{i}.png")
    return {
        "photos": photos,
        "style": save_image(stripes(24, 24), root / "style.png"),
        "other": save_image(stripes(24, 24, period=10).flip(0), root / "other.png"),
        "content": save_image(photo(30, 44, seed=9), root / "content.jpg"),
    }


@pytest.fixture(scope="module")
def fast_run(tmp_path_factory, files):
    return genlab.train(
        "style-transfer", model="fast-style", data=str(files["photos"]), name="fast",
        runs_dir=tmp_path_factory.mktemp("runs"), max_steps=2, batch_size=2, sample_every=0, progress=False, threads=1,
        data_options={"style": str(files["style"])}, overrides=[*TINY_DATA, "model.width=4", "model.num_residual=1"],
    ).run.path  # fmt: skip


@pytest.fixture(scope="module")
def gatys_run(tmp_path_factory, files):
    return genlab.train(
        "style-transfer", model="gatys", data=str(files["photos"]), name="gatys",
        runs_dir=tmp_path_factory.mktemp("runs"), progress=False, threads=1,
        data_options={"style": str(files["style"])}, overrides=[*TINY_DATA, "model.steps=3", "model.size=24"],
    ).run.path  # fmt: skip


def pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path))


def test_fast_style_run_records_its_style_and_features_and_previews(fast_run, files):
    meta = json.loads((fast_run / "model" / "config.json").read_text())
    cfg = meta["config"]
    assert cfg["features"] == "random" and cfg["vgg_weights"] is None  # no VGG-19 weights on a test machine
    assert cfg["style_image"] == str(files["style"]) and (cfg["style_height"], cfg["style_width"]) == (24, 24)
    assert meta["data"]["style_digest"] == cfg["style_digest"]
    preview = Image.open(fast_run / "samples" / "final.png")
    assert preview.size[0] <= preview.size[1]  # two columns (content | stylised), a row per held-out patch
    model = genlab.load(fast_run).model
    assert int(model.style_ready) == 1  # the style travels with the run


def test_stylize_with_a_fast_style_run_positional_forms(fast_run, files, tmp_path, capsys):
    content, style = files["content"], files["style"]
    out = tmp_path / "a.png"
    code, text = cli_ok(["stylize", str(content), str(style), str(out), "--model", str(fast_run)], capsys)
    assert code == 0 and Image.open(out).size == (44, 30) and Image.open(out).mode == "RGB", text
    code, text = cli_ok(["stylize", str(fast_run), str(content), "--out", str(tmp_path / "b.png")], capsys)
    assert code == 0 and np.array_equal(pixels(out), pixels(tmp_path / "b.png")), text  # the style is built in
    code, text = cli_ok(["stylize", str(content), "--model", str(fast_run), "--size", "22", "--out", str(out)], capsys)
    assert code == 0 and Image.open(out).size == (22, 15), text


def test_stylize_with_a_fast_style_run_refuses_what_it_cannot_do(fast_run, files, tmp_path, capsys):
    content, run = str(files["content"]), str(fast_run)
    out = str(tmp_path / "x.png")
    code, text = cli_ok(["stylize", content, str(files["other"]), out, "--model", run], capsys)
    assert code == 2 and "is another image" in text and "--method gatys" in text, text
    code, text = cli_ok(["stylize", content, str(tmp_path / "styled.png"), "--model", run], capsys)
    assert code == 2 and "not found" in text and "--out" in text, text  # OUT taken for STYLE
    code, text = cli_ok(["stylize", content, "--model", run, "--steps", "5", "--out", out], capsys)
    assert code == 2 and "--steps" in text and "gatys only" in text, text
    code, text = cli_ok(["stylize", str(tmp_path / "missing.jpg"), "--model", run, "--out", out], capsys)
    assert code == 2 and "not found" in text, text
    (tmp_path / "notes.txt").write_text("hello")
    code, text = cli_ok(["stylize", str(tmp_path / "notes.txt"), "--model", run, "--out", out], capsys)
    assert code == 2 and "cannot read" in text and "hint:" in text, text
    code, text = cli_ok(["stylize", content, "--model", run, "--out", str(tmp_path / "x.gif")], capsys)
    assert code == 2 and "cannot save" in text, text
    code, text = cli_ok(["stylize", "--model", run], capsys)
    assert code == 2 and "missing CONTENT" in text, text


def test_method_gatys_on_a_fast_style_run_optimises_with_its_features(fast_run, files):
    pipe = genlab.load(fast_run)
    out = pipe(str(files["content"]), method="gatys", steps=2, size=20)
    assert out.image.shape == (3, 14, 20) and out.info["method"] == "gatys"
    other = pipe(str(files["content"]), str(files["other"]), method="gatys", steps=2, size=20)
    assert not torch.equal(out.image, other.image)  # any style, by optimisation


def test_gatys_run_stylizes_with_its_stored_or_a_given_style(gatys_run, files, tmp_path, capsys):
    meta = json.loads((gatys_run / "model" / "config.json").read_text())
    assert meta["model"] == "image/gatys" and meta["config"]["steps"] == 3 and meta["steps"] == 0
    content, run = str(files["content"]), str(gatys_run)
    out = tmp_path / "g.png"
    code, text = cli_ok(["stylize", content, str(files["other"]), str(out), "--model", run, "--steps", "2"], capsys)
    assert code == 0 and Image.open(out).size == (24, 16), text  # the optimisation's size (longest side 24)
    code, text = cli_ok(["stylize", run, content, "--out", str(tmp_path / "own.png"), "--size", "16"], capsys)
    assert code == 0 and Image.open(tmp_path / "own.png").size == (16, 11), text
    code, text = cli_ok(["stylize", content, "--model", run, "--method", "fast", "--out", str(out)], capsys)
    assert code == 2 and "needs a fast-style run" in text and "hint:" in text, text


def test_gatys_run_without_a_style_needs_one_at_stylize_time(tmp_path, files, capsys):
    run = genlab.train(
        "style-transfer", model="gatys", data=str(files["photos"]), name="bare", runs_dir=tmp_path, progress=False,
        threads=1, overrides=[*TINY_DATA, "model.steps=2", "model.size=16"],
    ).run.path  # fmt: skip
    assert (run / "samples" / "final.txt").is_file()  # nothing to preview without a style
    code, text = cli_ok(
        ["stylize", str(files["content"]), "--model", str(run), "--out", str(tmp_path / "o.png")], capsys
    )
    assert code == 2 and "missing STYLE" in text, text
    style = str(files["style"])
    code, text = cli_ok(["stylize", str(files["content"]), style, str(tmp_path / "o.png"), "--model", str(run)], capsys)
    assert code == 0 and (tmp_path / "o.png").is_file(), text


def test_fast_style_needs_a_style_and_a_readable_one(tmp_path, files):
    with pytest.raises(ConfigError, match="learns one style"):
        genlab.train(
            "style-transfer", model="fast-style", data=str(files["photos"]), name="x", runs_dir=tmp_path,
            progress=False, max_steps=1, overrides=TINY_DATA,
        )  # fmt: skip
    with pytest.raises(DataError, match="not found"):
        genlab.train(
            "style-transfer", model="fast-style", data=str(files["photos"]), name="y", runs_dir=tmp_path,
            progress=False, max_steps=1, data_options={"style": str(tmp_path / "nope.jpg")}, overrides=TINY_DATA,
        )  # fmt: skip
    with pytest.raises(DataError, match="VGG-19 weights not found"):
        genlab.train(
            "style-transfer", model="gatys", data=str(files["photos"]), name="z", runs_dir=tmp_path,
            progress=False, model_options={"features": "vgg19"}, data_options={"data_dir": str(tmp_path)},
            overrides=TINY_DATA,
        )  # fmt: skip


def test_train_cli_takes_the_style_options(tmp_path, files, capsys):
    code, text = cli_ok(["train", "style-transfer", "--help"], capsys)
    for flag in ("--style", "--patch-size", "--max-images", "--lr", "--vgg-weights", "--features"):
        assert flag in text
    code, text = cli_ok(
        ["train", "style-transfer", "--model", "gatys", "--style", str(files["style"]), "--data", str(files["photos"]),
         "--runs-dir", str(tmp_path), "--name", "cli", "--threads", "1", "--no-progress", "--features", "random",
         "--set", "model.steps=2", "--set", "model.size=16", *[a for kv in TINY_DATA for a in ("--set", kv)]],
        capsys,
    )  # fmt: skip
    assert code == 0 and (tmp_path / "style-transfer" / "cli" / "model" / "config.json").is_file(), text
