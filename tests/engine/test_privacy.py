"""Differentially private training (DP-SGD through Opacus): noise calibration and accounting checked against
Opacus's own numbers, per-example clipping, the run's records, refusals, resume.

The models are tiny MLPs trained on the toy modality's 1-D numbers (tests/toy_modality/).
"""

import copy
import json
import math
from typing import Literal

import pytest
import torch
import yaml
from pydantic import Field
from torch import nn

import genlab
from genlab.core.errors import BadInputError, ConfigError
from genlab.core.metrics_log import read_rows
from genlab.core.model import GenerativeModel, ModelConfig, OptimizerSpec, register_model
from genlab.core.runs import Run
from genlab.engine.module import GenerativeModule
from genlab.engine.privacy import PrivacyConfig, PrivacyPlan, PrivateTraining, default_delta, plan_privacy
from tests.cli_helpers import cli_ok

opacus = pytest.importorskip("opacus")
from opacus.accountants import RDPAccountant  # noqa: E402
from opacus.accountants.utils import get_noise_multiplier  # noqa: E402
from opacus.optimizers import DPOptimizer  # noqa: E402

N = 256  # training numbers


class MLPGaussianConfig(ModelConfig):
    hidden: int = Field(8, ge=1, description="hidden units")
    norm: Literal["none", "batch"] = Field("none", description="normalisation after the first layer")
    lr: float = Field(0.05, gt=0, description="Adam learning rate")


class MLPGaussian(GenerativeModel):
    """x ~ N(μ, σ²) with (μ, log σ) from an MLP of a constant input; examples differ through the loss."""

    config_class = MLPGaussianConfig
    task = "toy-numbers"
    description = "a Gaussian whose parameters an MLP gives (test model)"

    def __init__(self, config: MLPGaussianConfig):
        super().__init__(config)
        norm = [nn.BatchNorm1d(config.hidden)] if config.norm == "batch" else []
        self.net = nn.Sequential(nn.Linear(1, config.hidden), *norm, nn.Tanh(), nn.Linear(config.hidden, 2))

    def optimizer_groups(self) -> list[OptimizerSpec]:
        return [OptimizerSpec("model", list(self.parameters()), self.config.lr)]

    def training_losses(self, batch, group: str) -> dict[str, torch.Tensor]:
        (x,) = batch  # (B, 1)
        mean, log_std = self.net(torch.ones_like(x)).unbind(-1)  # (B, 2) -> 2 × (B,)
        return {"loss": (log_std + 0.5 * ((x[:, 0] - mean) / log_std.exp()) ** 2).mean()}

    @torch.no_grad()
    def generate(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        mean, log_std = self.net(torch.ones(1, 1)).unbind(-1)
        return mean + log_std.exp() * torch.randn(n, 1, generator=generator)


class CriticGenerator(GenerativeModel):
    """Two groups; only the critic reads the data (its generator may hold BatchNorm)."""

    config_class = ModelConfig
    task = "toy-numbers"
    private_groups = ("critic",)

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        self.critic = nn.Sequential(nn.Linear(1, 4), nn.Tanh(), nn.Linear(4, 1))
        self.generator = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))

    def optimizer_groups(self) -> list[OptimizerSpec]:
        return [
            OptimizerSpec("critic", list(self.critic.parameters()), 1e-3),
            OptimizerSpec("generator", list(self.generator.parameters()), 1e-3, every=5),
        ]


@pytest.fixture
def dp_toy(toy_modality, runs_dir):
    """The toy modality with the MLP registered as ``toy/dp-mlp``; the runs root."""
    register_model("toy/dp-mlp")(MLPGaussian)
    return runs_dir


def dp_train(runs_dir, name, dp=None, model_options=None, **kw):
    args = {"task": "toy-numbers", "model": "dp-mlp", "name": name, "runs_dir": runs_dir, "progress": False}
    args |= {"batch_size": 32, "sample_every": 0, "log_every": 4, "checkpoint_every": 4, "val_batches": 0} | kw
    return genlab.train(
        **args, data_options={"n": N}, model_options=model_options or {}, dp={"epsilon": 1.0} | (dp or {})
    )


def fresh_epsilon(history, delta) -> float:
    accountant = RDPAccountant()
    accountant.history = [tuple(h) for h in history]
    return accountant.get_epsilon(delta=delta)


def test_noise_multiplier_matches_opacus():
    model = MLPGaussian(MLPGaussianConfig())
    plan = plan_privacy(model, PrivacyConfig(epsilon=2.0, delta=1e-4), n=N, batch_size=32, max_steps=None, max_epochs=3)
    assert plan.sample_rate == 32 / N and plan.batches == plan.accounted_steps == 3 * 8
    expected = get_noise_multiplier(target_epsilon=2.0, target_delta=1e-4, sample_rate=32 / N, epochs=3)
    assert plan.noise_multiplier == expected
    shorter = plan_privacy(model, PrivacyConfig(epsilon=2.0, delta=1e-4), n=N, batch_size=32, max_steps=5, max_epochs=3)
    assert shorter.accounted_steps == 5
    assert shorter.noise_multiplier == get_noise_multiplier(
        target_epsilon=2.0, target_delta=1e-4, sample_rate=32 / N, steps=5
    )
    assert shorter.noise_multiplier < plan.noise_multiplier  # fewer steps, less noise for the same ε


