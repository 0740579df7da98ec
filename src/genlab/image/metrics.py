"""Sample-quality metrics of image generators, on features of a fixed extractor.

Fréchet distance (Heusel et al. 2017), computed in float64; kernel inception
distance (Bińkowski et al. 2018), unbiased MMD² with the cubic polynomial kernel;
improved precision/recall (Kynkäänniemi et al. 2019, k-NN manifolds with k=3);
density/coverage (Naeem et al. 2020). All take feature matrices (N, D).
The inception score and reconstruction metrics (PSNR, SSIM, MS-SSIM) come from
torchmetrics.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from genlab.core.stats import (  # noqa: F401  (re-exported: the image metrics API)
    fid_from_features,
    frechet_distance,
    gaussian_stats,
    trace_sqrt_product,
)

PAIRWISE_CHUNK = 1024  # rows of a distance matrix computed at once (1024 × 10k float64 = 80 MB)


def kid_from_features(
    real: torch.Tensor, fake: torch.Tensor, subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """Kernel inception distance: mean and std of unbiased MMD² over random subsets.

    Kernel k(x, y) = (xᵀy / D + 1)³ (Bińkowski et al. 2018). Subsets have
    ``min(subset_size, len(real), len(fake))`` samples; when that is both whole sets, the
    single value is returned with std 0.
    """
    x = torch.as_tensor(real, dtype=torch.float64)
    y = torch.as_tensor(fake, dtype=torch.float64)
    m = min(subset_size, len(x), len(y))
    if m < 2:
        raise ValueError("KID needs at least 2 samples in each set")
    if m == len(x) == len(y):
        return _mmd2_unbiased(x, y), 0.0  # every subset would be the whole of both sets: one value
    g = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(subsets):
        xs = x[torch.randperm(len(x), generator=g)[:m]]
        ys = y[torch.randperm(len(y), generator=g)[:m]]
        values.append(_mmd2_unbiased(xs, ys))
    v = torch.tensor(values, dtype=torch.float64)
    return float(v.mean()), float(v.std()) if len(v) > 1 else 0.0


def _mmd2_unbiased(x: torch.Tensor, y: torch.Tensor) -> float:
    d = x.shape[1]
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    m = len(x)
    sum_xx = (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
    sum_yy = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return float(sum_xx + sum_yy - 2 * kxy.mean())


def _pairwise_chunks(a: torch.Tensor, b: torch.Tensor, chunk: int = PAIRWISE_CHUNK):
    """Yield (row offset, distances (rows, len(b))) for row blocks of ``a``: bounded memory for 10k × 10k."""
    for i in range(0, len(a), chunk):
        yield i, torch.cdist(a[i : i + chunk], b)


def _knn_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each row of x to its k-th nearest other row."""
    if len(x) <= k:
        raise ValueError(f"k-NN radii with k={k} need more than {k} samples, got {len(x)}")
    radii = torch.empty(len(x), dtype=x.dtype)
    for i, d in _pairwise_chunks(x, x):
        radii[i : i + len(d)] = d.kthvalue(k + 1, dim=1).values  # +1: the point itself is at distance 0
    return radii


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) with k-NN balls.

    Precision: share of fake samples inside some real sample's k-NN ball;
    recall: share of real samples inside some fake sample's k-NN ball.
    """
    real, fake = torch.as_tensor(real).double(), torch.as_tensor(fake).double()
    r_real, r_fake = _knn_radii(real, k), _knn_radii(fake, k)
    in_real = torch.zeros(len(fake), dtype=torch.bool)
    for i, d in _pairwise_chunks(fake, real):  # d: (rows of fake, n_real)
        in_real[i : i + len(d)] = (d <= r_real[None, :]).any(dim=1)
    in_fake = torch.zeros(len(real), dtype=torch.bool)
    for i, d in _pairwise_chunks(real, fake):  # d: (rows of real, n_fake)
        in_fake[i : i + len(d)] = (d <= r_fake[None, :]).any(dim=1)
    return float(in_real.double().mean()), float(in_fake.double().mean())


def density_coverage(real: torch.Tensor, fake: torch.Tensor, k: int = 5) -> tuple[float, float]:
    """Density and coverage (Naeem et al. 2020) with k-NN balls around real samples."""
    real, fake = torch.as_tensor(real).double(), torch.as_tensor(fake).double()
    r_real = _knn_radii(real, k)
    count = torch.zeros((), dtype=torch.float64)
    covered = torch.zeros(len(real), dtype=torch.bool)
    for _, d in _pairwise_chunks(fake, real):
        inside = d <= r_real[None, :]  # (rows of fake, n_real)
        count += inside.double().sum()
        covered |= inside.any(dim=0)
    return float(count / (k * len(fake))), float(covered.double().mean())


# --------------------------------------------------------------------------- classifier-based scores


def inception_score(logits: torch.Tensor, splits: int = 10, seed: int = 0) -> tuple[float, float]:
    """Inception score exp(E_x KL(p(y|x) ‖ p(y))) (Salimans et al. 2016) of class logits (N, K): mean, std.

    Computed by torchmetrics' ``InceptionScore`` over ``splits`` seeded random splits; the logits
    come from the chosen extractor's classifier (the "classifier score" on MNIST-like data).
    """
    from torchmetrics.image.inception import InceptionScore

    logits = torch.as_tensor(logits, dtype=torch.float64)
    if len(logits) < splits:
        raise ValueError(f"the inception score with {splits} splits needs at least {splits} samples")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*save all extracted features")  # we pass logits, not images
        metric = InceptionScore(feature=nn.Identity(), splits=splits)  # features are the logits already
    metric.update(logits)
    with torch.random.fork_rng(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*degrees of freedom")  # one split: no std
        torch.manual_seed(seed)  # torchmetrics shuffles before splitting
        mean, std = metric.compute()
    return float(mean), float(std) if splits > 1 else 0.0


# --------------------------------------------------------------------------- reconstruction


def reconstruction_metrics(
    reconstructions: torch.Tensor, images: torch.Tensor, chunk_size: int = 256
) -> dict[str, float]:
    """MSE, PSNR (dB) and SSIM of reconstructions vs images (N, C, H, W) in [-1, 1], on the [0, 1] scale.

    Every value is a mean over images (PSNR from each image's own MSE); SSIM uses the usual
    11×11 Gaussian window (σ = 1.5). MS-SSIM (5 scales) is added when images are larger than
    160 pixels. Values from torchmetrics, computed ``chunk_size`` images at a time (SSIM's
    windowed statistics of 10,000 images at once would take tens of GB).
    """
    from torchmetrics.functional.image import (
        multiscale_structural_similarity_index_measure,
        peak_signal_noise_ratio,
        structural_similarity_index_measure,
    )

    if reconstructions.shape != images.shape:
        raise ValueError(f"shapes differ: {tuple(reconstructions.shape)} vs {tuple(images.shape)}")
    multiscale = min(images.shape[-2:]) > 160
    per_image: dict[str, list[torch.Tensor]] = {"recon_mse": [], "psnr": [], "ssim": []} | (
        {"ms_ssim": []} if multiscale else {}
    )
    for i in range(0, len(images), chunk_size):
        preds = (reconstructions[i : i + chunk_size].double() + 1) / 2
        target = (images[i : i + chunk_size].double() + 1) / 2
        per_image["recon_mse"].append(((preds - target) ** 2).flatten(1).mean(1))
        psnr = peak_signal_noise_ratio(preds, target, data_range=1.0, reduction="none", dim=(1, 2, 3))
        per_image["psnr"].append(psnr.clamp(max=100))
        per_image["ssim"].append(structural_similarity_index_measure(preds, target, data_range=1.0, reduction="none"))
        if multiscale:
            ms = multiscale_structural_similarity_index_measure(preds, target, data_range=1.0, reduction="none")
            per_image["ms_ssim"].append(ms)
    return {k: float(torch.cat(v).mean()) for k, v in per_image.items()}
