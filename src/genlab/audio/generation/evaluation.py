"""Evaluation of audio generators with a judge classifier, as the WaveGAN paper scored SC09 digits.

A *judge* — a log-mel CNN of the ``audio-classification`` task (:mod:`genlab.audio.classifier`), by default
the shipped ``fsdd-digits`` — reads every clip; its class probabilities p(y|x) and its feature layer φ(x)
give three registered metrics of the ``audio-generation`` task (``genlab eval RUN --metrics
label_accuracy,is,fd``):

* ``label_accuracy`` (conditional models): the share of generated clips the judge assigns to the label
  they were generated for. The ``n`` clips are drawn with the labels in turn, so each class gets n/K.
* ``is`` (+ ``is_std``): the inception score (Salimans et al. 2016) with the judge as the classifier,
  ``exp(E_x KL(p(y|x) ‖ p(y)))`` with p(y) the mean of p(y|x) over the clips; between 1 and the number of
  judge classes K. Mean and standard deviation over ``min(10, n // 100)`` (at least 1) seeded splits.
  Donahue et al. (2019) scored SC09 this way with their own digit classifier.
* ``fd``: the Fréchet distance (Dowson & Landau 1982) between Gaussians fitted to the judge features of
  the generated clips and of the reference clips, ``‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^½)``
  (:func:`genlab.core.stats.fid_from_features`, as FID does with Inception features; Heusel et al. 2017).

**Judge input.** Clips are at the generator's rate and length; the judge may want others. Each clip
(generated, reference or baseline, all alike) is resampled to the judge's rate (polyphase,
:func:`genlab.audio.io.resample`) and centre-cropped or zero-padded to the judge's ``clip_samples``
(:func:`genlab.audio.io.fit_length`). The judge scales each clip to unit RMS itself.

**Reference and baselines.** The reference clips are the test split of the training dataset when it has
one (``fsdd`` → ``fsdd:test``, ``builtin:espeak-digits`` → its held-out voices), else the validation split
held out when the model was trained, or ``--ref``; at most ``n`` of them (seeded). Two baselines are scored
the same way: ``real`` — real clips disjoint from the reference (the training split, at most ``n``), the
floor of ``fd`` and the ceiling of the others — and ``noise`` — white Gaussian noise at the reference's
mean RMS level (speech level), labels in turn. The protocol records the numbers of clips, the reference
and its split, the judge with the sha256 of its weights, its input conversion, the seed and the version.

References:
    T. Salimans, I. Goodfellow, W. Zaremba, V. Cheung, A. Radford and X. Chen, "Improved Techniques for
    Training GANs", NeurIPS 2016.
    M. Heusel, H. Ramsauer, T. Unterthiner, B. Nessler and S. Hochreiter, "GANs Trained by a Two Time-Scale
    Update Rule Converge to a Local Nash Equilibrium", NeurIPS 2017.
    D. C. Dowson and B. V. Landau, "The Fréchet distance between multivariate normal distributions",
    Journal of Multivariate Analysis 12, 1982.
    C. Donahue, J. McAuley and M. Puckette, "Adversarial Audio Synthesis", ICLR 2019.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from pydantic import Field

from genlab.__about__ import __version__
from genlab.audio.generation.base import TASK
from genlab.audio.loading import stack_clips
from genlab.core.config import Config
from genlab.core.errors import BadInputError, DataError
from genlab.core.evaluation import EvalContext, register_metric, weights_field
from genlab.core.seeding import make_generator

DEFAULT_N = 1000
DEFAULT_JUDGE = "fsdd-digits"
IS_SPLITS = 10
CLIPS_PER_SPLIT = 100  # fewer clips than 10 × 100: fewer splits, so no split is tiny
KEEP = ("judge", "reference_features")  # what baselines share with the model's context


class AudioGenerationEvalRequest(Config):
    """Options of ``genlab eval`` for audio generators."""

    n: int = Field(DEFAULT_N, ge=2, description="generated clips (labels in turn); also the most reference clips")
    seed: int = Field(0, description="seed of the samples, the reference subset, the noise and the IS splits")
    ref: str | None = Field(
        None, description="reference clips, e.g. fsdd:test (default: the test split of the training data, else its "
        "validation split)"
    )  # fmt: skip
    data_dir: str | None = Field(None, description="folder of standard datasets")
    judge: str = Field(
        DEFAULT_JUDGE, description="the judge classifier: a shipped one (fsdd-digits) or a saved model directory"
    )
    baselines: bool = Field(True, description="also score real clips (disjoint from the reference) and noise")


@dataclass
class Clips:
    """Clips (N, samples) at the generator's rate and length, with their labels (N,) (None: unlabelled)."""

    waves: torch.Tensor
    labels: torch.Tensor | None


