import numpy as np
import pytest
import torch

from genlab.image import metrics as metrics_module
from genlab.image.metrics import (
    density_coverage,
    fid_from_features,
    frechet_distance,
    gaussian_stats,
    inception_score,
    kid_from_features,
    precision_recall,
    reconstruction_metrics,
    trace_sqrt_product,
)


def test_frechet_distance_closed_form_diagonal():
    # For diagonal covariances: ||mu1-mu2||^2 + sum (s1 + s2 - 2 sqrt(s1 s2)) = ||.||^2 + sum (sqrt s1 - sqrt s2)^2
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    s1, s2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    expected = 1 + 0 + 4 + (1 - 2) ** 2 + (2 - 1) ** 2 + (3 - 1) ** 2
    assert frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_closed_form_full_covariance():
    # Commuting covariances A = Q diag(a) Qᵀ, B = Q diag(b) Qᵀ: Tr((AB)^½) = Σ sqrt(a_i b_i).
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(4, 4)))
    a, b = np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.5, 2.0, 1.0, 8.0])
    sa, sb = q @ np.diag(a) @ q.T, q @ np.diag(b) @ q.T
    expected = a.sum() + b.sum() - 2 * np.sqrt(a * b).sum()
    assert frechet_distance(np.zeros(4), sa, np.zeros(4), sb) == pytest.approx(expected, rel=1e-8)


def test_trace_sqrt_product_general_and_singular():
    # Non-commuting covariances: compare with the matrix square root of the product; a rank-deficient Σ
    # (dead features) must give a finite value with no regularisation.
    from scipy import linalg

    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    s1, s2 = a @ a.T + 0.1 * np.eye(6), b @ b.T + 0.1 * np.eye(6)
    expected = np.trace(np.real(linalg.sqrtm(s1 @ s2)))
    assert trace_sqrt_product(s1, s2) == pytest.approx(expected, rel=1e-9)
    s1[:, 0] = s1[0, :] = 0  # a feature that is always the same
    value = frechet_distance(np.zeros(6), s1, np.ones(6), s2)
    assert np.isfinite(value) and value > 0


def test_fid_identical_sets_is_zero_and_shift_is_squared_norm():
    x = torch.randn(500, 4, generator=torch.Generator().manual_seed(0))
    assert fid_from_features(x, x) == pytest.approx(0.0, abs=1e-6)
    assert fid_from_features(x, x + 2.0) == pytest.approx(4 * 4.0, rel=1e-6)


def test_kid_unbiased_near_zero_on_same_distribution():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(400, 8, generator=g), torch.randn(400, 8, generator=g)
    mean, std = kid_from_features(a, b, subsets=50, subset_size=200)
    assert abs(mean) < 3 * std + 1e-3  # unbiased: centred on zero, unlike the biased estimator
    far, _ = kid_from_features(a, b + 3, subsets=10, subset_size=200)
    assert far > 10 * abs(mean) + 0.1


def test_precision_recall_and_density_coverage_extremes():
    g = torch.Generator().manual_seed(2)
    real = torch.randn(300, 5, generator=g)
    assert precision_recall(real, real) == (1.0, 1.0)
    far = real + 100
    assert precision_recall(real, far) == (0.0, 0.0)
    d, c = density_coverage(real, real)
    assert c == 1.0 and d == pytest.approx(1.0, abs=0.3)
    assert density_coverage(real, far) == (0.0, 0.0)
    # Mode collapse: fakes all near one real point → high precision, low recall.
    collapsed = real[:1].repeat(300, 1) + 0.001 * torch.randn(300, 5, generator=g)
    p, r = precision_recall(real, collapsed)
    assert p == 1.0 and r < 0.05


def test_fewer_samples_than_dimensions_warns():
    with pytest.warns(UserWarning, match="biased"):
        gaussian_stats(torch.randn(10, 32))


