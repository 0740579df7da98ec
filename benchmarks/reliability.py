"""Reliability soak: one training killed at random moments and resumed, again and again.

A tiny VAE (8×8 digits) is trained by ``python -m genlab train`` and stopped ``--trials`` times at a
random moment after it starts stepping, once with SIGKILL (``kill -9``: nothing can be saved) and once
with SIGTERM (saves and exports), each time restarted with the same command, which resumes. After
every stop the run folder is checked: every checkpoint must load, ``model/`` must load (its
``config.json`` must match its weights); the next start must resume from a checkpoint at or before the
step where the kill fell and go on stepping. A row per signal records ``trials``, ``resumed`` (resumes
that continued so), ``corrupt`` (files that failed those checks) and ``max_steps_lost`` (steps redone
after a kill: at most ``checkpoint_every`` for SIGKILL, 0 for SIGTERM).

Writes ``benchmarks/results/reliability.json`` (``--quick``: ``reliability_quick.json``).

    python -m benchmarks.reliability --threads 1
    python -m benchmarks.reliability --quick
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import genlab
from benchmarks import common
from genlab.core.errors import CheckpointError
from genlab.core.metrics_log import read_rows
from genlab.core.model import GenerativeModel
from genlab.core.runs import resolve_model_dir
from genlab.engine.checkpoints import CheckpointFiles, DamagedCheckpoint, read_iteration

MODULE = "benchmarks.reliability"
MODEL, DATASET = "vae", "builtin:digits"
TINY = ["--set", "data.image_size=8", "--set", "data.max_images=256", "--set", "model.latent_dim=2",
        "--set", "model.hidden_dims=[16]", "--set", "train.sample_every=0", "--set", "train.log_every=1",
        "--batch-size", "16", "--no-progress"]  # fmt: skip


def row_key(r: dict[str, Any]) -> tuple:
    return r["model"], r["dataset"], r["signal"], r.get("checkpoint_every")


def command(name: str, args) -> list[str]:
    """The training command every trial repeats (``--max-steps`` far beyond what the trials reach)."""
    return ["train", "image-generation", "--model", MODEL, "--data", DATASET, "--name", name, "--max-steps",
            "10000000", "--set", f"train.checkpoint_every={args.checkpoint_every}", "--threads",
            str(args.threads or 1), *TINY]  # fmt: skip


def start(args: list[str], runs: Path, env: dict[str, str] | None = None, capture: bool = False) -> subprocess.Popen:
    """``python -m genlab ARGS`` with this checkout's package and default signal dispositions (a process
    started in the background may inherit SIGINT or SIGHUP as ignored); ``capture``: stdout and stderr
    together as text on ``proc.stdout``, else discarded."""
    src = str(Path(genlab.__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)

    def default_signals() -> None:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)

    output = subprocess.PIPE if capture else subprocess.DEVNULL
    return subprocess.Popen(
        [sys.executable, "-m", "genlab", *args],
        env={**os.environ, "GENLAB_RUNS_DIR": str(runs), "PYTHONPATH": path, **(env or {})},
        preexec_fn=default_signals,
        stdout=output,
        stderr=subprocess.STDOUT if capture else subprocess.DEVNULL,
        text=capture,
    )


def last_step(run: Path) -> int:
    """The newest step logged in ``metrics.csv`` (every step is logged here), 0 when none."""
    return max((int(r["step"]) for r in read_rows(run / "metrics.csv") if r.get("loss")), default=0)


def resume_point(run: Path) -> int:
    """The iteration the next start resumes from (0 for a fresh start), read like the trainer does."""
    try:
        chosen = CheckpointFiles(run / "checkpoints").choose(lambda _: None, set_aside=False)
    except CheckpointError:
        return -1
    return chosen[1] if chosen else 0


def corrupt_files(run: Path) -> list[str]:
    """Checkpoints that do not load and a ``model/`` that does not (weights not matching config.json)."""
    bad = []
    for path in CheckpointFiles(run / "checkpoints").candidates():
        try:
            read_iteration(path)
        except (DamagedCheckpoint, OSError) as e:
            bad.append(f"{path.name}: {e}")
    bad += [p.name for p in (run / "checkpoints").glob("*.damaged")]
    try:
        model_dir = resolve_model_dir(run)
    except CheckpointError:
        return bad  # no export yet (killed before the first one)
    try:
        GenerativeModel.from_pretrained(model_dir)
    except CheckpointError as e:
        bad.append(f"model: {e.message}")
    return bad


def wait_until_stepping(proc: subprocess.Popen, run: Path, beyond: int, timeout: float = 300) -> bool:
    """Until the process logs a step after ``beyond`` (False when it ended first)."""
    deadline = time.time() + timeout
    while last_step(run) <= beyond:
        if proc.poll() is not None or time.time() > deadline:
            return False
        time.sleep(0.02)
    return True


def soak(signum: int, args, runs: Path, rng: random.Random) -> dict[str, Any]:
    """``args.trials`` stops with ``signum`` of one run, each followed by a resume."""
    name = f"soak-{signal.Signals(signum).name.lower()}"
    run = runs / "image-generation" / name
    trials = resumed = 0
    corrupt: list[str] = []
    lost: list[int] = []
    killed_at = 0
    for i in range(args.trials + 1):  # the last start only checks the last resume
        resume_from = resume_point(run)
        proc = start(command(name, args), runs)
        # metrics.csv still shows the steps before the kill until the new process rewinds it
        stepping = wait_until_stepping(proc, run, max(resume_from, killed_at))
        if i > 0:
            continued = stepping and 0 <= resume_from <= killed_at
            resumed += continued
            lost.append(killed_at - resume_from if continued else killed_at)
        if i == args.trials:
            proc.send_signal(signal.SIGTERM)
            proc.wait()
            break
        time.sleep(rng.uniform(0, args.max_delay))
        proc.send_signal(signum)
        proc.wait()
        trials += 1
        killed_at = max(last_step(run), resume_point(run))  # a checkpoint may be ahead of metrics.csv
        corrupt += [f"trial {i + 1}: {c}" for c in corrupt_files(run)]
        print(f"{name} {i + 1}/{args.trials}: exit {proc.returncode}, stopped at step {killed_at}", flush=True)
    for c in corrupt:
        print(f"  corrupt: {c}")
    return {
        "model": MODEL,
        "dataset": DATASET,
        "budget_minutes": None,
        "signal": signal.Signals(signum).name,
        "trials": trials,
        "resumed": resumed,
        "corrupt": len(corrupt),
        "max_steps_lost": max(lost, default=0),
        "mean_steps_lost": round(sum(lost) / max(len(lost), 1), 1),
        "checkpoint_every": args.checkpoint_every,
        "steps_reached": last_step(run),
    }


def main(argv: list[str] | None = None) -> None:
    """Command line: soak one run with SIGKILL and one with SIGTERM, merge the rows into the results file."""
    p = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0])
    common.add_common_arguments(p, "3 trials per signal: a smoke check, not a result")
    p.add_argument("--trials", type=int, default=20, help="stops (each followed by a resume) per signal")
    p.add_argument("--checkpoint-every", type=int, default=25, help="steps between checkpoints")
    p.add_argument("--max-delay", type=float, default=1.5, help="longest wait (s) after stepping starts")
    p.add_argument("--seed", type=int, default=0, help="seed of the random kill moments")
    args = p.parse_args(argv)
    common.set_threads(args.threads)
    if args.quick:
        args.trials = 3
    rng = random.Random(args.seed)
    rows = []
    with common.runs_folder(args.runs_dir) as runs:
        for signum in (signal.SIGKILL, signal.SIGTERM):
            rows.append(soak(signum, args, Path(runs), rng))
            r = rows[-1]
            print(f"{r['signal']}: {r['resumed']}/{r['trials']} resumed, {r['corrupt']} corrupt, "
                  f"at most {r['max_steps_lost']} steps lost", flush=True)  # fmt: skip
    name = "reliability_quick" if args.quick else "reliability"
    out = common.save_rows(name, rows, MODULE, argv, row_key, args.out_dir, quick=args.quick)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
