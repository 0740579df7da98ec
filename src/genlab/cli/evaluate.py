"""``genlab eval RUN [options]`` and ``genlab eval --fake A --real B``: metrics with their protocol.

The options after the common ones are the run's task's eval options (its ``eval_request_class``);
``genlab eval RUN --help`` lists them.
"""

from __future__ import annotations

from pathlib import Path

import click

from genlab.cli import render
from genlab.cli.options import DeferredCommand, given, model_options
from genlab.core.errors import BadInputError


class EvalCommand(DeferredCommand):
    """``genlab eval``: the task (from RUN or ``--task``) decides the options."""

    def __init__(self):
        super().__init__(
            "eval",
            help="Evaluate a trained model (or two folders of outputs) and record the protocol in eval.json; "
            "`genlab eval RUN --help` lists the task's options.",
            short_help="evaluate a model or two folders; the protocol is recorded",
            interspersed=True,
        )

    def dispatch(self, args: list[str]) -> None:
        task = _task_of(args)
        eval_command(task).main(args, prog_name="genlab eval", standalone_mode=False)


def _option_value(args: list[str], flag: str) -> str | None:
    for i, a in enumerate(args):
        if a == flag and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return None


def _task_of(args: list[str]):
    """The task whose options apply: RUN's, ``--task``'s, or the one task that evaluates folders."""
    from genlab.core.registry import TASKS

    if name := _option_value(args, "--task"):
        return TASKS.get(name)
    run = _run_arg(args)
    if run is not None:
        from genlab.core.checkpoint import read_meta
        from genlab.core.registry import MODELS
        from genlab.core.runs import resolve_model_dir

        meta = read_meta(resolve_model_dir(run))
        model_cls = MODELS.get(meta["model"])
        # a model class serving several tasks (an encoder-decoder: seq2seq, summarization, dialogue) records
        # the one this model was trained for in its config
        recorded = meta["config"].get("task") if isinstance(meta["config"], dict) else None
        return TASKS.get(recorded if recorded in getattr(model_cls, "tasks", ()) else model_cls.task)
    folder_tasks = [t for _, t in TASKS.items() if t.evaluates_files()]
    if len(folder_tasks) == 1 or not {"--fake", "--real"} & set(args):
        return folder_tasks[0] if len(folder_tasks) == 1 else None
    raise BadInputError("several tasks evaluate folders", "choose one with --task (see `genlab models`)")


def _run_arg(args: list[str]) -> str | None:
    """The first positional argument (values of options that take one are skipped)."""
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("-"):
            i += 1 if ("=" in a or a in ("--help", "-h") or i + 1 >= len(args)) else 2
            continue
        return a
    return None


def eval_command(task) -> click.Command:
    """The ``eval`` command for ``task`` (None: only the common options)."""
    params: list[click.Parameter] = [
        click.Argument(["run"], required=False, type=click.Path(path_type=Path)),
        click.Option(["--metrics", "metrics"], default=None, help="comma-separated metric names (default: the task's)"),
        click.Option(["--fake", "fake"], type=click.Path(path_type=Path), help="folder of generated outputs"),
        click.Option(["--real", "real"], type=click.Path(path_type=Path), help="folder of real data"),
        click.Option(["--task", "task_name"], default=None, help="task of the folders (folder mode)"),
        click.Option(["--out", "-o", "out"], type=click.Path(path_type=Path), help="also write the result JSON here"),
    ]
    if task is not None:
        params += model_options(task.eval_request_class)
    help_text = "Evaluate a model or two folders." + (f" Options of {task.name} follow --out." if task else "")
    return click.Command("eval", params=params, callback=lambda **v: _evaluate(task, v), help=help_text)


def _evaluate(task, values: dict) -> None:
    import genlab
    from genlab.core.io import atomic_write_json

    run, metrics, fake, real, out = (values.pop(k) for k in ("run", "metrics", "fake", "real", "out"))
    values.pop("task_name")
    options = given(values)
    if fake is not None or real is not None:
        if fake is None or real is None or run is not None:
            raise BadInputError("folder mode needs both --fake and --real and no RUN", "genlab eval --fake A --real B")
        result = task.evaluate_files(fake, real, metrics, options)
    elif run is None:
        raise BadInputError("nothing to evaluate", "pass a run directory, or --fake and --real folders")
    else:
        result = genlab.evaluate(run, metrics, **options)
    if out is not None:
        try:
            atomic_write_json(out, result)
        except OSError as e:
            raise BadInputError(f"cannot write {out}: {e.strerror or e}", "choose a writable --out path") from None
    render.eval_result(result, run)
