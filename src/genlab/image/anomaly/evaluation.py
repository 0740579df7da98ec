"""``genlab eval RUN`` for detectors: image-level AUROC, AUPR, F1 at a threshold; pixel AUROC and PRO with masks.

The test set is ``--normal DIR --anomalous DIR`` (folders; images brought to the model's size), or by default
the test split of the data the model was trained on (the one-class protocol's whole test split, the texture
set's or MVTec AD's test images with their masks). Every test image is scored once (``ctx.cached``) and the
metrics share the scores. ``f1_at_threshold`` calls an image anomalous above ``--threshold``, or above the
threshold chosen on the run's validation normal images at ``--target-fpr`` (the one ``genlab detect
--threshold auto`` uses). The protocol records the test set, its size, the threshold rule and the seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import Field

from genlab.__about__ import __version__
from genlab.core.config import Config
from genlab.core.errors import BadInputError, DataError
from genlab.core.evaluation import EvalContext, register_metric, weights_field
from genlab.core.seeding import make_generator
from genlab.image.anomaly import metrics as M
from genlab.image.anomaly.base import TASK
from genlab.image.anomaly.data import AnomalyDataConfig, as_tensor, load_set, read_folder, validation_images


class AnomalyEvalRequest(Config):
    """Options of ``genlab eval`` for anomaly detectors."""

    normal: str | None = Field(None, description="folder of normal test images (with --anomalous)")
    anomalous: str | None = Field(None, description="folder of anomalous test images (with --normal)")
    n: int | None = Field(None, ge=2, description="score at most this many test images (a seeded subset)")
    seed: int = Field(0, description="seed of the test subset and of stochastic scores (ddpm-recon)")
    target_fpr: float = Field(0.05, ge=0, lt=1, description="f1-at-threshold: FPR on validation normals")
    threshold: float | None = Field(None, description="f1-at-threshold: a fixed score threshold instead")
    data_dir: str | None = Field(None, description="folder of standard datasets (default: the training data's)")


@dataclass
class TestSet:
    """Images (N, C, H, W) in [-1, 1], labels (N,) with 1 = anomalous, masks (N, H, W) bool or None."""

    images: torch.Tensor
    labels: np.ndarray
    masks: np.ndarray | None
    description: str


def data_config(model: Any, request: AnomalyEvalRequest) -> AnomalyDataConfig:
    """The data config the model was trained with (its recorded ``data.config``), ``data_dir`` overridable."""
    recorded = dict(model.provenance.data.get("config") or {})
    if not recorded:
        raise BadInputError(
            f"{model.registry_name} has no recorded training data", "give test folders: --normal DIR --anomalous DIR"
        )
    if request.data_dir:
        recorded["data_dir"] = request.data_dir
    return AnomalyDataConfig.build(recorded, where="data")


def load_test_set(model: Any, request: AnomalyEvalRequest) -> TestSet:
    """The labelled test images: the two folders, or the training data's own test split."""
    size, channels = model.config.image_size, model.config.channels
    if request.normal or request.anomalous:
        if not (request.normal and request.anomalous):
            raise BadInputError("--normal and --anomalous go together", "give both folders, or neither")
        normal, _ = read_folder(Path(request.normal).expanduser(), size, channels)
        anomalous, _ = read_folder(Path(request.anomalous).expanduser(), size, channels)
        images = np.concatenate([normal, anomalous])
        labels = np.r_[np.zeros(len(normal), np.int64), np.ones(len(anomalous), np.int64)]
        test = TestSet(as_tensor(images), labels, None, f"folders {request.normal} (normal), {request.anomalous}")
    else:
        cfg = data_config(model, request)
        data = load_set(cfg)
        if data.test is None:
            raise BadInputError(
                f"the training data {cfg.source} has no labelled test images",
                "give test folders: genlab eval RUN --normal DIR --anomalous DIR",
            )
        test = TestSet(as_tensor(data.test), data.test_labels, data.test_masks, f"{cfg.source} test split")
    if request.n is not None and request.n < len(test.labels):
        keep = np.sort(np.random.default_rng(request.seed).permutation(len(test.labels))[: request.n])
        masks = None if test.masks is None else test.masks[keep]
        test = TestSet(test.images[torch.from_numpy(keep)], test.labels[keep], masks, test.description)
    if test.images.shape[1:] != (channels, size, size):
        raise BadInputError(
            f"the test images are {tuple(test.images.shape[1:])}, the model takes {(channels, size, size)}",
            "evaluate on data of the model's size, or give folders (they are resized)",
        )
    return test


def scored(ctx: EvalContext) -> tuple[np.ndarray, np.ndarray]:
    """Scores (N,) and heat maps (N, H, W) of the test images, computed once per context."""

    def compute() -> tuple[np.ndarray, np.ndarray]:
        scores, maps = ctx.model.score(ctx.reference.images, generator=make_generator(ctx.request.seed))
        return scores.numpy(), maps.numpy()

    return ctx.cached("scores", compute)


