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
    threads: int | None = typer.Option(None, "--threads", help="torch CPU threads (1 is faster on a busy machine)"),
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
        "train.threads": threads,
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
    sampler: str | None = typer.Option(None, "--sampler", help="diffusion/flow: ddpm, ddim, dpm++2m, euler, heun"),
    steps: int | None = typer.Option(None, "--steps", help="diffusion/flow: number of sampling steps"),
    guidance: float | None = typer.Option(None, "--guidance", help="classifier-free guidance scale (1 = none)"),
    eta: float | None = typer.Option(None, "--eta", help="DDIM stochasticity η (0 = deterministic)"),
) -> None:
    """Sample images from a trained model into a grid PNG (or a folder of PNGs)."""
    import genlab
    from genlab.image.io import save_grid

    pipe = genlab.load(run)
    sampling = {"sampler": sampler, "steps": steps, "guidance_scale": guidance, "eta": eta}
    sampling = {k: v for k, v in sampling.items() if v is not None}  # only what was given: GAN/VAE take none
    if interpolate:
        if sampling:
            raise BadInputError("--interpolate uses the model's default sampler", "drop --sampler/--steps/--guidance")
        images = pipe.interpolate(n=n, label=label, seed=seed, output_type="pt")
        nrow = nrow or n
    else:
        images = pipe(n=n, label=label, seed=seed, output_type="pt", **sampling)
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


@app.command("inpaint")
def inpaint_cmd(
    run: Path = typer.Argument(..., help="run or model directory of a diffusion or flow model"),
    image: Path = typer.Option(..., "--image", "-i", help="image to complete (PNG/JPEG)"),
    mask: str = typer.Option(..., "--mask", help="mask image (white = fill) or left/right/top/bottom/center"),
    n: int = typer.Option(8, "--n", help="number of different fills"),
    seed: int | None = typer.Option(None, "--seed"),
    label: int | None = typer.Option(None, "--label", help="class label (conditional models)"),
    sampler: str | None = typer.Option(None, "--sampler", help="default: ddpm (diffusion), the model's (flow)"),
    steps: int = typer.Option(50, "--steps"),
    guidance: float | None = typer.Option(None, "--guidance", help="classifier-free guidance scale"),
    jump_length: int = typer.Option(5, "--jump-length", help="RePaint: steps per jump back"),
    resamples: int = typer.Option(4, "--resamples", help="RePaint: times each stretch is sampled"),
    out: Path | None = typer.Option(None, "--out", "-o", help="grid PNG: masked input, then the fills"),
) -> None:
    """Fill the masked part of an image (RePaint resampling) with a diffusion or flow model."""
    _edit_command(
        run, "inpaint", image, n, seed, label, out,
        {"mask": mask if mask in _MASK_WORDS else Path(mask), "sampler": sampler, "steps": steps,
         "guidance_scale": guidance, "jump_length": jump_length, "resamples": resamples},
    )  # fmt: skip


@app.command("img2img")
def img2img_cmd(
    run: Path = typer.Argument(..., help="run or model directory of a diffusion or flow model"),
    image: Path = typer.Option(..., "--image", "-i", help="input image (a sketch, a photo)"),
    strength: float = typer.Option(0.6, "--strength", help="0–1: how far to noise the input before denoising"),
    n: int = typer.Option(4, "--n", help="number of variations"),
    seed: int | None = typer.Option(None, "--seed"),
    label: int | None = typer.Option(None, "--label", help="class label (conditional models)"),
    sampler: str | None = typer.Option(None, "--sampler"),
    steps: int | None = typer.Option(None, "--steps"),
    guidance: float | None = typer.Option(None, "--guidance", help="classifier-free guidance scale"),
    eta: float | None = typer.Option(None, "--eta", help="DDIM stochasticity η"),
    out: Path | None = typer.Option(None, "--out", "-o", help="grid PNG: the input, then the variations"),
) -> None:
    """Image-to-image (SDEdit): noise the input to --strength, then denoise it into the model's data."""
    options = {"strength": strength, "sampler": sampler, "steps": steps, "guidance_scale": guidance, "eta": eta}
    _edit_command(run, "img2img", image, n, seed, label, out, options)


_MASK_WORDS = ("left", "right", "top", "bottom", "center")


