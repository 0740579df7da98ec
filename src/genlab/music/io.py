"""Reading and writing symbolic music: MIDI through ``mido``; MusicXML, ABC and Humdrum kern through ``music21``.

Every reader returns :class:`~genlab.music.notes.Piece` objects in quarter notes:

* MIDI (``.mid``/``.midi``, types 0 and 1): ticks are divided by the file's ticks per beat; the first tempo,
  time signature and key signature events give the piece's tempo, metre and key (later changes are ignored);
  velocities are kept. A type-1 file gives one voice per track that holds notes, a type-0 file one voice per
  channel. Channel 10 (index 9, General MIDI percussion) is dropped: its "pitches" are drum kinds.
* MusicXML (``.xml``/``.musicxml``/``.mxl``), ABC (``.abc``) and kern (``.krn``): parsed by music21; parts
  become voices in score order (soprano first in a chorale), tied notes are merged, grace notes dropped, and
  chord symbols (``harmony.ChordSymbol``) become :class:`ChordSymbol` lasting until the next one. An ABC
  file may hold a whole book of tunes: :func:`read_pieces` returns them all.

:func:`write_midi` writes a type-1 file (a tempo/metre/key track, then one track per voice) atomically; chord
symbols are kept as ``marker`` events (``chord D:min 4.0``: name and duration) so that they survive a round
trip through genlab.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

from genlab.core.errors import BadInputError
from genlab.core.io import atomic_write
from genlab.core.optional import require
from genlab.music.notes import PITCH_CLASSES, ChordSymbol, Note, Piece, key_name, parse_key

MIDI_SUFFIXES = (".mid", ".midi")
MUSIC21_SUFFIXES = (".xml", ".musicxml", ".mxl", ".abc", ".krn")
SUFFIXES = MIDI_SUFFIXES + MUSIC21_SUFFIXES
MIN_TEMPO, MAX_TEMPO = 10.0, 400.0  # quarter notes per minute a piece may have
DRUM_CHANNEL = 9  # General MIDI channel 10, counted from 0
TICKS_PER_BEAT = 480  # divisible by 2, 3, 4, 5, 6, 8, 12, 16: every usual grid is exact in ticks
CHORD_MARKER = "chord"

#: music21 chord kinds → the qualities of :class:`ChordSymbol` (extensions fold onto their triad or seventh).
CHORD_QUALITIES = {
    "major": "maj", "major-sixth": "maj", "major-ninth": "maj7", "major-11th": "maj7", "major-13th": "maj7",
    "minor": "min", "minor-sixth": "min", "minor-ninth": "min7", "minor-11th": "min7", "minor-13th": "min7",
    "minor-major-seventh": "min", "dominant-seventh": "dom7", "dominant-ninth": "dom7", "dominant-11th": "dom7",
    "dominant-13th": "dom7", "major-seventh": "maj7", "minor-seventh": "min7", "diminished": "dim",
    "diminished-seventh": "dim", "half-diminished": "dim", "augmented": "aug", "augmented-seventh": "aug",
    "augmented-ninth": "aug", "suspended-fourth": "sus4", "suspended-fourth-seventh": "sus4",
    "suspended-second": "sus4", "power": "maj", "pedal": "maj", "Neapolitan": "maj", "Italian": "dom7",
    "French": "dom7", "German": "dom7", "Tristan": "dim",
}  # fmt: skip


def _hint() -> str:
    return f"give a MIDI ({', '.join(MIDI_SUFFIXES)}), MusicXML (.xml, .musicxml, .mxl), ABC (.abc) or kern (.krn) file"


# ----------------------------------------------------------------------------------------------- reading
def read_pieces(path: str | Path) -> list[Piece]:
    """Every piece in the file at ``path`` (one for MIDI and MusicXML; all tunes of an ABC book).

    Raises :class:`BadInputError` for a missing or unreadable file, an unknown format, a file without notes,
    a drum-only MIDI file, or a tempo outside 10–400 quarter notes per minute.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise BadInputError(f"no such music file: {path}", _hint())
    suffix = path.suffix.lower()
    if suffix in MIDI_SUFFIXES:
        return [read_midi(path)]
    if suffix in MUSIC21_SUFFIXES:
        return _read_music21(path)
    raise BadInputError(f"{path.name} is not a music file genlab reads (suffix {suffix or 'none'})", _hint())


