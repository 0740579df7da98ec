"""The ``audio-classification`` task: labelled clips in, classifiers out.

``genlab train audio-classification --data fsdd --data-dir DIR --epochs 20`` trains the log-mel CNN
through the engine; ``genlab classify RUN clip.wav`` labels clips; ``genlab eval RUN`` scores its
accuracy on the test split (or the held-out validation split when the data has none).
``--label-field speaker`` trains a speaker classifier on the same files instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from genlab.audio.classifier import evaluation
from genlab.audio.classifier.model import TASK
from genlab.audio.classifier.pipelines import AudioClassificationPipeline
from genlab.audio.loading import (
    AudioDataConfig,
    AudioDataInfo,
    describe_audio_data,
    fill_audio_config,
    load_audio_data,
    stack_clips,
)
from genlab.core.errors import DataError
from genlab.core.evaluation import EvalContext
from genlab.core.model import GenerativeModel
from genlab.core.registry import TASKS
from genlab.core.task import Task

PREVIEW_CLIPS = 16  # clips drawn, with their predicted labels, in the sample sheet


class AudioClassificationTask(Task):
    name = TASK
    modality = "audio"
    description = "train classifiers of short audio clips (spoken digits, speakers) on labelled WAV folders or FSDD"
    data_config_class = AudioDataConfig
    default_model = "mel-cnn"
    pipeline_class = AudioClassificationPipeline
    cli_options = {
        "--sample-rate": "data.sample_rate",
        "--clip-seconds": "data.clip_seconds",
        "--label-field": "data.label_field",
        "--val-fraction": "data.val_fraction",
        "--lr": "model.lr",
    }
    eval_request_class = evaluation.AudioClassificationEvalRequest

    def __init__(self):
        self._preview: tuple[torch.Tensor, torch.Tensor, str, int] | None = None

    def load_data(self, data_cfg: AudioDataConfig):
        train, val, info = load_audio_data(data_cfg)
        if info.num_classes < 2:
            raise DataError(
                f"{info.source} has fewer than two classes: a classifier learns from labelled clips",
                "name files LABEL_SPEAKER_TAKE.wav, use one sub-folder per class, or pass --labels csv",
            )
        shown, which = (val, "validation") if val is not None else (train, "training")
        waves, labels = stack_clips(torch.utils.data.Subset(shown, range(min(PREVIEW_CLIPS, len(shown)))))
        self._preview = (waves, labels, which, info.sample_rate)
        return train, val, info

    def fill_model_config(self, values: dict[str, Any], info: AudioDataInfo) -> dict[str, Any]:
        return fill_audio_config(values, info, {"num_classes": info.num_classes, "class_names": info.class_names})

    def write_samples(self, model: GenerativeModel, stem: Path, seed: int) -> Path:
        """Spectrograms of preview clips, each titled with its predicted label (and the true one when wrong)."""
        from genlab.audio.plots import save_spectrogram_grid

        if self._preview is None:
            path = stem.with_suffix(".txt")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("no data loaded in this process to preview predictions on\n", encoding="utf-8")
            return path
        waves, labels, which, rate = self._preview
        predicted = model.probabilities(waves).argmax(1)
        names = model.class_names
        titles = [
            names[p] if p == y else f"{names[p]} (true {names[y]})"
            for p, y in zip(predicted.tolist(), labels.tolist(), strict=True)
        ]
        return save_spectrogram_grid(list(waves), rate, stem.with_suffix(".png"), titles=titles)

    def eval_context(self, model: GenerativeModel, request) -> EvalContext:
        return evaluation.model_context(self, model, request)

    def eval_protocol(self, ctx: EvalContext) -> dict[str, Any]:
        return evaluation.model_protocol(ctx)

    def describe_data(self, info: AudioDataInfo) -> str:
        return describe_audio_data(info)


TASKS.register(AudioClassificationTask.name)(AudioClassificationTask())
