"""The dataset: seeded draws, a test split of held-out combinations, labels that match the pixels, credits."""

import numpy as np
import pytest

from genlab.core.errors import ConfigError, DataError
from genlab.core.registry import DATASETS
from genlab.image.characters.compose import composite
from genlab.image.characters.data import (
    BACKGROUND_RGB,
    DATASET,
    DIRECTION,
    HELD_OUT_PAIRS,
    attribute_matrix,
    attribution,
    check_held_out_rule,
    held_out_pairs,
    load_characters,
    load_layers,
    sample_characters,
    visible_classes,
    visible_fraction,
)
from genlab.image.data import ImageDataConfig, load_image_data

SIZES = {"n_train": 120, "n_val": 20, "n_test": 40}


@pytest.fixture
def data_dir(layers) -> str:
    return str(layers.folder.parent)


def test_every_value_keeps_partners_outside_the_held_out_pairs(layers):
    check_held_out_rule(layers)  # raises when a held-out value is unknown or loses every partner
    for (a, b), pairs in HELD_OUT_PAIRS.items():
        assert len(set(pairs)) == len(pairs) and {x for x, _ in pairs} <= set(layers.attributes[a])
        for value in layers.attributes[a]:
            assert any((value, y) not in pairs for y in layers.attributes[b])
        for value in layers.attributes[b]:
            assert any((x, value) not in pairs for x in layers.attributes[a])


@pytest.mark.parametrize(
    "rule, message",
    [
        ({("weapon", "sex"): (("none", "male"), ("none", "female"))}, "weapon=none has no allowed sex"),
        ({("hat", "sex"): (("none", "male"), ("cap", "female"))}, "names a value the layer folder lacks"),
    ],
)
def test_a_rule_that_would_empty_a_value_or_names_unknown_ones_is_refused(layers, monkeypatch, rule, message):
    from genlab.image.characters import data

    monkeypatch.setattr(data, "HELD_OUT_PAIRS", rule)
    with pytest.raises(DataError, match=message):
        sample_characters(layers, "train", 4)


def test_test_characters_wear_held_out_pairs_that_train_and_val_never_show(layers):
    train = sample_characters(layers, "train", 400, seed=3)
    val = sample_characters(layers, "val", 100, seed=3)
    test = sample_characters(layers, "test", 100, seed=3)
    assert not any(held_out_pairs(c) for c in train + val)
    assert all(held_out_pairs(c) == list(HELD_OUT_PAIRS) for c in test)  # one pair of each kind
    seen = {(a, b): {(c[a], c[b]) for c in train} for a, b in HELD_OUT_PAIRS}
    for c in test:
        assert all((c[a], c[b]) not in seen[(a, b)] for a, b in HELD_OUT_PAIRS)
    for attribute, values in layers.attributes.items():  # every single value still occurs in train
        assert {c[attribute] for c in train} >= set(values), attribute


def test_splits_are_seeded_and_differ_from_each_other(layers):
    assert sample_characters(layers, "train", 50, seed=1) == sample_characters(layers, "train", 50, seed=1)
    assert sample_characters(layers, "train", 50, seed=1) != sample_characters(layers, "train", 50, seed=2)
    assert sample_characters(layers, "train", 50, seed=1) != sample_characters(layers, "val", 50, seed=1)
    with pytest.raises(DataError, match="no split 'dev'"):
        sample_characters(layers, "dev", 5)


def test_labels_describe_the_characters_and_images_are_their_standing_frames(layers, data_dir):
    data = load_characters("val", data_dir=data_dir, **SIZES)
    n = SIZES["n_val"]
    assert data.images.shape == (4 * n, 64, 64, 4) and data.images.dtype == np.uint8
    assert data.labels.shape == (4 * n, 11) and data.labels.dtype == np.int64
    assert data.attributes == [*layers.attributes, DIRECTION] and data.values[DIRECTION] == layers.directions
    assert data.column(DIRECTION).tolist() == [0, 1, 2, 3] * n
    for i in (0, 4 * n - 1):
        character = data.characters[i // 4]
        for j, attribute in enumerate(data.attributes[:-1]):
            value = character[attribute]
            assert data.labels[i, j] == (-1 if value is None else data.values[attribute].index(value))
        assert np.array_equal(data.images[i], layers.compose_column(character)[i % 4])
    bald = [i for i, c in enumerate(data.characters) if c["hair_style"] == "none"]
    assert bald and (data.column("hair_color")[4 * bald[0]] == -1)
    rgb = data.rgb()
    assert rgb.shape == (4 * n, 64, 64, 3) and tuple(rgb[0, 0, 0]) == BACKGROUND_RGB


def test_the_layers_of_a_split_composite_to_its_images(layers, data_dir):
    data = load_characters("val", data_dir=data_dir, **SIZES)
    steps = load_layers("val", data_dir=data_dir, **SIZES)
    assert steps.shape == (len(data.images), len(layers.z_order), 64, 64, 4) and steps.dtype == np.uint8
    assert np.array_equal(composite(list(steps.transpose(1, 0, 2, 3, 4)), data.images.shape), data.images)
    bald = next(i for i, c in enumerate(data.characters) if c["hair_style"] == "none")
    assert not steps[4 * bald, layers.z_order.index("hair")].any()  # a step a character skips is transparent


def test_same_options_give_the_same_pixels(layers, data_dir):
    a = load_characters("test", data_dir=data_dir, n_test=8, seed=5)
    b = load_characters("test", data_dir=data_dir, n_test=8, seed=5)
    c = load_characters("test", data_dir=data_dir, n_test=8, seed=6)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.labels, b.labels)
    assert not np.array_equal(a.labels, c.labels)
    with pytest.raises(ConfigError, match="n_test"):
        load_characters("test", data_dir=data_dir, n_test=0)


