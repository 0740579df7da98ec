"""Evaluation of translation models against a known truth: the thin/thick MNIST stroke demo.

A model trained on the stroke domains (:mod:`~genlab.image.translation.strokes`) is scored on digits it
never saw — by default the 500 digits held out of both domains, or ``--ref`` (a labelled digit dataset
such as ``mnist:test``, or a folder): each original digit x is made thin and thick with the operators
that made the training domains (3×3 grey erosion and dilation, at the digits' native size, then resized
to the model's size as the training images were). Then, per direction:

* ``psnr_truth``: PSNR (dB, peak 1 on the [0, 1] scale, outputs rounded to 8 bits) of G_AB(thin(x))
  against thick(x), the true translation; the mean over digits of per-digit PSNR, each capped at
  100 dB; ``psnr_truth_b2a`` the same for G_BA(thick(x)) against thin(x);
* ``label_kept``: the share of translated digits that the shipped MNIST classifier (``mnist-lenet``,
  :mod:`genlab.image.classifier`) labels as the original digit; ``label_kept_b2a`` the other way.
  The classifier's accuracy on the true translations is recorded in the protocol
  (``label_kept_of_truth``): erosion erases thin parts of strokes, so even the truth loses labels.

Baselines, scored the same way: ``identity`` (the input unchanged) and ``morphology``, the hand-made
operator: 3×3 dilation twice from thin to thick (undo the erosion, then dilate) and 3×3 erosion twice
from thick to thin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from pydantic import Field

from genlab.__about__ import __version__
from genlab.core.config import Config
from genlab.core.errors import BadInputError, DataError
from genlab.core.evaluation import EvalContext, register_metric, weights_field
from genlab.image.translation.cyclegan import DIRECTIONS, TASK
from genlab.image.translation.strokes import HELD_OUT, STROKE_STEPS, THICK, THIN, digit_parts, morph

PSNR_CAP = 100.0  # dB: a translation identical to the truth would otherwise score inf
BATCH = 250  # images translated at once


class TranslationEvalRequest(Config):
    """Options of ``genlab eval`` for translation models."""

    ref: str | None = Field(
        None, description="labelled digits to make thin and thick and score on: a dataset (mnist:test) or a folder "
        f"(default: the {HELD_OUT} digits held out of both stroke domains)",
    )  # fmt: skip
    n: int | None = Field(None, ge=1, description="score at most this many digits (default: all of them)")
    seed: int = Field(0, description="seed of the choice of digits when n is smaller than the --ref set")
    classifier: str = Field(
        "mnist-lenet", description="classifier behind label_kept: a shipped one (mnist-lenet) or a saved folder"
    )
    data_dir: str | None = Field(None, description="folder of standard datasets")


def domain_steps(model) -> tuple[int, int] | None:
    """The morphology (3×3 dilations, negative: erosions) behind domains A and B, or None when either is not
    a stroke domain."""
    from genlab.image.data import parse_source

    names = [parse_source(getattr(model.config, f"domain_{d}", ""))[0] for d in "ab"]
    if not all(n in STROKE_STEPS for n in names):
        return None
    return STROKE_STEPS[names[0]], STROKE_STEPS[names[1]]


def stroke_problem(model) -> str | None:
    """Why ``model`` cannot be scored against the truth (None when it can)."""
    if getattr(model, "task", None) != TASK:
        return f"{getattr(model, 'registry_name', model)} is not a translation model"
    if domain_steps(model) is None:
        return (
            f"{model.registry_name} translates {model.config.domain_a} ↔ {model.config.domain_b}; only the stroke "
            f"domains ({THIN}, {THICK}) have a known true translation to score against"
        )
    return None


@dataclass
class Reference:
    """Held-out digits in both domains at the model's size, (N, C, H, W) in [-1, 1], with their labels."""

    source: str
    split: str
    labels: torch.Tensor  # (N,)
    a: torch.Tensor  # domain A's version of each digit (thin for the stroke demo)
    b: torch.Tensor  # domain B's version (thick)
    morph_a2b: torch.Tensor  # the hand-made operator applied to a
    morph_b2a: torch.Tensor  # … and to b
    native_size: int

    def inputs(self, direction: str) -> torch.Tensor:
        return self.a if direction == "a2b" else self.b

    def truth(self, direction: str) -> torch.Tensor:
        return self.b if direction == "a2b" else self.a

    def protocol(self) -> dict[str, Any]:
        return {"reference": self.source, "reference_split": self.split, "n_reference": len(self.labels)}


