"""``genlab train TASK [options]``: the common training options plus the ones TASK declares.

``genlab train TASK --help`` lists both; the command calls :func:`genlab.train` (never the engine).
"""

from __future__ import annotations

import signal
from pathlib import Path

import click

from genlab.cli import render
from genlab.cli.options import DeferredCommand, field_option, first_positional, given

RUNS_DIR_HELP = "where runs live (default ./runs or $GENLAB_RUNS_DIR)"

# (flags, key, type, help): key is a genlab.train argument or a train.* field
COMMON = [
    (["--model", "-m"], "model", str, "model name (see `genlab models`)"),
    (["--data", "-d"], "data", str, "dataset name (builtin:mnist-5k, mnist, …) or a path"),
    (["--name"], "name", str, "run name; the same name resumes"),
    (["--max-minutes"], "max_minutes", float, "wall-clock budget in minutes (resumes included)"),
    (["--epochs"], "epochs", int, "passes over the training data"),
    (["--max-steps"], "max_steps", int, "training batches"),
    (["--batch-size"], "batch_size", int, "examples per batch"),
    (["--seed"], "seed", int, "random seed"),
    (["--device"], "device", str, "auto, cpu, cuda, mps"),
    (["--devices"], "devices", int, "processes/devices; >1 trains data-parallel"),
    (["--strategy"], "strategy", click.Choice(["auto", "ddp", "ddp_spawn"]), "distributed strategy"),
    (["--ema"], "ema_decay", float, "keep an EMA of the weights with this decay (e.g. 0.999); it is exported"),
    (["--threads"], "threads", int, "torch CPU threads (1 is faster on a busy machine)"),
    (
        ["--precision"],
        "precision",
        click.Choice(["32", "bf16-mixed", "16-mixed"]),
        "bf16-mixed: compute in bfloat16, weights in float32 (faster on CPUs with AVX-512 BF16/AMX and recent GPUs)",
    ),
    (["--data-dir"], "data_dir", str, "folder of standard datasets"),
    # a key with "__" sets a nested train field: dp__epsilon → train.dp.epsilon
    (["--dp-epsilon"], "dp__epsilon", float, "train with differential privacy (DP-SGD) to this ε over the whole run"),
    (["--dp-delta"], "dp__delta", float, "δ of the DP guarantee (default: 1/(10·n) rounded down to a power of ten)"),
    (["--dp-max-grad-norm"], "dp__max_grad_norm", float, "per-example gradient clipping norm of DP training"),
]


class TrainCommand(DeferredCommand):
    """``genlab train``: TASK is read first, then the options of that task are parsed."""

    def __init__(self):
        super().__init__(
            "train",
            help="Train a model of TASK; `genlab train TASK --help` lists the task's own options.",
            short_help="train a model (resumes a run of the same name)",
        )

    def dispatch(self, args: list[str]) -> None:
        from genlab.core.registry import TASKS

        task_name = first_positional(args, "TASK", "genlab train TASK [OPTIONS]")
        if task_name is None:
            names = ", ".join(TASKS.names())
            command = task_command(None)
            help_text = command.get_help(click.Context(command, info_name="genlab train"))
            click.echo(help_text + f"\n\nTasks: {names}. Task options: `genlab train TASK --help`.")
            return
        task = TASKS.get(task_name)
        task_command(task).main(args, prog_name="genlab train", standalone_mode=False)


def task_command(task) -> click.Command:
    """The ``train`` command of one task (``None``: the common options only)."""
    params: list[click.Parameter] = [click.Argument(["task"])]
    params += [click.Option([*flags, key], type=kind, default=None, help=h) for flags, key, kind, h in COMMON]
    params += [
        click.Option(["--config", "-c", "config"], type=click.Path(path_type=Path), help="YAML/JSON run config"),
        click.Option(["--set", "overrides"], multiple=True, help="dotted override, e.g. model.latent_dim=32"),
        click.Option(["--no-progress", "no_progress"], is_flag=True, default=False, help="no progress bar"),
        click.Option(["--runs-dir", "runs_dir"], type=click.Path(path_type=Path), default=None, help=RUNS_DIR_HELP),
    ]
    task_keys: dict[str, str] = {}
    if task is not None:
        for flag, dotted in task.cli_options.items():
            key = "task__" + dotted.replace(".", "__")
            task_keys[key] = dotted
            params.append(field_option(key, task.option_field(dotted), flag, False, dotted.startswith("data.")))
    help_text = f"Train a {task.name} model: {task.description}." if task is not None else "Train a model."
    return click.Command(
        "train", params=params, callback=lambda **values: _train(task, task_keys, values), help=help_text
    )


def _train(task, task_keys: dict[str, str], values: dict) -> None:
    import genlab

    task_values = given({k: values.pop(k) for k in task_keys})
    data_options = {"data_dir": values.pop("data_dir")}
    model_options = {}
    for key, value in task_values.items():
        section, field = task_keys[key].split(".", 1)
        (data_options if section == "data" else model_options)[field] = value
    fixed = {k: values.pop(k) for k in ("task", "model", "data", "name", "config", "overrides", "runs_dir")}
    train_options = {key.replace("__", "."): value for key, value in given(values).items()}
    if train_options.pop("no_progress", False):
        train_options["progress"] = False
    result = genlab.train(
        task.name,
        fixed["model"],
        fixed["data"],
        fixed["name"],
        runs_dir=fixed["runs_dir"],
        config=fixed["config"],
        overrides=list(fixed["overrides"]),
        data_options=given(data_options),
        model_options=model_options,
        epochs=train_options.pop("epochs", None),
        **train_options,
    )
    render.train_summary(result)
    if result.status == "interrupted":  # the shell's convention: 128 + the signal's number (130 for Ctrl-C)
        raise SystemExit(128 + getattr(signal.Signals, result.signal or "SIGINT", signal.SIGINT).value)
