"""Text data for language models: config, loading (files, folders, JSONL, built-ins), split, windows.

``source`` is a registered dataset (``builtin:tinyshakespeare``, ``builtin:tang-poems``,
``chinese-poetry``; see :mod:`genlab.text.datasets`) or a path: a text file, a JSONL file
(one JSON object per line, the text under ``field``), or a folder of ``.txt``/``.md``/``.jsonl``
files. A single text is split contiguously (the last ``val_fraction`` is validation, as in
nanoGPT); a corpus of documents is split by documents after a seeded shuffle. The tokenizer
is trained on the training split only, and the token stream is served as windows of
``block_size + 1`` ids: random windows for training (an epoch is ``windows_per_epoch`` of
them), consecutive non-overlapping windows for validation.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import torch
from pydantic import Field
from torch.utils.data import Dataset

from genlab.core.config import Config
from genlab.core.data import DataInfo
from genlab.core.errors import DataError
from genlab.core.registry import DATASETS
from genlab.text.tokenizers import TextTokenizer, train_tokenizer

T = TypeVar("T")

TEXT_EXTENSIONS = (".txt", ".md", ".text", ".jsonl")
BINARY_PROBE = 8192  # bytes inspected for NUL bytes


class TextDataConfig(Config):
    """Which text to train on and how to tokenize and window it."""

    source: str = Field("builtin:tinyshakespeare", min_length=1, description="dataset name, file or folder")
    field: str = Field("text", min_length=1, description="JSONL field holding the text")
    encoding: str = Field("utf-8", description="encoding of text files")
    tokenizer: Literal["char", "bpe"] = "char"
    vocab_size: int = Field(4000, ge=257, le=200_000, description="BPE vocabulary size (256 bytes + merges)")
    block_size: int = Field(64, ge=2, le=65536, description="tokens of context per training window")
    val_fraction: float = Field(0.1, ge=0.0, lt=0.5, description="share held out for validation")
    split_seed: int = Field(0, description="seed of the document shuffle behind the split")
    windows_per_epoch: int = Field(16384, ge=1, description="random training windows per epoch")
    max_chars: int | None = Field(None, ge=1, description="use at most this many characters of the text")
    data_dir: str | None = Field(None, description="folder of standard datasets (default $GENLAB_DATA_DIR)")


@dataclass
class RawText:
    """A loaded corpus before splitting: one text, or documents joined by ``separator``."""

    documents: list[str]
    kind: Literal["text", "documents", "poems"] = "text"
    separator: str = "\n\n"
    skipped: list[str] = field(default_factory=list)


@dataclass
class TextDataInfo(DataInfo):
    """What was loaded; written to the run (``data.json``) and used to fill the model config."""

    source: str
    kind: str
    tokenizer: str
    vocab_size: int
    block_size: int
    n_train_tokens: int
    n_val_tokens: int
    n_train_chars: int
    n_val_chars: int
    n_documents: int
    data_config: dict[str, Any] = field(default_factory=dict)
    split: dict[str, Any] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    tokenizer_obj: TextTokenizer | None = field(default=None, repr=False, metadata={"saved": False})

    @property
    def preprocessor(self) -> TextTokenizer | None:
        """The tokenizer trained on the training split (saved in the model config)."""
        return self.tokenizer_obj


class TokenWindows(Dataset):
    """Windows of ``block_size + 1`` ids over a 1-D token stream.

    ``random_windows=True`` (training): ``length`` windows at start positions drawn from torch's
    global RNG (seeded by the run), as nanoGPT's ``get_batch``. Otherwise consecutive,
    non-overlapping windows covering the stream (validation).
    """

    def __init__(self, tokens: torch.Tensor, block_size: int, text: str, length: int = 0, random_windows: bool = False):
        if len(tokens) < block_size + 1:
            raise DataError(
                f"the text has {len(tokens)} tokens, fewer than one window of block_size + 1 = {block_size + 1}",
                "use more text or a smaller --block-size",
            )
        self.tokens, self.block_size, self.text = tokens, block_size, text
        self.random_windows = random_windows
        self.length = length if random_windows else (len(tokens) - 1) // block_size

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> torch.Tensor:
        if self.random_windows:
            start = int(torch.randint(len(self.tokens) - self.block_size, ()))
        else:
            start = index * self.block_size
        return self.tokens[start : start + self.block_size + 1]


def jsonl_records(
    text: str, parse: Callable[[dict[str, Any]], tuple[T | None, str]]
) -> tuple[list[T], list[tuple[int, str]]]:
    """The items of a JSON-lines text and the lines skipped as ``(line number, reason)``: blank lines are
    ignored, a line that is not a JSON object is skipped, and ``parse(obj)`` gives ``(item, "")`` or
    ``(None, reason)`` for the others."""
    items: list[T] = []
    skipped: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            skipped.append((number, f"not JSON ({e.msg})"))
            continue
        item, reason = parse(obj) if isinstance(obj, dict) else (None, "not a JSON object")
        if item is None:
            skipped.append((number, reason))
        else:
            items.append(item)
    return items, skipped


def read_text_file(path: Path, encoding: str = "utf-8") -> str:
    """Read a text file, refusing binary files and reporting the encoding tried when decoding fails."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}", "check the path and its permissions") from None
    if b"\x00" in data[:BINARY_PROBE] and not encoding.lower().replace("-", "").startswith("utf16"):
        raise DataError(f"{path} looks like a binary file (it holds NUL bytes), not text", "pass a text file")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        bad = data[e.start : e.start + 4].hex(" ")
        raise DataError(
            f"cannot decode {path} as {encoding}: invalid bytes {bad} at byte {e.start}",
            "convert the file to UTF-8, or pass its encoding with --set data.encoding=latin-1 (cp1252, gb18030, …)",
        ) from None
    except LookupError:
        raise DataError(f"unknown encoding '{encoding}'", "use a Python codec name such as utf-8 or gb18030") from None
    return text.lstrip("\ufeff")


