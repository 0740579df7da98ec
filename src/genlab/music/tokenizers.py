"""Music tokenisers saved with the model: REMI events for polyphony, melody events for monophonic folk tunes.

Both write a piece as ``<bos> Key Tempo Style TimeSig body… <eos>``: four conditioning tokens at fixed places
(``Key_none`` / ``Style_none`` when unknown; the tempo as one of :data:`TEMPO_BINS`), so a model learns to
compose in the key, tempo and style it is prompted with. The vocabulary is a function of the tokeniser's
settings alone (grid, pitch range, voices, styles), not of the training data, so two tokenisers with the same
settings agree on every id, and ``to_dict`` stores just the settings. Both register as preprocessors
(``music/remi``, ``music/melody``) and travel in the model's ``config.json``.

* :class:`REMITokenizer` — the REMI representation of Huang & Yang 2020 ("Pop Music Transformer: Beat-based
  Modeling and Generation of Expressive Pop Piano Compositions", ACM MM): ``Bar`` starts every bar (empty ones
  too), ``Position_k`` places the next events on the bar's grid, ``Chord_X`` gives the harmony, and each note
  is ``[Voice_v] [Velocity_v] Pitch_p Duration_d``. We add the voice token (a chorale's four parts), written
  when the voice changes and on the first note of every position, and write the velocity only when it
  changes (it starts at 80), which shortens sequences of unvarying velocity without losing information.
* :class:`MelodyTokenizer` — one melody as a stream of ``Pitch_p Duration_d`` and ``Rest Duration_d`` with
  ``Bar`` at every bar line and ``Chord_X`` / ``Chord_NC`` where the harmony changes (the event-stream form
  of folk-rnn, Sturm et al. 2016, with durations on a grid). Time is implicit: each note starts where the
  previous event ended. A note that crosses bar lines is followed by their ``Bar`` tokens. A chord change is
  written before the note, rest or bar line where it happens; one that falls inside a held note moves to the
  next onset (and one inside the last note is lost), which never happens with ABC chord symbols, written
  before notes.

A piece is first snapped to what the tokeniser can write (:meth:`MusicTokenizer.quantize`: the grid, the
velocity bins, durations of at most ``max_duration`` beats, for melodies the top note at each onset), and
``decode(encode(p))`` then gives back exactly those notes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any, ClassVar

from genlab.core.errors import BadInputError, ConfigError
from genlab.core.preprocessing import Preprocessor, register_preprocessor
from genlab.music.notes import PITCH_CLASSES, ChordSymbol, Note, Piece, key_name, parse_key

PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
SPECIALS = (PAD, BOS, EOS)
CHORD_QUALITIES = ("maj", "min", "dim", "aug", "dom7", "maj7", "min7", "sus4")
#: Tempo bins in quarter notes per minute (a token stands for the nearest; 10–400 qpm are readable).
TEMPO_BINS = (40, 50, 60, 66, 72, 80, 88, 96, 104, 112, 120, 132, 144, 160, 176, 192, 208, 240, 280)
DEFAULT_STYLES = ("chorale", "folk", "irish")
DEFAULT_VELOCITY = 80
KEYS = tuple(key_name(t, m) for m in ("major", "minor") for t in range(12))


class MusicTokenizer(Preprocessor):
    """Pieces ↔ token ids over a vocabulary fixed by the settings; see the module docstring.

    ``steps_per_beat`` is the grid (4 = sixteenth notes, 12 also holds triplets); ``pitch_range`` the
    lowest and highest MIDI pitch with a token; ``max_duration`` the longest note in beats; ``max_beats``
    the longest bar in quarter notes (time signatures up to it have tokens); ``styles`` the style labels.
    """

    kind: ClassVar[str] = ""
    pad_id, bos_id, eos_id = 0, 1, 2

    def __init__(self, steps_per_beat: int = 4, pitch_range: Sequence[int] = (21, 108), max_duration: float = 8.0,
                 max_beats: int = 8, styles: Sequence[str] = DEFAULT_STYLES, max_voices: int = 8,
                 velocity_bins: int = 8) -> None:  # fmt: skip
        low, high = (int(p) for p in pitch_range)
        if not 1 <= steps_per_beat <= 48 or not 0 <= low <= high <= 127 or max_duration <= 0 or max_beats < 1:
            raise ConfigError(
                "music tokenizer settings out of range",
                "steps_per_beat 1–48, pitch_range within 0–127 (low ≤ high), max_duration > 0, max_beats ≥ 1",
            )
        if not 1 <= max_voices <= 16 or not 1 <= velocity_bins <= 127 or len(set(styles)) != len(styles):
            raise ConfigError("music tokenizer: max_voices 1–16, velocity_bins 1–127, distinct style labels")
        self.steps_per_beat, self.pitch_range = int(steps_per_beat), (low, high)
        self.max_duration, self.max_beats = float(max_duration), int(max_beats)
        self.styles, self.max_voices, self.velocity_bins = tuple(styles), int(max_voices), int(velocity_bins)
        self.max_steps = max(1, int(round(self.max_duration * self.steps_per_beat)))
        #: velocity bin values: 127·k/n rounded, so 8 bins are 16, 32, …, 112, 127 (80 among them)
        self.velocities = tuple(min(127, max(1, round(127 * (k + 1) / velocity_bins))) for k in range(velocity_bins))
        if velocity_bins == 8:
            self.velocities = (16, 32, 48, 64, 80, 96, 112, 127)
        self.time_signatures = time_signatures(self.max_beats)
        self.tokens: list[str] = [*SPECIALS, *self._vocabulary()]
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.pitch_ids: dict[int, int] = {p: self.index[f"Pitch_{p}"] for p in range(low, high + 1)}
        self.bar_id: int = self.index["Bar"]

    # --------------------------------------------------------------------------------------- vocabulary
    def _vocabulary(self) -> list[str]:
        low, high = self.pitch_range
        return [
            *(f"Key_{k}" for k in (*KEYS, "none")),
            *(f"Tempo_{t}" for t in TEMPO_BINS),
            *(f"Style_{s}" for s in (*self.styles, "none")),
            *(f"TimeSig_{n}/{d}" for n, d in self.time_signatures),
            "Bar",
            *(f"Chord_{PITCH_CLASSES[r]}:{q}" for r in range(12) for q in CHORD_QUALITIES),
            "Chord_NC",
            *(f"Pitch_{p}" for p in range(low, high + 1)),
            *(f"Duration_{d}" for d in range(1, self.max_steps + 1)),
            *self._event_vocabulary(),
        ]

    def _event_vocabulary(self) -> list[str]:
        """Tokens of the subclass's own events."""
        return []

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def id_of(self, token: str) -> int:
        """The id of ``token`` (``"Bar"``, ``"Pitch_60"``, ``"Key_D major"``); raises for an unknown token."""
        try:
            return self.index[token]
        except KeyError:
            raise BadInputError(f"the music tokenizer has no token {token!r}") from None

    def token_text(self, index: int) -> str:
        """The token string of id ``index`` (specials included)."""
        return self.tokens[index]

    def ids_with_prefix(self, prefix: str) -> list[int]:
        """Ids of every token starting with ``prefix`` (``"Pitch_"``, ``"Duration_"``, ``"Position_"``)."""
        return [i for i, t in enumerate(self.tokens) if t.startswith(prefix)]

    @property
    def steps_per_bar_max(self) -> int:
        return self.max_beats * self.steps_per_beat

    # --------------------------------------------------------------------------------------- conditioning
    def condition_ids(self, key: str | None = None, tempo: float | None = None, style: str | None = None,
                      time_signature: tuple[int, int] = (4, 4)) -> list[int]:  # fmt: skip
        """The conditioning prefix written after ``<bos>``: ``Key Tempo Style TimeSig`` (4 ids).

        ``key`` like ``"D major"`` (None: ``Key_none``), ``tempo`` in quarter notes per minute (None: 120),
        ``style`` one of :attr:`styles` (None: ``Style_none``).
        """
        key_token = "Key_none" if key is None else "Key_" + key_name(*parse_key(key))
        if style is not None and style not in self.styles:
            raise BadInputError(
                f"unknown style {style!r} for this model", f"its styles are: {', '.join(self.styles) or 'none'}"
            )
        ts = (int(time_signature[0]), int(time_signature[1]))
        if ts not in self.time_signatures:
            raise BadInputError(
                f"the time signature {ts[0]}/{ts[1]} has no token",
                f"use one with at most {self.max_beats} quarter notes per bar and denominator 2, 4, 8 or 16",
            )
        return [self.index[key_token], self.index[f"Tempo_{self.tempo_bin(tempo or 120.0)}"],
                self.index[f"Style_{style or 'none'}"], self.index[f"TimeSig_{ts[0]}/{ts[1]}"]]  # fmt: skip

    @staticmethod
    def tempo_bin(tempo: float) -> int:
        """The tempo bin nearest to ``tempo`` (qpm), on a logarithmic scale."""
        if not tempo > 0:
            raise BadInputError(f"tempo must be positive, got {tempo}")
        return min(TEMPO_BINS, key=lambda b: abs(math.log(b / tempo)))

    def _read_prefix(self, tokens: list[str]) -> tuple[dict[str, Any], int]:
        """The conditioning read from the start of ``tokens`` and how many tokens it used."""
        cond: dict[str, Any] = {"key": None, "tempo": 120.0, "time_signature": (4, 4), "style": None}
        i = 0
        while i < len(tokens) and tokens[i].split("_", 1)[0] in ("Key", "Tempo", "Style", "TimeSig"):
            kind, value = tokens[i].split("_", 1)
            if kind == "Key":
                cond["key"] = None if value == "none" else value
            elif kind == "Tempo":
                cond["tempo"] = float(value)
            elif kind == "Style":
                cond["style"] = None if value == "none" else value
            else:
                num, den = value.split("/")
                cond["time_signature"] = (int(num), int(den))
            i += 1
        return cond, i

    # --------------------------------------------------------------------------------------- pieces
    def velocity_value(self, velocity: int) -> int:
        """The velocity bin value nearest to ``velocity``."""
        return min(self.velocities, key=lambda v: (abs(v - velocity), v))

    def quantize(self, piece: Piece) -> Piece:
        """``piece`` as this tokeniser writes it: on the grid, velocities binned, durations capped, and notes
        outside the pitch range or the voice range dropped."""
        q = piece.quantize(self.steps_per_beat)
        low, high = self.pitch_range
        spb = self.steps_per_beat
        # times as k / steps_per_beat exactly as decode computes them (a float sum can be off in the last bit)
        notes = [replace(n, start=round(n.start * spb) / spb,
                         duration=min(round(n.duration * spb), self.max_steps) / spb,
                         velocity=self.velocity_value(n.velocity))
                 for n in q.notes if low <= n.pitch <= high and n.voice < self.max_voices]  # fmt: skip
        notes = list({(n.voice, n.pitch, n.start): n for n in notes}.values())  # one note per voice, pitch, onset
        return replace(q, notes=notes, voices=min(q.voices or 1, self.max_voices))

    def transpositions(self, piece: Piece, semitones: Iterable[int] = range(-5, 7)) -> list[Piece]:
        """``piece`` moved by each of ``semitones`` (0 is the piece itself), skipping the shifts that would move a
        note outside the tokeniser's pitch range (a data-augmentation helper)."""
        return transpositions(piece, semitones, self.pitch_range)

    def encode(self, piece: Piece, key: str | None = None, tempo: float | None = None,
               style: str | None = None) -> list[int]:  # fmt: skip
        """``<bos> Key Tempo Style TimeSig body… <eos>`` for ``piece`` (quantised first). ``key``/``tempo``
        default to the piece's own; ``style`` to none."""
        p = self.quantize(piece)
        if p.time_signature not in self.time_signatures:
            raise BadInputError(
                f"the time signature {p.time_signature[0]}/{p.time_signature[1]} has no token",
                f"this tokenizer writes bars of at most {self.max_beats} quarter notes",
            )
        prefix = self.condition_ids(key if key is not None else p.key, tempo or p.tempo, style, p.time_signature)
        body = [self.index[t] for t in self._body(p)]
        return [self.bos_id, *prefix, *body, self.eos_id]

    def decode(self, ids: Iterable[int]) -> Piece:
        """The piece written by ``ids``: specials are skipped, reading stops at ``<eos>``, ill-formed events
        (a pitch without a duration, a position outside the bar) are ignored."""
        tokens = []
        for i in ids:
            i = int(i)
            if i == self.eos_id:
                break
            if i not in (self.pad_id, self.bos_id) and 0 <= i < len(self.tokens):
                tokens.append(self.tokens[i])
        cond, start = self._read_prefix(tokens)
        ts = cond["time_signature"]
        beats_per_bar = ts[0] * 4.0 / ts[1]
        notes, chords = self._parse_body(tokens[start:], beats_per_bar)
        end = max((n.end for n in notes), default=0.0)
        closed = _close_chords(chords, end)
        return Piece(notes, tempo=cond["tempo"], time_signature=ts, key=cond["key"], chords=closed)

    def note_count(self, ids: Iterable[int]) -> int:
        """Notes in a token sequence (its pitch tokens)."""
        pitch_ids = set(self.pitch_ids.values())
        return sum(int(i) in pitch_ids for i in ids)

    def _body(self, piece: Piece) -> list[str]:
        raise NotImplementedError

    def _parse_body(self, tokens: list[str], beats_per_bar: float) -> tuple[list[Note], list[tuple[float, str]]]:
        raise NotImplementedError

    def _chord_events(self, piece: Piece) -> list[tuple[int, str]]:
        """(grid step, token) of every chord change: the chord at its start, ``Chord_NC`` where a chord ends
        without another one starting (also after the last one, unless it lasts to the end of the piece)."""
        events: list[tuple[int, str]] = []
        spb = self.steps_per_beat
        end = round(piece.length * spb)
        chords = sorted(piece.chords, key=lambda c: c.start)
        for i, c in enumerate(chords):
            start, stop = round(c.start * spb), round((c.start + c.duration) * spb)
            if c.quality not in CHORD_QUALITIES or stop <= start:
                continue
            events.append((start, f"Chord_{PITCH_CLASSES[c.root % 12]}:{c.quality}"))
            following = round(chords[i + 1].start * spb) if i + 1 < len(chords) else end
            if stop < following:
                events.append((stop, "Chord_NC"))
        return [e for e in events if e[0] < max(end, 1)]

    # --------------------------------------------------------------------------------------- saving
    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind, "steps_per_beat": self.steps_per_beat, "pitch_range": list(self.pitch_range),
                "max_duration": self.max_duration, "max_beats": self.max_beats, "styles": list(self.styles),
                "max_voices": self.max_voices, "velocity_bins": self.velocity_bins}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MusicTokenizer:
        settings = {k: v for k, v in data.items() if k != "type"}
        return cls(**settings)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MusicTokenizer) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(tuple(self.tokens))


