"""The attribute classifier: learns from composed characters, generalises to held-out pairs, round-trips."""

import json

import numpy as np
import pytest
import torch

from genlab.core.devices import cpu_threads
from genlab.core.errors import BadInputError, CheckpointError
from genlab.image.characters.classifier import (
    AttributeClassifier,
    AttributeClassifierConfig,
    attribute_accuracy,
    load_attribute_classifier,
    to_input,
    train_attribute_classifier,
)
from genlab.image.characters.data import load_characters

TINY = {"attributes": {"sex": ["male", "female"], "hat": ["none", "cap", "helm"]}, "conv_widths": (4, 8, 8)}


@pytest.fixture
def splits(layers):
    data_dir = str(layers.folder.parent)
    sizes = {"n_train": 250, "n_test": 60, "seed": 0, "data_dir": data_dir}
    return load_characters("train", **sizes), load_characters("test", **sizes)


def test_a_few_seconds_of_training_beat_chance_on_held_out_combinations(splits):
    train, test = splits
    with cpu_threads(1):
        model = train_attribute_classifier(train, epochs=3, batch_size=32, lr=3e-3, seed=0, held_out=test)
    accuracy = model.record["accuracy"]
    assert set(accuracy) == set(train.attributes)
    chance = {a: 1 / len(v) for a, v in train.values.items()}
    # the test characters wear hair-style/torso and hat/hair-colour pairs never seen in training
    assert accuracy["sex"] >= 0.85 and accuracy["direction"] >= 0.85, accuracy
    assert accuracy["weapon"] >= chance["weapon"] + 0.2 and accuracy["leg_armor"] >= chance["leg_armor"] + 0.2
    again = attribute_accuracy(model, test.images, test.labels)
    assert again == accuracy  # the record is the same measurement
    assert model.record["steps"] == 3 * 32 and model.record["epochs_run"] == 3  # 1000 images / 32 = 32 batches


def test_save_and_load_give_identical_predictions_without_pickle(tmp_path):
    torch.manual_seed(0)
    model = AttributeClassifier(AttributeClassifierConfig(**TINY), attribution="art by someone, CC BY-SA 3.0")
    model.record = {"epochs": 1}
    images = np.random.default_rng(0).integers(0, 256, (5, 64, 64, 4), dtype=np.uint8)
    path = model.save_pretrained(tmp_path / "clf")
    assert sorted(p.name for p in path.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    meta = json.loads((path / "config.json").read_text())
    assert meta["attribution"] == "art by someone, CC BY-SA 3.0" and meta["license"].startswith("CC BY-SA 3.0")
    assert "art by someone" in (path / "README.md").read_text()
    loaded = load_attribute_classifier(path)
    assert loaded.attributes == ["sex", "hat"] and loaded.record == {"epochs": 1}
    assert np.array_equal(loaded.predict(images), model.predict(images))
    x = to_input(images)
    assert torch.equal(loaded(x)["hat"], model(x)["hat"])


def test_saving_without_credits_and_loading_other_folders_are_refused(tmp_path):
    model = AttributeClassifier(AttributeClassifierConfig(**TINY))
    with pytest.raises(BadInputError, match="no attribution"):
        model.save_pretrained(tmp_path / "clf")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.json").write_text(json.dumps({"model": "image/dcgan", "config": {}}))
    with pytest.raises(CheckpointError, match="not an LPC attribute classifier"):
        load_attribute_classifier(tmp_path / "other")


def test_attribute_accuracy_skips_labels_that_do_not_apply(monkeypatch):
    model = AttributeClassifier(AttributeClassifierConfig(**TINY))
    monkeypatch.setattr(model, "predict", lambda images: np.array([[0, 2], [1, 1], [1, 0], [0, 0]]))
    images = np.zeros((4, 64, 64, 3), dtype=np.uint8)
    labels = np.array([[0, 2], [0, -1], [1, -1], [1, -1]])
    assert attribute_accuracy(model, images, labels) == {"sex": 0.5, "hat": 1.0}
    assert attribute_accuracy(model, images, labels[:, 1:], attributes=["hat"]) == {"hat": 1.0}
    assert attribute_accuracy(model, images, np.full((4, 2), -1)) == {}
    with pytest.raises(BadInputError, match="expected \\(4, 2\\)"):
        attribute_accuracy(model, images, labels[:, :1])
    with pytest.raises(BadInputError, match="does not predict skin"):
        attribute_accuracy(model, images, labels, attributes=["sex", "skin"])


def test_inputs_are_rgb_in_minus_one_to_one():
    rgba = np.zeros((2, 64, 64, 4), dtype=np.uint8)  # fully transparent: the background shows
    x = to_input(rgba, background=(255, 0, 0))
    assert x.shape == (2, 3, 64, 64) and x[:, 0].eq(1).all() and x[:, 1:].eq(-1).all()
    assert torch.equal(to_input(x), x)  # prepared tensors pass through
    with pytest.raises(BadInputError, match="uint8 images"):
        to_input(np.zeros((2, 64, 64), dtype=np.uint8))


def test_attribute_accuracy_counts_what_the_image_shows(monkeypatch):
    model = AttributeClassifier(AttributeClassifierConfig(**TINY))
    monkeypatch.setattr(model, "predict", lambda images: np.array([[0, 2], [1, 1], [1, 0], [0, 0]]))
    images = np.zeros((4, 64, 64, 3), dtype=np.uint8)
    labels = np.array([[0, 1], [1, 2], [1, 0], [1, 1]])
    assert attribute_accuracy(model, images, labels) == {"sex": 0.75, "hat": 0.25}
    visible = {
        "sex": np.array([[True, False], [False, True], [False, True], [True, True]]),  # last: sex unseen
        "hat": np.array([[False, True, True], [True, True, True], [True, False, False], [False, True, True]]),
    }  # image 0: hats 1 and 2 render alike; image 1: no hat can be seen; image 3: caps 1, 2 alike
    # sex: images 0-2 count, all right; hat: images 0, 2, 3 count; 0 right (2 ~ 1), 2 right, 3 wrong (0 not in {1, 2})
    assert attribute_accuracy(model, images, labels, visible=visible) == {"sex": 1.0, "hat": 2 / 3}
    everything = {"sex": np.ones((4, 2), dtype=bool)}
    assert "sex" not in attribute_accuracy(model, images, labels, visible=everything)
    with pytest.raises(BadInputError, match="visible classes of hat"):
        attribute_accuracy(model, images, labels, visible={"hat": np.ones((4, 2), dtype=bool)})
