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
    (["--num-nodes"], "num_nodes", int, "machines in a multi-node run (launched by torchrun or SLURM)"),
    (["--strategy"], "strategy", click.Choice(["auto", "ddp", "ddp_spawn"]), "distributed strategy"),
    (["--ema"], "ema_decay", float, "keep an EMA of the weights with this decay (e.g. 0.999; 0: none); it is exported"),
    (["--threads"], "threads", int, "torch CPU threads (1 is faster on a busy machine)"),
    (["--init-from"], "init_from", str, "start from the weights of this run or model folder (fine-tuning)"),
    (["--grad-clip"], "grad_clip", float, "clip the gradient norm of every optimizer step to this (e.g. 1.0)"),
    (["--early-stop"], "early_stop", int, "stop after N validations without a lower val_loss; export the best"),
    (
        ["--precision"],
        "precision",
        click.Choice(["32", "bf16-mixed", "16-mixed"]),
        "bf16-mixed: compute in bfloat16, weights in float32 (faster on CPUs with AVX-512 BF16/AMX and recent GPUs)",
    ),
    (["--data-dir"], "data_dir", str, "folder of standard datasets"),
    (
        ["--logger"],
        "logger",
        click.Choice(["none", "tensorboard", "mlflow"]),
        "also log losses, config, samples and the model card to TensorBoard or MLflow",
    ),
    (["--tracking-uri"], "tracking_uri", str, "MLflow tracking URI (default: a file store in the run folder)"),
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


def task_command(task, fit_form: bool = False) -> click.Command:
    """The ``train`` command of one task (``None``: the common options only).

    ``fit_form``: the task's ``genlab GROUP fit DATA [OPTIONS]`` form instead (``genlab synth fit patients.csv``):
    no TASK argument, the data as the first argument (``--data`` still works)."""
    params: list[click.Parameter] = [] if fit_form else [click.Argument(["task"])]
    if fit_form:
        params.append(click.Argument(["data_arg"], required=False, metavar="DATA"))
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

    def callback(**values):
        if fit_form:
            data_arg = values.pop("data_arg")
            if data_arg is not None and values.get("data") is not None:
                raise click.UsageError(f"the data is given twice: DATA ({data_arg}) and --data ({values['data']})")
            values["data"] = values["data"] if data_arg is None else data_arg
            values["task"] = task.name
        _train(task, task_keys, values)

    return click.Command("fit" if fit_form else "train", params=params, callback=callback, help=help_text)


class TaskGroupCommand(click.Group):
    """``genlab GROUP …`` for a task that declares ``command_group`` (``genlab synth fit|sample|report``): ``fit``
    trains the task's model on DATA (as ``genlab train TASK --data DATA``), the other commands are the verbs of
    the task's pipelines (as ``genlab VERB RUN``)."""

    def __init__(self, task, pipelines_by_verb: dict[str, list]):
        self.task = task
        self.by_verb = {v: [p for p in ps if p.task == task.name] for v, ps in pipelines_by_verb.items()}
        self.by_verb = {v: ps for v, ps in self.by_verb.items() if ps}
        super().__init__(
            task.command_group,
            help=f"{task.description[0].upper()}{task.description[1:]}: `fit` trains on a table, "
            f"the other commands use a fitted run.",
            short_help=f"{task.name}: fit, " + ", ".join(sorted(self.by_verb)),
        )

    def list_commands(self, ctx: click.Context) -> list[str]:
        return ["fit", *sorted(self.by_verb)]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        from genlab.cli.infer import VerbCommand

        if name == "fit":
            return task_command(self.task, fit_form=True)
        return VerbCommand(name, self.by_verb[name]) if name in self.by_verb else None


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
