"""``genlab compress RUN --quantize int8-dynamic|int8-static --prune 0.5 --out NAME``: a smaller, faster copy of a
trained run, written as a normal run, with a report of size, one-thread latency and quality against the original."""

from __future__ import annotations

from pathlib import Path

import typer

from genlab.core.console import console


def compress_cmd(
    run: Path = typer.Argument(..., help="the trained run (runs/<task>/<name>)"),
    quantize: str | None = typer.Option(None, "--quantize", help="int8-dynamic (Linear/LSTM/GRU) or int8-static"),
    prune: float | None = typer.Option(None, "--prune", help="fraction of the inference layers' weights to zero"),
    prune_method: str = typer.Option("magnitude", "--prune-method", help="magnitude (weights) or structured"),
    finetune_steps: int = typer.Option(200, "--finetune-steps", min=1, help="training steps after pruning"),
    out: str | None = typer.Option(None, "--out", help="name of the new run (default: RUN-pruned50-int8dynamic …)"),
    calibration: int = typer.Option(256, "--calibration", min=1, help="samples drawn to calibrate int8-static"),
    all_layers: bool = typer.Option(False, "--all-layers", help="int8-static: every layer, even where int8 is slower"),
    metric: list[str] = typer.Option([], "--metric", help="quality metric (repeatable; default: the task's)"),
    eval_n: int = typer.Option(1000, "--eval-n", min=1, help="samples for the quality metrics"),
    evaluate: bool = typer.Option(True, "--eval/--no-eval", help="compare quality with `genlab eval`"),
) -> None:
    """shrink a trained model (int8, pruning + fine-tune) into a new run, with a size/speed/quality report"""
    from genlab.compress.run import compress

    result = compress(run, quantize=quantize, prune=prune, prune_method=prune_method, finetune_steps=finetune_steps,
                      out=out, calibration=calibration, all_layers=all_layers, metrics=metric or None, eval_n=eval_n,
                      evaluate=evaluate)  # fmt: skip
    r = result.report
    console.print(f"{r['method']}: weights {r['original_size_mb']:.2f} MB → {r['size_mb']:.2f} MB "
                  f"(zipped {r['original_zip_mb']:.2f} → {r['zip_mb']:.2f} MB)")  # fmt: skip
    for g in r["graphs"]:
        console.print(f"  {g['graph']:14s} one thread {g['original_latency_ms']:.3f} → {g['latency_ms']:.3f} ms "
                      f"({g['speedup']:.2f}×), max |diff| {g['max_abs_diff']:.2e}")  # fmt: skip
    for name, q in r.get("quality", {}).items():
        change = "" if q["relative_change"] is None else f" ({100 * q['relative_change']:+.2f} %)"
        console.print(f"  {name:14s} {q['original']:.4g} → {q['compressed']:.4g}{change}")
    console.print(f"run: {result.run.path}  report: {result.run.path / 'compression.json'}")


def register(app: typer.Typer) -> None:
    """Add ``compress`` to ``app``."""
    app.command("compress")(compress_cmd)