def _edit_command(run: Path, kind: str, image: Path, n: int, seed, label, out: Path | None, options: dict) -> None:
    """Shared body of ``inpaint`` and ``img2img``: load, edit, save a grid led by the (masked) input."""
    import torch

    import genlab
    from genlab.image.diffusion.pipelines import Image2ImagePipeline, ImageInpaintingPipeline, read_image, read_mask
    from genlab.image.io import save_grid

    model = genlab.load(run).model
    pipe = (ImageInpaintingPipeline if kind == "inpaint" else Image2ImagePipeline)(model)
    options = {k: v for k, v in options.items() if v is not None}
    edited = pipe(image, n=n, label=label, seed=seed, output_type="pt", **options)
    first = read_image(image, model.config.image_size, model.config.channels)
    if kind == "inpaint":  # show the kept pixels, the region to fill in grey
        first = first * (1 - read_mask(options["mask"], model.config.image_size))
    scale = 2 if model.config.image_size <= 32 else 1
    out = out or _default_out(run, f"{kind}-seed{seed}.png")
    render.saved(save_grid(torch.cat([first, edited]), out, nrow=min(n + 1, 9), scale=scale))


@app.command("generate")
def generate_cmd(
    run: Path = typer.Argument(..., help="run or model directory of a text model"),
    prompt: str = typer.Option("", "--prompt", "-p", help="text to continue (default: a line break)"),
    max_new_tokens: int = typer.Option(200, "--max-new-tokens", help="tokens to generate"),
    temperature: float = typer.Option(1.0, "--temperature", help="0 = greedy"),
    top_k: int | None = typer.Option(None, "--top-k"),
    top_p: float | None = typer.Option(None, "--top-p"),
    repetition_penalty: float = typer.Option(1.0, "--repetition-penalty"),
    beam: int = typer.Option(1, "--beam", help="beam width (>1: beam search, no streaming)"),
    stop: list[str] = typer.Option([], "--stop", help=r"stop sequence (repeatable; escapes like \n work)"),
    seed: int | None = typer.Option(None, "--seed"),
    n: int = typer.Option(1, "--n", help="number of texts (with --beam: the n best beams)"),
) -> None:
    """Continue a prompt with a text model; tokens stream to stdout as they are generated."""
    import genlab

    pipe = genlab.load(run)
    stops = [_unescape(s) for s in stop]
    sampling = {"temperature": temperature, "top_k": top_k, "top_p": top_p, "repetition_penalty": repetition_penalty}
    beams = pipe(prompt, max_new_tokens, num_beams=beam, stop=stops, n=n, **sampling) if beam > 1 else []
    for i in range(len(beams) if beam > 1 else n):
        if n > 1:
            console.print(f"[bold]--- sample {i + 1} ---[/]")
        sys.stdout.write(prompt)
        if beams:
            sys.stdout.write(beams[i])
        else:
            seed_i = None if seed is None else seed + i
            for piece in pipe.stream(prompt, max_new_tokens, stop=stops, seed=seed_i, **sampling):
                sys.stdout.write(piece)
                sys.stdout.flush()
        sys.stdout.write("\n")
        sys.stdout.flush()


@app.command("poem")
def poem_cmd(
    run: Path = typer.Argument(..., help="run or model directory of a character-level model trained on poems"),
    form: str = typer.Option("wuyan-jueju", "--form", help="wuyan-jueju | qiyan-jueju | wuyan-lushi | qiyan-lushi"),
    acrostic: str | None = typer.Option(None, "--acrostic", help="藏头诗: the first character of every line"),
    rhyme: bool = typer.Option(False, "--rhyme", help="the even lines end in one rhyme group"),
    n: int = typer.Option(1, "--n", help="number of poems"),
    seed: int | None = typer.Option(None, "--seed"),
    temperature: float = typer.Option(0.8, "--temperature"),
    top_k: int | None = typer.Option(None, "--top-k"),
) -> None:
    """Write Chinese classical poems whose form (and acrostic/rhyme) holds by construction."""
    import genlab
    from genlab.text.poems import get_form, split_lines

    pipe = genlab.load(run)
    width = get_form(form).chars_per_line
    for text in pipe.poem(form, n=n, acrostic=acrostic, rhyme=rhyme, seed=seed, temperature=temperature, top_k=top_k):
        lines = split_lines(text, width)
        console.print("\n".join(a + b for a, b in zip(lines[::2], lines[1::2], strict=True)) + "\n", markup=False)


def _unescape(text: str) -> str:
    r"""Turn ``\n``, ``\t`` and ``\\`` typed on a command line into the characters."""
    return text.encode("latin-1", "backslashreplace").decode("unicode_escape") if "\\" in text else text


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
    k: int | None = typer.Option(None, "--k", help="importance samples per image for nll (VAEs)"),
) -> None:
    """Evaluate a trained model (or two image folders) and record the protocol in eval.json."""
    import genlab
    from genlab.core.io import atomic_write_json

    options = {"n": n, "seed": seed, "ref": ref, "data_dir": data_dir, "extractor": extractor}
    options["inception_weights"] = str(inception_weights) if inception_weights else None
    options["k"] = k
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
