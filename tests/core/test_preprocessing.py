from typing import Any

import pytest

from genlab.core.preprocessing import Preprocessor, register_preprocessor
from genlab.core.registry import PREPROCESSORS
from genlab.text.tokenizers import BPETokenizer, CharTokenizer, tokenizer_from_dict


class ColumnSchema(Preprocessor):
    """A tabular schema: column names and their means, as a later modality might save one."""

    kind = "schema"

    def __init__(self, columns: list[str], means: list[float]):
        self.columns, self.means = columns, means

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind, "columns": self.columns, "means": self.means}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ColumnSchema":
        return cls(list(data["columns"]), list(data["means"]))


@pytest.fixture
def scratch_registry(monkeypatch):
    """Registrations made in a test vanish after it."""
    monkeypatch.setattr(PREPROCESSORS, "_items", dict(PREPROCESSORS._items))


def test_a_new_modality_registers_its_preprocessor_and_rebuilds_it_from_the_saved_dict(scratch_registry):
    register_preprocessor("tabular")(ColumnSchema)
    saved = ColumnSchema(["age", "income"], [41.5, 3.2e4]).to_dict()
    again = PREPROCESSORS.get(f"tabular/{saved['type']}").from_dict(saved)
    assert isinstance(again, ColumnSchema) and again.to_dict() == saved


def test_the_text_tokenizers_are_registered_preprocessors():
    assert PREPROCESSORS.get("text/char") is CharTokenizer and PREPROCESSORS.get("text/bpe") is BPETokenizer
    assert PREPROCESSORS.names("text/") == ["text/bpe", "text/char"]
    tok = CharTokenizer.train(["hello, world"])
    assert isinstance(tok, Preprocessor)
    saved = tok.to_dict()
    assert saved == {"type": "char", "vocab": tok.vocab}  # the format inside config.json is unchanged
    assert CharTokenizer.from_dict(saved).vocab == tok.vocab == tokenizer_from_dict(saved).vocab
