"""Tokenizers: exact round-trips (emoji, CJK, whitespace), unknown characters, serialisation, streaming."""

import json

import pytest

from genlab.core.errors import BadInputError
from genlab.text.tokenizers import BPETokenizer, CharTokenizer, tokenizer_from_dict, train_tokenizer

MIXED = "Hello, wörld!  \t👋🏽 春眠不觉晓，处处闻啼鸟。\n🇫🇷 emoji ZWJ: 👩‍👩‍👧 done\n"


def test_char_tokenizer_round_trips_unicode():
    tok = CharTokenizer.train([MIXED])
    ids = tok.encode(MIXED)
    assert len(ids) == len(MIXED) and tok.decode(ids) == MIXED
    assert tok.vocab == sorted(set(MIXED))


def test_char_tokenizer_names_unknown_characters():
    tok = CharTokenizer.train(["abc"])
    with pytest.raises(BadInputError, match="'z'"):
        tok.encode("abz")


@pytest.mark.parametrize("text", [MIXED, "  leading and trailing spaces  ", "汉字" * 50, "🙂" * 7])
def test_bpe_round_trips_any_text_even_unseen(text):
    tok = BPETokenizer.train([MIXED * 20 + "the quick brown fox " * 50], vocab_size=300)
    assert 256 < tok.vocab_size <= 300
    assert tok.decode(tok.encode(text)) == text


def test_bpe_merges_frequent_words():
    tok = BPETokenizer.train(["the cat sat on the mat " * 200], vocab_size=280)
    assert len(tok.encode("the cat sat on the mat")) < len("the cat sat on the mat") / 2


@pytest.mark.parametrize("kind", ["char", "bpe"])
def test_serialised_tokenizer_is_json_and_identical(kind):
    tok = train_tokenizer(kind, [MIXED * 10], vocab_size=290)
    data = json.loads(json.dumps(tok.to_dict()))
    again = tokenizer_from_dict(data)
    assert again.encode(MIXED) == tok.encode(MIXED) and again.vocab_size == tok.vocab_size


def test_stream_decoder_emits_only_whole_characters():
    tok = BPETokenizer.train(["ascii only text " * 30], vocab_size=270)
    ids = tok.encode("春夏👋🏽x")  # unseen characters: several byte tokens each
    decoder = tok.stream()
    pieces = [decoder.push(i) for i in ids]
    assert "".join(pieces) == "春夏👋🏽x"
    assert all("\ufffd" not in p for p in pieces) and "" in pieces


def test_tokenizer_from_dict_rejects_missing_tokenizer():
    from genlab.core.errors import ConfigError

    with pytest.raises(ConfigError):
        tokenizer_from_dict({})
