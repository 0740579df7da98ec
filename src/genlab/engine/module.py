"""One LightningModule that trains any registered genlab model.

The model declares its optimizer groups (with step ratios) and its losses; this
module turns that into manual optimisation so GANs (two optimizers, WGAN-GP's
``n_critic``) and single-loss models (VAEs, diffusion) share one recipe.

Learning-rate schedules (``OptimizerSpec.schedule``) are torch schedulers returned from
``configure_optimizers``, so Lightning saves them in ``checkpoints/last.ckpt`` and restores
them on resume; with manual optimisation each one is stepped right after its optimizer. A schedule
spans the run's steps (``max_steps``, or ``max_epochs`` × batches); when only a time budget bounds the
run (``--max-minutes`` alone, the usual way to train on a CPU) it follows the clock instead: the factor
after ``e`` of ``B`` seconds (resumes included) is the one after step ``e/B`` of 1. The rate then depends
on how fast the machine runs, so two runs of one seed agree only as far as their timings do.

With differential privacy (``privacy``, :mod:`genlab.engine.privacy`) the privatised groups' optimizers
are Opacus ``DPOptimizer``s built in ``configure_optimizers``; each batch is accounted before its first
noisy step (a stop signal between the two over-counts, never under-counts), ``dp_epsilon`` joins the
logged losses, and the accountant's history travels in the checkpoints.
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import lightning as L
import torch

from genlab.core.errors import ConfigError
from genlab.core.model import GenerativeModel, OptimizerSpec, cosine_factor

if TYPE_CHECKING:
    from genlab.engine.privacy import PrivateTraining


#: Schedule name → factor of the learning rate after ``step`` of ``total`` optimizer steps (None: constant).
SCHEDULES: dict[str, Callable[[int, int], float] | None] = {"constant": None, "cosine": cosine_factor}


def needs_run_length(specs: list[OptimizerSpec]) -> list[str]:
    """Names of the groups whose schedule depends on the run's total number of steps."""
    return [s.name for s in specs if SCHEDULES[s.schedule] is not None]


