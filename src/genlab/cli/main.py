"""The ``genlab`` command line: parse → call the API → render.

Fixed commands (``train``, ``eval``, ``chat``, ``models``, ``runs``, ``info``) live in their own modules;
the inference verbs (``sample``, ``generate``, ``inpaint``, …) are generated from the registered
pipelines, so this package imports no modality. User errors print ``error: …`` / ``hint: …`` and
exit 2 (bad input) or 1 (internal); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys
import traceback

import click
import typer
from typer.core import TyperGroup

from genlab.cli.chat import ChatCommand
from genlab.cli.compress import register as register_compress_command
from genlab.cli.distill import register as register_distill_command
from genlab.cli.evaluate import EvalCommand
from genlab.cli.export import register as register_export_command
from genlab.cli.guidance import register as register_guidance_command
from genlab.cli.infer import VerbCommand, verbs
from genlab.cli.options import model_flag_value
from genlab.cli.runs import register as register_run_commands
from genlab.cli.serve import register as register_serve_command
from genlab.cli.studio import register as register_studio_command
from genlab.cli.train import TaskGroupCommand, TrainCommand
from genlab.cli.tune import register as register_tune_command
from genlab.core.console import console
from genlab.core.errors import GenlabError


class GenlabGroup(TyperGroup):
    """Adds ``train``, ``eval`` and one command per pipeline verb to the typer commands, looked up lazily."""

    FIXED = {"train": TrainCommand, "eval": EvalCommand, "chat": ChatCommand}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.FIXED, *verbs(), *_task_groups()})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return self._command(ctx, name, None)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        # `genlab VERB RUN …` or `genlab VERB … --model RUN`: the run's modality alone is imported to find VERB
        run = None
        if args:
            run = model_flag_value(args[1:], strict=False) or next((a for a in args[1:] if not a.startswith("-")), None)
        command = self._command(ctx, args[0], run) if args else None
        if command is None:
            return super().resolve_command(ctx, args)
        return command.name, command, args[1:]

    def _command(self, ctx: click.Context, name: str, run: str | None) -> click.Command | None:
        if name in self.FIXED:
            return self.FIXED[name]()
        command = super().get_command(ctx, name)
        if command is not None:
            return command
        pipelines = verbs(run).get(name) or verbs().get(name)
        if pipelines:
            return VerbCommand(name, pipelines)
        task = _task_groups().get(name)
        return TaskGroupCommand(task, verbs()) if task is not None else None


def _task_groups() -> dict:
    """Tasks that gather their commands under one name (``genlab synth …``), by that name."""
    from genlab.core.registry import TASKS

    return {task.command_group: task for _, task in TASKS.items() if getattr(task, "command_group", "")}


app = typer.Typer(
    cls=GenlabGroup,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="genlab — train, sample, evaluate and inspect generative models.",
)


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="show tracebacks")) -> None:
    """genlab — train, sample, evaluate and inspect generative models."""


register_run_commands(app)
register_export_command(app)
register_tune_command(app)
register_compress_command(app)
register_distill_command(app)
register_guidance_command(app)
register_serve_command(app)
register_studio_command(app)


def _click_errors(name: str) -> tuple[type[BaseException], ...]:
    """``click.exceptions.<name>`` and, where typer bundles its own copy of click (typer ≥ 0.29), that copy's
    class too: typer's own commands raise the bundled ones."""
    classes = [getattr(click.exceptions, name)]
    try:
        from typer._click import exceptions as bundled
    except ImportError:
        return tuple(classes)
    return tuple(classes + [getattr(bundled, name)] if hasattr(bundled, name) else classes)


USAGE_ERRORS, EXITS, ABORTS = _click_errors("ClickException"), _click_errors("Exit"), _click_errors("Abort")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``genlab`` script: maps errors to messages and exit codes."""
    command = typer.main.get_command(app)
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        code = command.main(args=args, prog_name="genlab", standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except USAGE_ERRORS as e:  # usage errors: unknown option, missing argument, bad value
        console.print(f"[bold red]error:[/] {e.format_message()}", soft_wrap=True)
        command_path = e.ctx.command_path if getattr(e, "ctx", None) else "genlab"
        console.print(f"[bold]hint:[/] see `{command_path} --help`", soft_wrap=True)
        sys.exit(e.exit_code)
    except EXITS as e:  # --help of a command group, printed already
        sys.exit(e.exit_code)
    except ABORTS:
        console.print("[bold red]error:[/] aborted")
        sys.exit(130)
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
