"""``genlab tune-guidance RUN``: choose a diffusion/flow run's guidance scale and sampler steps on its validation
split and make them the defaults ``genlab sample`` uses (:func:`genlab.tune_guidance`; the run's task does it)."""

from __future__ import annotations

from pathlib import Path

import typer

from genlab.core.console import console
from genlab.core.errors import BadInputError


def _numbers(text: str | None, kind: type, flag: str) -> list | None:
    if text is None:
        return None
    try:
        return [kind(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise BadInputError(f"{flag} takes comma-separated numbers, got {text!r}", f"e.g. {flag} 1,1.5,2,3") from None


def tune_guidance_cmd(
    run: Path = typer.Argument(..., help="a trained image/ddpm or image/flow run (runs/image-generation/<name>)"),
    guidance: str | None = typer.Option(None, "--guidance", help="scales to try, e.g. 1,1.5,2,3 (conditional runs)"),
    steps: str | None = typer.Option(None, "--steps", help="sampler step counts to try, e.g. 10,25,50"),
    n: int = typer.Option(300, "--n", min=2, help="images per candidate (and validation images)"),
    metric: str = typer.Option("fid", "--metric", help="fid or kid: what the choice minimises"),
    max_minutes: float = typer.Option(10.0, "--max-minutes", help="time bound (the defaults are always scored)"),
    tolerance: float = typer.Option(0.02, "--tolerance", help="fewer steps win within this share of the best score"),
    seed: int = typer.Option(0, "--seed", help="seed of the noise every candidate shares"),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="where the run's dataset lives, if moved"),
    threads: int | None = typer.Option(None, "--threads", help="torch CPU threads"),
) -> None:
    """choose guidance scale and sampler steps of a diffusion/flow run on its validation split"""
    import genlab

    if threads:
        import torch

        torch.set_num_threads(threads)
    record = genlab.tune_guidance(
        run, data_dir=str(data_dir) if data_dir else None, guidance=_numbers(guidance, float, "--guidance"),
        steps=_numbers(steps, int, "--steps"), n=n, metric=metric, max_minutes=max_minutes, tolerance=tolerance,
        seed=seed,
    )  # fmt: skip
    console.print(f"{'guidance':>8s} {'steps':>5s} {'FID':>8s} {'KID':>8s} {'s':>5s}")
    for r in record["candidates"]:
        scale = "–" if r["guidance"] is None else f"{r['guidance']:g}"
        console.print(f"{scale:>8s} {r['steps']:5d} {r['fid']:8.2f} {r['kid']:8.4f} {r['seconds']:5.0f}")
    for s in record["skipped"]:
        console.print(f"skipped for time: guidance {s['guidance']}, {s['steps']} steps "
                      f"(≈{s['estimated_seconds']:.0f} s)")  # fmt: skip
    console.print(record["summary"])
    console.print(f"saved as the run's sampling defaults (model card: {Path(run) / 'model' / 'README.md'})")


def register(app: typer.Typer) -> None:
    """Add ``tune-guidance`` to ``app``."""
    app.command("tune-guidance")(tune_guidance_cmd)
