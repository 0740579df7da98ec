"""Training of the LeNet classifier: a small loop over the model contract, and its command line.

``python -m genlab.image.classifier --dataset mnist`` (see :func:`main`) trains one and saves it
with ``save_pretrained`` under ``--out`` (default: next to the shipped ones).
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import torch

from genlab.core.errors import DataError
from genlab.image.classifier.model import WEIGHTS_DIR, ClassifierConfig, LeNetClassifier, save_classifier


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


def _train_and_test_sets(source: str, data_dir: str | None, seed: int):
    """(x, y, x_test, y_test, class names, description of the test split)."""
    x, y, class_names = _dataset_tensors(source, "train", data_dir)
    try:
        x_test, y_test, _ = _dataset_tensors(source, "test", data_dir)
        return x, y, x_test, y_test, class_names, "test"
    except DataError:
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
        n_test = max(1, len(x) // 10)
        x_test, y_test, x, y = x[order[:n_test]], y[order[:n_test]], x[order[n_test:]], y[order[n_test:]]
        return x, y, x_test, y_test, class_names, f"seeded 10% hold-out of train (seed {seed})"


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
    data a seeded 10% is held out. The loop drives the model contract: the optimizer of
    ``optimizer_groups`` steps on the ``"loss"`` of ``training_losses``. Returns the model and a
    record for its ``config.json`` and model card.
    """
    torch.manual_seed(seed)
    x, y, x_test, y_test, class_names, test_split = _train_and_test_sets(source, data_dir, seed)
    config = ClassifierConfig(
        image_size=x.shape[-1], channels=x.shape[1], num_classes=len(class_names), class_names=class_names, lr=lr
    )
    model = LeNetClassifier(config)
    (spec,) = model.optimizer_groups()
    opt = torch.optim.Adam(spec.params, lr=spec.lr, betas=spec.betas, weight_decay=spec.weight_decay)
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
            loss = model.training_losses((x[idx], y[idx]), spec.name)["loss"]
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
    """Command line: train a classifier and save it next to the shipped ones (or under ``--out``)."""
    p = argparse.ArgumentParser(
        prog="python -m genlab.image.classifier",
        description="Train a LeNet classifier, the feature extractor of FID/KID and label accuracy.",
    )
    p.add_argument("--dataset", required=True, help="mnist, fashion-mnist, or a folder with class sub-folders")
    p.add_argument("--data-dir", default=None, help="folder of standard datasets (default $GENLAB_DATA_DIR)")
    p.add_argument("--name", default=None, help="name of the saved model's folder (default <dataset>-lenet)")
    p.add_argument("--out", default=str(WEIGHTS_DIR), help="folder the model's folder is written in")
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
    path = save_classifier(model, Path(args.out) / name, {**record, "command": command})
    print(f"wrote {path} (test accuracy {record['test_accuracy']:.4f})")