def _originals(request: TranslationEvalRequest) -> tuple[np.ndarray, np.ndarray, str, str]:
    """Original digits uint8 (N, H, W, 1) at their native size, labels (N,), source and split description."""
    if request.ref is None:
        images, labels = digit_parts()["test"]
        split = f"the {HELD_OUT} digits held out of both stroke domains"
        if request.n is not None and request.n < len(images):
            images, labels, split = images[: request.n], labels[: request.n], f"first {request.n} of {split}"
        return images, labels, "builtin:mnist-5k", split
    from genlab.image.data import ImageDataConfig, load_image_data

    values = {"source": request.ref, "channels": 1, "val_fraction": 0.0, "max_images": request.n}
    values |= {"split_seed": request.seed, "data_dir": request.data_dir}
    data, _, info = load_image_data(ImageDataConfig.build(values, where="eval"))
    if info.num_classes < 2:
        raise DataError(
            f"{request.ref} has no labels, which label_kept needs",
            "give labelled digits: mnist:test, builtin:mnist-5k, or a folder with one sub-folder per digit",
        )
    split = (
        f"all of {request.ref}" if request.n is None else f"{len(data)} images of {request.ref} (seed {request.seed})"
    )
    return data.images.permute(0, 2, 3, 1).numpy(), data.labels.numpy(), request.ref, split


def load_reference(ctx: EvalContext) -> Reference:
    """The reference digits made into both domains (see the module docstring)."""
    from genlab.image.data import _convert_channels, _resize, to_pixels

    model, request = ctx.model, ctx.request
    steps = domain_steps(model)
    if steps is None:
        raise BadInputError(stroke_problem(model), f"train on the stroke domains: --data-a {THIN} --data-b {THICK}")
    originals, labels, source, split = _originals(request)
    k_a, k_b = steps
    a, b = morph(originals, k_a), morph(originals, k_b)
    made = [a, b, morph(a, k_b - k_a), morph(b, k_a - k_b)]
    c, size = model.config.channels, model.config.image_size

    def prepare(images: np.ndarray) -> torch.Tensor:
        images = _convert_channels(_resize(images, size), c)
        return to_pixels(torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))))

    a_t, b_t, ab, ba = (prepare(x) for x in made)
    return Reference(source, split, torch.as_tensor(labels).long(), a_t, b_t, ab, ba, int(originals.shape[1]))


def quantize(images: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] rounded to the 256 levels an 8-bit file holds."""
    return ((images.clamp(-1, 1) + 1) * 127.5).round() / 127.5 - 1


def draw_translations(ctx: EvalContext) -> dict[str, torch.Tensor]:
    """The model's translations of the reference inputs in both directions, rounded to 8 bits."""
    ref = ctx.reference
    out = {}
    for direction in DIRECTIONS:
        x = ref.inputs(direction)
        parts = [ctx.model.translate(x[i : i + BATCH], direction) for i in range(0, len(x), BATCH)]
        out[direction] = quantize(torch.cat(parts))
    return out


def model_context(task, model, request: TranslationEvalRequest) -> EvalContext:
    return EvalContext(model, task, request, draw_samples=draw_translations, load_reference=load_reference)


def model_protocol(ctx: EvalContext) -> dict[str, Any]:
    ref = ctx.reference
    cfg = ctx.model.config
    k_a, k_b = domain_steps(ctx.model)
    protocol = {
        **ref.protocol(),
        "model": ctx.model.registry_name,
        "domain_a": cfg.domain_a,
        "domain_b": cfg.domain_b,
        "domains_made_by": f"A: {_describe_steps(k_a)}, B: {_describe_steps(k_b)} of the original digits at their "
        f"native {ref.native_size} px, then resized (bicubic) to the model's {cfg.image_size} px",
        "seed": ctx.request.seed,
    }
    protocol |= weights_field(ctx.model)
    return protocol | {"genlab_version": __version__}


def _describe_steps(k: int) -> str:
    if k == 0:
        return "unchanged"
    return f"3×3 grey {'dilation' if k > 0 else 'erosion'}" + (f" ×{abs(k)}" if abs(k) > 1 else "")