def read_jsonl(path: Path, text_field: str, encoding: str = "utf-8") -> tuple[list[str], int]:
    """Texts under ``text_field`` of each JSON line; returns (texts, lines skipped as invalid)."""
    texts, bad, seen_fields = [], 0, set()
    for line in read_text_file(path, encoding).splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            bad += 1
            continue
        if isinstance(obj, dict):
            seen_fields.update(obj)
            value = obj.get(text_field)
            if isinstance(value, str) and value.strip():
                texts.append(value)
                continue
        bad += 1
    if not texts:
        fields = ", ".join(sorted(seen_fields)[:10]) or "none (no JSON objects)"
        raise DataError(
            f"no line of {path} has a non-empty string field '{text_field}'",
            f"name the field with --field NAME; fields seen: {fields}",
        )
    return texts, bad


def load_raw(cfg: TextDataConfig) -> RawText:
    """Load ``cfg.source``: a registered dataset, a file or a folder."""
    if cfg.source in DATASETS:
        spec = DATASETS.get(cfg.source)
        if spec.modality != "text":
            raise DataError(
                f"'{cfg.source}' is a {spec.modality} dataset, not text",
                "text datasets: " + ", ".join(DATASETS.names(modality="text")),
            )
        return spec(cfg)
    path = Path(cfg.source).expanduser()
    if path.is_dir():
        return _load_folder(path, cfg)
    if path.is_file():
        if path.suffix.lower() == ".jsonl":
            texts, _ = read_jsonl(path, cfg.field, cfg.encoding)
            return RawText(texts, "documents")
        return RawText([read_text_file(path, cfg.encoding)], "text")
    text_datasets = ", ".join(DATASETS.names(modality="text"))
    raise DataError(
        f"no such file, folder or dataset: '{cfg.source}'",
        f"built-in text datasets: {text_datasets}; or pass a .txt/.jsonl file or a folder",
    )


