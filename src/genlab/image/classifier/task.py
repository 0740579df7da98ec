"""The ``image-classification`` task: labelled images in, classifiers out.

``genlab train image-classification --model lenet-classifier --data mnist --epochs 6`` trains one
through the engine (Adam with a cosine learning-rate decay over the run); ``genlab classify RUN
--image x.png`` labels images; ``genlab eval RUN`` scores its accuracy on the test split (or the
held-out validation split when the data has none).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from genlab.core.errors import ConfigError, DataError
from genlab.core.evaluation import EvalContext
from genlab.core.model import GenerativeModel
from genlab.core.registry import TASKS
from genlab.core.task import Task
from genlab.image.classifier import evaluation
from genlab.image.classifier.evaluation import ClassificationEvalRequest
from genlab.image.classifier.model import TASK
from genlab.image.classifier.pipelines import ImageClassificationPipeline
from genlab.image.data import (
    ImageDataConfig,
    ImageDataInfo,
    describe_image_data,
    fill_from_data,
    load_image_data,
    to_pixels,
)

PREVIEW_IMAGES = 32  # images shown, with their predicted labels, in the sample report


class ImageClassificationTask(Task):
    name = TASK
    modality = "image"
    description = "train image classifiers on labelled image folders (one sub-folder per class) or standard datasets"
    data_config_class = ImageDataConfig
    default_model = "lenet-classifier"
    pipeline_class = ImageClassificationPipeline
    cli_options = {
        "--image-size": "data.image_size",
        "--channels": "data.channels",
        "--val-fraction": "data.val_fraction",
        "--max-images": "data.max_images",
        "--lr": "model.lr",
    }
    eval_request_class = ClassificationEvalRequest

    def __init__(self):
        # A few images of the data loaded last in this process (validation images when there are some), shown
        # with the model's predictions by write_samples.
        self._preview: tuple[torch.Tensor, torch.Tensor, str] | None = None

    def load_data(self, data_cfg: ImageDataConfig):
        train, val, info = load_image_data(data_cfg)
        if info.num_classes < 2:
            raise DataError(
                f"{info.source} has no labels: a classifier learns from labelled images",
                "use a folder with one sub-folder per class, or a labelled dataset (builtin:digits, mnist, …)",
            )
        shown, which = (val, "validation") if val is not None else (train, "training")
        self._preview = (to_pixels(shown.images[:PREVIEW_IMAGES]), shown.labels[:PREVIEW_IMAGES].clone(), which)
        return train, val, info

    def fill_model_config(self, values: dict[str, Any], info: ImageDataInfo) -> dict[str, Any]:
        return fill_from_data(values, {"num_classes": info.num_classes, "class_names": list(info.class_names)}, info)

    def check_model_fits_data(self, model_cls: type[GenerativeModel], info: ImageDataInfo) -> None:
        field = model_cls.config_class.model_fields.get("image_size")
        smallest = next((m.ge for m in (field.metadata if field else []) if hasattr(m, "ge")), None)
        if smallest is not None and info.image_size < smallest:
            raise ConfigError(
                f"{model_cls.registry_name} needs images of at least {smallest}×{smallest} pixels; "
                f"{info.source} gives {info.image_size}×{info.image_size}",
                f"resize them with --image-size {smallest} (or larger)",
            )

    def write_samples(self, model: GenerativeModel, stem: Path, seed: int) -> Path:
        """A PNG of preview images, each captioned with its predicted label (green: right, red: wrong)."""
        path = stem.with_suffix(".png")
        path.parent.mkdir(parents=True, exist_ok=True)
        if self._preview is None:
            path = stem.with_suffix(".txt")
            path.write_text("no data loaded in this process to preview predictions on\n", encoding="utf-8")
            return path
        images, labels, which = self._preview
        with torch.no_grad():
            predicted = model(images.to(next(model.parameters()).device)).argmax(1).cpu()
        names = list(model.config.class_names) or [str(i) for i in range(model.config.num_classes)]
        right = int((predicted == labels).sum())
        title = f"predicted labels of {len(labels)} {which} images: {right}/{len(labels)} right"
        captions = [names[i] for i in predicted.tolist()]
        _captioned_grid(images, captions, (predicted == labels).tolist(), title).save(path)
        return path

    def eval_context(self, model: GenerativeModel, request: ClassificationEvalRequest) -> EvalContext:
        return evaluation.model_context(self, model, request)

    def eval_protocol(self, ctx: EvalContext) -> dict[str, Any]:
        return evaluation.model_protocol(ctx)

    def describe_data(self, info: ImageDataInfo) -> str:
        return describe_image_data(info)


def _captioned_grid(images: torch.Tensor, captions: list[str], right: list[bool], title: str, nrow: int = 8):
    """A white RGB sheet: ``title``, then images (N, C, H, W) in [-1, 1] with a caption under each."""
    from PIL import Image, ImageDraw

    from genlab.image.io import to_pil

    size = images.shape[-1]
    scale = max(1, 48 // size)  # small images are enlarged (nearest neighbour) to be readable
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    cell_w = max(size * scale, *(int(measure.textlength(c)) for c in captions)) + 6
    cell_h, top = size * scale + 14, 16
    rows = -(-len(captions) // nrow)
    sheet = Image.new("RGB", (max(nrow * cell_w, int(measure.textlength(title)) + 4), top + rows * cell_h), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((2, 2), title, fill="black")
    for i, (img, caption, ok) in enumerate(zip(to_pil(images), captions, right, strict=True)):
        x, y = (i % nrow) * cell_w, top + (i // nrow) * cell_h
        sheet.paste(img.convert("RGB").resize((size * scale, size * scale), Image.NEAREST), (x + 3, y))
        draw.text((x + 3, y + size * scale + 1), caption, fill=(0, 128, 0) if ok else (200, 0, 0))
    return sheet


TASKS.register(ImageClassificationTask.name)(ImageClassificationTask())
