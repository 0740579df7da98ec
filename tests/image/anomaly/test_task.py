"""The ``anomaly`` task end to end: train on a folder of normal images, ``genlab detect``, ``genlab eval``."""

import csv
import json

import numpy as np
import pytest
from PIL import Image

import genlab
from tests.cli_helpers import cli_ok
from tests.image.anomaly.model_mixin import anomalous_images, normal_images


def write(folder, images):
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        array = ((image[0].numpy() + 1) * 127.5).round().astype(np.uint8)
        Image.fromarray(array).save(folder / f"{i:03d}.png")
    return folder


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("inspection")
    return {
        "good": write(root / "good", normal_images(40, 16)),
        "normal": write(root / "normal", normal_images(6, 16, seed=3)),
        "anomalous": write(root / "anomalous", anomalous_images(6, 16, seed=4)[0]),
        "root": root,
    }


@pytest.fixture(scope="module")
def run(folders):
    result = genlab.train(
        "anomaly", "patch-knn", str(folders["good"]), "insp", runs_dir=folders["root"] / "runs", progress=False,
        data_options={"val_fraction": 0.25}, model_options={"memory_size": 128}, threads=1,
    )  # fmt: skip
    assert result.status == "completed"
    return result.run.path


def test_detect_writes_report_csv_and_heatmaps_with_the_auto_threshold(run, folders, tmp_path, capsys):
    out = tmp_path / "report.html"
    code, text = cli_ok(["detect", str(run), str(folders["anomalous"]), "--out", str(out)], capsys)
    assert code == 0, text
    page = out.read_text()
    assert "validation normals at FPR 0.05" in page and "000.png" in page
    rows = list(csv.DictReader(out.with_suffix(".csv").open()))
    assert len(rows) == 6 and all(r["anomalous"] == "True" for r in rows)  # every square is found
    assert len(list((tmp_path / "report-heatmaps").glob("*.png"))) == 6


def test_detect_numeric_threshold_and_json(run, folders, tmp_path, capsys):
    out = tmp_path / "r.json"
    code, text = cli_ok(["detect", str(run), str(folders["normal"]), "--threshold", "1e9", "--out", str(out)], capsys)
    assert code == 0, text
    report = json.loads(out.read_text())
    assert report["threshold"] == 1e9 and report["threshold_rule"] == "given" and report["n_anomalous"] == 0


def test_detect_auto_without_validation_data_is_a_clear_error(folders, tmp_path, capsys):
    result = genlab.train(
        "anomaly", "patch-knn", str(folders["good"]), "noval", runs_dir=tmp_path, progress=False,
        data_options={"val_fraction": 0.0}, model_options={"memory_size": 16}, threads=1,
    )  # fmt: skip
    code, text = cli_ok(["detect", str(result.run.path), str(folders["normal"]), "--out", str(tmp_path / "r.html")],
                        capsys)  # fmt: skip
    assert code == 2 and "validation" in text and "--threshold" in text, text
    code, text = cli_ok(["detect", str(result.run.path), str(tmp_path / "nowhere")], capsys)
    assert code == 2 and "path not found" in text


def test_eval_on_two_folders(run, folders, capsys):
    result = genlab.evaluate(
        run, "auroc,aupr,f1-at-threshold", normal=str(folders["normal"]), anomalous=str(folders["anomalous"])
    )
    m = result["metrics"]
    assert m["auroc"] == 1.0 and m["aupr"] == 1.0 and m["recall_at_threshold"] == 1.0
    assert m["f1_at_threshold"] > 0.7  # the threshold lets at most 5 % of validation normals through, not of these
    assert result["protocol"]["n_test"] == 12 and result["protocol"]["extractor"] == "fashion-mnist-lenet"
    assert "validation normals" in result["protocol"]["threshold_rule"]
    code, text = cli_ok(["eval", str(run), "--metrics", "pro", "--normal", str(folders["normal"]),
                         "--anomalous", str(folders["anomalous"])], capsys)  # fmt: skip
    assert code == 2 and "masks" in text


def test_eval_of_a_folder_run_without_test_folders_asks_for_them(run, capsys):
    code, text = cli_ok(["eval", str(run)], capsys)
    assert code == 2 and "--normal DIR --anomalous DIR" in text


def test_a_gradient_detector_trains_through_the_engine(folders, tmp_path):
    result = genlab.train(
        "anomaly", "vae", str(folders["good"]), "v", runs_dir=tmp_path, progress=False, max_steps=2, batch_size=8,
        model_options={"latent_dim": 2, "hidden_dims": [4, 4]}, threads=1,
    )  # fmt: skip
    assert result.status == "completed"
    pipe = genlab.load(result.run.path)
    out = pipe.run(pipe.request(inputs=str(folders["normal"]), threshold="0.5"))
    assert out.scores.shape == (6,) and out.maps.shape == (6, 16, 16)


def test_textures_give_pixel_metrics(tmp_path):
    result = genlab.train(
        "anomaly", "patch-knn", "builtin:textures-defects", "tex", runs_dir=tmp_path, progress=False, threads=1,
        data_options={"image_size": 32, "max_images": 60}, model_options={"memory_size": 256, "max_fit_images": 50},
    )  # fmt: skip
    m = genlab.evaluate(result.run.path, None, n=40)["metrics"]  # the default set includes the pixel metrics
    assert {"auroc", "aupr", "pixel_auroc", "pro"} <= set(m)
    assert m["pixel_auroc"] > 0.6 and 0 <= m["pro"] <= 1