def read_piece(path: str | Path) -> Piece:
    """The one piece in ``path`` (the first when the file holds several, as an ABC book does)."""
    return read_pieces(path)[0]


def read_midi(path: str | Path) -> Piece:
    """A MIDI file (type 0 or 1) as a piece; see the module docstring for what is kept."""
    mido = require("mido", "music")
    path = Path(path)
    try:
        midi = mido.MidiFile(str(path))
    except Exception as e:  # mido raises OSError, EOFError, ValueError, KeyError… on damaged files
        raise BadInputError(f"{path.name} is not a readable MIDI file: {e}", _hint()) from None
    if midi.type == 2:
        raise BadInputError(f"{path.name} is a type-2 MIDI file (independent sequences)", "save it as type 0 or 1")
    tpb = midi.ticks_per_beat or TICKS_PER_BEAT
    meta: dict[str, Any] = {}
    notes: list[tuple[Any, int, int, int, int]] = []  # (group, pitch, start tick, end tick, velocity)
    chords: list[ChordSymbol] = []
    drums = 0
    for index, track in enumerate(midi.tracks):
        tick = 0
        sounding: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)  # (channel, pitch) -> onsets
        for msg in track:
            tick += msg.time
            if msg.is_meta:
                _read_meta(msg, tick / tpb, meta, chords)
            elif msg.type in ("note_on", "note_off"):
                if msg.channel == DRUM_CHANNEL:
                    drums += msg.type == "note_on" and msg.velocity > 0
                    continue
                held = sounding[(msg.channel, msg.note)]
                if msg.type == "note_on" and msg.velocity > 0:
                    held.append((tick, msg.velocity))
                elif held:  # note_off, or note_on with velocity 0; the earliest sounding one ends (FIFO)
                    start, velocity = held.pop(0)
                    group = index if midi.type == 1 else msg.channel
                    notes.append((group, msg.note, start, tick, velocity))
        for (channel, pitch), onsets in sounding.items():  # never released: they sound to the end of the track
            notes += [
                (index if midi.type == 1 else channel, pitch, start, tick, velocity) for start, velocity in onsets
            ]
    if not notes:
        if drums:
            raise BadInputError(
                f"{path.name} holds only drums (channel 10), which genlab does not model",
                "give a file with pitched parts",
            )
        raise BadInputError(f"{path.name} holds no notes", "give a MIDI file with at least one note")
    voices = {g: v for v, g in enumerate(sorted({n[0] for n in notes}))}
    piece_notes = [Note(pitch, start / tpb, max(end - start, 1) / tpb, velocity, voices[group])
                   for group, pitch, start, end, velocity in notes]  # fmt: skip
    tempo = meta.get("tempo", 120.0)
    _check_tempo(tempo, path.name)
    return Piece(piece_notes, tempo=tempo, time_signature=meta.get("time_signature", (4, 4)), key=meta.get("key"),
                 chords=_close_chords(chords, max(n.end for n in piece_notes)), title=meta.get("title", path.stem),
                 source=str(path), voices=len(voices))  # fmt: skip


def _read_meta(msg: Any, time: float, meta: dict[str, Any], chords: list[ChordSymbol]) -> None:
    """Record the first tempo / metre / key / title, and every chord marker, of a MIDI meta message."""
    if msg.type == "set_tempo" and "tempo" not in meta:
        # microseconds per beat are whole numbers, so 90 qpm comes back as 89.99996: round to 1/100 qpm
        meta["tempo"] = round(60_000_000 / msg.tempo, 2) if msg.tempo else math.inf
    elif msg.type == "time_signature" and "time_signature" not in meta:
        meta["time_signature"] = (msg.numerator, msg.denominator)
    elif msg.type == "key_signature" and "key" not in meta:
        name = msg.key
        meta["key"] = f"{name[:-1]} minor" if name.endswith("m") else f"{name} major"
    elif msg.type == "track_name" and msg.name.strip() and "title" not in meta:
        meta["title"] = msg.name.strip()
    elif msg.type == "marker" and msg.text.startswith(CHORD_MARKER + " "):
        chord = _parse_chord_marker(msg.text, time)
        if chord is not None:
            chords.append(chord)


def _parse_chord_marker(text: str, time: float) -> ChordSymbol | None:
    try:
        _, name, duration = text.split()
        root, quality = name.split(":")
        return ChordSymbol(PITCH_CLASSES.index(root), quality, time, float(duration))
    except ValueError:
        return None  # a marker another program wrote


