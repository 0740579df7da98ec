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


class LossBar(RichProgressBar):
    """Lightning's rich bar showing the module's latest losses (``last_losses``) beside what was logged."""

    def get_metrics(self, trainer, pl_module) -> dict:
        return {**super().get_metrics(trainer, pl_module), **getattr(pl_module, "last_losses", {})}


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
            console.print(f"step {module.iteration} epoch {trainer.current_epoch} {losses} [{now - self.t0:.0f}s]")
