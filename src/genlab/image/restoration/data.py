"""Data for restoration: whole photos from folders, cut into training patches on the fly.

A :class:`PatchDataset` draws a random photo (weighted by its area), a random ``patch_size`` crop, a
random flip/rotation, and degrades it with the task's degradation (bicubic downscaling, noise, a
mask) into an ``(input, target)`` pair of float tensors in [0, 1]. Validation uses fixed patches
cut once from held-out photos, so its loss is comparable from epoch to epoch.

Sources: a folder (searched recursively; unreadable files are skipped and counted), one image
file, or ``builtin:photos`` — the photographs bundled with scikit-image (no download).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field
from torch.utils.data import Dataset

from genlab.core.config import Config
from genlab.core.data import DataInfo
from genlab.core.errors import DataError
from genlab.core.optional import require
from genlab.image.data import open_image, scan_folder
from genlab.image.restoration.color import rgb_to_y

log = logging.getLogger(__name__)

#: scikit-image's bundled photographs (offline; grayscale ones stay grayscale)
SKIMAGE_PHOTOS = (
    "astronaut", "brick", "camera", "cat", "coffee", "coins", "grass", "gravel", "hubble_deep_field",
    "immunohistochemistry", "moon", "page", "rocket", "text", "clock",
)  # fmt: skip
BUILTIN = "builtin:photos"

#: A degradation: clean patch (C, H, W) in [0, 1] → (input, target) tensors (input may be a tuple).
Degradation = Callable[[torch.Tensor, torch.Generator | None], tuple[Any, torch.Tensor]]


class RestorationDataConfig(Config):
    """Which photos to train on, how to cut them into patches and how to hold some out."""

    source: str = Field(BUILTIN, min_length=1, description="folder or image file of clean photos, or builtin:photos")
    val_source: str | None = Field(None, description="folder of validation photos (default: hold out val_fraction)")
    color: Literal["rgb", "y", "gray"] = Field(
        "rgb", description="rgb: 3 channels; y: the luma of colour photos (BT.601); gray: grayscale photos"
    )
    patch_size: int = Field(96, ge=8, le=1024, description="side of the clean training patches, pixels")
    patches_per_epoch: int = Field(6400, ge=1, description="random patches that make one epoch")
    augment: bool = Field(True, description="random flips and 90° rotations of the patches")
    val_fraction: float = Field(0.1, ge=0.0, lt=0.9, description="share of the photos held out for validation")
    val_patches: int = Field(64, ge=0, description="fixed validation patches cut from the held-out photos")
    max_images: int | None = Field(None, ge=1, description="use at most this many photos (after a seeded shuffle)")
    split_seed: int = Field(0, description="seed of the shuffle behind the split and the validation patches")


@dataclass
class RestorationDataInfo(DataInfo):
    """What was loaded; written to the run and used to fill the model config."""

    source: str
    channels: int
    color: str
    n_train: int = 0
    n_val: int = 0
    patch_size: int = 0
    skipped: list[str] = field(default_factory=list)
    val_source: str | None = None
    val_images: list[str] = field(default_factory=list)  # the held-out photos (paths, or built-in names)
    extra: dict[str, Any] = field(default_factory=dict)  # the task's degradation settings (scale, sigma)


def channels_of(color: str) -> int:
    return 3 if color == "rgb" else 1


def to_tensor(img, color: str) -> torch.Tensor:
    """A PIL image → float (C, H, W) in [0, 1] in the chosen ``color`` (y: BT.601 luma of RGB; auto: gray
    images stay gray, the others are RGB)."""
    if color == "gray":
        img = img.convert("L")
    elif img.mode != "RGB" and not (color == "auto" and img.mode == "L"):
        img = img.convert("RGB")
    array = np.asarray(img, dtype=np.uint8)
    x = torch.from_numpy(array.copy()).float().div(255)
    x = x.unsqueeze(0) if x.dim() == 2 else x.permute(2, 0, 1)
    return rgb_to_y(x) if color == "y" else x


def read_photo(path: str | Path, color: str = "rgb") -> torch.Tensor:
    """One image file → float (C, H, W) in [0, 1]; a missing or unreadable file is a DataError with a hint."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"image {path} not found", "check the path")
    try:
        img = open_image(path)
    except Exception as e:  # Pillow raises several types on bad files
        raise DataError(
            f"cannot read {path}: {e}", "give a PNG, JPEG, WebP or BMP image (the file may be corrupt)"
        ) from None
    return to_tensor(img, color)


def _skimage_array(name: str) -> np.ndarray:
    """scikit-image's bundled photograph ``name`` as uint8 (H, W) or (H, W, 3)."""
    require("skimage", "image")
    import skimage.data

    array = np.asarray(getattr(skimage.data, name)())
    if array.dtype != np.uint8:
        array = (array / max(array.max(), 1) * 255).round().astype(np.uint8)
    return array[..., :3] if array.ndim == 3 and array.shape[2] == 4 else array


def skimage_photo(name: str, color: str = "rgb") -> torch.Tensor:
    """One of scikit-image's bundled photographs as (C, H, W) in [0, 1] in ``color`` (no download)."""
    from PIL import Image

    return to_tensor(Image.fromarray(_skimage_array(name)), color)


def builtin_photos(color: str) -> tuple[list[torch.Tensor], list[str]]:
    """scikit-image's bundled photographs (color ones converted to ``color``; gray ones kept gray for
    ``gray``/``y``, and skipped for ``rgb``)."""
    from PIL import Image

    photos, names = [], []
    for name in SKIMAGE_PHOTOS:
        array = _skimage_array(name)
        if array.ndim == 2 and color == "rgb":
            continue
        photos.append(to_tensor(Image.fromarray(array), color))
        names.append(name)
    return photos, names


