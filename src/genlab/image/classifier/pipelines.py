"""The ``classify`` pipeline: labels and class probabilities of images from a trained classifier.

``genlab.load(classifier_dir)`` gives :class:`ImageClassificationPipeline`; ``pipe("digit.png")`` (a file,
a folder of images or a tensor (N, C, H, W) in [-1, 1]) returns a :class:`ClassificationOutput`, which
prints as a table, saves as ``.csv``/``.json``/``.txt`` and is read back with
:meth:`ClassificationOutput.load`. On the command line: ``genlab classify RUN --image x.png``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from pydantic import Field

from genlab.core.classification import ClassificationOutput
from genlab.core.errors import BadInputError
from genlab.core.pipeline import Pipeline, Request, register_pipeline
from genlab.image.classifier.model import TASK


class ImageClassification(Request):
    """Options of ``genlab classify``."""

    image: str = Field(
        description="an image file, or a folder of images (searched recursively)", json_schema_extra={"file": "image"}
    )
    seed: int | None = Field(
        None, description="unused: classifying draws nothing at random", json_schema_extra={"cli": False}
    )


@register_pipeline("image/classify")
class ImageClassificationPipeline(Pipeline):
    """``pipe("x.png")`` / ``pipe("folder/")`` / ``pipe(images)`` → :class:`ClassificationOutput`."""

    task = TASK
    verb = "classify"
    description = "classify an image, or every image of a folder, with a trained classifier"
    request_class = ImageClassification
    output_class = ClassificationOutput

    @property
    def class_names(self) -> list[str]:
        """The model's class names (class indices when it records none)."""
        cfg = self.model.config
        return list(cfg.class_names) if cfg.class_names else [str(i) for i in range(cfg.num_classes)]

    def run(self, request: ImageClassification) -> ClassificationOutput:
        from genlab.image.data import load_image_files

        cfg = self.model.config
        images, names = load_image_files(request.image, cfg.image_size, cfg.channels)
        return ClassificationOutput(names, self.probabilities(images), self.class_names)

    @torch.no_grad()
    def probabilities(self, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
        """Class probabilities (N, K) of images (N, C, H, W) in [-1, 1] at the model's size and channels."""
        cfg = self.model.config
        if images.ndim != 4 or tuple(images.shape[1:]) != (cfg.channels, cfg.image_size, cfg.image_size):
            raise BadInputError(
                f"images of shape {tuple(images.shape)} do not fit the classifier",
                f"give (N, {cfg.channels}, {cfg.image_size}, {cfg.image_size}) tensors in [-1, 1], or image files",
            )
        device = next(self.model.parameters()).device
        parts = [
            self.model(images[i : i + batch_size].to(device)).softmax(1).cpu()
            for i in range(0, len(images), batch_size)
        ]
        return torch.cat(parts)

    def default_filename(self, request: ImageClassification) -> str:
        return f"classify-{Path(request.image).stem or 'images'}.csv"

    def __call__(self, image: str | Path | torch.Tensor) -> ClassificationOutput:
        """Classify an image file, a folder of images, or a tensor (N, C, H, W) in [-1, 1]."""
        if isinstance(image, torch.Tensor):
            return ClassificationOutput(
                [str(i) for i in range(len(image))], self.probabilities(image), self.class_names
            )
        return self.run(self.request(image=str(image)))
