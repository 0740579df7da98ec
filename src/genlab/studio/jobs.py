"""Training jobs started from the studio: ``python -m genlab train …`` in the background, watched through the
run's files, cancelled with SIGINT (the engine then saves a checkpoint and the model).

The job is the same command a user types, so its run is an ordinary run in the runs folder.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genlab.core.errors import BadInputError
from genlab.core.runs import Run, runs_root

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
LOG_TAIL_CHARS = 4000  # of the job's output shown in the studio


def train_command(task: str, model: str, data: str, name: str, runs_dir: str | Path, max_minutes: float | None = None,
                  extra: list[str] | None = None) -> list[str]:  # fmt: skip
    """The argument list of ``python -m genlab train TASK --model M --data D --name N --runs-dir R …``."""
    for label, value in (("task", task), ("model", model), ("run name", name)):
        if not NAME_RE.match(value or "") and not (label == "model" and re.match(r"^[a-z0-9]+/[\w.-]+$", value)):
            raise BadInputError(f"the {label} '{value}' is not a name", "use letters, digits, '.', '_' and '-'")
    if not data or data.startswith("-"):
        raise BadInputError("pick the data to train on", "e.g. builtin:digits")
    cmd = [sys.executable, "-m", "genlab", "train", task, "--model", model, "--data", data, "--name", name,
           "--runs-dir", str(runs_dir)]  # fmt: skip
    if max_minutes:
        cmd += ["--max-minutes", f"{float(max_minutes):g}"]
    return cmd + list(extra or [])


@dataclass
class TrainJob:
    """A training subprocess and the run it writes."""

    command: list[str]
    run: Run
    process: subprocess.Popen
    log_path: Path
    started: float = field(default_factory=time.monotonic)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def cancel(self) -> None:
        """Send SIGINT (like Ctrl-C): the run stops after the current step, saving its checkpoint and model."""
        if self.running:
            self.process.send_signal(signal.SIGINT)

    def wait(self, timeout: float | None = None) -> int:
        return self.process.wait(timeout)

    def log_tail(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(f.tell() - LOG_TAIL_CHARS, 0))
                return f.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def progress(self) -> dict[str, Any]:
        """What the run's files say now: ``state`` (starting/running/completed/interrupted/failed…), ``step``,
        ``losses`` (last values), ``elapsed_s``, ``returncode`` and ``log`` (the end of the output)."""
        status = self.run.status() if self.run.status_path.is_file() else {}
        metrics = self.run.last_metrics()
        code = self.process.poll()
        state = status.get("status") or ("starting" if code is None else "failed")
        if code is not None and state == "running":
            state = "failed" if code else "finished"
        losses = {k: v for k, v in metrics.items() if k not in ("step", "epoch", "time_s")}
        return {
            "state": state,
            "step": status.get("step", metrics.get("step", "")),
            "losses": losses,
            "elapsed_s": round(time.monotonic() - self.started, 1),
            "returncode": code,
            "log": self.log_tail(),
        }


def start_training(task: str, model: str, data: str, name: str, runs_dir: str | Path | None,
                   max_minutes: float | None = None, extra: list[str] | None = None) -> TrainJob:  # fmt: skip
    """Launch ``genlab train`` in the background writing ``runs_dir/<task>/<name>``; its output goes to
    ``.studio-<name>.log`` in the runs folder."""
    root = runs_root(runs_dir)
    root.mkdir(parents=True, exist_ok=True)
    cmd = train_command(task, model, data, name, root, max_minutes, extra)
    log_path = root / f".studio-{task}-{name}.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    src = str(Path(__file__).resolve().parents[2])  # the genlab package's folder, for an uninstalled checkout
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                   start_new_session=True)  # fmt: skip
    return TrainJob(cmd, Run(root / task / name), process, log_path)


def format_progress(progress: dict[str, Any]) -> str:
    """A short markdown summary of :meth:`TrainJob.progress`."""
    losses = ", ".join(f"{k}={v}" for k, v in progress["losses"].items()) or "—"
    code = "" if progress["returncode"] is None else f" (exit code {progress['returncode']})"
    return (f"**{progress['state']}**{code} · step {progress['step'] or 0} · {progress['elapsed_s']:.0f} s\n\n"
            f"last losses: {losses}")  # fmt: skip
