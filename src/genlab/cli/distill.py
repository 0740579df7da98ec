"""``genlab distill TEACHER_RUN``: distil a trained run into a smaller student (GAN generators, GPT) or into a
few-step sampler (DDPM); the student is a normal run with ``distillation.json`` beside it."""

from __future__ import annotations

import signal
from pathlib import Path

import typer

from genlab.cli import render
from genlab.core.console import console


def distill_cmd(
    teacher: Path = typer.Argument(..., help="the teacher's run directory (runs/<task>/<name>)"),
    student_config: Path | None = typer.Option(
        None, "--student-config", help="YAML/JSON of model fields merged over the teacher's (e.g. g_width: 16)"
    ),
    steps: int | None = typer.Option(None, "--steps", help="diffusion: sampling steps of the distilled student"),
    name: str | None = typer.Option(None, "--name", help="student run name (default <teacher>-distilled); resumes"),
    runs_dir: Path | None = typer.Option(None, "--runs-dir", help="the student's runs root (default: the teacher's)"),
    max_minutes: float | None = typer.Option(None, "--max-minutes", help="wall-clock budget (resumes included)"),
    max_steps: int | None = typer.Option(None, "--max-steps", help="training batches (diffusion: per round)"),
    batch_size: int | None = typer.Option(None, "--batch-size", help="examples per batch (default: the teacher's)"),
    seed: int | None = typer.Option(None, "--seed", help="random seed"),
    threads: int | None = typer.Option(None, "--threads", help="torch CPU threads (1 is faster on a busy machine)"),
    device: str | None = typer.Option(None, "--device", help="auto, cpu, cuda, mps"),
    eval_n: int | None = typer.Option(None, "--eval-n", help="images for the FID of teacher and student (0: none)"),
    overrides: list[str] = typer.Option(
        [], "--set", help="override model.*, train.* or distill.* (distill.alpha, distill.temperature, …)"
    ),
    no_progress: bool = typer.Option(False, "--no-progress", help="no progress bar"),
) -> None:
    """distil a trained run into a smaller or faster student run (GAN generator, GPT, DDPM steps)"""
    from genlab.compress.distill import distill

    train = {"batch_size": batch_size, "seed": seed, "threads": threads, "device": device}
    train = {k: v for k, v in train.items() if v is not None} | ({"progress": False} if no_progress else {})
    result = distill(teacher, student_config, steps=steps, name=name, runs_dir=runs_dir, max_minutes=max_minutes,
                     max_steps=max_steps, overrides=list(overrides),
                     options={"eval_n": eval_n} if eval_n is not None else None, **train)  # fmt: skip
    render.train_summary(result)
    if result.status == "interrupted":  # 128 + the signal's number, as `genlab train`
        raise SystemExit(128 + getattr(signal.Signals, result.signal or "SIGINT", signal.SIGINT).value)
    if result.report is not None:
        _print_report(result.report)
        console.print(f"  {'report':11s} {result.run.path / 'distillation.json'}")


def _print_report(record: dict) -> None:
    r = record["report"]
    size, latency = r["size_mb"], r["latency_ms"]
    console.print(f"{record['method']} distillation: size {size['teacher']:.3f} → {size['student']:.3f} MiB, "
                  f"latency {latency['teacher']:.2f} → {latency['student']:.2f} ms ({r['speedup']:.2f}×, "
                  f"{r['latency_of']}, one thread)")  # fmt: skip
    q = r.get("quality")
    if q:
        console.print(f"{q['metric']}: teacher {q['teacher']:.4g}, student {q['student']:.4g} ({q['change']:+.4g})")


def register(app: typer.Typer) -> None:
    """Add ``distill`` to ``app``."""
    app.command("distill")(distill_cmd)
