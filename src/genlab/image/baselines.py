"""Statistical image generators fitted in closed form: ``image/gaussian`` and ``image/gmm``.

They are the trivial baselines every image benchmark prints beside a trained model,
and real genlab models (config, ``save_pretrained``/``from_pretrained``, ``generate``,
the pipeline, ``genlab train image-generation --model gmm``). Both work on the pixels
of the [-1, 1] images, flattened to D = C·H·W values.

* ``image/gaussian``: probabilistic PCA (Tipping & Bishop 1999). With the data
  covariance's top ``latent_dim`` eigenpairs (λ, U) and σ² the mean of the remaining
  eigenvalues, x = μ + U (Λ − σ²I)^½ z + ε, z ~ N(0, I), ε ~ N(0, σ²I). With
  ``latent_dim = D`` it is the full-covariance Gaussian on pixels.
* ``image/gmm``: a Gaussian mixture (full covariances, fitted by EM with scikit-learn)
  in the space of the top ``latent_dim`` principal components, mapped back to pixels.

By default a sample is the mean image given the latent (``pixel_noise=false``): the
isotropic residual noise of PPCA only adds speckle to every pixel.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from pydantic import Field
from torch.utils.data import Dataset

from genlab.core.errors import DataError, GenlabError
from genlab.core.export import not_exportable
from genlab.core.model import register_model
from genlab.core.stats import fit_gaussian_mixture
from genlab.image.base import ImageGenerativeModel, ImageModelConfig

MAX_FIT_IMAGES = 60_000  # more images change the fitted moments very little and cost memory


def dataset_images(dataset: Dataset, max_images: int = MAX_FIT_IMAGES) -> torch.Tensor:
    """The first ``max_images`` images of an image dataset as float64 (N, C, H, W) in [-1, 1] (in-memory datasets
    are read directly)."""
    images = getattr(dataset, "images", None)
    if isinstance(images, torch.Tensor) and images.dtype == torch.uint8:
        x = images[:max_images].double() / 127.5 - 1.0
    else:
        n = min(len(dataset), max_images)
        x = torch.stack([dataset[i][0] for i in range(n)]).double()
    if len(x) < 2:
        raise DataError(f"fitting a Gaussian needs at least 2 images, got {len(x)}", "use more training images")
    return x


def dataset_pixels(dataset: Dataset, max_images: int = MAX_FIT_IMAGES) -> torch.Tensor:
    """Images of an image dataset as float64 (N, D) pixels in [-1, 1]."""
    return dataset_images(dataset, max_images).flatten(1)  # (N, C, H, W) -> (N, D)


def principal_components(x: torch.Tensor, q: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """Mean (D,), top-q eigenvalues (q,) and eigenvectors (D, q) of the covariance of x (N, D), and σ².

    σ² is the mean of the discarded eigenvalues (0 when q = D). Eigenvalues below zero
    (round-off) are clipped to 0. Computed in float64 from the D×D covariance.
    """
    mean = x.mean(0)
    xc = x - mean
    cov = xc.T @ xc / (len(x) - 1)
    evals, evecs = torch.linalg.eigh(cov)  # ascending
    evals, evecs = evals.flip(0).clamp(min=0), evecs.flip(1)
    rest = evals[q:]
    sigma2 = float(rest.mean()) if len(rest) else 0.0
    return mean, evals[:q], evecs[:, :q], sigma2


class GaussianConfig(ImageModelConfig):
    """``image/gaussian``: probabilistic PCA on pixels."""

    latent_dim: int = Field(64, ge=1, le=65536, description="principal components kept (≥ C·H·W: full covariance)")
    pixel_noise: bool = Field(False, description="add the isotropic residual noise N(0, σ²) to samples")


class _PixelModel(ImageGenerativeModel):
    """Shared pieces: buffers only (no gradient training), device from the mean buffer."""

    fits_in_closed_form: ClassVar[bool] = True

    @property
    def pixel_dim(self) -> int:
        return self.config.channels * self.config.image_size**2

    @property
    def device(self) -> torch.device:
        return self.mean.device

    def optimizer_groups(self):
        raise GenlabError(f"{self.registry_name} is fitted in closed form, not by gradient steps")

    def _to_images(self, flat: torch.Tensor) -> torch.Tensor:
        c, s = self.config.channels, self.config.image_size
        return flat.float().view(-1, c, s, s).clamp(-1, 1)  # (B, D) -> (B, C, H, W)

    @property
    def latent_shape(self) -> tuple[int, ...]:
        """Core latent, then (with ``pixel_noise``) one standard normal per pixel: sampling stays seedable."""
        return (self._core_dim + (self.pixel_dim if self.config.pixel_noise else 0),)

    @property
    def _core_dim(self) -> int:
        return self.config.latent_dim

    def _split_latent(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, latent) -> core latent (B, core) and pixel noise (B, D) scaled by σ (zeros without noise)."""
        core, noise = z[:, : self._core_dim], z[:, self._core_dim :]
        if noise.shape[1] == 0:
            return core, torch.zeros((), device=z.device)
        return core, noise * float(self.sigma2) ** 0.5


