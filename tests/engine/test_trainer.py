"""Engine behaviour on tiny configs: run layout, resume, budgets, NaN guard, EMA, step ratios."""

import json

import pytest
import torch
import yaml

import genlab
from genlab.core.errors import TrainingDivergedError
from genlab.core.metrics_log import read_rows
from genlab.core.registry import MODELS

TINY_VAE = ["model.latent_dim=2", "model.hidden_dims=[16]"]
TINY_DATA = {"data": "builtin:digits", "overrides": ["data.image_size=8", "data.max_images=256", *TINY_VAE]}


def tiny_train(runs_dir, name, **kw):
    args = {"task": "image-generation", "model": "vae", "name": name, "runs_dir": runs_dir, "progress": False}
    args |= TINY_DATA | {"batch_size": 32, "sample_every": 0, "log_every": 1, "checkpoint_every": 5} | kw
    return genlab.train(**args)


def test_run_directory_layout(runs_dir):
    res = tiny_train(runs_dir, "layout", max_steps=12)
    run = res.run
    assert res.status == "completed" and res.steps == 12
    for p in [run.config_path, run.env_path, run.metrics_path, run.last_checkpoint, run.plots_dir / "loss.png"]:
        assert p.is_file(), p
    assert (run.model_dir / "model.safetensors").is_file() and (run.model_dir / "README.md").is_file()
    assert (run.samples_dir / "final.png").is_file()
    cfg = yaml.safe_load(run.config_path.read_text())
    assert cfg["model"]["name"] == "vae" and cfg["model"]["image_size"] == 8 and cfg["train"]["max_steps"] == 12
    env = json.loads(run.env_path.read_text())
    assert env["seed"] == 0 and env["torch"] == torch.__version__
    split = json.loads((run.path / "data.json").read_text())["split"]
    assert split["n_train"] + split["n_val"] == 256
    assert run.status()["status"] == "completed"
    card = (run.model_dir / "README.md").read_text()
    assert "Reproduce" in card and "builtin:digits" in card


def test_resume_continues_step_count(runs_dir):
    first = tiny_train(runs_dir, "resume", max_steps=10)
    created = json.loads(first.run.env_path.read_text())["created"]
    res = tiny_train(runs_dir, "resume", max_steps=20)
    assert res.steps == 20
    env = json.loads(res.run.env_path.read_text())  # the start's record stays; the resume is listed
    assert env["created"] == created and len(env["resumes"]) == 1
    steps = [int(r["step"]) for r in read_rows(res.run.metrics_path) if r.get("loss")]
    assert steps == sorted(set(steps)) and steps[-1] == 20 and 10 in steps


def test_resume_with_other_model_is_refused(runs_dir):
    tiny_train(runs_dir, "clash", max_steps=5)
    with pytest.raises(genlab.GenlabError, match="trains 'vae'"):
        tiny_train(runs_dir, "clash", model="conv-vae", max_steps=5)


def test_time_budget_stops(runs_dir):
    res = tiny_train(runs_dir, "budget", max_minutes=0.05, epochs=10_000)
    assert res.status == "completed" and res.steps > 0
    assert res.minutes < 0.05 + 0.5  # stopped by the 3 s budget, not by 10,000 epochs


def test_nan_guard_keeps_last_good_checkpoint(runs_dir, monkeypatch):
    cls = MODELS.get("image/vae")
    original = cls.training_losses
    calls = {"n": 0}

    def exploding(self, batch, group):
        losses = original(self, batch, group)
        if not torch.is_grad_enabled():
            return losses  # validation batches do not count
        calls["n"] += 1
        if calls["n"] > 12:
            losses["kl"] = losses["kl"] * float("nan")
        return losses

    monkeypatch.setattr(cls, "training_losses", exploding)
    with pytest.raises(TrainingDivergedError, match="'kl'.*step 12.*last good checkpoint"):
        tiny_train(runs_dir, "nan", max_steps=50)
    run = genlab.core.runs.Run(runs_dir / "image-generation" / "nan")
    state = torch.load(run.last_checkpoint, weights_only=True)
    assert state["genlab"]["iteration"] == 10  # the checkpoint before the blow-up
    assert all(torch.isfinite(v).all() for v in state["state_dict"].values() if v.is_floating_point())
    assert run.status()["status"] == "diverged"


def test_generator_steps_follow_n_critic(runs_dir):
    res = tiny_train(
        runs_dir,
        "wgan",
        model="wgan-gp",
        max_steps=6,
        overrides=["data.image_size=8", "data.max_images=64", "model.n_critic=3"],
    )
    state = torch.load(res.run.last_checkpoint, weights_only=True)
    steps = [int(s["state"][0]["step"]) for s in state["optimizer_states"]]
    assert steps == [6, 2]  # critic every batch, generator every 3rd


