"""Data of the ``anomaly`` task: normal images to train on, and a labelled test set to score detectors.

``source`` is one of

* the path of a folder of **normal** images (searched recursively; unreadable files are skipped and counted;
  the images must share one size unless ``image_size`` is set, since heat maps are read pixel for pixel);
* ``builtin:mnist-oneclass`` / ``builtin:fashion-mnist-oneclass``: the one-class protocol (GANomaly, OCGAN
  tables): train on the ``normal_class`` images of the training split; the test split is the whole test
  split, that class normal and the nine others anomalous. Read from the IDX files in ``data_dir``
  (``$GENLAB_DATA_DIR``; :mod:`genlab.image.datasets` checks their sha256);
* ``builtin:textures-defects``: texture tiles with synthetic defects of known masks (:mod:`.textures`);
* ``mvtec-ad``: an MVTec AD category (``category``) from ``data_dir/mvtec-ad/`` (:mod:`.mvtec`).

A seeded share ``val_fraction`` of the normal training images is held out as the validation set: the
normal images thresholds are chosen on (``genlab detect --threshold auto``). Images are uint8 in memory and
float in [-1, 1] on access, as everywhere in genlab.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image
from pydantic import Field

from genlab.core.config import Config
from genlab.core.data import DataInfo
from genlab.core.errors import DataError
from genlab.image.data import ImageTensorDataset, _convert_channels, open_image, scan_folder, to_pixels

log = logging.getLogger(__name__)

ONECLASS = {"builtin:mnist-oneclass": "mnist", "builtin:fashion-mnist-oneclass": "fashion-mnist"}


class AnomalyDataConfig(Config):
    """Which normal images to train on, which labelled images to test on, and how to prepare them."""

    source: str = Field("builtin:mnist-oneclass", min_length=1, description="normal-image folder or built-in set")
    normal_class: int = Field(0, ge=0, le=9, description="one-class sets: the class that is normal")
    category: str | None = Field(None, description="textures-defects / mvtec-ad: the category (default: the first)")
    image_size: int | None = Field(None, ge=8, le=512, description="pixels; None = native (folders: their size)")
    channels: Literal[1, 3] | None = Field(None, description="None = native (folders: 3 if any image is colour)")
    val_fraction: float = Field(0.1, ge=0.0, lt=0.9, description="share of normal images held out for thresholds")
    max_images: int | None = Field(None, ge=2, description="use at most this many normal training images")
    split_seed: int = Field(0, description="seed of the shuffle behind max_images and the train/val split")
    seed: int = Field(0, ge=0, description="textures-defects: seed of the tiles and defects")
    data_dir: str | None = Field(None, description="folder of standard datasets (default $GENLAB_DATA_DIR)")
    download: bool = Field(True, description="download missing standard datasets (never MVTec AD's 5 GB archive)")


@dataclass
class AnomalySet:
    """Loaded images: normal training images, and a test set with labels (1 = anomalous) and masks if known."""

    normal: np.ndarray  # uint8 (N, H, W, C)
    test: np.ndarray | None = None  # uint8 (M, H, W, C)
    test_labels: np.ndarray | None = None  # int64 (M,), 1 = anomalous
    test_masks: np.ndarray | None = None  # bool (M, H, W), True on defective pixels
    test_kinds: list[str] = field(default_factory=list)  # per test image: "good" or the defect / class name
    skipped: list[str] = field(default_factory=list)
    license: str = ""


@dataclass
class AnomalyDataInfo(DataInfo):
    """What was loaded; saved in the run and the model's config.json (the detector reloads its validation split)."""

    source: str
    image_size: int
    channels: int
    n_train: int = 0
    n_val: int = 0
    n_test: int = 0
    n_test_anomalous: int = 0
    has_masks: bool = False
    skipped: list[str] = field(default_factory=list)
    split: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)  # the data config, to rebuild the splits
    license: str = ""


Loader = Callable[[AnomalyDataConfig], AnomalySet]
#: built-in sources: name -> loader (folders are the fallback)
SOURCES: dict[str, Loader] = {}


