import gzip
import hashlib
import json
import logging
import struct
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genlab.core.errors import ConfigError, DataError, UnknownNameError
from genlab.core.registry import DATASETS
from genlab.image import datasets
from genlab.image.data import ImageDataConfig, ImageTensorDataset, load_image_data, load_images, parse_source

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _cfg(**values) -> ImageDataConfig:
    return ImageDataConfig.build(values)


def _idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    header = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def _save(path: Path, array: np.ndarray, fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array.astype(np.uint8)).save(path, format=fmt)
    return path


def _gray(value: int, size=(12, 10)) -> np.ndarray:
    return np.full(size, value, dtype=np.uint8)


def _rgb(color, size=(12, 10)) -> np.ndarray:
    return np.broadcast_to(np.array(color, dtype=np.uint8), (*size, 3)).copy()


# ---------------------------------------------------------------- IDX


@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_round_trip(tmp_path, gz):
    images = np.random.default_rng(0).integers(0, 256, (5, 4, 3), dtype=np.uint8)
    ints = np.arange(-6, 6, dtype=np.int32).reshape(3, 4)
    for name, array, code in [("images", images, 0x08), ("ints", ints, 0x0C)]:
        data = _idx_bytes(array, code)
        path = tmp_path / (f"{name}.gz" if gz else name)
        path.write_bytes(gzip.compress(data) if gz else data)
        out = datasets.read_idx(path, sha256=hashlib.sha256(data).hexdigest())
        assert out.dtype == array.dtype and out.shape == array.shape
        np.testing.assert_array_equal(out, array)


@pytest.mark.parametrize(
    "mangle, message",
    [
        (lambda d: gzip.compress(d[:-7]), "truncated"),  # payload shorter than the header says
        (lambda d: gzip.compress(d + b"\0"), "truncated or corrupt"),  # extra bytes
        (lambda d: gzip.compress(d)[:-20], "cannot read"),  # gzip stream cut short
        (lambda d: gzip.compress(b"\x01\x02" + d[2:]), "bad magic"),
        (lambda d: gzip.compress(d[:2] + b"\x07" + d[3:]), "dtype code"),
    ],
)
def test_read_idx_rejects_corrupt_files(tmp_path, mangle, message):
    path = tmp_path / "bad-idx3-ubyte.gz"
    path.write_bytes(mangle(_idx_bytes(np.zeros((10, 28, 28), np.uint8))))
    with pytest.raises(DataError, match=message):
        datasets.read_idx(path)


def test_read_idx_checks_decompressed_checksum(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(_idx_bytes(np.zeros((2, 2), np.uint8))))
    with pytest.raises(DataError, match="checksum mismatch"):
        datasets.read_idx(path, sha256="0" * 64)


def _fake_idx_folder(folder: Path, n: int = 6) -> dict[str, str]:
    """A tiny MNIST-style test split; returns the sha256 of each decompressed file."""
    folder.mkdir(parents=True, exist_ok=True)
    images = np.random.default_rng(1).integers(0, 256, (n, 28, 28), dtype=np.uint8)
    arrays = {"t10k-images-idx3-ubyte": images, "t10k-labels-idx1-ubyte": np.arange(n, dtype=np.uint8) % 10}
    digests = {}
    for stem, array in arrays.items():
        data = _idx_bytes(array)
        (folder / f"{stem}.gz").write_bytes(gzip.compress(data))
        digests[stem] = hashlib.sha256(data).hexdigest()
    return digests


def test_mnist_is_downloaded_and_verified(tmp_path, monkeypatch):
    digests = _fake_idx_folder(tmp_path / "mirror")
    monkeypatch.setattr(datasets, "MNIST_URL", (tmp_path / "mirror").as_uri() + "/")
    monkeypatch.setitem(datasets.IDX_SHA256, "mnist", digests)
    train, val, info = load_image_data(_cfg(source="mnist:test", data_dir=str(tmp_path / "data"), val_fraction=0))
    assert (tmp_path / "data" / "mnist" / "t10k-images-idx3-ubyte.gz").is_file()
    assert val is None and len(train) == 6 and info.num_classes == 10 and info.image_size == 28