def test_ema_weights_are_exported(runs_dir):
    res = tiny_train(runs_dir, "ema", max_steps=8, ema_decay=0.5)
    state = torch.load(res.run.last_checkpoint, weights_only=True)
    ema_state = next(v for k, v in state["callbacks"].items() if k.startswith("EMA"))["shadow"]
    exported = genlab.load(res.run.path).model.state_dict()
    raw = {k.removeprefix("model."): v for k, v in state["state_dict"].items()}
    # a weight (the VAE's prior is fitted after training, on the averaged weights)
    key = next(k for k, v in exported.items() if v.is_floating_point() and not k.startswith("prior_"))
    assert torch.allclose(exported[key], ema_state[key])
    assert not torch.allclose(exported[key], raw[key])


def test_a_default_ema_is_kept_unless_ema_decay_is_zero(runs_dir):
    dcgan = {"model": "dcgan", "max_steps": 4, "overrides": ["model.g_width=4", "model.d_width=4"]}
    kept = tiny_train(runs_dir, "ema-default", **dcgan)
    assert any(k.startswith("EMA") for k in torch.load(kept.run.last_checkpoint, weights_only=True)["callbacks"])
    assert (kept.run.path / "config.yaml").read_text().count("ema_decay: 0.999") == 1
    off = tiny_train(runs_dir, "ema-off", ema_decay=0, **dcgan)
    assert not any(k.startswith("EMA") for k in torch.load(off.run.last_checkpoint, weights_only=True)["callbacks"])


def test_same_seed_same_result(runs_dir):
    a = tiny_train(runs_dir, "seed-a", max_steps=6)
    b = tiny_train(runs_dir, "seed-b", max_steps=6)
    wa, wb = genlab.load(a.run.path).model.state_dict(), genlab.load(b.run.path).model.state_dict()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_bf16_mixed_training_computes_in_bf16_and_keeps_float32_weights(runs_dir, monkeypatch):
    from genlab.image.vae import VAE

    seen = []
    original = VAE.training_losses

    def spy(self, batch, group):
        seen.append(torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16)
        return original(self, batch, group)

    monkeypatch.setattr(VAE, "training_losses", spy)
    fp32 = tiny_train(runs_dir, "fp32", max_steps=30)
    assert seen and not any(seen)
    seen.clear()
    res = tiny_train(runs_dir, "bf16", max_steps=30, precision="bf16-mixed")
    assert seen and all(seen)
    model = genlab.load(res.run.path).model
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert yaml.safe_load(res.run.config_path.read_text())["train"]["precision"] == "bf16-mixed"
    losses = {
        r.run.name: [float(x["loss"]) for x in read_rows(r.run.metrics_path) if x.get("loss")] for r in (fp32, res)
    }
    assert losses["bf16"][-1] < losses["bf16"][0]  # it learns
    assert abs(losses["bf16"][-1] - losses["fp32"][-1]) < 0.05 * losses["fp32"][-1]  # as float32 does


def test_threads_option_sets_and_restores_torch_threads(runs_dir):
    before = torch.get_num_threads()
    target = 1 if before != 1 else 2
    res = tiny_train(runs_dir, "threads", max_steps=2, threads=target)
    assert json.loads(res.run.env_path.read_text())["torch_threads"] == target
    assert torch.get_num_threads() == before
    assert yaml.safe_load(res.run.config_path.read_text())["train"]["threads"] == target


def test_resumed_run_counts_its_earlier_training_time(runs_dir):
    first = tiny_train(runs_dir, "clock", max_steps=10)
    before = first.run.status()["minutes"]
    time_before = max(float(r["time_s"]) for r in read_rows(first.run.metrics_path) if r.get("time_s"))
    res = tiny_train(runs_dir, "clock", max_steps=20)
    rows = [r for r in read_rows(res.run.metrics_path) if r.get("time_s")]
    later = [float(r["time_s"]) for r in rows if int(r["step"]) > 10]
    assert later and min(later) >= time_before  # the clock continues across the resume
    assert res.minutes >= before and res.run.status()["minutes"] >= before


def test_adam_is_fused_on_cpu_and_bar_shows_latest_losses():
    from types import SimpleNamespace

    from genlab.engine.module import GenerativeModule
    from genlab.engine.progress import LossBar

    model = MODELS.get("image/vae").config_class.build({"latent_dim": 2, "hidden_dims": [8], "image_size": 8})
    module = GenerativeModule(MODELS.get("image/vae")(model))
    (opt,) = module.configure_optimizers()
    assert isinstance(opt, torch.optim.Adam) and opt.defaults["fused"]
    module.last_losses = {"loss": 1.5, "kl": 0.25}
    trainer = SimpleNamespace(loggers=[], progress_bar_metrics={"val_loss": 2.0})
    assert LossBar().get_metrics(trainer, module) == {"step": "0", "val_loss": 2.0, "loss": 1.5, "kl": 0.25}
