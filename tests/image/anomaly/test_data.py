"""Anomaly data: folders (sizes, corrupt files, no images), the one-class protocol, textures, MVTec AD's layout."""

import numpy as np
import pytest
from PIL import Image

from genlab.core.errors import DataError
from genlab.image.anomaly import textures
from genlab.image.anomaly.data import AnomalyDataConfig, load_anomaly_data, load_set, validation_images
from genlab.image.anomaly.mvtec import URL, load_mvtec


def save(path, size=(16, 16), value=100, mode="L"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value).save(path)


def cfg(**values) -> AnomalyDataConfig:
    return AnomalyDataConfig.build(values, where="data")


def test_folder_is_split_and_corrupt_files_are_counted(tmp_path):
    for i in range(10):
        save(tmp_path / f"{i}.png", value=10 * i)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    train, val, info = load_anomaly_data(cfg(source=str(tmp_path), val_fraction=0.2))
    assert (len(train), len(val)) == (8, 2) and info.n_train == 8 and info.n_val == 2
    assert len(info.skipped) == 1 and "broken.png" in info.skipped[0]
    assert info.image_size == 16 and info.channels == 1 and info.config["source"] == str(tmp_path)
    image, label = train[0]
    assert image.shape == (1, 16, 16) and label == 0 and -1 <= image.min() <= image.max() <= 1
    assert validation_images(info.config).shape == (2, 1, 16, 16)


def test_folder_mixing_sizes_is_a_clear_error_unless_resized(tmp_path):
    save(tmp_path / "a.png", (16, 16))
    save(tmp_path / "b.png", (20, 20))
    with pytest.raises(DataError, match="2 different sizes") as err:
        load_set(cfg(source=str(tmp_path)))
    assert "--image-size" in err.value.hint
    assert load_set(cfg(source=str(tmp_path), image_size=12)).normal.shape == (2, 12, 12, 1)


def test_no_normal_images_is_a_clear_error(tmp_path):
    (tmp_path / "notes.txt").write_text("nothing here")
    with pytest.raises(DataError, match="no images found"):
        load_set(cfg(source=str(tmp_path)))
    save(tmp_path / "one.png")
    with pytest.raises(DataError, match="at least 2"):
        load_set(cfg(source=str(tmp_path)))
    with pytest.raises(DataError, match="neither a built-in"):
        load_set(cfg(source=str(tmp_path / "missing")))


def test_oneclass_protocol_on_mnist(shared_data):
    if not (shared_data / "mnist").is_dir():
        pytest.skip("MNIST IDX files not in ../shared/data")
    data = load_set(cfg(source="builtin:mnist-oneclass", normal_class=3, data_dir=str(shared_data)))
    assert data.normal.shape[1:] == (28, 28, 1) and 5000 < len(data.normal) < 7000  # the 6,131 threes
    assert data.test.shape == (10_000, 28, 28, 1) and data.test_masks is None
    assert data.test_labels.sum() == 10_000 - 1010  # 1,010 threes in the test split are the normal ones
    assert data.test_kinds.count("good") == 1010


def test_textures_are_deterministic_with_masks_on_the_defects():
    a, b = textures.build_textures("brick", seed=0), textures.build_textures("brick", seed=0)
    assert np.array_equal(a.normal, b.normal) and np.array_equal(a.test, b.test)
    assert np.array_equal(a.test_masks, b.test_masks)
    other = textures.build_textures("brick", seed=1)
    assert not np.array_equal(a.test, other.test)
    assert a.normal.shape == (textures.N_NORMAL, 64, 64, 3) and a.test.shape == (textures.N_TEST, 64, 64, 3)
    defective = a.test_labels == 1
    assert defective.sum() == textures.N_TEST // 2
    assert a.test_masks[defective].reshape(defective.sum(), -1).any(1).all()
    assert not a.test_masks[~defective].any()
    assert set(a.test_kinds) == {"good", *textures.DEFECTS}


def test_textures_resize_masks_with_the_images():
    data = load_set(cfg(source="builtin:textures-defects", category="gravel", image_size=32, channels=1))
    assert data.normal.shape[1:] == (32, 32, 1) and data.test_masks.shape[1:] == (32, 32)


def make_mvtec(root, category="bottle"):
    base = root / "mvtec-ad" / category
    for i in range(3):
        save(base / "train" / "good" / f"{i:03d}.png", (40, 40), 50 + i, "RGB")
    save(base / "test" / "good" / "000.png", (40, 40), 60, "RGB")
    save(base / "test" / "broken_large" / "000.png", (40, 40), 200, "RGB")
    mask = Image.new("L", (40, 40), 0)
    mask.paste(255, (0, 0, 20, 20))
    (base / "ground_truth" / "broken_large").mkdir(parents=True)
    mask.save(base / "ground_truth" / "broken_large" / "000_mask.png")


def test_mvtec_layout_is_read_with_masks(tmp_path):
    make_mvtec(tmp_path)
    data = load_mvtec(cfg(source="mvtec-ad", category="bottle", data_dir=str(tmp_path), image_size=20))
    assert data.normal.shape == (3, 20, 20, 3) and data.test.shape == (2, 20, 20, 3)
    assert data.test_kinds == ["broken_large", "good"] and data.test_labels.tolist() == [1, 0]
    assert data.test_masks[0].sum() == 100 and not data.test_masks[1].any()  # the top-left quarter


def test_mvtec_missing_names_the_official_archive(tmp_path):
    with pytest.raises(DataError, match="not found") as err:
        load_mvtec(cfg(source="mvtec-ad", category="screw", data_dir=str(tmp_path), download=False))
    assert URL in err.value.hint
