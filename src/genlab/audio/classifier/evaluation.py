"""Evaluation of audio classifiers: top-1 ``accuracy`` on held-out labelled clips, with its protocol.

The clips scored are, unless ``ref`` names others, the test split of the training data when the dataset
has one (``fsdd`` → ``fsdd:test``: takes 0–4 of every speaker and digit; ``builtin:espeak-digits`` →
its held-out voices), else the validation split held out when the model was trained (the split is seeded
and recorded with the model, so the same clips come back).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from pydantic import Field

from genlab.__about__ import __version__
from genlab.audio.classifier.model import TASK
from genlab.core.config import Config
from genlab.core.errors import BadInputError, DataError
from genlab.core.evaluation import EvalContext, register_metric, weights_field


class AudioClassificationEvalRequest(Config):
    """Options of ``genlab eval`` for audio classifiers."""

    ref: str | None = Field(
        None,
        description="labelled clips to score, e.g. fsdd:test or a folder (default: the test split of the training "
        "data, else its held-out validation split)",
    )
    data_dir: str | None = Field(None, description="folder of standard datasets")
    n: int | None = Field(None, ge=1, description="score at most this many clips (default: all of them)")
    seed: int = Field(0, description="seed of the choice of clips when n is smaller than the set")


@dataclass
class LabelledClips:
    """The clips a classifier is scored on: (N, clip_samples) at the model's rate, labels (N,), their origin."""

    source: str
    split: str
    waves: torch.Tensor
    labels: torch.Tensor

    def protocol(self) -> dict[str, Any]:
        return {"reference": self.source, "reference_split": self.split, "n_reference": len(self.waves)}


def model_context(task, model, request: AudioClassificationEvalRequest) -> EvalContext:
    return EvalContext(model, task, request, load_reference=load_reference)


def model_protocol(ctx: EvalContext) -> dict[str, Any]:
    protocol = {**ctx.reference.protocol(), "model": ctx.model.registry_name}
    protocol |= weights_field(ctx.model)
    return protocol | {"seed": ctx.request.seed, "genlab_version": __version__}


def load_reference(ctx: EvalContext) -> LabelledClips:
    """The labelled clips to score (see the module docstring), at the model's rate and clip length."""
    from genlab.audio.loading import AudioDataConfig, load_audio_data, parse_source, recorded_data_options, stack_clips
    from genlab.core.registry import DATASETS

    model, request = ctx.model, ctx.request
    data = model.provenance.data
    options = dict(data.get("config") or {})
    trained_on = data.get("source") or model.provenance.raw.get("dataset")
    base = recorded_data_options(model, request.data_dir)
    if request.ref:
        cfg = AudioDataConfig.build({**base, "source": request.ref, "val_fraction": 0.0}, where="eval")
        clips, split = load_audio_data(cfg)[0], f"all clips of {request.ref}"
    elif not trained_on:
        raise BadInputError(
            "no reference data: the model does not record its training data",
            "pass --ref with labelled clips (fsdd:test, a folder of WAV files named LABEL_SPEAKER_TAKE.wav)",
        )
    else:
        name, _ = parse_source(trained_on)
        if name in DATASETS and "test" in DATASETS.get(name).splits:
            cfg = AudioDataConfig.build({**base, "source": f"{name}:test", "val_fraction": 0.0}, where="eval")
            clips, split = load_audio_data(cfg)[0], "test"
        else:
            split_info = data.get("split", {})
            if not int(split_info.get("n_val") or 0):
                raise BadInputError(
                    f"{trained_on} has no test split and the model was trained with no validation split",
                    "pass --ref with labelled clips the model has not seen, or retrain with --val-fraction 0.1",
                )
            values = {**base, "source": trained_on, "val_fraction": split_info["val_fraction"],
                      "split_seed": split_info.get("seed", 0), "max_files": options.get("max_files")}  # fmt: skip
            clips = load_audio_data(AudioDataConfig.build(values, where="eval"))[1]
            split = f"validation split of {trained_on} (seed {split_info.get('seed', 0)})"
    waves, labels = stack_clips(clips)
    if request.n is not None and request.n < len(waves):
        pick = torch.randperm(len(waves), generator=torch.Generator().manual_seed(request.seed))[: request.n]
        waves, labels = waves[pick], labels[pick]
        split += f", {request.n} clips (seed {request.seed})"
    if len(waves) == 0 or bool((labels < 0).all()):
        raise DataError(f"no labelled clips to score in {request.ref or trained_on}", "pass --ref with labelled clips")
    return LabelledClips(request.ref or trained_on, split, waves, labels)


@register_metric(
    "audio/accuracy",
    task=TASK,
    outputs=("accuracy",),
    needs=("model", "reference"),
    default=True,
    protocol=lambda ctx: {"accuracy": "top-1 of the central clip_samples of each clip, model in eval mode"},
)
def accuracy(ctx: EvalContext) -> dict[str, float]:
    """Top-1 accuracy of the classifier on the reference clips."""
    ref = ctx.reference
    predicted = ctx.model.probabilities(ref.waves).argmax(1)
    return {"accuracy": float((predicted == ref.labels).float().mean())}
