"""The ``genlab`` command line: parse → call the API → render.

User errors print ``error: …`` / ``hint: …`` and exit 2 (bad input) or 1
(internal); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

import typer

from genlab.cli import render
from genlab.core.console import console
from genlab.core.errors import BadInputError, GenlabError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="genlab — train, sample, evaluate and serve generative models.",
)
STATE = {"debug": False}

RunsDir = typer.Option(None, "--runs-dir", help="where runs live (default ./runs or $GENLAB_RUNS_DIR)")


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="show tracebacks")) -> None:
    STATE["debug"] = debug


@app.command("models")
def models_cmd(task: str | None = typer.Option(None, help="only models of this task")) -> None:
    """List registered models with task and a one-line description."""
    import genlab

    render.models_table(genlab.list_models(task))


@app.command(
    "train",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def train_cmd(
    ctx: typer.Context,
    task: str = typer.Argument(..., help="task, e.g. image-generation"),
    model: str | None = typer.Option(None, "--model", "-m", help="model name (see `genlab models`)"),
    data: str | None = typer.Option(None, "--data", "-d", help="dataset name (builtin:mnist-5k, mnist, …) or path"),
    name: str | None = typer.Option(None, "--name", help="run name; the same name resumes"),
    max_minutes: float | None = typer.Option(None, "--max-minutes", help="wall-clock budget"),
    epochs: int | None = typer.Option(None, "--epochs"),
    max_steps: int | None = typer.Option(None, "--max-steps", help="training batches"),
    batch_size: int | None = typer.Option(None, "--batch-size"),
    seed: int | None = typer.Option(None, "--seed"),
    device: str | None = typer.Option(None, "--device", help="auto, cpu, cuda, mps"),
    devices: int | None = typer.Option(None, "--devices", help="processes; >1 trains data-parallel"),
    strategy: str | None = typer.Option(None, "--strategy", help="auto, ddp, ddp_spawn"),
    ema: float | None = typer.Option(None, "--ema", help="EMA decay of weights, e.g. 0.999"),
    data_dir: str | None = typer.Option(None, "--data-dir", help="folder of standard datasets"),
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML/JSON run config"),
    overrides: list[str] = typer.Option([], "--set", help="dotted override, e.g. model.latent_dim=32"),
    no_progress: bool = typer.Option(False, "--no-progress", help="no progress bar"),
    runs_dir: Path | None = RunsDir,
) -> None:
    """Train a model; TASK-specific options (e.g. --image-size 32) are listed by `genlab train TASK --help`."""
    from genlab.api import build_run_config
    from genlab.core.registry import TASKS
    from genlab.engine.trainer import train

    task_obj = TASKS.get(task)
    options = {
        "train.max_minutes": max_minutes,
        "train.max_epochs": epochs,
        "train.max_steps": max_steps,
        "train.batch_size": batch_size,
        "train.seed": seed,
        "train.device": device,
        "train.devices": devices,
        "train.strategy": strategy,
        "train.ema_decay": ema,
        "train.progress": False if no_progress else None,
        "data.data_dir": data_dir,
        **parse_task_options(ctx.args, task_obj),
    }
    cfg = build_run_config(task_obj.name, model, data, name, config, overrides, options)
    result = train(cfg, runs_dir=runs_dir)
    render.train_summary(result)
    if result.status == "interrupted":
        raise typer.Exit(130)


def parse_task_options(args: list[str], task_obj) -> dict[str, str]:
    """Map task options (``--image-size 32``, flags like ``--hflip``) to dotted config keys."""
    from genlab.core.errors import unknown_name

    out, i = {}, 0
    while i < len(args):
        opt = args[i]
        key, _, inline = opt.partition("=")
        if key not in task_obj.cli_options:
            valid = [*task_obj.cli_options, "--model", "--data", "--name", "--max-minutes", "--epochs", "--set"]
            raise unknown_name(f"option for '{task_obj.name}'", key, valid)
        if inline:
            value, i = inline, i + 1
        elif i + 1 < len(args) and not args[i + 1].startswith("--"):
            value, i = args[i + 1], i + 2
        else:
            value, i = "true", i + 1
        out[task_obj.cli_options[key]] = value
    return out


@app.command("sample")
def sample_cmd(
    run: Path = typer.Argument(..., help="run directory or model directory"),
    n: int = typer.Option(16, "--n", help="number of images"),
    seed: int | None = typer.Option(None, "--seed"),
    label: int | None = typer.Option(None, "--label", help="class label (conditional models)"),
    interpolate: bool = typer.Option(False, "--interpolate", help="latent walk between two samples"),
    out: Path | None = typer.Option(None, "--out", "-o", help="grid PNG, or a folder for one PNG per image"),
    nrow: int | None = typer.Option(None, "--nrow", help="images per grid row"),
) -> None:
    """Sample images from a trained model into a grid PNG (or a folder of PNGs)."""
    import genlab
    from genlab.image.io import save_grid

    pipe = genlab.load(run)
    if interpolate:
        images = pipe.interpolate(n=n, label=label, seed=seed, output_type="pt")
        nrow = nrow or n
    else:
        images = pipe(n=n, label=label, seed=seed, output_type="pt")
    out = out or _default_out(run, f"sample{'-walk' if interpolate else ''}-seed{seed}.png")
    render.saved(_save_images(images, out, nrow, save_grid))


@app.command("reconstruct")
def reconstruct_cmd(
    run: Path = typer.Argument(..., help="run or model directory of a VAE"),
    data: str = typer.Option(..., "--data", "-d", help="images to reconstruct (dataset name or folder)"),
    n: int = typer.Option(16, "--n"),
    data_dir: str | None = typer.Option(None, "--data-dir"),
    out: Path | None = typer.Option(None, "--out", "-o", help="PNG: originals on top, reconstructions below"),
) -> None:
    """Reconstruct real images with a VAE: originals in the top row(s), reconstructions below."""
    import torch

    import genlab
    from genlab.image.data import load_images
    from genlab.image.io import save_grid

    pipe = genlab.load(run)
    if not pipe.model.can_reconstruct:
        raise BadInputError(
            f"{pipe.model.registry_name} cannot reconstruct images", "reconstruction needs a VAE (vae, conv-vae, cvae)"
        )
    cfg = pipe.model.config
    images, labels = load_images(data, cfg.image_size, cfg.channels, n, data_dir=data_dir)
    recon = pipe.reconstruct(images, labels, output_type="pt")
    nrow = min(n, 8)
    rows = [torch.cat([images[i : i + nrow], recon[i : i + nrow]]) for i in range(0, len(images), nrow)]
    out = out or _default_out(run, "reconstruction.png")
    render.saved(save_grid(torch.cat(rows), out, nrow=nrow, scale=2 if cfg.image_size <= 32 else 1))


@app.command("eval")
def eval_cmd(
    run: Path | None = typer.Argument(None, help="run or model directory (omit with --fake/--real)"),
    metrics: str | None = typer.Option(None, "--metrics", help="comma-separated metric names (default: the task's)"),
    n: int | None = typer.Option(None, "--n", help="number of generated samples"),
    seed: int | None = typer.Option(None, "--seed"),
    ref: str | None = typer.Option(None, "--ref", help="reference data, e.g. mnist:test"),
    data_dir: str | None = typer.Option(None, "--data-dir", help="folder of standard datasets"),
    extractor: str | None = typer.Option(None, "--extractor", help="feature extractor name or safetensors path"),
    inception_weights: Path | None = typer.Option(None, "--inception-weights", help="Inception-v3 FID weights file"),
    fake: Path | None = typer.Option(None, "--fake", help="folder of generated images (folder mode)"),
    real: Path | None = typer.Option(None, "--real", help="folder of real images (folder mode)"),
    out: Path | None = typer.Option(None, "--out", "-o", help="also write the result JSON here"),
) -> None:
    """Evaluate a trained model (or two image folders) and record the protocol in eval.json."""
    import genlab
    from genlab.core.io import atomic_write_json

    options = {"n": n, "seed": seed, "ref": ref, "data_dir": data_dir, "extractor": extractor}
    options["inception_weights"] = str(inception_weights) if inception_weights else None
    if fake is not None or real is not None:
        if fake is None or real is None or run is not None:
            raise BadInputError("folder mode needs both --fake and --real and no RUN", "genlab eval --fake A --real B")
        from genlab.image.evaluation import evaluate_folders

        result = evaluate_folders(fake, real, metrics, **{k: v for k, v in options.items() if v is not None})
    elif run is None:
        raise BadInputError("nothing to evaluate", "pass a run directory, or --fake and --real image folders")
    else:
        result = genlab.evaluate(run, metrics, **options)
    if out is not None:
        atomic_write_json(out, result)
    render.eval_result(result, run)


@app.command("runs")
def runs_cmd(runs_dir: Path | None = RunsDir) -> None:
    """List runs with status, steps and last losses."""
    from genlab.core.runs import list_runs, runs_root

    render.runs_table(list_runs(runs_dir), runs_root(runs_dir))


@app.command("info")
def info_cmd(run: Path = typer.Argument(..., help="run directory")) -> None:
    """Show the config, environment, status and metrics of one run."""
    from genlab.core.runs import Run

    if not (run / "config.yaml").is_file():
        raise BadInputError(f"{run} is not a run directory (no config.yaml)", "see `genlab runs` for the runs here")
    render.run_info(Run(run))


def _default_out(run: Path, filename: str) -> Path:
    return run / "samples" / filename if (run / "config.yaml").is_file() else Path(filename)


def _save_images(images, out: Path, nrow, save_grid) -> Path:
    if out.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp"):
        return save_grid(images, out, nrow=nrow)
    from genlab.image.io import to_pil

    out.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(to_pil(images)):
        img.save(out / f"{i:04d}.png")
    return out


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``genlab`` script: maps errors to messages and exit codes."""
    command = typer.main.get_command(app)
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        # standalone mode: usage errors print and exit 2, typer.Exit exits with its code; our errors pass through.
        command.main(args=args, prog_name="genlab", standalone_mode=True)
    except GenlabError as e:
        if debug:
            traceback.print_exc()
        console.print(f"[bold red]error:[/] {e.message}", soft_wrap=True)
        if e.hint:
            console.print(f"[bold]hint:[/] {e.hint}", soft_wrap=True)
        sys.exit(e.exit_code)
    except Exception as e:  # an internal error: short message unless --debug
        if debug:
            raise
        console.print(f"[bold red]error:[/] internal error: {type(e).__name__}: {e}", soft_wrap=True)
        console.print("[bold]hint:[/] re-run with --debug for the traceback and report it")
        sys.exit(1)


if __name__ == "__main__":
    main()
