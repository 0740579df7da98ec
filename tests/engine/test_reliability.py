"""Runs that survive real life: stop signals, dead processes, two writers, damaged checkpoints,
a kill during export, file modes, progress totals.

Subprocess tests start ``python -m genlab train`` on a tiny VAE (8×8 digits), which steps a few
hundred times a second on one thread.
"""

import json
import os
import random
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import genlab
from benchmarks.reliability import start
from genlab.core.checkpoint import FAULT_ENV, recover_export
from genlab.core.errors import BadInputError, CheckpointError
from genlab.core.io import atomic_write_text
from genlab.core.locks import RunLock, process_record, process_start_ticks
from genlab.core.metrics_log import read_rows
from genlab.core.model import GenerativeModel
from genlab.core.runs import Run, resolve_model_dir
from genlab.engine.checkpoints import CheckpointFiles
from genlab.engine.progress import epoch_text, step_text
from tests.cli_helpers import cli_ok

TINY = ["--set", "data.image_size=8", "--set", "data.max_images=128", "--no-progress", "--threads", "1",
        "--set", "model.latent_dim=2", "--set", "model.hidden_dims=[16]"]  # fmt: skip
TINY_OVERRIDES = ["data.image_size=8", "data.max_images=128", "model.latent_dim=2", "model.hidden_dims=[16]"]
SRC = str(Path(genlab.__file__).resolve().parents[1])


def train_args(name, max_steps=600, *extra):
    return ["train", "image-generation", "--model", "vae", "--data", "builtin:digits", "--name", name,
            "--max-steps", str(max_steps), "--batch-size", "16", "--set", "train.checkpoint_every=50",
            "--set", "train.sample_every=0", *TINY, *extra]  # fmt: skip


def genlab_process(args, runs, env=None):
    """``python -m genlab ARGS`` with this checkout's package, its output captured."""
    return start(args, runs, env, capture=True)


def wait_for_steps(proc, run: Path, rows: int = 2, timeout: float = 120) -> None:
    """Until ``metrics.csv`` holds ``rows`` logged steps (the run is stepping)."""
    deadline = time.time() + timeout
    while len(read_rows(run / "metrics.csv")) < rows:
        if proc.poll() is not None:
            pytest.fail(f"training ended before it was signalled:\n{proc.stdout.read()}")
        assert time.time() < deadline, "training did not start stepping"
        time.sleep(0.05)


def tiny_train(runs_dir, name, **kw):
    args = {"task": "image-generation", "model": "vae", "data": "builtin:digits", "name": name}
    args |= {"runs_dir": runs_dir, "progress": False, "overrides": TINY_OVERRIDES, "batch_size": 16}
    args |= {"sample_every": 0, "log_every": 1, "checkpoint_every": 5, "threads": 1} | kw
    return genlab.train(**args)


def logged_steps(run: Path) -> list[int]:
    return [int(r["step"]) for r in read_rows(run / "metrics.csv") if r.get("loss")]


# --------------------------------------------------------------------------- stop signals


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: s.name)
def test_stop_signal_saves_exports_and_resumes(signum, tmp_path):
    runs = tmp_path / "runs"
    run = runs / "image-generation" / "sig"
    proc = genlab_process(train_args("sig"), runs)
    wait_for_steps(proc, run)
    time.sleep(random.uniform(0, 0.3))
    proc.send_signal(signum)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum, out
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "interrupted" and status["signal"] == signum.name and status["step"] > 0, status
    assert Run(run).status()["status"] == "interrupted" and not (run / ".lock").exists()
    assert (run / "checkpoints" / "last.ckpt").is_file()
    model = GenerativeModel.from_pretrained(run / "model")
    assert model.provenance.steps == status["step"]  # the export holds the weights it stopped with
    assert f"interrupted by {signum.name}" in out

    proc = genlab_process(train_args("sig"), runs)
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode == 0, out
    assert "resuming" in out
    final = json.loads((run / "status.json").read_text())
    assert final["status"] == "completed" and final["step"] == 600 and "signal" not in final
    steps = logged_steps(run)
    assert steps == sorted(set(steps)) and steps[-1] == 600 and status["step"] - status["step"] % 10 in steps, (
        status,
        steps,
    )
    assert GenerativeModel.from_pretrained(run / "model").provenance.steps == 600