def _load_folder(path: Path, cfg: TextDataConfig) -> RawText:
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_EXTENSIONS)
    if not files:
        raise DataError(f"{path} holds no text files", f"put {', '.join(TEXT_EXTENSIONS)} files in it")
    docs, skipped = [], []
    for f in files:
        try:
            docs.extend(read_jsonl(f, cfg.field, cfg.encoding)[0] if f.suffix == ".jsonl" else [read_text_file(f)])
        except DataError as e:
            skipped.append(f"{f}: {e.message}")
    docs = [d for d in docs if d.strip()]
    if not docs:
        first = f"; e.g. {skipped[0]}" if skipped else ""
        raise DataError(
            f"no readable, non-empty text in {path}{first}", "check the files' encoding (--set data.encoding)"
        )
    return RawText(docs, "documents", skipped=skipped)


def split_corpus(raw: RawText, cfg: TextDataConfig) -> tuple[str, str, dict[str, Any]]:
    """Split into (train text, val text, split record)."""
    if raw.kind == "text":
        text = raw.documents[0][: cfg.max_chars] if cfg.max_chars else raw.documents[0]
        if not text.strip():
            raise DataError(f"'{cfg.source}' is empty", "pass a file with some text in it")
        cut = len(text) - int(len(text) * cfg.val_fraction)
        record = {"method": "contiguous tail", "val_fraction": cfg.val_fraction, "val_start_char": cut}
        return text[:cut], text[cut:], record
    docs = list(raw.documents)
    random.Random(cfg.split_seed).shuffle(docs)
    if cfg.max_chars:
        total, kept = 0, []
        for d in docs:
            if total >= cfg.max_chars:
                break
            kept.append(d)
            total += len(d)
        docs = kept
    n_val = int(len(docs) * cfg.val_fraction) if len(docs) > 1 else 0
    if cfg.val_fraction and len(docs) > 1:
        n_val = max(1, n_val)
    join = lambda ds: raw.separator + raw.separator.join(ds) + raw.separator if ds else ""  # noqa: E731
    record = {"method": "documents, seeded shuffle", "seed": cfg.split_seed, "n_val_documents": n_val}
    record["n_train_documents"] = len(docs) - n_val
    return join(docs[n_val:]), join(docs[:n_val]), record


def load_text_data(cfg: TextDataConfig) -> tuple[TokenWindows, TokenWindows | None, TextDataInfo]:
    """Load, split, tokenize (tokenizer trained on the training split) and window ``cfg.source``."""
    raw = load_raw(cfg)
    train_text, val_text, split = split_corpus(raw, cfg)
    tokenizer = train_tokenizer(cfg.tokenizer, [train_text], cfg.vocab_size)
    train_ids = torch.tensor(tokenizer.encode(train_text), dtype=torch.long)
    train_ds = TokenWindows(train_ids, cfg.block_size, train_text, cfg.windows_per_epoch, random_windows=True)
    val_ds = None
    if val_text:
        val_ids = torch.tensor(encode_lenient(tokenizer, val_text), dtype=torch.long)
        if len(val_ids) >= cfg.block_size + 1:
            val_ds = TokenWindows(val_ids, cfg.block_size, val_text)
    info = TextDataInfo(
        source=cfg.source,
        kind=raw.kind,
        tokenizer=tokenizer.kind,
        vocab_size=tokenizer.vocab_size,
        block_size=cfg.block_size,
        n_train_tokens=len(train_ids),
        n_val_tokens=len(val_ds.tokens) if val_ds else 0,
        n_train_chars=len(train_text),
        n_val_chars=len(val_ds.text) if val_ds else 0,
        n_documents=len(raw.documents),
        data_config=cfg.to_dict(),
        split=split,
        skipped=raw.skipped,
        tokenizer_obj=tokenizer,
    )
    return train_ds, val_ds, info


def encode_lenient(tokenizer: TextTokenizer, text: str) -> list[int]:
    """Encode ``text``, dropping characters a character vocabulary lacks (validation text may hold a few)."""
    from genlab.text.tokenizers import CharTokenizer

    if isinstance(tokenizer, CharTokenizer):
        return [tokenizer.index[ch] for ch in text if ch in tokenizer.index]
    return tokenizer.encode(text)