def test_mnist_download_with_wrong_checksum_is_deleted(tmp_path, monkeypatch):
    digests = _fake_idx_folder(tmp_path / "mirror")
    monkeypatch.setattr(datasets, "MNIST_URL", (tmp_path / "mirror").as_uri() + "/")
    monkeypatch.setitem(datasets.IDX_SHA256, "mnist", {**digests, "t10k-images-idx3-ubyte": "0" * 64})
    with pytest.raises(DataError, match="checksum mismatch"):
        load_image_data(_cfg(source="mnist:test", data_dir=str(tmp_path / "data")))
    assert not (tmp_path / "data" / "mnist" / "t10k-images-idx3-ubyte.gz").exists()


@pytest.mark.parametrize("name, url", [("mnist", datasets.MNIST_URL), ("cifar10", "cs.toronto.edu/~kriz/")])
def test_missing_standard_data_without_download_says_where(tmp_path, name, url):
    with pytest.raises(DataError) as e:
        load_image_data(_cfg(source=name, data_dir=str(tmp_path), download=False))
    assert str(tmp_path / name) in e.value.hint and url in e.value.hint and "--data-dir" in e.value.hint


@pytest.mark.parametrize(
    "name, split, counts",
    [
        ("mnist", "test", [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]),
        ("fashion-mnist", "test", [1000] * 10),
        ("mnist", "train", [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]),
        ("fashion-mnist", "train", [6000] * 10),
    ],
)
def test_real_idx_data_from_shared_folder(monkeypatch, name, split, counts):
    """Reads the local copies through GENLAB_DATA_DIR (this also checks every entry of the checksum table)."""
    if not (SHARED_DATA / name).is_dir():
        pytest.skip(f"{SHARED_DATA / name} not found (the shared datasets exist only on the project's machines)")
    monkeypatch.setenv("GENLAB_DATA_DIR", str(SHARED_DATA))
    raw = DATASETS.get(name)(split, None, False)
    assert raw.images.shape == (sum(counts), 28, 28, 1) and raw.images.dtype == np.uint8
    assert [Counter(raw.labels.tolist())[k] for k in range(10)] == counts
    if split == "test":
        train, val, info = load_image_data(_cfg(source=f"{name}:{split}", val_fraction=0.1, download=False))
        assert (info.n_train, info.n_val, info.num_classes) == (9000, 1000, 10)
        assert train[0][0].shape == (1, 28, 28)


# ---------------------------------------------------------------- CIFAR-10 (binary)


def _cifar_batch(labels: list[int]) -> bytes:
    records = []
    for i, label in enumerate(labels):
        planes = np.zeros((3, 32, 32), np.uint8)
        planes[i % 3] = 255  # image i is pure red, green or blue
        records.append(bytes([label]) + planes.tobytes())
    return b"".join(records)


def test_cifar10_binary_from_extracted_folder(tmp_path):
    folder = tmp_path / "cifar10" / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    (folder / "test_batch.bin").write_bytes(_cifar_batch([3, 7, 9]))
    train, _, info = load_image_data(_cfg(source="cifar10:test", data_dir=str(tmp_path), val_fraction=0))
    assert info.channels == 3 and info.image_size == 32 and info.class_names[3] == "cat"
    by_label = {int(y): x for x, y in (train[i] for i in range(len(train)))}
    assert set(by_label) == {3, 7, 9}
    assert torch.equal(by_label[3][:, 0, 0], torch.tensor([1.0, -1.0, -1.0]))  # red
    assert torch.equal(by_label[7][:, 5, 5], torch.tensor([-1.0, 1.0, -1.0]))  # green