def baselines(ctx: EvalContext) -> dict[str, EvalContext]:
    """``identity``: the inputs unchanged; ``morphology``: the hand-made operator from one domain to the other."""
    ref = ctx.reference
    k_a, k_b = domain_steps(ctx.model)
    identity = {d: ref.inputs(d) for d in DIRECTIONS}
    operator = {"a2b": ref.morph_a2b, "b2a": ref.morph_b2a}
    made = f"a2b: {_describe_steps(k_b - k_a)}; b2a: {_describe_steps(k_a - k_b)} (of the inputs, at native size)"
    keep = ("classifier", "truth_labels")
    same = {"baseline_identity": "the input unchanged"}
    return {
        "identity": ctx.derive("identity", samples=identity, keep=keep, protocol=same),
        "morphology": ctx.derive("morphology", samples=operator, keep=keep, protocol={"baseline_morphology": made}),
    }


def _suffix(direction: str) -> str:
    return "" if direction == "a2b" else "_b2a"


def psnr_values(output: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR (dB, peak 1) of images in [-1, 1] compared on the [0, 1] scale, capped at :data:`PSNR_CAP`."""
    from genlab.image.restoration.quality import psnr

    return psnr((output + 1) / 2, (truth + 1) / 2).clamp(max=PSNR_CAP)


def _psnr_protocol(ctx: EvalContext) -> dict[str, Any]:
    return {
        "psnr_truth": f"mean over digits of PSNR (peak 1, [0, 1] scale) of 8-bit outputs, capped at {PSNR_CAP:g} dB"
    }


@register_metric(
    "image/psnr_truth", task=TASK, outputs=("psnr_truth", "psnr_truth_b2a"), needs=("samples", "reference"),
    default=True, on_baselines=True, applies=stroke_problem, protocol=_psnr_protocol,
)  # fmt: skip
def psnr_truth(ctx: EvalContext) -> dict[str, float]:
    """PSNR of translated digits against the true translation (thin → thick, and b2a; dB, higher is better)."""
    ref, samples = ctx.reference, ctx.samples
    values = {}
    for d in DIRECTIONS:
        values["psnr_truth" + _suffix(d)] = round(float(psnr_values(samples[d], ref.truth(d)).mean()), 4)
    return values


def label_classifier(ctx: EvalContext):
    """The classifier of ``--classifier`` (loaded once per evaluation); it must know the reference's labels."""

    def build():
        from genlab.image.extractors import get_extractor

        extractor = get_extractor(ctx.request.classifier)
        if extractor.logits_fn is None:
            raise BadInputError(f"{extractor.name} is not a classifier", "use --classifier mnist-lenet")
        top = int(ctx.reference.labels.max())
        if top >= extractor.num_classes:
            raise BadInputError(
                f"the reference has label {top}, the classifier {extractor.name} knows {extractor.num_classes} classes",
                "score with a classifier of the reference's classes (mnist-lenet for digits)",
            )
        return extractor

    return ctx.cached("classifier", build)


def _agreement(extractor, images: torch.Tensor, labels: torch.Tensor) -> float:
    return round(float((extractor.logits(images).argmax(1) == labels).double().mean()), 4)


def _label_protocol(ctx: EvalContext) -> dict[str, Any]:
    classifier = label_classifier(ctx)
    ref = ctx.reference
    truth = ctx.cached(
        "truth_labels", lambda: {d: _agreement(classifier, ref.truth(d), ref.labels) for d in DIRECTIONS}
    )
    return {
        "label_classifier": classifier.name,
        "label_classifier_sha256": classifier.sha256,
        "label_kept_of_truth": truth,
    }


@register_metric(
    "image/label_kept", task=TASK, outputs=("label_kept", "label_kept_b2a"), needs=("samples", "reference"),
    default=True, on_baselines=True, applies=stroke_problem, protocol=_label_protocol,
)  # fmt: skip
def label_kept(ctx: EvalContext) -> dict[str, float]:
    """Share of translated digits a shipped MNIST classifier labels as the original digit (both directions)."""
    classifier = label_classifier(ctx)
    ref, samples = ctx.reference, ctx.samples
    return {"label_kept" + _suffix(d): _agreement(classifier, samples[d], ref.labels) for d in DIRECTIONS}
