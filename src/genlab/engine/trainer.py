"""``train(run_config)``: resolve configs, load data, build the model, fit with Lightning, export.

Re-running with the same task and name resumes from the newest good checkpoint
in ``checkpoints/`` (the iteration count continues); Ctrl-C, SIGTERM and SIGHUP
save a checkpoint and the model first; a NaN/Inf loss stops the run and keeps the
last good checkpoint. One process writes a run at a time (``<run>/.lock``). With
``train.dp.epsilon`` the run trains with differential privacy (:mod:`genlab.engine.privacy`).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning as L
import yaml
from lightning.pytorch.callbacks import ProgressBar
from torch.utils.data import DataLoader

from genlab.core.checkpoint import recover_export
from genlab.core.config import save_yaml
from genlab.core.console import console, info, is_rank_zero
from genlab.core.devices import check_precision_for, cpu_threads, flush_denormals, lightning_accelerator
from genlab.core.errors import BadInputError, ConfigError, TrainingDivergedError
from genlab.core.io import atomic_write_json, remove_temp_files
from genlab.core.locks import RunLock
from genlab.core.metrics_log import read_rows
from genlab.core.registry import TASKS
from genlab.core.runs import Run, now_iso, runs_root
from genlab.core.seeding import seed_everything
from genlab.engine import callbacks as cb
from genlab.engine.batching import LengthBucketBatchSampler
from genlab.engine.card import model_card
from genlab.engine.checkpoints import CheckpointFiles
from genlab.engine.config import RunConfig
from genlab.engine.env import write_env
from genlab.engine.module import GenerativeModule
from genlab.engine.privacy import PrivacyPlan, PrivateTraining, plan_privacy
from genlab.engine.progress import progress_callbacks
from genlab.engine.signals import StopSignals, TrainingInterrupted
from genlab.engine.tracking import Tracker


@dataclass
class TrainResult:
    """What a finished (or interrupted) training call produced."""

    run: Run
    status: str  # completed | interrupted
    steps: int
    minutes: float
    files: dict[str, Path] = field(default_factory=dict)
    signal: str | None = None  # what stopped an interrupted run: SIGINT, SIGTERM or SIGHUP


_EXTRA_CALLBACKS: contextvars.ContextVar[tuple[L.Callback, ...]] = contextvars.ContextVar("extra", default=())


@contextlib.contextmanager
def extra_callbacks(*callbacks: L.Callback):
    """Lightning callbacks added to the runs trained inside the ``with`` block (in this thread or task): what a
    caller watching a run needs (the tuner's pruning), without a field in the run's config."""
    token = _EXTRA_CALLBACKS.set(_EXTRA_CALLBACKS.get() + callbacks)
    try:
        yield
    finally:
        _EXTRA_CALLBACKS.reset(token)


def train(cfg: RunConfig, runs_dir: str | Path | None = None, model_class: type | None = None) -> TrainResult:
    """Train the run described by ``cfg`` under ``runs_dir`` (resuming when it exists).

    ``model_class`` builds the run's model instead of the class the task's registry names (a distillation
    student that carries its frozen teacher); the run's config still names the registered model.

    ``train.threads`` sets torch's CPU threads for the run (recorded in ``env.json``): small
    models on a machine that other processes keep busy train several times faster on one
    thread than on all cores, whose threads wait on each other. Subnormal floats are flushed to
    zero while it trains (:func:`genlab.core.devices.flush_denormals`). SIGINT, SIGTERM and SIGHUP
    stop it after saving a checkpoint and the model (:mod:`genlab.engine.signals`); the result then
    has status ``interrupted`` and names the signal.
    """
    with cpu_threads(cfg.train.threads), flush_denormals(), StopSignals() as stop:
        return _train(cfg, runs_dir, stop, model_class)


def _train(cfg: RunConfig, runs_dir: str | Path | None, stop: StopSignals, model_class: type | None) -> TrainResult:
    check_precision_for(cfg.train.device, cfg.train.precision)  # before anything is written
    task = TASKS.get(cfg.task)
    data_cfg = task.data_config_class.build(cfg.data, where="data")
    model_values = dict(cfg.model)
    registered = task.model_class(str(model_values.pop("name", task.default_model)))
    model_cls = model_class or registered
    model_cls.config_class.build(model_values, where="model")  # unknown keys fail before data loads
    default_ema = getattr(model_cls, "default_ema_decay", None)  # e.g. diffusion models sample with EMA weights
    if cfg.train.ema_decay is None and default_ema:
        cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"ema_decay": default_ema})})
    default_batch = getattr(model_cls, "default_batch_size", None)  # e.g. tabular models train on 500-row batches
    if default_batch and "batch_size" not in cfg.train.model_fields_set:
        cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"batch_size": default_batch})})
    run = Run(runs_root(runs_dir) / task.name / cfg.name)
    lock = _lock(run) if is_rank_zero() else None  # one writer per run, before anything is written
    try:
        return _train_locked(cfg, run, task, data_cfg, model_cls, model_values, stop)
    except TrainingInterrupted as e:  # stopped outside the fit (loading data, setting up): nothing new to save
        _end_status(run, "interrupted", signal=stop.name)
        info(f"{stop.name}: stopped; the run's files are as its last checkpoint left them")
        return TrainResult(run, "interrupted", int(run.status().get("step") or 0), 0.0, signal=stop.name or str(e))
    except BaseException:
        _end_status(run, "failed")
        raise
    finally:
        if lock is not None:
            lock.release()
            if run.path.is_dir() and not any(run.path.iterdir()):
                run.path.rmdir()  # a run that failed before writing anything leaves no empty folder


def _end_status(run: Run, status: str, **fields) -> None:
    """Record how this process's call ended, unless it recorded that already (or never started)."""
    record = run.status()
    if is_rank_zero() and record.get("status") == "running" and record.get("pid") == os.getpid():
        run.set_status(status, **fields)


def _lock(run: Run) -> RunLock:
    lock = RunLock(run.path)
    lock.acquire()
    old = lock.taken_over
    if old:
        _warn(f"taking over the lock of {run.path}: the process that held it (PID {old.get('pid', '?')}) is gone")
    return lock


def _train_locked(cfg, run, task, data_cfg, model_cls, model_values, stop: StopSignals) -> TrainResult:
    chosen = _resume_checkpoint(run, cfg)
    if chosen is not None:
        _check_same_run(run, cfg, model_cls.registry_name)

    train_ds, val_ds, data_info = task.load_data(data_cfg)
    info(task.describe_data(data_info))
    task.check_model_fits_data(model_cls, data_info)
    if cfg.train.init_from and chosen is None:  # fine-tuning: the task may keep the base model's settings
        model_values = task.fine_tune_values(model_values, _base_config(cfg.train.init_from))
    model_cfg = model_cls.config_class.build(task.fill_model_config(model_values, data_info), where="model")
    resolved = RunConfig(
        task=task.name,
        name=cfg.name,
        model={"name": model_cls.registry_name.split("/", 1)[1], **model_cfg.to_dict()},
        data=data_cfg.to_dict(),
        train=cfg.train,
    )
    seed_everything(cfg.train.seed)
    model = model_cls(model_cfg)
    if cfg.train.init_from and chosen is None:  # fine-tuning starts from these weights; a resume from its checkpoint
        _init_weights(model, cfg.train.init_from)
    privacy = _plan_privacy(model, cfg, train_ds)  # refusals come before anything is written
    if cfg.train.early_stop and (val_ds is None or not cfg.train.val_batches or model_cls.fits_in_closed_form):
        raise ConfigError(
            "--early-stop needs validation: "
            + ("this model fits in closed form" if model_cls.fits_in_closed_form else "the run has no validation set"),
            "hold out data (e.g. --val-fraction 0.05) and keep train.val_batches > 0, or drop --early-stop",
        )
    if is_rank_zero():
        run = Run.create(run.path.parents[1], task.name, cfg.name)
        save_yaml(resolved.to_dict(), run.config_path)
        write_env(run, cfg.train.seed, lightning_accelerator(cfg.train.device), resumed=chosen is not None)
        atomic_write_json(run.path / "data.json", data_info.to_dict())
        run.set_running(started=now_iso())
    info(f"{'resuming' if chosen else 'training'} {model_cls.registry_name} → {run.path}")
    if model_cls.fits_in_closed_form:
        return _fit_closed_form(run, task, model, train_ds, val_ds, resolved, data_info, cfg)
    return _fit(run, task, model, train_ds, val_ds, resolved, data_info, cfg, chosen, stop, privacy)


def _model_folder(source: str) -> Path:
    folder = Path(source)
    return folder / "model" if (folder / "model" / "config.json").is_file() else folder


def _base_config(source: str) -> dict[str, Any]:
    """The model config recorded in the model folder (or run) ``source`` (``train.init_from``)."""
    from genlab.core.checkpoint import read_meta

    return dict(read_meta(_model_folder(source)).get("config") or {})


def _init_weights(model: Any, source: str) -> None:
    """Load the weights of the model folder (or run) ``source`` into ``model`` (``train.init_from``)."""
    from genlab.core.checkpoint import load_weights, read_meta

    folder = _model_folder(source)
    meta = read_meta(folder)
    if meta.get("quantization"):
        raise BadInputError(f"{folder} holds an int8 model, which cannot be trained", "start from the float model")
    try:
        model.load_state_dict(load_weights(folder, meta), strict=True)
    except RuntimeError as e:
        raise BadInputError(
            f"the weights in {folder} do not fit {model.registry_name} as configured: {str(e).splitlines()[0]}",
            "train.init_from needs a model of the same class and sizes",
        ) from None
    info(f"starting from the weights of {folder}")


def _plan_privacy(model: Any, cfg: RunConfig, train_ds: Any) -> PrivacyPlan | None:
    """The DP plan of the run (None without ``train.dp.epsilon``), reported on the console."""
    t = cfg.train
    if not t.dp.enabled:
        return None
    plan = plan_privacy(
        model,
        t.dp,
        n=len(train_ds),
        batch_size=t.batch_size,
        max_steps=t.max_steps,
        max_epochs=t.max_epochs,
        devices=t.devices * t.num_nodes,  # processes in all
        precision=t.precision,
    )
    info(
        f"differential privacy: (ε={plan.target_epsilon:g}, δ={plan.delta:g}) over {plan.accounted_steps} steps, "
        f"Poisson sampling rate {plan.sample_rate:.4g}, noise multiplier {plan.noise_multiplier:.4g}, "
        f"clipping norm {plan.max_grad_norm:g}, {plan.accountant} accountant, groups {', '.join(plan.groups)}"
    )
    return plan


def _fit(
    run, task, model, train_ds, val_ds, resolved, data_info, cfg: RunConfig, chosen, stop, plan: PrivacyPlan | None
) -> TrainResult:
    """Fit with Lightning from ``chosen`` (a checkpoint and its iteration, or None), then export."""
    privacy = PrivateTraining(plan, log_every=cfg.train.log_every) if plan is not None else None
    resume_step = chosen[1] if chosen else None
    earlier = _trained_seconds(run, resume_step) if resume_step is not None else 0.0
    t0 = time.monotonic() - earlier  # minutes cover the whole run, resumes included
    budget = (t0, 60 * cfg.train.max_minutes) if cfg.train.max_minutes else None
    module = GenerativeModule(model, grad_clip=cfg.train.grad_clip, max_steps=cfg.train.max_steps, privacy=privacy,
                              time_budget=budget)  # fmt: skip
    callbacks, ckpt = _callbacks(run, task, cfg, resume_step, earlier)
    trainer = _trainer(cfg, callbacks)
    try:
        trainer.fit(
            module,
            privacy.loader(train_ds, cfg.train.num_workers) if privacy else _loader(train_ds, cfg, shuffle=True),
            _loader(val_ds, cfg, shuffle=False) if val_ds is not None and cfg.train.val_batches else None,
            ckpt_path=str(chosen[0]) if chosen else None,
            weights_only=True,
        )
    except SystemExit:
        if not ckpt.interrupted:
            raise
    stop.defer()  # a signal from here on lets the export finish
    minutes = (time.monotonic() - t0) / 60
    if module.diverged:
        _report_divergence(run, module)
    if not ckpt.interrupted:
        done = is_rank_zero()
        # A differentially private run hands no training data to the last step: what it fits would escape the guarantee.
        train_data = None if privacy is not None else train_ds
        files = (
            _finish(run, task, module, callbacks, resolved, data_info, "completed", minutes, val_ds, train_data)
            if done
            else {}
        )
        return TrainResult(run, "completed", module.iteration, minutes, files)
    if not ckpt.started:  # stopped while Lightning set up: the weights may not be restored, keep the files
        if is_rank_zero():
            run.set_status("interrupted", signal=stop.name, step=resume_step or 0)
        return TrainResult(run, "interrupted", resume_step or 0, minutes, signal=stop.name)
    files = (
        _finish(run, task, module, callbacks, resolved, data_info, "interrupted", minutes, signal=stop.name)
        if is_rank_zero()
        else {}
    )
    return TrainResult(run, "interrupted", module.iteration, minutes, files, signal=stop.name)


def _resume_checkpoint(run: Run, cfg: RunConfig) -> tuple[Path, int] | None:
    """Tidy what a killed process left in the run folder (temporary files, a half-swapped export) and
    pick the newest good checkpoint; None for a new run."""
    if is_rank_zero() and run.path.is_dir():
        remove_temp_files(run.path)
        recover_export(run.model_dir)
    files = CheckpointFiles(run.checkpoints_dir, cfg.train.keep_checkpoints)
    return files.choose(_warn, set_aside=is_rank_zero())


def _warn(message: str) -> None:
    if is_rank_zero():
        console.print(f"[bold yellow]warning:[/] {message}", soft_wrap=True)


def _fit_closed_form(run, task, model, train_ds, val_ds, resolved, data_info, cfg: RunConfig) -> TrainResult:
    """Fit a closed-form model (one pass, no optimizer), then export like any other run."""
    from genlab.core.metrics_log import MetricsCSV

    t0 = time.monotonic()
    metrics = model.fit(train_ds, val_ds)
    minutes = (time.monotonic() - t0) / 60
    MetricsCSV(run.metrics_path).append({"step": 0, "epoch": 0, "time_s": round(minutes * 60, 3), **metrics})
    card = model_card(resolved, data_info, run.last_metrics(), 0, minutes, " ".join(sys.argv))
    model.save_pretrained(run.model_dir, card=card, extra={"data": data_info.to_dict(), "steps": 0})
    model.eval()
    files = {"model": run.model_dir, "samples": task.write_samples(model, run.samples_dir / "final", cfg.train.seed)}
    run.set_status("completed", step=0, minutes=round(minutes, 2))
    return TrainResult(run, "completed", 0, minutes, files)


def _check_same_run(run: Run, cfg: RunConfig, model_name: str) -> None:
    """Resuming is only allowed with the same model and data (the budget may change)."""
    try:
        old = yaml.safe_load(run.config_path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return
    old_model = str(old.get("model", {}).get("name", ""))
    if old_model and old_model != model_name.split("/", 1)[1]:
        raise BadInputError(
            f"run {run.path} exists and trains '{old_model}', not '{model_name}'",
            "choose another --name to start a new run, or delete the old run directory",
        )
    was_private = ((old.get("train") or {}).get("dp") or {}).get("epsilon") is not None
    if was_private != cfg.train.dp.enabled:
        trained = "with" if was_private else "without"
        raise BadInputError(
            f"run {run.path} exists and was trained {trained} differential privacy",
            "resume it with the same --dp-epsilon setting, or choose another --name to start a new run",
        )
    old_source = old.get("data", {}).get("source")
    if old_source and cfg.data.get("source") and old_source != cfg.data["source"]:
        raise BadInputError(
            f"run {run.path} exists and was trained on '{old_source}'",
            "choose another --name to start a new run on other data",
        )


def _callbacks(
    run: Run, task: Any, cfg: RunConfig, resume_step: int | None, earlier_seconds: float
) -> tuple[list[L.Callback], cb.PeriodicCheckpoint]:
    t = cfg.train
    ema = cb.EMA(t.ema_decay) if t.ema_decay else None
    ckpt = cb.PeriodicCheckpoint(run, t.checkpoint_every, t.keep_checkpoints)
    callbacks: list[L.Callback] = [ema] if ema else []  # EMA first: checkpoints then hold the updated average
    if t.early_stop:  # before the checkpoint: a checkpoint holds the best weights seen so far
        callbacks.append(cb.EarlyStop(t.early_stop, t.early_stop_delta, ema))
    callbacks += [
        ckpt,
        cb.MetricsLogger(run, t.log_every, resume_step, earlier_seconds),
        cb.SampleWriter(run, task, t.sample_every, t.seed, ema),
        cb.LossCurve(run, f"{run.task}/{run.name}"),
        *progress_callbacks(t.progress),
    ]
    callbacks += list(_EXTRA_CALLBACKS.get())
    if t.logger != "none":  # after the sample writer: the tracker logs each grid the step it is written
        callbacks.append(Tracker(run, t.logger, cfg.model_dump(mode="json"), t.log_every, t.tracking_uri))
    return callbacks, ckpt


def _trained_seconds(run: Run, resume_step: int) -> float:
    """Training time of a run's earlier calls up to its checkpoint: the last ``time_s`` logged at or before the
    checkpoint's step, or the recorded status minutes, whichever is larger."""
    rows = read_rows(run.metrics_path)
    times = [float(r["time_s"]) for r in rows if r.get("time_s") and int(r["step"]) <= resume_step]
    return max([*times, 60 * float(run.status().get("minutes") or 0)])


class _NoAdvertising(logging.Filter):
    """Drops Lightning's product tips from the console; keeps every other message."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Tip:" not in record.getMessage()


def _trainer(cfg: RunConfig, callbacks: list[L.Callback]) -> L.Trainer:
    t = cfg.train
    rank_zero_log = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if not any(isinstance(f, _NoAdvertising) for f in rank_zero_log.filters):
        rank_zero_log.addFilter(_NoAdvertising())
    return L.Trainer(
        accelerator=lightning_accelerator(t.device),
        devices=t.devices,
        num_nodes=t.num_nodes,
        strategy=_strategy(t),
        precision=t.precision,
        max_epochs=t.max_epochs if t.max_epochs is not None else -1,
        max_time=timedelta(minutes=t.max_minutes) if t.max_minutes else None,
        limit_val_batches=t.val_batches,
        num_sanity_val_steps=0,
        callbacks=callbacks,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=any(isinstance(c, ProgressBar) for c in callbacks),
        enable_model_summary=False,
        plugins=[cb.AtomicCheckpointIO()],
        log_every_n_steps=t.log_every,
    )


def _strategy(t):
    """Lightning strategy for ``train.strategy``.

    Manual optimisation steps one parameter group at a time (a GAN's discriminator step leaves the
    generator unused), so DDP must look for unused parameters; ``auto`` with several devices means
    this DDP too (Lightning's own choice would not look for them).
    """
    if t.strategy == "auto" and t.devices == 1 and t.num_nodes == 1:
        return "auto"
    from lightning.pytorch.strategies import DDPStrategy

    start = "spawn" if t.strategy == "ddp_spawn" else "popen"
    return DDPStrategy(start_method=start, find_unused_parameters=True)


def _loader(ds: Any, cfg: RunConfig, shuffle: bool) -> DataLoader:
    """Shuffled (training) or in-order batches; a dataset with ``lengths`` is batched by length on one device
    (:mod:`genlab.engine.batching`)."""
    t = cfg.train
    bs = min(t.batch_size, len(ds))
    lengths = getattr(ds, "lengths", None) if shuffle and t.devices == 1 and t.num_nodes == 1 else None
    if lengths is not None:
        sampler = LengthBucketBatchSampler(lengths, bs, seed=t.seed)
        return DataLoader(ds, batch_sampler=sampler, num_workers=t.num_workers)
    return DataLoader(ds, batch_size=bs, shuffle=shuffle, drop_last=shuffle, num_workers=t.num_workers)


def _report_divergence(run: Run, module: GenerativeModule) -> None:
    d = module.diverged
    if is_rank_zero():
        run.set_status("diverged", step=d["step"], loss=d["loss"])
    kept = (
        f"the last good checkpoint is kept at {run.last_checkpoint}"
        if run.last_checkpoint.is_file()
        else ("no checkpoint had been written yet")
    )
    raise TrainingDivergedError(
        f"loss '{d['loss']}' ({d['group']}) became {d['value']} at step {d['step']}; training stopped, {kept}",
        "lower the learning rate, add --set train.grad_clip=1.0, or check the data for extreme values",
    )


def _finish(
    run, task, module, callbacks, resolved, data_info, status, minutes, val_ds=None, train_ds=None, **status_fields
) -> dict[str, Path]:
    """Export the model (EMA weights when enabled) after the task's last step on a completed run (``val_ds``),
    write final samples, record status."""
    writer = next(c for c in callbacks if isinstance(c, cb.SampleWriter))
    ema = next((c for c in callbacks if isinstance(c, cb.EMA)), None)
    model = ema.averaged(module.model) if ema else module.model
    early = next((c for c in callbacks if isinstance(c, cb.EarlyStop)), None)
    if early is not None:
        model = early.restore(model)  # the EMA's copy, or the module's model (final samples then show it too)
        status_fields["early_stop"] = early.summary()
    section = task.after_training(model, val_ds, data_info, train_ds) if status == "completed" else ""
    section = early.card_section() + section if early is not None else section
    metrics = run.last_metrics()
    privacy = module.privacy.summary() if module.privacy is not None else None
    card = model_card(resolved, data_info, metrics, module.iteration, minutes, " ".join(sys.argv), privacy)
    card = f"{card.rstrip()}\n\n{section}" if section else card
    extra = {"data": data_info.to_dict(), "steps": module.iteration} | ({"privacy": privacy} if privacy else {})
    model.save_pretrained(run.model_dir, card=card, extra=extra)
    files = {"model": run.model_dir, "samples": writer.write(module, "final")}
    loss_png = run.plots_dir / "loss.png"
    if loss_png.is_file():
        files["loss_curve"] = loss_png
    run.set_status(status, step=module.iteration, minutes=round(minutes, 2), privacy=privacy, **status_fields)
    tracker = next((c for c in callbacks if isinstance(c, Tracker)), None)
    if tracker is not None:
        tracker.finish(module.iteration)
    return files