@dataclass
class Reference:
    """The reference clips, and real clips disjoint from them (``other``, the real baseline; None if unknown)."""

    source: str
    split: str
    clips: Clips
    other: Clips | None = None
    other_split: str = ""

    def protocol(self) -> dict[str, Any]:
        return {"reference": self.source, "reference_split": self.split, "n_reference": len(self.clips.waves)}


# --------------------------------------------------------------------------- context


def model_context(task, model, request: AudioGenerationEvalRequest) -> EvalContext:
    """The context of a model: ``n`` clips drawn with the labels in turn; the reference of the module docstring."""
    return EvalContext(model, task, request, draw_samples=_draw_samples, load_reference=load_reference)


def _draw_samples(ctx: EvalContext) -> Clips:
    from genlab.audio.generation.pipelines import draw

    ctx.reference  # noqa: B018  (a bad --ref or --judge fails before the sampling)
    judge_of(ctx)
    model, n = ctx.model, ctx.request.n
    labels = model.check_labels(None, n)  # conditional: 0, 1, …, K−1, 0, … ; else None
    labels = None if labels is None else labels.cpu()
    return Clips(draw(model, labels, n, make_generator(ctx.request.seed)), labels)


def model_protocol(ctx: EvalContext) -> dict[str, Any]:
    drawn = ctx.cache.get("samples")
    protocol = {"n_generated": 0 if drawn is None else len(drawn.waves), **ctx.reference.protocol()}
    protocol["model"] = ctx.model.registry_name
    protocol |= weights_field(ctx.model)
    if ctx.model.conditional:
        protocol["labels"] = f"in turn over the {ctx.model.config.num_classes} classes"
    return protocol | {"seed": ctx.request.seed, "genlab_version": __version__}


def baseline_contexts(ctx: EvalContext) -> dict[str, EvalContext]:
    """``real`` (clips disjoint from the reference) and ``noise`` (Gaussian noise at the reference's level)."""
    if not ctx.request.baselines:
        return {}
    ref, n, out = ctx.reference, ctx.request.n, {}
    if ref.other is not None:
        description = f"{len(ref.other.waves)} clips of {ref.other_split}"
        out["real"] = ctx.derive("real", samples=ref.other, keep=KEEP, protocol={"baseline_real": description})
    level = float(ref.clips.waves.pow(2).mean(1).sqrt().mean())
    g = make_generator(ctx.request.seed + 1)
    noise = torch.randn(n, ctx.model.config.clip_samples, generator=g) * level
    labels = ctx.model.check_labels(None, n)
    description = f"{n} clips of white Gaussian noise at the reference's mean RMS ({level:.4f})"
    out["noise"] = ctx.derive(
        "noise", samples=Clips(noise.clamp(-1, 1), None if labels is None else labels.cpu()), keep=KEEP,
        protocol={"baseline_noise": description},
    )  # fmt: skip
    return out


# --------------------------------------------------------------------------- reference clips


def _subset(waves: torch.Tensor, labels: torch.Tensor, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, bool]:
    if len(waves) <= n:
        return waves, labels, False
    pick = torch.randperm(len(waves), generator=make_generator(seed))[:n]
    return waves[pick], labels[pick], True


