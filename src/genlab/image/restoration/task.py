"""The restoration tasks: ``super-resolution`` and ``denoising``.

Both train on patches of clean photos degraded on the fly (:mod:`.data`, :mod:`.degrade`): bicubic
downscaling by ``--scale`` for super-resolution, Gaussian noise of ``--sigma`` (or a random σ up to
``--sigma-max``, for a blind denoiser) for denoising. Their sample report shows held-out patches:
degraded input | restored | clean. Evaluation is in :mod:`.evaluation`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator

from genlab.core.model import GenerativeModel
from genlab.core.registry import TASKS
from genlab.core.task import Task
from genlab.image.io import save_grid
from genlab.image.restoration import evaluation
from genlab.image.restoration.data import (
    RestorationDataConfig,
    RestorationDataInfo,
    describe,
    load_restoration_data,
)
from genlab.image.restoration.degrade import add_noise, downscale
from genlab.image.restoration.denoise import TASK as DENOISE_TASK
from genlab.image.restoration.pipelines import DenoisingPipeline, SuperResolutionPipeline
from genlab.image.restoration.sr import TASK as SR_TASK

PREVIEW = 4  # patches in the sample report


class SuperResolutionDataConfig(RestorationDataConfig):
    """Photos for super-resolution; the low-resolution inputs are made from them by bicubic downscaling."""

    color: Literal["rgb", "y", "gray"] = Field(
        "y", description="y: the luma of colour photos (BT.601, the SR papers' protocol); rgb: 3 channels; gray"
    )
    scale: Literal[2, 3, 4] = Field(3, description="upscaling factor")


class DenoisingDataConfig(RestorationDataConfig):
    """Clean photos for denoising; noisy inputs get additive white Gaussian noise."""

    color: Literal["rgb", "y", "gray"] = Field("gray", description="gray (DnCNN's protocol), y or rgb")
    patch_size: int = Field(40, ge=8, le=1024, description="side of the clean training patches, pixels")
    sigma: float = Field(25.0, ge=0, le=255, description="noise standard deviation on the 0–255 scale")
    sigma_max: float | None = Field(
        None, ge=0, le=255, description="blind training: σ drawn uniformly in [sigma, sigma_max] for every patch"
    )

    @model_validator(mode="after")
    def _range(self) -> DenoisingDataConfig:
        if self.sigma_max is not None and self.sigma_max < self.sigma:
            raise ValueError(f"sigma_max ({self.sigma_max}) must be at least sigma ({self.sigma})")
        return self


def sr_degradation(scale: int):
    """(clean patch) → (low-resolution input, clean target)."""

    def degrade(clean: torch.Tensor, generator: torch.Generator | None):
        return downscale(clean, scale), clean

    return degrade


def noise_degradation(sigma: float, sigma_max: float | None):
    """(clean patch) → (noisy input, clean target); σ uniform in [sigma, sigma_max] when blind."""

    def degrade(clean: torch.Tensor, generator: torch.Generator | None):
        s = sigma if sigma_max is None else sigma + (sigma_max - sigma) * float(torch.rand(1, generator=generator))
        return add_noise(clean, s, generator), clean

    return degrade


class RestorationTask(Task):
    """What super-resolution and denoising share: patch data, the preview report, PSNR/SSIM evaluation."""

    modality = "image"
    data_config_class: ClassVar[type[RestorationDataConfig]] = RestorationDataConfig
    eval_request_class = evaluation.RestorationEvalRequest

    def __init__(self):
        self._preview: list[tuple[torch.Tensor, torch.Tensor]] = []

    def degradation(self, cfg: Any):
        """The on-the-fly degradation of the data config: clean patch → (input, target)."""
        raise NotImplementedError

    def degradation_settings(self, cfg: Any) -> dict[str, Any]:
        """The settings of :meth:`degradation` recorded with the data (and copied to the model config)."""
        return {}

    def size_multiple(self, cfg: Any) -> int:
        return 1

    def load_data(self, data_cfg: RestorationDataConfig):
        train, val, info = load_restoration_data(data_cfg, self.degradation(data_cfg), self.size_multiple(data_cfg))
        info.extra = self.degradation_settings(data_cfg)
        shown = val if val is not None else train
        gen_state = torch.random.get_rng_state()
        self._preview = [shown[i] for i in range(min(PREVIEW, len(shown)))]
        torch.random.set_rng_state(gen_state)  # previewing must not shift the training draws
        return train, val, info

    def fill_model_config(self, values: dict[str, Any], info: RestorationDataInfo) -> dict[str, Any]:
        return values | {"channels": info.channels, "color": info.color}

    def write_samples(self, model: GenerativeModel, stem: Path, seed: int) -> Path:
        """Rows of held-out patches: degraded input (as :meth:`preview_columns` shows it) | restored | clean."""
        path = stem.with_suffix(".png")
        path.parent.mkdir(parents=True, exist_ok=True)
        if not self._preview:
            path = stem.with_suffix(".txt")
            path.write_text("no data loaded in this process to preview restorations on\n", encoding="utf-8")
            return path
        targets = torch.stack([p[1] for p in self._preview])
        shown, outputs = self.preview_columns(model, [p[0] for p in self._preview], targets)
        rows = torch.stack([shown, outputs, targets], 1).flatten(0, 1)  # (n·3, C, H, W)
        scale = max(1, 96 // targets.shape[-1])
        return save_grid(rows * 2 - 1, path, nrow=3, scale=scale)

    def preview_columns(
        self, model: GenerativeModel, inputs: list[Any], targets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(input as shown, restored) for the preview's degraded inputs; the input enlarged to the output size."""
        x = torch.stack(inputs)
        return F.interpolate(x, size=targets.shape[-2:], mode="nearest"), model.restore(x, tile=None)

    #: the task's evaluation module: its ``model_context``, ``model_protocol`` and ``baselines``
    evaluation: ClassVar[Any] = evaluation

    def eval_context(self, model, request):
        return self.evaluation.model_context(self, model, request)

    def eval_protocol(self, ctx):
        return self.evaluation.model_protocol(ctx)

    def eval_baselines(self, ctx, specs):
        return self.evaluation.baselines(ctx)

    def describe_data(self, info: RestorationDataInfo) -> str:
        return describe(info)


