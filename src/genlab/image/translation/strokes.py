"""A translation demo with a known answer: thin and thick MNIST strokes, made by grey morphology.

Domain A (``builtin:strokes-thin``) holds digits eroded with a 3×3 square, domain B
(``builtin:strokes-thick``) digits dilated with a 3×3 square (Serra 1982; grey erosion and
dilation are the minimum and maximum over each pixel's 3×3 neighbourhood, pixels outside the
image ignored). Both come from ``builtin:mnist-5k`` (offline), split once with a fixed seed:

* 500 digits are held out of both domains; they are the ``test`` split of both datasets, in the
  same order, so ``thin(x)`` and ``thick(x)`` of a held-out digit ``x`` form a true pair;
* the other 4,500 are cut into two disjoint halves: the ``train`` split of the thin domain is made
  from the first half, the thick one from the second, so a model trained on both never sees a
  digit in both domains (an unpaired problem, as in Zhu et al. 2017).

The true translation of a thin digit is known — ``thick(x)`` of the digit it was made from — so a
translator is scored against it (:mod:`genlab.image.translation.evaluation`), and so is the
hand-made operator that a person would write (5×5 dilation of the thin digit).

``builtin:mnist-strokes`` names the pair: ``--data builtin:mnist-strokes`` fills both domains.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from genlab.image.datasets import DIGIT_NAMES, MNIST_LICENSE, RawImages, image_dataset, load_mnist_5k

THIN, THICK = "builtin:strokes-thin", "builtin:strokes-thick"
#: Names of registered pairs of domains: ``--data NAME`` sets ``data.source_a`` and ``data.source_b``.
PAIRS: dict[str, tuple[str, str]] = {"builtin:mnist-strokes": (THIN, THICK)}
HELD_OUT = 500  # digits of builtin:mnist-5k kept out of both domains: the test split of each
SPLIT_SEED = 0  # the fixed seed of the split above (not a user setting: the datasets must not change)


def erode(images: torch.Tensor, size: int = 3) -> torch.Tensor:
    """Grey erosion of (N, C, H, W) images with a ``size``×``size`` square: the minimum over each neighbourhood."""
    return -F.max_pool2d(-images, size, stride=1, padding=size // 2)


def dilate(images: torch.Tensor, size: int = 3) -> torch.Tensor:
    """Grey dilation of (N, C, H, W) images with a ``size``×``size`` square: the maximum over each neighbourhood."""
    return F.max_pool2d(images, size, stride=1, padding=size // 2)


#: How many 3×3 dilations (+) or erosions (−) make each domain's images from the original digits.
STROKE_STEPS: dict[str, int] = {THIN: -1, THICK: 1}


def morph(images: np.ndarray, steps: int) -> np.ndarray:
    """uint8 images (N, H, W, C) dilated ``steps`` times with a 3×3 square (eroded when ``steps`` < 0)."""
    if steps == 0:
        return images.copy()
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()  # (N, H, W, C) -> (N, C, H, W)
    op: Callable[[torch.Tensor], torch.Tensor] = dilate if steps > 0 else erode
    for _ in range(abs(steps)):
        x = op(x)
    return np.ascontiguousarray(x.permute(0, 2, 3, 1).to(torch.uint8).numpy())  # max/min of uint8 stay exact


def part_indices(n: int) -> dict[str, np.ndarray]:
    """Indices into builtin:mnist-5k (``n`` digits) of the ``test`` digits and of the thin and thick halves."""
    order = np.random.default_rng(SPLIT_SEED).permutation(n)
    test, rest = order[:HELD_OUT], order[HELD_OUT:]
    half = len(rest) // 2
    return {"test": test, THIN: rest[:half], THICK: rest[half:]}


@functools.lru_cache(maxsize=1)
def original_digits() -> RawImages:
    """builtin:mnist-5k as loaded from disk, read once per process (treat the arrays as read-only)."""
    return load_mnist_5k(None, None, False)


@functools.lru_cache(maxsize=1)
def digit_parts() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The original digits of builtin:mnist-5k split by :func:`part_indices`: ``test`` (500), and the disjoint
    halves behind the thin and thick domains; each part is (uint8 images (N, 28, 28, 1), int64 labels (N,))."""
    raw = original_digits()
    return {k: (raw.images[idx], raw.labels[idx]) for k, idx in part_indices(len(raw.images)).items()}


def stroke_split(name: str, split: str) -> RawImages:
    """``split`` of the stroke dataset ``name``: its own half of the digits (train) or the held-out ones (test)."""
    images, labels = digit_parts()["test" if split == "test" else name]
    return RawImages(morph(images, STROKE_STEPS[name]), labels.copy(), DIGIT_NAMES)


@image_dataset(THIN, splits=("train", "test"), license=MNIST_LICENSE)
def load_strokes_thin(split: str, data_dir: str | None, download: bool) -> RawImages:
    """MNIST digits with thin strokes (3×3 grey erosion; offline): domain A of the stroke translation demo."""
    return stroke_split(THIN, split)


@image_dataset(THICK, splits=("train", "test"), license=MNIST_LICENSE)
def load_strokes_thick(split: str, data_dir: str | None, download: bool) -> RawImages:
    """MNIST digits with thick strokes (3×3 grey dilation; offline): domain B of the stroke translation demo."""
    return stroke_split(THICK, split)
