"""Inference verbs (``genlab sample``, ``generate``, ``inpaint``, ``poem``, …), generated from registered pipelines.

``genlab VERB RUN [ARGS]... [OPTIONS]`` loads RUN's model, finds the pipeline that answers VERB for it
(a verb that does not fit the run's task names the verbs that do), parses the arguments and options
that pipeline's ``Request`` declares, runs it, and saves the ``Output`` (``--out``, else a file in the
run's ``samples/``) or prints it (text) — streaming when the pipeline streams.

The run can also be given with ``--model RUN`` (``-m``), anywhere on the line; then every positional
argument belongs to the pipeline: ``genlab upscale photo.jpg photo_x3.png --model RUN --scale 3``.
Request fields declared ``json_schema_extra={"positional": True}`` are positional arguments after RUN,
in declaration order (required when the field has no default); a pipeline with ``positional_out``
takes an optional ``OUT`` argument after them, the same as ``--out`` (giving both is a usage error).
``genlab VERB RUN --help`` lists that pipeline's arguments and options; ``genlab VERB --help`` those of
every pipeline answering VERB.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from genlab.cli import render
from genlab.cli.options import (
    DeferredCommand,
    HelpArgument,
    first_positional,
    given,
    model_arguments,
    model_flag_value,
    model_options,
)
from genlab.core.console import console
from genlab.core.errors import BadInputError, GenlabError

OUT_HELP = "where to write the output (a file; for images a grid PNG, or a folder for one PNG per image)"
RUN_HELP = "the run (runs/TASK/NAME) or model directory to use; or give it with --model"
MODEL_HELP = "the run (or model directory) to use, instead of giving it as the first argument"


def verbs(run: str | None = None) -> dict[str, list]:
    """Registered pipelines by verb. With the path of a run, only its modality is imported when it has
    pipelines (the cold start of `genlab sample RUN` does not grow with the number of modalities)."""
    from genlab.core.registry import PIPELINES, load_modality

    items = None
    if run is not None and (modality := _modality_of(run)) and load_modality(modality):
        items = [(n, c) for n, c in PIPELINES.loaded() if n.startswith(f"{modality}/")]
    out: dict[str, list] = {}
    for _, cls in items or PIPELINES.items():
        out.setdefault(cls.verb, []).append(cls)
    return out


def _modality_of(run: str) -> str | None:
    """The modality prefix of the model recorded in a run or model directory (``image/dcgan`` → image);
    None when RUN is not one (the error is reported when the command loads it)."""
    from genlab.core.checkpoint import read_meta
    from genlab.core.errors import GenlabError
    from genlab.core.runs import resolve_model_dir

    try:
        name = read_meta(resolve_model_dir(run)).get("model")
    except GenlabError:
        return None
    return name.split("/", 1)[0] if isinstance(name, str) and "/" in name else None


class VerbCommand(DeferredCommand):
    """One inference verb; its options depend on the run it is given, so parsing happens in two stages."""

    def __init__(self, verb: str, pipelines: list):
        self.verb, self.pipelines = verb, pipelines
        tasks = ", ".join(sorted({p.task for p in pipelines}))
        summary = pipelines[0].description
        super().__init__(
            verb,
            help=f"{summary[0].upper()}{summary[1:]} ({tasks} runs). Options: `genlab {verb} RUN --help`.",
            short_help=f"{summary} ({tasks})",
        )

    def dispatch(self, args: list[str]) -> None:
        run = model_flag_value(args)
        as_option = run is not None
        builtin = next((p for p in self.pipelines if p.builtin_model or p.model_free), None)
        if run is None and builtin is not None and args and not {"--help", "-h"} & set(args):
            first = next((a for a in args if not a.startswith("-")), None)
            if first is None or not _names_a_run(first):
                self._run_builtin(builtin, args)
                return
        if run is None:
            usage = [f"genlab {self.verb} RUN [OPTIONS]", f"genlab {self.verb} --model RUN [OPTIONS]"]
            run = first_positional(args, "RUN", usage)
        if run is None:
            click.echo(self._overview())
            return
        from genlab.core.model import GenerativeModel
        from genlab.core.pipeline import pipeline_for
        from genlab.core.runs import resolve_model_dir

        try:
            model_dir = resolve_model_dir(run)
        except GenlabError as e:
            if not as_option and not Path(run).exists() and any(_takes_arguments(p) for p in self.pipelines):
                e.hint = f"give the run first (`genlab {self.verb} RUN …`) or with `--model RUN`; {e.hint}"
            raise
        model = GenerativeModel.from_pretrained(model_dir)
        pipeline_cls = pipeline_for(model, self.verb, self.pipelines)
        command = pipeline_command(
            pipeline_cls, callback=lambda **values: _run(pipeline_cls, model, values), run_as_option=as_option
        )
        command.main(args, prog_name=f"genlab {self.verb}", standalone_mode=False)

    def _run_builtin(self, pipeline_cls, args: list[str]) -> None:
        """``genlab VERB ARGS`` with no run: the pipeline over its built-in model (see Pipeline.builtin_model),
        or with no model (Pipeline.model_free)."""
        pipe = pipeline_cls.without_run()
        command = pipeline_command(
            pipeline_cls, callback=lambda **values: _run(pipeline_cls, pipe.model, values), run_as_option=True,
            run_optional=True,
        )  # fmt: skip
        command.main(args, prog_name=f"genlab {self.verb}", standalone_mode=False)

    def _overview(self) -> str:
        info_name = f"genlab {self.verb}"
        commands = [(cls, pipeline_command(cls, callback=None)) for cls in self.pipelines]
        forms = list(dict.fromkeys(f"{info_name} {form}" for _, c in commands for form in c.usage_forms()))
        parts = ["Usage: " + "\n       ".join(forms) + "\n"]
        for cls, command in commands:
            ctx = click.Context(command, info_name=info_name)
            formatter = ctx.make_formatter()
            command.format_body(ctx, formatter)
            parts.append(f"For {cls.task} runs ({cls.name}):\n" + formatter.getvalue())
        return "\n".join(parts)


def _names_a_run(path: str) -> bool:
    """True when ``path`` is a run or model directory."""
    from genlab.core.runs import resolve_model_dir

    try:
        resolve_model_dir(path)
    except GenlabError:
        return False
    return True


def _takes_arguments(pipeline_cls) -> bool:
    return pipeline_cls.positional_out or bool(model_arguments(pipeline_cls.request_class))


class PipelineCommand(click.Command):
    """The command of one pipeline. Its usage shows both ways of giving the run, its help lists the
    positional arguments with their help (under "Arguments:"), and a missing argument is a usage error
    that names it and shows the usage line."""

    def __init__(self, *args, run_as_option: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.run_as_option = run_as_option

    def _arguments(self) -> list[click.Argument]:
        return [p for p in self.params if isinstance(p, click.Argument)]

    def usage_forms(self) -> list[str]:
        """``RUN ARGS [OPTIONS]`` and ``ARGS --model RUN [OPTIONS]`` (after the command's name)."""
        pieces = [
            a.human_readable_name if a.required else f"[{a.human_readable_name}]"
            for a in self._arguments()
            if a.name != "run"
        ]
        return [" ".join(["RUN", *pieces, "[OPTIONS]"]), " ".join([*pieces, "--model RUN [OPTIONS]"])]

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        first, second = self.usage_forms()
        formatter.write_usage(ctx.command_path, first)
        formatter.write_usage(ctx.command_path, second, prefix="       ")

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self.format_usage(ctx, formatter)
        self.format_body(ctx, formatter)

    def format_body(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The help without the usage line: description, arguments, options, epilog."""
        self.format_help_text(ctx, formatter)
        rows = [(a.human_readable_name, getattr(a, "help_text", "")) for a in self._arguments()]
        if rows:
            with formatter.section("Arguments"):
                formatter.write_dl(rows)
        self.format_options(ctx, formatter)
        self.format_epilog(ctx, formatter)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.MissingParameter as e:
            if not isinstance(e.param, click.Argument):
                raise
            usage = f"{ctx.command_path} {self.usage_forms()[1 if self.run_as_option else 0]}"
            raise click.UsageError(f"missing {e.param.human_readable_name}: `{usage}`", ctx) from None


def pipeline_command(
    pipeline_cls, callback, run_as_option: bool = False, run_optional: bool = False
) -> PipelineCommand:
    """The concrete command of one pipeline: RUN (or ``--model RUN`` when ``run_as_option``; optional with
    ``run_optional``), the request's positional fields, OUT when the pipeline has ``positional_out``, the
    request's options and --out.

    ``callback`` receives ``run``, ``out`` (from ``--out`` or OUT) and the request's fields."""
    request_class = pipeline_cls.request_class
    params: list[click.Parameter] = []
    if not run_as_option:
        params.append(HelpArgument(["run"], help_text=RUN_HELP, metavar="RUN", type=click.Path(path_type=Path)))
    params += model_arguments(request_class)
    if pipeline_cls.positional_out:
        out_arg = HelpArgument(
            ["out_arg"], help_text=f"{OUT_HELP}; the same as --out", metavar="OUT", required=False,
            type=click.Path(path_type=Path),
        )  # fmt: skip
        params.append(out_arg)
    model = click.Option(
        ["--model", "-m", "run" if run_as_option else "model"], metavar="RUN",
        required=run_as_option and not run_optional, type=click.Path(path_type=Path), help=MODEL_HELP,
    )  # fmt: skip
    out = click.Option(["--out", "-o"], type=click.Path(path_type=Path), default=None, help=OUT_HELP)
    params += [*model_options(request_class), model, out]

    def invoke(**values):
        ctx = click.get_current_context()
        if values.pop("model", None) is not None:  # only reachable when this command is used directly
            raise click.UsageError("the run is given twice: as the first argument and with --model", ctx)
        out_arg = values.pop("out_arg", None)
        if out_arg is not None:
            if values.get("out") is not None:
                raise click.UsageError(
                    f"the output is given twice: OUT ({out_arg}) and --out ({values['out']}); give one of them", ctx
                )
            values["out"] = out_arg
        return callback(**values)

    return PipelineCommand(
        pipeline_cls.verb, params=params, callback=invoke if callback is not None else None,
        help=pipeline_cls.description, run_as_option=run_as_option,
    )  # fmt: skip


def _run(pipeline_cls, model, values: dict) -> None:
    run, out = values.pop("run"), values.pop("out")
    pipe = pipeline_cls(model)
    request = pipe.request(**given(values))
    if pipeline_cls.streams and out is None:
        _stream(pipe, request)
        return
    output = pipe.run(request)
    text = output.text()
    if out is None and text is not None:
        console.print(text, end="", markup=False, highlight=False, soft_wrap=True)
        return
    render.saved(save_output(output, out or default_out(run, pipe.default_filename(request))))


def save_output(output, path: Path) -> Path:
    """``output.save(path)``; a path that cannot be written is a user error, not an internal one."""
    try:
        return output.save(path)
    except OSError as e:
        raise BadInputError(
            f"cannot write {path}: {e.strerror or e}", "choose an --out path in a folder you can write to"
        ) from None


def _stream(pipe, request) -> None:
    current = None
    for index, piece in pipe.stream_request(request):
        if index != current and getattr(request, "n", 1) > 1:
            console.print(f"[bold]--- sample {index + 1} ---[/]")
        current = index
        sys.stdout.write(piece)
        sys.stdout.flush()


def default_out(run: Path | None, filename: str) -> Path:
    """``RUN/samples/<filename>`` for a run directory, else ``filename`` in the working directory."""
    return run / "samples" / filename if run is not None and (run / "config.yaml").is_file() else Path(filename)
