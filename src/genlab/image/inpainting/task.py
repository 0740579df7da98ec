"""The ``inpainting`` task: learn to fill holes in photos from clean photos masked on the fly.

Training draws random patches of clean photos (:class:`~genlab.image.restoration.data.PatchDataset`)
and a random mask for each (``--mask-kind``: one box, free-form strokes as in Yu et al. 2019, or
either; :func:`~genlab.image.restoration.degrade.random_mask`); a training pair is ((masked patch,
mask), clean patch), the masked pixels set to 0. The sample report shows held-out patches: masked
(holes white) | filled | clean. Evaluation is in :mod:`.evaluation`, the ``inpaint-image`` verb in
:mod:`.pipelines`.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field

from genlab.core.model import GenerativeModel
from genlab.core.registry import TASKS
from genlab.image.inpainting import evaluation
from genlab.image.inpainting.model import TASK
from genlab.image.inpainting.pipelines import InpaintingPipeline
from genlab.image.restoration.data import RestorationDataConfig
from genlab.image.restoration.degrade import random_mask
from genlab.image.restoration.task import RestorationTask

PREVIEW = 4  # patches in the sample report


class InpaintingDataConfig(RestorationDataConfig):
    """Clean photos for inpainting; the training inputs are patches of them with random holes."""

    color: Literal["rgb", "gray"] = Field("rgb", description="rgb: 3 channels; gray: grayscale photos")
    patch_size: int = Field(64, ge=8, le=1024, description="side of the clean training patches, pixels")
    mask: Literal["box", "stroke", "mixed"] = Field(
        "mixed", description="holes of the training patches: one box, free-form strokes, or either (½ each)"
    )


def mask_degradation(kind: str):
    """(clean patch) → ((patch with the holes set to 0, mask (1, H, W), 1 = missing), clean patch)."""

    def degrade(clean: torch.Tensor, generator: torch.Generator | None):
        mask = random_mask(clean.shape[-2], clean.shape[-1], kind, generator)
        return (clean * (1 - mask), mask), clean

    return degrade


class InpaintingTask(RestorationTask):
    name = TASK
    description = "fill holes (boxes, free-form strokes) in photos with models trained on randomly masked patches"
    data_config_class = InpaintingDataConfig
    default_model = "unet-inpaint"
    pipeline_class = InpaintingPipeline
    eval_request_class = evaluation.InpaintingEvalRequest
    cli_options = {
        "--mask-kind": "data.mask",
        "--patch-size": "data.patch_size",
        "--color": "data.color",
        "--val-data": "data.val_source",
        "--max-images": "data.max_images",
        "--lr": "model.lr",
    }

    def degradation(self, cfg: InpaintingDataConfig):
        return mask_degradation(cfg.mask)

    def degradation_settings(self, cfg: InpaintingDataConfig) -> dict[str, Any]:
        return {"mask": cfg.mask}

    evaluation = evaluation

    def preview_columns(self, model: GenerativeModel, inputs: list[Any], targets: torch.Tensor):
        """(masked with the holes white, filled)."""
        images, masks = torch.stack([x[0] for x in inputs]), torch.stack([x[1] for x in inputs])
        return images * (1 - masks) + masks, model.restore(images, masks, tile=None)


TASKS.register(TASK)(InpaintingTask())