def test_a_signal_after_the_row_was_written_does_not_write_it_twice(tmp_path):
    from genlab.engine.callbacks import MetricsLogger

    logger = MetricsLogger(Run(tmp_path), every=10, resume_step=None)
    trainer, module = SimpleNamespace(is_global_zero=True, current_epoch=0), SimpleNamespace(iteration=80)
    module.last_losses = {"loss": 0.5}
    logger.on_train_start(trainer, module)
    logger._log_step(trainer, module)
    logger.logged_step = None  # the signal landed between the append and the bookkeeping
    logger.on_exception(trainer, module, KeyboardInterrupt())
    assert logged_steps(tmp_path) == [80]
    module.iteration = 90  # a signal between the optimizer step and the batch-end hooks still writes its row
    logger.on_exception(trainer, module, KeyboardInterrupt())
    assert logged_steps(tmp_path) == [80, 90]


def test_signal_handlers_are_restored_after_training(runs_dir):
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    tiny_train(runs_dir, "handlers", max_steps=2)
    assert {s: signal.getsignal(s) for s in before} == before


def test_sigterm_in_process_returns_an_interrupted_result(runs_dir, monkeypatch):
    from genlab.engine import callbacks

    class Kill(callbacks.PeriodicCheckpoint):  # a SIGTERM arriving after step 7
        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            super().on_train_batch_end(trainer, module, outputs, batch, batch_idx)
            if module.iteration == 7:
                os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(callbacks, "PeriodicCheckpoint", Kill)
    res = tiny_train(runs_dir, "inproc", max_steps=50)
    assert res.status == "interrupted" and res.signal == "SIGTERM" and res.steps == 7
    assert res.run.status()["status"] == "interrupted" and res.run.status()["signal"] == "SIGTERM"
    assert CheckpointFiles(res.run.checkpoints_dir).choose(print)[1] == 7
    assert GenerativeModel.from_pretrained(res.run.model_dir).provenance.steps == 7
    # the signal came before the batch-end logging: the stopped step's row is still written
    assert logged_steps(res.run.metrics_path.parent) == list(range(1, 8))


# --------------------------------------------------------------------------- one writer per run


@pytest.mark.slow
def test_second_training_of_a_running_run_is_refused(tmp_path):
    runs = tmp_path / "runs"
    run = runs / "image-generation" / "twice"
    first = genlab_process(train_args("twice", 100_000), runs)
    wait_for_steps(first, run)
    second = genlab_process(train_args("twice", 100_000), runs)
    out, _ = second.communicate(timeout=120)
    assert second.returncode == 2, out
    assert f"PID {first.pid}" in out and "another process" in out and "hint:" in out
    assert first.poll() is None  # the first one goes on
    first.send_signal(signal.SIGTERM)
    out, _ = first.communicate(timeout=120)
    assert first.returncode == 143, out
    steps = logged_steps(run)
    assert steps and steps == sorted(set(steps))  # no step written twice


def test_lock_held_by_this_process_refuses_a_training(runs_dir):
    run_dir = runs_dir / "image-generation" / "held"
    with RunLock(run_dir), pytest.raises(BadInputError, match=f"PID {os.getpid()}"):
        tiny_train(runs_dir, "held", max_steps=2)
    assert not (run_dir / "config.yaml").exists()  # nothing was written
    assert tiny_train(runs_dir, "held", max_steps=2).status == "completed"  # released: free again


