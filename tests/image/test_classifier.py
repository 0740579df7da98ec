"""The LeNet classifier: a registered model on the model and checkpoint contracts, and the shipped weights."""

import json

import pytest
import torch
from safetensors.torch import save_file

import genlab
from genlab.cli.main import main
from genlab.core.checkpoint import sha256_file
from genlab.core.errors import CheckpointError, UnknownNameError
from genlab.core.model import GenerativeModel
from genlab.core.registry import MODELS, TASKS
from genlab.image.classifier import (
    WEIGHTS_DIR,
    ClassifierConfig,
    LeNetClassifier,
    evaluate_accuracy,
    load_classifier,
    save_classifier,
)
from genlab.image.classifier import main as classifier_main
from genlab.image.data import load_images
from genlab.image.extractors import get_extractor
from tests.model_mixin import ModelTesterMixin

#: name -> (dataset, recorded test accuracy, sha256 of the weights as first shipped in X.safetensors + X.json)
SHIPPED = {
    "mnist-lenet": ("mnist", 0.9938, "bac127bf1a1de6f0c4daa4561e2c71a68e7c41c8040cd92b6357d9816f3a45a3"),
    "fashion-mnist-lenet": (
        "fashion-mnist",
        0.9141,
        "adfbadcb680a0403cbda8083698c516965cba647ec63b4b11766eeccbdb3cee7",
    ),
}


def tiny() -> LeNetClassifier:
    torch.manual_seed(0)
    return LeNetClassifier(ClassifierConfig(image_size=16, num_classes=3, conv_widths=(4, 6), feature_dim=8))


