"""Evaluation of image generators with a recorded protocol: ``genlab eval``.

Sample metrics compare ``n`` generated images with ``n`` reference images in the
feature space of a fixed extractor (:mod:`genlab.image.extractors`):
``fid``, ``kid`` (+ ``kid_std``), ``is`` (+ ``is_std``), ``precision``, ``recall``,
``density``, ``coverage``. Model metrics: ``label_accuracy`` (conditional models,
scored by a shipped classifier), ``nll`` (VAEs: importance-weighted test NLL in nats)
and ``recon`` (VAEs: reconstruction MSE, PSNR, SSIM). The metrics are registered in
:mod:`genlab.image.evaluation_metrics` and run by the generic loop of
:mod:`genlab.core.evaluation`; this module holds what they share: the eval request, the
context (samples drawn once, the reference images), the baselines and the helpers.

Beside a model, the same protocol scores two baselines: the **floor** (real images
disjoint from the reference, e.g. the train split against the test split) and the
trivial **gaussian** / **gmm** generators fitted to real pixels
(:mod:`genlab.image.baselines`). Every result carries its protocol: numbers of
samples, reference and its split, extractor and the sha256 of its weights, the
resize method, the seed and the genlab version.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from pydantic import Field

from genlab.__about__ import __version__
from genlab.core.config import Config
from genlab.core.console import console, info, is_rank_zero
from genlab.core.errors import BadInputError, DataError
from genlab.core.evaluation import EvalContext, MetricSpec, run_metrics, select_metrics, task_metrics, weights_field
from genlab.core.registry import TASKS
from genlab.core.seeding import make_generator
from genlab.image import metrics as M
from genlab.image.extractors import FeatureExtractor, default_extractor, get_extractor

TASK = "image-generation"
DEFAULT_N = 10_000
KID_SUBSETS, KID_SUBSET_SIZE = 100, 1000
PR_K, DC_K, IS_SPLITS = 3, 5, 10
DEFAULT_IW_SAMPLES = 100
BASELINE_CONFIGS = {"gaussian": ("image/gaussian", {"latent_dim": 64}), "gmm": ("image/gmm", {"latent_dim": 64})}
PROGRESS_SECONDS = 10.0  # without a terminal, a progress line at most this often while sampling


class ImageEvalRequest(Config):
    """Options of ``genlab eval`` for image generators."""

    n: int = Field(DEFAULT_N, ge=1, description="number of generated images (and of reference images)")
    seed: int = Field(0, description="seed of the samples, the reference subset and the KID/IS subsets")
    ref: str | None = Field(
        None, description="reference data, e.g. mnist:test (default: the test split of the training data)"
    )
    data_dir: str | None = Field(None, description="folder of standard datasets")
    extractor: str | None = Field(
        None, description="feature extractor name or safetensors path (default: the data's classifier or Inception-v3)"
    )
    inception_weights: str | None = Field(None, description="Inception-v3 FID weights file")
    k: int = Field(DEFAULT_IW_SAMPLES, ge=1, description="importance samples per image for nll (VAEs)")
    baselines: bool = Field(True, description="also score the floor (real vs real) and Gaussian/GMM baselines")


def needs_no_model(spec: MetricSpec) -> bool:
    """True for metrics of two image sets alone (the ones folder evaluation offers)."""
    return "model" not in spec.needs


# --------------------------------------------------------------------------- contexts


def model_context(task, model, request: ImageEvalRequest) -> EvalContext:
    """The context of a model: samples drawn by :func:`generate`, reference by :func:`resolve_reference`."""
    return EvalContext(model, task, request, draw_samples=_draw_samples, load_reference=_load_reference)


def _draw_samples(ctx: EvalContext) -> torch.Tensor:
    ctx.reference  # noqa: B018  (a bad --ref fails before minutes of sampling)
    label = None if ctx.is_baseline else f"sampling {ctx.model.registry_name}"
    return generate(ctx.model, ctx.request.n, ctx.request.seed, progress=label)


def _load_reference(ctx: EvalContext) -> Reference:
    cfg, r = ctx.model.config, ctx.request
    return resolve_reference(ctx.model, r.ref, cfg.image_size, cfg.channels, r.n, r.data_dir, r.seed)


def sets_context(real: torch.Tensor, fake: torch.Tensor, request: ImageEvalRequest, source: str = "", split: str = ""):
    """A context comparing two image sets (N, C, H, W) in [-1, 1] with no model (folders, benchmarks)."""
    ctx = EvalContext(None, TASKS.get(TASK), request)
    ctx.cache["reference"] = Reference(source, split, real, torch.zeros(0, dtype=torch.long), real[:0], "")
    ctx.cache["samples"] = fake
    return ctx


def extractor_for(ctx: EvalContext) -> FeatureExtractor:
    """The context's feature extractor: the request's, else the default for its reference data."""

    def build() -> FeatureExtractor:
        ref = ctx.reference
        name = ctx.request.extractor or default_extractor(ref.source, ref.images.shape[-1], ref.images.shape[1])
        return get_extractor(name, inception_weights=ctx.request.inception_weights)

    return ctx.cached("extractor", build)


def model_protocol(ctx: EvalContext) -> dict[str, Any]:
    """Protocol fields of every model evaluation: counts, model, reference, seed, version."""
    ref = ctx.reference
    drawn = ctx.cache.get("samples")
    protocol = {"n_generated": 0 if drawn is None else len(drawn), "n_reference": len(ref.images)}
    protocol |= {"model": ctx.model.registry_name, **ref.protocol()}
    protocol |= weights_field(ctx.model)
    return protocol | {"seed": ctx.request.seed, "genlab_version": __version__}


def baseline_contexts(ctx: EvalContext) -> dict[str, EvalContext]:
    """The floor (the disjoint real images as samples) and the Gaussian/GMM pixel baselines fitted to them."""
    from genlab.image.baselines import fit_baseline

    if not ctx.request.baselines:
        return {}
    ref, keep = ctx.reference, ("extractor", "reference_features")
    out = {"floor": ctx.derive("floor", samples=ref.other[: ctx.request.n], keep=keep)}
    for name, (model_name, config) in BASELINE_CONFIGS.items():
        out[name] = ctx.derive(name, model=fit_baseline(model_name, ref.other, **config), keep=keep)
    return out


def extractor_protocol(extractor: FeatureExtractor, image_size: int, channels: int) -> dict[str, Any]:
    """The feature-space protocol: extractor and checksum, preprocessing, KID and k-NN settings."""
    return {
        **extractor.protocol(),
        **extractor.preprocessing(image_size, channels),
        "kid": f"{KID_SUBSETS} subsets of min({KID_SUBSET_SIZE}, n) samples, cubic polynomial kernel",
        "precision_recall_k": PR_K,
        "density_coverage_k": DC_K,
    }


# --------------------------------------------------------------------------- checks


def check_sets(fake: torch.Tensor, real: torch.Tensor, metrics: list[str], feature_dim: int | None = None) -> None:
    """Refuse empty sets and mismatched channels/sizes; warn when FID's covariance is rank-deficient."""
    for what, x in (("generated", fake), ("reference", real)):
        if len(x) == 0:
            raise DataError(f"the {what} image set is empty", "give at least a few hundred images")
    if fake.shape[1:] != real.shape[1:]:
        raise BadInputError(
            f"generated images are {_geometry(fake)} but reference images are {_geometry(real)}",
            "compare images of the same size and channel count (resize or convert one set first)",
        )
    if any(m in metrics for m in ("precision", "recall", "density", "coverage")) and min(len(fake), len(real)) <= DC_K:
        raise BadInputError(f"k-NN metrics need more than {DC_K} images per set", "use --n 1000 or more")
    if feature_dim and "fid" in metrics:
        warn_if_rank_deficient(min(len(fake), len(real)), feature_dim)


