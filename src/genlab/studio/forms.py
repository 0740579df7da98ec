"""Forms and result views of the studio, from a pipeline's declarations alone.

:func:`form_specs` turns a :class:`~genlab.core.pipeline.Request` class into :class:`WidgetSpec` s (which widget,
label, limits, default), :func:`request_values` turns what the widgets hold back into request values, and
:func:`output_views` turns an :class:`~genlab.core.pipeline.Output` into things to show, chosen by its formats.
Nothing here imports gradio or a modality package: :mod:`genlab.studio.app` maps each spec to a widget.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import types
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from genlab.core.errors import BadInputError
from genlab.serve.fields import NAME_VALUE, UploadError, extra, sniff

#: Text fields typed by people at length get a multi-line box.
MULTILINE_FIELDS = ("prompt", "message", "source")
#: Upload widget per file kind; the other kinds take a plain file upload.
UPLOAD_WIDGETS = {"image": "image", "audio": "audio"}
TABLE_PREVIEW_ROWS = 200  # rows a results table shows; the whole table is offered as a file


@dataclass
class WidgetSpec:
    """One form widget for one request field.

    ``widget``: ``slider``, ``number``, ``checkbox``, ``dropdown``, ``textbox``, ``lines`` (one item per line),
    ``image``, ``audio`` or ``file`` (uploads; ``multiple`` for a list of files). ``names``: an upload that also
    takes a name (``builtin:NAME``) typed in a text box beside it.
    """

    name: str
    widget: str
    label: str
    help: str = ""
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False
    choices: list[Any] = field(default_factory=list)
    lines: int = 1
    file_kind: str = ""
    names: bool = False
    multiple: bool = False
    required: bool = False
    parse_json: bool = False  # a text box whose value is read as JSON when it parses (``3``, ``[1, 2]``)


def _split_optional(annotation: Any) -> tuple[list[Any], bool]:
    """The member types of ``annotation`` without None, and whether None is allowed."""
    union = get_origin(annotation) in (Union, types.UnionType)
    members = list(get_args(annotation)) if union else [annotation]
    optional = type(None) in members
    return [m for m in members if m is not type(None)], optional


def _bounds(info: Any) -> tuple[float | None, float | None]:
    low = high = None
    for m in info.metadata:
        low = getattr(m, "ge", None) if getattr(m, "ge", None) is not None else low
        low = getattr(m, "gt", None) if getattr(m, "gt", None) is not None else low
        high = getattr(m, "le", None) if getattr(m, "le", None) is not None else high
        high = getattr(m, "lt", None) if getattr(m, "lt", None) is not None else high
    return low, high


def _default(info: Any) -> tuple[Any, bool]:
    """(default value, required)."""
    if info.default_factory is not None:
        return info.default_factory(), False
    if info.default is PydanticUndefined:
        return None, True
    return info.default, False


def _is_list(member: Any) -> bool:
    return get_origin(member) is list


def shown_fields(request_class: type[BaseModel]) -> list[str]:
    """Fields the studio shows: all but those kept off the server (``server: False``) or off the CLI
    (``cli: False``, values passed from Python), with ``seed`` always kept."""
    out = []
    for name, info in request_class.model_fields.items():
        ex = extra(info)
        if name != "seed" and (ex.get("server") is False or ex.get("cli") is False):
            continue
        out.append(name)
    if "seed" not in out:
        out.append("seed")
    return out


def field_spec(request_class: type[BaseModel], name: str) -> WidgetSpec:
    """The widget of one field of ``request_class``."""
    info = request_class.model_fields.get(name)
    if info is None:  # a request without seed (not a genlab Request): still offer one
        return WidgetSpec("seed", "number", "seed", "random seed", integer=True)
    ex = extra(info)
    members, optional = _split_optional(info.annotation)
    default, required = _default(info)
    base = {"name": name, "label": name.replace("_", " "), "help": info.description or "", "default": default,
            "required": required}  # fmt: skip
    if ex.get("file"):
        kind = str(ex["file"])
        multiple = any(_is_list(m) for m in members)
        widget = "file" if multiple else UPLOAD_WIDGETS.get(kind, "file")
        return WidgetSpec(**base, widget=widget, file_kind=kind, names=bool(ex.get("names")), multiple=multiple)
    if len(members) == 1:
        member = members[0]
        if get_origin(member) is Literal:
            return WidgetSpec(**base, widget="dropdown", choices=list(get_args(member)))
        if member is bool:
            return WidgetSpec(**{**base, "default": bool(default)}, widget="checkbox")
        if member in (int, float) and default is None and not required:
            # a number box cannot be empty (the browser shows 0): a text box, empty = the pipeline's default
            low, high = _bounds(info)
            return WidgetSpec(**{**base, "default": ""}, widget="textbox", parse_json=True, integer=member is int,
                              minimum=low, maximum=high)  # fmt: skip
        if member in (int, float):
            low, high = _bounds(info)
            integer = member is int
            slider = low is not None and high is not None and default is not None
            return WidgetSpec(**base, widget="slider" if slider else "number", minimum=low, maximum=high,
                              integer=integer)  # fmt: skip
        if _is_list(member) and get_args(member) in ((str,), ()):
            return WidgetSpec(**{**base, "default": "\n".join(default or [])}, widget="lines", lines=3)
        if member is str:
            multi = name in MULTILINE_FIELDS
            return WidgetSpec(**base, widget="textbox", lines=4 if multi else 1)
    # unions (``int | list[int]``), lists of numbers, anything else: a text box read as JSON where it parses
    shown = "" if default is None else json.dumps(default) if not isinstance(default, str) else default
    return WidgetSpec(**{**base, "default": shown}, widget="textbox", parse_json=str not in members)


def form_specs(request_class: type[BaseModel]) -> list[WidgetSpec]:
    """The form of a request: uploads first, then the other shown fields in declaration order, ``seed`` last."""
    specs = [field_spec(request_class, n) for n in shown_fields(request_class)]
    uploads = [s for s in specs if s.file_kind]
    seed = [s for s in specs if s.name == "seed"]
    rest = [s for s in specs if not s.file_kind and s.name != "seed"]
    return uploads + rest + seed


# ----------------------------------------------------------------------------- widget values → request values
def checked_upload(kind: str, path: str | Path, folder: Path, field_name: str = "") -> str:
    """The path of an uploaded file after checking by its content that it is a ``kind`` file; a copy under
    ``folder`` with the right suffix when its name says otherwise. Raises :class:`BadInputError`."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise BadInputError(f"cannot read the uploaded file for '{field_name}': {e}") from None
    try:
        suffix = sniff(kind, data, path.name)
    except UploadError as e:
        raise BadInputError(f"'{field_name}': {e.message}", f"upload a {kind} file") from None
    if path.suffix.lower() == suffix:
        return str(path)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{path.stem or 'upload'}-{uuid.uuid4().hex[:8]}{suffix}"
    shutil.copyfile(path, target)
    return str(target)