@register_model("image/gaussian")
class GaussianImageModel(_PixelModel):
    """``image/gaussian``: probabilistic PCA on pixels; latent z (latent_dim,) ~ N(0, I)."""

    config_class: ClassVar[type[GaussianConfig]] = GaussianConfig
    description: ClassVar[str] = "baseline: Gaussian on pixels (probabilistic PCA, Tipping & Bishop 1999), closed form"
    config: GaussianConfig

    def __init__(self, config: GaussianConfig):
        super().__init__(config)
        d, q = self.pixel_dim, config.latent_dim
        self.register_buffer("mean", torch.zeros(d))
        self.register_buffer("loading", torch.zeros(d, q))  # U (Λ − σ²I)^½: (D, q)
        self.register_buffer("sigma2", torch.zeros(()))

    def fit(self, train_dataset: Dataset, val_dataset: Dataset | None = None) -> dict[str, float]:
        """Closed-form maximum-likelihood PPCA; returns the explained variance share and σ²."""
        x = dataset_pixels(train_dataset)
        q = min(self.config.latent_dim, self.pixel_dim)
        mean, evals, evecs, sigma2 = principal_components(x, q)
        loading = torch.zeros(self.pixel_dim, self.config.latent_dim, dtype=torch.float64)
        loading[:, :q] = evecs * (evals - sigma2).clamp(min=0).sqrt()
        self.mean.copy_(mean.float())
        self.loading.copy_(loading.float())
        self.sigma2.fill_(sigma2)
        total = float(x.var(0).sum())
        return {"explained_variance": float(evals.sum()) / total if total else 1.0, "residual_variance": sigma2}

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images μ + W z (B, C, H, W), plus N(0, σ²) pixel noise when ``pixel_noise``."""
        core, noise = self._split_latent(z)
        return self._to_images(self.mean + core @ self.loading.T + noise)


class GMMConfig(ImageModelConfig):
    """``image/gmm``: Gaussian mixture in a principal-component space of the pixels."""

    latent_dim: int = Field(64, ge=1, le=4096, description="principal components the mixture lives in")
    num_components: int = Field(10, ge=1, le=512, description="mixture components")
    max_iter: int = Field(100, ge=1, description="EM iterations at most")
    pixel_noise: bool = Field(False, description="add the PCA residual noise N(0, σ²) to samples")
    seed: int = Field(0, description="seed of the EM initialisation (k-means)")
    max_fit_images: int = Field(10_000, ge=2, description="EM runs on at most this many training images")


@register_model("image/gmm")
class GMMImageModel(_PixelModel):
    """``image/gmm``: mixture of full-covariance Gaussians on the top principal components.

    A latent is (u, ε[, pixel noise]): u ~ U(0, 1) picks the component by the inverse CDF of the
    weights, ε ~ N(0, I) (latent_dim,) is coloured by that component's Cholesky factor.
    """

    config_class: ClassVar[type[GMMConfig]] = GMMConfig
    description: ClassVar[str] = "baseline: Gaussian mixture on principal components of pixels, fitted by EM"
    config: GMMConfig

    def __init__(self, config: GMMConfig):
        super().__init__(config)
        d, q, k = self.pixel_dim, config.latent_dim, config.num_components
        self.register_buffer("mean", torch.zeros(d))
        self.register_buffer("basis", torch.zeros(d, q))  # principal directions U (D, q)
        self.register_buffer("sigma2", torch.zeros(()))
        self.register_buffer("weights", torch.full((k,), 1.0 / k))
        self.register_buffer("means", torch.zeros(k, q))
        self.register_buffer("cholesky", torch.eye(q).repeat(k, 1, 1))  # lower factors of the covariances

    @property
    def _core_dim(self) -> int:
        return 1 + self.config.latent_dim

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """(n, 1 + latent_dim [+ D]): a uniform component selector, then standard normal noise."""
        z = torch.randn((n, *self.latent_shape), generator=generator)
        z[:, 0] = torch.rand(n, generator=generator)
        return z.to(self.device)

    def fit(self, train_dataset: Dataset, val_dataset: Dataset | None = None) -> dict[str, float]:
        """PCA to ``latent_dim`` dimensions, then EM for the mixture; returns the mean log-likelihood per image."""
        x = dataset_pixels(train_dataset, self.config.max_fit_images)  # EM costs O(N·K·q²) per iteration
        q = min(self.config.latent_dim, self.pixel_dim, len(x) - 1)
        k = min(self.config.num_components, len(x))
        mean, _, evecs, sigma2 = principal_components(x, q)
        codes = (x - mean) @ evecs  # (N, q)
        gmm = fit_gaussian_mixture(codes, k, self.config.seed, "image/gmm", max_iter=self.config.max_iter)
        self.mean.copy_(mean.float())
        self.basis.zero_()[:, :q] = evecs.float()
        self.sigma2.fill_(sigma2)
        self.weights.zero_()[:k] = gmm.weights
        self.means.zero_()[:k, :q] = gmm.means
        self.cholesky.copy_(torch.eye(self.config.latent_dim).repeat(self.config.num_components, 1, 1))
        self.cholesky[:k, :q, :q] = gmm.cholesky
        return {"train_log_likelihood_pca": gmm.log_likelihood, "em_converged": float(gmm.converged)}

    def export_graphs(self) -> dict:
        raise not_exportable(self, "its decoder picks mixture components with searchsorted, which ONNX export lacks")

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images (B, C, H, W) for latents (B, 1 + latent_dim)."""
        core, noise = self._split_latent(z)
        u, eps = core[:, 0], core[:, 1:]
        cdf = self.weights.cumsum(0)
        component = torch.searchsorted(cdf, (u * cdf[-1]).contiguous()).clamp(max=len(cdf) - 1)  # (B,)
        codes = self.means[component] + (self.cholesky[component] @ eps.unsqueeze(-1)).squeeze(-1)  # (B, q)
        return self._to_images(self.mean + codes @ self.basis.T + noise)


def fit_baseline(name: str, images: torch.Tensor, **config: Any) -> _PixelModel:
    """Fit ``image/gaussian`` or ``image/gmm`` on images (N, C, H, W) in [-1, 1]; used by evaluation."""
    from genlab.core.registry import MODELS
    from genlab.image.data import ImageTensorDataset

    cls = MODELS.get(name)
    c, s = images.shape[1], images.shape[-1]
    model = cls(cls.config_class.build({"image_size": s, "channels": c, **config}, where=name))
    uint8 = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    model.fit(ImageTensorDataset(uint8, torch.zeros(len(images), dtype=torch.long)))
    return model.eval()