def warn_if_rank_deficient(n: int, feature_dim: int) -> None:
    """Warn when ``n`` samples give FID a rank-deficient covariance of ``feature_dim``-dimensional features."""
    if n < feature_dim:
        warnings.warn(
            f"{n} samples for {feature_dim}-dimensional features: the FID estimate is "
            "biased (rank-deficient covariance); use more samples than feature dimensions",
            UserWarning,
            stacklevel=3,
        )


def _geometry(x: torch.Tensor) -> str:
    return f"{x.shape[-2]}×{x.shape[-1]} with {x.shape[1]} channel(s)"


# --------------------------------------------------------------------------- image sets and folders


def sample_metrics(
    real: torch.Tensor, fake: torch.Tensor, metrics: list[str], extractor: FeatureExtractor, seed: int = 0
) -> dict[str, float]:
    """The requested sample metrics of fake vs real images (N, C, H, W) in [-1, 1]; model metrics are ignored."""
    available = task_metrics(TASK, needs_no_model)
    specs = [available[k] for k in dict.fromkeys(m.replace("-", "_") for m in metrics) if k in available]
    ctx = sets_context(real, fake, ImageEvalRequest(seed=seed))
    ctx.cache["extractor"] = extractor
    return run_metrics(specs, ctx)[0]


