"""Command-line options generated from pydantic declarations (pipeline requests, eval requests, configs).

A field ``n: int = Field(16, ge=1, description="number of images")`` becomes ``--n INTEGER`` with that
help; booleans become flags (``--rhyme``; ``--x/--no-x`` when the default is true), ``Literal``
fields a choice, ``list[str]`` a repeatable option. Options the user does not give stay unset, so the
declaration's own defaults apply. ``json_schema_extra={"flag": "--guidance"}`` renames a flag and
``{"cli": False}`` keeps a field off the command line.

``json_schema_extra={"positional": True}`` makes a field a positional argument instead (``IMAGE``, in
declaration order; required when the field has no default): :func:`model_arguments` builds those,
:func:`model_options` leaves them out. Click shows no help for arguments on every version, so each
carries its help text in :class:`HelpArgument` for the command to list under "Arguments:".
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any, Literal

import click
from pydantic import BaseModel
from pydantic.fields import FieldInfo

_SCALARS = {int: click.INT, float: click.FLOAT, str: click.STRING, Path: click.Path(path_type=str)}


def _without_none(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(annotation) if a is not type(None)]
    return [annotation]


def field_flag(name: str, field: FieldInfo) -> str:
    """The ``--flag`` of a field."""
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    return str(extra.get("flag") or "--" + name.replace("_", "-"))


def on_cli(field: FieldInfo) -> bool:
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    return extra.get("cli", True) is not False


def is_positional(field: FieldInfo) -> bool:
    """Whether a field is a positional argument (``json_schema_extra={"positional": True}``)."""
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    return extra.get("positional", False) is True and on_cli(field)


class HelpArgument(click.Argument):
    """A positional argument with help text (``help_text``), which the command lists under "Arguments:"."""

    def __init__(self, param_decls: list[str], help_text: str = "", **attrs: Any):
        super().__init__(param_decls, **attrs)
        self.help_text = help_text


def field_option(
    name: str, field: FieldInfo, flag: str | None = None, required: bool | None = None, show_default: bool = True
) -> click.Option:
    """A click option for one pydantic field (``name`` is the key the parsed value is stored under)."""
    flag = flag or field_flag(name, field)
    help_text = field.description or name.replace("_", " ")
    default = None if field.is_required() else field.default
    kinds = _without_none(field.annotation)
    kind = kinds[0]
    required = field.is_required() if required is None else required
    if kind is bool:
        if default is True:
            return click.Option([f"{flag}/--no-{flag[2:]}", name], default=None, help=help_text)
        return click.Option([flag, name], is_flag=True, default=None, help=help_text)
    if show_default and default not in (None, [], ()):
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        help_text += f" [default: {extra.get('cli_default', default)}]"  # cli_default: as typed, e.g. -5:20
    if typing.get_origin(kind) is Literal:
        values = typing.get_args(kind)
        by_text = {str(v): v for v in values}  # Literal[1, 3] takes the ints, not "1"

        def typed(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
            return None if value is None else by_text[value]

        return click.Option(
            [flag, name], type=click.Choice(list(by_text)), default=None, required=required, help=help_text,
            callback=typed,
        )  # fmt: skip
    if typing.get_origin(kind) is list:
        return click.Option([flag, name], multiple=True, default=None, required=required, help=help_text)
    scalar = next((_SCALARS[k] for k in kinds if k in _SCALARS), click.STRING)
    return click.Option([flag, name], type=scalar, default=None, required=required, help=help_text)


def field_argument(name: str, field: FieldInfo) -> HelpArgument:
    """A positional argument (metavar ``NAME``) for one single-valued pydantic field; optional when it has a default."""
    kinds = _without_none(field.annotation)
    kind = kinds[0]
    if kind is bool or typing.get_origin(kind) in (list, tuple, set, dict):
        raise TypeError(f"field '{name}' cannot be positional: only single values (not {kind}) can")
    help_text = field.description or name.replace("_", " ")
    default = None if field.is_required() else field.default
    if default not in (None, [], ()):
        help_text += f" [default: {default}]"
    attrs: dict[str, Any] = {"required": field.is_required(), "metavar": name.upper()}
    if typing.get_origin(kind) is Literal:
        by_text = {str(v): v for v in typing.get_args(kind)}
        help_text += f" (one of: {', '.join(by_text)})"
        attrs["type"] = click.Choice(list(by_text))
        attrs["callback"] = lambda ctx, param, value: None if value is None else by_text[value]
    else:
        attrs["type"] = next((_SCALARS[k] for k in kinds if k in _SCALARS), click.STRING)
    return HelpArgument([name], help_text=help_text, **attrs)


def model_arguments(model_cls: type[BaseModel]) -> list[HelpArgument]:
    """Positional arguments for the positional CLI fields of ``model_cls``, in declaration order."""
    return [field_argument(name, field) for name, field in model_cls.model_fields.items() if is_positional(field)]


def model_options(model_cls: type[BaseModel], exclude: set[str] = frozenset()) -> list[click.Option]:
    """Options for every CLI field of ``model_cls`` except ``exclude`` and the positional ones."""
    return [
        field_option(name, field)
        for name, field in model_cls.model_fields.items()
        if name not in exclude and on_cli(field) and not is_positional(field)
    ]


def given(values: dict[str, Any]) -> dict[str, Any]:
    """The options the user gave: drops unset (None) values and empty repeatable options."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in values.items() if v is not None and v != ()}


class DeferredCommand(click.Command):
    """A command whose options depend on its first argument (a task, a run): it takes the raw arguments
    and :meth:`dispatch` builds and runs the concrete command once that argument is known."""

    def __init__(self, name: str, help: str, short_help: str, interspersed: bool = False):
        super().__init__(
            name,
            params=[click.Argument(["args"], nargs=-1, type=click.UNPROCESSED)],
            callback=lambda args: self.dispatch(list(args)),
            help=help,
            short_help=short_help,
            context_settings={"ignore_unknown_options": True, "allow_interspersed_args": interspersed},
            add_help_option=False,
        )

    def dispatch(self, args: list[str]) -> None:
        raise NotImplementedError


def first_positional(args: list[str], name: str, usage: str | list[str]) -> str | None:
    """The first argument that is not an option; None when only help was asked for (a usage error otherwise).

    ``usage``: the command line(s) the error shows (several: the forms a command accepts)."""
    found = next((a for a in args if not a.startswith("-")), None)
    if found is None and args and not {"--help", "-h"} & set(args):
        forms = [usage] if isinstance(usage, str) else usage
        raise click.UsageError(f"missing {name}: " + " or ".join(f"`{form}`" for form in forms))
    return found


MODEL_FLAGS = ("--model", "-m")


def model_flag_value(args: list[str], strict: bool = True) -> str | None:
    """The value of ``--model``/``-m`` in raw arguments (``--model X``, ``--model=X``, ``-m X``, ``-mX``, as
    click reads them); None when it is not there. A flag without a value is a usage error (None unless ``strict``).
    """
    for i, arg in enumerate(args):
        if arg == "--":
            break
        value = None
        if arg in MODEL_FLAGS:
            value = args[i + 1] if i + 1 < len(args) and not args[i + 1].startswith("-") else ""
        elif arg.startswith("--model="):
            value = arg.split("=", 1)[1]
        elif arg.startswith("-m") and not arg.startswith("--"):
            value = arg[2:]
        if value is None:
            continue
        if not value and strict:
            raise click.UsageError("--model needs a value: `--model RUN` (a run or model directory)")
        return value or None
    return None
