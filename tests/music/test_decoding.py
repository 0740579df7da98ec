"""Constrained decoding: the key's scale on every sample, well-formed bars, an exact number of bars, and a given
soprano kept exactly when harmonising (all with untrained models: the constraints hold by construction)."""

from __future__ import annotations

import pytest
import torch

from genlab.core.errors import BadInputError
from genlab.core.registry import MODELS
from genlab.music import decoding, models  # noqa: F401  (registers the models)
from genlab.music.notes import Note, Piece, scale_pitch_classes
from genlab.music.pipelines import compose, harmonize
from genlab.music.tokenizers import MelodyTokenizer
from tests.music.test_models import PIECES, TOKENIZER

MELODY = MelodyTokenizer(pitch_range=(48, 84), max_duration=4.0, max_beats=4)


def tiny(name: str, tokenizer, **extra):
    cls = MODELS.get(name)
    sizes = {"n_layer": 1, "n_head": 2, "n_embd": 16} if name == "music/transformer" else {"hidden_size": 16}
    torch.manual_seed(0)
    return cls(cls.config_class.build({"vocab_size": tokenizer.vocab_size, "tokenizer": tokenizer.to_dict(),
                                       "block_size": 64, **sizes, **extra}))  # fmt: skip


def body_tokens(tokenizer, row: list[int], prefix: int) -> list[str]:
    return [tokenizer.tokens[i] for i in row[prefix:]]


@pytest.mark.parametrize("tokenizer", [TOKENIZER, MELODY], ids=["remi", "melody"])
@pytest.mark.parametrize("key", ["D major", "f# minor"])
def test_every_sample_stays_in_the_key(tokenizer, key):
    model = tiny("music/transformer", tokenizer)
    pieces = compose(model, n=4, bars=2, key=key, seed=0, max_tokens=80)
    allowed = scale_pitch_classes(key)
    notes = [n for p in pieces for n in p.notes]
    assert notes, "the samples hold no notes"
    assert all(n.pitch % 12 in allowed for n in notes)
    unconstrained = [n for p in compose(model, n=4, bars=2, seed=0, max_tokens=80) for n in p.notes]
    assert any(n.pitch % 12 not in allowed for n in unconstrained)  # the untrained model alone leaves the key


def test_remi_positions_rise_within_every_bar_and_voices_ascend_at_a_position():
    model = tiny("music/lstm", TOKENIZER)
    prefix = [TOKENIZER.bos_id, *TOKENIZER.condition_ids(time_signature=(3, 4))]
    constraints = [decoding.MetreConstraint(TOKENIZER, len(prefix))]
    for row in model.sample_ids(4, 120, torch.Generator().manual_seed(1), 1.0, prefix, constraints):
        tokens = body_tokens(TOKENIZER, row, len(prefix))
        assert tokens[0] == "Bar"
        position, voice = -1, -1
        for token, following in zip(tokens, tokens[1:] + ["<end>"], strict=True):
            kind, _, value = token.partition("_")
            if kind == "Bar":
                position, voice = -1, -1
            elif kind == "Position":
                assert position < int(value) < 12, tokens  # 3/4 on a sixteenth grid: 12 positions
                position, voice = int(value), -1
            elif kind == "Voice":
                assert int(value) > voice, tokens
                voice = int(value)
            elif kind == "Pitch":
                assert following.startswith("Duration_") or following == "<end>", tokens


def test_melody_bars_are_exactly_full_and_the_bar_count_is_exact():
    model = tiny("music/lstm", MELODY)
    prefix = [MELODY.bos_id, *MELODY.condition_ids(time_signature=(3, 4))]
    constraints = [decoding.MetreConstraint(MELODY, len(prefix)), decoding.BarLimit(MELODY, 3, len(prefix))]
    rows = model.sample_ids(4, 400, torch.Generator().manual_seed(0), 1.0, prefix, constraints)
    for row in rows:
        tokens = body_tokens(MELODY, row, len(prefix))
        assert tokens.count("Bar") == 3 and tokens[0] == "Bar"
        cursor, bars, pending = 0, 0, False
        for token in tokens:
            kind, _, value = token.partition("_")
            if kind == "Bar":
                assert bars == 0 or cursor >= bars * 12, "a bar line came before its bar was full"
                cursor = max(cursor, bars * 12)
                bars += 1
            elif kind == "Duration":
                assert pending, tokens
                cursor += int(value)
            elif kind in ("Pitch", "Rest"):
                assert cursor < bars * 12, "an event started after its bar was full"
            pending = kind in ("Pitch", "Rest")
        assert MELODY.decode(row).n_bars <= 3 + 1  # a last note may ring past the third bar line


def test_bar_limit_refuses_eos_early_and_ends_after_the_last_bar():
    limit = decoding.BarLimit(MELODY, 2, prompt_length=1)
    bar, eos = MELODY.bar_id, MELODY.eos_id
    ids = torch.tensor([[MELODY.bos_id, bar], [MELODY.bos_id, bar]])
    logits = torch.zeros(2, MELODY.vocab_size)
    out = limit(ids, logits)
    assert out[0, eos] == float("-inf") and out[0, bar] == 0
    ids = torch.tensor([[MELODY.bos_id, bar, bar], [MELODY.bos_id, bar, bar]])
    out = decoding.BarLimit(MELODY, 2, prompt_length=1)(ids, torch.zeros(2, MELODY.vocab_size))
    assert out[0, bar] == float("-inf") and out[0, eos].item() == pytest.approx(torch.log(torch.tensor(2.0)).item())
    with pytest.raises(BadInputError):
        decoding.BarLimit(MELODY, 0)


@pytest.mark.parametrize("name", ["music/transformer", "music/lstm"])
def test_harmonisation_keeps_the_soprano_exactly(name):
    model = tiny(name, TOKENIZER)
    # F# (78) is chromatic in C major: the forced soprano note must win over the key's scale
    melody = Piece([Note(72, 0, 1), Note(74, 1, 0.5), Note(76, 1.5, 0.5), Note(77, 2, 2), Note(79, 4, 1.5),
                    Note(78, 5.5, 0.5), Note(76, 6, 2, velocity=100)], key="C major")  # fmt: skip
    pieces = harmonize(model, melody, n=3, seed=0)
    want = [(n.pitch, n.start, n.duration, n.velocity) for n in TOKENIZER.quantize(melody).notes]
    for piece in pieces:
        got = [(n.pitch, n.start, n.duration, n.velocity) for n in piece.notes if n.voice == 0]
        assert got == want
        assert {n.voice for n in piece.notes} <= {0, 1, 2, 3}
        assert any(n.voice > 0 for n in piece.notes), "no lower voice was written"
        assert piece.n_bars >= melody.n_bars
        assert all(n.pitch % 12 in scale_pitch_classes("C major") for n in piece.notes if n.voice > 0)


def test_harmonisation_needs_remi_and_a_melody():
    with pytest.raises(BadInputError, match="REMI"):
        decoding.HarmonizeConstraint(MELODY, PIECES[0])
    with pytest.raises(BadInputError, match="no notes"):
        decoding.HarmonizeConstraint(TOKENIZER, Piece([]))


def test_a_key_with_no_pitch_token_and_an_unreadable_key_are_refused():
    with pytest.raises(BadInputError):
        decoding.ScaleConstraint(TOKENIZER, "H major")
    tokenizer = MelodyTokenizer(pitch_range=(61, 61))  # C# alone
    with pytest.raises(BadInputError, match="no pitch"):
        decoding.ScaleConstraint(tokenizer, "C major")