def test_stale_lock_is_taken_over_with_a_message(runs_dir, capsys):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run_dir = runs_dir / "image-generation" / "stale"
    run_dir.mkdir(parents=True)
    (run_dir / ".lock").write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}))
    res = tiny_train(runs_dir, "stale", max_steps=3)
    out = " ".join(capsys.readouterr().out.split())
    assert res.status == "completed" and "taking over the lock" in out and f"PID {dead.pid}" in out
    assert not (run_dir / ".lock").exists()


# --------------------------------------------------------------------------- status of dead runs


def test_running_status_of_a_dead_process_reads_interrupted(tmp_path, capsys):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run = Run.create(tmp_path, "image-generation", "ghost")
    run.config_path.write_text("task: image-generation\n")
    record = {"status": "running", "pid": dead.pid, "host": socket.gethostname(), "step": 40}
    atomic_write_text(run.status_path, json.dumps(record))
    assert run.status()["status"] == "interrupted" and run.status()["process"] == "gone"
    assert json.loads(run.status_path.read_text())["status"] == "running"  # reading changes nothing
    code, out = cli_ok(["runs", "--runs-dir", str(tmp_path)], capsys)
    assert code == 0 and "│ interrupted │" in out and "│ running" not in out

    me = process_record()
    atomic_write_text(run.status_path, json.dumps({"status": "running", **me}))
    assert run.status()["status"] == "running"  # alive
    if process_start_ticks(os.getpid()) is not None:  # the PID now belongs to another process
        atomic_write_text(run.status_path, json.dumps({"status": "running", **me, "pid_start": me["pid_start"] - 1}))
        assert run.status()["status"] == "interrupted"
    atomic_write_text(run.status_path, json.dumps({"status": "running", **me, "host": "elsewhere"}))
    assert run.status()["status"] == "running"  # another machine's process cannot be checked


# --------------------------------------------------------------------------- checkpoints