def _close_chords(chords: list[ChordSymbol], end: float) -> list[ChordSymbol]:
    return sorted(chords, key=lambda c: c.start) if end > 0 else []


def _check_tempo(tempo: float, name: str) -> None:
    if not MIN_TEMPO <= tempo <= MAX_TEMPO:
        raise BadInputError(
            f"{name} has an absurd tempo of {tempo:.4g} quarter notes per minute",
            f"genlab reads tempos between {MIN_TEMPO:g} and {MAX_TEMPO:g} qpm; fix the file's tempo event",
        )


def _read_music21(path: Path) -> list[Piece]:
    converter = require("music21", "music").converter
    try:
        parsed = converter.parse(str(path))
    except Exception as e:  # music21 raises many kinds of errors on bad input
        raise BadInputError(f"music21 cannot read {path.name}: {e}", _hint()) from None
    scores = list(parsed.scores) if hasattr(parsed, "scores") and len(parsed.scores) else [parsed]
    pieces = []
    for score in scores:
        piece = from_music21(score, source=str(path))
        if piece.notes:
            pieces.append(piece)
    if not pieces:
        raise BadInputError(f"{path.name} holds no notes", "give a score with at least one note")
    return pieces


def from_music21(score: Any, source: str = "") -> Piece:
    """A music21 stream (a ``Score``, a ``Part`` or any stream of notes) as a piece; parts are voices in order."""
    m21 = require("music21", "music")
    parts = list(score.parts) if hasattr(score, "parts") and len(score.parts) else [score]
    notes: list[Note] = []
    chords: list[tuple[float, ChordSymbol]] = []
    voice = 0
    for part in parts:
        found = False
        tied: dict[int, int] = {}  # MIDI pitch -> index in ``notes`` of the note its tie continues
        for element in part.flatten().notes:
            offset = float(element.offset)
            if isinstance(element, m21.harmony.ChordSymbol):
                chord = _chord_symbol(element, offset)
                if chord is not None:
                    chords.append((offset, chord))
                continue
            duration = float(element.quarterLength)
            if duration <= 0:  # grace notes
                continue
            velocity = element.volume.velocity if element.volume.velocity is not None else 80
            chord_tie = element.tie if isinstance(element, m21.chord.Chord) else None
            for sub in element.notes if isinstance(element, m21.chord.Chord) else [element]:
                pitch = int(sub.pitch.midi)
                tie = sub.tie or chord_tie
                kind = tie.type if tie is not None else None
                if kind in ("continue", "stop") and pitch in tied:  # tied notes merge into the first
                    first = notes[tied[pitch]]
                    notes[tied[pitch]] = replace(first, duration=offset + duration - first.start)
                    if kind == "stop":
                        del tied[pitch]
                    continue
                if kind in ("start", "continue"):
                    tied[pitch] = len(notes)
                notes.append(Note(pitch, offset, duration, int(velocity), voice))
                found = True
        voice += found
    end = max((n.end for n in notes), default=0.0)
    chords.sort(key=lambda c: c[0])
    stops = [t for t, _ in chords[1:]] + [end] if chords else []
    symbols = [replace(c, duration=stop - t) for (t, c), stop in zip(chords, stops, strict=True) if stop > t]
    title = ""
    if score.metadata is not None:
        title = score.metadata.title or score.metadata.movementName or ""
    if source and title == Path(source).name:  # music21 names untitled MusicXML files after the file
        title = Path(source).stem
    tempo = _music21_tempo(score)
    if notes:
        _check_tempo(tempo, title or source or "the score")
    return Piece(notes, tempo=tempo, time_signature=_music21_metre(score, end), key=_music21_key(score, notes),
                 chords=symbols, title=str(title), source=source, voices=max(voice, 1))  # fmt: skip


def _chord_symbol(element: Any, offset: float) -> ChordSymbol | None:
    quality = CHORD_QUALITIES.get(element.chordKind)
    if quality is None or element.root() is None:
        return None  # "N.C." or a kind music21 could not name
    return ChordSymbol(element.root().pitchClass, quality, offset, 0.0)


def _music21_tempo(score: Any) -> float:
    marks = score.flatten().getElementsByClass("MetronomeMark")
    for mark in marks:
        qpm = mark.getQuarterBPM()
        if qpm:
            return float(qpm)
    return 120.0


