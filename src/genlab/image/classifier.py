"""Small image classifiers used as offline feature extractors for evaluation.

A LeNet-style network (LeCun et al. 1998): two 5×5 conv + max-pool stages, a
128-unit feature layer and a linear classifier. Its feature layer plays the role
Inception-v3's pool features play for FID on natural images, and its class
prediction scores conditional generators (``label_accuracy``).

genlab ships two of them trained by this module (``weights/``): on MNIST and on
Fashion-MNIST. Reproduce one (or train one on your own labelled data) with::

    python -m genlab.image.classifier --dataset mnist --data-dir ../shared/data --out src/genlab/image/weights

which writes ``<name>.safetensors`` and ``<name>.json`` (config, sha256 of the
weights, test accuracy, the command). Loading verifies the sha256 and never unpickles.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field
from safetensors.torch import load_file, save_file
from torch import nn

from genlab.__about__ import __version__
from genlab.core.checkpoint import sha256_file
from genlab.core.config import Config
from genlab.core.errors import CheckpointError, DataError
from genlab.core.io import atomic_write, atomic_write_json

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


class ClassifierConfig(Config):
    """Architecture of a LeNet-style classifier; images are (channels, image_size, image_size) in [-1, 1]."""

    image_size: int = Field(28, ge=12, le=64, description="input height = width, pixels")
    channels: int = Field(1, ge=1, le=3)
    num_classes: int = Field(10, ge=2)
    conv_widths: tuple[int, int] = Field((32, 48), description="channels of the two 5×5 conv layers")
    feature_dim: int = Field(128, ge=8, description="size of the feature layer used by FID/KID/PR")
    class_names: list[str] = Field(default_factory=list)


class LeNetClassifier(nn.Module):
    """conv5×5 → ReLU → pool → conv5×5 → ReLU → pool → linear (features) → ReLU → dropout → linear (logits)."""

    def __init__(self, config: ClassifierConfig):
        super().__init__()
        self.config = config
        c1, c2 = config.conv_widths
        self.conv1 = nn.Conv2d(config.channels, c1, 5)
        self.conv2 = nn.Conv2d(c1, c2, 5)
        side = ((config.image_size - 4) // 2 - 4) // 2  # 28 -> 24 -> 12 -> 8 -> 4
        self.fc = nn.Linear(c2 * side * side, config.feature_dim)
        self.dropout = nn.Dropout(0.5)
        self.head = nn.Linear(config.feature_dim, config.num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Feature-layer activations (B, feature_dim) of images (B, C, H, W) in [-1, 1] (after the ReLU)."""
        h = F.max_pool2d(F.relu(self.conv1(x)), 2)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)
        return F.relu(self.fc(h.flatten(1)))  # (B, c2, side, side) -> (B, c2·side²) -> (B, feature_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (B, num_classes)."""
        return self.head(self.dropout(self.features(x)))


# --------------------------------------------------------------------------- files


def save_classifier(model: LeNetClassifier, directory: Path, name: str, record: dict[str, Any]) -> Path:
    """Write ``<name>.safetensors`` and ``<name>.json`` (config + sha256 + ``record``); returns the weights path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.safetensors"
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    atomic_write(path, lambda tmp: save_file(tensors, tmp))
    meta = {"name": name, "architecture": "lenet", "config": model.config.to_dict(), **record}
    meta |= {"weights": path.name, "sha256": sha256_file(path), "genlab_version": __version__}
    atomic_write_json(directory / f"{name}.json", meta)
    return path


def load_classifier(path: str | Path) -> tuple[LeNetClassifier, dict[str, Any]]:
    """Load a classifier from ``X.safetensors`` with its ``X.json`` beside it, after checking the sha256.

    Returns the model (eval mode) and its metadata (config, sha256, accuracy, …).
    """
    path = Path(path)
    meta_path = path.with_suffix(".json")
    hint = "an extractor is a .safetensors file with a .json of the same name, written by genlab.image.classifier"
    if not path.is_file() or not meta_path.is_file():
        raise CheckpointError(f"extractor files not found: {path} and {meta_path.name}", hint)
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        config = ClassifierConfig.build(meta["config"], where="extractor config")
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise CheckpointError(f"{meta_path} is not a classifier config: {e}", hint) from None
    if meta.get("architecture", "lenet") != "lenet":
        raise CheckpointError(f"{meta_path}: unknown architecture '{meta['architecture']}'", "supported: lenet")
    digest = sha256_file(path)
    if meta.get("sha256") and digest != meta["sha256"]:
        raise CheckpointError(
            f"{path} does not match the sha256 in {meta_path.name}: the weights were modified or truncated",
            "restore the file (reinstall genlab for the shipped extractors) or retrain it",
        )
    model = LeNetClassifier(config)
    try:
        model.load_state_dict(load_file(str(path)), strict=True)
    except (RuntimeError, OSError, ValueError) as e:
        raise CheckpointError(f"cannot load {path}: {str(e).splitlines()[0]}", hint) from None
    meta["sha256"] = digest
    return model.eval(), meta


# --------------------------------------------------------------------------- training


def _dataset_tensors(source: str, split: str, data_dir: str | None) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """All images of a dataset split (or a class-labelled folder) as float (N, C, H, W) in [-1, 1] and labels."""
    from genlab.core.registry import DATASETS
    from genlab.image.data import ImageDataConfig, load_image_data, parse_source, to_pixels

    name, _ = parse_source(source)
    full = f"{name}:{split}" if name in DATASETS and split else source
    cfg = ImageDataConfig.build({"source": full, "val_fraction": 0.0, "data_dir": data_dir, "download": False})
    data, _, info = load_image_data(cfg)
    if info.num_classes < 2:
        raise DataError(f"{source} has no labels", "a classifier needs labelled data (class sub-folders, mnist, …)")
    return to_pixels(data.images), data.labels, info.class_names


def evaluate_accuracy(model: LeNetClassifier, images: torch.Tensor, labels: torch.Tensor, batch: int = 1000) -> float:
    """Top-1 accuracy of ``model`` on images (N, C, H, W) in [-1, 1]."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(images), batch):
            correct += int((model(images[i : i + batch]).argmax(1) == labels[i : i + batch]).sum())
    return correct / len(images)


