"""The ``translation`` task: two unpaired image domains in, a model translating between them out.

``genlab train translation --data-a FOLDER_A --data-b FOLDER_B`` (default: the thin → thick MNIST
strokes, :mod:`~genlab.image.translation.strokes`); ``genlab translate RUN in.png out.png --direction a2b``;
``genlab eval RUN`` scores a stroke model against the true translation
(:mod:`~genlab.image.translation.evaluation`). The sample report shows held-out images, one per row:
A | G_AB(A) | B | G_BA(B).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from genlab.core.errors import BadInputError
from genlab.core.evaluation import EvalContext, MetricSpec, evaluate_model
from genlab.core.model import GenerativeModel
from genlab.core.registry import TASKS
from genlab.core.task import Task
from genlab.image.data import fill_from_data, to_pixels
from genlab.image.io import save_grid
from genlab.image.translation import evaluation
from genlab.image.translation.cyclegan import TASK
from genlab.image.translation.data import TranslationDataConfig, TranslationDataInfo, describe, load_translation_data
from genlab.image.translation.pipelines import TranslationPipeline
from genlab.image.translation.strokes import THICK, THIN

PREVIEW = 8  # rows of the sample report


class TranslationTask(Task):
    name = TASK
    modality = "image"
    description = "translate images between two unpaired domains (CycleGAN); demo: thin ↔ thick MNIST strokes"
    data_config_class = TranslationDataConfig
    default_model = "cyclegan"
    pipeline_class = TranslationPipeline
    cli_options = {
        "--data-a": "data.source_a",
        "--data-b": "data.source_b",
        "--image-size": "data.image_size",
        "--channels": "data.channels",
        "--max-images": "data.max_images",
        "--lr": "model.lr",
    }
    eval_request_class = evaluation.TranslationEvalRequest

    def __init__(self):
        # Held-out images of both domains loaded last in this process, shown by write_samples.
        self._preview: tuple[torch.Tensor, torch.Tensor] | None = None

    def load_data(self, data_cfg: TranslationDataConfig):
        train, val, info = load_translation_data(data_cfg)
        shown = val if val is not None else train
        a, b = shown.a.images[:PREVIEW], shown.b.images[:PREVIEW]
        n = min(len(a), len(b))
        self._preview = (to_pixels(a[:n]), to_pixels(b[:n]))
        return train, val, info

    def fill_model_config(self, values: dict[str, Any], info: TranslationDataInfo) -> dict[str, Any]:
        return fill_from_data(values, {"domain_a": info.source_a, "domain_b": info.source_b}, info)

    def write_samples(self, model: GenerativeModel, stem: Path, seed: int) -> Path:
        """Rows of held-out images: A | G_AB(A) | B | G_BA(B)."""
        path = stem.with_suffix(".png")
        path.parent.mkdir(parents=True, exist_ok=True)
        if self._preview is None:
            path = stem.with_suffix(".txt")
            path.write_text("no data loaded in this process to preview translations on\n", encoding="utf-8")
            return path
        a, b = self._preview
        rows = torch.stack([a, model.translate(a, "a2b"), b, model.translate(b, "b2a")], 1).flatten(0, 1)
        scale = max(1, 64 // model.config.image_size)
        return save_grid(rows, path, nrow=4, scale=scale)

    def evaluate(self, model: GenerativeModel, metrics: list[str] | None, options: dict[str, Any]) -> dict[str, Any]:
        """The stroke protocol (:mod:`~genlab.image.translation.evaluation`); other domains have no truth to score."""
        if metrics is None and (reason := evaluation.stroke_problem(model)):
            raise BadInputError(reason, f"`genlab eval` scores translation models trained on {THIN} and {THICK}")
        return evaluate_model(model, metrics, options)

    def eval_context(self, model: GenerativeModel, request) -> EvalContext:
        return evaluation.model_context(self, model, request)

    def eval_protocol(self, ctx: EvalContext) -> dict[str, Any]:
        return evaluation.model_protocol(ctx)

    def eval_baselines(self, ctx: EvalContext, specs: list[MetricSpec]) -> dict[str, EvalContext]:
        return evaluation.baselines(ctx)

    def describe_data(self, info: TranslationDataInfo) -> str:
        return describe(info)


TASKS.register(TASK)(TranslationTask())
