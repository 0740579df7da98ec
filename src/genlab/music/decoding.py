"""Constrained decoding of music tokens: key, metre, length in bars, and 4-voice harmonisation of a given soprano.

Every constraint is a logits processor of :mod:`genlab.text.decoding` (``(ids (B, T), logits (B, V)) -> logits``),
the mechanism of the text modality's poem forms (:class:`genlab.text.poems.PoemConstraint`): before each choice, the
tokens the constraint does not allow after a row's ids so far get logit −inf, so the constraint holds on every
sample by construction. They are passed to a model's ``sample_ids(..., constraints=[...])`` and combine freely.

* :class:`ScaleConstraint` — only pitches of a key's scale (:func:`genlab.music.notes.scale_pitch_classes`).
* :class:`MetreConstraint` — well-formed bars: REMI ``Position`` tokens strictly increase within a bar and stay
  inside it (so a ``Bar`` must come once the bar is full); for melody tokens a ``Bar`` comes exactly when the
  durations written fill the bar. Both: a ``Duration`` follows every ``Pitch``/``Rest`` and nothing else.
* :class:`BarLimit` — exactly ``n_bars`` new bars: ``<eos>`` is refused before them, and the bar token that would
  open one more is turned into ``<eos>`` (its probability moves there).
* :class:`HarmonizeConstraint` — REMI only: the soprano's tokens (voice 0) are forced at their positions and the
  model writes the other voices around them; position tokens cannot skip a soprano onset, and voice 0 is never
  written freely, so the decoded soprano is the given one exactly.

The stateful constraints read each row incrementally (the tokens added since the last call), so a step costs
O(new tokens), not O(length).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from genlab.core.errors import BadInputError
from genlab.music.notes import Piece, scale_pitch_classes

CONDITION_KINDS = ("Key", "Tempo", "Style", "TimeSig")


def _kind(token: str) -> tuple[str, str]:
    kind, _, value = token.partition("_")
    return kind, value


@dataclass
class ScoreCursor:
    """Where a token sequence stands: bars opened, the bar's last REMI position, the melody's elapsed grid steps,
    the running voice and velocity, and whether a ``Pitch``/``Rest`` awaits its ``Duration``."""

    steps_per_beat: int
    bar_steps: int = 0
    bars: int = 0
    position: int = -1
    step: int = 0
    voice: int = 0
    velocity: int = 80
    pending: bool = False
    conditions: int = 0  # conditioning tokens read before the first bar
    position_voice: int = -1  # the last voice named at the current position (-1: none yet)
    voice_notes: int = 0  # notes of that voice at this position
    last: str = ""  # the kind of the last token read

    def feed(self, token: str) -> None:
        """Advance over one token (the grammar of :mod:`genlab.music.tokenizers`)."""
        kind, value = _kind(token)
        self.last = kind
        if kind == "Duration" and self.pending:
            self.step += int(value)
            self.pending = False
            self.voice_notes += 1
            return
        self.pending = False
        if kind in CONDITION_KINDS and self.bars == 0:
            self.conditions += 1
        if kind == "TimeSig":
            num, den = value.split("/")
            self.bar_steps = round(int(num) * 4 / int(den) * self.steps_per_beat)
        elif kind == "Bar":
            self.bar_steps = self.bar_steps or 4 * self.steps_per_beat
            self.step = max(self.step, self.bars * self.bar_steps)
            self.bars += 1
            self.position, self.position_voice = -1, -1
        elif kind == "Position":
            self.position, self.position_voice = int(value), -1
        elif kind == "Voice":
            self.voice, self.position_voice, self.voice_notes = int(value), int(value), 0
        elif kind == "Velocity":
            self.velocity = int(value)
        elif kind in ("Pitch", "Rest"):
            self.pending = True

    @property
    def bar_full(self) -> bool:
        """Melody tokens: the durations written fill the current bar (the next event must be ``Bar``)."""
        return self.bars > 0 and self.step >= self.bars * self.bar_steps


class TokenConstraint:
    """Base of the music constraints: ``allowed(row state)`` gives a boolean mask (V,) of the tokens allowed next
    (None: all), and ``forced`` a token that must come next (it wins over every other processor's mask); calling
    the constraint applies them to a batch of logits, as the poem constraint does."""

    def __init__(self, tokenizer: Any, prompt_length: int = 0):
        self.tokenizer, self.prompt_length = tokenizer, prompt_length
        self.vocab = tokenizer.tokens
        self.V = len(self.vocab)
        self._states: list[Any] = []
        self._seen = -1

    # --- per-row state, read incrementally --------------------------------------------------
    def new_state(self) -> Any:
        return None

    def feed(self, state: Any, index: int, token_id: int) -> None:
        """Advance ``state`` over the token ``token_id`` at row position ``index``."""

    def states(self, ids: torch.Tensor) -> list[Any]:
        rows = ids.tolist()
        t = ids.shape[1]
        if len(rows) != len(self._states) or t < self._seen:
            self._states, self._seen = [self.new_state() for _ in rows], 0
        for state, row in zip(self._states, rows, strict=True):
            for i in range(self._seen, t):
                self.feed(state, i, row[i])
        self._seen = t
        return self._states

    # --- masks ----------------------------------------------------------------------------
    def allowed(self, state: Any) -> torch.Tensor | None:
        return None

    def forced(self, state: Any) -> int | None:
        return None

    def adjust(self, states: list[Any], logits: torch.Tensor) -> torch.Tensor:
        """Any other change to the batch's logits (B, V) after the masks (default: none)."""
        return logits

    def __call__(self, ids: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        states = self.states(ids)
        everything = torch.ones(self.V, dtype=torch.bool)
        masks, forced_rows, forced_ids = [], [], []
        for r, state in enumerate(states):
            token = self.forced(state)
            if token is not None:
                forced_rows.append(r), forced_ids.append(token)
            mask = self.allowed(state) if token is None else None
            masks.append(everything if mask is None else mask)
        logits = self.adjust(states, logits.masked_fill(~torch.stack(masks).to(logits.device), float("-inf")))
        if forced_rows:  # a forced token wins over every other processor's mask
            logits[forced_rows] = float("-inf")
            logits[forced_rows, forced_ids] = 0.0
        return logits

    def ids_where(self, test: Callable[[str, str], bool]) -> torch.Tensor:
        """Mask (V,) of the tokens whose (kind, value) pass ``test``."""
        return torch.tensor([test(*_kind(t)) for t in self.vocab], dtype=torch.bool)


class ScaleConstraint(TokenConstraint):
    """Only pitches whose pitch class is in ``key``'s scale (``"D major"``; minor keys allow the raised 6th/7th)."""

    def __init__(self, tokenizer: Any, key: str, prompt_length: int = 0):
        super().__init__(tokenizer, prompt_length)
        self.key = key
        classes = scale_pitch_classes(key)
        self.mask = self.ids_where(lambda kind, value: kind != "Pitch" or int(value) % 12 in classes)
        if not any(int(v) % 12 in classes for k, v in map(_kind, self.vocab) if k == "Pitch"):
            raise BadInputError(f"the model has no pitch in {key}", "pick another key")

    def allowed(self, state: Any) -> torch.Tensor:
        return self.mask


class MetreConstraint(TokenConstraint):
    """Well-formed bars (see the module docstring); the time signature is read from the row's ``TimeSig`` token
    (``default_time_signature`` until one is read)."""

    def __init__(self, tokenizer: Any, prompt_length: int = 0, default_time_signature: tuple[int, int] = (4, 4)):
        super().__init__(tokenizer, prompt_length)
        self.spb = tokenizer.steps_per_beat
        num, den = default_time_signature
        self.default_bar_steps = round(num * 4 / den * self.spb)
        self.remi = any(t.startswith("Position_") for t in self.vocab)
        self.durations = self.ids_where(lambda kind, _: kind == "Duration")
        self.conditions = self.ids_where(lambda kind, _: kind in CONDITION_KINDS)
        self.positions = torch.tensor([int(_kind(t)[1]) if t.startswith("Position_") else -1 for t in self.vocab])
        self.voices = torch.tensor([int(_kind(t)[1]) if t.startswith("Voice_") else -1 for t in self.vocab])
        self.chords = self.ids_where(lambda kind, _: kind == "Chord")
        self.velocities = self.ids_where(lambda kind, _: kind == "Velocity")
        self._cache: dict[tuple, torch.Tensor] = {}
        self.bar = torch.zeros(self.V, dtype=torch.bool)
        self.bar[tokenizer.bar_id] = True
        self.eos = torch.zeros(self.V, dtype=torch.bool)
        self.eos[tokenizer.eos_id] = True

    def new_state(self) -> ScoreCursor:
        return ScoreCursor(self.spb, self.default_bar_steps)

    def feed(self, state: ScoreCursor, index: int, token_id: int) -> None:
        state.feed(self.vocab[token_id])

    def allowed(self, state: ScoreCursor) -> torch.Tensor:
        key = self.signature(state)
        mask = self._cache.get(key)
        if mask is None:
            mask = self._cache[key] = self._mask(state)
        return mask

    def signature(self, state: ScoreCursor) -> tuple:
        """What the mask depends on (masks are cached by it)."""
        if self.remi:
            return state.pending, state.bars == 0, state.conditions >= 4, state.position, state.bar_steps, \
                state.position_voice, state.last  # fmt: skip
        return state.pending, state.bars == 0, state.conditions >= 4, state.bar_full

    def _mask(self, state: ScoreCursor) -> torch.Tensor:
        if state.pending:
            return self.durations
        mask = ~self.durations
        if state.bars == 0:  # only conditioning (once) before the first bar, and no empty piece
            return mask & ((self.conditions if state.conditions < 4 else ~mask) | self.bar)
        mask &= ~self.conditions
        if self.remi:
            is_position = self.positions >= 0
            bad = is_position & ((self.positions <= state.position) | (self.positions >= state.bar_steps))
            bad |= (self.voices >= 0) & (self.voices <= state.position_voice)  # voices ascend within a position
            if state.last != "Position":
                bad |= self.chords  # chord symbols come right after their position
            if state.last == "Velocity":
                bad |= self.velocities  # one velocity change before a note
            return mask & ~bad
        if state.bar_full:
            return self.bar | self.eos
        return mask & ~self.bar


class BarLimit(TokenConstraint):
    """Exactly ``n_bars`` new bars after the first ``prompt_length`` ids: ``<eos>`` is refused before the
    ``n_bars``-th bar token, and from then on a bar token becomes ``<eos>`` (its probability moves there)."""

    def __init__(self, tokenizer: Any, n_bars: int, prompt_length: int = 0):
        if n_bars < 1:
            raise BadInputError(f"cannot compose {n_bars} bars", "ask for --bars 1 or more")
        super().__init__(tokenizer, prompt_length)
        self.n_bars = n_bars
        self.bar_id, self.eos_id = tokenizer.bar_id, tokenizer.eos_id

    def new_state(self) -> list[int]:
        return [0]

    def feed(self, state: list[int], index: int, token_id: int) -> None:
        if index >= self.prompt_length and token_id == self.bar_id:
            state[0] += 1

    def adjust(self, states: list[list[int]], logits: torch.Tensor) -> torch.Tensor:
        early = torch.tensor([s[0] < self.n_bars for s in states], device=logits.device)
        eos, bar = logits[:, self.eos_id].clone(), logits[:, self.bar_id].clone()
        logits[:, self.eos_id] = torch.where(early, float("-inf"), torch.logaddexp(eos, bar))
        logits[:, self.bar_id] = torch.where(early, bar, float("-inf"))
        return logits


@dataclass
class _HarmonyState:
    cursor: ScoreCursor
    next_onset: int = 0  # soprano onsets written
    queue: list[int] = field(default_factory=list)  # forced ids still to come


class HarmonizeConstraint(MetreConstraint):
    """Write a REMI piece around a given soprano: the soprano's notes (voice 0) are forced at their onsets, the
    model writes voices 1..``voices``-1. The prompt is ``<bos>`` and the conditioning; the body starts at the
    first bar and stops (``<eos>``) after the soprano's last bar."""

    def __init__(self, tokenizer: Any, soprano: Piece, voices: int = 4, prompt_length: int = 0):
        if getattr(tokenizer, "kind", "") != "remi":
            raise BadInputError("harmonisation needs a model trained on REMI tokens (several voices)",
                                "train on chorales: genlab train music --data builtin:bach-chorales")  # fmt: skip
        if voices < 2 or voices > tokenizer.max_voices:
            raise BadInputError(f"cannot harmonise in {voices} voices", f"use 2–{tokenizer.max_voices}")
        super().__init__(tokenizer, prompt_length, soprano.time_signature)
        melody = tokenizer.quantize(Piece([n for n in soprano.notes if n.voice == 0], soprano.tempo,
                                          soprano.time_signature, soprano.key))  # fmt: skip
        if not melody.notes:
            raise BadInputError("the melody to harmonise has no notes", "give a MIDI/MusicXML/ABC file with a melody")
        self.soprano = melody
        self.n_bars = melody.n_bars
        onsets: dict[int, list] = {}
        for n in melody.notes:
            onsets.setdefault(round(n.start * self.spb), []).append(n)
        self.onsets = sorted(onsets)
        self.notes_at = {s: sorted(ns, key=lambda n: n.pitch) for s, ns in onsets.items()}
        self.index = tokenizer.index
        self.voice_ok = self.ids_where(lambda kind, value: kind != "Voice" or 1 <= int(value) < voices)
        self.pitches = self.ids_where(lambda kind, _: kind == "Pitch")

    def new_state(self) -> _HarmonyState:
        return _HarmonyState(super().new_state())

    def feed(self, state: _HarmonyState, index: int, token_id: int) -> None:
        c = state.cursor
        c.feed(self.vocab[token_id])
        if state.queue:
            state.queue.pop(0)
            return
        if index < self.prompt_length or not self.vocab[token_id].startswith("Position_"):
            return
        step = (c.bars - 1) * c.bar_steps + c.position
        if state.next_onset < len(self.onsets) and self.onsets[state.next_onset] == step:
            state.queue = self._soprano_ids(step, c.velocity)
            state.next_onset += 1

    def _soprano_ids(self, step: int, velocity: int) -> list[int]:
        """``Voice_0 [Velocity_v] Pitch_p Duration_d …`` of the soprano notes starting at grid ``step``."""
        out = ["Voice_0"]
        for n in self.notes_at[step]:
            if n.velocity != velocity:
                out.append(f"Velocity_{n.velocity}")
                velocity = n.velocity
            out += [f"Pitch_{n.pitch}", f"Duration_{round(n.duration * self.spb)}"]
        return [self.index[t] for t in out]

    def forced(self, state: _HarmonyState) -> int | None:
        if state.queue:
            return state.queue[0]
        if state.cursor.bars == 0 and not state.cursor.pending:
            return self.tokenizer.bar_id  # the body starts with a bar
        return None

    def allowed(self, state: _HarmonyState) -> torch.Tensor:
        c = state.cursor
        onset = self.onsets[state.next_onset] if state.next_onset < len(self.onsets) else None
        key = (self.signature(c), c.voice == 0, c.voice_notes > 0, onset, c.bars)
        mask = self._cache.get(key)
        if mask is None:
            mask = self._cache[key] = self._harmony_mask(c, onset)
        return mask

    def _harmony_mask(self, c: ScoreCursor, onset: int | None) -> torch.Tensor:
        mask = self._mask(c) & self.voice_ok
        if c.pending:
            return mask
        if c.position < 0 or c.voice == 0 or c.voice_notes > 0:
            mask = mask & ~self.pitches  # a free note follows a position and names its (lower) voice; one per voice
        if onset is not None:
            bar, pos = divmod(onset, c.bar_steps)
            mask = mask & ~self.eos
            if c.bars - 1 == bar:  # the next soprano onset is in this bar: no position may pass it
                mask = mask & ~self.bar & ~((self.positions > pos) & (self.positions >= 0))
        return mask

    def adjust(self, states: list[_HarmonyState], logits: torch.Tensor) -> torch.Tensor:
        eos, bar = self.tokenizer.eos_id, self.tokenizer.bar_id
        for r, state in enumerate(states):
            c = state.cursor
            if state.next_onset >= len(self.onsets) and c.bars >= self.n_bars and not c.pending:
                logits[r, eos] = torch.logaddexp(logits[r, eos], logits[r, bar])  # the last bar closes the piece
                logits[r, bar] = float("-inf")
        return logits

    def check(self, piece: Piece) -> None:
        """Raise when ``piece``'s voice 0 is not the soprano (it ran out of tokens before the end)."""
        want = [(n.pitch, n.start, n.duration) for n in self.soprano.notes]
        got = [(n.pitch, n.start, n.duration) for n in piece.notes if n.voice == 0]
        if got != want:
            raise BadInputError(
                f"the harmonisation stopped after {len(got)} of the melody's {len(want)} notes",
                "raise --max-tokens (the token budget ran out)",
            )


def default_max_tokens(tokenizer: Any, bars: int, voices: int = 4, beats_per_bar: float = 4.0) -> int:
    """A token budget for ``bars`` bars: a note of every voice at every grid step (position, chord, and voice,
    velocity, pitch, duration per note), which no real piece approaches."""
    steps = math.ceil(beats_per_bar * tokenizer.steps_per_beat)
    return 8 + bars * (1 + steps * (2 + 5 * max(voices, 1)))
