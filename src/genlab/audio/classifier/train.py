"""``python -m genlab.audio.classifier``: train a log-mel CNN through the engine and save it with its record.

It runs ``genlab.train("audio-classification", "mel-cnn", …)`` (Adam, cosine learning-rate decay, seeded
shuffles) into a runs directory, scores the test accuracy with the task's evaluation, and saves the model
under ``--out`` with ``save_pretrained``: the record (dataset, test accuracy, recipe, the command) goes into
``config.json`` and the model card. Datasets with a ``test`` split (fsdd: takes 0–4; espeak digits: held-out
voices) train on all of ``train`` and are scored on ``test``; a folder holds out a seeded 10%.
genlab ships ``fsdd-digits`` (the judge of generated digits) and ``fsdd-speakers`` (``--label-field speaker``,
the judge of voice conversion) in ``genlab/audio/weights/``.
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

from genlab.audio.classifier.model import TASK, MelCNN

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
HOLD_OUT = 0.1


def load_audio_classifier(name: str | Path) -> MelCNN:
    """A shipped classifier by name (``fsdd-digits``, ``fsdd-speakers``) or one saved in a directory; the
    weights' sha256 is checked against ``config.json`` and nothing is unpickled."""
    from genlab.core.errors import CheckpointError
    from genlab.core.model import GenerativeModel

    path = Path(name)
    if not path.is_dir():
        path = WEIGHTS_DIR / str(name)
    if not path.is_dir():
        shipped = sorted(p.name for p in WEIGHTS_DIR.iterdir() if p.is_dir()) if WEIGHTS_DIR.is_dir() else []
        raise CheckpointError(f"no audio classifier '{name}'", f"shipped ones: {', '.join(shipped) or 'none'}; "
                              "or a directory written by python -m genlab.audio.classifier")  # fmt: skip
    model = GenerativeModel.from_pretrained(path)
    if not isinstance(model, MelCNN):
        raise CheckpointError(f"{path} holds a {model.registry_name}, not an audio classifier")
    return model


def train_classifier(
    source: str, data_dir: str | None = None, epochs: int = 20, batch_size: int = 64, lr: float = 3e-3,
    seed: int = 0, label_field: str = "label", sample_rate: int = 8000, clip_seconds: float = 1.0,
    runs_dir: str | Path | None = None, name: str = "mel-cnn", threads: int | None = None, progress: bool = True,
) -> tuple[MelCNN, dict[str, Any]]:  # fmt: skip
    """Train the log-mel CNN on ``source`` with the engine and score its test accuracy; returns the model and
    the record for its ``config.json`` and model card."""
    import genlab
    from genlab.audio.loading import parse_source
    from genlab.core.model import GenerativeModel
    from genlab.core.registry import DATASETS

    name_, _ = parse_source(source)
    split_test = name_ in DATASETS and "test" in DATASETS.get(name_).splits
    with tempfile.TemporaryDirectory(prefix="genlab-audio-classifier-") as tmp:
        data = f"{name_}:train" if split_test else source
        data_options = {
            "data_dir": data_dir, "val_fraction": 0.0 if split_test else HOLD_OUT, "split_seed": seed,
            "label_field": label_field, "sample_rate": sample_rate, "clip_seconds": clip_seconds,
        }  # fmt: skip
        t0 = time.monotonic()
        result = genlab.train(
            TASK, "mel-cnn", data, name, runs_dir=runs_dir or tmp, epochs=epochs, batch_size=batch_size, seed=seed,
            threads=threads, progress=progress, sample_every=0, data_options=data_options, model_options={"lr": lr},
        )  # fmt: skip
        seconds = time.monotonic() - t0
        ref = f"{name_}:test" if split_test else None
        scored = genlab.evaluate(result.run.path, "accuracy", data_dir=data_dir, ref=ref)
        model = GenerativeModel.from_pretrained(result.run.model_dir)
    record = {
        "dataset": source,
        "label_field": label_field,
        "test_split": "test" if split_test else f"seeded {HOLD_OUT:.0%} hold-out (seed {seed})",
        "test_accuracy": round(scored["metrics"]["accuracy"], 5),
        "n_train": model.provenance.data.get("n_train"),
        "n_test": scored["protocol"]["n_reference"],
        "recipe": {
            "epochs": epochs,
            "batch_size": batch_size,
            "lr": lr,
            "schedule": model.config.schedule,
            "seed": seed,
            "threads": threads or torch.get_num_threads(),
        },  # fmt: skip
        "train_seconds": round(seconds, 1),
        "torch_version": torch.__version__,
        "data": model.provenance.data,
        "steps": model.provenance.steps,
    }
    return model, record


def model_card(model: MelCNN, record: dict[str, Any]) -> str:
    """The ``README.md`` of a saved classifier: data, measured test accuracy, recipe, reproduce command."""
    acc = record.get("test_accuracy")
    recipe = ", ".join(f"{k}: {v}" for k, v in record.get("recipe", {}).items())
    return "\n".join([
        f"# {TASK} / mel-cnn — {record['name']}", "",
        f"A log-mel CNN classifying {model.config.clip_samples / model.config.sample_rate:g} s clips at "
        f"{model.config.sample_rate} Hz by {record.get('label_field', 'label')} ({model.config.num_classes} classes: "
        f"{', '.join(model.class_names)}). Its {model.config.feature_dim}-d feature layer and class probabilities "
        "score generated audio (label accuracy, inception score, Fréchet distance).", "",
        "## Data", f"- dataset: {record.get('dataset')}", f"- training clips: {record.get('n_train')}",
        f"- test split: {record.get('test_split')} ({record.get('n_test')} clips)", "",
        "## Measured metrics", "| metric | value |", "|---|---|",
        f"| test accuracy | {acc} ({acc:.2%}) |" if acc is not None else "| (not measured) | |", "",
        "## Training budget", f"- {recipe}",
        f"- training time: {record.get('train_seconds')} s (torch {record.get('torch_version')})", "",
        "## Reproduce", "```", record.get("command", "?"), "```", "",
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m genlab.audio.classifier", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="fsdd", help="fsdd, builtin:espeak-digits, or a folder of labelled clips")
    p.add_argument("--data-dir", default=None, help="folder of standard datasets (or the fsdd folder itself)")
    p.add_argument("--label-field", choices=("label", "speaker"), default="label")
    p.add_argument("--name", default=None, help="folder name of the saved model (default fsdd-digits / …-speakers)")
    p.add_argument("--out", default=str(WEIGHTS_DIR), help="folder the model's folder is written in")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--runs-dir", default=None, help="keep the training run here (default: a temporary directory)")
    args = p.parse_args(argv)
    stem = Path(args.dataset).name.split(":")[0]
    name = args.name or f"{stem}-{'digits' if args.label_field == 'label' else 'speakers'}"
    model, record = train_classifier(
        args.dataset, args.data_dir, args.epochs, args.batch_size, args.lr, args.seed, args.label_field,
        runs_dir=args.runs_dir, name=name, threads=args.threads,
    )  # fmt: skip
    argv_text = " ".join(shlex.quote(a) for a in ["python", "-m", "genlab.audio.classifier", *(argv or sys.argv[1:])])
    record = {"name": name, **record, "command": argv_text}
    path = model.save_pretrained(Path(args.out) / name, card=model_card(model, record), extra=record)
    print(f"wrote {path} (test accuracy {record['test_accuracy']:.4f})")
