"""``anomaly/detect``: score images with a trained detector, call them anomalous at a threshold, show where.

>>> pipe = genlab.load("runs/anomaly/insp")
>>> out = pipe.run(pipe.request(inputs="./incoming", threshold="auto", target_fpr=0.05))
>>> out.save("report.html")   # + report.csv and report-heatmaps/*.png beside it

``genlab detect RUN ./incoming --out report.html --threshold auto``. Images are brought to the model's size
and channels (bicubic, centre crop). ``--threshold auto`` chooses the threshold on the run's validation normal
images (reloaded from the recorded data config) at ``--target-fpr``: at most that share of them scores above
it; the threshold, its rule and the validation count are written into every report. A number sets it directly.
"""

from __future__ import annotations

import csv
import html
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from PIL import Image
from pydantic import Field, field_validator

from genlab.core.anomaly import ValidationScores, auto_or_number
from genlab.core.errors import BadInputError, DataError
from genlab.core.pipeline import Output, Pipeline, Request, register_pipeline
from genlab.core.seeding import make_generator
from genlab.image.anomaly.base import TASK
from genlab.image.anomaly.data import read_files, validation_images
from genlab.image.anomaly.metrics import threshold_at_fpr
from genlab.image.data import load_image_files
from genlab.image.io import to_uint8


class Detection(Request):
    """Options of ``genlab detect``."""

    inputs: str = Field(
        description="an image file or a folder of images (searched recursively)",
        json_schema_extra={"file": "image", "positional": True},
    )
    threshold: str = Field(
        "auto", description="score threshold: a number, or auto (validation normals at --target-fpr)"
    )
    target_fpr: float = Field(0.05, ge=0, lt=1, description="auto threshold: share of normal images flagged")
    heatmaps: bool = Field(True, description="write a heat-map PNG per image beside an HTML report")

    @field_validator("threshold")
    @classmethod
    def _auto_or_number(cls, value: str) -> str:
        return auto_or_number(value, "0.02")


