"""Closed-form pixel baselines: image/gaussian (probabilistic PCA) and image/gmm."""

import pytest
import torch

import genlab
from genlab.core.errors import GenlabError
from genlab.core.registry import MODELS
from genlab.image.baselines import principal_components
from genlab.image.data import ImageTensorDataset
from tests.image.model_mixin import ImageModelTesterMixin


class TestGaussian(ImageModelTesterMixin):
    model_name = "image/gaussian"
    config = {"image_size": 8, "latent_dim": 3, "pixel_noise": True}
    image_sizes = (8, 12)
    validation_keys = None  # fitted in closed form: no validation losses


class TestGMM(ImageModelTesterMixin):
    model_name = "image/gmm"
    config = {"image_size": 8, "latent_dim": 3, "num_components": 2, "max_iter": 20}
    image_sizes = (8, 12)
    validation_keys = None


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def as_dataset(images: torch.Tensor) -> ImageTensorDataset:
    uint8 = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return ImageTensorDataset(uint8, torch.zeros(len(images), dtype=torch.long))


def build(name: str, **config):
    cls = MODELS.get(name)
    return cls(cls.config_class.build({"image_size": 8, "channels": 1, **config}))


def low_rank_images(n: int = 4000) -> torch.Tensor:
    """8×8 images x = m + A z, z ~ N(0, I₃): a rank-3 Gaussian well inside [-1, 1]."""
    g = seeded(0)
    a = torch.randn(64, 3, generator=g) * 0.1
    m = torch.linspace(-0.5, 0.5, 64)
    return (m + torch.randn(n, 3, generator=g) @ a.T).view(n, 1, 8, 8)


def test_principal_components_recover_spectrum():
    x = torch.randn(20000, 3, generator=seeded(1), dtype=torch.float64) * torch.tensor([3.0, 2.0, 0.5])
    mean, evals, evecs, sigma2 = principal_components(x, 2)
    assert torch.allclose(evals, torch.tensor([9.0, 4.0], dtype=torch.float64), rtol=0.05)
    assert sigma2 == pytest.approx(0.25, rel=0.05)
    assert abs(float(evecs[0, 0])) == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("latent_dim", [3, 16])
def test_gaussian_samples_match_data_moments(latent_dim):
    data = low_rank_images()
    model = build("image/gaussian", latent_dim=latent_dim)
    logged = model.fit(as_dataset(data))
    assert logged["explained_variance"] > 0.95
    samples = model.eval().generate(4000, generator=seeded(3)).flatten(1).double()
    x = data.flatten(1).double()
    assert torch.allclose(samples.mean(0), x.mean(0), atol=0.02)
    cov_s, cov_x = torch.cov(samples.T), torch.cov(x.T)
    assert (cov_s - cov_x).abs().max() < 0.1 * cov_x.abs().max()


def test_gaussian_pixel_noise_restores_residual_variance():
    x = torch.rand(3000, 1, 8, 8, generator=seeded(4)) * 1.6 - 0.8  # isotropic: no low-rank structure
    quiet, noisy = build("image/gaussian", latent_dim=2), build("image/gaussian", latent_dim=2, pixel_noise=True)
    for m in (quiet, noisy):
        m.fit(as_dataset(x))
    var_data = float(x.flatten(1).var(0).sum())
    var_quiet = float(quiet.generate(3000, generator=seeded(0)).flatten(1).var(0).sum())
    var_noisy = float(noisy.generate(3000, generator=seeded(0)).flatten(1).var(0).sum())
    assert var_quiet < 0.4 * var_data and var_noisy == pytest.approx(var_data, rel=0.1)


def test_gmm_finds_separated_clusters_with_their_weights():
    g = seeded(5)
    centres = torch.stack([torch.full((64,), -0.6), torch.full((64,), 0.6)])
    which = (torch.rand(3000, generator=g) < 0.25).long()  # 25% in cluster 1
    x = (centres[which] + 0.05 * torch.randn(3000, 64, generator=g)).view(-1, 1, 8, 8)
    model = build("image/gmm", latent_dim=4, num_components=2)
    model.fit(as_dataset(x))
    samples = model.eval().generate(2000, generator=seeded(6)).flatten(1).mean(1)
    assert ((samples - 0.6).abs() < 0.1).float().mean() == pytest.approx(0.25, abs=0.05)
    assert ((samples + 0.6).abs() < 0.1).float().mean() == pytest.approx(0.75, abs=0.05)


@pytest.mark.parametrize("name", ["image/gaussian", "image/gmm"])
def test_gradient_training_is_refused(name):
    with pytest.raises(GenlabError, match="closed form"):
        build(name, latent_dim=3).optimizer_groups()


def test_gmm_trains_through_the_engine(runs_dir):
    res = genlab.train(
        "image-generation",
        model="gmm",
        data="builtin:digits",
        name="gmm",
        runs_dir=runs_dir,
        overrides=["data.image_size=8", "data.max_images=300", "model.latent_dim=8", "model.num_components=4"],
        progress=False,
    )
    assert res.status == "completed" and (res.run.samples_dir / "final.png").is_file()
    images = genlab.load(res.run.path)(n=3, seed=0, output_type="pt")
    assert images.shape == (3, 1, 8, 8) and images.std() > 0
