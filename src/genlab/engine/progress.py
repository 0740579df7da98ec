"""Progress reporting: Lightning's rich bar on a terminal, periodic lines otherwise."""

from __future__ import annotations

import sys
import time

import lightning as L
from lightning.pytorch.callbacks import RichProgressBar

from genlab.core.console import console


def progress_callbacks(enabled: bool) -> list[L.Callback]:
    """A rich progress bar (losses, it/s, ETA) on a TTY; plain periodic lines in logs and CI."""
    if not enabled:
        return []
    if sys.stdout.isatty():
        return [LossBar(leave=True)]
    return [LineProgress()]


def step_text(module) -> str:
    """``120/1000`` when the run is bounded by ``max_steps``, else ``120``."""
    max_steps = getattr(module, "max_steps", None)
    return f"{module.iteration}/{max_steps}" if max_steps else str(module.iteration)


def epoch_text(trainer, epoch: int) -> str:
    """``Epoch 3/9`` when the run is bounded by epochs; ``Epoch 3`` when by steps or time (Lightning's
    own bar shows ``Epoch 3/-2`` then: ``max_epochs`` is -1)."""
    max_epochs = trainer.max_epochs
    return f"Epoch {epoch}/{max_epochs - 1}" if max_epochs is not None and max_epochs > 0 else f"Epoch {epoch}"


class LossBar(RichProgressBar):
    """Lightning's rich bar showing the step count (of ``max_steps``) and the module's latest losses
    (``last_losses``) beside what was logged; the bar itself covers one epoch."""

    def get_metrics(self, trainer, pl_module) -> dict:
        step = {"step": step_text(pl_module)} if hasattr(pl_module, "iteration") else {}
        return {**step, **super().get_metrics(trainer, pl_module), **getattr(pl_module, "last_losses", {})}

    def _get_train_description(self, current_epoch: int) -> str:
        text = epoch_text(self.trainer, current_epoch)
        return f"{text:{len(self.validation_description)}}"  # padded: the bar does not jump at validation


class LineProgress(L.Callback):
    """One line every ``seconds`` with step, epoch, losses and elapsed time (for non-terminals)."""

    def __init__(self, seconds: float = 15.0):
        self.seconds = seconds
        self.t0 = self.last = 0.0

    def on_train_start(self, trainer, module) -> None:
        self.t0 = self.last = time.monotonic()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        now = time.monotonic()
        if trainer.is_global_zero and now - self.last >= self.seconds:
            self.last = now
            losses = " ".join(f"{k}={v:.4g}" for k, v in module.last_losses.items())
            epoch = epoch_text(trainer, trainer.current_epoch).lower()
            console.print(f"step {step_text(module)} {epoch} {losses} [{now - self.t0:.0f}s]")