def evaluate_folders(
    fake: str | Path, real: str | Path, metrics: list[str] | str | None = None, **options: Any
) -> dict[str, Any]:
    """Compare two image folders: ``{"metrics", "protocol"}``.

    Options: ``n`` (at most this many images per folder, a seeded choice; default all), ``seed``,
    ``extractor``, ``inception_weights`` (the fields of :class:`ImageEvalRequest`; model-only ones
    are ignored). Both folders must hold images of the same size and channel count.
    """
    from genlab.image.data import ImageDataConfig, load_image_data, to_pixels

    options = {k: v for k, v in options.items() if v is not None}
    request = ImageEvalRequest.build(options, where="eval")
    chosen = select_metrics(TASK, metrics, where=needs_no_model)
    seed, n = request.seed, options.get("n")
    sets = {}
    for what, folder in (("generated", Path(fake)), ("reference", Path(real))):
        if not folder.is_dir():
            raise DataError(f"{what} folder not found: {folder}", "give a folder of image files")
        size, channels = folder_geometry(folder)
        cfg = {"source": str(folder), "image_size": size, "channels": channels, "val_fraction": 0.0}
        data, _, info = load_image_data(ImageDataConfig.build({**cfg, "max_images": n, "split_seed": seed}))
        sets[what] = (to_pixels(data.images), info)
    (x_fake, info_fake), (x_real, _) = sets["generated"], sets["reference"]
    ctx = sets_context(x_real, x_fake, request, str(real), "all images of the folder")
    values, fragments = run_metrics(chosen, ctx)
    protocol = {"n_generated": len(x_fake), "n_reference": len(x_real), **fragments}
    protocol |= {"generated": str(fake), "reference": str(real), "reference_split": "all images of the folder"}
    protocol |= {"seed": seed, "genlab_version": __version__}
    if info_fake.skipped:
        protocol["skipped_files"] = len(info_fake.skipped)
    return {"metrics": values, "protocol": protocol}


def folder_geometry(folder: Path) -> tuple[int, int]:
    """(size, channels) shared by the images of a folder; mixed sizes or modes are refused."""
    from PIL import Image

    from genlab.image.data import GRAY_MODES, scan_folder

    files, _, _ = scan_folder(folder)  # raises a DataError for a folder without images
    seen: set[tuple[int, int, int]] = set()
    for path in files:
        try:
            with Image.open(path) as img:  # reads the header only
                seen.add((img.width, img.height, 1 if img.mode in GRAY_MODES else 3))
        except Exception:  # unreadable files are skipped (and counted) when loading
            continue
        if len(seen) > 1:
            a, b = sorted(seen)[:2]
            raise BadInputError(
                f"{folder} mixes image sizes or channels ({a[0]}×{a[1]}×{a[2]} and {b[0]}×{b[1]}×{b[2]})",
                "evaluation compares images as they are; put images of one size and mode in a folder",
            )
    if not seen:
        raise DataError(f"none of the images in {folder} could be read", "check the files")
    width, height, channels = seen.pop()
    if width != height:
        raise BadInputError(f"{folder} holds {width}×{height} images", "evaluation needs square images")
    return width, channels


