import numpy as np
import pytest
import torch

from genlab.image.metrics import (
    density_coverage,
    fid_from_features,
    frechet_distance,
    gaussian_stats,
    kid_from_features,
    precision_recall,
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
