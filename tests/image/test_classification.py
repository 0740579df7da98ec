"""The image-classification task, its accuracy metric and the classify pipeline."""

import json

import pytest
import torch
from PIL import Image

import genlab
from genlab.core.errors import BadInputError, ConfigError, DataError
from genlab.core.registry import TASKS
from genlab.image.classifier import (
    WEIGHTS_DIR,
    ClassificationOutput,
    ImageClassificationPipeline,
    LeNetClassifier,
    evaluate_accuracy,
)
from genlab.image.data import ImageDataConfig, load_image_data, load_images, to_pixels
from genlab.image.io import to_pil
from tests.cli_helpers import cli_ok


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A LeNet trained for 40 steps on builtin:digits at 16×16 (10% held out for validation)."""
    return genlab.train(
        "image-classification", "lenet-classifier", "builtin:digits", "digits", max_steps=40, batch_size=32,
        runs_dir=tmp_path_factory.mktemp("runs"), progress=False, sample_every=0, val_batches=1,
        data_options={"image_size": 16, "val_fraction": 0.1},
    )  # fmt: skip


@pytest.fixture
def digit_folder(tmp_path):
    """Six 16×16 digit PNGs: a.png at the top, the others in sub/."""
    images, _ = load_images("builtin:digits", 16, 1, 6, seed=1)
    (tmp_path / "sub").mkdir()
    for i, img in enumerate(to_pil(images)):
        img.save(tmp_path / ("a.png" if i == 0 else f"sub/{i}.png"))
    return tmp_path


def test_task_is_registered_with_the_classifier_as_default():
    task = TASKS.get("image-classification")
    assert task.model_names() == ["lenet-classifier"] and task.pipeline_class is ImageClassificationPipeline
    assert LeNetClassifier.task == "image-classification"


def test_unlabelled_images_are_refused(tmp_path, runs_dir):
    for i in range(4):
        Image.new("L", (16, 16), 40 * i).save(tmp_path / f"{i}.png")
    with pytest.raises(DataError, match="has no labels") as e:
        genlab.train("image-classification", data=str(tmp_path), max_steps=1, progress=False)
    assert "sub-folder per class" in e.value.hint


def test_images_smaller_than_the_network_are_refused(runs_dir):
    with pytest.raises(ConfigError, match="at least 16×16") as e:
        genlab.train("image-classification", data="builtin:digits", max_steps=1, data_options={"image_size": 8})
    assert "--image-size 16" in e.value.hint


def test_training_fills_the_model_from_the_data_and_writes_a_preview(trained):
    assert trained.status == "completed" and trained.steps == 40
    model = genlab.load(trained.run.path).model
    assert (model.config.image_size, model.config.channels, model.config.num_classes) == (16, 1, 10)
    assert model.config.class_names == [str(i) for i in range(10)] and model.config.schedule == "cosine"
    preview = Image.open(trained.files["samples"])
    assert trained.files["samples"].suffix == ".png" and preview.mode == "RGB" and preview.width > 8 * 16


def test_evaluate_scores_accuracy_on_the_held_out_validation_split(trained):
    result = genlab.evaluate(trained.run.path)
    protocol = result["protocol"]
    assert set(result["metrics"]) == {"accuracy"} and result["baselines"] == {}
    assert (
        protocol["reference_split"].startswith("validation split of builtin:digits") and protocol["n_reference"] == 180
    )
    # the images scored are exactly those the run held out
    cfg = ImageDataConfig.build({"source": "builtin:digits", "image_size": 16, "val_fraction": 0.1})
    _, val, _ = load_image_data(cfg)
    model = genlab.load(trained.run.path).model
    assert result["metrics"]["accuracy"] == evaluate_accuracy(model, to_pixels(val.images), val.labels)
    assert result["metrics"]["accuracy"] > 0.3  # 40 steps already beat chance (0.1)
    assert json.loads((trained.run.path / "eval.json").read_text())["metrics"] == result["metrics"]


def test_evaluate_on_other_labelled_images(trained, tmp_path):
    result = genlab.evaluate(trained.run.path, "accuracy", ref="builtin:digits", n=50, save=False)
    assert result["protocol"]["n_reference"] == 50 and result["protocol"]["reference"] == "builtin:digits"
    for i, name in enumerate(["cat", "cat", "dog", "dog"]):
        (tmp_path / name).mkdir(exist_ok=True)
        Image.new("L", (16, 16), 60 * i).save(tmp_path / name / f"{i}.png")
    with pytest.raises(BadInputError, match="classes"):
        genlab.evaluate(trained.run.path, ref=str(tmp_path), save=False)


def test_shipped_classifier_loads_as_a_pipeline_and_labels_digits():
    pipe = genlab.load(WEIGHTS_DIR / "mnist-lenet")
    assert isinstance(pipe, ImageClassificationPipeline)
    digits, labels = load_images("builtin:mnist-5k", None, None, 16, seed=0)
    out = pipe(digits)
    assert out.labels == [str(i) for i in labels.tolist()]  # the shipped model gets these 16 right
    assert torch.allclose(out.probabilities.sum(1), torch.ones(16)) and min(out.confidences) > 0.5


def test_classify_one_png_and_a_folder(trained, digit_folder):
    pipe = genlab.load(trained.run.path)
    one = pipe(digit_folder / "a.png")
    assert one.images == ["a.png"] and one.probabilities.shape == (1, 10) and one.labels[0] in pipe.class_names
    folder = pipe.run(pipe.request(image=str(digit_folder)))
    assert folder.images == ["a.png", "sub/1.png", "sub/2.png", "sub/3.png", "sub/4.png", "sub/5.png"]
    assert torch.allclose(folder.probabilities[:1], one.probabilities, atol=1e-6)
    assert folder.text().splitlines()[1].startswith("a.png") and len(folder.text().splitlines()) == 7
    with pytest.raises(DataError, match="not found"):
        pipe(digit_folder / "missing.png")


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_output_round_trips_through_csv_and_json(tmp_path, suffix):
    probabilities = torch.softmax(torch.randn(3, 4, generator=torch.Generator().manual_seed(0)), 1)
    out = ClassificationOutput(["a.png", "b,c.png", "d/e.png"], probabilities, ["T-shirt/top", "x", "y", "z"])
    again = ClassificationOutput.load(out.save(tmp_path / f"out{suffix}"))
    assert again.images == out.images and again.class_names == out.class_names
    assert torch.equal(again.probabilities, out.probabilities) and again.labels == out.labels
    assert out.encode(suffix[1:]) == (tmp_path / f"out{suffix}").read_bytes()


def test_output_formats():
    out = ClassificationOutput(["a.png"], torch.tensor([[0.25, 0.75]]), ["cat", "dog"])
    assert json.loads(out.encode("json"))["predictions"][0] == {
        "image": "a.png", "label": "dog", "probability": 0.75, "probabilities": [0.25, 0.75]
    }  # fmt: skip
    assert out.encode("csv").decode().splitlines() == ["image,label,probability,cat,dog", "a.png,dog,0.75,0.25,0.75"]
    assert out.encode("txt").decode() == out.text() and "dog  0.750" in out.text()
    with pytest.raises(BadInputError, match="formats: csv, json, txt"):
        out.encode("png")


def test_cli_classify_prints_the_labels_or_saves_them(trained, digit_folder, tmp_path, capsys):
    code, printed = cli_ok(["classify", str(trained.run.path), "--image", str(digit_folder / "a.png")], capsys)
    assert code == 0 and printed.splitlines()[0].split() == ["image", "label", "probability"], printed
    out = tmp_path / "labels.csv"
    code, printed = cli_ok(["classify", str(trained.run.path), "--image", str(digit_folder), "--out", str(out)], capsys)
    assert code == 0 and len(ClassificationOutput.load(out).images) == 6
