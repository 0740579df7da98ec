"""Command-line options generated from pydantic declarations (pipeline requests, eval requests, configs).

A field ``n: int = Field(16, ge=1, description="number of images")`` becomes ``--n INTEGER`` with that
help; booleans become flags (``--rhyme``; ``--x/--no-x`` when the default is true), ``Literal``
fields a choice, ``list[str]`` a repeatable option. Options the user does not give stay unset, so the
declaration's own defaults apply. ``json_schema_extra={"flag": "--guidance"}`` renames a flag and
``{"cli": False}`` keeps a field off the command line.
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
        help_text += f" [default: {default}]"
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


def model_options(model_cls: type[BaseModel], exclude: set[str] = frozenset()) -> list[click.Option]:
    """Options for every CLI field of ``model_cls`` except ``exclude``."""
    return [
        field_option(name, field)
        for name, field in model_cls.model_fields.items()
        if name not in exclude and on_cli(field)
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


def first_positional(args: list[str], name: str, usage: str) -> str | None:
    """The first argument that is not an option; None when only help was asked for (a usage error otherwise)."""
    found = next((a for a in args if not a.startswith("-")), None)
    if found is None and args and not {"--help", "-h"} & set(args):
        raise click.UsageError(f"missing {name}: `{usage}`")
    return found