def register_source(name: str) -> Callable[[Loader], Loader]:
    """Decorator: register an anomaly data source ``fn(cfg) -> AnomalySet`` under ``name``."""

    def deco(fn: Loader) -> Loader:
        SOURCES[name] = fn
        return fn

    return deco


# ---------------------------------------------------------------- loading and splitting


def load_set(cfg: AnomalyDataConfig) -> AnomalySet:
    """The normal and test images of ``cfg.source``, at ``cfg.image_size`` and ``cfg.channels``."""
    if cfg.source in SOURCES:
        data = SOURCES[cfg.source](cfg)
    else:
        path = Path(cfg.source).expanduser()
        if not path.is_dir():
            raise DataError(
                f"'{cfg.source}' is neither a built-in anomaly data set nor a folder",
                f"give a folder of normal images, or one of: {', '.join(SOURCES)}",
            )
        images, skipped = read_folder(path, cfg.image_size, cfg.channels, uniform=True)
        data = AnomalySet(images, skipped=skipped)
    if len(data.normal) < 2:
        raise DataError(
            f"{cfg.source} holds {len(data.normal)} normal image(s); a detector needs at least 2",
            "give more normal (defect-free) images: the detector learns what normal looks like from them",
        )
    return data


def split_normal(images: np.ndarray, cfg: AnomalyDataConfig) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) normal images: a seeded shuffle, capped at ``max_images``, the first ``val_fraction`` held out."""
    order = np.random.default_rng(cfg.split_seed).permutation(len(images))
    if cfg.max_images:
        order = order[: cfg.max_images]
    n_val = 0 if cfg.val_fraction == 0 else min(len(order) - 1, max(1, round(len(order) * cfg.val_fraction)))
    return images[order[n_val:]], images[order[:n_val]]


def to_dataset(images: np.ndarray) -> ImageTensorDataset:
    """uint8 (N, H, W, C) as a dataset of ``(image in [-1, 1], label 0)``."""
    x = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))  # (N, H, W, C) -> (N, C, H, W)
    return ImageTensorDataset(x, torch.zeros(len(x), dtype=torch.long))


def as_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, C) as float (N, C, H, W) in [-1, 1]."""
    return to_pixels(torch.from_numpy(images.transpose(0, 3, 1, 2).copy()))


def load_anomaly_data(cfg: AnomalyDataConfig) -> tuple[ImageTensorDataset, ImageTensorDataset | None, AnomalyDataInfo]:
    """Train and validation datasets of normal images, and the data info (the test set stays on disk)."""
    data = load_set(cfg)
    train, val = split_normal(data.normal, cfg)
    info = AnomalyDataInfo(
        source=cfg.source,
        image_size=int(train.shape[1]),
        channels=int(train.shape[3]),
        n_train=len(train),
        n_val=len(val),
        n_test=0 if data.test is None else len(data.test),
        n_test_anomalous=0 if data.test_labels is None else int(data.test_labels.sum()),
        has_masks=data.test_masks is not None,
        skipped=data.skipped,
        split={"method": "random", "val_fraction": cfg.val_fraction, "seed": cfg.split_seed},
        config=cfg.to_dict(),
        license=data.license,
    )
    return to_dataset(train), (to_dataset(val) if len(val) else None), info


def validation_images(data_config: dict[str, Any]) -> torch.Tensor:
    """The validation normal images (N, C, H, W) in [-1, 1] of the data a model was trained on (its
    recorded data config); raises :class:`DataError` when there are none or the data is gone."""
    cfg = AnomalyDataConfig.build(data_config, where="data")
    _, val = split_normal(load_set(cfg).normal, cfg)
    if not len(val):
        raise DataError("the run has no validation images (data.val_fraction=0)")
    return as_tensor(val)


# ---------------------------------------------------------------- folders


