"""MIDI / MusicXML / ABC reading and MIDI writing."""

from __future__ import annotations

from pathlib import Path

import pytest

from genlab.core.errors import BadInputError
from genlab.music import io
from genlab.music.notes import Note, Piece
from tests.music.conftest import write_test_midi

# two voices: (channel, pitch, start tick, end tick, velocity) at 96 ticks per beat
SOPRANO = [(0, 64, 0, 96, 90), (0, 67, 96, 144, 70), (0, 64, 144, 288, 100)]
BASS = [(1, 40, 0, 288, 60)]


def test_midi_round_trip_keeps_notes_chords_and_meta(tmp_path, chorale_piece):
    path = io.write_midi(chorale_piece, tmp_path / "out" / "piece.mid")
    back = io.read_piece(path)
    assert back.notes == chorale_piece.notes
    assert back.chords == chorale_piece.chords
    assert (back.tempo, back.time_signature, back.key, back.voices) == (90, (4, 4), "C major", 4)
    assert not list(path.parent.glob(".*.tmp"))  # written atomically, nothing left over


def test_written_midi_is_type_1_with_a_track_per_voice_and_no_drum_channel(tmp_path):
    import mido

    piece = Piece([Note(60 + v, 0, 1, voice=v) for v in range(11)])
    mid = mido.MidiFile(str(io.write_midi(piece, tmp_path / "p.mid")))
    assert mid.type == 1 and len(mid.tracks) == 12  # conductor + 11 voices
    channels = {m.channel for t in mid.tracks for m in t if m.type == "note_on"}
    assert io.DRUM_CHANNEL not in channels and len(channels) == 11
    assert io.read_piece(tmp_path / "p.mid").notes == piece.notes


def test_type_0_and_type_1_files_read_the_same(tmp_path):
    type1 = write_test_midi(tmp_path / "t1.mid", [SOPRANO, BASS], midi_type=1)
    type0 = write_test_midi(tmp_path / "t0.mid", [SOPRANO + BASS], midi_type=0)
    a, b = io.read_piece(type1), io.read_piece(type0)
    assert a.notes == b.notes
    assert a.voices == b.voices == 2
    assert [(n.pitch, n.start, n.duration, n.velocity) for n in a.voice(0)] == [
        (64, 0.0, 1.0, 90), (67, 1.0, 0.5, 70), (64, 1.5, 1.5, 100)]  # fmt: skip
    assert (a.tempo, a.time_signature, a.key) == (120.0, (3, 4), "E minor")


def test_drums_are_dropped_and_drum_only_files_refused(tmp_path):
    drums = [(9, 36, 0, 48, 100), (9, 38, 48, 96, 100)]
    mixed = io.read_piece(write_test_midi(tmp_path / "mixed.mid", [SOPRANO, drums]))
    assert mixed.voices == 1 and {n.pitch for n in mixed.notes} == {64, 67}
    with pytest.raises(BadInputError, match="only drums"):
        io.read_piece(write_test_midi(tmp_path / "drums.mid", [drums]))


def test_no_notes_not_midi_and_unknown_suffix_are_clear_errors(tmp_path):
    with pytest.raises(BadInputError, match="no notes"):
        io.read_piece(write_test_midi(tmp_path / "empty.mid", [[]]))
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"this is not a MIDI file at all")
    with pytest.raises(BadInputError, match="not a readable MIDI"):
        io.read_piece(bad)
    other = tmp_path / "notes.txt"
    other.write_text("C D E")
    with pytest.raises(BadInputError, match="not a music file"):
        io.read_pieces(other)
    with pytest.raises(BadInputError, match="no such"):
        io.read_pieces(tmp_path / "missing.mid")


@pytest.mark.parametrize("tempo_us", [60_000_000 * 100, 60_000])  # 0.6 and 1000 quarter notes per minute
def test_absurd_tempo_is_refused(tmp_path, tempo_us):
    path = write_test_midi(tmp_path / "fast.mid", [SOPRANO], tempo_us=min(tempo_us, 0xFFFFFF))
    with pytest.raises(BadInputError, match="absurd tempo"):
        io.read_piece(path)
    with pytest.raises(BadInputError, match="absurd tempo"):
        io.write_midi(Piece([Note(60, 0, 1)], tempo=1000), tmp_path / "out.mid")


def test_overlapping_same_pitch_notes_end_first_in_first_out(tmp_path):
    path = write_test_midi(tmp_path / "overlap.mid", [[(0, 60, 0, 192, 80), (0, 60, 96, 288, 80)]])
    assert [(n.start, n.duration) for n in io.read_piece(path).notes] == [(0.0, 2.0), (1.0, 2.0)]


