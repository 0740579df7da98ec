"""The ``style-transfer`` task: content photos, one style image, the feature network.

Training data are content photos cut into random patches (the restoration family's loading:
:mod:`genlab.image.restoration.data`, with no degradation) and one style image (``--style``, a file or
``builtin:NAME``), resized so its longest side is ``style_size`` and stored with the model. The
feature network is resolved when the run is set up (``--features auto`` picks VGG-19 when
``--vgg-weights`` or ``$GENLAB_DATA_DIR/vgg19/vgg19-dcbb9e9d.pth`` exists, else the random filters)
and said on the console. The sample report shows held-out patches: content | stylised.

* ``image/fast-style`` (:mod:`~genlab.image.style.fast`) trains on the patches;
* ``image/gatys`` (:mod:`~genlab.image.style.gatys`) trains nothing: the run records the settings and,
  when ``--style`` is given, the style, for ``genlab stylize``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from genlab.core.errors import ConfigError
from genlab.core.model import GenerativeModel
from genlab.core.registry import TASKS
from genlab.core.task import Task
from genlab.image.io import save_grid
from genlab.image.restoration.data import RestorationDataConfig, RestorationDataInfo, describe, load_restoration_data
from genlab.image.style.features import resolve_features
from genlab.image.style.gatys import Gatys
from genlab.image.style.images import pixel_digest, read_style
from genlab.image.style.model import TASK, StyleModel
from genlab.image.style.pipelines import StylizePipeline

PREVIEW = 4  # patches in the sample report of a fast-style run
PREVIEW_GATYS = 2  # … of a gatys run (each one is an optimisation)


class StyleDataConfig(RestorationDataConfig):
    """Content photos cut into patches, and the style image."""

    color: Literal["rgb"] = Field("rgb", description="rgb: style transfer works on colour (gray photos are repeated)")
    patch_size: int = Field(128, ge=16, le=1024, description="side of the content training patches, pixels")
    patches_per_epoch: int = Field(4000, ge=1, description="random content patches that make one epoch")
    val_patches: int = Field(16, ge=0, description="fixed validation patches cut from the held-out photos")
    style: str | None = Field(
        None,
        description="the style image (a file, or builtin:NAME from scikit-image's photos, e.g. builtin:brick); "
        "required by fast-style, optional for gatys (then the run's default style)",
    )
    style_size: int = Field(256, ge=16, le=2048, description="longest side (pixels) the style image is stored at")
    data_dir: str | None = Field(
        None, description="folder of datasets and weights: VGG-19 is looked for in DATA_DIR/vgg19/"
    )


@dataclass
class StyleDataInfo(RestorationDataInfo):
    """The content photos, and the style image as stored."""

    style: str | None = None
    style_height: int = 0
    style_width: int = 0
    style_digest: str | None = None
    data_dir: str | None = None


def _unchanged(clean: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """The "degradation" of style transfer: the content patch itself."""
    return clean


class StyleTransferTask(Task):
    name = TASK
    modality = "image"
    description = "apply an image's style to photos: Gatys optimisation, or a fast-style network trained for one style"
    data_config_class = StyleDataConfig
    default_model = "fast-style"
    pipeline_class = StylizePipeline
    cli_options = {
        "--style": "data.style",
        "--patch-size": "data.patch_size",
        "--max-images": "data.max_images",
        "--lr": "model.lr",
        "--vgg-weights": "model.vgg_weights",
        "--features": "model.features",
    }

    def __init__(self):
        self._preview: list[torch.Tensor] = []

    def load_data(self, data_cfg: StyleDataConfig):
        style = read_style(data_cfg.style, data_cfg.style_size) if data_cfg.style else None  # a bad --style fails first
        train, val, base = load_restoration_data(data_cfg, _unchanged)
        values = {f.name: getattr(base, f.name) for f in dataclasses.fields(base)}
        info = StyleDataInfo(**values, data_dir=data_cfg.data_dir)
        if style is not None:
            info.style, info.style_digest = data_cfg.style, pixel_digest(style)
            info.style_height, info.style_width = style.shape[-2:]
        shown = val if val is not None else train
        gen_state = torch.random.get_rng_state()
        self._preview = [shown[i] for i in range(min(PREVIEW, len(shown)))]
        torch.random.set_rng_state(gen_state)  # previewing must not shift the training draws
        return train, val, info

    def check_model_fits_data(self, model_cls: type[GenerativeModel], info: StyleDataInfo) -> None:
        if getattr(model_cls, "method", "") == "fast" and not info.style:
            raise ConfigError(
                f"{model_cls.registry_name} learns one style, and no style image was given",
                "add --style IMAGE (a file, or builtin:NAME), e.g. "
                "genlab train style-transfer --model fast-style --style painting.jpg --data photos/",
            )

    def fill_model_config(self, values: dict[str, Any], info: StyleDataInfo) -> dict[str, Any]:
        out = dict(values)
        if info.style:
            out |= {
                "style_image": info.style, "style_digest": info.style_digest,
                "style_height": info.style_height, "style_width": info.style_width,
            }  # fmt: skip
        features = resolve_features(
            out.get("features", "auto"), out.get("vgg_weights"), info.data_dir, seed=out.get("feature_seed", 0)
        )
        return out | features

    def write_samples(self, model: GenerativeModel, stem: Path, seed: int) -> Path:
        """Rows of held-out patches: content | stylised (a gatys run optimises each, with its own settings)."""
        path = stem.with_suffix(".png")
        path.parent.mkdir(parents=True, exist_ok=True)
        if not self._preview or (isinstance(model, StyleModel) and model.style_pixels() is None):
            why = "no data loaded in this process" if not self._preview else "the run stores no style image"
            path = stem.with_suffix(".txt")
            path.write_text(f"{why} to preview stylisations with\n", encoding="utf-8")
            return path
        content = torch.stack(self._preview)
        if isinstance(model, Gatys):
            content = content[:PREVIEW_GATYS]
            outputs = torch.stack([model.stylize(c).image for c in content])
            outputs = F.interpolate(outputs, size=content.shape[-2:], mode="bilinear", align_corners=False)
        else:
            outputs = model.stylize(content)
        rows = torch.stack([content, outputs.clamp(0, 1)], 1).flatten(0, 1)  # (n·2, 3, H, W)
        scale = max(1, 96 // content.shape[-1])
        return save_grid(rows * 2 - 1, path, nrow=2, scale=scale)

    def describe_data(self, info: StyleDataInfo) -> str:
        style = f"style {info.style} ({info.style_width}×{info.style_height})" if info.style else "no style image"
        return f"{describe(info)}; {style}"


TASKS.register(TASK)(StyleTransferTask())