def test_cifar10_archive_is_checked_and_read_without_extracting(tmp_path, monkeypatch):
    blobs = {"cifar-10-batches-bin/test_batch.bin": _cifar_batch([1, 2]), "cifar-10-batches-bin/x.txt": b"x"}
    archive = tmp_path / "cifar10" / "cifar-10-binary.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in blobs.items():
            (tmp_path / "member").write_bytes(data)
            tar.add(tmp_path / "member", arcname=name)
    cfg = _cfg(source="cifar10:test", data_dir=str(tmp_path), val_fraction=0, download=False)
    with pytest.raises(DataError, match="checksum mismatch"):  # not the official archive
        load_image_data(cfg)
    monkeypatch.setattr(datasets, "CIFAR10_MD5", hashlib.md5(archive.read_bytes()).hexdigest())
    monkeypatch.setattr(datasets, "CIFAR10_SHA256", hashlib.sha256(archive.read_bytes()).hexdigest())
    train, _, _ = load_image_data(cfg)
    assert sorted(train.labels.tolist()) == [1, 2]
    assert sorted(p.name for p in archive.parent.iterdir()) == ["cifar-10-binary.tar.gz"]


def test_cifar10_truncated_batch(tmp_path):
    folder = tmp_path / "cifar10"
    folder.mkdir()
    (folder / "test_batch.bin").write_bytes(_cifar_batch([1, 2])[:-5])
    with pytest.raises(DataError, match="truncated"):
        load_image_data(_cfg(source="cifar10:test", data_dir=str(tmp_path)))


# ---------------------------------------------------------------- built-ins