def test_default_delta_is_a_power_of_ten_below_one_tenth_of_one_over_n():
    assert default_delta(256) == 1e-4 and default_delta(1000) == 1e-4 and default_delta(60_000) == 1e-6
    for n in (7, 256, 999, 1000, 1001, 123_456):
        assert default_delta(n) <= 1 / (10 * n) < 10 * default_delta(n)


def test_per_example_gradients_are_clipped_and_averaged_over_the_expected_batch():
    torch.manual_seed(0)
    model = MLPGaussian(MLPGaussianConfig())
    x = 3 + 2 * torch.randn(10, 1)
    reference = copy.deepcopy(model)
    clipped = []
    for i in range(len(x)):  # one example at a time: its gradient, scaled to norm ≤ C
        reference.zero_grad()
        reference.training_losses((x[i : i + 1],), "model")["loss"].backward()
        g = torch.cat([p.grad.flatten() for p in reference.parameters()])
        clipped.append(g * min(1.0, 0.1 / (float(g.norm()) + 1e-6)))
    expected = torch.stack(clipped).sum(0) / 16  # the expected batch size, not the 10 sampled

    plan = PrivacyPlan(1.0, 1e-5, 0.1, "rdp", ["model"], [1], 64, 16, 0.25, 4, 4, noise_multiplier=0.0)
    dp = PrivateTraining(plan)
    specs = model.optimizer_groups()
    (opt,) = dp.attach(model, specs, [torch.optim.SGD(specs[0].params, lr=1.0)])
    assert isinstance(opt, DPOptimizer) and not any(k.startswith("_module") for k in model.state_dict())
    opt.zero_grad(set_to_none=True)
    model.training_losses((x,), "model")["loss"].backward()
    dp.prepare_step(0, len(x))
    opt.step()
    got = torch.cat([p.grad.flatten() for p in model.parameters()])
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-6)
    dp.detach()
    assert not any(hasattr(p, "grad_sample") for p in model.parameters())


def test_dp_run_records_what_it_spent_as_opacus_counts_it(dp_toy):
    res = dp_train(dp_toy, "dp", dp={"delta": 1e-5, "max_grad_norm": 0.5}, max_steps=12)
    assert res.status == "completed" and res.steps == 12
    status = res.run.status()["privacy"]
    sigma = get_noise_multiplier(target_epsilon=1.0, target_delta=1e-5, sample_rate=32 / N, steps=12)
    assert status["noise_multiplier"] == sigma and status["history"] == [[sigma, 32 / N, 12]]
    assert status["epsilon"] == fresh_epsilon(status["history"], 1e-5)
    assert 0.98 <= status["epsilon"] <= 1.0  # the full run spends its target (Opacus's search: within 0.01)
    assert status["max_grad_norm"] == 0.5 and status["sampling"] == "poisson" and status["groups"] == ["model"]
    rows = [r for r in read_rows(res.run.metrics_path) if r.get("dp_epsilon")]
    assert [int(r["step"]) for r in rows] == [4, 8, 12]  # logged with the losses (every 4 steps here)
    logged = [float(r["dp_epsilon"]) for r in rows]
    assert logged == sorted(logged) and logged[-1] == pytest.approx(status["epsilon"])

    meta = json.loads((res.run.model_dir / "config.json").read_text())
    assert meta["privacy"]["epsilon"] == status["epsilon"] and meta["privacy"]["delta"] == 1e-5
    card = (res.run.model_dir / "README.md").read_text()
    assert "## Differential privacy" in card and f"ε = {status['epsilon']:.4g}, δ = 1e-05" in card
    assert f"noise multiplier σ: {sigma:.4g}" in card and "clipping norm C: 0.5" in card
    model = GenerativeModel.from_pretrained(res.run.model_dir)
    assert not any(hasattr(p, "grad_sample") for p in model.parameters())


def test_empty_poisson_batches_take_noise_only_steps(dp_toy):
    # q = 1/256: about a third of the batches are empty; each still counts as a step
    res = dp_train(dp_toy, "tiny-batches", batch_size=1, max_steps=8)
    privacy = res.run.status()["privacy"]
    assert res.status == "completed" and privacy["history"] == [[privacy["noise_multiplier"], 1 / N, 8]]


