"""Shared fixtures of the music tests: hand-made pieces and MIDI files built with mido."""

from __future__ import annotations

from pathlib import Path

import pytest

from genlab.music.notes import ChordSymbol, Note, Piece


@pytest.fixture
def chorale_piece() -> Piece:
    """A quantised four-voice piece in 4/4 with chords, a rest in the bass and varied velocities."""
    notes = [
        Note(72, 0, 1), Note(67, 0, 1, voice=1), Note(64, 0, 1, voice=2), Note(48, 0, 1, voice=3),
        Note(74, 1, 0.5, 96), Note(72, 1.5, 0.5, 96), Note(65, 1, 1, voice=1), Note(62, 1, 1, voice=2),
        Note(71, 2, 2), Note(67, 2, 2, voice=1), Note(62, 2, 2, voice=2), Note(43, 2, 2, voice=3),
        Note(72, 4, 4, 112), Note(67, 4, 4, voice=1), Note(64, 4, 4, voice=2), Note(48, 5, 3, voice=3),
    ]  # fmt: skip
    chords = [ChordSymbol(0, "maj", 0, 1), ChordSymbol(7, "dom7", 2, 2), ChordSymbol(0, "maj", 4, 4)]
    return Piece(notes, tempo=90, time_signature=(4, 4), key="C major", chords=chords, title="test chorale")


@pytest.fixture
def melody_piece() -> Piece:
    """A quantised 6/8 tune with a pickup rest, a note across the bar line and chord changes at onsets."""
    notes = [Note(62, 1.0, 0.5), Note(66, 1.5, 1.5), Note(69, 3.0, 1.0), Note(67, 4.0, 0.5),
             Note(66, 4.5, 2.5), Note(64, 7.0, 2.0)]  # fmt: skip
    chords = [ChordSymbol(2, "maj", 1.0, 3.0), ChordSymbol(9, "dom7", 4.0, 3.0), ChordSymbol(2, "maj", 7.0, 2.0)]
    return Piece(notes, tempo=120, time_signature=(6, 8), key="D major", chords=chords, title="test tune")


def write_test_midi(path: Path, tracks: list[list[tuple]], midi_type: int = 1, tempo_us: int = 500_000,
                    ticks_per_beat: int = 96, meta: bool = True) -> Path:  # fmt: skip
    """A MIDI file from ``tracks`` of (channel, pitch, start tick, end tick, velocity) notes (type 0: one track)."""
    import mido

    mid = mido.MidiFile(type=midi_type, ticks_per_beat=ticks_per_beat)
    for i, notes in enumerate(tracks):
        events = []
        if meta and i == 0:
            events += [(0, mido.MetaMessage("set_tempo", tempo=tempo_us)),
                       (0, mido.MetaMessage("time_signature", numerator=3, denominator=4)),
                       (0, mido.MetaMessage("key_signature", key="Em"))]  # fmt: skip
        for channel, pitch, on, off, velocity in notes:
            events.append((on, mido.Message("note_on", channel=channel, note=pitch, velocity=velocity)))
            events.append((off, mido.Message("note_off", channel=channel, note=pitch, velocity=0)))
        track = mido.MidiTrack()
        last = 0
        for tick, msg in sorted(events, key=lambda e: (e[0], e[1].type != "note_off")):
            track.append(msg.copy(time=tick - last))
            last = tick
        mid.tracks.append(track)
    mid.save(str(path))
    return path
