"""Learning-rate schedules of optimizer groups: cosine values, stepping with the optimizer, resume, budgets."""

import dataclasses
import math

import pytest
import torch

from genlab.core.errors import ConfigError
from genlab.core.registry import MODELS
from genlab.engine.module import GenerativeModule, cosine_factor
from tests.engine.test_trainer import tiny_train

LR = 1e-3  # the VAE's default learning rate


@pytest.fixture
def cosine_vae(monkeypatch):
    """The VAE with its one optimizer group on the cosine schedule."""
    cls = MODELS.get("image/vae")
    original = cls.optimizer_groups
    monkeypatch.setattr(
        cls, "optimizer_groups", lambda self: [dataclasses.replace(s, schedule="cosine") for s in original(self)]
    )


def scheduler_state(run) -> tuple[int, float]:
    """(scheduler steps, optimizer learning rate) saved in the run's last checkpoint."""
    state = torch.load(run.last_checkpoint, weights_only=True)
    (scheduler,) = state["lr_schedulers"]
    return scheduler["last_epoch"], state["optimizer_states"][0]["param_groups"][0]["lr"]


def test_cosine_factor_at_start_middle_and_end():
    assert cosine_factor(0, 10) == 1.0
    assert cosine_factor(5, 10) == pytest.approx(0.5)
    assert cosine_factor(10, 10) == pytest.approx(0.0)
    assert cosine_factor(25, 10) == pytest.approx(0.0)  # past the end it stays at 0
    assert cosine_factor(2, 10) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.2)))


def test_constant_is_the_default_and_saves_no_scheduler(runs_dir):
    res = tiny_train(runs_dir, "constant", max_steps=4)
    state = torch.load(res.run.last_checkpoint, weights_only=True)
    assert state["lr_schedulers"] == [] and state["optimizer_states"][0]["param_groups"][0]["lr"] == LR


def test_cosine_steps_with_the_optimizer_and_resume_continues_it(runs_dir, cosine_vae, monkeypatch):
    stop = {"at": 4}
    training_step = GenerativeModule.training_step

    def stopping(self, batch, batch_idx):  # an interruption after 4 of the 10 steps, which a re-run resumes
        training_step(self, batch, batch_idx)
        if stop["at"] is not None and self.iteration >= stop["at"]:
            self.trainer.should_stop = True

    monkeypatch.setattr(GenerativeModule, "training_step", stopping)
    first = tiny_train(runs_dir, "cosine", max_steps=10)
    assert first.steps == 4
    steps, lr = scheduler_state(first.run)
    assert steps == 4 and lr == pytest.approx(LR * cosine_factor(4, 10))
    stop["at"] = None
    again = tiny_train(runs_dir, "cosine", max_steps=10)
    assert again.steps == 10
    steps, lr = scheduler_state(again.run)
    assert steps == 10 and lr == pytest.approx(0.0, abs=1e-12)  # restarted at 0 it would end at lr·f(6/10)


def test_cosine_spans_the_epochs_of_the_run(runs_dir, cosine_vae):
    # 256 images, 5% held out: 243 train images give 7 full batches of 32 per epoch
    res = tiny_train(runs_dir, "epochs", epochs=2)
    assert res.steps == 14
    steps, lr = scheduler_state(res.run)
    assert steps == 14 and lr == pytest.approx(0.0, abs=1e-12)


def test_cosine_with_only_a_time_budget_follows_the_clock(runs_dir, cosine_vae, monkeypatch):
    clock = {"now": 1000.0}
    monkeypatch.setattr("genlab.engine.module.time.monotonic", lambda: clock["now"])
    training_step = GenerativeModule.training_step

    def ticking(self, batch, batch_idx):  # every step takes 3 of the run's 60 seconds on this clock
        clock["now"] += 3.0
        training_step(self, batch, batch_idx)
        if self.iteration >= 5:
            self.trainer.should_stop = True

    monkeypatch.setattr(GenerativeModule, "training_step", ticking)
    res = tiny_train(runs_dir, "minutes", max_minutes=1.0)
    assert res.steps == 5
    _, lr = scheduler_state(res.run)
    # the run started at the clock reading 1000 s: after the 5th step a quarter of the minute is spent
    assert LR * cosine_factor(20, 60) <= lr <= LR * cosine_factor(15, 60) + 1e-12
    assert tiny_train(runs_dir, "both", max_minutes=1, max_steps=3).steps == 3  # steps, when given, set the span


def test_module_without_any_budget_is_refused():
    module = GenerativeModule(MODELS.get("image/vae")(MODELS.get("image/vae").config_class()), max_steps=None)
    module.specs = [dataclasses.replace(s, schedule="cosine") for s in module.specs]

    class NoLength:
        estimated_stepping_batches = math.inf

    module._trainer = NoLength()
    with pytest.raises(ConfigError, match="needs the run's length") as e:
        module.total_steps()
    assert "--max-minutes" in e.value.hint


def test_warmup_rises_linearly_on_top_of_the_schedule(runs_dir, monkeypatch):
    vae = MODELS.get("image/vae")
    module = GenerativeModule(vae(vae.config_class()), max_steps=20)

    class Length:
        estimated_stepping_batches = 20

    module._trainer = Length()
    for schedule in ("constant", "cosine"):
        module.model.optimizer_groups = lambda s=schedule, o=vae.optimizer_groups, m=module.model: [
            dataclasses.replace(g, schedule=s, warmup_steps=8) for g in o(m)
        ]
        (opt,), (scheduler,) = module.configure_optimizers()
        seen = []
        for _ in range(12):
            seen.append(opt.param_groups[0]["lr"])
            opt.step()
            scheduler.step()
        decay = [cosine_factor(k, 20) if schedule == "cosine" else 1.0 for k in range(12)]
        expected = [LR * d * min(1.0, (k + 1) / 8) for k, d in enumerate(decay)]
        assert seen == pytest.approx(expected, abs=1e-12), schedule
    monkeypatch.setattr(
        vae,
        "optimizer_groups",
        lambda self, o=vae.optimizer_groups: [dataclasses.replace(g, warmup_steps=8) for g in o(self)],
    )
    res = tiny_train(runs_dir, "warm", max_steps=4)  # through the trainer: saved and stepped like any schedule
    assert scheduler_state(res.run) == (4, pytest.approx(LR * 5 / 8))


@pytest.mark.parametrize("name", ["text/gpt", "text/char-rnn"])
def test_language_models_take_a_schedule_and_warmup_from_their_config(name):
    cls = MODELS.get(name)
    tiny = {"vocab_size": 11, "block_size": 8, "n_layer": 1, "n_embd": 8}
    tiny |= {"n_head": 2} if name == "text/gpt" else {"hidden_size": 8}
    (plain,) = cls(cls.config_class.build(tiny)).optimizer_groups()
    assert (plain.schedule, plain.warmup_steps) == ("constant", 0)  # the defaults keep the earlier recipes
    (spec,) = cls(cls.config_class.build({**tiny, "lr_schedule": "cosine", "warmup_steps": 50})).optimizer_groups()
    assert (spec.schedule, spec.warmup_steps) == ("cosine", 50)
