"""Evaluation of image classifiers: top-1 ``accuracy`` on held-out labelled images, with its protocol.

The images scored are, unless ``ref`` names others, the test split of the training data when the
dataset has one (``mnist`` → ``mnist:test``), else the validation split held out when the model was
trained (the same images: the split is seeded and recorded with the model).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from pydantic import Field

from genlab.__about__ import __version__
from genlab.core.config import Config
from genlab.core.errors import BadInputError, DataError
from genlab.core.evaluation import EvalContext, register_metric, weights_field
from genlab.image.classifier.model import TASK, evaluate_accuracy


class ClassificationEvalRequest(Config):
    """Options of ``genlab eval`` for image classifiers."""

    ref: str | None = Field(
        None,
        description="labelled images to score, e.g. mnist:test or a folder with class sub-folders "
        "(default: the test split of the training data, else its held-out validation split)",
    )
    data_dir: str | None = Field(None, description="folder of standard datasets")
    n: int | None = Field(None, ge=1, description="score at most this many images (default: all of them)")
    seed: int = Field(0, description="seed of the choice of images when n is smaller than the set (with --ref)")


@dataclass
class LabelledImages:
    """The images a classifier is scored on: (N, C, H, W) in [-1, 1], labels (N,), and where they come from."""

    source: str
    split: str
    images: torch.Tensor
    labels: torch.Tensor

    def protocol(self) -> dict[str, Any]:
        return {"reference": self.source, "reference_split": self.split, "n_reference": len(self.images)}


def model_context(task, model, request: ClassificationEvalRequest) -> EvalContext:
    """The context of a classifier: its reference images are loaded once by :func:`load_reference`."""
    return EvalContext(model, task, request, load_reference=load_reference)


def model_protocol(ctx: EvalContext) -> dict[str, Any]:
    """Protocol fields of every classifier evaluation: reference, counts, model and its checksum, version."""
    protocol = {**ctx.reference.protocol(), "model": ctx.model.registry_name}
    protocol |= weights_field(ctx.model)
    return protocol | {"seed": ctx.request.seed, "genlab_version": __version__}


def load_reference(ctx: EvalContext) -> LabelledImages:
    """The labelled images to score (see the module docstring), at the model's size and channels."""
    model, request = ctx.model, ctx.request
    if request.ref:
        values = {"source": request.ref, "max_images": request.n, "split_seed": request.seed}
        split = f"all images of {request.ref}" if request.n is None else f"{request.n} images (seed {request.seed})"
        return _load(model, request, values, split)
    data = model.provenance.data
    trained_on = data.get("source") or model.provenance.raw.get("dataset")  # shipped weights record "dataset"
    if not trained_on:
        raise BadInputError(
            "no reference data: the model does not record its training data",
            "pass --ref with labelled images (mnist:test, a folder with class sub-folders)",
        )
    from genlab.core.registry import DATASETS
    from genlab.image.data import parse_source

    name, _ = parse_source(trained_on)
    if name in DATASETS and "test" in DATASETS.get(name).splits:
        values = {"source": f"{name}:test", "max_images": request.n, "split_seed": request.seed}
        return _load(model, request, values, "test")
    split = data.get("split", {})
    n_val = int(split.get("n_val") or 0)
    if not n_val:
        raise BadInputError(
            f"{trained_on} has no test split and the model was trained with no validation split",
            "pass --ref with labelled images the model has not seen, or retrain with --val-fraction 0.1",
        )
    # The loader shuffles with the split seed and holds out the first n_val images: loading n_val images with
    # the same seed and no hold-out gives exactly the validation split the model never trained on.
    seed = int(split.get("seed", 0))
    values = {"source": trained_on, "max_images": n_val, "split_seed": seed}
    described = f"validation split of {trained_on} (val_fraction {split.get('val_fraction')}, seed {seed})"
    ref = _load(model, request, values, described)
    if request.n is not None and request.n < len(ref.images):
        n = request.n
        ref = LabelledImages(ref.source, f"first {n} images of the {described}", ref.images[:n], ref.labels[:n])
    return ref


def _load(model, request: ClassificationEvalRequest, values: dict[str, Any], split: str) -> LabelledImages:
    from genlab.image.data import ImageDataConfig, load_image_data, to_pixels

    cfg = model.config
    values |= {
        "image_size": cfg.image_size,
        "channels": cfg.channels,
        "val_fraction": 0.0,
        "data_dir": request.data_dir,
    }
    data, _, info = load_image_data(ImageDataConfig.build(values, where="eval"))
    if info.num_classes < 2:
        raise DataError(
            f"{values['source']} has no labels", "score a classifier on labelled images (class sub-folders)"
        )
    if cfg.class_names and info.class_names != list(cfg.class_names):
        raise BadInputError(
            f"{values['source']} has the classes {info.class_names[:5]}…, the model {list(cfg.class_names)[:5]}…",
            "score the model on images of its own classes",
        )
    return LabelledImages(values["source"], split, to_pixels(data.images), data.labels.clone())


@register_metric(
    "image/accuracy",
    task=TASK,
    outputs=("accuracy",),
    needs=("model", "reference"),
    default=True,
    protocol=lambda ctx: {"accuracy": "top-1, model in eval mode (no dropout)"},
)
def accuracy(ctx: EvalContext) -> dict[str, float]:
    """Top-1 accuracy of the classifier on the reference images (test split, else held-out validation split)."""
    ref = ctx.reference
    return {"accuracy": evaluate_accuracy(ctx.model, ref.images, ref.labels)}
