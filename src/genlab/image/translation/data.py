"""Unpaired data for translation: two image sources, one per domain, never paired.

``source_a`` and ``source_b`` are each a registered image dataset (``builtin:strokes-thin``,
``mnist:test``, …) or an image folder, loaded with :func:`genlab.image.data.load_image_data` at a common
``image_size`` and ``channels``, each split into train and validation with the same seeded shuffle as
every image dataset. ``source`` names a registered pair instead (``builtin:mnist-strokes``, see
:mod:`~genlab.image.translation.strokes`), which fills both.

A training item is ``(image_a, image_b)``, both (C, H, W) in [-1, 1]: the larger domain (A on a tie) is
walked through in the data loader's shuffled order, and the other is drawn uniformly at random, with
replacement, for every item (as Zhu et al.'s reference code does), so no pair is ever fixed and an
epoch is one pass over the larger domain. Validation pairs are fixed (image i of A with image i mod n_B
of B), so validation losses compare across epochs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from pydantic import Field, model_validator
from torch.utils.data import Dataset

from genlab.core.config import Config
from genlab.core.data import DataInfo
from genlab.core.errors import ConfigError
from genlab.image.data import ImageDataConfig, ImageTensorDataset, load_image_data
from genlab.image.translation.strokes import PAIRS, THICK, THIN


class TranslationDataConfig(Config):
    """The two image domains to translate between and how to prepare them."""

    source: str | None = Field(
        None, description="a registered pair of domains that sets source_a and source_b: "
        + ", ".join(PAIRS) + " (thin → thick MNIST strokes)",
    )  # fmt: skip
    source_a: str = Field(THIN, min_length=1, description="domain A: dataset name (optionally :split) or image folder")
    source_b: str = Field(THICK, min_length=1, description="domain B: dataset name (optionally :split) or image folder")
    image_size: int | None = Field(
        None, ge=8, le=512, description="pixels, both domains; None = domain A's native size (64 for folders)"
    )
    channels: Literal[1, 3] | None = Field(
        None, description="both domains; None = native (3 when either domain is colour)"
    )
    val_fraction: float = Field(0.05, ge=0.0, lt=0.5, description="share of each domain held out for validation")
    hflip: bool = Field(False, description="random horizontal flips of training images (both domains)")
    data_dir: str | None = Field(None, description="folder of standard datasets (default $GENLAB_DATA_DIR)")
    split_seed: int = Field(0, description="seed of the shuffle behind max_images and the train/val split")
    max_images: int | None = Field(None, ge=1, description="use at most this many images of each domain")
    download: bool = Field(True, description="download missing standard datasets")

    @model_validator(mode="after")
    def _fill_from_pair(self) -> TranslationDataConfig:
        # ConfigError, not ValueError: pydantic passes it through with its hint
        if self.source is None:
            return self
        if self.source not in PAIRS:
            raise ConfigError(
                f"data.source '{self.source}' is not a registered pair of domains ({', '.join(PAIRS)})",
                "give the two domains with --data-a A --data-b B (datasets or image folders)",
            )
        a, b = PAIRS[self.source]
        given = self.model_fields_set & {"source_a", "source_b"}
        if any(getattr(self, k) != v for k, v in (("source_a", a), ("source_b", b)) if k in given):
            raise ConfigError(
                f"data.source {self.source} sets both domains itself, but data.source_a/source_b are given too",
                "drop --data-a/--data-b, or drop --data",
            )
        # object.__setattr__: validate_assignment would run this validator again
        object.__setattr__(self, "source_a", a)
        object.__setattr__(self, "source_b", b)
        return self


@dataclass
class TranslationDataInfo(DataInfo):
    """What was loaded for both domains; written to the run (``data.json``) and used to fill the model config."""

    source: str  # the pair's name, or "A → B"
    source_a: str
    source_b: str
    channels: int
    image_size: int
    n_train_a: int = 0
    n_train_b: int = 0
    n_val_a: int = 0
    n_val_b: int = 0
    skipped: list[str] = field(default_factory=list)
    split: dict[str, Any] = field(default_factory=dict)


class UnpairedImages(Dataset):
    """Items ``(image_a, image_b)`` from two image datasets that are never paired (see the module docstring).

    ``random_pairs``: draw the smaller domain's image at random for every item (training); otherwise
    pair image i of the larger domain with image i mod n of the other (fixed validation pairs).
    """

    def __init__(self, a: ImageTensorDataset, b: ImageTensorDataset, random_pairs: bool = True):
        self.a, self.b, self.random_pairs = a, b, random_pairs
        self.a_leads = len(a) >= len(b)

    def __len__(self) -> int:
        return max(len(self.a), len(self.b))

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """A whole batch at once (the data loader calls this instead of one ``__getitem__`` per item)."""
        lead, other = (self.a, self.b) if self.a_leads else (self.b, self.a)
        index = torch.as_tensor(indices, dtype=torch.long)
        # the other domain: drawn with the global generator (seeded with the run), or fixed pairs
        other_index = torch.randint(len(other), (len(index),)) if self.random_pairs else index % len(other)
        lead_images = [x for x, _ in lead.__getitems__(index.tolist())]
        other_images = [x for x, _ in other.__getitems__(other_index.tolist())]
        pairs = zip(lead_images, other_images, strict=True)
        return [(x, y) if self.a_leads else (y, x) for x, y in pairs]


def _domain_config(cfg: TranslationDataConfig, source: str, image_size: int | None, channels: int | None):
    values = {
        "source": source, "image_size": image_size, "channels": channels, "val_fraction": cfg.val_fraction,
        "hflip": cfg.hflip, "data_dir": cfg.data_dir, "split_seed": cfg.split_seed, "max_images": cfg.max_images,
        "download": cfg.download,
    }  # fmt: skip
    return ImageDataConfig.build(values, where="data")


def load_domains(cfg: TranslationDataConfig):
    """Both domains at one size and channel count: ``((train_a, val_a, info_a), (train_b, val_b, info_b))``.

    The size is ``image_size``, else domain A's native one; the channels are ``channels``, else 3 when
    either domain is colour (a gray domain is then repeated on three channels).
    """
    a = load_image_data(_domain_config(cfg, cfg.source_a, cfg.image_size, cfg.channels))
    size = a[2].image_size
    b = load_image_data(_domain_config(cfg, cfg.source_b, size, cfg.channels))
    if a[2].channels != b[2].channels:  # only when channels is None: bring the gray domain to colour
        if a[2].channels == 1:
            a = load_image_data(_domain_config(cfg, cfg.source_a, size, 3))
        else:
            b = load_image_data(_domain_config(cfg, cfg.source_b, size, 3))
    return a, b


def load_translation_data(
    cfg: TranslationDataConfig,
) -> tuple[UnpairedImages, UnpairedImages | None, TranslationDataInfo]:
    """(train, val or None, info): unpaired datasets of ``cfg``'s two domains (see the module docstring)."""
    (train_a, val_a, info_a), (train_b, val_b, info_b) = load_domains(cfg)
    val = UnpairedImages(val_a, val_b, random_pairs=False) if val_a is not None and val_b is not None else None
    info = TranslationDataInfo(
        source=cfg.source or f"{cfg.source_a} → {cfg.source_b}",
        source_a=cfg.source_a,
        source_b=cfg.source_b,
        channels=info_a.channels,
        image_size=info_a.image_size,
        n_train_a=info_a.n_train,
        n_train_b=info_b.n_train,
        n_val_a=info_a.n_val if val is not None else 0,
        n_val_b=info_b.n_val if val is not None else 0,
        skipped=info_a.skipped + info_b.skipped,
        split={"a": info_a.split, "b": info_b.split},
    )
    return UnpairedImages(train_a, train_b), val, info


def describe(info: TranslationDataInfo) -> str:
    """One console line (two with skipped files) describing both domains."""
    s, c = info.image_size, info.channels
    line = (
        f"data A {info.source_a}: {info.n_train_a} train / {info.n_val_a} val, "
        f"B {info.source_b}: {info.n_train_b} train / {info.n_val_b} val; unpaired, {s}×{s}×{c}"
    )
    if info.skipped:
        line += f"\n[yellow]skipped {len(info.skipped)} unreadable file(s)[/], e.g. {info.skipped[0]}"
    return line
