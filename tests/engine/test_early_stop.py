"""Validation-based early stopping (train.early_stop): the rule, the exported weights, the refusals."""

import json
from types import SimpleNamespace

import pytest
import torch

import genlab
from genlab.engine.callbacks import EMA, EarlyStop
from tests.cli_helpers import cli_ok
from tests.engine.test_trainer import TINY_DATA, tiny_train


def _validate(stop, trainer, module, loss):
    trainer.callback_metrics = {"val_loss": torch.tensor(loss)}
    module.iteration += 10
    with torch.no_grad():
        module.model.weight.fill_(loss)  # the weights "at" this validation
    stop.on_validation_epoch_end(trainer, module)


def test_stops_after_patience_validations_without_improvement_and_keeps_the_best_weights():
    trainer = SimpleNamespace(sanity_checking=False, should_stop=False, callback_metrics={})
    module = SimpleNamespace(iteration=0, model=torch.nn.Linear(2, 1, bias=False))
    stop = EarlyStop(patience=2, min_delta=0.01)
    for loss in (1.0, 0.8, 0.795, 0.9):  # 0.795 is not lower by more than 0.01
        _validate(stop, trainer, module, loss)
    assert stop.best == pytest.approx(0.8) and stop.best_step == 20 and stop.bad == 2
    assert trainer.should_stop and stop.stopped_step == 40
    restored = stop.restore(torch.nn.Linear(2, 1, bias=False))
    assert torch.all(restored.weight == 0.8)
    assert "step 20" in stop.card_section() and "stopped at step 40" in stop.card_section()
    again = EarlyStop(patience=2)
    again.load_state_dict(stop.state_dict())
    assert (again.best, again.best_step, again.bad) == (stop.best, 20, 2)


def test_with_an_ema_the_average_at_the_best_validation_is_kept():
    trainer = SimpleNamespace(sanity_checking=False, should_stop=False, callback_metrics={})
    module = SimpleNamespace(iteration=0, model=torch.nn.Linear(2, 1, bias=False))
    ema = EMA(0.9)
    ema.shadow = {"weight": torch.full((1, 2), 7.0)}
    stop = EarlyStop(patience=1, ema=ema)
    _validate(stop, trainer, module, 0.5)
    assert torch.all(stop.weights["weight"] == 7.0)


def test_a_missing_val_loss_is_a_clear_error():
    from genlab.core.errors import ConfigError

    trainer = SimpleNamespace(sanity_checking=False, should_stop=False, callback_metrics={"val_d_loss": 1.0})
    module = SimpleNamespace(iteration=0, model=torch.nn.Linear(2, 1))
    with pytest.raises(ConfigError, match="val_d_loss"):
        EarlyStop(patience=1).on_validation_epoch_end(trainer, module)


def test_training_stops_early_and_exports_the_best_validation_weights(runs_dir):
    # a huge min_delta: only the first validation counts as better, so the run stops at the second
    res = tiny_train(runs_dir, "early", max_steps=200, early_stop=1, early_stop_delta=1e6)
    status = json.loads((res.run.path / "status.json").read_text())
    early = status["early_stop"]
    assert res.status == "completed" and early["best_step"] < early["stopped_step"] == res.steps < 200
    state = torch.load(res.run.last_checkpoint, weights_only=True)
    kept = next(v for k, v in state["callbacks"].items() if k.startswith("EarlyStop"))["weights"]
    exported = genlab.load(res.run.path).model.state_dict()
    raw = {k.removeprefix("model."): v for k, v in state["state_dict"].items()}
    # a weight (the VAE's prior is fitted after training, on the restored weights)
    key = next(k for k, v in exported.items() if v.is_floating_point() and not k.startswith("prior_"))
    assert torch.equal(exported[key], kept[key]) and not torch.equal(exported[key], raw[key])
    assert "## Early stopping" in (res.run.path / "model" / "README.md").read_text()


def test_early_stop_without_validation_is_refused(runs_dir, capsys):
    from genlab.core.errors import ConfigError

    with pytest.raises(ConfigError, match="no validation set"):
        tiny_train(runs_dir, "noval", max_steps=4, early_stop=2, overrides=[*TINY_DATA["overrides"],
                                                                             "data.val_fraction=0"])  # fmt: skip
    args = ["train", "image-generation", "--model", "vae", "--data", "builtin:digits", "--max-steps", "2",
            "--early-stop", "2", "--set", "data.val_fraction=0", "--set", "data.image_size=8", "--runs-dir",
            str(runs_dir), "--no-progress"]  # fmt: skip
    code, text = cli_ok(args, capsys)
    assert code == 2 and "--early-stop needs validation" in text and "hint:" in text
