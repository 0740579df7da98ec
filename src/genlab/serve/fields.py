"""Request fields over HTTP: which fields take files, which stay off the API, and what an upload really is.

A pipeline's :class:`~genlab.core.pipeline.Request` declares ``json_schema_extra={"file": KIND}`` on fields that
read a file and ``{"server": False}`` on fields that name local paths (a data folder, a SoundFont). The server
accepts an upload (multipart, or ``{"base64": …, "filename": …}`` in JSON) for a file field, recognises its type
from its first bytes — never from its name — writes it to a private temporary folder and passes that path. A
plain string is accepted for a file field only when the field also takes names (``builtin:NAME``, ``left``) and
the string looks like one: no path ever reaches a pipeline from a client.
"""

from __future__ import annotations

import base64
import binascii
import re
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

from pydantic import BaseModel

NAME_VALUE = re.compile(r"^[A-Za-z0-9_+-]+(:[A-Za-z0-9_+-]+)?$")  # builtin:starry-night, left, mnist:test
FILE_KINDS = ("image", "audio", "music", "table", "text", "graph", "dataset")  # dataset: names only, no upload
GRAPH_SUFFIXES = (".edgelist", ".txt", ".graphml", ".gml", ".json", ".adjlist", ".csv")


class UploadError(Exception):
    """A field's value cannot be used: the HTTP status to answer and the message."""

    def __init__(self, field: str, message: str, status: int = 422):
        super().__init__(message)
        self.field, self.message, self.status = field, message, status


def extra(info: Any) -> dict[str, Any]:
    value = info.json_schema_extra
    return value if isinstance(value, dict) else {}


def file_fields(request_class: type[BaseModel]) -> dict[str, str]:
    """Fields that take a file, by name → kind."""
    return {n: str(extra(i)["file"]) for n, i in request_class.model_fields.items() if extra(i).get("file")}


def hidden_fields(request_class: type[BaseModel]) -> set[str]:
    """Fields kept off the API (``{"server": False}``)."""
    return {n for n, i in request_class.model_fields.items() if extra(i).get("server") is False}


def takes_names(request_class: type[BaseModel], name: str) -> bool:
    return bool(extra(request_class.model_fields[name]).get("names"))


def request_schema(request_class: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema of a request as the API takes it: hidden fields removed, file fields described as
    uploads."""
    schema = request_class.model_json_schema()
    props = schema.get("properties", {})
    for name in hidden_fields(request_class):
        props.pop(name, None)
        if name in schema.get("required", []):
            schema["required"].remove(name)
    for name, kind in file_fields(request_class).items():
        if name in props:
            props[name] = {
                "description": props[name].get("description", ""),
                "x-genlab-file": kind,
                "x-genlab-names": takes_names(request_class, name),
                "anyOf": [{"type": "string", "format": "binary"}, {"$ref": "#/$defs/Base64File"}]
                + ([{"type": "string", "pattern": NAME_VALUE.pattern}] if takes_names(request_class, name) else []),
            }
    if file_fields(request_class):
        schema.setdefault("$defs", {})["Base64File"] = {
            "type": "object",
            "properties": {"base64": {"type": "string"}, "filename": {"type": "string"}},
            "required": ["base64"],
        }
    return schema


# ----------------------------------------------------------------------------- content types
def sniff(kind: str, data: bytes, filename: str = "") -> str:
    """The file suffix ``data`` is written under, from its content; raises :class:`UploadError` (415) when
    it is not a file of ``kind``."""
    head = data[:64]
    suffix = {
        "image": _image_suffix,
        "audio": _audio_suffix,
        "music": _music_suffix,
        "table": _table_suffix,
        "text": _text_suffix,
        "graph": _text_suffix,
        "dataset": lambda head, data: None,
    }[kind](head, data)
    if suffix is None:
        raise UploadError("", f"the upload is not a readable {kind} file ({_what(kind)})", status=415)
    if kind == "graph":  # graph readers tell formats apart by suffix; the content is text either way
        given = Path(filename).suffix.lower()
        return given if given in GRAPH_SUFFIXES else ".edgelist"
    return suffix


def _what(kind: str) -> str:
    return {
        "image": "PNG, JPEG, WebP, BMP or GIF",
        "audio": "WAV, FLAC or OGG",
        "music": "MIDI, MusicXML (.xml/.mxl), ABC or Humdrum kern",
        "table": "CSV/TSV text or Parquet",
        "text": "UTF-8 text",
        "graph": "a text graph file: edge list, GraphML, GML or JSON",
        "dataset": "a dataset is given by name, e.g. builtin:digits; it cannot be uploaded",
    }[kind]


def _image_suffix(head: bytes, data: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return ".png"
    if head.startswith(b"\xff\xd8\xff"):
        return ".jpg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return ".webp"
    if head.startswith(b"BM") and len(data) > 26:
        return ".bmp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return ".gif"
    return None


def _audio_suffix(head: bytes, data: bytes) -> str | None:
    if head[:4] in (b"RIFF", b"RIFX") and head[8:12] == b"WAVE":
        return ".wav"
    if head.startswith(b"fLaC"):
        return ".flac"
    if head.startswith(b"OggS"):
        return ".ogg"
    return None


def _decoded(data: bytes) -> str | None:
    if b"\x00" in data[:65536]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _music_suffix(head: bytes, data: bytes) -> str | None:
    if head.startswith(b"MThd"):
        return ".mid"
    if head.startswith(b"PK\x03\x04"):
        try:
            names = zipfile.ZipFile(BytesIO(data)).namelist()
        except zipfile.BadZipFile:
            return None
        return ".mxl" if any(n.endswith((".xml", ".musicxml")) for n in names) else None
    text = _decoded(data)
    if text is None:
        return None
    start = text.lstrip("\ufeff \t\r\n")[:4096]
    if start.startswith("<?xml") or "<score-partwise" in start or "<score-timewise" in start:
        return ".musicxml"
    if "**kern" in start:
        return ".krn"
    if re.search(r"^(X|T|K|M|L):", start, re.MULTILINE):
        return ".abc"
    return None


def _table_suffix(head: bytes, data: bytes) -> str | None:
    if head.startswith(b"PAR1"):
        return ".parquet"
    text = _decoded(data)
    if text is None or not text.strip():
        return None
    first = text.lstrip("\ufeff").splitlines()[0]
    return ".tsv" if "\t" in first and "," not in first else ".csv"


def _text_suffix(head: bytes, data: bytes) -> str | None:
    return ".txt" if _decoded(data) is not None else None


def decode_base64(field: str, value: dict[str, Any], limit: int) -> tuple[bytes, str]:
    """(bytes, filename) of a ``{"base64": …, "filename": …}`` JSON upload."""
    raw = value.get("base64")
    if not isinstance(raw, str):
        raise UploadError(field, "a file given in JSON needs a 'base64' string")
    if len(raw) * 3 // 4 > limit:
        raise UploadError(field, f"the upload is larger than the server's limit of {limit // 2**20} MiB", 413)
    try:
        data = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise UploadError(field, "the 'base64' value is not valid base64") from None
    return data, str(value.get("filename") or "")
