"""``python -m genlab.image.classifier``: train a LeNet classifier through the engine and save it with its record.

It runs ``genlab.train("image-classification", "lenet-classifier", …)`` (Adam, cosine learning-rate
decay, seeded shuffles) into a runs directory, scores the test accuracy with the task's evaluation,
and saves the model under ``--out`` with ``save_pretrained``: the record (dataset, test accuracy,
recipe, the command) goes into ``config.json`` and the model card. Registered datasets with a
``test`` split (mnist, fashion-mnist) train on all of ``train`` and are scored on ``test``; other
data holds out a seeded 10% as the validation split it is scored on.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from genlab.image.classifier.model import TASK, WEIGHTS_DIR, LeNetClassifier, save_classifier

HOLD_OUT = 0.1  # share of the data held out for the accuracy when the dataset has no test split


def _has_test_split(source: str) -> bool:
    from genlab.core.registry import DATASETS
    from genlab.image.data import parse_source

    name, _ = parse_source(source)
    return name in DATASETS and "test" in DATASETS.get(name).splits


def train_classifier(
    source: str,
    data_dir: str | None = None,
    epochs: int = 6,
    batch_size: int = 128,
    lr: float = 2e-3,
    seed: int = 0,
    image_size: int | None = None,
    runs_dir: str | Path | None = None,
    name: str = "lenet",
    threads: int | None = None,
    progress: bool = True,
) -> tuple[LeNetClassifier, dict[str, Any]]:
    """Train a LeNet classifier on ``source`` with the engine; score its test accuracy.

    The run goes to ``runs_dir/image-classification/<name>`` (a temporary directory when None).
    ``seed`` seeds the weights, the shuffles and the hold-out. Returns the trained model and a record
    for its ``config.json`` and model card (dataset, test split and accuracy, sizes, recipe, time).
    """
    import genlab
    from genlab.core.model import GenerativeModel
    from genlab.image.data import parse_source

    with tempfile.TemporaryDirectory(prefix="genlab-classifier-") as tmp:
        split_test = _has_test_split(source)
        data = f"{parse_source(source)[0]}:train" if split_test else source
        val_fraction = 0.0 if split_test else HOLD_OUT
        data_options = {"data_dir": data_dir, "image_size": image_size, "val_fraction": val_fraction}
        data_options |= {"split_seed": seed, "download": False}
        t0 = time.monotonic()
        result = genlab.train(
            TASK, "lenet-classifier", data, name, runs_dir=runs_dir or tmp, epochs=epochs, batch_size=batch_size,
            seed=seed, threads=threads, progress=progress, sample_every=0, data_options=data_options,
            model_options={"lr": lr},
        )  # fmt: skip
        seconds = time.monotonic() - t0
        scored = genlab.evaluate(result.run.path, "accuracy", data_dir=data_dir)
        model = GenerativeModel.from_pretrained(result.run.model_dir)
    protocol = scored["protocol"]
    record = {
        "dataset": source,
        "test_split": "test" if split_test else f"seeded {val_fraction:.0%} hold-out of train (seed {seed})",
        "test_accuracy": round(scored["metrics"]["accuracy"], 5),
        "n_train": model.provenance.data.get("n_train"),
        "n_test": protocol["n_reference"],
        "recipe": {
            "epochs": epochs,
            "batch_size": batch_size,
            "lr": lr,
            "schedule": model.config.schedule,
            "seed": seed,
        },
        "train_seconds": round(seconds, 1),
        "torch_version": torch.__version__,
        "data": model.provenance.data,
        "steps": model.provenance.steps,
    }
    return model, record


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
    p.add_argument("--image-size", type=int, default=None, help="resize images to this size (default: native)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--runs-dir", default=None, help="keep the training run here (default: a temporary directory)")
    args = p.parse_args(argv)
    name = args.name or f"{Path(args.dataset).name.split(':')[0]}-lenet"
    model, record = train_classifier(
        args.dataset, args.data_dir, args.epochs, args.batch_size, args.lr, args.seed, args.image_size,
        args.runs_dir, name, args.threads,
    )  # fmt: skip
    command = " ".join(shlex.quote(a) for a in ["python", "-m", "genlab.image.classifier", *(argv or sys.argv[1:])])
    path = save_classifier(model, Path(args.out) / name, {**record, "command": command})
    print(f"wrote {path} (test accuracy {record['test_accuracy']:.4f})")
