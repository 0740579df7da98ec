"""The Gaussian process, expected improvement and the objective parser of molecule optimisation."""

import math

import pytest
import torch

from genlab.core.errors import BadInputError
from genlab.molecule.gp import GaussianProcess, GPHyper, expected_improvement, kernel_matrix, maximize_ei
from genlab.molecule.objectives import TERMS, parse_objective


def hyper(ls=1.0, var=1.0, noise=1e-4, mean=0.0) -> GPHyper:
    t = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    return GPHyper(torch.tensor([ls], dtype=torch.float64), t(var), t(noise), t(mean))


def test_gp_posterior_matches_a_hand_computed_two_point_case():
    # RBF, unit length-scale and variance, noise σ²; data x = (0, 1) with y standardised to (-a, a).
    x = torch.tensor([[0.0], [1.0]])
    y = torch.tensor([0.0, 2.0])  # mean 1, sample std √2 → standardised (-1/√2, 1/√2)
    noise = 1e-4
    gp = GaussianProcess("rbf", min_noise=0.0).set_data(x, y, hyper(noise=noise))
    e = math.exp(-0.5)  # k(0, 1)
    d = (1 + noise) ** 2 - e**2  # det K
    kinv = [[(1 + noise) / d, -e / d], [-e / d, (1 + noise) / d]]
    a = 1 / math.sqrt(2)
    ys = [-a, a]
    xs = 2.0
    ks = [math.exp(-0.5 * xs**2), math.exp(-0.5 * (xs - 1) ** 2)]
    alpha = [kinv[0][0] * ys[0] + kinv[0][1] * ys[1], kinv[1][0] * ys[0] + kinv[1][1] * ys[1]]
    mu_std = ks[0] * alpha[0] + ks[1] * alpha[1]
    var_std = 1 - sum(ks[i] * kinv[i][j] * ks[j] for i in range(2) for j in range(2))
    mu, sd = gp.posterior(torch.tensor([[xs]]))
    assert float(mu) == pytest.approx(1 + math.sqrt(2) * mu_std, abs=1e-9)
    assert float(sd) == pytest.approx(math.sqrt(2) * math.sqrt(var_std), abs=1e-9)
    mu0, sd0 = gp.posterior(x)  # near-noiseless: the posterior interpolates the data
    assert torch.allclose(mu0, y.double(), atol=1e-3) and float(sd0.max()) < 0.05


def test_matern_kernel_at_zero_and_one_length_scale():
    a = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    k = kernel_matrix(a, a, torch.tensor([1.0], dtype=torch.float64), torch.tensor(2.0), "matern52")
    s5 = math.sqrt(5)
    assert float(k[0, 0]) == pytest.approx(2.0)
    assert float(k[0, 1]) == pytest.approx(2.0 * (1 + s5 + 5 / 3) * math.exp(-s5))


def test_fit_raises_the_marginal_likelihood_and_predicts_a_smooth_function():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(30, 2, generator=g) * 4 - 2
    y = torch.sin(x[:, 0]) + 0.5 * x[:, 1]
    gp = GaussianProcess("matern52").set_data(x, y)
    before = float(gp.log_marginal_likelihood())
    gp.fit(x, y, steps=80)
    assert float(gp.log_marginal_likelihood()) > before
    xt = torch.rand(20, 2, generator=g) * 2 - 1
    mu, _ = gp.posterior(xt)
    assert float((mu - (torch.sin(xt[:, 0]) + 0.5 * xt[:, 1]).double()).abs().mean()) < 0.1


def test_expected_improvement_is_non_negative_and_known_at_zero_gap():
    mu = torch.linspace(-3, 3, 101, dtype=torch.float64)
    sigma = torch.linspace(1e-9, 2, 101, dtype=torch.float64)
    ei = expected_improvement(mu, sigma, best=0.5)
    assert bool((ei >= 0).all())
    # μ = f⁺: EI = σ φ(0)
    one = expected_improvement(torch.tensor([1.0]).double(), torch.tensor([2.0]).double(), best=1.0)
    assert float(one) == pytest.approx(2.0 / math.sqrt(2 * math.pi))
    # σ → 0: EI → max(μ - f⁺, 0)
    det = expected_improvement(torch.tensor([2.0, 0.0]).double(), torch.tensor([0.0, 0.0]).double(), best=1.0)
    assert det.tolist() == pytest.approx([1.0, 0.0])


def test_maximize_ei_stays_in_the_box_and_moves_uphill():
    x = torch.tensor([[-1.0], [0.0], [1.0]])
    y = torch.tensor([0.0, 1.0, 2.0])  # increasing: EI is highest to the right of the best
    gp = GaussianProcess("rbf").set_data(x, y, hyper(ls=1.0, noise=1e-4))
    center, half = torch.tensor([1.0]), torch.tensor([0.5])
    pts = maximize_ei(gp, center, half, best=2.0, q=3, generator=torch.Generator().manual_seed(0))
    assert pts.shape == (3, 1)
    assert bool(((pts >= 0.5 - 1e-6) & (pts <= 1.5 + 1e-6)).all())
    assert float(pts[0]) > 1.0


@pytest.mark.parametrize(
    "text, weights, constant",
    [
        ("qed", {"qed": 1.0}, 0.0),
        ("qed-0.1*sa", {"qed": 1.0, "sa": -0.1}, 0.0),
        (" 0.5*qed + 0.5 * logp/5 - mw/500 ", {"qed": 0.5, "logp": 0.1, "mw": -0.002}, 0.0),
        ("-SA + 10", {"sa": -1.0}, 10.0),
        ("2 qed - qed", {"qed": 1.0}, 0.0),
        ("logp*2", {"logp": 2.0}, 0.0),
        ("1e-1*sa", {"sa": 0.1}, 0.0),
    ],
)
def test_objective_parser_reads_weighted_sums(text, weights, constant):
    obj = parse_objective(text)
    got = dict(obj.weights)
    assert set(got) == set(weights) and all(got[k] == pytest.approx(v) for k, v in weights.items())
    assert obj.constant == pytest.approx(constant)


@pytest.mark.parametrize(
    "text, message",
    [
        ("qes", "unknown objective term 'qes'"),
        ("__import__('os')", "cannot read"),
        ("qed*sa", "only numbers"),
        ("qed +", "expected a number or a property"),
        ("", "empty objective"),
        ("3", "names no property"),
        ("qed/0", "divides by zero"),
        ("qed sa", "near 'sa'"),
        ("2*", "must be followed by a property"),
    ],
)
def test_objective_parser_refuses_bad_expressions_and_lists_the_terms(text, message):
    with pytest.raises(BadInputError, match=message) as err:
        parse_objective(text)
    assert all(t in err.value.hint for t in TERMS)


def test_objective_scores_molecules():
    pytest.importorskip("rdkit")
    from genlab.molecule import chem

    obj = parse_objective("qed-0.1*sa")
    mol = chem.parse_smiles("CCO")
    assert obj("CCO") == pytest.approx(chem.qed(mol) - 0.1 * chem.sa_score(mol))
    assert obj("C1CC") is None