def test_builtin_digits():
    train, val, info = load_image_data(_cfg(source="builtin:digits", val_fraction=0.1))
    assert (info.n_train, info.n_val) == (1617, 180) and len(train) == 1617 and len(val) == 180
    assert (info.image_size, info.channels, info.num_classes) == (32, 1, 10)
    x, y = train[0]
    assert x.shape == (1, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.long
    assert set(train.labels.tolist()) == set(range(10))
    assert x.min() >= -1 and x.max() <= 1 and train.images.max() == 255  # 16 (ink) maps to 255
    with pytest.raises(DataError) as e:
        load_image_data(_cfg(source="builtin:digits:test"))
    assert "train" in e.value.hint


def test_builtin_mnist_5k():
    train, val, info = load_image_data(_cfg(source="builtin:mnist-5k"))
    assert info.n_train + info.n_val == 5000 and (info.image_size, info.channels) == (28, 1)
    assert info.class_names == [str(i) for i in range(10)]
    assert train.images.shape[1:] == (1, 28, 28) and set(train.labels.tolist()) == set(range(10))


def test_resize_channels_and_load_images():
    images, labels = load_images("builtin:digits", 20, 3, 7, seed=3)
    assert images.shape == (7, 3, 20, 20) and images.dtype == torch.float32 and labels.shape == (7,)
    assert images.min() >= -1 and images.max() <= 1
    assert torch.equal(images[:, 0], images[:, 2])  # gray repeated into RGB
    again, _ = load_images("builtin:digits", 20, 3, 7, seed=3)
    assert torch.equal(images, again)


def test_unknown_dataset_name_suggests_closest():
    with pytest.raises(UnknownNameError) as e:
        load_image_data(_cfg(source="builtin:mnist5k"))
    assert "builtin:mnist-5k" in e.value.hint


def test_parse_source():
    assert parse_source("mnist:test") == ("mnist", "test")
    assert parse_source("builtin:mnist-5k") == ("builtin:mnist-5k", None)
    assert parse_source("builtin:digits:train") == ("builtin:digits", "train")
    assert parse_source("./photos") == ("./photos", None)
    assert parse_source("C:/photos") == ("C:/photos", None)


def test_config_validation():
    with pytest.raises(ConfigError, match="val_fraction"):
        _cfg(val_fraction=0.5)
    with pytest.raises(ConfigError, match="channels"):
        _cfg(channels=2)


# ---------------------------------------------------------------- split, hflip


def test_split_sizes_and_determinism():
    a = load_image_data(_cfg(source="builtin:digits", val_fraction=0.2, max_images=300, split_seed=1))
    b = load_image_data(_cfg(source="builtin:digits", val_fraction=0.2, max_images=300, split_seed=1))
    c = load_image_data(_cfg(source="builtin:digits", val_fraction=0.2, max_images=300, split_seed=2))
    assert (len(a[0]), len(a[1])) == (240, 60)
    assert a[2].split == {"method": "random", "val_fraction": 0.2, "seed": 1, "n_train": 240, "n_val": 60}
    assert torch.equal(a[1].images, b[1].images) and torch.equal(a[0].labels, b[0].labels)
    assert not torch.equal(a[1].images, c[1].images)
    json.dumps(a[2].to_dict())
    train, val, info = load_image_data(_cfg(source="builtin:digits", val_fraction=0))
    assert val is None and info.n_val == 0 and len(train) == 1797


def test_hflip_flips_training_images_only_when_asked():
    image = torch.zeros(1, 1, 2, 4, dtype=torch.uint8)
    image[..., 0] = 255  # white left column
    torch.manual_seed(0)
    flipped = ImageTensorDataset(image, torch.zeros(1), hflip=True)
    left_white = [bool(flipped[0][0][0, 0, 0] == 1) for _ in range(64)]
    assert any(left_white) and not all(left_white)
    plain = ImageTensorDataset(image, torch.zeros(1))
    assert all(plain[0][0][0, 0, 0] == 1 for _ in range(16))
    train, val, _ = load_image_data(_cfg(source="builtin:digits", hflip=True, max_images=50))
    assert train.hflip and not val.hflip


def test_batched_fetch_matches_items_and_flips_per_image():
    """``__getitems__`` (what DataLoader calls) gives the same batch as one ``__getitem__`` per index."""
    train, _, _ = load_image_data(_cfg(source="builtin:digits", max_images=40))
    indices = [5, 0, 17, 5, len(train) - 1]
    batch = train.__getitems__(indices)
    for (image, label), i in zip(batch, indices, strict=True):
        assert torch.equal(image, train[i][0]) and label == train[i][1] and label.dtype == torch.long
    loader = torch.utils.data.DataLoader(train, batch_size=8)
    images, labels = next(iter(loader))
    assert images.shape == (8, *train.images.shape[1:]) and images.min() >= -1 and images.max() <= 1
    assert torch.equal(labels, train.labels[:8])

    image = torch.zeros(1, 1, 2, 4, dtype=torch.uint8)
    image[..., 0] = 255  # white left column
    torch.manual_seed(0)
    flipping = ImageTensorDataset(image, torch.zeros(1), hflip=True)
    batch = flipping.__getitems__([0] * 64)
    left_white = [bool(im[0, 0, 0] == 1) for im, _ in batch]
    assert any(left_white) and not all(left_white)  # each image of the batch flips on its own coin
    assert all(torch.equal(im, batch[0][0]) or torch.equal(im, batch[0][0].flip(-1)) for im, _ in batch)


# ---------------------------------------------------------------- folders


def test_folder_with_class_subfolders_gives_labels(tmp_path):
    for i in range(3):
        _save(tmp_path / "imgs" / "dogs" / f"{i}.png", _rgb((200, 10, 10)))
    for i in range(2):
        _save(tmp_path / "imgs" / "cats" / "deeper" / f"{i}.JPG", _rgb((10, 10, 200), (30, 20)), "JPEG")
    train, val, info = load_image_data(_cfg(source=str(tmp_path / "imgs"), image_size=16, val_fraction=0))
    assert info.class_names == ["cats", "dogs"] and info.num_classes == 2
    assert Counter(train.labels.tolist()) == {0: 2, 1: 3}
    red = train.images[train.labels == 1].float()
    assert (red[:, 0] > 150).all() and (red[:, 2] < 60).all()  # dogs are red: labels follow their files
    assert train.images.shape == (5, 3, 16, 16) and info.skipped == []


def test_unlabelled_folder(tmp_path):
    _save(tmp_path / "a.png", _gray(0))
    _save(tmp_path / "sub" / "b.png", _gray(255))
    _save(tmp_path / "sub" / "c.bmp", _gray(128))
    _save(tmp_path / ".hidden" / "d.png", _gray(7))  # hidden folders are ignored
    train, val, info = load_image_data(_cfg(source=str(tmp_path), val_fraction=0))
    assert info.num_classes == 0 and info.class_names == [] and train.labels.tolist() == [0, 0, 0]
    assert (info.image_size, info.channels) == (64, 1)
    values = sorted(float(train[i][0].mean()) for i in range(3))
    assert values[0] == -1.0 and values[-1] == 1.0  # black and white map exactly to -1 and 1


def test_single_class_subfolder_is_unlabelled(tmp_path):
    for i in range(2):
        _save(tmp_path / "only" / f"{i}.png", _gray(i))
    assert load_image_data(_cfg(source=str(tmp_path)))[2].num_classes == 0


def test_corrupt_images_are_skipped_and_counted(tmp_path, caplog):
    for i in range(4):
        _save(tmp_path / f"ok{i}.png", _gray(60 * i))
    (tmp_path / "garbage.png").write_bytes(b"this is not a png")
    good = _save(tmp_path / "full.jpg", _rgb((0, 255, 0), (40, 40)), "JPEG").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(good[: len(good) // 2])
    with caplog.at_level(logging.WARNING):
        train, val, info = load_image_data(_cfg(source=str(tmp_path), val_fraction=0.2))
    assert sorted(Path(p).name for p in info.skipped) == ["cut.jpg", "garbage.png"]
    assert info.n_train + info.n_val == 5 and (info.n_train, info.n_val) == (4, 1)
    assert "skipped 2" in caplog.text


def test_gray_and_rgb_mix(tmp_path):
    _save(tmp_path / "g.png", _gray(100))
    _save(tmp_path / "c.png", _rgb((255, 0, 0)))
    rgba = np.zeros((10, 12, 4), np.uint8)  # fully transparent: composited onto white
    _save(tmp_path / "t.png", rgba)
    train, _, info = load_image_data(_cfg(source=str(tmp_path), image_size=8, val_fraction=0))
    assert info.channels == 3 and train.images.shape == (3, 3, 8, 8)
    gray = [x for x, _ in train if torch.equal(x[0], x[1]) and torch.equal(x[1], x[2])]
    assert len(gray) == 2 and any(bool((x == 1).all()) for x in gray)
    one, _, info1 = load_image_data(_cfg(source=str(tmp_path), image_size=8, channels=1, val_fraction=0))
    assert info1.channels == 1 and one.images.shape == (3, 1, 8, 8)


def test_folder_images_are_centre_cropped(tmp_path):
    wide = np.zeros((20, 60), np.uint8)
    wide[:, 20:40] = 255  # white centre square between black sides
    _save(tmp_path / "wide.png", wide)
    train, _, _ = load_image_data(_cfg(source=str(tmp_path), image_size=10, val_fraction=0))
    # a squashed (uncropped) image would have black columns at both sides
    assert train.images.shape == (1, 1, 10, 10) and train.images.min() > 200


def test_folder_max_images_is_a_seeded_choice(tmp_path):
    for i in range(12):
        _save(tmp_path / f"{i:02d}.png", _gray(20 * i))
    pick = [load_image_data(_cfg(source=str(tmp_path), max_images=5, split_seed=s))[0].images for s in (0, 0, 1)]
    assert len(pick[0]) == 4 and torch.equal(pick[0], pick[1]) and not torch.equal(pick[0], pick[2])


@pytest.mark.parametrize(
    "make, message, hint",
    [
        (lambda p: p / "nope", "path not found", "check the path"),
        (lambda p: p, "no images found", ".png"),
        (lambda p: [(p / n).write_text("x") for n in ("a.txt", "b.txt")] and p, "2 other files", ".jpeg"),
        (lambda p: (p / "notes.txt").write_text("x") and p / "notes.txt", "neither an image", "folder"),
        (lambda p: (p / "x.png").write_bytes(b"broken") and p, "could be read", "x.png"),
    ],
)
def test_folder_errors(tmp_path, make, message, hint):
    source = make(tmp_path)
    with pytest.raises(DataError) as e:
        load_image_data(_cfg(source=str(source)))
    assert message in e.value.message and hint in e.value.hint
