"""Noise schedules, the flow path and the samplers, on plain tensors (no model, no modality)."""

import math

import pytest
import torch

from genlab.core.errors import BadInputError
from genlab.nn.diffusion.samplers import SAMPLERS, make_sampler, sample_loop
from genlab.nn.diffusion.schedules import FlowPath, NoiseSchedule, cosine_betas, linear_betas

# --------------------------------------------------------------------------- schedules


def test_linear_and_cosine_schedules_follow_their_formulas():
    betas = linear_betas(1000)
    assert betas[0].item() == pytest.approx(1e-4) and betas[-1].item() == pytest.approx(0.02)
    assert linear_betas(500)[-1].item() == pytest.approx(0.04)  # scaled by 1000 / T
    short = linear_betas(10)  # scaled past 1 at the end: capped, so ᾱ stays positive
    assert float(short.max()) == pytest.approx(0.999) and float(torch.cumprod(1 - short, 0)[-1]) > 0
    s = 0.008
    f = [math.cos((u + s) / (1 + s) * math.pi / 2) ** 2 for u in (0, 0.5)]
    abar = NoiseSchedule(1000, "cosine").alpha_bar(499).item()
    assert abar == pytest.approx(f[1] / f[0], rel=1e-6)
    assert cosine_betas(10).max().item() <= 0.999
    sched = NoiseSchedule(100)
    assert sched.alpha_bar(-1).item() == 1.0 and sched.alpha_bar(0).item() == pytest.approx(1 - sched.betas[0].item())


def test_q_sample_v_target_and_prediction_split_agree():
    sched = NoiseSchedule(1000, "cosine")
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.rand(4, 1, 5, 5, generator=g) * 2 - 1, torch.randn(4, 1, 5, 5, generator=g)
    t = 400
    x_t = sched.q_sample(x0, t, eps)
    for kind in ("epsilon", "v_prediction"):
        target = sched.target(x0, eps, torch.full((4,), t), kind)
        x0_hat, eps_hat = sched.split_prediction(target, x_t, t, kind, clip=False)
        assert torch.allclose(x0_hat, x0, atol=1e-5) and torch.allclose(eps_hat, eps, atol=1e-5), kind
    big = sched.split_prediction(torch.zeros_like(x_t), x_t * 50, t, "epsilon", clip=True)[0]
    assert big.abs().max() <= 1


def test_min_snr_weights():
    sched = NoiseSchedule(1000)
    t = torch.tensor([0, 500, 999])
    snr = sched.snr(t)
    w_eps = sched.min_snr_weight(t, 5.0, "epsilon")
    assert torch.allclose(w_eps.double(), torch.clamp(snr, max=5.0) / snr, rtol=1e-5)
    assert w_eps[0] < 1 and w_eps[2] == pytest.approx(1.0)  # low noise (high SNR) is down-weighted
    assert torch.allclose(sched.min_snr_weight(t, 5.0, "v_prediction").double(), torch.clamp(snr, max=5) / (snr + 1))


def test_renoise_keeps_the_forward_marginals():
    g = torch.Generator().manual_seed(0)
    x0 = torch.full((20000,), 0.7)
    sched = NoiseSchedule(1000)
    x = sched.renoise(sched.q_sample(x0, 200, torch.randn(20000, generator=g)), 200, 600, g)
    a = sched.alpha_bar(600).item()
    assert x.mean().item() == pytest.approx(0.7 * math.sqrt(a), abs=0.02)
    assert x.std().item() == pytest.approx(math.sqrt(1 - a), abs=0.02)
    flow = FlowPath()
    y = flow.renoise(flow.q_sample(x0, 0.8, torch.randn(20000, generator=g)), 0.8, 0.3, g)
    assert y.mean().item() == pytest.approx(0.3 * 0.7, abs=0.02) and y.std().item() == pytest.approx(0.7, abs=0.02)


# --------------------------------------------------------------------------- samplers on a known denoiser
# Data x ~ N(0, s²) per pixel has closed-form optimal predictions; exact samplers must reproduce std s.
S = 0.5


def gaussian_diffusion_predict(sched: NoiseSchedule):
    def predict(x, t):
        a = sched.alpha_bar(t).item()
        x0 = math.sqrt(a) * S**2 / (a * S**2 + 1 - a) * x
        return x0, (x - math.sqrt(a) * x0) / math.sqrt(1 - a)

    return predict


def gaussian_flow_predict(x, t):
    return (t * S**2 - (1 - t)) / ((1 - t) ** 2 + t**2 * S**2) * x


def sample_std(name, steps, eta=0.0):
    g = torch.Generator().manual_seed(0)
    family = SAMPLERS[name].family
    path = NoiseSchedule(1000) if family == "diffusion" else FlowPath()
    predict = gaussian_diffusion_predict(path) if family == "diffusion" else gaussian_flow_predict
    x = torch.randn(20000, 1, 1, 1, generator=g)
    return sample_loop(make_sampler(name, family, path, steps, eta), predict, x, g).std().item()


@pytest.mark.parametrize(
    ("name", "steps", "eta", "tol"),
    [("ddim", 100, 0.0, 0.02), ("ddim", 200, 1.0, 0.03), ("ddpm", 1000, 0.0, 0.01), ("dpm++2m", 25, 0.0, 0.015),
     ("euler", 50, 0.0, 0.02), ("heun", 10, 0.0, 0.01)],
)  # fmt: skip
def test_samplers_recover_a_gaussian_from_its_exact_denoiser(name, steps, eta, tol):
    assert sample_std(name, steps, eta) == pytest.approx(S, abs=tol)


def test_second_order_samplers_beat_first_order_at_equal_steps():
    assert abs(sample_std("heun", 4) - S) < abs(sample_std("euler", 4) - S)
    assert abs(sample_std("dpm++2m", 10) - S) < abs(sample_std("ddim", 10) - S)


def test_trailing_time_grid():
    sampler = make_sampler("ddim", "diffusion", NoiseSchedule(1000), 4)
    assert sampler.time_points() == [999, 749, 499, 249, -1]
    assert make_sampler("euler", "flow", FlowPath(), 4).time_points() == [0, 0.25, 0.5, 0.75, 1.0]


def test_sampler_choice_errors():
    with pytest.raises(BadInputError, match="does not work with diffusion") as err:
        make_sampler("heun", "diffusion", NoiseSchedule(10), 5)
    assert "ddim" in err.value.hint
    with pytest.raises(BadInputError, match="exceeds"):
        make_sampler("ddim", "diffusion", NoiseSchedule(10), 20).time_points()
    with pytest.raises(BadInputError, match="no η"):
        make_sampler("euler", "flow", FlowPath(), 5, eta=0.5)
    with pytest.raises(BadInputError, match="eta"):
        make_sampler("ddim", "diffusion", NoiseSchedule(10), 5, eta=-0.1)
