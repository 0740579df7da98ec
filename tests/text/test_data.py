"""Text data: files, JSONL, folders, built-ins, the split, windows, and clear errors for bad input."""

import json

import pytest
import torch

from genlab.core.errors import DataError
from genlab.text.data import TextDataConfig, load_text_data
from genlab.text.poems import detect_form

from .helpers import ENGLISH


def load(source, **kw):
    return load_text_data(TextDataConfig.build({"source": str(source), "block_size": 8, **kw}))


def test_text_file_split_is_contiguous_and_windows_have_block_plus_one(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text(ENGLISH, encoding="utf-8")
    train, val, info = load(path, val_fraction=0.25)
    assert train.text + val.text == ENGLISH and len(val.text) == int(len(ENGLISH) * 0.25)
    assert info.split["method"] == "contiguous tail" and info.kind == "text"
    assert train[0].shape == (9,) and train[0].dtype == torch.long
    assert len(val) == (len(val.tokens) - 1) // 8
    assert torch.equal(val[1], val.tokens[8:17])
    assert info.tokenizer_obj.decode(train.tokens.tolist()) == train.text


def test_jsonl_uses_the_named_field_and_skips_bad_lines(tmp_path):
    path = tmp_path / "d.jsonl"
    rows = [json.dumps({"body": f"document number {i} " * 3}) for i in range(10)]
    path.write_text("\n".join([*rows, "not json", json.dumps({"other": 1})]), encoding="utf-8")
    train, val, info = load(path, field="body", val_fraction=0.2)
    assert info.n_documents == 10 and info.split["n_val_documents"] == 2 and info.kind == "documents"
    with pytest.raises(DataError, match="field 'text'") as e:
        load(path)
    assert "body" in e.value.hint


def test_folder_skips_unreadable_files_and_counts_them(tmp_path):
    (tmp_path / "good.txt").write_text(ENGLISH, encoding="utf-8")
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\xfa broken")
    _, _, info = load(tmp_path)
    assert len(info.skipped) == 1 and "bad.txt" in info.skipped[0]


def test_empty_binary_and_undecodable_files_raise_clear_errors(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", encoding="utf-8")
    with pytest.raises(DataError, match="empty"):
        load(empty)
    binary = tmp_path / "x.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(DataError, match="binary"):
        load(binary)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("café crème brûlée ".encode("latin-1") * 20)
    with pytest.raises(DataError, match="as utf-8") as e:
        load(latin)
    assert "encoding" in e.value.hint
    _, _, info = load(latin, encoding="latin-1")  # the hint's remedy works
    assert "é" in info.tokenizer_obj.vocab


def test_missing_source_and_too_short_text(tmp_path):
    with pytest.raises(DataError, match="no such file") as e:
        load(tmp_path / "nope.txt")
    assert "builtin:tinyshakespeare" in e.value.hint
    with pytest.raises(DataError, match="image dataset"):
        load("builtin:digits")
    short = tmp_path / "short.txt"
    short.write_text("abc", encoding="utf-8")
    with pytest.raises(DataError, match="block-size"):
        load(short, val_fraction=0.0)


def test_builtin_tinyshakespeare_is_nanogpts_split():
    train, val, info = load_text_data(TextDataConfig())
    assert info.vocab_size == 65 and info.n_train_chars + info.n_val_chars == 1_115_394
    assert info.n_train_chars == 1_003_855  # nanoGPT's shakespeare_char: first 90 % for training


def test_builtin_tang_poems_are_regulated_verse_in_simplified_characters():
    train, val, info = load_text_data(TextDataConfig(source="builtin:tang-poems"))
    poems = [p for p in train.text.split("\n") if p]
    assert info.kind == "poems" and len(poems) == info.split["n_train_documents"] >= 3000
    assert all(detect_form(p) is not None for p in poems)
    assert "门" in info.tokenizer_obj.vocab and "門" not in info.tokenizer_obj.vocab


def test_chinese_poetry_from_the_shared_collection(shared_data, monkeypatch):
    monkeypatch.setenv("GENLAB_DATA_DIR", str(shared_data))
    cfg = TextDataConfig(source="chinese-poetry", block_size=32, max_chars=20000)
    train, _, info = load_text_data(cfg)
    assert info.kind == "poems" and all(detect_form(p) for p in train.text.split("\n") if p)
