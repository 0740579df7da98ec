"""Reading and checking a document before it is summarised.

* an empty or whitespace-only text, or one without a sentence holding a letter or digit, is refused;
* a binary file (a NUL byte in its first 8 KiB) or one that does not decode in the given encoding is
  refused, naming the byte offset;
* a document larger than :data:`MAX_DOCUMENT_BYTES` (1 MB of UTF-8) is cut to that size at a sentence
  boundary, with a logged warning: the methods stay fast, and a summary of the first megabyte of a
  larger file is still a summary.
"""

from __future__ import annotations

import codecs
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from genlab.core.errors import BadInputError
from genlab.text.language import Language, resolve_language
from genlab.text.summarize.sentences import split_sentences

log = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 1_000_000
BINARY_PROBE = 8192  # bytes inspected for NUL bytes


@dataclass
class Document:
    """A document ready to summarise: its sentences, language, and whether it was cut to 1 MB."""

    sentences: list[str]
    language: Language
    truncated: bool = False
    name: str = "the text"


def read_document(path: str | Path, encoding: str = "utf-8") -> tuple[str, bool]:
    """The text of the file at ``path`` (``-``: standard input), at most 1 MB of it; returns
    ``(text, cut)`` where ``cut`` says the file was longer."""
    try:
        if str(path) == "-":
            data = sys.stdin.buffer.read(MAX_DOCUMENT_BYTES + 1)
        else:
            with open(path, "rb") as f:
                data = f.read(MAX_DOCUMENT_BYTES + 1)
    except FileNotFoundError:
        raise BadInputError(f"no such file: {path}", "give the path of a text file to summarise") from None
    except IsADirectoryError:
        raise BadInputError(f"{path} is a folder", "give the path of a text file to summarise") from None
    except OSError as e:
        raise BadInputError(f"cannot read {path}: {e.strerror or e}", "check the path and its permissions") from None
    cut = len(data) > MAX_DOCUMENT_BYTES
    data = data[:MAX_DOCUMENT_BYTES]
    if b"\x00" in data[:BINARY_PROBE] and not encoding.lower().replace("-", "").startswith("utf16"):
        raise BadInputError(
            f"{path} looks like a binary file (it holds NUL bytes), not text", "summarise a plain-text file (.txt)"
        )
    return _decode(data, encoding, str(path), final=not cut), cut


def _decode(data: bytes, encoding: str, name: str, final: bool) -> str:
    """``data`` decoded; a character split by the 1 MB cut (``final=False``) is dropped, bad bytes raise."""
    try:
        decoder = codecs.getincrementaldecoder(encoding)()
    except LookupError:
        hint = "use a Python codec name such as utf-8 or gb18030"
        raise BadInputError(f"unknown encoding '{encoding}'", hint) from None
    try:
        text = decoder.decode(data, final=final)
    except UnicodeDecodeError as e:
        bad = data[e.start : e.start + 4].hex(" ")
        raise BadInputError(
            f"cannot decode {name} as {encoding}: invalid bytes {bad} at byte {e.start} (a binary file?)",
            "give a text file, or its encoding with --encoding (gb18030, latin-1, …)",
        ) from None
    return text.lstrip("\ufeff")


def prepare(text: str, language: str = "auto", name: str = "the text", cut: bool = False) -> Document:
    """Check ``text``, cut it to 1 MB at a sentence boundary when longer, detect its language and
    split it into sentences. ``cut``: the text was already cut from a longer file."""
    if "\x00" in text:
        raise BadInputError(f"{name} holds NUL characters: it looks binary, not text", "give a plain-text document")
    if not text.strip():
        raise BadInputError(f"{name} is empty", "give a document with at least one sentence to summarise")
    encoded = text.encode("utf-8", errors="surrogatepass")
    if len(encoded) > MAX_DOCUMENT_BYTES:
        text, cut = encoded[:MAX_DOCUMENT_BYTES].decode("utf-8", errors="ignore"), True
    lang = resolve_language(language, text[:20_000])
    sentences = split_sentences(text, lang)
    if cut and len(sentences) > 1:
        sentences = sentences[:-1]  # the last one was cut short
    if not sentences:
        raise BadInputError(
            f"{name} has no sentence with a letter or digit", "give a document with at least one sentence to summarise"
        )
    if cut:
        log.warning(
            "%s is larger than 1 MB: only its first %d sentences (up to the last full sentence in the first "
            "1,000,000 bytes) are summarised",
            name,
            len(sentences),
        )
    return Document(sentences, lang, cut, name)
