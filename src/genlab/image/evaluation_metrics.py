"""The registered image metrics: ``image/fid``, ``kid``, ``is``, ``precision``, ``recall``, ``density``,
``coverage`` (two image sets), ``label_accuracy``, ``nll``, ``recon`` (a model).

Each is a function of an :class:`~genlab.core.evaluation.EvalContext` built by
:mod:`genlab.image.evaluation`. Features of the reference images and of the samples are
computed once per context and shared (``ctx.cached``); precision/recall and
density/coverage share their k-NN computation the same way. Settings are read from
:mod:`genlab.image.evaluation` when a metric runs.
"""

from __future__ import annotations

from typing import Any

import torch

from genlab.core.evaluation import EvalContext, register_metric
from genlab.image import evaluation as E
from genlab.image import metrics as M
from genlab.image.extractors import FeatureExtractor, default_extractor, get_extractor

TASK = E.TASK
SAMPLE_NEEDS = ("samples", "reference", "features")


def checked_features(ctx: EvalContext, metric: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(reference, sample) features (N, D) of the context, once the two image sets passed ``metric``'s checks."""
    real = ctx.reference.images  # loaded first: a bad --ref fails before sampling
    fake = ctx.samples
    E.check_sets(fake, real, [metric])
    extractor = E.extractor_for(ctx)
    fr = ctx.cached("reference_features", lambda: extractor.features(real))
    ff = ctx.cached("sample_features", lambda: extractor.features(fake))
    return fr, ff


def feature_protocol(ctx: EvalContext) -> dict[str, Any]:
    """The protocol of every feature-space metric: extractor, preprocessing, KID and k-NN settings."""
    images = ctx.reference.images
    return E.extractor_protocol(E.extractor_for(ctx), images.shape[-1], images.shape[1])


def _sample_metric(key: str, outputs: tuple[str, ...], default: bool = False):
    """Register a metric of two image sets, also scored for the baselines."""
    return register_metric(
        f"image/{key}",
        task=TASK,
        outputs=outputs,
        needs=SAMPLE_NEEDS,
        default=default,
        on_baselines=True,
        protocol=feature_protocol,
    )


@_sample_metric("fid", ("fid",), default=True)
def fid(ctx: EvalContext) -> dict[str, float]:
    """Fréchet distance between Gaussians fitted to reference and sample features (lower is better)."""
    fr, ff = checked_features(ctx, "fid")
    if not ctx.is_baseline:
        E.warn_if_rank_deficient(min(len(ff), len(fr)), fr.shape[1])
    return {"fid": M.fid_from_features(fr, ff)}


@_sample_metric("kid", ("kid", "kid_std"), default=True)
def kid(ctx: EvalContext) -> dict[str, float]:
    """Kernel distance (unbiased MMD², cubic kernel) over seeded feature subsets, with its spread."""
    fr, ff = checked_features(ctx, "kid")
    value, std = M.kid_from_features(fr, ff, E.KID_SUBSETS, E.KID_SUBSET_SIZE, seed=ctx.request.seed)
    return {"kid": value, "kid_std": std}


@_sample_metric("is", ("is", "is_std"))
def inception_score(ctx: EvalContext) -> dict[str, float]:
    """Inception score of the samples under the extractor's classifier, over seeded splits."""
    real, fake = ctx.reference.images, ctx.samples
    E.check_sets(fake, real, ["is"])
    value, std = M.inception_score(E.extractor_for(ctx).logits(fake), splits=E.IS_SPLITS, seed=ctx.request.seed)
    return {"is": value, "is_std": std}


def _precision_recall(ctx: EvalContext, metric: str) -> tuple[float, float]:
    fr, ff = checked_features(ctx, metric)
    return ctx.cached("precision_recall", lambda: M.precision_recall(fr, ff, k=E.PR_K))


def _density_coverage(ctx: EvalContext, metric: str) -> tuple[float, float]:
    fr, ff = checked_features(ctx, metric)
    return ctx.cached("density_coverage", lambda: M.density_coverage(fr, ff, k=E.DC_K))


@_sample_metric("precision", ("precision",), default=True)
def precision(ctx: EvalContext) -> dict[str, float]:
    """Share of samples inside the k-NN manifold of the reference features (fidelity)."""
    return {"precision": _precision_recall(ctx, "precision")[0]}


@_sample_metric("recall", ("recall",), default=True)
def recall(ctx: EvalContext) -> dict[str, float]:
    """Share of reference images inside the k-NN manifold of the sample features (diversity)."""
    return {"recall": _precision_recall(ctx, "recall")[1]}


@_sample_metric("density", ("density",))
def density(ctx: EvalContext) -> dict[str, float]:
    """How many reference k-NN balls hold each sample, on average (fidelity, robust to outliers)."""
    return {"density": _density_coverage(ctx, "density")[0]}


@_sample_metric("coverage", ("coverage",))
def coverage(ctx: EvalContext) -> dict[str, float]:
    """Share of reference k-NN balls holding at least one sample (diversity, robust to outliers)."""
    return {"coverage": _density_coverage(ctx, "coverage")[1]}


# --------------------------------------------------------------------------- model metrics


def _unconditional(model) -> str | None:
    if model.conditional:
        return None
    return f"label_accuracy needs a conditional model (cvae, cgan, …); {model.registry_name} takes no label"


def label_classifier(ctx: EvalContext) -> FeatureExtractor:
    """The extractor if it classifies, else the shipped classifier of the reference data."""
    extractor = E.extractor_for(ctx)
    return extractor if extractor.num_classes else get_extractor(default_extractor(ctx.reference.source, 28, 1))


def _label_protocol(ctx: EvalContext) -> dict[str, Any]:
    classifier = label_classifier(ctx)
    return feature_protocol(ctx) | {"label_classifier": classifier.name, "label_classifier_sha256": classifier.sha256}


@register_metric(
    "image/label_accuracy",
    task=TASK,
    outputs=("label_accuracy",),
    needs=("model", "samples"),
    default=True,
    applies=_unconditional,
    protocol=_label_protocol,
)
def label_accuracy(ctx: EvalContext) -> dict[str, float]:
    """Share of samples generated for a label that a shipped classifier assigns to it (conditional models)."""
    model, n, seed = ctx.model, ctx.request.n, ctx.request.seed
    classifier = label_classifier(ctx)
    # with n ≥ classes the shared samples are exactly the images label accuracy scores; a classifier
    # of other classes is refused by E.label_accuracy before any sampling
    fits = classifier.num_classes == model.config.num_classes and n >= model.config.num_classes
    images = ctx.samples if fits else None
    return {"label_accuracy": E.label_accuracy(model, n, classifier, {}, seed, images=images)}


def _nll(ctx: EvalContext) -> tuple[float, dict[str, Any]]:
    return ctx.cached("nll", lambda: E.vae_nll(ctx.model, ctx.reference, ctx.request.k, ctx.request.seed))


@register_metric(
    "image/nll",
    task=TASK,
    outputs=("nll_nats",),
    needs=("model", "reference"),
    applies=lambda model: E.not_a_vae(model, "nll"),
    protocol=lambda ctx: _nll(ctx)[1],
)
def nll(ctx: EvalContext) -> dict[str, float]:
    """Importance-weighted negative log-likelihood of the reference images, nats per image (VAEs)."""
    return {"nll_nats": _nll(ctx)[0]}


@register_metric(
    "image/recon",
    task=TASK,
    outputs=("recon_mse", "psnr", "ssim", "ms_ssim"),
    needs=("model", "reference"),
    applies=lambda model: E.not_a_vae(model, "recon"),
    protocol=lambda ctx: {"recon_images": len(ctx.reference.images), "recon_scale": "pixels in [0, 1]"},
)
def recon(ctx: EvalContext) -> dict[str, float]:
    """Reconstruction MSE, PSNR and SSIM (MS-SSIM above 160 pixels) of the reference images (VAEs)."""
    return E.vae_reconstruction(ctx.model, ctx.reference)
