"""REMI and melody tokenisers: exact round trips, conditioning, ill-formed input, saving."""

from __future__ import annotations

import pytest

from genlab.core.errors import BadInputError
from genlab.core.registry import PREPROCESSORS
from genlab.music.notes import ChordSymbol, Note, Piece
from genlab.music.tokenizers import MelodyTokenizer, REMITokenizer, tokenizer_from_dict, transpositions


def test_remi_round_trip_is_exact_on_a_quantised_piece(chorale_piece):
    tok = REMITokenizer()
    ids = tok.encode(chorale_piece, style="chorale")
    back = tok.decode(ids)
    assert back.notes == chorale_piece.notes
    assert back.chords == chorale_piece.chords
    assert (back.key, back.time_signature) == ("C major", (4, 4))
    assert tok.note_count(ids) == len(chorale_piece.notes)
    assert ids[0] == tok.bos_id and ids[-1] == tok.eos_id
    assert ids[1:5] == tok.condition_ids("C major", 90, "chorale", (4, 4))
    assert sum(i == tok.bar_id for i in ids) == chorale_piece.n_bars


def test_remi_writes_the_events_of_huang_and_yang():
    tok = REMITokenizer()
    piece = Piece([Note(60, 0, 1), Note(64, 0, 0.5, voice=1), Note(67, 4.5, 0.25, velocity=112)], key="C major",
                  chords=[ChordSymbol(0, "maj", 0, 4.75)])  # fmt: skip
    tokens = [tok.tokens[i] for i in tok.encode(piece)]
    assert tokens == ["<bos>", "Key_C major", "Tempo_120", "Style_none", "TimeSig_4/4",
                      "Bar", "Position_0", "Chord_C:maj", "Voice_0", "Pitch_60", "Duration_4",
                      "Voice_1", "Pitch_64", "Duration_2",
                      "Bar", "Position_2", "Voice_0", "Velocity_112", "Pitch_67", "Duration_1", "<eos>"]  # fmt: skip


def test_melody_round_trip_is_exact_with_rests_bar_crossings_and_chords(melody_piece):
    tok = MelodyTokenizer()
    ids = tok.encode(melody_piece, style="folk")
    back = tok.decode(ids)
    assert back.notes == melody_piece.notes
    assert back.chords == melody_piece.chords
    assert back.time_signature == (6, 8) and back.key == "D major"
    assert tok.note_count(ids) == 6
    tokens = [tok.tokens[i] for i in ids]
    assert tokens[5:9] == ["Bar", "Rest", "Duration_4", "Chord_D:maj"]  # the pickup rest, then the first chord
    assert tokens.count("Bar") == 3  # 9 beats of 6/8 (3 quarter notes a bar)


def test_melody_keeps_the_top_line_of_a_polyphonic_piece(chorale_piece):
    tok = MelodyTokenizer()
    melody = tok.quantize(chorale_piece)
    assert melody.voices == 1 and [n.pitch for n in melody.notes] == [72, 74, 72, 71, 72]
    assert tok.decode(tok.encode(chorale_piece)).notes == melody.notes


@pytest.mark.parametrize("steps", [4, 12])
def test_round_trip_on_random_quantised_pieces(steps):
    import random

    rng = random.Random(steps)
    for cls in (REMITokenizer, MelodyTokenizer):
        tok = cls(steps_per_beat=steps)
        for _ in range(20):
            notes = [
                Note(rng.randint(40, 90), rng.randint(0, 16 * steps) / steps, rng.randint(1, 3 * steps) / steps,
                     rng.choice(tok.velocities), rng.randint(0, 3))
                for _ in range(rng.randint(1, 30))
            ]  # fmt: skip
            piece = tok.quantize(Piece(notes, time_signature=rng.choice([(4, 4), (3, 4), (6, 8), (2, 2)])))
            assert tok.decode(tok.encode(piece)).notes == piece.notes


def test_quantize_snaps_to_what_the_tokenizer_can_write():
    tok = REMITokenizer(steps_per_beat=4, pitch_range=(36, 96), max_duration=2)
    piece = Piece([Note(60, 0.1, 0.4, 77), Note(20, 1, 1), Note(61, 1, 5)])
    q = tok.quantize(piece)
    assert [(n.pitch, n.start, n.duration, n.velocity) for n in q.notes] == [(60, 0.0, 0.5, 80), (61, 1.0, 2.0, 80)]
    assert tok.decode(tok.encode(piece)).notes == q.notes