@dataclass
class DetectionOutput(Output):
    """Per-image scores and verdicts, heat maps (N, H, W), the inputs, and how the threshold was chosen."""

    formats: ClassVar[dict[str, str]] = {"html": "text/html", "csv": "text/csv", "json": "application/json"}
    suffix: ClassVar[str] = ".html"

    names: list[str]
    scores: np.ndarray
    threshold: float
    images: torch.Tensor  # (N, C, H, W) in [-1, 1]
    maps: np.ndarray
    threshold_info: dict[str, Any] = field(default_factory=dict)
    write_heatmaps: bool = True

    @property
    def anomalous(self) -> np.ndarray:
        return self.scores > self.threshold

    def rows(self) -> list[dict[str, Any]]:
        return [
            {"file": n, "score": float(s), "anomalous": bool(a)}
            for n, s, a in zip(self.names, self.scores, self.anomalous, strict=True)
        ]

    def summary(self) -> dict[str, Any]:
        return {"threshold": self.threshold, **self.threshold_info, "n": len(self.names),
                "n_anomalous": int(self.anomalous.sum())}  # fmt: skip

    def heatmap_png(self, i: int) -> Image.Image:
        """The input beside its heat map (inferno; 0 to the largest value of the batch), 2× enlarged."""
        from matplotlib import colormaps

        top = max(float(self.maps.max()), 1e-12)
        heat = (colormaps["inferno"](self.maps[i] / top)[..., :3] * 255).astype(np.uint8)
        image = to_uint8(self.images[i : i + 1])[0]
        image = np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image
        both = np.concatenate([image, heat], axis=1)
        return Image.fromarray(both).resize((both.shape[1] * 2, both.shape[0] * 2), Image.Resampling.NEAREST)

    def csv_text(self) -> str:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["file", "score", "anomalous"])
        writer.writeheader()
        for row in self.rows():
            writer.writerow({**row, "score": f"{row['score']:.6g}"})
        return buffer.getvalue()

    def html_text(self, heatmap_dir: str | None) -> str:
        s = self.summary()
        rule = html.escape(str(s.get("threshold_rule", "")))
        lines = [
            "<!doctype html><html><head><meta charset='utf-8'><title>genlab detect</title>",
            "<style>body{font-family:sans-serif}td,th{padding:4px 8px}tr.bad{background:#fdd}</style></head><body>",
            f"<h1>Anomaly report</h1><p>{s['n']} images, {s['n_anomalous']} anomalous at threshold "
            f"{self.threshold:.6g} ({rule}).</p>",
            "<table><tr><th>file</th><th>score</th><th>anomalous</th>" + ("<th>image | heat map</th>" if heatmap_dir
                                                                          else "") + "</tr>",
        ]  # fmt: skip
        for i, row in enumerate(self.rows()):
            cell = f"<td><img src='{heatmap_dir}/{i:04d}.png'></td>" if heatmap_dir else ""
            lines.append(
                f"<tr class='{'bad' if row['anomalous'] else 'ok'}'><td>{html.escape(row['file'])}</td>"
                f"<td>{row['score']:.6g}</td><td>{'yes' if row['anomalous'] else 'no'}</td>{cell}</tr>"
            )
        lines.append("</table></body></html>")
        return "\n".join(lines)

    def save(self, path: str | Path) -> Path:
        """``.csv`` / ``.json``: that file; anything else: an HTML report, with a CSV of the same name and
        (``heatmaps``) ``<stem>-heatmaps/NNNN.png`` beside it."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() == ".csv":
            path.write_text(self.csv_text(), encoding="utf-8")
            return path
        if path.suffix.lower() == ".json":
            path.write_bytes(self.encode("json"))
            return path
        heatmap_dir = None
        if self.write_heatmaps:
            folder = path.with_name(f"{path.stem}-heatmaps")
            folder.mkdir(exist_ok=True)
            for i in range(len(self.names)):
                self.heatmap_png(i).save(folder / f"{i:04d}.png")
            heatmap_dir = folder.name
        path.write_text(self.html_text(heatmap_dir), encoding="utf-8")
        path.with_suffix(".csv").write_text(self.csv_text(), encoding="utf-8")
        return path

    def encode(self, format: str | None = None) -> bytes:
        format = self.check_format(format)
        if format == "csv":
            return self.csv_text().encode()
        if format == "json":
            return json.dumps({**self.summary(), "images": self.rows()}, indent=2).encode()
        return self.html_text(None).encode()

    def text(self) -> str | None:
        return None


@register_pipeline("anomaly/detect")
class DetectPipeline(ValidationScores, Pipeline):
    """``pipe(inputs="./incoming", threshold="auto")`` -> :class:`DetectionOutput`."""

    task = TASK
    verb = "detect"
    description = "score images for anomalies: per-image score, verdict at a threshold, heat maps, HTML/CSV report"
    request_class = Detection
    output_class = DetectionOutput

    def default_filename(self, request: Detection) -> str:
        return "report.html"

    def threshold(self, request: Detection) -> tuple[float, dict[str, Any]]:
        """The threshold and how it was chosen (``auto``: on the run's validation normal images)."""
        if request.threshold != "auto":
            return float(request.threshold), {"threshold_rule": "given"}
        scores = self.validation_scores(request.seed, lambda: self._score_validation(request.seed))
        info = {"threshold_rule": f"validation normals at FPR {request.target_fpr}", "n_validation": len(scores)}
        return threshold_at_fpr(scores, request.target_fpr), info

    def _score_validation(self, seed: int):
        try:
            val = validation_images(self.model.provenance.data.get("config") or {})
        except DataError as e:
            raise BadInputError(
                f"--threshold auto needs the run's validation images: {e.message}",
                "give a number (--threshold 0.02), or train with data.val_fraction > 0 on data that is still there",
            ) from None
        except Exception as e:  # a model saved outside a run has no data config at all
            raise BadInputError(
                f"--threshold auto needs validation data, and {self.model.registry_name} records none ({e})",
                "give a number (--threshold 0.02), or use a model trained with genlab train",
            ) from None
        return self.model.score(val, generator=make_generator(seed))[0].numpy()

    @torch.no_grad()
    def run(self, request: Detection) -> DetectionOutput:
        c = self.model.config
        read_files(Path(request.inputs).expanduser())  # a clear error for a missing path or an empty folder
        images, names = load_image_files(request.inputs, c.image_size, c.channels)
        threshold, info = self.threshold(request)
        scores, maps = self.model.score(images, generator=make_generator(request.seed))
        return DetectionOutput(names, scores.numpy(), threshold, images, maps.numpy(), info, request.heatmaps)
