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
from genlab.text.data import RawText, jsonl_records, read_jsonl, read_text_file
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


# --------------------------------------------------------------------------- SciTLDR (summarization)

#: SciTLDR-A (Cachola et al. 2020, "TLDR: Extreme Summarization of Scientific Documents", Findings of
#: EMNLP): abstracts of computer-science papers (OpenReview) with one to four one-sentence summaries.
SCITLDR_COMMIT = "5ccad9c00a60ad75c9e04abf7f27d0f53f983b20"
SCITLDR_URL = "https://raw.githubusercontent.com/allenai/scitldr/{commit}/SciTLDR-Data/SciTLDR-A/{split}.jsonl"
SCITLDR_SHA256 = {
    "train": "b222771d387be585cfdf5ae957b36757138415a352e0a3e3b23f73f87c3b1119",
    "dev": "3191fa98ccc09521332b7a1cd63b1930be4e8df125a235ccd31e40329709525e",
}
SCITLDR_SPLITS = ("train", "dev", "test")
SCITLDR_LICENSE = "Apache-2.0 (allenai/scitldr)"
SCITLDR_FOLDER = "summarization"


class SummarizationItem:
    """One document and its reference summaries: ``source`` (the document's sentences), ``targets``
    (one or more reference summaries), ``paper_id`` and ``title``."""

    __slots__ = ("paper_id", "source", "targets", "title")

    def __init__(self, source: list[str], targets: list[str], paper_id: str = "", title: str = ""):
        self.source, self.targets, self.paper_id, self.title = source, targets, paper_id, title

    @property
    def document(self) -> str:
        """The source sentences joined by spaces."""
        return " ".join(self.source)

    def __repr__(self) -> str:
        return f"SummarizationItem({self.paper_id!r}, {len(self.source)} sentences, {len(self.targets)} references)"


class SummarizationSet(list):
    """The items of one split (a list of :class:`SummarizationItem`), with ``path`` (the file read) and
    ``skipped`` (lines refused as malformed, ``[(line number, reason), …]``)."""

    def __init__(self, items: list[SummarizationItem], path: Path, skipped: list[tuple[int, str]]):
        super().__init__(items)
        self.path, self.skipped = path, skipped


def scitldr_file(split: str, data_dir: str | Path | None = None, download: bool = True) -> Path:
    """The local ``{split}.jsonl`` of SciTLDR-A: ``DATA_DIR/summarization/{split}.jsonl`` or
    ``DATA_DIR/{split}.jsonl``; when neither exists it is downloaded (train and dev, checked against
    their sha256) into the first place. ``DATA_DIR``: ``data_dir``, else ``$GENLAB_DATA_DIR``."""
    from genlab.core.download import download as fetch
    from genlab.core.download import local_copy_hint

    if split not in SCITLDR_SPLITS:
        raise DataError(f"SciTLDR has no split '{split}'", f"its splits are: {', '.join(SCITLDR_SPLITS)}")
    root = data_root(data_dir)
    candidates = [root / SCITLDR_FOLDER / f"{split}.jsonl", root / f"{split}.jsonl"]
    for path in candidates:
        if path.is_file():
            return path
    url = SCITLDR_URL.format(commit=SCITLDR_COMMIT, split=split)
    if not download:
        raise DataError(f"no SciTLDR {split}.jsonl in {root}", local_copy_hint(url, candidates[0]))
    if split not in SCITLDR_SHA256:
        raise DataError(
            f"no SciTLDR {split}.jsonl in {root}, and genlab records no checksum to download it with",
            local_copy_hint(url, candidates[0]),
        )
    return fetch(url, candidates[0], SCITLDR_SHA256[split], desc=f"SciTLDR-A {split}")


def _scitldr_item(obj: dict[str, Any]) -> tuple[SummarizationItem | None, str]:
    """The item of one JSON object, or None and the reason it is refused."""
    source, target = obj.get("source"), obj.get("target")
    if isinstance(target, str):
        target = [target]
    for name, value in (("source", source), ("target", target)):
        if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
            return None, f"'{name}' is not a list of strings"
        if not any(s.strip() for s in value):
            return None, f"'{name}' is empty"
    source = [s.strip() for s in source if s.strip()]
    target = [t.strip() for t in target if t.strip()]
    return SummarizationItem(source, target, str(obj.get("paper_id", "")), str(obj.get("title", ""))), ""


def read_scitldr(path: str | Path) -> SummarizationSet:
    """Read a SciTLDR-style JSONL file (``source``: list of sentences, ``target``: list of summaries).

    Lines that are not JSON objects with a non-empty ``source`` and ``target`` are skipped and counted,
    with a logged warning naming the first; a file with no valid line raises :class:`DataError`.
    """
    import logging

    path = Path(path)
    items, skipped = jsonl_records(read_text_file(path), _scitldr_item)
    if skipped:
        line, reason = skipped[0]
        logging.getLogger(__name__).warning(
            "skipped %d malformed line(s) of %s (first: line %d, %s)", len(skipped), path, line, reason
        )
    if not items:
        raise DataError(f"{path} holds no valid SciTLDR line", "each line needs a 'source' and a 'target' list")
    return SummarizationSet(items, path, skipped)


def load_scitldr(split: str = "dev", data_dir: str | Path | None = None, download: bool = True) -> SummarizationSet:
    """SciTLDR-A ``split`` (train 1,992, dev 619, test 618 papers) as :class:`SummarizationItem` s.

    Read from ``{data_dir}/summarization/{split}.jsonl`` or ``{data_dir}/{split}.jsonl``; downloaded
    from the allenai/scitldr repository (a fixed commit, checked against its sha256) when missing.
    """
    return read_scitldr(scitldr_file(split, data_dir, download))


@text_dataset("scitldr", license=SCITLDR_LICENSE)
def scitldr(cfg: Any) -> RawText:
    """SciTLDR-A training papers as documents: the abstract, then "TL;DR:" and the author's summary."""
    items = load_scitldr("train", getattr(cfg, "data_dir", None))
    documents = [f"{item.document}\nTL;DR: {item.targets[0]}" for item in items]
    return RawText(documents, "documents", skipped=[f"line {n}: {why}" for n, why in items.skipped])