# --------------------------------------------------------------------------- sampling


@torch.no_grad()
def generate(
    model, n: int, seed: int, batch_size: int | None = None, *, progress: str | None = None, **sample_options: Any
) -> torch.Tensor:
    """``n`` samples (n, C, H, W) on the CPU, seeded; conditional models cycle through their classes.

    Batches default to the model's ``sample_batch_size`` (UNets run faster per image in small
    batches on a CPU than in large ones). ``sample_options`` (``sampler``, ``steps``,
    ``guidance_scale`` of diffusion models) go to ``model.generate``; the same ``seed`` gives
    every option the same starting noise. ``progress``: a label to show progress under
    (a bar on a terminal, a line every few seconds otherwise); None is silent.
    """
    batch_size = batch_size or model.sample_batch_size
    g = make_generator(seed)
    out = []
    with _progress(progress, n) as advance:
        for i in range(0, n, batch_size):
            m = min(batch_size, n - i)
            labels = (torch.arange(i, i + m) % model.config.num_classes) if model.conditional else None
            out.append(model.generate(m, labels=labels, generator=g, **sample_options).float().cpu())
            advance(m)
    return torch.cat(out)


@contextmanager
def _progress(label: str | None, total: int) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(count)``: a transient rich bar on a terminal, throttled lines in logs, or nothing."""
    if label is None or not is_rank_zero():
        yield lambda count: None
        return
    if console.is_terminal:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task(label, total=total)
            yield lambda count: bar.advance(task, count)
        return
    start = last = time.monotonic()
    done = 0

    def advance(count: int) -> None:
        nonlocal done, last
        done, now = done + count, time.monotonic()
        if now - last >= PROGRESS_SECONDS and done < total:
            last = now
            info(f"{label}: {done}/{total} images [{now - start:.0f}s]")

    yield advance


@torch.no_grad()
def label_accuracy(
    model, n: int, extractor: FeatureExtractor, options: dict[str, Any], seed: int, images: torch.Tensor | None = None
) -> float:
    """Share of samples generated for label y that the classifier assigns to y (classes cycled, n samples).

    ``images``: samples already drawn by :func:`generate` with the same ``n`` and ``seed`` (the
    same images this would draw; sampling a diffusion model twice costs minutes on a CPU).
    """
    if not model.conditional:
        raise BadInputError(
            f"label_accuracy needs a conditional model; {model.registry_name} takes no label", "use cvae or cgan"
        )
    if extractor.num_classes != model.config.num_classes:
        raise BadInputError(
            f"the extractor {extractor.name} knows {extractor.num_classes} classes, the model "
            f"{model.config.num_classes}",
            "pass --extractor with a classifier of the model's classes (mnist-lenet, fashion-mnist-lenet, or a path)",
        )
    n = max(n, model.config.num_classes)
    if images is None or len(images) != n:
        images = generate(model, n, seed)
    labels = torch.arange(n) % model.config.num_classes
    predicted = extractor.logits(images).argmax(1)
    return float((predicted == labels).double().mean())


# --------------------------------------------------------------------------- reference data


@dataclass
class Reference:
    """Real images for a protocol: the reference set and a disjoint real set (floor, baseline fits)."""

    source: str
    split: str
    images: torch.Tensor  # (n, C, H, W) in [-1, 1]
    labels: torch.Tensor  # (n,)
    other: torch.Tensor  # disjoint real images (m, C, H, W)
    other_split: str

    def protocol(self) -> dict[str, Any]:
        return {"reference": self.source, "reference_split": self.split, "floor_and_baselines_from": self.other_split}


def resolve_reference(
    model, ref: str | None, image_size: int, channels: int, n: int, data_dir: str | None, seed: int
) -> Reference:
    """Load ``n`` reference images at the model's size (default: the test split of its training data).

    A dataset with train and test splits gives test as reference and train as the disjoint set;
    anything else (``builtin:mnist-5k``, a folder) is split in two seeded halves.
    """
    from genlab.core.registry import DATASETS
    from genlab.image.data import load_images, parse_source

    trained_on = model.provenance.data.get("source")
    ref = ref or (parse_source(trained_on)[0] if trained_on else None)  # mnist:train → mnist (→ its test split)
    if not ref:
        raise BadInputError("no reference data: the model does not record its training data", "pass --ref mnist:test")
    name, split = parse_source(ref)
    splits = getattr(DATASETS.get(name), "splits", ()) if name in DATASETS else ()
    if {"train", "test"} <= set(splits):
        split = split or "test"
        other_split = "train" if split == "test" else "test"
        images, labels = load_images(name, image_size, channels, n, data_dir, split=split, seed=seed)
        other, _ = load_images(name, image_size, channels, n, data_dir, split=other_split, seed=seed)
        return Reference(f"{name}:{split}", split, images, labels, other, f"{name}:{other_split}")
    everything, all_labels = load_images(ref, image_size, channels, 2 * n, data_dir, seed=seed)
    half = len(everything) // 2
    if half < 2:
        raise DataError(f"{ref} has too few images ({len(everything)}) to evaluate against", "use more images")
    if half < n:
        warnings.warn(f"{ref} has {len(everything)} images: using {half} reference images", UserWarning, stacklevel=2)
    split = f"seeded half of {ref} ({half} images, seed {seed})"
    return Reference(ref, split, everything[:half], all_labels[:half], everything[half:], f"the other half of {ref}")


# --------------------------------------------------------------------------- VAEs


def not_a_vae(model, metric: str) -> str | None:
    """Why ``metric`` (nll, recon) cannot score ``model``, or None for a VAE."""
    if model.can_reconstruct and hasattr(model, "log_likelihood_iw"):
        return None
    return f"{metric} needs a VAE (vae, conv-vae, cvae); {model.registry_name} has no encoder"


def _require_vae(model, metric: str) -> None:
    if not_a_vae(model, metric):
        raise BadInputError(f"{metric} needs a VAE; {model.registry_name} has no encoder", "use vae, conv-vae or cvae")


def vae_nll(model, ref: Reference, k: int, seed: int, batch_size: int = 100) -> tuple[float, dict[str, Any]]:
    """Importance-weighted NLL (Burda et al. 2016) in nats per image over the reference images.

    With a Bernoulli decoder the images are binarized by sampling each pixel (seeded), as for
    "binarized MNIST"; with a Gaussian decoder the density is on the [0, 1] pixel scale.
    """
    _require_vae(model, "nll")
    if k < 1:
        raise BadInputError(f"k must be at least 1, got {k}")
    g = make_generator(seed)
    x = (ref.images + 1) / 2
    bernoulli = model.config.likelihood == "bernoulli"
    if bernoulli:
        x = torch.bernoulli(x, generator=g)
    x = 2 * x - 1
    total = 0.0
    for i in range(0, len(x), batch_size):
        labels = ref.labels[i : i + batch_size] if model.conditional else None
        total += float(model.log_likelihood_iw(x[i : i + batch_size], k, labels, generator=g).sum())
    binarization = "stochastic (pixel ~ Bernoulli(intensity), seeded)" if bernoulli else "none (Gaussian decoder)"
    protocol = {"nll_importance_samples": k, "nll_images": len(x), "nll_binarization": binarization}
    return -total / len(x), protocol


@torch.no_grad()
def vae_reconstruction(model, ref: Reference, batch_size: int = 500) -> dict[str, float]:
    """Reconstruction MSE, PSNR and SSIM of the reference images (posterior mean decoded)."""
    _require_vae(model, "recon")
    recon = []
    for i in range(0, len(ref.images), batch_size):
        labels = ref.labels[i : i + batch_size] if model.conditional else None
        recon.append(model.reconstruct(ref.images[i : i + batch_size], labels).float().cpu())
    return M.reconstruction_metrics(torch.cat(recon), ref.images)


def bits_per_dim(nll_nats: float, dims: int) -> float:
    """Nats per image → bits per dimension."""
    return nll_nats / (dims * math.log(2))
