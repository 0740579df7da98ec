"""Peer equivalence: genlab's samplers take the same steps as diffusers' schedulers.

The same starting noise, the same per-step noise and the same "model" (a fixed, non-trivial
function of x and t) go through genlab's sampler and the diffusers scheduler configured
identically; the trajectories must agree at every step. Skipped when diffusers is not installed.
"""

import pytest
import torch

from genlab.nn.diffusion.samplers import make_sampler
from genlab.nn.diffusion.schedules import NoiseSchedule

diffusers = pytest.importorskip("diffusers")

DIFFUSERS_SCHEDULE = {"linear": "linear", "cosine": "squaredcos_cap_v2"}


def fake_model(x: torch.Tensor, t: int) -> torch.Tensor:
    """A deterministic stand-in for a network: depends on both the sample and the time."""
    return 0.6 * x + 0.3 * torch.sin(3 * x + t / 150.0)


def run_both(scheduler, sampler, sched: NoiseSchedule, prediction_type: str, clip: bool, eta: float = 0.0):
    """Step genlab and diffusers side by side; returns the largest difference along the trajectory.

    The difference is relative to the sample's scale (at least 1): without clipping, ε-prediction
    on the cosine schedule divides by √ᾱ ≈ 1e-4 at the first step, which magnifies diffusers'
    float32 ᾱ table against genlab's float64 one.
    """
    x = torch.randn(2, 1, 6, 6, generator=torch.Generator().manual_seed(0))
    y = x.clone()
    g_ours, g_peer = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    points = sampler.time_points()
    assert [int(t) for t in scheduler.timesteps] == points[:-1]

    def predict(z, t):
        return sched.split_prediction(fake_model(z, t), z, t, prediction_type, clip)

    worst = 0.0
    for i, t in enumerate(points[:-1]):
        kwargs = {}
        if isinstance(scheduler, diffusers.DDIMScheduler):
            kwargs = {"eta": eta, "use_clipped_model_output": True}
            if eta > 0:
                kwargs["variance_noise"] = torch.randn(y.shape, generator=g_peer)
        elif isinstance(scheduler, diffusers.DDPMScheduler):
            kwargs = {"generator": g_peer}
        y = scheduler.step(fake_model(y, t), t, y, **kwargs).prev_sample
        x = sampler.step(predict, x, t, points[i + 1], g_ours)
        worst = max(worst, (x - y).abs().max().item() / max(1.0, y.abs().max().item()))
    return worst


@pytest.mark.parametrize("beta_schedule", ["linear", "cosine"])
@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
@pytest.mark.parametrize(("steps", "eta", "clip"), [(25, 0.0, False), (10, 0.0, True), (20, 0.7, True)])
def test_ddim_matches_diffusers_ddim_scheduler(beta_schedule, prediction_type, steps, eta, clip):
    sched = NoiseSchedule(1000, beta_schedule)
    peer = diffusers.DDIMScheduler(
        num_train_timesteps=1000,
        beta_schedule=DIFFUSERS_SCHEDULE[beta_schedule],
        prediction_type=prediction_type,
        clip_sample=clip,
        set_alpha_to_one=True,
        steps_offset=0,
        timestep_spacing="trailing",
    )
    peer.set_timesteps(steps)
    ours = make_sampler("ddim", "diffusion", sched, steps, eta=eta)
    assert run_both(peer, ours, sched, prediction_type, clip, eta) < 1e-4


@pytest.mark.parametrize(("prediction_type", "clip"), [("epsilon", True), ("v_prediction", False)])
def test_ddpm_ancestral_matches_diffusers_ddpm_scheduler(prediction_type, clip):
    sched = NoiseSchedule(1000, "linear")
    peer = diffusers.DDPMScheduler(
        num_train_timesteps=1000,
        beta_schedule="linear",
        prediction_type=prediction_type,
        clip_sample=clip,
        variance_type="fixed_small",
        timestep_spacing="trailing",
    )
    peer.set_timesteps(50)
    assert run_both(peer, make_sampler("ddpm", "diffusion", sched, 50), sched, prediction_type, clip) < 1e-4


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
def test_dpm_solver_pp_2m_matches_diffusers(prediction_type):
    sched = NoiseSchedule(1000, "linear")
    peer = diffusers.DPMSolverMultistepScheduler(
        num_train_timesteps=1000,
        beta_schedule="linear",
        prediction_type=prediction_type,
        algorithm_type="dpmsolver++",
        solver_order=2,
        solver_type="midpoint",
        lower_order_final=True,
        final_sigmas_type="zero",
        timestep_spacing="trailing",
    )
    peer.set_timesteps(20)
    ours = make_sampler("dpm++2m", "diffusion", sched, 20)
    assert run_both(peer, ours, sched, prediction_type, clip=False) < 1e-4