class GenerativeModule(L.LightningModule):
    """Wraps a :class:`GenerativeModel`; counts training iterations (batches) itself."""

    def __init__(
        self,
        model: GenerativeModel,
        grad_clip: float | None = None,
        max_steps: int | None = None,
        privacy: PrivateTraining | None = None,
        time_budget: tuple[float, float] | None = None,
    ):
        super().__init__()
        self.model = model
        self.grad_clip = grad_clip  # groups trained privately are clipped per example instead
        self.max_steps = max_steps
        self.privacy = privacy
        self.time_budget = time_budget  # (time.monotonic() at the run's start, resumes included; budget in s)
        self.automatic_optimization = False
        self.specs = model.optimizer_groups()
        self.scheduled: dict[int, int] = {}  # optimizer index → index of its scheduler
        self.iteration = 0  # training batches done over the whole run (restored on resume)
        self.last_losses: dict[str, float] = {}
        self.diverged: dict[str, Any] | None = None  # {"loss": name, "value": v, "step": i} when a loss blew up

    def configure_optimizers(self):
        specs = self.model.optimizer_groups()
        optimizers = [make_optimizer(s) for s in specs]
        if self.privacy is not None:  # after on_load_checkpoint: a resume has restored the accountant
            optimizers = self.privacy.attach(self.model, specs, optimizers, self.iteration)
        schedulers = []
        for i, (spec, opt) in enumerate(zip(specs, optimizers, strict=True)):
            factor = SCHEDULES[spec.schedule]
            if factor is None and not spec.warmup_steps:
                continue
            self.scheduled[i] = len(schedulers)
            if factor is None:
                rule = lambda s: 1.0  # noqa: E731
            elif (steps := self.total_steps()) is None:  # only the clock bounds the run: it follows the clock
                rule = lambda s, f=factor: f(self.clock_fraction(), 1.0)  # noqa: E731
            else:  # this optimizer's steps in the run
                rule = lambda s, f=factor, n=math.ceil(steps / spec.every): f(s, n)  # noqa: E731
            if spec.warmup_steps:
                rule = lambda s, r=rule, w=spec.warmup_steps: r(s) * min(1.0, (s + 1) / w)  # noqa: E731
            # A closure, not an object: the scheduler's saved state holds its step, not the run length, so a
            # resumed run with a longer budget stretches the rest of the schedule over it.
            schedulers.append(torch.optim.lr_scheduler.LambdaLR(opt, rule))
        return (optimizers, schedulers) if schedulers else optimizers

    def total_steps(self) -> int | None:
        """Training batches in the whole run: ``max_steps``, or ``max_epochs`` × batches per epoch if fewer;
        None when only the time budget bounds it."""
        estimated = self.trainer.estimated_stepping_batches  # inf when only a time budget bounds the run
        lengths = [n for n in (self.max_steps, estimated) if n is not None and math.isfinite(n)]
        if lengths:
            return max(1, int(min(lengths)))
        if self.time_budget is None:
            raise ConfigError(
                f"the learning-rate schedule of {', '.join(needs_run_length(self.specs))} needs the run's length",
                "set --max-steps, --epochs or --max-minutes",
            )
        return None

    def clock_fraction(self) -> float:
        """Share of the time budget spent so far (resumes included), at most 1."""
        start, seconds = self.time_budget
        return min(1.0, (time.monotonic() - start) / seconds)

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> int | None:
        if self.max_steps is not None and self.iteration >= self.max_steps:
            self.trainer.should_stop = True
            return -1  # Lightning: skip the rest of the epoch; should_stop ends the fit
        return None

    def training_step(self, batch: Any, batch_idx: int) -> None:
        optimizers = self.optimizers()
        optimizers = optimizers if isinstance(optimizers, list) else [optimizers]
        schedulers = self.lr_schedulers() if self.scheduled else []
        schedulers = schedulers if isinstance(schedulers, list) else [schedulers]
        dp = self.privacy
        private = [i for i, s in enumerate(self.specs) if dp is not None and i in dp.optimizers]
        stepping = [i for i in private if self.iteration % self.specs[i].every == 0]
        size = _batch_size(batch)
        logged: dict[str, float] = {}
        for i, (spec, opt) in enumerate(zip(self.specs, optimizers, strict=False)):
            if self.iteration % spec.every:
                continue
            if dp is not None:
                dp.hooks_on(i in private)
                if size == 0 and i not in private:
                    continue  # a Poisson batch can be empty: only the privatised groups take a (noise-only) step
            losses = self.model.training_losses(batch, spec.name) if size or dp is None else {}
            bad = _first_non_finite(losses)
            if bad is not None:
                # Stop before the bad step touches the weights: they stay the last good ones.
                self.diverged = {"loss": bad[0], "value": bad[1], "step": self.iteration, "group": spec.name}
                self.trainer.should_stop = True
                return
            opt.zero_grad(set_to_none=True)
            if losses:
                with _quiet_hooks() if dp is not None else contextlib.nullcontext():
                    self.manual_backward(losses["loss"])
            if i in private:
                dp.prepare_step(i, size)
                if i == stepping[0]:
                    dp.account(len(stepping))  # before the release, so an interruption cannot skip it
            elif self.grad_clip:
                self.clip_gradients(opt, gradient_clip_val=self.grad_clip, gradient_clip_algorithm="norm")
            opt.step()
            if i in private:
                dp.after_step()
            if i in self.scheduled:
                schedulers[self.scheduled[i]].step()
            logged.update(_loggable(losses, single=len(self.specs) == 1))
        self.last_losses.update(logged)  # groups stepping every k batches keep their last value
        self.iteration += 1
        if dp is not None and self.iteration % dp.log_every == 0:
            self.last_losses["dp_epsilon"] = dp.epsilon()
        if self.max_steps is not None and self.iteration >= self.max_steps:
            self.trainer.should_stop = True
        # No self.log here: Lightning's per-step logging costs milliseconds a step; the metrics
        # file and the progress displays read ``last_losses``.

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        losses = self.model.validation_losses(batch)
        vals = {f"val_{k}": v for k, v in _loggable(losses, single=len(self.specs) == 1).items()}
        self.log_dict(vals, on_step=False, on_epoch=True, sync_dist=True, batch_size=_batch_size(batch))

    def on_train_end(self) -> None:
        if self.privacy is not None:
            self.last_losses["dp_epsilon"] = self.privacy.epsilon()

    def teardown(self, stage: str) -> None:
        if self.privacy is not None:
            self.privacy.detach()  # the model leaves the fit without Opacus's hooks and attributes

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["genlab"] = {"iteration": self.iteration}
        if self.privacy is not None:
            checkpoint["genlab"]["privacy"] = self.privacy.state_dict()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        saved = checkpoint.get("genlab", {})
        self.iteration = int(saved.get("iteration", 0))
        if self.privacy is not None and "privacy" in saved:
            self.privacy.load_state_dict(saved["privacy"])

    def weights_are_finite(self) -> bool:
        """False when any parameter holds NaN/Inf (such weights are never checkpointed)."""
        return all(torch.isfinite(p).all() for p in self.model.parameters())


def make_optimizer(spec) -> torch.optim.Adam:
    """Adam for one optimizer group; the fused kernel where torch has it (CPU and CUDA): one pass
    over all parameters instead of a dozen tensor operations per parameter."""
    params = list(spec.params)
    fused = bool(params) and all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)
    return torch.optim.Adam(params, lr=spec.lr, betas=spec.betas, weight_decay=spec.weight_decay, fused=fused or None)


@contextlib.contextmanager
def _quiet_hooks():
    """Opacus's hooks on a first layer whose input needs no gradient make torch warn; nothing is wrong."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Full backward hook is firing", category=UserWarning)
        yield


def _first_non_finite(losses: dict[str, torch.Tensor]) -> tuple[str, float] | None:
    for name, value in losses.items():
        v = value.detach()
        if not torch.isfinite(v).all():
            return name, float(v.float().mean())
    return None


def _loggable(losses: dict[str, torch.Tensor], single: bool) -> dict[str, float]:
    """Scalars to log: every entry, with ``loss`` kept only for single-group models."""
    out = {}
    for k, v in losses.items():
        if k == "loss" and not single:
            continue
        out[k] = float(v.detach().float().mean())
    return out


def _batch_size(batch: Any) -> int:
    first = batch[0] if isinstance(batch, (list, tuple)) else batch
    return int(first.shape[0]) if hasattr(first, "shape") else 1