def load_photos(source: str, color: str, max_images: int | None = None, seed: int = 0) -> tuple[list, list, list]:
    """(photos, names, skipped) of a folder, an image file or ``builtin:photos``, in a seeded order."""
    if source == BUILTIN:
        photos, names = builtin_photos(color)
        skipped: list[str] = []
    else:
        root = Path(source).expanduser()
        if not root.exists():
            raise DataError(f"{source} not found", f"give a folder of images, an image file, or {BUILTIN}")
        files, _, _ = scan_folder(root)
        photos, names, skipped = [], [], []
        for path in files:
            try:
                photos.append(read_photo(path, color))
                names.append(str(path))
            except DataError:
                skipped.append(str(path))
        if skipped:
            log.warning("skipped %d unreadable image file(s) in %s, e.g. %s", len(skipped), root, skipped[0])
        if not photos:
            raise DataError(f"none of the {len(files)} image file(s) in {root} could be read", "are they images?")
    order = np.random.default_rng(seed).permutation(len(photos))[: max_images or len(photos)]
    return [photos[i] for i in order], [names[i] for i in order], skipped


def random_patch(photo: torch.Tensor, size: int, generator: torch.Generator | None, augment: bool) -> torch.Tensor:
    """A ``size``×``size`` crop of ``photo`` (C, H, W) at a random place, randomly flipped/rotated."""
    _, h, w = photo.shape
    top = int(torch.randint(h - size + 1, (1,), generator=generator))
    left = int(torch.randint(w - size + 1, (1,), generator=generator))
    patch = photo[:, top : top + size, left : left + size]
    if augment:
        k, flip = torch.randint(4, (2,), generator=generator).tolist()
        patch = torch.rot90(patch, k, dims=(1, 2))
        if flip % 2:
            patch = patch.flip(2)
    return patch.contiguous()


class PatchDataset(Dataset):
    """``patches`` random (input, target) pairs a epoch, cut from ``photos`` and degraded on the fly.

    Photos are drawn with probability proportional to their area, so every pixel is equally likely.
    Randomness comes from torch's global generator (seeded by the engine), so a seeded run repeats.
    """

    def __init__(self, photos: list[torch.Tensor], patch_size: int, degrade: Degradation, patches: int,
                 augment: bool = True):  # fmt: skip
        usable = [p for p in photos if min(p.shape[-2:]) >= patch_size]
        if not usable:
            sizes = ", ".join(f"{p.shape[-1]}×{p.shape[-2]}" for p in photos[:3])
            raise DataError(
                f"no photo is at least {patch_size}×{patch_size} pixels (e.g. {sizes})",
                "lower --patch-size or give larger photos",
            )
        self.photos, self.patch_size, self.degrade = usable, patch_size, degrade
        self.patches, self.augment = patches, augment
        self.weights = torch.tensor([float(p.shape[-1] * p.shape[-2]) for p in usable])

    def __len__(self) -> int:
        return self.patches

    def __getitem__(self, index: int):
        photo = self.photos[int(torch.multinomial(self.weights, 1))]
        return self.degrade(random_patch(photo, self.patch_size, None, self.augment), None)


class FixedPatches(Dataset):
    """Validation pairs cut and degraded once, with a seeded generator: the same every epoch and run."""

    def __init__(self, photos: list[torch.Tensor], patch_size: int, degrade: Degradation, count: int, seed: int):
        gen = torch.Generator().manual_seed(seed)
        usable = [p for p in photos if min(p.shape[-2:]) >= patch_size] or photos
        self.items = []
        for i in range(count):
            photo = usable[i % len(usable)]
            size = min(patch_size, *photo.shape[-2:])
            self.items.append(degrade(random_patch(photo, size, gen, augment=False), gen))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        return self.items[index]


def load_restoration_data(cfg: RestorationDataConfig, degrade: Degradation, multiple: int = 1):
    """(train, val or None, info): patch datasets of ``cfg`` with the task's ``degrade``; ``multiple``:
    patch sides are rounded down to a multiple of it (the scale of super-resolution)."""
    photos, names, skipped = load_photos(cfg.source, cfg.color, cfg.max_images, cfg.split_seed)
    size = cfg.patch_size - cfg.patch_size % multiple
    if cfg.val_source:
        val_photos, val_names, _ = load_photos(cfg.val_source, cfg.color, None, cfg.split_seed)
        train_photos = photos
    else:
        n_val = int(round(len(photos) * cfg.val_fraction)) if len(photos) > 1 and cfg.val_patches else 0
        val_photos, train_photos, val_names = photos[:n_val], photos[n_val:], names[:n_val]
    train = PatchDataset(train_photos, size, degrade, cfg.patches_per_epoch, cfg.augment)
    val = FixedPatches(val_photos, size, degrade, cfg.val_patches, cfg.split_seed) if val_photos else None
    if val is not None and len(val) == 0:
        val = None
    info = RestorationDataInfo(
        source=cfg.source, channels=channels_of(cfg.color), color=cfg.color, n_train=len(train.photos),
        n_val=len(val_photos), patch_size=size, skipped=skipped, val_source=cfg.val_source, val_images=val_names,
    )  # fmt: skip
    return train, val, info


def describe(info: RestorationDataInfo) -> str:
    held = f", {info.n_val} held out" if info.n_val else ""
    bad = f", {len(info.skipped)} unreadable skipped" if info.skipped else ""
    return f"{info.n_train} photos from {info.source}{held}{bad}; {info.color}, patches of {info.patch_size} px"
