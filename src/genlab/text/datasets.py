"""Registered text datasets: built-ins shipped inside genlab, and the chinese-poetry collection.

* ``builtin:tinyshakespeare`` — Karpathy's char-rnn ``input.txt`` (1.1 MB of Shakespeare's plays).
* ``builtin:tang-poems`` — a public-domain subset of Tang regulated verse (五言/七言 绝句/律诗) from
  the chinese-poetry collection, in Simplified characters, one poem per line.
* ``chinese-poetry`` — the same kind of poems read from a local copy of the collection's
  ``poet.tang.*.json`` and ``tangshisanbaishou.json`` files under ``$GENLAB_DATA_DIR/chinese-poetry``,
  converted from Traditional to Simplified characters when ``opencc`` is installed.

Each is a :class:`~genlab.core.data.DatasetSpec` of modality ``text`` whose loader takes the
:class:`~genlab.text.data.TextDataConfig` and returns a ``RawText``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from genlab.core.data import DatasetSpec, first_line, register_dataset
from genlab.core.download import DATA_DIR_ENV, data_root
from genlab.core.errors import DataError
from genlab.text.data import RawText, read_jsonl, read_text_file
from genlab.text.poems import detect_form

SHIPPED = Path(__file__).resolve().parent / "data"
CHINESE_POETRY_LICENSE = "poems in the public domain; collection MIT (© 2016 JackeyGao)"


TextLoader = Callable[[Any], RawText]


def text_dataset(name: str, license: str = "") -> Callable[[TextLoader], TextLoader]:
    """Decorator: register a text dataset loader ``fn(cfg) -> RawText`` under ``name``.

    The loader's docstring gives the description; ``license`` is the text's license
    (docs/data-licenses.md). The corpus has no named splits: genlab splits it by ``val_fraction``.
    """

    def deco(fn: TextLoader) -> TextLoader:
        register_dataset(DatasetSpec(name, "text", fn, description=first_line(fn.__doc__), license=license))
        return fn

    return deco


@text_dataset("builtin:tinyshakespeare", license="public domain (Shakespeare); repository MIT")
def tinyshakespeare(cfg: Any) -> RawText:
    """Tiny Shakespeare (char-rnn's ``input.txt``), shipped with genlab."""
    return RawText([read_text_file(SHIPPED / "tinyshakespeare.txt")], "text")


@text_dataset("builtin:tang-poems", license=CHINESE_POETRY_LICENSE)
def tang_poems(cfg: Any) -> RawText:
    """Tang regulated verse shipped with genlab: one poem per line, Simplified characters."""
    texts, _ = read_jsonl(SHIPPED / "tang_poems.jsonl", "text")
    return RawText(texts, "poems", separator="\n")


@text_dataset("chinese-poetry", license=CHINESE_POETRY_LICENSE)
def chinese_poetry(cfg: Any) -> RawText:
    """Regulated Tang verse from a local copy of the chinese-poetry collection (Simplified when opencc is present)."""
    folder = data_root(cfg.data_dir) / "chinese-poetry"
    files = sorted(folder.glob("poet.tang.*.json")) + sorted(folder.glob("tangshisanbaishou.json"))
    if not files:
        raise DataError(
            f"no chinese-poetry files (poet.tang.*.json) in {folder}",
            f"copy the collection's 全唐诗 JSON files there, or pass --data-dir DIR / set {DATA_DIR_ENV}",
        )
    poems = [p["text"] for p in regulated_poems(files)]
    if not poems:
        raise DataError(f"no 五言/七言 绝句/律诗 found in {folder}", "check that the files are the collection's JSON")
    return RawText(poems, "poems", separator="\n")


def _records(path: Path) -> Iterator[dict[str, Any]]:
    """Poems of one collection file as ``{"title", "author", "paragraphs"}`` (both file layouts)."""
    try:
        data = json.loads(read_text_file(path))
    except json.JSONDecodeError as e:
        raise DataError(f"{path} is not valid JSON: {e}", "re-copy the file from the collection") from None
    if isinstance(data, dict):  # tangshisanbaishou.json: {"content": [{"type", "content": [poems]}]}
        for group in data.get("content", []):
            for p in group.get("content", []):
                yield {"title": p.get("chapter", ""), "author": p.get("author", ""), "paragraphs": p["paragraphs"]}
    else:
        yield from data


def regulated_poems(files: list[Path]) -> Iterator[dict[str, str]]:
    """Poems whose text is exactly a 五言/七言 绝句/律诗 (after Traditional → Simplified when possible)."""
    convert = _converter()
    seen: set[str] = set()
    for path in files:
        for rec in _records(path):
            text = convert("".join(rec.get("paragraphs", [])).replace(" ", ""))
            form = detect_form(text)
            if form is None or text in seen:
                continue
            seen.add(text)
            title, author = convert(rec.get("title", "")), convert(rec.get("author", ""))
            yield {"title": title, "author": author, "form": form.name, "text": text}


def _converter() -> Callable[[str], str]:
    try:
        import opencc
    except ImportError:
        return lambda s: s
    cc = opencc.OpenCC("t2s")
    return cc.convert