def fixed_batch(n: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (n, 1, 16, 16) in [-1, 1] whose class is the row band that is bright."""
    labels = torch.arange(n) % 3
    images = torch.rand(n, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 0.4 - 1
    for i, y in enumerate(labels.tolist()):
        images[i, :, 5 * y : 5 * y + 5] += 1.5
    return images.clamp(-1, 1), labels


def pinned_inputs() -> torch.Tensor:
    """64 digits of the offline MNIST subset and 16 noise images, (80, 1, 28, 28) in [-1, 1]."""
    digits, _ = load_images("builtin:mnist-5k", None, None, 64, seed=0)
    noise = torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    return torch.cat([digits, noise])


# --------------------------------------------------------------------------- model contract


def test_registered_with_its_own_task_and_refused_for_image_generation():
    assert MODELS.get("image/lenet-classifier") is LeNetClassifier
    listed = {r["name"]: r["task"] for r in genlab.list_models()}
    assert listed["image/lenet-classifier"] == "image-classification"
    image_generation = TASKS.get("image-generation")
    assert "lenet-classifier" not in image_generation.model_names()
    with pytest.raises(UnknownNameError, match="lenet-classifier"):
        image_generation.model_class("lenet-classifier")


def test_cli_refuses_to_train_it_as_an_image_generator(runs_dir, capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "image-generation", "--model", "lenet-classifier", "--max-steps", "1"])
    assert e.value.code == 2
    printed = capsys.readouterr()
    assert "unknown image-generation model 'lenet-classifier'" in printed.out + printed.err


def test_training_losses_lower_the_loss_on_a_fixed_batch():
    model = tiny().train()
    (spec,) = model.optimizer_groups()
    opt = torch.optim.Adam(spec.params, lr=1e-2)
    batch = fixed_batch()
    first = model.training_losses(batch, spec.name)
    assert set(first) == {"loss", "accuracy"} and 0 <= first["accuracy"].item() <= 1
    for _ in range(30):
        opt.zero_grad()
        model.training_losses(batch, spec.name)["loss"].backward()
        opt.step()
    model.eval()
    assert model.validation_losses(batch)["loss"].item() < 0.5 * first["loss"].item()
    assert evaluate_accuracy(model, *batch) == 1.0


def test_save_pretrained_roundtrip_gives_identical_outputs(tmp_path):
    model = tiny().eval()
    record = {"dataset": "fixed", "test_accuracy": 0.5, "command": "python -m genlab.image.classifier --dataset x"}
    save_classifier(model, tmp_path / "tiny-lenet", record)
    assert {p.name for p in (tmp_path / "tiny-lenet").iterdir()} == {"config.json", "model.safetensors", "README.md"}
    loaded = GenerativeModel.from_pretrained(tmp_path / "tiny-lenet")
    assert type(loaded) is LeNetClassifier and loaded.config == model.config
    images, _ = fixed_batch()
    with torch.no_grad():
        assert torch.equal(loaded(images), model(images))
        assert torch.equal(loaded.features(images), model.features(images))
    assert loaded.provenance.raw["name"] == "tiny-lenet" and loaded.provenance.raw["test_accuracy"] == 0.5
    assert "50.00%" in (tmp_path / "tiny-lenet" / "README.md").read_text()


def test_loading_another_model_or_nothing_is_refused(tmp_path):
    vae = MODELS.get("image/vae")
    vae(vae.config_class.build({"image_size": 8, "hidden_dims": [8], "latent_dim": 2})).save_pretrained(tmp_path / "v")
    with pytest.raises(CheckpointError, match="not a LeNetClassifier"):
        load_classifier(tmp_path / "v")
    with pytest.raises(CheckpointError, match="no classifier"):
        load_classifier(tmp_path / "missing.safetensors")


# --------------------------------------------------------------------------- shipped weights


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_classifier_keeps_its_weights_record_and_card(name):
    dataset, accuracy, sha256 = SHIPPED[name]
    folder = WEIGHTS_DIR / name
    meta = json.loads((folder / "config.json").read_text())
    assert meta["model"] == "image/lenet-classifier" and meta["task"] == "image-classification"
    # the weights are the bytes first shipped: features and FIDs measured before are unchanged
    assert meta["weights_sha256"] == sha256_file(folder / "model.safetensors") == sha256
    assert meta["converted_from"]["sha256"] == sha256
    assert meta["dataset"] == dataset and meta["test_accuracy"] == accuracy and meta["test_split"] == "test"
    assert meta["command"].startswith("python -m genlab.image.classifier")
    card = (folder / "README.md").read_text()
    assert f"{accuracy:.2%}" in card and meta["command"] in card
    assert (folder / "model.safetensors").stat().st_size < 1_000_000
    assert get_extractor(name).sha256 == sha256


def test_shipped_classifiers_give_their_pinned_outputs():
    # values computed with the single-file loader the shipped weights were first read with
    x = pinned_inputs()
    mnist, fashion = get_extractor("mnist-lenet"), get_extractor("fashion-mnist-lenet")
    expected_mnist = [-11.6195, -7.6355, -13.255, -11.2797, 12.9316, -7.0444, -12.3468, -5.2375, -2.6731, 11.0203]
    expected_fashion = [-2.1454, -12.4644, -13.3089, -10.98, -18.725, -3.2624, -1.0199, -12.7172, -2.463, -17.6156]
    logits = mnist.logits(x)
    assert logits[0].tolist() == pytest.approx(expected_mnist, abs=1e-3)
    assert logits[:16].argmax(1).tolist() == [4, 2, 0, 9, 6, 6, 2, 1, 2, 0, 8, 1, 1, 4, 3, 9]
    assert float(mnist.features(x).double().sum()) == pytest.approx(13435.614863729104, rel=1e-5)
    assert fashion.logits(x)[0].tolist() == pytest.approx(expected_fashion, abs=1e-3)
    assert float(fashion.features(x).double().sum()) == pytest.approx(7726.839595694328, rel=1e-5)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_classifier_accuracy_on_the_test_split(name, shared_data):
    dataset, accuracy, _ = SHIPPED[name]
    x, y = load_images(f"{dataset}:test", None, None, 10000, data_dir=str(shared_data), download=False)
    model, _ = load_classifier(WEIGHTS_DIR / name)
    assert evaluate_accuracy(model, x, y) == pytest.approx(accuracy, abs=2e-4)


def test_earlier_single_file_format_still_loads(tmp_path):
    shipped, meta = load_classifier(WEIGHTS_DIR / "mnist-lenet")
    weights = tmp_path / "old-lenet.safetensors"
    save_file({k: v.contiguous() for k, v in shipped.state_dict().items()}, str(weights))
    old_meta = {"name": "old-lenet", "architecture": "lenet", "config": meta["config"], "test_accuracy": 0.99}
    (tmp_path / "old-lenet.json").write_text(json.dumps({**old_meta, "sha256": sha256_file(weights)}))
    ext = get_extractor(str(weights))
    x = pinned_inputs()[:8]
    assert ext.name == "old-lenet" and ext.sha256 == meta["weights_sha256"]
    assert torch.equal(ext.logits(x), get_extractor("mnist-lenet").logits(x))
    (tmp_path / "old-lenet.json").write_text(json.dumps({**old_meta, "sha256": "0" * 64}))
    with pytest.raises(CheckpointError, match="sha256"):
        get_extractor(str(weights))


# --------------------------------------------------------------------------- training command


@pytest.mark.slow
def test_classifier_command_is_reproducible(tmp_path):
    # builtin:digits has one split: 10% is held out for the accuracy; the same command gives the same weights.
    # The command trains through the engine (genlab.train); --runs-dir keeps the run.
    args = ["--dataset", "builtin:digits", "--epochs", "4", "--batch-size", "64", "--threads", "1"]
    for out in ("a", "b"):
        classifier_main(
            [*args, "--out", str(tmp_path / out), "--name", "digits", "--runs-dir", str(tmp_path / "r" / out)]
        )
    assert (tmp_path / "r" / "a" / "image-classification" / "digits" / "eval.json").is_file()
    meta, again = (json.loads((tmp_path / out / "digits" / "config.json").read_text()) for out in ("a", "b"))
    assert meta["weights_sha256"] == again["weights_sha256"]
    assert meta["test_accuracy"] > 0.8 and "hold-out" in meta["test_split"] and meta["n_test"] == 180
    assert "--dataset builtin:digits" in meta["command"] and meta["model"] == "image/lenet-classifier"
    assert meta["recipe"]["schedule"] == "cosine" and meta["steps"] == 4 * (1617 // 64)
    assert meta["data"]["split"]["n_val"] == 180  # the hold-out it was scored on is recorded with the model
    ext = get_extractor(str(tmp_path / "a" / "digits"))
    assert ext.input_size == 32 and ext.num_classes == 10 and ext.name == "digits"


class TestLeNetClassifierContract(ModelTesterMixin):
    """The shared model suite; a classifier's output is its logits on a fixed input, which ignore the seed."""

    model_name = "image/lenet-classifier"
    config = {"image_size": 16, "num_classes": 3, "conv_widths": (4, 4), "feature_dim": 8}
    validation_keys = {"loss", "accuracy"}
    seeded_outputs = False
    optimizer_steps = 10

    def batch(self, model):
        g = torch.Generator().manual_seed(123)
        images = torch.rand(12, 1, 16, 16, generator=g) * 2 - 1
        labels = torch.arange(12) % 3
        images[labels == 1, :, :8] = 1.0  # classes differ by a bright half
        return images, labels

    def sample(self, model, seed):
        with torch.no_grad():
            return model.eval()(self.batch(model)[0])

    def check_output(self, model, out):
        assert out.shape == (12, 3) and out.dtype == torch.float32 and torch.isfinite(out).all()
