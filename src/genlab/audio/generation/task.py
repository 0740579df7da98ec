"""The ``audio-generation`` task: clips in, generators of clips out (WaveGAN, SpecGAN, WaveNet).

``genlab train audio-generation --model wavegan --data fsdd --data-dir DIR --conditional --max-minutes 60``
trains on fixed-length clips (:mod:`genlab.audio.loading`: ``--sample-rate``, ``--clip-seconds``; the
networks pad them to a power-of-2 window); ``genlab sample RUN --label 7 --n 8 --out sevens/`` writes WAVs
and a spectrogram sheet; ``genlab eval RUN`` scores label accuracy, inception score and Fréchet distance
with a judge classifier (:mod:`genlab.audio.generation.evaluation`).

The data fill the model's ``sample_rate``, ``clip_samples``, ``num_classes`` and ``class_names``; a model
asked to be ``--conditional`` on unlabelled clips is refused before training. SpecGAN's spectrogram
statistics (per-bin mean and standard deviation of the log magnitudes) are measured here on every
training clip and written into its config, so the model normalises with the whole training set's values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from genlab.audio.generation import evaluation
from genlab.audio.generation.base import TASK, AudioGenerator
from genlab.audio.generation.pipelines import AudioClipsOutput, AudioGenerationPipeline, draw, titles_for
from genlab.audio.loading import (
    AudioDataConfig,
    AudioDataInfo,
    describe_audio_data,
    fill_audio_config,
    load_audio_data,
)
from genlab.core.errors import ConfigError
from genlab.core.evaluation import EvalContext, MetricSpec
from genlab.core.model import GenerativeModel
from genlab.core.registry import TASKS
from genlab.core.seeding import make_generator
from genlab.core.task import Task

PREVIEW_CLIPS = 8  # clips in the sample sheet of an unconditional model
MAX_PREVIEW_CLASSES = 16  # a conditional model shows one clip of each of its first classes
STATS_BATCH = 256


class AudioGenerationTask(Task):
    name = TASK
    modality = "audio"
    description = "train generators of short clips (WaveGAN, SpecGAN, WaveNet) on WAV folders, FSDD or eSpeak digits"
    data_config_class = AudioDataConfig
    default_model = "wavegan"
    pipeline_class = AudioGenerationPipeline
    cli_options = {
        "--sample-rate": "data.sample_rate",
        "--clip-seconds": "data.clip_seconds",
        "--label-field": "data.label_field",
        "--val-fraction": "data.val_fraction",
        "--conditional": "model.conditional",
        "--model-size": "model.model_size",
        "--window-samples": "model.window_samples",
    }
    eval_request_class = evaluation.AudioGenerationEvalRequest

    def __init__(self):
        self._train_set = None  # the training clips of this process (SpecGAN measures its statistics on them)
        self._model_cls: type[GenerativeModel] | None = None

    def load_data(self, data_cfg: AudioDataConfig):
        train, val, info = load_audio_data(data_cfg)
        self._train_set = train
        return train, val, info

    def check_model_fits_data(self, model_cls: type[GenerativeModel], info: AudioDataInfo) -> None:
        self._model_cls = model_cls  # fill_model_config, called next, completes this class's config

    def fill_model_config(self, values: dict[str, Any], info: AudioDataInfo) -> dict[str, Any]:
        if values.get("conditional") and info.num_classes < 2:
            raise ConfigError(
                f"--conditional needs labelled clips, but {info.source} has "
                + ("no labels" if info.num_classes == 0 else "a single class"),
                "name the files LABEL_SPEAKER_TAKE.wav, use one sub-folder per class or --labels csv, "
                "or train without --conditional",
            )
        values = fill_audio_config(values, info, {"num_classes": info.num_classes, "class_names": info.class_names})
        measured = self._measured(values)
        self._train_set = None  # measured: the task keeps no clips once the model is configured
        return values | measured

    def _measured(self, values: dict[str, Any]) -> dict[str, Any]:
        """Config values the model measures on the training clips (SpecGAN's spectrogram statistics)."""
        cls = self._model_cls
        if cls is None or self._train_set is None or not hasattr(cls, "statistics"):
            return {}
        if values.get("spec_mean") is not None and values.get("spec_std") is not None:
            return {}  # given explicitly (a resumed run's config)
        config = cls.config_class.build(values, where="model")
        waves = self._train_set.waves  # the raw clips, before any augmentation
        batches = (torch.stack([_fit(w, config.clip_samples) for w in waves[i : i + STATS_BATCH]])
                   for i in range(0, len(waves), STATS_BATCH))  # fmt: skip
        return cls.statistics(config, batches)

    def write_samples(self, model: AudioGenerator, stem: Path, seed: int) -> Path:
        """A spectrogram sheet ``stem.png`` of generated clips titled with their labels, the WAVs in ``stem/``."""
        labels = torch.arange(min(model.config.num_classes, MAX_PREVIEW_CLASSES)) if model.conditional else None
        n = PREVIEW_CLIPS if labels is None else len(labels)
        waves = draw(model, labels, n, make_generator(seed))
        output = AudioClipsOutput(waves, model.config.sample_rate, titles_for(model, labels, n))
        output.save_wavs(stem)
        return output.save_grid(stem.with_suffix(".png"))

    # Evaluation: label accuracy, inception score and Fréchet distance under a judge classifier, with a real
    # and a noise baseline; see genlab.audio.generation.evaluation.
    def eval_context(self, model: GenerativeModel, request) -> EvalContext:
        return evaluation.model_context(self, model, request)

    def eval_protocol(self, ctx: EvalContext) -> dict[str, Any]:
        return evaluation.model_protocol(ctx)

    def eval_baselines(self, ctx: EvalContext, specs: list[MetricSpec]) -> dict[str, EvalContext]:
        return evaluation.baseline_contexts(ctx)

    def describe_data(self, info: AudioDataInfo) -> str:
        return describe_audio_data(info)


def _fit(wave: torch.Tensor, length: int) -> torch.Tensor:
    """A clip centred in ``length`` samples, as the data loader cuts clips without augmentation."""
    from genlab.audio.io import fit_length

    return fit_length(wave, length)


TASKS.register(AudioGenerationTask.name)(AudioGenerationTask())
