"""Statistics shared by the metrics of several modalities: Gaussian fits and the Fréchet distance.

The Fréchet distance between two Gaussians (Dowson & Landau 1982) is the core of FID for
images (Heusel et al. 2017) and of the Fréchet distance between sentence embeddings for text
(as in FBD, Xiang et al. 2021). It is computed in float64.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch


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
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * trace_sqrt_product(s1, s2))


def trace_sqrt_product(s1: np.ndarray, s2: np.ndarray) -> float:
    """Tr((Σ₁Σ₂)^½) for covariances Σ₁, Σ₂ (D, D).

    Σ₁Σ₂ is similar to the symmetric PSD matrix Σ₁^½ Σ₂ Σ₁^½, so the trace is the sum of the
    square roots of that matrix's eigenvalues: symmetric eigensolvers only, no matrix square
    root of a non-symmetric product, and singular covariances (dead features, fewer samples
    than dimensions) need no regularisation. Round-off negatives are clipped to 0.
    """
    w, v = np.linalg.eigh((s1 + s1.T) / 2)
    root = (v * np.sqrt(np.clip(w, 0, None))) @ v.T  # Σ₁^½
    middle = root @ s2 @ root
    lam = np.linalg.eigvalsh((middle + middle.T) / 2)
    return float(np.sqrt(np.clip(lam, 0, None)).sum())


def fid_from_features(real: torch.Tensor, fake: torch.Tensor) -> float:
    """Fréchet distance between the Gaussian fits of two feature sets (N, D)."""
    return frechet_distance(*gaussian_stats(real), *gaussian_stats(fake))