def chosen_threshold(ctx: EvalContext) -> tuple[float, dict[str, Any]]:
    """The threshold of f1_at_threshold and how it was chosen."""
    request = ctx.request
    if request.threshold is not None:
        return request.threshold, {"threshold_rule": "given"}

    def compute() -> tuple[float, dict[str, Any]]:
        try:
            val = validation_images(data_config(ctx.model, request).to_dict())
        except (DataError, BadInputError) as e:
            raise BadInputError(
                f"no validation images to choose a threshold on ({e.message})",
                "pass --threshold VALUE, or train with data.val_fraction > 0 on data that is still there",
            ) from None
        scores, _ = ctx.model.score(val, generator=make_generator(request.seed))
        rule = {"threshold_rule": f"validation normals at FPR {request.target_fpr}", "n_validation": len(val)}
        return M.threshold_at_fpr(scores.numpy(), request.target_fpr), rule

    return ctx.cached("threshold", compute)


def model_context(task: Any, model: Any, request: AnomalyEvalRequest) -> EvalContext:
    """The context: the test set is the reference data, the model's scores the shared computation."""
    return EvalContext(model, task, request, load_reference=lambda ctx: load_test_set(ctx.model, ctx.request))


def protocol(ctx: EvalContext) -> dict[str, Any]:
    """What every anomaly result records."""
    test: TestSet = ctx.reference
    model = ctx.model
    extra = model.extractor_protocol() if hasattr(model, "extractor_protocol") else {}
    return {
        "model": model.registry_name,
        "test_set": test.description,
        "n_test": len(test.labels),
        "n_anomalous": int(test.labels.sum()),
        "image_size": model.config.image_size,
        "score_direction": "higher = more anomalous",
        "seed": ctx.request.seed,
        "genlab_version": __version__,
        **extra,
        **weights_field(model),
    }


def _needs_masks(ctx: EvalContext) -> np.ndarray:
    masks = ctx.reference.masks
    if masks is None:
        raise BadInputError(
            "pixel metrics need defect masks, and this test set has none",
            "use data with masks (builtin:textures-defects, mvtec-ad) or image metrics: auroc, aupr, f1-at-threshold",
        )
    return masks


@register_metric("image/auroc", task=TASK, outputs=("auroc",), needs=("model", "reference"), default=True)
def auroc(ctx: EvalContext) -> dict[str, float]:
    """Image-level AUROC: the chance an anomalous test image scores above a normal one."""
    return {"auroc": M.auroc(ctx.reference.labels, scored(ctx)[0])}


@register_metric("image/aupr", task=TASK, outputs=("aupr",), needs=("model", "reference"), default=True)
def aupr(ctx: EvalContext) -> dict[str, float]:
    """Image-level average precision, anomalies as the positive class."""
    return {"aupr": M.aupr(ctx.reference.labels, scored(ctx)[0])}


def _threshold_protocol(ctx: EvalContext) -> dict[str, Any]:
    return chosen_threshold(ctx)[1] | {"target_fpr": ctx.request.target_fpr}


@register_metric(
    "image/f1_at_threshold",
    task=TASK,
    outputs=("f1_at_threshold", "precision_at_threshold", "recall_at_threshold", "fpr_at_threshold", "threshold"),
    needs=("model", "reference"),
    protocol=_threshold_protocol,
)
def f1_at_threshold(ctx: EvalContext) -> dict[str, float]:
    """F1 (and precision, recall, FPR) of calling images above the threshold anomalous."""
    threshold, _ = chosen_threshold(ctx)
    r = M.f1_at_threshold(ctx.reference.labels, scored(ctx)[0], threshold)
    return {
        "f1_at_threshold": r["f1"],
        "precision_at_threshold": r["precision"],
        "recall_at_threshold": r["recall"],
        "fpr_at_threshold": r["fpr"],
        "threshold": threshold,
    }


def _trained_with_masks(model: Any) -> str | None:
    """None when the model's training data has defect masks (pixel metrics then join the default set)."""
    if model.provenance.data.get("has_masks"):
        return None
    return f"pixel metrics need defect masks; the data {model.registry_name} was trained on has none"


@register_metric(
    "image/pixel_auroc",
    task=TASK,
    outputs=("pixel_auroc",),
    needs=("model", "reference"),
    default=True,
    applies=_trained_with_masks,
)
def pixel_auroc(ctx: EvalContext) -> dict[str, float]:
    """Pixel-level AUROC of the heat maps against the defect masks."""
    masks = _needs_masks(ctx)
    return {"pixel_auroc": M.pixel_auroc(masks, scored(ctx)[1])}


@register_metric(
    "image/pro",
    task=TASK,
    outputs=("pro",),
    needs=("model", "reference"),
    default=True,
    applies=_trained_with_masks,
    protocol=lambda ctx: {"pro_max_fpr": M.PRO_MAX_FPR},
)
def pro(ctx: EvalContext) -> dict[str, float]:
    """Per-region overlap (Bergmann et al. 2020) integrated up to FPR 0.3, normalised to [0, 1]."""
    masks = _needs_masks(ctx)
    return {"pro": M.pro(masks, scored(ctx)[1])}