class SuperResolutionTask(RestorationTask):
    name = SR_TASK
    description = "upscale photos (×2, ×3, ×4) with models trained on bicubic-downscaled patches"
    data_config_class = SuperResolutionDataConfig
    default_model = "espcn"
    pipeline_class = SuperResolutionPipeline
    cli_options = {
        "--scale": "data.scale",
        "--patch-size": "data.patch_size",
        "--color": "data.color",
        "--val-data": "data.val_source",
        "--max-images": "data.max_images",
        "--lr": "model.lr",
    }

    def degradation(self, cfg: SuperResolutionDataConfig):
        return sr_degradation(cfg.scale)

    def degradation_settings(self, cfg: SuperResolutionDataConfig) -> dict[str, Any]:
        return {"scale": cfg.scale}

    def size_multiple(self, cfg: SuperResolutionDataConfig) -> int:
        return cfg.scale

    def fill_model_config(self, values: dict[str, Any], info: RestorationDataInfo) -> dict[str, Any]:
        return super().fill_model_config(values, info) | {"scale": info.extra["scale"]}


class DenoisingTask(RestorationTask):
    name = DENOISE_TASK
    description = "remove Gaussian noise from photos with models trained on noisy/clean patch pairs"
    data_config_class = DenoisingDataConfig
    default_model = "dncnn"
    pipeline_class = DenoisingPipeline
    cli_options = {
        "--sigma": "data.sigma",
        "--sigma-max": "data.sigma_max",
        "--patch-size": "data.patch_size",
        "--color": "data.color",
        "--val-data": "data.val_source",
        "--max-images": "data.max_images",
        "--lr": "model.lr",
    }

    def degradation(self, cfg: DenoisingDataConfig):
        return noise_degradation(cfg.sigma, cfg.sigma_max)

    def degradation_settings(self, cfg: DenoisingDataConfig) -> dict[str, Any]:
        return {"sigma": cfg.sigma, "sigma_max": cfg.sigma_max}

    def fill_model_config(self, values: dict[str, Any], info: RestorationDataInfo) -> dict[str, Any]:
        return super().fill_model_config(values, info) | info.extra


TASKS.register(SR_TASK)(SuperResolutionTask())
TASKS.register(DENOISE_TASK)(DenoisingTask())