def time_signatures(max_beats: int = 8) -> tuple[tuple[int, int], ...]:
    """The time signatures with a token: denominators 2, 4, 8, 16 and at most ``max_beats`` quarter notes a bar."""
    return tuple((n, d) for d in (2, 4, 8, 16) for n in range(1, max_beats * d // 4 + 1))


def _close_chords(events: list[tuple[float, str]], end: float) -> list[ChordSymbol]:
    """Chord symbols from (time, token) changes: each lasts until the next change, the last until ``end``."""
    events = sorted(events, key=lambda e: e[0])
    chords = []
    for i, (t, token) in enumerate(events):
        if token == "Chord_NC":
            continue
        stop = events[i + 1][0] if i + 1 < len(events) else end
        if stop > t:
            root, quality = token[len("Chord_") :].split(":")
            chords.append(ChordSymbol(PITCH_CLASSES.index(root), quality, t, stop - t))
    return chords


def transpositions(piece: Piece, semitones: Iterable[int] = range(-5, 7),
                   pitch_range: Sequence[int] = (0, 127)) -> list[Piece]:  # fmt: skip
    """``piece`` moved by each shift in ``semitones`` that keeps every note within ``pitch_range``."""
    low, high = pitch_range
    pitches = piece.pitches()
    lowest, highest = (min(pitches), max(pitches)) if pitches else (low, high)
    return [piece.transpose(s) for s in semitones if low <= lowest + s and highest + s <= high]


@register_preprocessor("music")
class REMITokenizer(MusicTokenizer):
    """REMI events (Huang & Yang 2020) with voices: Bar, Position, Chord, Voice, Velocity, Pitch, Duration."""

    kind = "remi"

    def _event_vocabulary(self) -> list[str]:
        return [
            *(f"Position_{k}" for k in range(self.steps_per_bar_max)),
            *(f"Voice_{v}" for v in range(self.max_voices)),
            *(f"Velocity_{v}" for v in self.velocities),
        ]

    def _body(self, piece: Piece) -> list[str]:
        spb = self.steps_per_beat
        bar_steps = int(round(piece.beats_per_bar * spb))
        events: dict[int, tuple[list[str], list[Note]]] = {}
        for step, token in self._chord_events(piece):
            events.setdefault(step, ([], []))[0].append(token)
        for n in piece.notes:
            events.setdefault(int(round(n.start * spb)), ([], []))[1].append(n)
        n_bars = max(piece.n_bars, 1 + max(events, default=0) // bar_steps if events else 0)
        out: list[str] = []
        velocity = DEFAULT_VELOCITY
        for bar in range(n_bars):
            out.append("Bar")
            for step in range(bar * bar_steps, (bar + 1) * bar_steps):
                if step not in events:
                    continue
                chord_tokens, notes = events[step]
                out.append(f"Position_{step - bar * bar_steps}")
                out += chord_tokens
                voice = None
                for n in sorted(notes, key=lambda n: (n.voice, n.pitch)):
                    if n.voice != voice:
                        out.append(f"Voice_{n.voice}")
                        voice = n.voice
                    if n.velocity != velocity:
                        out.append(f"Velocity_{n.velocity}")
                        velocity = n.velocity
                    out += [f"Pitch_{n.pitch}", f"Duration_{int(round(n.duration * spb))}"]
        return out

    def _parse_body(self, tokens: list[str], beats_per_bar: float) -> tuple[list[Note], list[tuple[float, str]]]:
        spb = self.steps_per_beat
        bar_steps = int(round(beats_per_bar * spb))
        notes: list[Note] = []
        chords: list[tuple[float, str]] = []
        bar, position, voice, velocity, pitch = -1, 0, 0, DEFAULT_VELOCITY, None
        for token in tokens:
            kind, _, value = token.partition("_")
            if kind != "Duration" and pitch is not None:
                pitch = None  # a pitch must be followed by its duration
            if kind == "Bar":
                bar, position = bar + 1, 0
            elif kind == "Position" and int(value) < bar_steps:
                position = int(value)
            elif kind == "Chord" and bar >= 0:
                chords.append(((bar * bar_steps + position) / spb, token))
            elif kind == "Voice":
                voice = int(value)
            elif kind == "Velocity":
                velocity = int(value)
            elif kind == "Pitch" and bar >= 0:
                pitch = int(value)
            elif kind == "Duration" and pitch is not None:
                notes.append(Note(pitch, (bar * bar_steps + position) / spb, int(value) / spb, velocity, voice))
                pitch = None
        return notes, chords


@register_preprocessor("music")
class MelodyTokenizer(MusicTokenizer):
    """One melody (voice 0, the top note at each onset) as Pitch/Rest + Duration events with Bar and Chord."""

    kind = "melody"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_voices", 1)
        super().__init__(*args, **kwargs)
        self.rest_id = self.index["Rest"]

    def _event_vocabulary(self) -> list[str]:
        return ["Rest"]

    def quantize(self, piece: Piece) -> Piece:
        """The melody of ``piece`` (voice 0) on the grid: at each onset the highest note, cut where the next note
        starts; velocities are all 80 (the melody tokens carry none)."""
        q = super().quantize(piece)
        top: dict[float, Note] = {}
        for n in q.voice(0):
            if n.start not in top or n.pitch > top[n.start].pitch:
                top[n.start] = n
        onsets = sorted(top)
        notes = []
        for i, t in enumerate(onsets):
            n = top[t]
            end = min(n.end, onsets[i + 1]) if i + 1 < len(onsets) else n.end
            spb = self.steps_per_beat
            notes.append(
                replace(n, duration=(round(end * spb) - round(t * spb)) / spb, velocity=DEFAULT_VELOCITY, voice=0)
            )
        return replace(q, notes=notes, voices=1)

    def _body(self, piece: Piece) -> list[str]:
        spb = self.steps_per_beat
        bar_steps = int(round(piece.beats_per_bar * spb))
        chord_at: dict[int, list[str]] = {}
        for s, token in self._chord_events(piece):
            chord_at.setdefault(s, []).append(token)
        notes = [(int(round(n.start * spb)), int(round(n.duration * spb)), n.pitch) for n in piece.notes]
        out: list[str] = []
        cursor, bars = 0, 0  # current grid step; Bar tokens written

        def advance_bars(to: int) -> None:
            nonlocal bars
            while bars * bar_steps <= to:
                out.append("Bar")
                bars += 1

        def flush_chords(upto: int) -> None:  # chord changes up to ``upto`` not yet written, in time order
            for s in sorted(s for s in chord_at if s <= upto):
                out.extend(chord_at.pop(s))

        def rest_until(target: int) -> None:
            nonlocal cursor
            while cursor < target:  # rests split at bar lines and chord changes, so those land on a boundary
                advance_bars(cursor)
                flush_chords(cursor)
                stop = min([bars * bar_steps, target, cursor + self.max_steps, *(s for s in chord_at if s > cursor)])
                out.extend(["Rest", f"Duration_{stop - cursor}"])
                cursor = stop

        for start, duration, pitch in notes:
            rest_until(start)
            advance_bars(start)
            flush_chords(start)  # a change in the middle of the previous note is written at this onset
            out += [f"Pitch_{pitch}", f"Duration_{duration}"]
            cursor = start + duration
        advance_bars(cursor - 1)
        return out

    def _parse_body(self, tokens: list[str], beats_per_bar: float) -> tuple[list[Note], list[tuple[float, str]]]:
        spb = self.steps_per_beat
        bar_steps = int(round(beats_per_bar * spb))
        notes: list[Note] = []
        chords: list[tuple[float, str]] = []
        cursor, bars, pending = 0, 0, None  # pending: the pitch (or -1 for a rest) awaiting its duration
        for token in tokens:
            kind, _, value = token.partition("_")
            if kind == "Duration" and pending is not None:
                length = int(value)
                if pending >= 0:
                    notes.append(Note(pending, cursor / spb, length / spb, DEFAULT_VELOCITY, 0))
                cursor += length
                pending = None
                continue
            pending = None
            if kind == "Bar":
                cursor = max(cursor, bars * bar_steps)
                bars += 1
            elif kind == "Chord":
                chords.append((cursor / spb, token))
            elif kind == "Pitch":
                pending = int(value)
            elif kind == "Rest":
                pending = -1
        return notes, chords


TOKENIZERS: dict[str, type[MusicTokenizer]] = {"remi": REMITokenizer, "melody": MelodyTokenizer}


def tokenizer_from_dict(data: dict[str, Any]) -> MusicTokenizer:
    """Rebuild a music tokenizer from :meth:`MusicTokenizer.to_dict` output."""
    kind = data.get("type")
    if kind not in TOKENIZERS:
        raise ConfigError(f"unknown music tokenizer {kind!r}", f"one of: {', '.join(TOKENIZERS)}")
    return TOKENIZERS[kind].from_dict(data)