def test_checkpoints_keep_the_newest_and_last_is_the_newest(runs_dir):
    res = tiny_train(runs_dir, "keep", max_steps=20, keep_checkpoints=2)
    files = CheckpointFiles(res.run.checkpoints_dir, 2)
    assert [p.name for p in files.steps()] == ["step-0000020.ckpt", "step-0000015.ckpt"]
    assert os.path.samefile(res.run.last_checkpoint, files.steps()[0])


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    damaged = {"truncated": data[: len(data) // 2], "empty": b"", "random": os.urandom(len(data))}[how]
    path.write_bytes(damaged)


@pytest.mark.parametrize("how", ["truncated", "empty", "random"])
def test_damaged_newest_checkpoint_resumes_from_the_one_before(how, runs_dir, capsys):
    tiny_train(runs_dir, f"dmg-{how}", max_steps=10)
    run = Run(runs_dir / "image-generation" / f"dmg-{how}")
    _damage(run.last_checkpoint, how)  # also step-0000010.ckpt: the same file
    capsys.readouterr()
    res = tiny_train(runs_dir, f"dmg-{how}", max_steps=15)
    out = " ".join(capsys.readouterr().out.split())
    assert "warning:" in out and "last.ckpt" in out and "resuming from checkpoints/step-0000005.ckpt" in out
    assert "weights_only" not in out
    assert res.status == "completed" and res.steps == 15
    assert logged_steps(run.path) == list(range(1, 16))  # steps 6-10 redone once, not twice
    assert (run.checkpoints_dir / "step-0000010.ckpt.damaged").is_file()  # set aside, not reused


def test_no_good_checkpoint_is_a_clear_error(runs_dir, capsys):
    tiny_train(runs_dir, "nogood", max_steps=10)
    ckpts = CheckpointFiles(runs_dir / "image-generation" / "nogood" / "checkpoints")
    for path in ckpts.candidates():
        path.write_bytes(os.urandom(300))
    code, out = cli_ok(train_args("nogood", 20), capsys)
    assert code == 2, out
    assert "no usable checkpoint" in out and "another --name" in out and "hint:" in out
    for bad in ("weights_only", "internal error", "Traceback", "Aborted"):
        assert bad not in out
    with pytest.raises(CheckpointError, match="no usable checkpoint"):  # the same again: nothing was set aside
        ckpts.choose(print)


def test_leftover_temporary_files_are_removed_at_start(runs_dir):
    res = tiny_train(runs_dir, "tmpfiles", max_steps=5)
    leftovers = [res.run.path / ".metrics.csv.1a2b3c4d.tmp", res.run.checkpoints_dir / ".last.ckpt.00ff00ff.tmp"]
    for p in leftovers:
        p.write_bytes(b"half")
    (res.run.path / ".model.tmp-0badf00d").mkdir()
    tiny_train(runs_dir, "tmpfiles", max_steps=6)
    assert not any(p.exists() for p in leftovers) and not (res.run.path / ".model.tmp-0badf00d").exists()


# --------------------------------------------------------------------------- atomic export

SAVE_AGAIN = """
import sys, torch
from genlab.core.model import GenerativeModel
model = GenerativeModel.from_pretrained(sys.argv[1])
with torch.no_grad():
    for p in model.parameters():
        p.add_(1.0)
model.save_pretrained(sys.argv[1], extra={"steps": 999})
"""


@pytest.mark.parametrize("point", ["export:after_weights", "export:before_swap", "export:mid_swap"])
def test_kill_during_export_keeps_the_previous_model(point, runs_dir):
    res = tiny_train(runs_dir, "export", max_steps=5)
    before = {k: v.clone() for k, v in GenerativeModel.from_pretrained(res.run.model_dir).state_dict().items()}
    env = {**os.environ, FAULT_ENV: point, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    code = subprocess.call([sys.executable, "-c", SAVE_AGAIN, str(res.run.model_dir)], env=env)
    assert code == -signal.SIGKILL
    model = GenerativeModel.from_pretrained(resolve_model_dir(res.run.path))  # loads before any clean-up
    assert model.provenance.steps == 5
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    recover_export(res.run.model_dir)  # what the next training does first
    assert GenerativeModel.from_pretrained(res.run.model_dir).provenance.steps == 5
    assert sorted(p.name for p in res.run.path.iterdir() if p.name.startswith(".model")) == []
    env.pop(FAULT_ENV)
    assert subprocess.call([sys.executable, "-c", SAVE_AGAIN, str(res.run.model_dir)], env=env) == 0
    assert GenerativeModel.from_pretrained(res.run.model_dir).provenance.steps == 999


def test_export_keeps_files_of_its_own_in_the_folder(tmp_path, runs_dir):
    res = tiny_train(runs_dir, "notes", max_steps=2)
    (res.run.model_dir / "NOTES.txt").write_text("mine")
    GenerativeModel.from_pretrained(res.run.model_dir).save_pretrained(res.run.model_dir)
    assert (res.run.model_dir / "NOTES.txt").read_text() == "mine"


# --------------------------------------------------------------------------- file modes


def test_model_and_checkpoint_files_follow_the_umask(runs_dir):
    old = os.umask(0o022)
    try:
        res = tiny_train(runs_dir, "modes", max_steps=5)
        files = [*res.run.model_dir.iterdir(), *res.run.checkpoints_dir.iterdir(), res.run.status_path]
        assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o644}, files
        os.umask(0o027)
        atomic_write_text(res.run.path / "x.txt", "x")
        assert stat.S_IMODE((res.run.path / "x.txt").stat().st_mode) == 0o640
    finally:
        os.umask(old)


# --------------------------------------------------------------------------- progress


def test_progress_shows_no_negative_epoch_total():
    by_time = SimpleNamespace(max_epochs=-1)
    assert epoch_text(by_time, 3) == "Epoch 3" and epoch_text(SimpleNamespace(max_epochs=10), 3) == "Epoch 3/9"
    assert step_text(SimpleNamespace(iteration=120, max_steps=1000)) == "120/1000"
    assert step_text(SimpleNamespace(iteration=120, max_steps=None)) == "120"
