"""Symbolic music as plain data: :class:`Note`, :class:`ChordSymbol` and :class:`Piece`.

Times and durations are in quarter notes (beats of a 4/4 bar) from the start of the piece, as music21 counts
them; a piece is *quantised* when every onset and duration is a whole number of grid steps
(``steps_per_beat``, 4 = sixteenth notes). Pitches are MIDI numbers (60 = middle C). Everything else in
:mod:`genlab.music` (readers, tokenisers, metrics, renderers) speaks these types, so a metric never needs to
know whether a piece came from a MIDI file, an ABC tune or a model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from genlab.core.errors import BadInputError

PITCH_CLASSES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
MAJOR_STEPS = (0, 2, 4, 5, 7, 9, 11)
MINOR_STEPS = (0, 2, 3, 5, 7, 8, 10)  # natural minor; harmonic/melodic alterations are checked by the metrics


@dataclass(frozen=True)
class Note:
    """One note: MIDI ``pitch``, ``start`` and ``duration`` in quarter notes, ``velocity`` 1–127, ``voice``
    (the part or track it belongs to: 0 = soprano / melody)."""

    pitch: int
    start: float
    duration: float
    velocity: int = 80
    voice: int = 0

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass(frozen=True)
class ChordSymbol:
    """A chord symbol sounding from ``start`` for ``duration`` quarter notes: ``root`` pitch class 0–11 and
    ``quality`` (``maj``, ``min``, ``dim``, ``aug``, ``dom7``, ``maj7``, ``min7``, ``sus4``)."""

    root: int
    quality: str
    start: float
    duration: float

    @property
    def name(self) -> str:
        return f"{PITCH_CLASSES[self.root % 12]}:{self.quality}"


@dataclass
class Piece:
    """A piece of music: notes (any number of voices), an optional chord track, tempo (quarter notes per
    minute), time signature, key (``"D major"``, ``"e minor"``) and provenance (``title``, ``source``)."""

    notes: list[Note]
    tempo: float = 120.0
    time_signature: tuple[int, int] = (4, 4)
    key: str | None = None
    chords: list[ChordSymbol] = field(default_factory=list)
    title: str = ""
    source: str = ""
    voices: int | None = None

    def __post_init__(self) -> None:
        self.notes = sorted(self.notes, key=lambda n: (n.start, n.voice, n.pitch))
        if self.voices is None:
            self.voices = 1 + max((n.voice for n in self.notes), default=0)

    # ----------------------------------------------------------------- measures
    @property
    def beats_per_bar(self) -> float:
        """Quarter notes per bar (6/8 → 3.0, 3/4 → 3.0, 4/4 → 4.0)."""
        num, den = self.time_signature
        return num * 4.0 / den

    @property
    def length(self) -> float:
        """End of the last note, in quarter notes."""
        return max((n.end for n in self.notes), default=0.0)

    @property
    def n_bars(self) -> int:
        return math.ceil(self.length / self.beats_per_bar - 1e-9) if self.notes else 0

    @property
    def seconds(self) -> float:
        return self.length * 60.0 / self.tempo

    def voice(self, v: int) -> list[Note]:
        return [n for n in self.notes if n.voice == v]

    def pitches(self) -> list[int]:
        return [n.pitch for n in self.notes]

    # ----------------------------------------------------------------- transforms
    def transpose(self, semitones: int) -> Piece:
        """The piece moved by ``semitones`` (notes, chord roots and key); raises when a pitch leaves 0–127."""
        if not semitones:
            return self
        notes = [replace(n, pitch=n.pitch + semitones) for n in self.notes]
        if notes and not 0 <= min(n.pitch for n in notes) <= max(n.pitch for n in notes) <= 127:
            raise BadInputError(
                f"transposing by {semitones:+d} semitones moves notes outside the MIDI range 0–127",
                "transpose by fewer semitones",
            )
        chords = [replace(c, root=(c.root + semitones) % 12) for c in self.chords]
        key = None
        if self.key:
            tonic, mode = parse_key(self.key)
            key = key_name((tonic + semitones) % 12, mode)
        return replace(self, notes=notes, chords=chords, key=key)

    def quantize(self, steps_per_beat: int = 4) -> Piece:
        """Onsets and ends snapped to the nearest grid step; notes that would vanish keep one step."""
        q = 1.0 / steps_per_beat

        def snap(x: float) -> float:
            return round(x / q) * q

        notes = []
        for n in self.notes:
            start = snap(n.start)
            notes.append(replace(n, start=start, duration=max(q, snap(n.end) - start)))
        chords = [replace(c, start=snap(c.start), duration=max(q, snap(c.start + c.duration) - snap(c.start)))
                  for c in self.chords]  # fmt: skip
        return replace(self, notes=notes, chords=chords)

    def is_quantized(self, steps_per_beat: int = 4) -> bool:
        return all(_on_grid(n.start, steps_per_beat) and _on_grid(n.duration, steps_per_beat) for n in self.notes)

    def slice_bars(self, first: int, count: int) -> Piece:
        """Bars ``first`` .. ``first + count - 1`` (0-based) as a piece starting at 0; notes that begin in the
        window are kept (and cut at its end)."""
        lo, hi = first * self.beats_per_bar, (first + count) * self.beats_per_bar
        notes = [replace(n, start=n.start - lo, duration=min(n.end, hi) - n.start)
                 for n in self.notes if lo <= n.start < hi]  # fmt: skip
        chords = [replace(c, start=c.start - lo, duration=min(c.start + c.duration, hi) - c.start)
                  for c in self.chords if lo <= c.start < hi]  # fmt: skip
        return replace(self, notes=notes, chords=chords, voices=self.voices)


def _on_grid(x: float, steps_per_beat: int) -> bool:
    return abs(x * steps_per_beat - round(x * steps_per_beat)) < 1e-6


# --------------------------------------------------------------------------- keys


def parse_key(text: str) -> tuple[int, str]:
    """``"D major"`` → (2, ``"major"``); ``"f# minor"``, ``"Bb"`` (major), ``"e"`` (lower case: minor) also work."""
    parts = text.strip().replace("-", " ").split()
    if not parts or len(parts) > 2:
        raise BadInputError(f"cannot read the key {text!r}", 'write a tonic and a mode, e.g. "D major" or "e minor"')
    name = parts[0]
    letter = name[0].upper()
    if letter not in _LETTERS or any(c not in "#b" for c in name[1:]):
        raise BadInputError(f"cannot read the key {text!r}: {name!r} is not a note name", 'e.g. "D major", "Bb minor"')
    tonic = (_LETTERS[letter] + name[1:].count("#") - name[1:].count("b")) % 12
    if len(parts) == 2:
        mode = parts[1].lower()
        if mode not in ("major", "minor"):
            raise BadInputError(f"cannot read the key {text!r}: the mode must be major or minor", 'e.g. "e minor"')
    else:
        mode = "minor" if name[0].islower() else "major"
    return tonic, mode


def key_name(tonic: int, mode: str) -> str:
    return f"{PITCH_CLASSES[tonic % 12]} {mode}"


def scale_pitch_classes(key: str) -> frozenset[int]:
    """Pitch classes of ``key``'s scale (major, or minor with both the natural and the raised 6th and 7th)."""
    tonic, mode = parse_key(key)
    steps = MAJOR_STEPS if mode == "major" else (*MINOR_STEPS, 9, 11)
    return frozenset((tonic + s) % 12 for s in steps)