def test_kid_on_identical_sets_matches_the_unbiased_formula():
    # On one set used twice, MMD²_u = 2 (S - tr K) / (m(m-1)) - 2 S / m², with S the sum of the kernel matrix:
    # the unbiased estimator drops the diagonal from the within-set terms only, so it is slightly negative.
    x = torch.randn(50, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    k = (x @ x.T / 4 + 1) ** 3
    m, s = 50, float(k.sum())
    expected = 2 * (s - float(k.trace())) / (m * (m - 1)) - 2 * s / m**2
    mean, std = kid_from_features(x, x, subsets=3, subset_size=50)
    assert mean == pytest.approx(expected, rel=1e-9) and std == pytest.approx(0.0, abs=1e-12)
    assert mean < 0


def test_chunked_knn_metrics_match_brute_force(monkeypatch):
    g = torch.Generator().manual_seed(4)
    real, fake = torch.randn(130, 3, generator=g), torch.randn(110, 3, generator=g) * 1.3 + 0.2
    monkeypatch.setattr(metrics_module, "PAIRWISE_CHUNK", 17)  # many partial blocks
    p, r = precision_recall(real, fake, k=3)
    d, c = density_coverage(real, fake, k=5)
    dist = torch.cdist(fake.double(), real.double())
    r_real = torch.cdist(real.double(), real.double()).kthvalue(4, dim=1).values
    r_fake = torch.cdist(fake.double(), fake.double()).kthvalue(4, dim=1).values
    assert p == pytest.approx(float((dist <= r_real).any(1).double().mean()))
    assert r == pytest.approx(float((r_fake >= dist.T).any(1).double().mean()))
    r5 = torch.cdist(real.double(), real.double()).kthvalue(6, dim=1).values
    assert d == pytest.approx(float((dist <= r5).double().sum() / (5 * 110)))
    assert c == pytest.approx(float((dist <= r5).any(0).double().mean()))
    assert 0 < p < 1 and 0 < r < 1


def test_inception_score_extremes():
    uniform = torch.zeros(100, 10)  # every sample says "no idea": IS = 1
    assert inception_score(uniform, splits=5)[0] == pytest.approx(1.0)
    confident = torch.full((100, 10), -50.0)
    confident[torch.arange(100), torch.arange(100) % 10] = 50.0  # sure and spread over 10 classes: IS = 10
    assert inception_score(confident, splits=1)[0] == pytest.approx(10.0, rel=1e-6)
    mean, std = inception_score(confident, splits=5)  # random splits of 20 are not exactly balanced
    assert 7 < mean < 10 and std > 0
    with pytest.raises(ValueError, match="at least"):
        inception_score(torch.zeros(3, 10), splits=10)


def test_reconstruction_metrics_known_values():
    images = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(5)) * 2 - 1
    same = reconstruction_metrics(images, images)
    assert same["recon_mse"] == 0 and same["ssim"] == pytest.approx(1.0) and same["psnr"] == 100
    shifted = (images + 0.2).clamp(-1, 1)  # on the [0, 1] scale errors are at most 0.1
    out = reconstruction_metrics(shifted, images)
    per_image = (((shifted - images) / 2) ** 2).flatten(1).mean(1)
    assert out["psnr"] == pytest.approx(float((10 * torch.log10(1 / per_image)).mean()), rel=1e-6)
    assert 0 < out["ssim"] < 1 and "ms_ssim" not in out
    with pytest.raises(ValueError, match="shapes"):
        reconstruction_metrics(images[:2], images)


def test_reconstruction_metrics_do_not_depend_on_the_chunk_size():
    from torchmetrics.functional.image import structural_similarity_index_measure

    g = torch.Generator().manual_seed(6)
    images = torch.rand(7, 1, 28, 28, generator=g) * 2 - 1
    noisy = (images + 0.3 * torch.randn(images.shape, generator=g)).clamp(-1, 1)
    whole, chunked = reconstruction_metrics(noisy, images), reconstruction_metrics(noisy, images, chunk_size=3)
    assert whole.keys() == chunked.keys()
    assert all(whole[k] == pytest.approx(chunked[k], rel=1e-12) for k in whole)
    at_once = structural_similarity_index_measure((noisy.double() + 1) / 2, (images.double() + 1) / 2, data_range=1.0)
    assert whole["ssim"] == pytest.approx(float(at_once), rel=1e-12)
    assert whole["recon_mse"] == pytest.approx(float(((noisy - images) / 2).double().pow(2).mean()), rel=1e-12)
