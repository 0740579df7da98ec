"""Evaluation of image generators with a recorded protocol: ``genlab eval``.

Sample metrics compare ``n`` generated images with ``n`` reference images in the
feature space of a fixed extractor (:mod:`genlab.image.extractors`):
``fid``, ``kid`` (+ ``kid_std``), ``is`` (+ ``is_std``), ``precision``, ``recall``,
``density``, ``coverage``. Model metrics: ``label_accuracy`` (conditional models,
scored by a shipped classifier), ``nll`` (VAEs: importance-weighted test NLL in nats)
and ``recon`` (VAEs: reconstruction MSE, PSNR, SSIM).

Beside a model, the same protocol scores two baselines: the **floor** (real images
disjoint from the reference, e.g. the train split against the test split) and the
trivial **gaussian** / **gmm** generators fitted to real pixels
(:mod:`genlab.image.baselines`). Every result carries its protocol: numbers of
samples, reference and its split, extractor and the sha256 of its weights, the
resize method, the seed and the genlab version.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genlab.__about__ import __version__
from genlab.core.errors import BadInputError, DataError, unknown_name
from genlab.core.seeding import make_generator
from genlab.image import metrics as M
from genlab.image.extractors import FeatureExtractor, default_extractor, get_extractor

SAMPLE_METRICS = ("fid", "kid", "is", "precision", "recall", "density", "coverage")
MODEL_METRICS = ("label_accuracy", "nll", "recon")
DEFAULT_METRICS = ["fid", "kid", "precision", "recall"]
DEFAULT_N = 10_000
KID_SUBSETS, KID_SUBSET_SIZE = 100, 1000
PR_K, DC_K, IS_SPLITS = 3, 5, 10
DEFAULT_IW_SAMPLES = 100
BASELINE_CONFIGS = {"gaussian": ("image/gaussian", {"latent_dim": 64}), "gmm": ("image/gmm", {"latent_dim": 64})}


def parse_metrics(metrics: list[str] | str | None, allowed: tuple[str, ...], default: list[str]) -> list[str]:
    """Validate metric names (a list or comma-separated string); None gives ``default``."""
    if metrics is None:
        return list(default)
    if isinstance(metrics, str):
        metrics = [m.strip() for m in metrics.split(",") if m.strip()]
    if not metrics:
        raise BadInputError("no metrics given", f"choose from {', '.join(allowed)}")
    for name in metrics:
        if name not in allowed:
            raise unknown_name("metric", name, allowed)
    return list(dict.fromkeys(metrics))


# --------------------------------------------------------------------------- sample metrics


def sample_metrics(
    real: torch.Tensor, fake: torch.Tensor, metrics: list[str], extractor: FeatureExtractor, seed: int = 0
) -> dict[str, float]:
    """The requested sample metrics of fake vs real images (N, C, H, W) in [-1, 1]."""
    wanted = [m for m in metrics if m in SAMPLE_METRICS]
    if not wanted:
        return {}
    out: dict[str, float] = {}
    if "is" in wanted:
        out["is"], out["is_std"] = M.inception_score(extractor.logits(fake), splits=IS_SPLITS, seed=seed)
    feature_metrics = [m for m in wanted if m != "is"]
    if not feature_metrics:
        return out
    fr, ff = extractor.features(real), extractor.features(fake)
    if "fid" in wanted:
        out["fid"] = M.fid_from_features(fr, ff)
    if "kid" in wanted:
        out["kid"], out["kid_std"] = M.kid_from_features(fr, ff, KID_SUBSETS, KID_SUBSET_SIZE, seed=seed)
    if "precision" in wanted or "recall" in wanted:
        precision, recall = M.precision_recall(fr, ff, k=PR_K)
        out |= {k: v for k, v in (("precision", precision), ("recall", recall)) if k in wanted}
    if "density" in wanted or "coverage" in wanted:
        density, coverage = M.density_coverage(fr, ff, k=DC_K)
        out |= {k: v for k, v in (("density", density), ("coverage", coverage)) if k in wanted}
    return out


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
    if feature_dim and "fid" in metrics and min(len(fake), len(real)) < feature_dim:
        warnings.warn(
            f"{min(len(fake), len(real))} samples for {feature_dim}-dimensional features: the FID estimate is "
            "biased (rank-deficient covariance); use more samples than feature dimensions",
            UserWarning,
            stacklevel=2,
        )


def _geometry(x: torch.Tensor) -> str:
    return f"{x.shape[-2]}×{x.shape[-1]} with {x.shape[1]} channel(s)"


# --------------------------------------------------------------------------- protocol


def base_protocol(extractor: FeatureExtractor, n_fake: int, n_real: int, image_size: int, channels: int, seed: int):
    """The protocol fields every result has."""
    return {
        "n_generated": n_fake,
        "n_reference": n_real,
        **extractor.protocol(),
        **extractor.preprocessing(image_size, channels),
        "kid": f"{KID_SUBSETS} subsets of min({KID_SUBSET_SIZE}, n) samples, cubic polynomial kernel",
        "precision_recall_k": PR_K,
        "density_coverage_k": DC_K,
        "seed": seed,
        "genlab_version": __version__,
    }


# --------------------------------------------------------------------------- folders


def evaluate_folders(
    fake: str | Path, real: str | Path, metrics: list[str] | str | None = None, **options: Any
) -> dict[str, Any]:
    """Compare two image folders: ``{"metrics", "protocol"}``.

    Options: ``n`` (at most this many images per folder, a seeded choice), ``seed``,
    ``extractor``, ``inception_weights``. Both folders must hold images of the same size
    and channel count.
    """
    from genlab.image.data import ImageDataConfig, load_image_data, to_pixels

    chosen = parse_metrics(metrics, SAMPLE_METRICS, DEFAULT_METRICS)
    seed, n = int(options.get("seed", 0)), options.get("n")
    sets = {}
    for what, folder in (("generated", Path(fake)), ("reference", Path(real))):
        if not folder.is_dir():
            raise DataError(f"{what} folder not found: {folder}", "give a folder of image files")
        size, channels = folder_geometry(folder)
        cfg = {"source": str(folder), "image_size": size, "channels": channels, "val_fraction": 0.0}
        data, _, info = load_image_data(ImageDataConfig.build({**cfg, "max_images": n, "split_seed": seed}))
        sets[what] = (to_pixels(data.images), info)
    (x_fake, info_fake), (x_real, _) = sets["generated"], sets["reference"]
    extractor = _extractor(options, str(real), x_real.shape[-1], x_real.shape[1])
    check_sets(x_fake, x_real, chosen, _feature_dim(extractor))
    values = sample_metrics(x_real, x_fake, chosen, extractor, seed)
    protocol = base_protocol(extractor, len(x_fake), len(x_real), x_real.shape[-1], x_real.shape[1], seed)
    protocol |= {"generated": str(fake), "reference": str(real), "reference_split": "all images of the folder"}
    if info_fake.skipped:
        protocol["skipped_files"] = len(info_fake.skipped)
    return {"metrics": values, "protocol": protocol}


def folder_geometry(folder: Path) -> tuple[int, int]:
    """(size, channels) shared by the images of a folder; mixed sizes or modes are refused."""
    from PIL import Image

    from genlab.image.data import GRAY_MODES, _scan_folder

    files, _, _ = _scan_folder(folder)  # raises a DataError for a folder without images
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


def _extractor(options: dict[str, Any], source: str | None, image_size: int, channels: int) -> FeatureExtractor:
    name = options.get("extractor") or default_extractor(source, image_size, channels)
    return get_extractor(name, inception_weights=options.get("inception_weights"))


def _feature_dim(extractor: FeatureExtractor) -> int | None:
    probe = torch.zeros(2, extractor.channels, extractor.input_size, extractor.input_size)
    return int(extractor.features(probe).shape[1])


# --------------------------------------------------------------------------- models


def evaluate_model(model, metrics: list[str] | None, options: dict[str, Any]) -> dict[str, Any]:
    """Evaluate an image generator: metrics, baselines (floor, gaussian, gmm) and the protocol.

    Options: ``n`` (generated and reference images, default 10,000), ``seed``, ``ref``
    (reference dataset, default the test split of the training data), ``data_dir``,
    ``extractor``, ``inception_weights``, ``k`` (importance samples for ``nll``),
    ``baselines`` (False to skip them).
    """
    allowed = SAMPLE_METRICS + MODEL_METRICS
    default = DEFAULT_METRICS + (["label_accuracy"] if model.conditional else [])
    chosen = parse_metrics(metrics, allowed, default)
    seed, n = int(options.get("seed", 0)), int(options.get("n", DEFAULT_N))
    if n < 1:
        raise BadInputError(f"--n must be positive, got {n}")
    cfg = model.config
    ref = resolve_reference(model, options.get("ref"), cfg.image_size, cfg.channels, n, options.get("data_dir"), seed)
    values: dict[str, float] = {}
    protocol = {"n_generated": 0, "n_reference": len(ref.images), "model": model.registry_name, **ref.protocol()}
    if weights := model.provenance.weights_sha256:
        protocol["model_sha256"] = weights
    baselines: dict[str, dict[str, float]] = {}
    if any(m in SAMPLE_METRICS or m == "label_accuracy" for m in chosen):
        extractor = _extractor(options, ref.source, cfg.image_size, cfg.channels)
        protocol = base_protocol(extractor, 0, len(ref.images), cfg.image_size, cfg.channels, seed) | protocol
    fake = None
    if any(m in SAMPLE_METRICS for m in chosen):
        fake = generate(model, n, seed)
        protocol["n_generated"] = len(fake)
        check_sets(fake, ref.images, chosen, _feature_dim(extractor))
        values |= sample_metrics(ref.images, fake, chosen, extractor, seed)
        if options.get("baselines", True):
            baselines = baseline_metrics(ref, chosen, extractor, n, seed)
    if "label_accuracy" in chosen:
        classifier = extractor if extractor.num_classes else get_extractor(default_extractor(ref.source, 28, 1))
        values["label_accuracy"] = label_accuracy(model, n, classifier, options, seed, images=fake)
        protocol |= {"label_classifier": classifier.name, "label_classifier_sha256": classifier.sha256}
    if "nll" in chosen:
        k = int(options.get("k", DEFAULT_IW_SAMPLES))
        nll, nll_protocol = vae_nll(model, ref, k, seed)
        values["nll_nats"] = nll
        protocol |= nll_protocol
    if "recon" in chosen:
        values |= vae_reconstruction(model, ref)
        protocol |= {"recon_images": len(ref.images), "recon_scale": "pixels in [0, 1]"}
    protocol |= {"seed": seed, "genlab_version": __version__}
    return {"metrics": values, "baselines": baselines, "protocol": protocol}


@torch.no_grad()
def generate(model, n: int, seed: int, batch_size: int | None = None, **sample_options: Any) -> torch.Tensor:
    """``n`` samples (n, C, H, W) on the CPU, seeded; conditional models cycle through their classes.

    Batches default to the model's ``sample_batch_size`` (UNets run faster per image in small
    batches on a CPU than in large ones). ``sample_options`` (``sampler``, ``steps``,
    ``guidance_scale`` of diffusion models) go to ``model.generate``; the same ``seed`` gives
    every option the same starting noise.
    """
    batch_size = batch_size or model.sample_batch_size
    g = make_generator(seed)
    out = []
    for i in range(0, n, batch_size):
        m = min(batch_size, n - i)
        labels = (torch.arange(i, i + m) % model.config.num_classes) if model.conditional else None
        out.append(model.generate(m, labels=labels, generator=g, **sample_options).float().cpu())
    return torch.cat(out)


def baseline_metrics(ref, metrics: list[str], extractor: FeatureExtractor, n: int, seed: int) -> dict[str, dict]:
    """The same sample metrics for the floor (real vs real) and the Gaussian/GMM pixel baselines."""
    from genlab.image.baselines import fit_baseline

    wanted = [m for m in metrics if m in SAMPLE_METRICS]
    out = {"floor": sample_metrics(ref.images, ref.other[:n], wanted, extractor, seed)}
    for name, (model_name, config) in BASELINE_CONFIGS.items():
        baseline = fit_baseline(model_name, ref.other, **config)
        out[name] = sample_metrics(ref.images, generate(baseline, n, seed), wanted, extractor, seed)
    return out


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


def _require_vae(model, metric: str) -> None:
    if not model.can_reconstruct or not hasattr(model, "log_likelihood_iw"):
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
