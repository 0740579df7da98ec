"""The ``anomaly`` task: detectors trained on normal images only, scored on labelled test images.

``genlab train anomaly --model vae|f-anogan|ddpm-recon|patch-knn --data ./good_parts --max-minutes 15``;
data: :mod:`genlab.image.anomaly.data`; models: ``anomaly/<family>`` (:mod:`.vae`, :mod:`.fanogan`,
:mod:`.ddpm`, :mod:`.patchknn`); evaluation: :mod:`.evaluation`; inference: ``genlab detect`` (:mod:`.pipelines`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from genlab.core.evaluation import EvalContext
from genlab.core.model import GenerativeModel
from genlab.core.registry import TASKS
from genlab.core.task import Task
from genlab.image.anomaly import evaluation
from genlab.image.anomaly.base import TASK
from genlab.image.anomaly.data import AnomalyDataConfig, AnomalyDataInfo, load_anomaly_data
from genlab.image.anomaly.pipelines import DetectPipeline
from genlab.image.data import fill_from_data
from genlab.image.io import save_grid


class AnomalyTask(Task):
    name = TASK
    modality = "image"  # the data are images; the models are named anomaly/<family>
    model_prefix = "anomaly/"
    description = "anomaly detection for quality inspection: train on normal images, score and localise defects"
    data_config_class = AnomalyDataConfig
    default_model = "patch-knn"
    pipeline_class = DetectPipeline
    cli_options = {
        "--normal-class": "data.normal_class",
        "--category": "data.category",
        "--image-size": "data.image_size",
        "--val-fraction": "data.val_fraction",
        "--max-images": "data.max_images",
    }
    eval_request_class = evaluation.AnomalyEvalRequest

    def load_data(self, data_cfg: AnomalyDataConfig):
        train, val, info = load_anomaly_data(data_cfg)
        train.source = data_cfg.source  # patch-knn's extractor=auto reads it
        return train, val, info

    def fill_model_config(self, values: dict[str, Any], info: AnomalyDataInfo) -> dict[str, Any]:
        return fill_from_data(values, {}, info)  # image_size and channels come from the data

    def write_samples(self, model: GenerativeModel, stem: Path, seed: int) -> Path:
        """What the detector makes of noise-free inputs is the interesting part; a grid of its heat maps on
        16 uniform-grey images with a bright square shows where it reacts (a quick look, not a measurement)."""
        c, s = model.config.channels, model.config.image_size
        images = torch.zeros(16, c, s, s)
        images[:, :, s // 3 : s // 2, s // 3 : s // 2] = 1.0  # a "defect"
        _, maps = model.score(images, generator=torch.Generator().manual_seed(seed))
        maps = maps / maps.amax().clamp_min(1e-12) * 2 - 1  # (N, H, W) -> [-1, 1]
        return save_grid(torch.cat([images[:8, :1], maps[:8, None]]), stem.with_suffix(".png"), nrow=8, scale=2)

    def eval_context(self, model: GenerativeModel, request: evaluation.AnomalyEvalRequest) -> EvalContext:
        return evaluation.model_context(self, model, request)

    def eval_protocol(self, ctx: EvalContext) -> dict[str, Any]:
        return evaluation.protocol(ctx)

    def describe_data(self, info: AnomalyDataInfo) -> str:
        test = f", test {info.n_test} ({info.n_test_anomalous} anomalous{', masks' if info.has_masks else ''})"
        line = (
            f"data {info.source}: {info.n_train} normal train / {info.n_val} val images"
            f"{test if info.n_test else ''}, {info.image_size}×{info.image_size}×{info.channels}"
        )
        if info.skipped:
            line += f"\n[yellow]skipped {len(info.skipped)} unreadable file(s)[/], e.g. {info.skipped[0]}"
        return line


TASKS.register(AnomalyTask.name)(AnomalyTask())
