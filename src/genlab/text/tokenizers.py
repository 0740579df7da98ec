"""Tokenizers saved with the model: character-level (full Unicode) and byte-level BPE.

A tokenizer is the text modality's :class:`~genlab.core.preprocessing.Preprocessor`: it
serialises to a plain JSON dict (``to_dict``) that lives in the model's ``config.json``
(``config.tokenizer``), so a saved model always decodes its own ids and nothing is ever
unpickled. The tokenizers register as ``text/char`` and ``text/bpe``. Byte-level BPE is
trained and run by Hugging Face ``tokenizers`` (Radford et al. 2019's byte-level variant of
Sennrich et al. 2016); its dict is the library's own JSON, also written as ``tokenizer.json``
beside the weights for other tools.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, ClassVar

from genlab.core.errors import BadInputError, ConfigError
from genlab.core.optional import require
from genlab.core.preprocessing import Preprocessor, register_preprocessor
from genlab.core.registry import PREPROCESSORS


class TextTokenizer(Preprocessor):
    """Maps text to token ids and back; ``decode(encode(s)) == s`` for any text it can encode.

    ``to_dict()`` is ``{"type": kind, ...}``; :func:`tokenizer_from_dict` rebuilds any kind.
    """

    kind: ClassVar[str] = ""

    @property
    def vocab_size(self) -> int:
        raise NotImplementedError

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``."""
        raise NotImplementedError

    def decode(self, ids: Iterable[int]) -> str:
        """Text of token ids."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible description from which :func:`tokenizer_from_dict` rebuilds it."""
        raise NotImplementedError

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TextTokenizer:
        """Rebuild a tokenizer of this class from its :meth:`to_dict` output."""
        raise NotImplementedError

    def token_text(self, index: int) -> str:
        """The text one token stands for ('' for a partial UTF-8 byte sequence)."""
        text = self.decode([index])
        return "" if "\ufffd" in text else text

    def stream(self) -> StreamDecoder:
        """An incremental decoder for streaming generated ids as text."""
        return StreamDecoder(self)


class StreamDecoder:
    """Turns ids arriving one by one into text pieces, holding back incomplete UTF-8 characters."""

    def __init__(self, tokenizer: TextTokenizer):
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.emitted = 0

    def push(self, token: int) -> str:
        """Add one id; return the new text that is complete so far (may be '')."""
        self.ids.append(int(token))
        text = self.tokenizer.decode(self.ids)
        if text.endswith("\ufffd"):
            return ""  # a multi-byte character is not complete yet
        piece, self.emitted = text[self.emitted :], len(text)
        return piece

    @property
    def text(self) -> str:
        """Everything decoded so far."""
        return self.tokenizer.decode(self.ids)


@register_preprocessor("text")
class CharTokenizer(TextTokenizer):
    """One token per Unicode code point seen in training (Chinese, emoji and accents included)."""

    kind = "char"

    def __init__(self, vocab: list[str]):
        if not vocab or any(len(ch) != 1 for ch in vocab) or len(set(vocab)) != len(vocab):
            raise ConfigError("a character vocabulary must list distinct single characters", "re-train the model")
        self.vocab = list(vocab)
        self.index = {ch: i for i, ch in enumerate(self.vocab)}

    @classmethod
    def train(cls, texts: Iterable[str]) -> CharTokenizer:
        """The sorted set of characters in ``texts``."""
        chars: set[str] = set()
        for text in texts:
            chars.update(text)
        if not chars:
            raise BadInputError("cannot build a character vocabulary from empty text")
        return cls(sorted(chars))

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> list[int]:
        try:
            return [self.index[ch] for ch in text]
        except KeyError:
            unknown = sorted({ch for ch in text if ch not in self.index})
            shown = ", ".join(repr(ch) for ch in unknown[:10])
            raise BadInputError(
                f"the text has {len(unknown)} character(s) this model never saw: {shown}",
                "use only characters from the training data (a character-level model has no unknown token)",
            ) from None

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.vocab[int(i)] for i in ids)

    def token_text(self, index: int) -> str:
        return self.vocab[index]

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind, "vocab": self.vocab}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CharTokenizer:
        return cls(list(data["vocab"]))


@register_preprocessor("text")
class BPETokenizer(TextTokenizer):
    """Byte-level BPE from Hugging Face ``tokenizers``: any text encodes, nothing is unknown."""

    kind = "bpe"

    def __init__(self, backend: Any):
        self.backend = backend

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int) -> BPETokenizer:
        """Learn ``vocab_size`` tokens (256 byte tokens + merges) from ``texts``."""
        tk = require("tokenizers", "text", "the BPE tokenizer")
        backend = tk.Tokenizer(tk.models.BPE())
        backend.pre_tokenizer = tk.pre_tokenizers.ByteLevel(add_prefix_space=False)
        backend.decoder = tk.decoders.ByteLevel()
        trainer = tk.trainers.BpeTrainer(
            vocab_size=vocab_size, initial_alphabet=tk.pre_tokenizers.ByteLevel.alphabet(), show_progress=False
        )
        backend.train_from_iterator(texts, trainer=trainer)
        return cls(backend)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BPETokenizer:
        """Rebuild from the ``tokenizers`` JSON (as a dict)."""
        tokenizers = require("tokenizers", "text", "the BPE tokenizer")
        return cls(tokenizers.Tokenizer.from_str(json.dumps(data)))

    @property
    def vocab_size(self) -> int:
        return self.backend.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        return self.backend.encode(text).ids

    def decode(self, ids: Iterable[int]) -> str:
        return self.backend.decode([int(i) for i in ids], skip_special_tokens=False)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind, "json": json.loads(self.backend.to_str())}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BPETokenizer:
        return cls.from_json(data["json"])


def train_tokenizer(kind: str, texts: list[str], vocab_size: int) -> TextTokenizer:
    """Train a ``char`` or ``bpe`` tokenizer on ``texts``."""
    if kind == "char":
        return CharTokenizer.train(texts)
    if kind == "bpe":
        return BPETokenizer.train(texts, vocab_size)
    raise ConfigError(f"unknown tokenizer '{kind}'", "use char or bpe")


def tokenizer_from_dict(data: dict[str, Any]) -> TextTokenizer:
    """Rebuild a tokenizer from :meth:`TextTokenizer.to_dict` output."""
    kind = data.get("type") if isinstance(data, dict) else None
    if isinstance(kind, str) and f"text/{kind}" in PREPROCESSORS:
        return PREPROCESSORS.get(f"text/{kind}").from_dict(data)
    raise ConfigError(
        "the model config holds no tokenizer", "text models get their tokenizer from the data; train through genlab"
    )