def train_classifier(
    source: str,
    data_dir: str | None = None,
    epochs: int = 6,
    batch_size: int = 128,
    lr: float = 2e-3,
    seed: int = 0,
    log=print,
) -> tuple[LeNetClassifier, dict[str, Any]]:
    """Train a LeNet classifier on ``source``'s train split (Adam, cosine decay); report test accuracy.

    Registered datasets with a ``test`` split (mnist, fashion-mnist) are scored on it; for other
    data a seeded 10% is held out. Returns the model and a record for its metadata file.
    """
    torch.manual_seed(seed)
    x, y, class_names = _dataset_tensors(source, "train", data_dir)
    try:
        x_test, y_test, _ = _dataset_tensors(source, "test", data_dir)
        test_split = "test"
    except DataError:
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
        n_test = max(1, len(x) // 10)
        x_test, y_test, x, y = x[order[:n_test]], y[order[:n_test]], x[order[n_test:]], y[order[n_test:]]
        test_split = f"seeded 10% hold-out of train (seed {seed})"
    config = ClassifierConfig(
        image_size=x.shape[-1], channels=x.shape[1], num_classes=len(class_names), class_names=class_names
    )
    model = LeNetClassifier(config)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * (len(x) // batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    g = torch.Generator().manual_seed(seed)
    t0 = time.monotonic()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x), generator=g)
        total = 0.0
        for i in range(0, len(x) - batch_size + 1, batch_size):
            idx = order[i : i + batch_size]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        acc = evaluate_accuracy(model, x_test, y_test)
        log(f"epoch {epoch + 1}/{epochs}: train loss {total / len(x):.4f}, {test_split} accuracy {acc:.4f}")
    record = {
        "dataset": source,
        "test_split": test_split,
        "test_accuracy": round(evaluate_accuracy(model, x_test, y_test), 5),
        "n_train": len(x),
        "n_test": len(x_test),
        "recipe": {"epochs": epochs, "batch_size": batch_size, "lr": lr, "schedule": "cosine", "seed": seed},
        "train_seconds": round(time.monotonic() - t0, 1),
        "torch_version": torch.__version__,
    }
    return model.eval(), record


def main(argv: list[str] | None = None) -> None:
    """Command line: train a classifier and write it next to the shipped ones (or to ``--out``)."""
    p = argparse.ArgumentParser(prog="python -m genlab.image.classifier", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", required=True, help="mnist, fashion-mnist, or a folder with class sub-folders")
    p.add_argument("--data-dir", default=None, help="folder of standard datasets (default $GENLAB_DATA_DIR)")
    p.add_argument("--name", default=None, help="file stem (default <dataset>-lenet)")
    p.add_argument("--out", default=str(WEIGHTS_DIR), help="output folder")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, record = train_classifier(args.dataset, args.data_dir, args.epochs, args.batch_size, args.lr, args.seed)
    name = args.name or f"{Path(args.dataset).name.split(':')[0]}-lenet"
    command = " ".join(shlex.quote(a) for a in ["python", "-m", "genlab.image.classifier", *(argv or sys.argv[1:])])
    path = save_classifier(model, Path(args.out), name, {**record, "command": command})
    print(f"wrote {path} (test accuracy {record['test_accuracy']:.4f})")


if __name__ == "__main__":
    main()
