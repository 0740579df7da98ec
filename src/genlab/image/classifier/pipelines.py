"""The ``classify`` pipeline: labels and class probabilities of images from a trained classifier.

``genlab.load(classifier_dir)`` gives :class:`ImageClassificationPipeline`; ``pipe("digit.png")`` (a file,
a folder of images or a tensor (N, C, H, W) in [-1, 1]) returns a :class:`ClassificationOutput`, which
prints as a table, saves as ``.csv``/``.json``/``.txt`` and is read back with
:meth:`ClassificationOutput.load`. On the command line: ``genlab classify RUN --image x.png``.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import torch
from pydantic import Field

from genlab.core.errors import BadInputError
from genlab.core.io import atomic_write_text
from genlab.core.pipeline import Output, Pipeline, Request, register_pipeline
from genlab.image.classifier.model import TASK

FIXED_COLUMNS = ("image", "label", "probability")


class ClassificationOutput(Output):
    """Predictions for N images: their names, the class names (K) and class probabilities (N, K).

    ``labels`` and ``confidences`` are the most probable class of each image and its probability.
    A ``.csv`` has one row per image (image, label, probability, then one column per class), a
    ``.json`` the same as ``{"classes", "predictions"}``; any other suffix writes the printed table.
    """

    formats = {"csv": "text/csv; charset=utf-8", "json": "application/json", "txt": "text/plain; charset=utf-8"}
    suffix = ".csv"

    def __init__(self, images: list[str], probabilities: torch.Tensor, class_names: list[str]):
        probabilities = probabilities.detach().float().cpu()
        if probabilities.shape != (len(images), len(class_names)):
            raise ValueError(
                f"{tuple(probabilities.shape)} probabilities for {len(images)} images, {len(class_names)} classes"
            )
        self.images, self.probabilities, self.class_names = list(images), probabilities, list(class_names)

    @property
    def labels(self) -> list[str]:
        """The most probable class of each image."""
        return [self.class_names[i] for i in self.probabilities.argmax(1).tolist()]

    @property
    def confidences(self) -> list[float]:
        """The probability of each image's most probable class."""
        return self.probabilities.max(1).values.tolist()

    def text(self) -> str:
        width = max([len("image"), *(len(name) for name in self.images)])
        lines = [f"{'image':<{width}}  label  probability"]
        for name, label, p in zip(self.images, self.labels, self.confidences, strict=True):
            lines.append(f"{name:<{width}}  {label}  {p:.3f}")
        return "\n".join(lines) + "\n"

    def rows(self) -> list[dict]:
        """One dict per image: image, label, probability, probabilities (one per class)."""
        return [
            {"image": name, "label": label, "probability": p, "probabilities": probs}
            for name, label, p, probs in zip(
                self.images, self.labels, self.confidences, self.probabilities.tolist(), strict=True
            )
        ]

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        format = {".csv": "csv", ".json": "json"}.get(path.suffix.lower(), "txt")
        atomic_write_text(path, self.encode(format).decode("utf-8"))
        return path

    def encode(self, format: str | None = None) -> bytes:
        format = self.check_format(format)
        if format == "json":
            return json.dumps({"classes": self.class_names, "predictions": self.rows()}, ensure_ascii=False).encode()
        if format == "txt":
            return self.text().encode("utf-8")
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([*FIXED_COLUMNS, *self.class_names])
        for row in self.rows():
            writer.writerow([row["image"], row["label"], row["probability"], *row["probabilities"]])
        return buffer.getvalue().encode("utf-8")

    @classmethod
    def load(cls, path: str | Path) -> ClassificationOutput:
        """Read back a ``.csv`` or ``.json`` written by :meth:`save`."""
        path = Path(path)
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() == ".json":
            data = json.loads(text)
            rows = data["predictions"]
            return cls([r["image"] for r in rows], _probabilities([r["probabilities"] for r in rows]), data["classes"])
        header, *rows = list(csv.reader(io.StringIO(text)))
        k = len(FIXED_COLUMNS)
        return cls([r[0] for r in rows], _probabilities([[float(v) for v in r[k:]] for r in rows]), header[k:])


def _probabilities(rows: list[list[float]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32).reshape(len(rows), -1)


class ImageClassification(Request):
    """Options of ``genlab classify``."""

    image: str = Field(description="an image file, or a folder of images (searched recursively)")
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