def test_resume_keeps_adding_up_epsilon(dp_toy, monkeypatch):
    whole = dp_train(dp_toy, "whole", max_steps=8).run.status()["privacy"]
    stop = {"at": 4}
    training_step = GenerativeModule.training_step

    def stopping(self, batch, batch_idx):  # an interruption after 4 of the 8 steps, which a re-run resumes
        training_step(self, batch, batch_idx)
        if stop["at"] is not None and self.iteration >= stop["at"]:
            self.trainer.should_stop = True

    monkeypatch.setattr(GenerativeModule, "training_step", stopping)
    first = dp_train(dp_toy, "resumed", max_steps=8)
    assert first.steps == 4 and first.run.status()["privacy"]["steps"] == 4
    assert first.run.status()["privacy"]["epsilon"] < whole["epsilon"]
    stop["at"] = None
    again = dp_train(dp_toy, "resumed", max_steps=8).run.status()["privacy"]
    assert again["history"] == whole["history"] and again["epsilon"] == whole["epsilon"]


def test_a_longer_budget_on_resume_gets_more_noise_for_the_rest(dp_toy):
    dp_train(dp_toy, "longer", max_steps=4)
    longer = dp_train(dp_toy, "longer", max_steps=8).run.status()["privacy"]
    (sigma, q, first), (later, _, rest) = longer["history"]
    assert (first, rest) == (4, 4) and later > sigma and 0.98 <= longer["epsilon"] <= 1.0
    assert longer["epsilon"] == fresh_epsilon(longer["history"], longer["delta"])
    with pytest.raises(BadInputError, match="trained with differential privacy"):
        genlab.train("toy-numbers", "dp-mlp", name="longer", runs_dir=dp_toy, max_steps=12, data_options={"n": N})


def test_batch_norm_is_refused_with_the_reason(dp_toy):
    with pytest.raises(ConfigError, match="net.1 is a BatchNorm1d. BatchNorm mixes the examples") as e:
        dp_train(dp_toy, "bn", model_options={"norm": "batch"}, max_steps=3)
    assert "GroupNorm" in e.value.hint and "model.norm (none, batch)" in e.value.hint
    assert not Run(dp_toy / "toy-numbers" / "bn").checkpoints_dir.exists()


def test_a_time_budget_alone_is_refused(dp_toy):
    with pytest.raises(ConfigError, match="only a time budget") as e:
        dp_train(dp_toy, "minutes", max_minutes=0.05)
    assert "--epochs or --max-steps" in e.value.hint and "below the target" in e.value.hint


def test_delta_of_one_over_n_or_more_is_refused(dp_toy):
    with pytest.raises(ConfigError, match=r"δ = 0.004 is not below 1/n") as e:
        dp_train(dp_toy, "delta", dp={"delta": 0.004}, max_steps=3)
    assert "--dp-delta 0.0001" in e.value.hint


def test_only_the_groups_that_read_data_are_privatised():
    model = CriticGenerator(ModelConfig())  # the generator's BatchNorm is fine: it never sees the data
    plan = plan_privacy(model, PrivacyConfig(epsilon=1.0), n=N, batch_size=32, max_steps=10, max_epochs=None)
    assert plan.groups == ["critic"] and plan.every == [1] and plan.accounted_steps == 10
    specs = model.optimizer_groups()
    opts = PrivateTraining(plan).attach(model, specs, [torch.optim.Adam(s.params) for s in specs])
    assert isinstance(opts[0], DPOptimizer) and not isinstance(opts[1], DPOptimizer)
    with pytest.raises(ConfigError, match="group critic .* reads the training data"):
        plan_privacy(model, PrivacyConfig(epsilon=1.0, groups=["generator"]), n=N, batch_size=32, max_steps=10,
                     max_epochs=None)  # fmt: skip
    with pytest.raises(ConfigError, match="BatchNorm"):  # privatising the generator too meets its BatchNorm
        plan_privacy(model, PrivacyConfig(epsilon=1.0, groups=["critic", "generator"]), n=N, batch_size=32,
                     max_steps=10, max_epochs=None)  # fmt: skip


def test_two_private_groups_share_the_noise():
    model = CriticGenerator(ModelConfig())
    model.generator[1] = nn.Identity()
    cfg = PrivacyConfig(epsilon=1.0, groups=["critic", "generator"])
    plan = plan_privacy(model, cfg, n=N, batch_size=32, max_steps=10, max_epochs=None)
    single = get_noise_multiplier(target_epsilon=1.0, target_delta=1e-4, sample_rate=32 / N, steps=10)
    assert plan.noise_multiplier == pytest.approx(single * math.sqrt(2))  # σ/√2 per batch: the single-group σ


def test_cli_flags_set_the_train_dp_fields(dp_toy, capsys):
    args = ["train", "toy-numbers", "--model", "dp-mlp", "--n", str(N), "--name", "cli", "--max-steps", "2"]
    args += ["--dp-epsilon", "3", "--dp-delta", "1e-5", "--dp-max-grad-norm", "2", "--no-progress"]
    code, out = cli_ok([*args, "--runs-dir", str(dp_toy)], capsys)
    assert code == 0, out
    run = Run(dp_toy / "toy-numbers" / "cli")
    dp = yaml.safe_load(run.config_path.read_text())["train"]["dp"]
    assert dp == {"epsilon": 3.0, "delta": 1e-5, "max_grad_norm": 2.0, "accountant": "rdp", "groups": None}
    assert run.status()["privacy"]["steps"] == 2