def test_decode_ignores_specials_and_ill_formed_events():
    tok = REMITokenizer()
    ids = [tok.bos_id, tok.id_of("Pitch_60"), tok.bar_id, tok.id_of("Position_2"), tok.id_of("Pitch_62"),
           tok.id_of("Position_3"), tok.id_of("Duration_2"), tok.id_of("Position_31"), tok.id_of("Pitch_64"),
           tok.id_of("Duration_4"), tok.pad_id, tok.eos_id, tok.id_of("Pitch_70"), tok.id_of("Duration_1")]  # fmt: skip
    piece = tok.decode(ids)
    # the pitch before any bar, the pitch without a duration, the position past the bar and what follows <eos>
    # are all ignored
    assert [(n.pitch, n.start, n.duration) for n in piece.notes] == [(64, 0.75, 1.0)]
    assert tok.decode([]).notes == []


def test_conditioning_tokens_and_errors():
    tok = MelodyTokenizer(styles=("folk", "irish"))
    cond = [tok.tokens[i] for i in tok.condition_ids("f# minor", 100, "irish", (6, 8))]
    assert cond == ["Key_F# minor", "Tempo_104", "Style_irish", "TimeSig_6/8"]
    assert [tok.tokens[i] for i in tok.condition_ids()] == ["Key_none", "Tempo_120", "Style_none", "TimeSig_4/4"]
    with pytest.raises(BadInputError, match="style"):
        tok.condition_ids(style="chorale")
    with pytest.raises(BadInputError, match="key"):
        tok.condition_ids(key="H major")
    with pytest.raises(BadInputError, match="time signature"):
        tok.encode(Piece([Note(60, 0, 1)], time_signature=(11, 4)))
    with pytest.raises(BadInputError):
        tok.id_of("Pitch_200")


def test_api_used_by_the_models(chorale_piece):
    tok = REMITokenizer()
    assert tok.vocab_size == len(tok.tokens) == len(set(tok.tokens))
    assert (tok.pad_id, tok.bos_id, tok.eos_id) == (0, 1, 2)
    assert tok.tokens[tok.bar_id] == "Bar"
    assert all(tok.tokens[i] == f"Pitch_{p}" for p, i in tok.pitch_ids.items())
    assert set(tok.pitch_ids) == set(range(21, 109)) and tok.steps_per_beat == 4


def test_saves_and_loads_as_a_registered_preprocessor(chorale_piece):
    for cls in (REMITokenizer, MelodyTokenizer):
        tok = cls(steps_per_beat=12, pitch_range=(30, 100), styles=("a", "b"))
        assert PREPROCESSORS.get(f"music/{tok.kind}") is cls
        data = tok.to_dict()
        again = PREPROCESSORS.get(f"music/{data['type']}").from_dict(data)
        assert again == tok and again.tokens == tok.tokens
        assert tokenizer_from_dict(data).encode(chorale_piece) == tok.encode(chorale_piece)


def test_transpositions_skip_shifts_that_leave_the_range(chorale_piece):
    tok = REMITokenizer(pitch_range=(43, 77))  # the piece spans 43..74
    shifted = tok.transpositions(chorale_piece, range(-5, 7))
    assert [p.notes[0].pitch - chorale_piece.notes[0].pitch for p in shifted] == [0, 1, 2, 3]
    up = shifted[2]
    assert up.key == "D major" and up.chords[0].root == 2
    assert tok.decode(tok.encode(up)).notes == up.notes
    assert len(transpositions(chorale_piece)) == 12


def test_real_chorale_and_folk_tune_round_trip(tmp_path):
    from genlab.music.data import music21_corpus_dir
    from genlab.music.io import read_piece, read_pieces

    remi = REMITokenizer()
    for name in ("bwv269", "bwv347", "bwv153.1"):
        chorale = read_piece(music21_corpus_dir() / "bach" / f"{name}.mxl")
        ids = remi.encode(chorale, style="chorale")
        assert remi.decode(ids).notes == remi.quantize(chorale).notes == chorale.notes
        assert remi.note_count(ids) == len(chorale.notes)

    text = (music21_corpus_dir() / "essenFolksong" / "test0.abc").read_text(encoding="latin-1")
    path = tmp_path / "songs.abc"
    path.write_text(text[: text.index("X:", text.index("X:", 10) + 2)], encoding="latin-1")  # the first two songs
    melody = MelodyTokenizer()
    for song in read_pieces(path):
        back = melody.decode(melody.encode(song, style="folk"))
        assert back.notes == melody.quantize(song).notes and back.notes
