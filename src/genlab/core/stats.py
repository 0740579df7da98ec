"""Statistics shared by several modalities: Gaussian and Gaussian-mixture fits and the Fréchet distance.

The Fréchet distance between two Gaussians (Dowson & Landau 1982) is the core of FID for
images (Heusel et al. 2017) and of the Fréchet distance between sentence embeddings for text
(as in FBD, Xiang et al. 2021). It is computed in float64.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

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


@dataclass
class GaussianMixtureFit:
    """A full-covariance Gaussian mixture fitted by EM: ``weights`` (K,), ``means`` (K, D) and the lower Cholesky
    factors of the covariances ``cholesky`` (K, D, D), float32; the mean log-likelihood per point of the data it
    was fitted to, and whether EM converged."""

    weights: torch.Tensor
    means: torch.Tensor
    cholesky: torch.Tensor
    log_likelihood: float
    converged: bool


def fit_gaussian_mixture(
    x: torch.Tensor | np.ndarray, k: int, seed: int, purpose: str, max_iter: int = 100, reg_covar: float = 1e-6
) -> GaussianMixtureFit:
    """EM for a ``k``-component full-covariance mixture on the rows of ``x`` (N, D) (scikit-learn, k-means
    initialisation seeded by ``seed``); ``purpose`` names what needs scikit-learn when it is missing."""
    from genlab.core.optional import require

    mixture = require("sklearn.mixture", "image", purpose)
    threadpoolctl = require("threadpoolctl", "image", purpose)  # a scikit-learn dependency
    x = np.asarray(x, dtype=np.float64)
    gmm = mixture.GaussianMixture(k, covariance_type="full", max_iter=max_iter, reg_covar=reg_covar, random_state=seed)
    with threadpoolctl.threadpool_limits(1):  # EM's small BLAS calls run slower, not faster, on several threads
        gmm.fit(x)
    return GaussianMixtureFit(
        weights=torch.as_tensor(gmm.weights_).float(),
        means=torch.as_tensor(gmm.means_).float(),
        cholesky=torch.linalg.cholesky(torch.as_tensor(gmm.covariances_)).float(),
        log_likelihood=float(gmm.score(x)),
        converged=bool(gmm.converged_),
    )