def _upload_value(spec: WidgetSpec, value: Any, name_text: Any, folder: Path) -> Any:
    paths = [v for v in (value if isinstance(value, list) else [value]) if v]
    paths = [getattr(p, "path", None) or getattr(p, "name", None) or p for p in paths]  # FileData / temp files
    if paths:
        checked = [checked_upload(spec.file_kind, p, folder, spec.name) for p in paths]
        return checked if spec.multiple else checked[0]
    text = (name_text or "").strip() if isinstance(name_text, str) else ""
    if text:
        if not NAME_VALUE.match(text):
            raise BadInputError(f"'{spec.name}': '{text}' is not a name", "give a name such as builtin:NAME, or upload")
        return [text] if spec.multiple else text
    return None


def _text_value(spec: WidgetSpec, value: Any) -> Any:
    text = str(value)
    if spec.widget == "lines":
        items = [line.strip() for line in text.splitlines() if line.strip()]
        return items or None
    if spec.lines == 1 and not text.strip():
        return None
    if spec.parse_json:
        try:
            return json.loads(text)
        except (json.JSONDecodeError, ValueError):
            return text
    return text


def request_values(specs: list[WidgetSpec], values: dict[str, Any], folder: Path,
                   names: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """Request values from widget values by field name (``names``: the text typed beside uploads that take
    names). Empty widgets are left out so the request's defaults apply; uploads are checked by content and may
    be copied under ``folder``."""
    out: dict[str, Any] = {}
    for spec in specs:
        value = values.get(spec.name)
        if spec.file_kind:
            value = _upload_value(spec, value, (names or {}).get(spec.name), folder)
        elif value is None or (isinstance(value, str) and spec.widget in ("number", "slider") and not value.strip()):
            value = None
        elif spec.widget in ("number", "slider"):
            value = float(value)
            if spec.integer:
                if value != int(value):
                    raise BadInputError(f"'{spec.name}' must be a whole number, not {value:g}")
                value = int(value)
        elif spec.widget in ("textbox", "lines"):
            value = _text_value(spec, value)
        elif spec.widget == "dropdown" and value == "":
            value = None
        if value is not None:
            out[spec.name] = value
    return out


# ----------------------------------------------------------------------------- outputs → views
@dataclass
class OutputView:
    """One thing to show of an output: ``kind`` (``image``, ``audio``, ``file``, ``text``, ``table``, ``json``),
    a label and the value (a file path for media and files, a string, ``{"headers", "data"}``, or JSON data)."""

    kind: str
    label: str
    value: Any


def _write(folder: Path, stem: str, fmt: str, data: bytes) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.{fmt}"
    path.write_bytes(data)
    return str(path)


def _table(data: bytes) -> dict[str, Any]:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8", errors="replace"))))
    if not rows:
        return {"headers": [], "data": []}
    return {"headers": rows[0], "data": rows[1 : TABLE_PREVIEW_ROWS + 1]}


def output_views(output: Any, folder: Path, stem: str = "result") -> list[OutputView]:
    """What to show of ``output``, by the formats it offers (written under ``folder`` as ``stem.FORMAT``).

    ``mid``: the MIDI file, with the piano roll (``png``) and the rendering (``wav``) when offered. Otherwise
    ``png``/``jpeg`` → an image, ``wav`` → audio, ``txt``/``smi`` → text, ``csv`` → a table and its file,
    ``html`` → a file; ``json`` → JSON data when nothing else shows the output.
    """
    formats = list(type(output).formats)
    views: list[OutputView] = []
    if "mid" in formats:
        views.append(OutputView("file", "MIDI", _write(folder, stem, "mid", output.encode("mid"))))
        for fmt, kind, label in (("png", "image", "piano roll"), ("wav", "audio", "audio")):
            if fmt in formats:
                views.append(OutputView(kind, label, _write(folder, stem, fmt, output.encode(fmt))))
        return views
    image = next((f for f in formats if f in ("png", "jpeg")), None)
    if image:
        views.append(OutputView("image", "image", _write(folder, stem, image, output.encode(image))))
    if "wav" in formats:
        views.append(OutputView("audio", "audio", _write(folder, stem, "wav", output.encode("wav"))))
    text_fmt = next((f for f in formats if f in ("txt", "smi")), None)
    if text_fmt:
        text = output.text() if text_fmt == "txt" else None
        views.append(OutputView("text", "text", text if text is not None else output.encode(text_fmt).decode()))
    if "csv" in formats:
        data = output.encode("csv")
        views.append(OutputView("table", "table", _table(data)))
        views.append(OutputView("file", "CSV", _write(folder, stem, "csv", data)))
    if "html" in formats:
        views.append(OutputView("file", "report", _write(folder, stem, "html", output.encode("html"))))
    if "json" in formats and not any(v.kind != "file" for v in views):
        views.append(OutputView("json", "JSON", json.loads(output.encode("json").decode("utf-8"))))
    return views