def load_reference(ctx: EvalContext) -> Reference:
    """The reference clips and the disjoint real clips (module docstring), at the generator's rate and length."""
    from genlab.audio.loading import AudioDataConfig, load_audio_data, parse_source, recorded_data_options
    from genlab.core.registry import DATASETS

    model, request = ctx.model, ctx.request
    data = model.provenance.data
    options = dict(data.get("config") or {})
    trained_on = data.get("source") or model.provenance.raw.get("dataset")
    base = recorded_data_options(model, request.data_dir)

    def load(source: str, **values: Any):
        return load_audio_data(AudioDataConfig.build({**base, "source": source, "val_fraction": 0.0, **values}, "eval"))

    name, _ = parse_source(trained_on) if trained_on else (None, None)
    has_test = name in DATASETS and "test" in DATASETS.get(name).splits
    split_info = data.get("split", {})
    held_out = bool(int(split_info.get("n_val") or 0))
    split_values = {"val_fraction": split_info.get("val_fraction", 0.0), "split_seed": split_info.get("seed", 0),
                    "max_files": options.get("max_files")}  # fmt: skip
    if request.ref:
        ref_set, source, split = load(request.ref)[0], request.ref, f"all clips of {request.ref}"
    elif not trained_on:
        raise BadInputError(
            "no reference clips: the model does not record its training data",
            "pass --ref with clips to compare with (fsdd:test, a folder of WAV files named LABEL_SPEAKER_TAKE.wav)",
        )
    elif has_test:
        ref_set, source, split = load(f"{name}:test")[0], trained_on, "test"
    elif held_out:
        ref_set, source = load(trained_on, **split_values)[1], trained_on
        split = f"validation split of {trained_on} (seed {split_values['split_seed']})"
    else:
        raise BadInputError(
            f"{trained_on} has no test split and the model was trained with no validation split",
            "pass --ref with clips the model has not seen, or retrain with --val-fraction 0.1",
        )
    other, other_split = None, ""
    if trained_on:  # the real baseline: training clips, disjoint from the reference
        train_source = f"{name}:train" if has_test else trained_on
        other_set = load(train_source, **(split_values if held_out and not has_test else {}))[0]
        what = train_source if has_test else f"the training split of {train_source}"
        other, other_split = Clips(*stack_clips(other_set)), what
    waves, labels = stack_clips(ref_set)
    if len(waves) == 0:
        raise DataError(f"no reference clips in {request.ref or trained_on}", "pass --ref with some clips")
    waves, labels, cut = _subset(waves, labels, request.n, request.seed)
    split += f", {request.n} clips (seed {request.seed})" if cut else ""
    if other is not None:
        other_waves, other_labels, _ = _subset(other.waves, other.labels, request.n, request.seed + 2)
        other = Clips(other_waves, other_labels)
    return Reference(source, split, Clips(waves, labels), other, other_split)


# --------------------------------------------------------------------------- the judge


def judge_of(ctx: EvalContext):
    """The context's judge classifier (loaded once; baselines share it)."""
    from genlab.audio.classifier.train import load_audio_classifier

    return ctx.cached("judge", lambda: load_audio_classifier(ctx.request.judge))


def judge_input(waves: torch.Tensor, sample_rate: int, judge) -> torch.Tensor:
    """Clips (N, samples) at ``sample_rate`` → the judge's input: resampled to its rate, centre-cropped or
    zero-padded to its ``clip_samples``."""
    from genlab.audio.io import fit_length, resample

    rate, length = judge.config.sample_rate, judge.config.clip_samples
    if sample_rate != rate:
        waves = resample(waves, sample_rate, rate).float()
    return fit_length(waves, length)


def judge_protocol(ctx: EvalContext) -> dict[str, Any]:
    judge, rate = judge_of(ctx), ctx.model.config.sample_rate
    c = judge.config
    conversion = f"resampled from {rate} Hz (polyphase), " if rate != c.sample_rate else ""
    return {
        "judge": ctx.request.judge,
        "judge_sha256": judge.provenance.weights_sha256,
        "judge_classes": judge.class_names,
        "judge_input": f"{conversion}centre-cropped or zero-padded to {c.clip_samples} samples at {c.sample_rate} Hz",
    }


def _probabilities(ctx: EvalContext) -> torch.Tensor:
    """Judge class probabilities (N, K) of the context's clips."""
    judge, rate = judge_of(ctx), ctx.model.config.sample_rate
    return ctx.cached("sample_probabilities", lambda: judge.probabilities(judge_input(ctx.samples.waves, rate, judge)))


