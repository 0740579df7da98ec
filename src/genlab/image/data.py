"""Image data for training and evaluation: config, loading, split, and the in-memory dataset.

``source`` is a registered dataset name (``builtin:mnist-5k``, ``mnist:test``; see
:mod:`genlab.image.datasets`) or the path of an image folder. Everything is loaded
once into memory as uint8 at the final size and channel count (Pillow, bicubic), so
an epoch costs no decoding; items are converted to float in [-1, 1] on access.
A registered name wins over a folder of the same name (write ``./mnist`` for the folder).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image, ImageOps
from pydantic import Field
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch.utils.data import Dataset

from genlab.core.config import Config
from genlab.core.console import console, is_rank_zero
from genlab.core.data import DataInfo, parse_source  # noqa: F401  (re-exported: image callers import it here)
from genlab.core.errors import ConfigError, DataError, unknown_name
from genlab.core.registry import DATASETS

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
FOLDER_IMAGE_SIZE = 64  # default size for folders, whose images have no common native size
PROGRESS_MIN_FILES = 500  # show a progress bar when a folder has more image files than this
GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}


class ImageDataConfig(Config):
    """Which images to train on and how to prepare them."""

    source: str = Field("builtin:mnist-5k", min_length=1, description="dataset name (optionally :split) or folder")
    image_size: int | None = Field(None, ge=8, le=512, description="pixels; None = native (64 for folders)")
    channels: Literal[1, 3] | None = Field(None, description="None = native (folders: 3 if any image is colour)")
    val_fraction: float = Field(0.05, ge=0.0, lt=0.5, description="share held out for validation")
    hflip: bool = Field(False, description="random horizontal flips of training images")
    data_dir: str | None = Field(None, description="folder of standard datasets (default $GENLAB_DATA_DIR)")
    split_seed: int = Field(0, description="seed of the shuffle behind max_images and the train/val split")
    max_images: int | None = Field(None, ge=1, description="use at most this many images (after a seeded shuffle)")
    download: bool = Field(True, description="download missing standard datasets")


@dataclass
class ImageDataInfo(DataInfo):
    """What was loaded; written to the run (``data.json``) and used to fill the model config."""

    source: str
    channels: int
    image_size: int
    num_classes: int
    class_names: list[str] = field(default_factory=list)
    n_train: int = 0
    n_val: int = 0
    skipped: list[str] = field(default_factory=list)
    split: dict[str, Any] = field(default_factory=dict)


def describe_image_data(info: ImageDataInfo) -> str:
    """One console line (two with skipped files) describing loaded image data."""
    labels = f"{info.num_classes} classes" if info.num_classes else "unlabelled"
    line = (
        f"data {info.source}: {info.n_train} train / {info.n_val} val images, "
        f"{info.image_size}×{info.image_size}×{info.channels}, {labels}"
    )
    if info.skipped:
        line += f"\n[yellow]skipped {len(info.skipped)} unreadable file(s)[/], e.g. {info.skipped[0]}"
    return line


def fill_from_data(values: dict[str, Any], extra: dict[str, Any], info: ImageDataInfo) -> dict[str, Any]:
    """Model config ``values`` with the data's ``image_size`` and ``channels`` (and ``extra``) filled in.

    An explicit model size or channel count that differs from the data is refused: it is set on the data.
    """
    from_data = {"image_size": info.image_size, "channels": info.channels}
    for key, value in from_data.items():
        if key in values and values[key] != value:
            raise ConfigError(
                f"model.{key}={values[key]} does not match the data ({key}={value})",
                f"set it on the data instead (--{key.replace('_', '-')} {values[key]}) or drop the override",
            )
    return {**values, **from_data, **extra}


def to_pixels(images: torch.Tensor) -> torch.Tensor:
    """uint8 images (any shape) as float32 in [-1, 1], the range every genlab image model works in."""
    return images.float().div(127.5).sub_(1.0)  # div makes a copy: the input is never changed


class ImageTensorDataset(Dataset):
    """Images held in memory: uint8 (N, C, H, W) and int64 labels (N,).

    An item is ``(image, label)``: a float tensor (C, H, W) in [-1, 1] (flipped left-right
    with probability 0.5 when ``hflip``) and a long scalar.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, hflip: bool = False):
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
        if labels.shape != images.shape[:1]:
            raise ValueError(f"got {len(labels)} labels for {len(images)} images")
        self.images = images
        self.labels = labels.long()
        self.hflip = hflip

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """A whole batch in a few tensor operations (``DataLoader`` calls this instead of one
        ``__getitem__`` per item, which costs more than the model step for small networks)."""
        index = torch.as_tensor(indices, dtype=torch.long)
        images = to_pixels(self.images[index])
        if self.hflip:
            flip = torch.rand(len(index)) < 0.5
            images[flip] = images[flip].flip(-1)
        return list(zip(images.unbind(0), self.labels[index].unbind(0), strict=True))


