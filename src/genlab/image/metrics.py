"""Sample-quality metrics of image generators, on features of a fixed extractor.

Fréchet distance (Heusel et al. 2017), computed in float64; kernel inception
distance (Bińkowski et al. 2018), unbiased MMD² with the cubic polynomial kernel;
improved precision/recall (Kynkäänniemi et al. 2019, k-NN manifolds with k=3);
density/coverage (Naeem et al. 2020). All take feature matrices (N, D).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from scipy import linalg


def gaussian_stats(features: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and unbiased covariance (D, D) of features (N, D), in float64."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"need a (N ≥ 2, D) feature matrix, got shape {x.shape}")
    if len(x) < x.shape[1]:
        warnings.warn(
            f"{len(x)} samples for {x.shape[1]}-dimensional features: the covariance is rank-deficient and the "
            "Fréchet distance estimate is biased; use more samples than feature dimensions",
            stacklevel=2,
        )
    return x.mean(axis=0), np.cov(x, rowvar=False)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """‖μ₁−μ₂‖² + Tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^½) between two Gaussians, in float64."""
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    s1, s2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    covmean, _ = linalg.sqrtm(s1 @ s2, disp=False)
    if not np.isfinite(covmean).all():
        # Near-singular product: regularise both covariances slightly (as is customary).
        eps = np.eye(len(s1)) * 1e-6
        covmean = linalg.sqrtm((s1 + eps) @ (s2 + eps))
    covmean = np.real(covmean)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))


def fid_from_features(real: torch.Tensor, fake: torch.Tensor) -> float:
    """Fréchet distance between the Gaussian fits of two feature sets (N, D)."""
    return frechet_distance(*gaussian_stats(real), *gaussian_stats(fake))


def kid_from_features(
    real: torch.Tensor, fake: torch.Tensor, subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """Kernel inception distance: mean and std of unbiased MMD² over random subsets.

    Kernel k(x, y) = (xᵀy / D + 1)³ (Bińkowski et al. 2018).
    """
    x = torch.as_tensor(real, dtype=torch.float64)
    y = torch.as_tensor(fake, dtype=torch.float64)
    m = min(subset_size, len(x), len(y))
    if m < 2:
        raise ValueError("KID needs at least 2 samples in each set")
    g = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(subsets):
        xs = x[torch.randperm(len(x), generator=g)[:m]]
        ys = y[torch.randperm(len(y), generator=g)[:m]]
        values.append(_mmd2_unbiased(xs, ys))
    v = torch.tensor(values)
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


def _knn_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each row of x to its k-th nearest other row."""
    d = torch.cdist(x, x)
    return d.kthvalue(k + 1, dim=1).values  # +1: the point itself is at distance 0


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) with k-NN balls.

    Precision: share of fake samples inside some real sample's k-NN ball;
    recall: share of real samples inside some fake sample's k-NN ball.
    """
    real, fake = torch.as_tensor(real).double(), torch.as_tensor(fake).double()
    r_real, r_fake = _knn_radii(real, k), _knn_radii(fake, k)
    d = torch.cdist(fake, real)  # (n_fake, n_real)
    precision = (d <= r_real[None, :]).any(dim=1).double().mean()
    recall = (r_fake[None, :] >= d.T).any(dim=1).double().mean()
    return float(precision), float(recall)


def density_coverage(real: torch.Tensor, fake: torch.Tensor, k: int = 5) -> tuple[float, float]:
    """Density and coverage (Naeem et al. 2020) with k-NN balls around real samples."""
    real, fake = torch.as_tensor(real).double(), torch.as_tensor(fake).double()
    r_real = _knn_radii(real, k)
    inside = torch.cdist(fake, real) <= r_real[None, :]  # (n_fake, n_real)
    density = inside.double().sum() / (k * len(fake))
    coverage = inside.any(dim=0).double().mean()
    return float(density), float(coverage)