def _features(ctx: EvalContext) -> tuple[torch.Tensor, torch.Tensor]:
    """(reference, sample) judge features (N, feature_dim)."""
    judge, rate = judge_of(ctx), ctx.model.config.sample_rate
    real = ctx.cached("reference_features", lambda: judge.embed(judge_input(ctx.reference.clips.waves, rate, judge)))
    fake = ctx.cached("sample_features", lambda: judge.embed(judge_input(ctx.samples.waves, rate, judge)))
    return real, fake


def inception_score(probabilities: torch.Tensor, splits: int, seed: int = 0) -> tuple[float, float]:
    """``exp(E_x KL(p(y|x) ‖ p(y)))`` of class probabilities (N, K) over ``splits`` seeded random splits: (mean,
    standard deviation over the splits; 0 for one split). Each value lies in [1, K]."""
    p = probabilities.double().clamp_min(1e-12)
    order = torch.randperm(len(p), generator=make_generator(seed))
    scores = []
    for part in order.chunk(splits):
        q = p[part]
        marginal = q.mean(0, keepdim=True)  # p(y) over the split
        scores.append(float((q * (q.log() - marginal.log())).sum(1).mean().exp()))
    values = torch.tensor(scores, dtype=torch.float64)
    return float(values.mean()), float(values.std()) if len(scores) > 1 else 0.0


def is_splits(n: int) -> int:
    return max(1, min(IS_SPLITS, n // CLIPS_PER_SPLIT))


# --------------------------------------------------------------------------- registered metrics


def _unconditional(model) -> str | None:
    if model.conditional:
        return None
    return f"label_accuracy needs a conditional model (trained with --conditional); this {model.registry_name} is not"


def judge_classes(ctx: EvalContext) -> torch.Tensor:
    """The judge's class index of each of the model's classes (matched by name); a class the judge does not
    know raises with a hint."""
    model_names, judge_names = ctx.model.class_names, judge_of(ctx).class_names
    missing = [name for name in model_names if name not in judge_names]
    if missing:
        raise BadInputError(
            f"the judge {ctx.request.judge} does not know the label(s) {', '.join(missing)} of this model "
            f"(it knows {', '.join(judge_names)})",
            "pass --judge with a classifier trained on the labels of the model's data (python -m "
            "genlab.audio.classifier --dataset DATA --out DIR)",
        )
    return torch.tensor([judge_names.index(name) for name in model_names])


@register_metric(
    "audio/label_accuracy",
    task=TASK,
    outputs=("label_accuracy",),
    needs=("model", "samples"),
    default=True,
    on_baselines=True,
    applies=_unconditional,
    protocol=judge_protocol,
)
def label_accuracy(ctx: EvalContext) -> dict[str, float]:
    """Share of the clips generated for a label that the judge assigns to that label (conditional models)."""
    asked = ctx.samples.labels
    if asked is None:
        raise DataError("these clips carry no labels to check", "label accuracy scores conditional samples")
    known = asked >= 0  # real clips of a folder may include unlabelled ones (-1)
    if not bool(known.any()):
        raise DataError("none of these clips has a label to check", "label accuracy scores labelled clips")
    target = judge_classes(ctx)[asked[known].long()]
    predicted = _probabilities(ctx)[known].argmax(1)
    return {"label_accuracy": float((predicted == target).double().mean())}


@register_metric(
    "audio/is",
    task=TASK,
    outputs=("is", "is_std"),
    needs=("samples",),
    default=True,
    on_baselines=True,
    protocol=lambda ctx: judge_protocol(ctx) | {"is_splits": is_splits(len(ctx.samples.waves))},
)
def inception_score_metric(ctx: EvalContext) -> dict[str, float]:
    """Inception score of the clips under the judge: between 1 and its number of classes (higher is better)."""
    probabilities = _probabilities(ctx)
    value, std = inception_score(probabilities, is_splits(len(probabilities)), seed=ctx.request.seed)
    return {"is": value, "is_std": std}


@register_metric(
    "audio/fd",
    task=TASK,
    outputs=("fd",),
    needs=("samples", "reference"),
    default=True,
    on_baselines=True,
    protocol=judge_protocol,
)
def frechet_distance(ctx: EvalContext) -> dict[str, float]:
    """Fréchet distance between Gaussian fits of judge features of the clips and of the reference (lower is better)."""
    from genlab.core.stats import fid_from_features

    real, fake = _features(ctx)
    return {"fd": fid_from_features(real, fake)}
