"""Classification results shared by the modalities: class probabilities of N items, printed and saved.

Image classifiers (``genlab classify RUN --image x.png``) and audio classifiers (``genlab classify RUN
clip.wav``) both return a :class:`ClassificationOutput`; its first column names what was classified
(``image``, ``file``).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import torch

from genlab.core.io import atomic_write_text
from genlab.core.pipeline import Output

FIXED_COLUMNS = ("label", "probability")  # after the first column, which names the items


class ClassificationOutput(Output):
    """Predictions for N items (images, audio files): their names, the class names (K) and class
    probabilities (N, K). ``column`` names the items in tables and files (``image``, ``file``).

    ``labels`` and ``confidences`` are the most probable class of each item and its probability.
    A ``.csv`` has one row per item (``column``, label, probability, then one column per class), a
    ``.json`` the same as ``{"classes", "predictions"}``; any other suffix writes the printed table.
    """

    formats = {"csv": "text/csv; charset=utf-8", "json": "application/json", "txt": "text/plain; charset=utf-8"}
    suffix = ".csv"

    def __init__(self, items: list[str], probabilities: torch.Tensor, class_names: list[str], column: str = "image"):
        probabilities = probabilities.detach().float().cpu()
        if probabilities.shape != (len(items), len(class_names)):
            raise ValueError(
                f"{tuple(probabilities.shape)} probabilities for {len(items)} {column}s, {len(class_names)} classes"
            )
        self.items, self.probabilities, self.class_names = list(items), probabilities, list(class_names)
        self.column = column

    @property
    def images(self) -> list[str]:
        """The items' names (the name image classifiers use)."""
        return self.items

    @property
    def labels(self) -> list[str]:
        """The most probable class of each item."""
        return [self.class_names[i] for i in self.probabilities.argmax(1).tolist()]

    @property
    def confidences(self) -> list[float]:
        """The probability of each item's most probable class."""
        return self.probabilities.max(1).values.tolist()

    def text(self) -> str:
        width = max([len(self.column), *(len(name) for name in self.items)])
        lines = [f"{self.column:<{width}}  label  probability"]
        for name, label, p in zip(self.items, self.labels, self.confidences, strict=True):
            lines.append(f"{name:<{width}}  {label}  {p:.3f}")
        return "\n".join(lines) + "\n"

    def rows(self) -> list[dict]:
        """One dict per item: ``column``, label, probability, probabilities (one per class)."""
        return [
            {self.column: name, "label": label, "probability": p, "probabilities": probs}
            for name, label, p, probs in zip(
                self.items, self.labels, self.confidences, self.probabilities.tolist(), strict=True
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
            data = {"column": self.column, "classes": self.class_names, "predictions": self.rows()}
            return json.dumps(data, ensure_ascii=False).encode()
        if format == "txt":
            return self.text().encode("utf-8")
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([self.column, *FIXED_COLUMNS, *self.class_names])
        for row in self.rows():
            writer.writerow([row[self.column], row["label"], row["probability"], *row["probabilities"]])
        return buffer.getvalue().encode("utf-8")

    @classmethod
    def load(cls, path: str | Path) -> ClassificationOutput:
        """Read back a ``.csv`` or ``.json`` written by :meth:`save`."""
        path = Path(path)
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() == ".json":
            data = json.loads(text)
            column, rows = data.get("column", "image"), data["predictions"]
            probabilities = _probabilities([r["probabilities"] for r in rows])
            return cls([r[column] for r in rows], probabilities, data["classes"], column)
        header, *rows = list(csv.reader(io.StringIO(text)))
        k = 1 + len(FIXED_COLUMNS)
        probabilities = _probabilities([[float(v) for v in r[k:]] for r in rows])
        return cls([r[0] for r in rows], probabilities, header[k:], header[0])


def _probabilities(rows: list[list[float]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32).reshape(len(rows), -1)
