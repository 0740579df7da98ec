"""Callbacks genlab adds to Lightning: checkpoints, samples, metrics, EMA, interrupts.

Lightning owns the loop, devices and distribution; these only observe it.
Everything that writes files runs on global rank 0, except checkpointing,
which Lightning coordinates across ranks.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.plugins import TorchCheckpointIO

from genlab.core.io import atomic_write
from genlab.core.metrics_log import MetricsCSV
from genlab.core.plots import plot_losses
from genlab.core.runs import Run
from genlab.engine.checkpoints import CheckpointFiles


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes checkpoints to a temporary file then renames; loads with ``weights_only=True``."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        atomic_write(path, lambda tmp: torch.save(checkpoint, tmp))

    def load_checkpoint(self, path: Any, map_location: Any = "cpu", weights_only: bool | None = None) -> dict:
        return torch.load(path, map_location=map_location, weights_only=True)


class PeriodicCheckpoint(L.Callback):
    """Save a checkpoint every N iterations, at the end, and when stopped by a signal (Ctrl-C, SIGTERM,
    SIGHUP): ``checkpoints/step-NNNNNNN.ckpt``, the newest ``keep`` of them kept, ``last.ckpt`` the newest."""

    def __init__(self, run: Run, every: int, keep: int = 3):
        self.run, self.every = run, every
        self.files = CheckpointFiles(run.checkpoints_dir, keep)
        self.interrupted = False
        self.started = False  # set once the run's state is restored and stepping begins

    def on_train_start(self, trainer, module) -> None:
        self.started = True

    def save(self, trainer: L.Trainer, module: L.LightningModule) -> bool:
        if module.diverged or not module.weights_are_finite():
            return False  # never overwrite the last good checkpoint with broken weights
        path = self.files.path_for(module.iteration)
        trainer.save_checkpoint(path, weights_only=False)  # full state: resume needs optimizers
        if trainer.is_global_zero:
            self.files.commit(path)
        return True

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if module.iteration % self.every == 0:
            self.save(trainer, module)

    def on_train_end(self, trainer, module) -> None:
        self.save(trainer, module)

    def on_exception(self, trainer, module, exception: BaseException) -> None:
        if isinstance(exception, KeyboardInterrupt) and trainer.is_global_zero:
            self.interrupted = True
            # Before stepping began the weights may not be restored yet: the files on disk are newer.
            if not self.started or module.diverged or not module.weights_are_finite():
                return
            # No barrier here: other ranks may already be gone.
            ckpt = trainer._checkpoint_connector.dump_checkpoint(weights_only=False)
            path = self.files.path_for(module.iteration)
            trainer.strategy.checkpoint_io.save_checkpoint(ckpt, path)
            self.files.commit(path)


class MetricsLogger(L.Callback):
    """Writes ``metrics.csv``: training losses every ``every`` iterations, validation per epoch."""

    def __init__(self, run: Run, every: int, resume_step: int | None, earlier_seconds: float = 0.0):
        self.run, self.every, self.resume_step = run, every, resume_step
        self.writer: MetricsCSV | None = None
        self.t0 = time.monotonic() - earlier_seconds  # ``time_s`` continues across resumes
        self.logged_step: int | None = None  # the last training step written

    def on_train_start(self, trainer, module) -> None:
        if trainer.is_global_zero:
            self.writer = MetricsCSV(self.run.metrics_path, resume_step=self.resume_step)

    def _row(self, trainer, module, values: dict[str, float]) -> dict[str, Any]:
        return {
            "step": module.iteration,
            "epoch": trainer.current_epoch,
            "time_s": round(time.monotonic() - self.t0, 2),
        } | {k: round(v, 6) for k, v in values.items()}

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if module.iteration % self.every == 0:
            self._log_step(trainer, module)

    def on_exception(self, trainer, module, exception: BaseException) -> None:
        # A stop signal can land between the optimizer step and the batch-end hooks: the checkpoint
        # then holds that step, so its row is written now (a resume starts after it).
        if isinstance(exception, KeyboardInterrupt) and module.iteration % self.every == 0:
            # The signal may also land after the row was appended but before ``logged_step`` was set:
            # the file, not the attribute, says whether this step's row is there.
            if self.writer and self.writer.has_row(module.iteration, module.last_losses):
                self.logged_step = module.iteration
            self._log_step(trainer, module)

    def _log_step(self, trainer, module) -> None:
        if self.writer and module.last_losses and self.logged_step != module.iteration:
            self.writer.append(self._row(trainer, module, module.last_losses))
            self.logged_step = module.iteration

    def on_validation_epoch_end(self, trainer, module) -> None:
        vals = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val_")}
        if self.writer and vals and not trainer.sanity_checking:
            self.writer.append(self._row(trainer, module, vals))


class SampleWriter(L.Callback):
    """Writes a sample artefact from fixed noise every N iterations and at the end."""

    def __init__(self, run: Run, task: Any, every: int, seed: int, ema: EMA | None):
        self.run, self.task, self.every, self.seed, self.ema = run, task, every, seed, ema

    def write(self, module: L.LightningModule, tag: str) -> Path:
        model = self.ema.averaged(module.model) if self.ema else module.model
        was_training = model.training
        model.eval()
        try:
            return self.task.write_samples(model, self.run.samples_dir / tag, self.seed)
        finally:
            model.train(was_training)

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if trainer.is_global_zero and self.every and module.iteration % self.every == 0:
            self.write(module, f"step_{module.iteration:07d}")


class EMA(L.Callback):
    """Exponential moving average of all weights (Polyak averaging); saved in checkpoints."""

    def __init__(self, decay: float):
        self.decay = decay
        self.shadow: dict[str, torch.Tensor] | None = None

    def on_fit_start(self, trainer, module) -> None:
        if self.shadow is None:
            self.shadow = {k: v.detach().clone() for k, v in module.model.state_dict().items()}

    @torch.no_grad()
    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        for k, v in module.model.state_dict().items():
            s = self.shadow[k]
            if v.dtype.is_floating_point:
                s.lerp_(v.detach().to(s.device), 1.0 - self.decay)
            else:
                s.copy_(v)  # counters such as BatchNorm's num_batches_tracked

    def averaged(self, model: torch.nn.Module) -> torch.nn.Module:
        """A copy of ``model`` holding the averaged weights."""
        copy_ = copy.deepcopy(model)
        if self.shadow is not None:
            copy_.load_state_dict(self.shadow)
        return copy_

    def state_dict(self) -> dict[str, Any]:
        return {"decay": self.decay, "shadow": self.shadow}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.shadow = state.get("shadow")


class EarlyStop(L.Callback):
    """Stops training after ``patience`` validations without a ``val_loss`` lower than the best by more than
    ``min_delta``, and keeps the weights of the best validation (the EMA average when there is one) for export."""

    monitor = "val_loss"

    def __init__(self, patience: int, min_delta: float = 0.0, ema: EMA | None = None):
        self.patience, self.min_delta, self.ema = patience, min_delta, ema
        self.best: float | None = None
        self.best_step: int | None = None
        self.bad = 0
        self.stopped_step: int | None = None
        self.weights: dict[str, torch.Tensor] | None = None  # on the CPU

    def on_validation_epoch_end(self, trainer, module) -> None:
        if trainer.sanity_checking:
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            from genlab.core.errors import ConfigError

            logged = sorted(k for k in trainer.callback_metrics if k.startswith("val_"))
            raise ConfigError(f"--early-stop watches {self.monitor}; this model logs {', '.join(logged) or 'none'}",
                              "drop --early-stop for this model")  # fmt: skip
        value = float(value)
        if self.best is None or value < self.best - self.min_delta:
            self.best, self.best_step, self.bad = value, module.iteration, 0
            state = self.ema.shadow if self.ema is not None and self.ema.shadow else module.model.state_dict()
            self.weights = {k: v.detach().to("cpu", copy=True) for k, v in state.items()}
            return
        self.bad += 1
        if self.bad >= self.patience:
            self.stopped_step = module.iteration
            trainer.should_stop = True

    def restore(self, model: torch.nn.Module) -> torch.nn.Module:
        """``model`` with the best validation's weights (unchanged when there was no validation)."""
        if self.weights is not None:
            model.load_state_dict(self.weights)
        return model

    def summary(self) -> dict[str, Any]:
        return {"best_val_loss": self.best, "best_step": self.best_step, "stopped_step": self.stopped_step,
                "patience": self.patience}  # fmt: skip

    def card_section(self) -> str:
        """Markdown for the model card ("" before the first validation)."""
        if self.best_step is None:
            return ""
        stopped = f"stopped at step {self.stopped_step}" if self.stopped_step else "ran to its budget"
        return (f"## Early stopping\n\n- exported weights: step {self.best_step}, the lowest val_loss "
                f"({self.best:.4f}); {stopped} (patience {self.patience} validations)\n\n")  # fmt: skip

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_step": self.best_step, "bad": self.bad, "weights": self.weights}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_step, self.bad = state.get("best"), state.get("best_step"), state.get("bad", 0)
        self.weights = state.get("weights")


class LossCurve(L.Callback):
    """Plots ``plots/loss.png`` from ``metrics.csv`` when training ends or is interrupted."""

    def __init__(self, run: Run, title: str):
        self.run, self.title = run, title

    def plot(self, trainer) -> None:
        if trainer.is_global_zero and self.run.metrics_path.is_file():
            plot_losses(self.run.metrics_path, self.run.plots_dir / "loss.png", self.title)

    def on_train_end(self, trainer, module) -> None:
        self.plot(trainer)

    def on_exception(self, trainer, module, exception) -> None:
        self.plot(trainer)