def test_abc_book_reads_every_tune_with_chords_and_merged_ties(tmp_path):
    abc = tmp_path / "book.abc"
    abc.write_text(
        'X:1\nT:First Tune\nM:3/4\nL:1/8\nK:G\n"G"G2 B2 d2-|d2 "D7"c2 A2|"G"G6|]\n\n'
        "X:2\nT:Second Tune\nM:2/4\nL:1/8\nK:Em\nE2 G2|B4|]\n"
    )
    first, second = io.read_pieces(abc)
    assert (first.title, first.time_signature, first.key) == ("First Tune", (3, 4), "G major")
    assert [(n.pitch, n.start, n.duration) for n in first.notes[:4]] == [
        (67, 0.0, 1.0),
        (71, 1.0, 1.0),
        (74, 2.0, 2.0),
        (72, 4.0, 1.0),
    ]  # the tied d2-|d2 is one note
    assert [(c.name, c.start, c.duration) for c in first.chords] == [("G:maj", 0.0, 4.0), ("D:dom7", 4.0, 2.0),
                                                                    ("G:maj", 6.0, 3.0)]  # fmt: skip
    assert second.key == "E minor" and len(second.notes) == 3
    assert io.read_piece(abc).title == "First Tune"


def test_real_chorale_has_four_voices_in_score_order():
    from genlab.music.data import music21_corpus_dir

    piece = io.read_piece(music21_corpus_dir() / "bach" / "bwv269.mxl")
    assert piece.voices == 4
    means = [sum(n.pitch for n in piece.voice(v)) / len(piece.voice(v)) for v in range(4)]
    assert means == sorted(means, reverse=True)  # soprano, alto, tenor, bass
    assert piece.key == "G major" and piece.time_signature == (3, 4) and piece.title == "bwv269"
    assert piece.is_quantized(4)


def test_real_folk_tune_from_oneill(tmp_path):
    from genlab.music.data import music21_corpus_dir

    # one tune copied out of the book keeps the test fast
    text = (music21_corpus_dir() / "oneills1850" / "0001-0050.abc").read_text(encoding="latin-1")
    tune = text[text.index("X: 2") : text.index("X: 3")]
    path = tmp_path / "tune.abc"
    path.write_text(tune, encoding="latin-1")
    piece = io.read_piece(path)
    assert piece.title == "Fare You Well" and piece.key == "D major" and piece.time_signature == (2, 4)
    assert piece.voices == 1 and len(piece.notes) > 40
    assert all(isinstance(n.pitch, int) and n.duration > 0 for n in piece.notes)


def test_from_music21_reads_a_stream_built_in_code():
    from music21 import chord, harmony, meter, note, stream

    part = stream.Part()
    part.append(meter.TimeSignature("2/4"))
    part.append(harmony.ChordSymbol("Am"))
    part.append(note.Note("A4", quarterLength=1))
    part.append(chord.Chord(["C5", "E5"], quarterLength=1))
    piece = io.from_music21(part)
    assert [(n.pitch, n.start) for n in piece.notes] == [(69, 0.0), (72, 1.0), (76, 1.0)]
    assert [c.name for c in piece.chords] == ["A:min"] and piece.time_signature == (2, 4)


def test_write_midi_refuses_too_many_voices(tmp_path: Path):
    piece = Piece([Note(60, 0, 1, voice=v) for v in range(16)])
    with pytest.raises(BadInputError, match="15"):
        io.write_midi(piece, tmp_path / "x.mid")


def test_kern_spines_become_voices_top_first(tmp_path):
    krn = tmp_path / "two.krn"
    krn.write_text("**kern\t**kern\n*M3/4\t*M3/4\n4G\t4g\n4A\t4b\n4B\t8cc\n.\t8dd\n=1\t=1\n2.G\t2.gg\n*-\t*-\n")
    piece = io.read_piece(krn)
    assert piece.voices == 2 and piece.time_signature == (3, 4)
    assert [(n.pitch, n.start, n.duration) for n in piece.voice(0)] == [
        (67, 0.0, 1.0), (71, 1.0, 1.0), (72, 2.0, 0.5), (74, 2.5, 0.5), (79, 3.0, 3.0)]  # fmt: skip
    assert [n.pitch for n in piece.voice(1)] == [55, 57, 59, 55]


def test_a_note_never_released_lasts_to_the_end_of_its_track(tmp_path):
    import mido

    mid = mido.MidiFile(type=0, ticks_per_beat=100)
    mid.tracks.append(mido.MidiTrack([
        mido.Message("note_on", note=60, velocity=80, time=0),
        mido.Message("note_on", note=64, velocity=80, time=100),
        mido.Message("note_off", note=64, velocity=0, time=100),
        mido.MetaMessage("end_of_track", time=200),
    ]))  # fmt: skip
    mid.save(str(tmp_path / "held.mid"))
    notes = io.read_piece(tmp_path / "held.mid").notes
    assert [(n.pitch, n.start, n.duration) for n in notes] == [(60, 0.0, 4.0), (64, 1.0, 1.0)]