def read_folder(
    root: Path, image_size: int | None, channels: int | None, uniform: bool = True
) -> tuple[np.ndarray, list[str]]:
    """Every image under ``root`` as uint8 (N, S, S, C); unreadable files are skipped and listed.

    With ``image_size`` None the images must share one square size (``uniform``), else :class:`DataError`;
    with it, each is resized (bicubic) to that size. Non-square images need ``image_size`` (centre crop).
    """
    files, _, _ = read_files(root)
    arrays, skipped = [], []
    for file in files:
        try:
            img = open_image(file, {1: "L", 3: "RGB", None: None}[channels])
            img.load()
        except Exception as e:  # Pillow raises many types on bad files
            skipped.append(f"{file}: {e}")
            continue
        arrays.append(img)
    if not arrays:
        raise DataError(
            f"none of the {len(files)} image file(s) in {root} could be read", skipped[0] if skipped else ""
        )
    if skipped:
        log.warning("skipped %d unreadable image file(s) in %s, e.g. %s", len(skipped), root, skipped[0])
    sizes = sorted({img.size for img in arrays})
    if image_size is None:
        if len(sizes) > 1 and uniform:
            shown = ", ".join(f"{w}×{h}" for w, h in sizes[:4]) + (" …" if len(sizes) > 4 else "")
            raise DataError(
                f"the images in {root} have {len(sizes)} different sizes ({shown})",
                "heat maps are compared pixel for pixel: give images of one size, or resize them all with "
                "--image-size N (centre-cropped to a square)",
            )
        w, h = sizes[0]
        if w != h:
            raise DataError(f"the images in {root} are {w}×{h}, not square", "give --image-size N (centre crop)")
        image_size = w
    from PIL import ImageOps

    out = [np.asarray(ImageOps.fit(img, (image_size, image_size), method=Image.Resampling.BICUBIC)) for img in arrays]
    out = [a[..., None] if a.ndim == 2 else a for a in out]
    c = channels or (3 if any(a.shape[2] == 3 for a in out) else 1)
    return np.stack([_convert_channels(a[None], c)[0] for a in out]), skipped


def read_files(root: Path) -> tuple[list[Path], list[int], list[str]]:
    """Image files under ``root`` (or ``root`` itself), with a clear error for a missing path."""
    if not root.exists():
        raise DataError(f"path not found: {root}", f"give a folder of images ({root.absolute()})")
    return scan_folder(root)


def resize_masks(masks: np.ndarray, size: int) -> np.ndarray:
    """bool (N, H, W) masks resized (nearest) to (N, size, size)."""
    if masks.shape[1] == masks.shape[2] == size:
        return masks
    return np.stack([np.asarray(Image.fromarray(m).resize((size, size), Image.Resampling.NEAREST)) for m in masks])


def resize_images(images: np.ndarray, size: int | None, channels: int | None) -> np.ndarray:
    """uint8 (N, H, W, C) brought to ``size`` (bicubic) and ``channels`` (None: unchanged)."""
    from genlab.image.data import _resize

    out = _resize(images, size) if size else images
    return _convert_channels(out, channels) if channels else out


# ---------------------------------------------------------------- the one-class protocol


def _oneclass(name: str) -> Loader:
    def load(cfg: AnomalyDataConfig) -> AnomalySet:
        from genlab.core.registry import DATASETS

        spec = DATASETS.get(name)
        train, test = spec("train", cfg.data_dir, cfg.download), spec("test", cfg.data_dir, cfg.download)
        k = cfg.normal_class
        normal = resize_images(train.images[train.labels == k], cfg.image_size, cfg.channels)
        labels = (test.labels != k).astype(np.int64)
        kinds = ["good" if y == k else train.class_names[y] for y in test.labels]
        test_images = resize_images(test.images, cfg.image_size, cfg.channels)
        return AnomalySet(normal, test_images, labels, None, kinds, license=spec.license)

    load.__doc__ = f"The one-class protocol on {name}: one class normal, the nine others anomalous."
    return load


for _source, _name in ONECLASS.items():
    register_source(_source)(_oneclass(_name))
