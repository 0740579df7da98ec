"""Evaluation of voice conversion: does the converted voice sound like the target, and are the words kept?

Two judge classifiers of the ``audio-classification`` task (:mod:`genlab.audio.classifier`) listen: a speaker
classifier (``--judge-speaker``, default the shipped ``fsdd-speakers``) and a content classifier
(``--judge-content``, default ``fsdd-digits``). Each held-out source clip is converted to every *other*
training speaker of the model, and three registered metrics of the ``voice-conversion`` task are the shares
of those conversions where

* ``target_speaker_accuracy``: the speaker judge hears the target speaker (the conversion worked);
* ``source_speaker_accuracy``: the speaker judge still hears the source speaker (≈ 1: nothing was converted);
* ``content_accuracy``: the content judge hears what the source clip says (its label, e.g. the digit).

**Source clips.** ``--ref`` (clips named LABEL_SPEAKER_TAKE.wav, or a dataset such as ``fsdd:test``), else
the test split of the training dataset when it has one (``fsdd`` → ``fsdd:test``: takes 0–4 of every speaker
and digit), else the validation split held out when the model was trained; ``--n`` of them at most (a seeded
subset), only clips whose speaker is named. Each is read at the model's rate and centre-cropped or zero-padded
to the content judge's clip duration (1 s for the shipped judges), as the judges were scored.

**Judge input.** Every clip the judges hear — converted, unconverted or from a baseline — is resampled to the
judge's rate (polyphase) and centre-cropped or zero-padded to its ``clip_samples``
(:func:`genlab.audio.generation.evaluation.judge_input`); the judges scale each clip to unit RMS themselves.
The target speakers must be classes of the speaker judge, and the content labels classes of the content
judge (matched by name).

**Baselines** (``--baselines``, on by default), scored by the same metrics on the same pairs:

* ``source``: the source clips unconverted — the judges' accuracy on real speech, the ceiling of
  ``content_accuracy`` and (for ``source_speaker_accuracy``) of "no conversion";
* ``world``: WORLD voice conversion (:mod:`genlab.audio.world`) to the target's log-F0 mean and spread, with
  formants scaled by the F0 ratio^0.3: ``--world RUN`` (a run of ``genlab train voice-conversion --model
  world``), else ``audio/world`` fitted here with DIO + StoneMask on at most ``--world-clips`` training
  recordings of each speaker of the evaluated run. Left out when the evaluated model is WORLD itself;
* ``vocoded`` (neural models): the source clips through the model's features and vocoder alone (mel →
  Griffin-Lim, no network) — what the vocoder costs the judges before any conversion.

The protocol records the source clips and split, the number of conversions, the judges with the sha256 of
their weights and classes, their input conversion, the baselines, the seed and the version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from pydantic import Field

from genlab.__about__ import __version__
from genlab.audio.vc import TASK
from genlab.core.config import Config
from genlab.core.errors import BadInputError, CheckpointError, DataError
from genlab.core.evaluation import EvalContext, register_metric, weights_field
from genlab.core.seeding import make_generator

DEFAULT_N = 100
SPEAKER_JUDGE, CONTENT_JUDGE = "fsdd-speakers", "fsdd-digits"
WORLD_CLIPS = 30
KEEP = ("judges", "world_model")  # what baselines share with the model's context


class VoiceEvalRequest(Config):
    """Options of ``genlab eval`` for voice-conversion runs."""

    n: int = Field(
        DEFAULT_N, ge=1, description="held-out source clips (a seeded subset), each converted to every other speaker"
    )
    seed: int = Field(0, description="seed of the subset of source clips and of the vocoder's random phase")
    ref: str | None = Field(
        None, description="source clips named LABEL_SPEAKER_TAKE.wav, or e.g. fsdd:test (default: the test split of "
        "the training data, else its validation split)",
    )  # fmt: skip
    data_dir: str | None = Field(None, description="folder of standard datasets")
    judge_speaker: str = Field(
        SPEAKER_JUDGE, description="speaker classifier: a shipped one (fsdd-speakers) or a saved model directory"
    )
    judge_content: str = Field(
        CONTENT_JUDGE, description="content classifier: a shipped one (fsdd-digits) or a saved model directory"
    )
    world: str | None = Field(
        None, description="a WORLD run to score as the baseline (default: fit audio/world on the training data)"
    )
    world_clips: int = Field(
        WORLD_CLIPS, ge=1, le=10000, description="recordings per speaker the fitted WORLD baseline measures"
    )
    baselines: bool = Field(True, description="also score the unconverted clips, WORLD and (neural) the vocoder alone")


@dataclass
class SourceClips:
    """Held-out clips (N, samples) at ``sample_rate`` (the evaluated model's), their speakers and content labels
    (None: unlabelled), and the speakers they are converted to (the evaluated model's)."""

    source: str
    split: str
    waves: torch.Tensor
    sample_rate: int
    speakers: list[str]
    contents: list[str | None]
    target_pool: list[str]

    def protocol(self) -> dict[str, Any]:
        return {"reference": self.source, "reference_split": self.split, "n_source": len(self.waves)}


@dataclass
class Conversions:
    """Clips (M, samples) at the model's rate, each meant to be ``targets[i]`` saying ``contents[i]``, made from a
    clip of ``sources[i]``."""

    waves: torch.Tensor
    sources: list[str]
    targets: list[str]
    contents: list[str | None]


# --------------------------------------------------------------------------- context


def model_context(task, model, request: VoiceEvalRequest) -> EvalContext:
    """The context of a model: its conversions of the source clips to every other speaker (module docstring)."""
    return EvalContext(model, task, request, draw_samples=_draw_samples, load_reference=load_reference)


def pairs(ref: SourceClips) -> tuple[list[int], list[str]]:
    """(clip index, target speaker) of every conversion: each clip to each training speaker but its own."""
    index, targets = [], []
    for i, source in enumerate(ref.speakers):
        for target in ref.target_pool:
            if target != source:
                index.append(i)
                targets.append(target)
    return index, targets


def _unconverted(ctx: EvalContext, waves: torch.Tensor) -> Conversions:
    """Clips (N, samples), one per source clip, laid out as the conversion pairs (each repeated per target)."""
    ref = ctx.reference
    index, targets = pairs(ref)
    return Conversions(waves[index], [ref.speakers[i] for i in index], targets, [ref.contents[i] for i in index])


def _draw_samples(ctx: EvalContext) -> Conversions:
    """The context's model converts every source clip to every other speaker (seeded vocoder phase)."""
    judges_of(ctx)  # a bad judge, or a target the judge does not know, fails before the conversions
    pairs_ = _unconverted(ctx, ctx.reference.waves)
    waves = ctx.model.convert_clips(pairs_.waves, pairs_.targets, pairs_.sources, make_generator(ctx.request.seed))
    return Conversions(waves, pairs_.sources, pairs_.targets, pairs_.contents)


def model_protocol(ctx: EvalContext) -> dict[str, Any]:
    drawn = ctx.cache.get("samples")
    protocol = {**ctx.reference.protocol(), "n_conversions": 0 if drawn is None else len(drawn.waves)}
    protocol["targets"] = f"every training speaker but the source's ({', '.join(ctx.reference.target_pool)})"
    protocol["model"] = ctx.model.registry_name
    protocol |= weights_field(ctx.model)
    return protocol | {"seed": ctx.request.seed, "genlab_version": __version__}


def baseline_contexts(ctx: EvalContext) -> dict[str, EvalContext]:
    """``source`` (unconverted), ``world`` (unless the model is WORLD) and, for a neural model, ``vocoded``."""
    from genlab.audio.vc import VCAutoencoder
    from genlab.audio.voice import WorldVoice

    if not ctx.request.baselines:
        return {}
    out = {
        "source": ctx.derive("source", samples=_unconverted(ctx, ctx.reference.waves), keep=KEEP,
                             protocol={"baseline_source": "the source clips, unconverted"}),
    }  # fmt: skip
    if not isinstance(ctx.model, WorldVoice):
        world, how = world_baseline(ctx)
        out["world"] = ctx.derive("world", model=world, keep=KEEP, protocol={"baseline_world": how})
    if isinstance(ctx.model, VCAutoencoder):
        vocoded = ctx.model.resynthesize(ctx.reference.waves, make_generator(ctx.request.seed))
        description = f"the source clips through the features and the vocoder only ({ctx.model.vocoder_name})"
        out["vocoded"] = ctx.derive("vocoded", samples=_unconverted(ctx, vocoded), keep=KEEP,
                                    protocol={"baseline_vocoded": description})  # fmt: skip
    return out


# --------------------------------------------------------------------------- source clips


def _load_labelled(values: dict[str, Any], part: int):
    """The clips of one split part (0 train, 1 validation) with speakers and content labels, in the same order."""
    from genlab.audio.loading import AudioDataConfig, load_audio_data

    by_speaker = load_audio_data(AudioDataConfig.build({**values, "label_field": "speaker"}, where="eval"))
    by_content = load_audio_data(AudioDataConfig.build({**values, "label_field": "label"}, where="eval"))
    return by_speaker[part], by_speaker[2], by_content[part], by_content[2]


def _recorded(model) -> tuple[str | None, dict[str, Any], dict[str, Any]]:
    """(training source, data options, split) recorded with the model."""
    data = model.provenance.data
    source = data.get("source") or model.provenance.raw.get("dataset")
    return source, dict(data.get("config") or {}), dict(data.get("split") or {})


def load_reference(ctx: EvalContext) -> SourceClips:
    """The source clips of the module docstring, at the model's rate, cut to the content judge's duration."""
    from genlab.audio.loading import parse_source, stack_clips
    from genlab.audio.voice import SPEAKER_PATTERN
    from genlab.core.registry import DATASETS

    model, request = ctx.model, ctx.request
    trained_on, options, split_info = _recorded(model)
    _, content_judge = judges_of(ctx, check=False)
    seconds = content_judge.config.clip_samples / content_judge.config.sample_rate
    labels = options.get("labels") if options.get("labels") not in (None, "none") else "auto"
    base = {
        "labels": labels, "labels_csv": options.get("labels_csv"), "pattern": options.get("pattern") or SPEAKER_PATTERN,
        "data_dir": request.data_dir or options.get("data_dir"), "sample_rate": model.config.sample_rate,
        "clip_seconds": seconds, "augment": False, "val_fraction": 0.0,
    }  # fmt: skip
    name, _ = parse_source(trained_on) if trained_on else (None, None)
    if request.ref:
        values, part, source, split = {**base, "source": request.ref}, 0, request.ref, f"all clips of {request.ref}"
    elif not trained_on:
        raise BadInputError(
            "no source clips: the model does not record its training data",
            "pass --ref with clips named LABEL_SPEAKER_TAKE.wav (or fsdd:test)",
        )
    elif name in DATASETS and "test" in DATASETS.get(name).splits:
        values, part, source, split = {**base, "source": f"{name}:test"}, 0, trained_on, "test"
    elif int(split_info.get("n_val") or 0):
        seed = split_info.get("seed", 0)
        values = {**base, "source": trained_on, "val_fraction": split_info["val_fraction"], "split_seed": seed,
                  "max_files": options.get("max_files")}  # fmt: skip
        part, source, split = 1, trained_on, f"validation split of {trained_on} (seed {seed})"
    else:
        raise BadInputError(
            f"{trained_on} has no test split and the model was trained with no validation split",
            "pass --ref with clips of the training speakers the model has not heard, or retrain with "
            "--val-fraction 0.1",
        )
    speaker_set, speaker_info, content_set, content_info = _load_labelled(values, part)
    waves, speaker_ids = stack_clips(speaker_set)
    content_ids = torch.tensor(content_set.labels, dtype=torch.long)
    keep = torch.nonzero(speaker_ids >= 0).flatten()
    if len(keep) == 0:
        raise DataError(f"no clip of {source} names its speaker", "pass --ref with clips named LABEL_SPEAKER_TAKE.wav")
    if len(keep) > request.n:
        keep = keep[torch.randperm(len(keep), generator=make_generator(request.seed))[: request.n]].sort().values
        split += f", {request.n} clips (seed {request.seed})"
    speakers = [speaker_info.class_names[int(speaker_ids[i])] for i in keep]
    contents = [content_info.class_names[int(content_ids[i])] if content_ids[i] >= 0 else None for i in keep]
    rate = model.config.sample_rate
    return SourceClips(source, split, waves[keep], rate, speakers, contents, list(model.config.speakers))


# --------------------------------------------------------------------------- judges and the WORLD baseline


def judges_of(ctx: EvalContext, check: bool = True):
    """(speaker judge, content judge), loaded once; with ``check``, every target speaker must be a class of the
    speaker judge."""
    from genlab.audio.classifier.train import load_audio_classifier

    request = ctx.request
    speaker, content = ctx.cached(
        "judges", lambda: tuple(load_audio_classifier(j) for j in (request.judge_speaker, request.judge_content))
    )
    if check:
        unknown = [s for s in ctx.reference.target_pool if s not in speaker.class_names]
        if unknown:
            raise BadInputError(
                f"the speaker judge {ctx.request.judge_speaker} does not know the speaker(s) {', '.join(unknown)} of "
                f"this model (it knows {', '.join(speaker.class_names)})",
                "pass --judge-speaker with a speaker classifier of the model's speakers (python -m "
                "genlab.audio.classifier --dataset DATA --label-field speaker --out DIR)",
            )
    return speaker, content


def world_baseline(ctx: EvalContext):
    """(the WORLD model of the ``world`` baseline, its description): ``--world RUN``, else fitted on the training
    recordings of the evaluated run (at most ``world_clips`` per speaker, DIO + StoneMask)."""
    return ctx.cached("world_model", lambda: _world_model(ctx))


def _world_model(ctx: EvalContext):
    from genlab.audio.loading import AudioDataConfig, ClipDataset, load_audio_data
    from genlab.audio.voice import WorldConfig, WorldVoice
    from genlab.core.model import GenerativeModel
    from genlab.core.runs import resolve_model_dir

    model, request = ctx.model, ctx.request
    speakers = model.config.speakers
    if request.world:
        world = GenerativeModel.from_pretrained(resolve_model_dir(request.world))
        if not isinstance(world, WorldVoice):
            raise CheckpointError(f"{request.world} holds a {world.registry_name}, not audio/world",
                                  "pass a run of genlab train voice-conversion --model world")  # fmt: skip
        if missing := [s for s in speakers if s not in world.config.speakers]:
            raise BadInputError(f"the WORLD run {request.world} was not fitted on {', '.join(missing)}",
                                "fit it on the same speakers, or leave --world out to fit one here")  # fmt: skip
        # log-F0 statistics do not depend on the rate: WORLD analyses the clips at the evaluated model's
        world.config = world.config.model_copy(update={"sample_rate": model.config.sample_rate})
        return world.eval(), f"the WORLD run {request.world} ({world.config.f0_method})"
    trained_on, options, split_info = _recorded(model)
    if not trained_on:
        raise BadInputError("no training data recorded to fit the WORLD baseline on",
                            "pass --world with a WORLD run, or --baselines false")  # fmt: skip
    keys = ("labels", "labels_csv", "pattern", "data_dir", "max_files")
    values = {**{k: options[k] for k in keys if options.get(k) is not None}, "source": trained_on,
              "label_field": "speaker", "sample_rate": model.config.sample_rate, "augment": False,
              "val_fraction": split_info.get("val_fraction", 0.0), "split_seed": split_info.get("seed", 0)}  # fmt: skip
    if request.data_dir:
        values["data_dir"] = request.data_dir
    train, _, info = load_audio_data(AudioDataConfig.build(values, where="eval"))
    order = torch.randperm(len(train), generator=make_generator(ctx.request.seed + 1)).tolist()
    waves, labels, taken = [], [], dict.fromkeys(speakers, 0)
    for i in order:
        name = info.class_names[train.labels[i]] if train.labels[i] >= 0 else None
        if name in taken and taken[name] < request.world_clips:
            waves.append(train.waves[i])
            labels.append(speakers.index(name))
            taken[name] += 1
    world = WorldVoice(WorldConfig(speakers=list(speakers), sample_rate=model.config.sample_rate, f0_method="dio"))
    world.fit(ClipDataset(waves, labels, info.clip_samples))
    return world.eval(), f"audio/world fitted on {len(waves)} training recordings of {trained_on} (dio)"


# --------------------------------------------------------------------------- registered metrics


def judge_protocol(ctx: EvalContext) -> dict[str, Any]:
    speaker, content = judges_of(ctx, check=False)
    rate = ctx.reference.sample_rate
    protocol = {"judge_speaker": ctx.request.judge_speaker, "judge_content": ctx.request.judge_content}
    for key, judge in (("judge_speaker", speaker), ("judge_content", content)):
        c = judge.config
        conversion = f"resampled from {rate} Hz (polyphase), " if rate != c.sample_rate else ""
        protocol |= {f"{key}_sha256": judge.provenance.weights_sha256, f"{key}_classes": judge.class_names,
                     f"{key}_input": f"{conversion}centre-cropped or zero-padded to {c.clip_samples} samples at "
                     f"{c.sample_rate} Hz"}  # fmt: skip
    return protocol


def _predictions(ctx: EvalContext) -> tuple[torch.Tensor, torch.Tensor]:
    """(speaker judge class, content judge class) of every clip of the context, (M,) each."""
    from genlab.audio.generation.evaluation import judge_input

    def predict() -> tuple[torch.Tensor, torch.Tensor]:
        rate, waves = ctx.reference.sample_rate, ctx.samples.waves
        speaker, content = judges_of(ctx)
        return tuple(j.probabilities(judge_input(waves, rate, j)).argmax(1) for j in (speaker, content))

    return ctx.cached("predictions", predict)


def _speaker_share(ctx: EvalContext, names: list[str]) -> float:
    speaker, _ = judges_of(ctx)
    predicted = _predictions(ctx)[0]
    wanted = torch.tensor([speaker.class_names.index(n) if n in speaker.class_names else -1 for n in names])
    known = wanted >= 0
    if not bool(known.any()):
        raise DataError(f"the speaker judge {ctx.request.judge_speaker} knows none of these speakers",
                        "pass --judge-speaker with a classifier of the source speakers")  # fmt: skip
    return float((predicted[known] == wanted[known]).double().mean())


@register_metric(
    "audio/target_speaker_accuracy",
    task=TASK,
    outputs=("target_speaker_accuracy",),
    needs=("samples",),
    default=True,
    on_baselines=True,
    protocol=judge_protocol,
)
def target_speaker_accuracy(ctx: EvalContext) -> dict[str, float]:
    """Share of conversions the speaker judge hears as the target speaker (higher is better)."""
    return {"target_speaker_accuracy": _speaker_share(ctx, ctx.samples.targets)}


@register_metric(
    "audio/source_speaker_accuracy",
    task=TASK,
    outputs=("source_speaker_accuracy",),
    needs=("samples",),
    default=True,
    on_baselines=True,
    protocol=judge_protocol,
)
def source_speaker_accuracy(ctx: EvalContext) -> dict[str, float]:
    """Share of conversions the speaker judge still hears as the source speaker (≈ 1: no conversion)."""
    return {"source_speaker_accuracy": _speaker_share(ctx, ctx.samples.sources)}


@register_metric(
    "audio/content_accuracy",
    task=TASK,
    outputs=("content_accuracy",),
    needs=("samples",),
    default=True,
    on_baselines=True,
    protocol=judge_protocol,
)
def content_accuracy(ctx: EvalContext) -> dict[str, float]:
    """Share of conversions the content judge hears as what the source clip says (higher is better)."""
    _, content = judges_of(ctx)
    names = ctx.samples.contents
    labelled = [i for i, n in enumerate(names) if n is not None]
    if not labelled:
        raise DataError(
            "the source clips carry no content labels",
            "pass --ref with clips named LABEL_SPEAKER_TAKE.wav, or --metrics target_speaker_accuracy,"
            "source_speaker_accuracy",
        )
    unknown = sorted({names[i] for i in labelled} - set(content.class_names))
    if unknown:
        raise BadInputError(
            f"the content judge {ctx.request.judge_content} does not know the label(s) {', '.join(unknown)} "
            f"(it knows {', '.join(content.class_names)})",
            "pass --judge-content with a classifier of the clips' labels (python -m genlab.audio.classifier)",
        )
    wanted = torch.tensor([content.class_names.index(names[i]) for i in labelled])
    return {"content_accuracy": float((_predictions(ctx)[1][labelled] == wanted).double().mean())}