def _music21_metre(score: Any, end: float) -> tuple[int, int]:
    """The time signature that covers most of the score (ABC pickups can add a stray one, e.g. 1/16)."""
    found = sorted(((float(ts.getOffsetInHierarchy(score)), int(ts.numerator), int(ts.denominator))
                    for ts in score.recurse().getElementsByClass("TimeSignature")), key=lambda f: f[0])  # fmt: skip
    if not found:
        return 4, 4
    span: dict[tuple[int, int], float] = defaultdict(float)
    for i, (offset, num, den) in enumerate(found):
        stop = found[i + 1][0] if i + 1 < len(found) else max(end, offset)
        span[(num, den)] += stop - offset
    return max(span, key=lambda ts: (span[ts], -[f[1:] for f in found].index(ts)))


def _music21_key(score: Any, notes: list[Note]) -> str | None:
    flat = score.flatten()
    for k in flat.getElementsByClass("Key"):
        if k.mode in ("major", "minor"):
            return key_name(k.tonic.pitchClass, k.mode)
    if not notes:
        return None
    try:  # only a key signature (MusicXML chorales): the Krumhansl–Schmuckler estimate names the mode
        k = score.analyze("key")
        return key_name(k.tonic.pitchClass, k.mode) if k.mode in ("major", "minor") else None
    except Exception:
        return None


# ----------------------------------------------------------------------------------------------- writing
def write_midi(piece: Piece, path: str | Path) -> Path:
    """Write ``piece`` as a type-1 MIDI file (a conductor track, then one track per voice); returns the path.

    Voices use channels 1, 2, … in order, skipping channel 10 (drums). The file appears atomically.
    """
    mido = require("mido", "music")
    path = Path(path).expanduser()
    n_voices = max(piece.voices or 1, 1 + max((n.voice for n in piece.notes), default=0))
    if n_voices > 15:
        raise BadInputError(f"a MIDI file holds at most 15 pitched voices; this piece has {n_voices}")
    _check_tempo(piece.tempo, piece.title or "the piece")
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    midi.tracks.append(_conductor_track(piece, mido))
    for v in range(n_voices):
        channel = v if v < DRUM_CHANNEL else v + 1
        events = []  # (tick, order, message): note-offs (order 0) before note-ons (1) at the same tick
        for n in piece.voice(v):
            if not 0 <= n.pitch <= 127:
                raise BadInputError(f"pitch {n.pitch} is outside the MIDI range 0–127")
            on, off = _ticks(n.start), _ticks(n.end)
            velocity = min(127, max(1, int(n.velocity)))
            events.append((on, 1, mido.Message("note_on", channel=channel, note=n.pitch, velocity=velocity)))
            events.append((max(off, on + 1), 0, mido.Message("note_off", channel=channel, note=n.pitch, velocity=0)))
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=f"voice {v}", time=0)])
        _append_events(track, events)
        midi.tracks.append(track)
    atomic_write(path, lambda tmp: midi.save(tmp))
    return path


def _conductor_track(piece: Piece, mido: Any) -> Any:
    track = mido.MidiTrack()
    if piece.title:
        track.append(mido.MetaMessage("track_name", name=piece.title[:120], time=0))
    track.append(mido.MetaMessage("set_tempo", tempo=int(round(60_000_000 / piece.tempo)), time=0))
    num, den = piece.time_signature
    track.append(mido.MetaMessage("time_signature", numerator=num, denominator=den, time=0))
    if piece.key:
        tonic, mode = parse_key(piece.key)
        track.append(mido.MetaMessage("key_signature", key=_midi_key_name(tonic, mode), time=0))
    events = [(_ticks(c.start), 0, mido.MetaMessage("marker", text=f"{CHORD_MARKER} {c.name} {c.duration:g}"))
              for c in piece.chords]  # fmt: skip
    _append_events(track, events)
    return track


def _midi_key_name(tonic: int, mode: str) -> str:
    """mido's key names (``Bb``, ``F#m``): sharps or flats as the key signature writes them."""
    major_names = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
    minor_names = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")
    return major_names[tonic] if mode == "major" else minor_names[tonic] + "m"


def _ticks(beats: float) -> int:
    return int(round(beats * TICKS_PER_BEAT))


def _append_events(track: Any, events: list[tuple[int, int, Any]]) -> None:
    """Append (absolute tick, order, message) events to ``track`` with delta times, then end the track."""
    import mido

    last = 0
    for tick, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
        track.append(msg.copy(time=tick - last))
        last = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
