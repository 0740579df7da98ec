"""Inference verbs (``genlab sample``, ``generate``, ``inpaint``, ``poem``, …), generated from registered pipelines.

``genlab VERB RUN [options]`` loads RUN's model, finds the pipeline that answers VERB for it
(a verb that does not fit the run's task names the verbs that do), parses the options that
pipeline's ``Request`` declares, runs it, and saves the ``Output`` (``--out``, else a file in the
run's ``samples/``) or prints it (text) — streaming when the pipeline streams.
``genlab VERB RUN --help`` lists that pipeline's own options.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from genlab.cli import render
from genlab.cli.options import DeferredCommand, first_positional, given, model_options
from genlab.core.console import console
from genlab.core.errors import BadInputError

OUT_HELP = "where to write the output (a file; for images a grid PNG, or a folder for one PNG per image)"


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
        run = first_positional(args, "RUN", f"genlab {self.verb} RUN [OPTIONS]")
        if run is None:
            click.echo(self._overview())
            return
        from genlab.core.model import GenerativeModel
        from genlab.core.pipeline import pipeline_for
        from genlab.core.runs import resolve_model_dir

        model = GenerativeModel.from_pretrained(resolve_model_dir(run))
        pipeline_cls = pipeline_for(model, self.verb, self.pipelines)
        command = pipeline_command(pipeline_cls, callback=lambda **values: _run(pipeline_cls, model, values))
        command.main(args, prog_name=f"genlab {self.verb}", standalone_mode=False)

    def _overview(self) -> str:
        parts = [f"Usage: genlab {self.verb} RUN [OPTIONS]\n"]
        for cls in self.pipelines:
            command = pipeline_command(cls, callback=None)
            ctx = click.Context(command, info_name=f"genlab {self.verb}")
            parts.append(f"For {cls.task} runs ({cls.name}):\n" + command.get_help(ctx).split("\n", 1)[1])
        return "\n".join(parts)


def pipeline_command(pipeline_cls, callback) -> click.Command:
    """The concrete command of one pipeline: RUN, the request's options and --out."""
    params = [
        click.Argument(["run"], type=click.Path(path_type=Path)),
        *model_options(pipeline_cls.request_class),
        click.Option(["--out", "-o"], type=click.Path(path_type=Path), default=None, help=OUT_HELP),
    ]
    return click.Command(pipeline_cls.verb, params=params, callback=callback, help=pipeline_cls.description)


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


def default_out(run: Path, filename: str) -> Path:
    """``RUN/samples/<filename>`` for a run directory, else ``filename`` in the working directory."""
    return run / "samples" / filename if (run / "config.yaml").is_file() else Path(filename)