@dataclass
class _Loaded:
    images: np.ndarray  # uint8 (N, H, W, C), already shuffled and capped
    labels: np.ndarray  # int64 (N,)
    class_names: list[str]
    skipped: list[str] = field(default_factory=list)


def load_image_data(cfg: ImageDataConfig) -> tuple[ImageTensorDataset, ImageTensorDataset | None, ImageDataInfo]:
    """Load ``cfg.source`` and split it (seeded) into train and validation sets (None when val_fraction is 0)."""
    loaded = _load(cfg)
    n = len(loaded.images)
    n_val = 0 if cfg.val_fraction == 0 or n < 2 else min(n - 1, max(1, round(n * cfg.val_fraction)))
    # (N, H, W, C) -> (N, C, H, W)
    images = torch.from_numpy(np.ascontiguousarray(loaded.images.transpose(0, 3, 1, 2)))
    labels = torch.from_numpy(loaded.labels.astype(np.int64))
    # The rows are already in seeded-shuffle order, so the first n_val form a random validation set.
    train = ImageTensorDataset(images[n_val:], labels[n_val:], hflip=cfg.hflip)
    val = ImageTensorDataset(images[:n_val], labels[:n_val]) if n_val else None
    split = {"method": "random", "val_fraction": cfg.val_fraction, "seed": cfg.split_seed}
    info = ImageDataInfo(
        source=cfg.source,
        channels=int(images.shape[1]),
        image_size=int(images.shape[2]),
        num_classes=len(loaded.class_names),
        class_names=list(loaded.class_names),
        n_train=n - n_val,
        n_val=n_val,
        skipped=loaded.skipped,
        split={**split, "n_train": n - n_val, "n_val": n_val},
    )
    return train, val, info