def test_credits_travel_with_the_data(layers, data_dir):
    text = attribution(layers)
    assert 'Liberated Pixel Cup "Universal LPC Spritesheet"' in text and "CC-BY-SA 3.0" in text
    assert "Stephen Challener (Redshrike)" in text and "XOR" in text
    body_only = attribution(layers, ["layers/body/male_light.png"])
    assert "Authors of the layers used (per CREDITS.csv): Johannes" in body_only and "XOR." not in body_only
    info = load_characters("test", data_dir=data_dir, n_test=8).info()
    assert info["attribution"].startswith("Character art from the Liberated Pixel Cup")
    assert info["license"].startswith("CC BY-SA 3.0") and info["n_images"] == 32
    assert info["held_out_pairs"]["hair_style+torso"][0] == ["plain", "shirt_white"]


def test_registered_dataset_feeds_the_image_data_code(layers, data_dir, monkeypatch):
    spec = DATASETS.get(DATASET)
    assert spec.modality == "image" and spec.splits == ("train", "val", "test") and "CC BY-SA 3.0" in spec.license
    assert "attribution" in spec.extras
    monkeypatch.setenv("GENLAB_DATA_DIR", data_dir)
    raw = spec("val", None, False)
    assert raw.images.shape == (400, 64, 64, 3) and raw.class_names == layers.directions
    assert raw.labels.tolist()[:8] == [0, 1, 2, 3, 0, 1, 2, 3]
    labels, attributes, values = attribute_matrix("val")
    assert labels.shape == (400, 11) and np.array_equal(labels[:, -1], raw.labels) and attributes[-1] == DIRECTION
    assert values["sex"] == ["male", "female"]
    cfg = ImageDataConfig.build({"source": f"{DATASET}:val", "val_fraction": 0.1, "download": False})
    train, val, info = load_image_data(cfg)
    assert (info.channels, info.image_size, info.num_classes, info.n_train + info.n_val) == (3, 64, 4, 400)


def test_a_missing_layer_folder_is_a_data_error_with_a_hint(tmp_path):
    with pytest.raises(DataError) as e:
        DATASETS.get(DATASET)("train", str(tmp_path), False)
    assert str(tmp_path / "characters") in e.value.message and "--data-dir" in e.value.hint


def test_visible_classes_are_the_values_that_render_alike(layers, data_dir):
    test = load_characters("test", n_test=6, data_dir=data_dir)
    classes = visible_classes(test, data_dir)
    assert set(classes) == set(test.attributes)
    rng = np.random.default_rng(0)
    for j, attribute in enumerate(test.attributes):
        m = classes[attribute]
        assert m.shape == (len(test.images), len(test.values[attribute])) and m.dtype == bool
        label = test.labels[:, j]
        assert (m[label >= 0, label[label >= 0]]).all()  # the true value is in its own class
        assert m[label < 0].all()  # an attribute that does not apply cannot be seen
        if attribute == DIRECTION:
            continue
        for i in rng.choice(len(test.images), 3, replace=False):  # spot checks against the compositor
            character, d = test.characters[i // 4], i % 4
            for v, value in enumerate(test.values[attribute]):
                if label[i] < 0 or value == character[attribute]:
                    continue
                changed = {**character, attribute: value}
                if attribute == "hair_style" and character["hair_color"] is None:
                    changed["hair_color"] = "black"  # one completion; a differing one already decides
                    if not m[i, v]:
                        continue
                same = np.array_equal(layers.compose_column(changed)[d], test.images[i])
                assert same == m[i, v], (attribute, value, i)
    shown = visible_fraction(classes)
    assert shown["sex"] == shown["direction"] == 1.0 and 0 <= shown["legs"] <= 1


def test_trousers_under_thigh_armour_and_a_dagger_from_behind_cannot_be_seen(layers, data_dir):
    from dataclasses import replace

    knight = layers.character(
        sex="male", skin="light", hair_style="plain", hair_color="black", torso="tabard", legs="pants_red",
        leg_armor="metal", feet="boots_metal", hat="none", weapon="dagger",
    )  # fmt: skip
    data = load_characters("test", n_test=1, data_dir=data_dir)
    one = replace(data, characters=[knight])  # only the characters are read
    classes = visible_classes(one, data_dir)
    north = 0
    assert classes["weapon"][north, [0, 1]].all() and not classes["weapon"][north, 2]  # dagger ~ none from behind
    assert not classes["weapon"][2].all()  # seen from the front
    assert classes["legs"].all()  # tabard + thigh plates: no trouser pixel shows in any direction
    shirt = visible_classes(replace(data, characters=[{**knight, "torso": "shirt_white"}]), data_dir)
    assert not shirt["legs"].all()  # under a shirt a few trouser pixels show
    assert np.array_equal(classes["sex"][:, 1], np.zeros(4, dtype=bool))