def load_images(
    source: str,
    image_size: int | None,
    channels: Literal[1, 3] | None,
    n: int,
    data_dir: str | None = None,
    split: str | None = None,
    seed: int = 0,
    download: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Up to ``n`` real images (a seeded random choice) as float (n, C, H, W) in [-1, 1], with long labels (n,).

    ``split`` overrides the split named in ``source`` (registered datasets only).
    """
    if split is not None:
        name, _ = parse_source(source)
        if name not in DATASETS:
            raise DataError(f"'{source}' is not a registered dataset, so it has no split '{split}'", "drop the split")
        source = f"{name}:{split}"
    values = {"source": source, "image_size": image_size, "channels": channels, "val_fraction": 0.0}
    values |= {"max_images": n, "data_dir": data_dir, "split_seed": seed, "download": download}
    train, _, _ = load_image_data(ImageDataConfig.build(values, where="data"))
    return to_pixels(train.images), train.labels.clone()


def load_image_files(path: str | Path, image_size: int, channels: Literal[1, 3]) -> tuple[torch.Tensor, list[str]]:
    """An image file, or every image under a folder (sorted, searched recursively), in file order.

    Returns images as float (N, C, H, W) in [-1, 1], resized and centre-cropped to ``image_size`` with
    ``channels``, and their paths (relative to the folder; the file name for one file). Unreadable files
    are left out; none readable raises a DataError.
    """
    root = Path(path).expanduser()
    if not root.exists():
        raise DataError(f"path not found: {path}", f"give an image file or a folder of images ({root.absolute()})")
    if root.is_file() and root.suffix.lower() not in IMAGE_EXTENSIONS:
        raise DataError(f"{root} is not an image file", f"supported extensions: {', '.join(IMAGE_EXTENSIONS)}")
    files, _, _ = scan_folder(root)
    mode = "L" if channels == 1 else "RGB"
    arrays, names, first_error = [], [], ""
    for file in files:
        try:
            arrays.append(_read_image(file, image_size, mode))
        except Exception as e:  # Pillow raises many types on bad files
            first_error = first_error or f"{file.name}: {e}"
            continue
        names.append(file.name if root.is_file() else file.relative_to(root).as_posix())
    if not arrays:
        raise DataError(
            f"none of the {len(files)} image file(s) in {root} could be read", f"first error: {first_error}"
        )
    if len(arrays) < len(files):
        log.warning("skipped %d unreadable image file(s) in %s", len(files) - len(arrays), root)
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
    return to_pixels(images), names


def _load(cfg: ImageDataConfig) -> _Loaded:
    """Resolve ``cfg.source`` to a registered dataset or a path and load it."""
    name, split = parse_source(cfg.source)
    if name in DATASETS:
        return _load_registered(name, split, cfg)
    path = Path(cfg.source).expanduser()
    if path.is_dir() or (path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS):
        return _load_folder(path, cfg)
    if path.is_file():
        raise DataError(
            f"{path} is neither an image nor a folder of images",
            f"give a folder (searched recursively) or an image file ({', '.join(IMAGE_EXTENSIONS)})",
        )
    if any(sep in cfg.source for sep in "/\\") or cfg.source.startswith((".", "~")):
        raise DataError(f"path not found: {cfg.source}", f"check the path (it resolves to {path.absolute()})")
    err = unknown_name("dataset", cfg.source, DATASETS.names(modality="image"))
    err.hint = f"{err.hint}; or give the path of an image folder"
    raise err


def _seeded_order(n: int, seed: int, cap: int | None) -> np.ndarray:
    """A seeded permutation of range(n), cut to ``cap`` items."""
    order = np.random.default_rng(seed).permutation(n)
    return order[:cap] if cap else order


def _load_registered(name: str, split: str | None, cfg: ImageDataConfig) -> _Loaded:
    spec = DATASETS.get(name)
    if spec.modality != "image":
        image_datasets = ", ".join(DATASETS.names(modality="image"))
        raise DataError(f"'{name}' is not an image dataset", "image datasets: " + image_datasets)
    raw = spec(split, cfg.data_dir, cfg.download)
    order = _seeded_order(len(raw.images), cfg.split_seed, cfg.max_images)
    size = cfg.image_size or spec.extras.get("native_size") or raw.images.shape[1]
    images = _resize(raw.images[order], size)
    images = _convert_channels(images, cfg.channels or images.shape[3])
    return _Loaded(images, raw.labels[order], list(raw.class_names))


def _resize(images: np.ndarray, size: int) -> np.ndarray:
    """Resize square uint8 images (N, H, W, C) to (N, size, size, C), bicubic; unchanged if already that size."""
    n, h, w, c = images.shape
    if h == w == size:
        return images
    out = np.empty((n, size, size, c), dtype=np.uint8)
    for i, image in enumerate(images):
        pil = Image.fromarray(image[..., 0] if c == 1 else image)
        out[i] = np.asarray(pil.resize((size, size), Image.Resampling.BICUBIC)).reshape(size, size, c)
    return out


def _convert_channels(images: np.ndarray, channels: int) -> np.ndarray:
    """uint8 (N, H, W, C) -> (N, H, W, channels): gray is repeated; colour becomes luma (Pillow's "L" weights)."""
    c = images.shape[3]
    if c == channels:
        return images
    if channels == 3:
        return np.repeat(images, 3, axis=3)
    rgb = images.astype(np.uint32)
    luma = (rgb[..., 0] * 19595 + rgb[..., 1] * 38470 + rgb[..., 2] * 7471 + 0x8000) >> 16  # ITU-R 601-2
    return luma.astype(np.uint8)[..., None]


# ---------------------------------------------------------------- image folders


def scan_folder(root: Path) -> tuple[list[Path], list[int], list[str]]:
    """Image files under ``root`` (sorted, hidden paths ignored), their labels, and the class names.

    Labels come from first-level sub-folders when every image is in one and there are at least two.
    """
    if root.is_file():
        return [root], [0], []
    files, others = [], 0
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        if path.suffix.lower() in IMAGE_EXTENSIONS:
            files.append(path)
        else:
            others += 1
    if not files:
        raise DataError(
            f"no images found in {root} ({others} other file{'s' if others != 1 else ''} found)",
            f"supported extensions: {', '.join(IMAGE_EXTENSIONS)} (any case); sub-folders are searched too",
        )
    tops = [path.relative_to(root).parts for path in files]
    class_names = sorted({parts[0] for parts in tops})
    if len(class_names) < 2 or any(len(parts) < 2 for parts in tops):
        return files, [0] * len(files), []
    index = {name: i for i, name in enumerate(class_names)}
    return files, [index[parts[0]] for parts in tops], class_names


def _load_folder(root: Path, cfg: ImageDataConfig) -> _Loaded:
    """Read an image folder (or one image file); unreadable files are skipped and listed."""
    files, labels, class_names = scan_folder(root)
    size = cfg.image_size or FOLDER_IMAGE_SIZE
    mode = {1: "L", 3: "RGB", None: None}[cfg.channels]
    target = min(len(files), cfg.max_images or len(files))
    arrays: list[np.ndarray] = []
    kept: list[int] = []
    skipped: list[str] = []
    first_error = ""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    quiet = len(files) <= PROGRESS_MIN_FILES or not is_rank_zero()
    with Progress(*columns, console=console, disable=quiet, transient=True) as progress:
        task = progress.add_task(f"loading images from {root}", total=target)
        for i in _seeded_order(len(files), cfg.split_seed, None):
            if len(arrays) == target:
                break
            try:
                arrays.append(_read_image(files[i], size, mode))
                kept.append(labels[i])
            except Exception as e:  # Pillow raises many types (OSError, ValueError, SyntaxError, …) on bad files
                skipped.append(str(files[i]))
                first_error = first_error or f"{files[i].name}: {e}"
            progress.advance(task)
    if not arrays:
        raise DataError(
            f"none of the {len(files)} image file(s) in {root} could be read",
            f"they look corrupt or are not really images (first error: {first_error})",
        )
    if skipped:
        log.warning("skipped %d unreadable image file(s) in %s, e.g. %s", len(skipped), root, skipped[0])
    channels = cfg.channels or (3 if any(a.shape[2] == 3 for a in arrays) else 1)
    images = np.stack([_convert_channels(a[None], channels)[0] for a in arrays])
    return _Loaded(images, np.asarray(kept, dtype=np.int64), class_names, skipped)


def _read_image(path: Path, size: int, mode: str | None) -> np.ndarray:
    """One image file -> uint8 (size, size, C): EXIF-rotated, shorter side resized (bicubic), centre-cropped.

    ``mode`` is "L" or "RGB", or None to keep the file's own (gray stays gray, everything else is RGB).
    """
    img = open_image(path, mode, draft=(2 * size, 2 * size))  # JPEG: decoded at ≥ 2× the target only
    img = ImageOps.fit(img, (size, size), method=Image.Resampling.BICUBIC)
    array = np.asarray(img, dtype=np.uint8)
    return array[..., None] if array.ndim == 2 else array


def open_image(path: str | Path, mode: str | None = None, draft: tuple[int, int] | None = None) -> Image.Image:
    """An image file as an 8-bit "L" or "RGB" PIL image (``mode`` None: gray stays gray, anything else is
    RGB), EXIF-rotated, at full size (``draft``: a JPEG may be decoded at a reduced scale down to that size)."""
    with Image.open(path) as img:
        if draft:
            img.draft(mode, draft)
        img = ImageOps.exif_transpose(img)
        return _flatten(img, mode or ("L" if img.mode in GRAY_MODES else "RGB"))


def _flatten(img: Image.Image, mode: str) -> Image.Image:
    """Convert to 8-bit ``mode`` ("L" or "RGB"): high bit depths rescaled, transparency composited onto white."""
    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        values = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or values.max() > 255 else 255.0
        if img.mode == "F" and values.max() <= 1.0:
            top = 1.0
        img = Image.fromarray(np.clip(np.round(values * (255.0 / top)), 0, 255).astype(np.uint8))
    if img.mode == "P" or img.mode in ALPHA_MODES or "transparency" in img.info:
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return img.convert(mode)
