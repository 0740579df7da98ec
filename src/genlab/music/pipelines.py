"""``genlab compose RUN`` (new pieces, continuations, harmonisations, latent walks) and ``genlab render FILE``.

``genlab compose RUN --bars 16 --key "D major" --tempo 100 --seed 0 --out tune.mid`` writes ``tune.mid`` with
``tune.wav`` (rendered by :func:`genlab.music.render.render`: FluidSynth when installed, else the built-in
synthesiser) and a piano roll ``tune.png`` beside it. Constraints hold on every piece by construction
(:mod:`genlab.music.decoding`): the key's scale when ``--key`` is given, well-formed bars, exactly ``--bars`` bars.

* ``--prime FILE``: the piece continues FILE's notes for ``--bars`` more bars (the output holds both);
* ``--harmonize FILE``: four voices written around FILE's melody, which is kept exactly (REMI models);
* ``--interpolate A B --steps 5 --out walk/``: a MusicVAE's phrases along the path between A's and B's latents
  (one file per step in the folder; ``--interpolate A --interpolate B`` also works).

``genlab render tune.mid --out tune.wav [--soundfont FILE.sf2]`` needs no model.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from genlab.core.console import info
from genlab.core.errors import BadInputError
from genlab.core.pipeline import Output, Pipeline, Request, register_pipeline
from genlab.core.seeding import make_generator
from genlab.music import decoding
from genlab.music.models import TASK
from genlab.music.notes import Piece, parse_key

SAMPLE_RATE = 22050
MIDI_SUFFIXES = (".mid", ".midi")


# --------------------------------------------------------------------------------------- outputs
def _render(piece: Piece, sample_rate: int, soundfont: str | None):
    from genlab.music.render import render

    return render(piece, sample_rate=sample_rate, soundfont=soundfont)


class MusicOutput(Output):
    """Composed pieces. ``save("tune.mid")`` writes the MIDI with a rendered ``.wav`` and a piano-roll ``.png``
    beside it (several pieces: ``tune-1.mid``, ``tune-2.mid``, …; a path without a suffix is a folder of
    ``01.mid``, ``02.mid``, …); ``.wav``/``.png``/``.json`` write that format alone."""

    formats = {"mid": "audio/midi", "wav": "audio/wav", "png": "image/png", "json": "application/json"}
    suffix = ".mid"

    def __init__(self, pieces: list[Piece], sample_rate: int = SAMPLE_RATE, soundfont: str | None = None,
                 about: dict[str, Any] | None = None):  # fmt: skip
        self.pieces, self.sample_rate, self.soundfont = list(pieces), sample_rate, soundfont
        self.about = dict(about or {})

    def paths(self, path: Path) -> list[Path]:
        """Where each piece goes for ``save(path)``."""
        if not path.suffix:
            return [path / f"{i:02d}.mid" for i in range(1, len(self.pieces) + 1)]
        if len(self.pieces) == 1:
            return [path]
        return [path.with_name(f"{path.stem}-{i}{path.suffix}") for i in range(1, len(self.pieces) + 1)]

    def save(self, path: str | Path) -> Path:
        """Write every piece (see the class docstring); returns the first file written (or the folder)."""
        from genlab.music.io import write_midi
        from genlab.music.plots import piano_roll
        from genlab.music.render import write_wav

        path = Path(path)
        fmt = path.suffix.lower().lstrip(".")
        if fmt == "json":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(self.encode("json"))
            return path
        written = []
        for piece, target in zip(self.pieces, self.paths(path), strict=True):
            target.parent.mkdir(parents=True, exist_ok=True)
            if fmt not in ("wav", "png"):
                written.append(write_midi(piece, target))
            if not piece.notes:
                info(f"[yellow]{target.name} holds no notes: no WAV or piano roll written for it[/]")
                written.append(target)
                continue
            if fmt != "png":
                write_wav(
                    _render(piece, self.sample_rate, self.soundfont), self.sample_rate, target.with_suffix(".wav")
                )
            if fmt != "wav":
                piano_roll(piece, target.with_suffix(".png"), title=piece.title or target.stem)
            written.append(target)
        return path if not path.suffix else written[0]

    def encode(self, format: str | None = None) -> bytes:
        """The first piece as MIDI, WAV or PNG bytes; ``json``: every piece's notes."""
        fmt = self.check_format(format)
        if fmt == "json":
            record = {"pieces": [_piece_json(p) for p in self.pieces], **self.about}
            return json.dumps(record).encode("utf-8")
        if not self.pieces:
            raise BadInputError("no piece to encode")
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / f"piece.{fmt}"
            MusicOutput(self.pieces[:1], self.sample_rate, self.soundfont).save(target)
            return target.read_bytes()


def _piece_json(piece: Piece) -> dict[str, Any]:
    return {
        "tempo": piece.tempo, "time_signature": list(piece.time_signature), "key": piece.key, "bars": piece.n_bars,
        "notes": [[n.pitch, n.start, n.duration, n.velocity, n.voice] for n in piece.notes],
    }  # fmt: skip


class AudioFileOutput(Output):
    """A rendered waveform (mono float32 in [-1, 1]) saved as WAV."""

    formats = {"wav": "audio/wav"}
    suffix = ".wav"

    def __init__(self, audio: Any, sample_rate: int):
        self.audio, self.sample_rate = audio, sample_rate

    def save(self, path: str | Path) -> Path:
        from genlab.music.render import write_wav

        path = Path(path)
        if path.suffix.lower() != ".wav":
            raise BadInputError(f"`genlab render` writes WAV files, not {path.suffix or 'a folder'}",
                                "give --out FILE.wav")  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_wav(self.audio, self.sample_rate, path) or path

    def encode(self, format: str | None = None) -> bytes:
        self.check_format(format)
        with tempfile.TemporaryDirectory() as tmp:
            return self.save(Path(tmp) / "audio.wav").read_bytes()


# --------------------------------------------------------------------------------------- composing
def read_melody(path: str | Path, what: str) -> Piece:
    """The piece in ``path`` (MIDI / MusicXML / ABC); a file with no notes is refused."""
    from genlab.music.io import read_piece

    piece = read_piece(path)
    if not piece.notes:
        raise BadInputError(f"the {what} file {path} has no notes", "give a file with a melody")
    return piece


def check_options(bars: int, key: str | None, tempo: float | None) -> None:
    """Refuse ``bars`` < 1, a key that does not parse and a tempo outside 10–400 qpm (BadInputError)."""
    if bars < 1:
        raise BadInputError(f"cannot compose {bars} bars", "ask for --bars 1 or more")
    if key is not None:
        parse_key(key)
    if tempo is not None and not 10 <= tempo <= 400:
        raise BadInputError(f"a tempo of {tempo:g} quarter notes per minute is out of range", "use 10–400")


def parse_time_signature(text: str) -> tuple[int, int]:
    """``"3/4"`` → (3, 4)."""
    try:
        num, den = (int(x) for x in text.split("/"))
    except ValueError:
        raise BadInputError(f"cannot read the time signature {text!r}", 'write it as "4/4", "3/4" or "6/8"') from None
    if num < 1 or den not in (2, 4, 8, 16):
        raise BadInputError(f"the time signature {text} is not one genlab writes", "e.g. 4/4, 3/4, 6/8")
    return num, den


def compose(
    model: Any,
    n: int = 1,
    bars: int = 16,
    key: str | None = None,
    tempo: float | None = None,
    style: str | None = None,
    temperature: float = 1.0,
    seed: int | None = None,
    prime: Piece | None = None,
    time_signature: tuple[int, int] = (4, 4),
    max_tokens: int | None = None,
) -> list[Piece]:
    """``n`` pieces of ``bars`` bars (after ``prime``'s notes when given), in ``key``'s scale when given."""
    check_options(bars, key, tempo)
    tok = model.tokenizer
    if prime is not None:
        if not prime.notes:
            raise BadInputError("the piece to continue has no notes", "give a file with notes to --prime")
        if getattr(model, "phrase_model", False):
            raise BadInputError("a phrase VAE does not continue pieces", "use a transformer, LSTM or Markov run")
        prefix = tok.encode(prime, key=key, tempo=tempo, style=style)[:-1]  # without <eos>
        time_signature = prime.time_signature
    else:
        prefix = [tok.bos_id, *tok.condition_ids(key=key, tempo=tempo, style=style, time_signature=time_signature)]
    voices = max(prime.voices or 1, 1) if prime is not None else (1 if tok.kind == "melody" else 4)
    beats = time_signature[0] * 4 / time_signature[1]
    generator = make_generator(seed)
    if getattr(model, "phrase_model", False):
        phrase_bars = model.config.phrase_bars
        constraints = _constraints(tok, key, len(prefix), time_signature, phrase_bars)
        budget = max_tokens or decoding.default_max_tokens(tok, bars, voices, beats)
        rows = model.sample_ids(n, budget, generator, temperature, prefix, constraints,
                                phrases=math.ceil(bars / phrase_bars))  # fmt: skip
        return [tok.decode(r).slice_bars(0, bars) for r in rows]
    constraints = _constraints(tok, key, len(prefix), time_signature, bars)
    budget = max_tokens or decoding.default_max_tokens(tok, bars, voices, beats)
    rows = model.sample_ids(n, budget, generator, temperature, prefix, constraints)
    pieces = [tok.decode(r) for r in rows]
    return pieces if prime is not None else [p.slice_bars(0, bars) for p in pieces]  # last notes end at the bar line


def _constraints(tok: Any, key: str | None, prompt: int, time_signature: tuple[int, int], bars: int) -> list:
    out: list = [decoding.MetreConstraint(tok, prompt, time_signature), decoding.BarLimit(tok, bars, prompt)]
    if key is not None:
        out.insert(0, decoding.ScaleConstraint(tok, key, prompt))
    return out


def harmonize(
    model: Any,
    melody: Piece,
    n: int = 1,
    key: str | None = None,
    tempo: float | None = None,
    temperature: float = 1.0,
    seed: int | None = None,
    voices: int = 4,
    max_tokens: int | None = None,
) -> list[Piece]:
    """``n`` harmonisations of ``melody``'s voice 0 (the soprano, kept exactly) in ``voices`` voices."""
    check_options(1, key, tempo)
    if getattr(model, "phrase_model", False):
        raise BadInputError("a phrase VAE does not harmonise melodies", "use a transformer or LSTM chorale run")
    tok = model.tokenizer
    soprano = Piece([n for n in melody.notes if n.voice == 0], melody.tempo, melody.time_signature, melody.key)
    style = "chorale" if "chorale" in getattr(tok, "styles", ()) else None
    key = key or melody.key
    prefix = [tok.bos_id, *tok.condition_ids(key=key, tempo=tempo or melody.tempo, style=style,
                                             time_signature=melody.time_signature)]  # fmt: skip
    constraint = decoding.HarmonizeConstraint(tok, soprano, voices, len(prefix))
    constraints: list = [constraint]
    if key is not None:  # before the harmony: the soprano's forced notes win over the scale, even chromatic ones
        constraints.insert(0, decoding.ScaleConstraint(tok, key, len(prefix)))
    beats = melody.beats_per_bar
    budget = max_tokens or decoding.default_max_tokens(tok, constraint.n_bars, voices, beats)
    rows = model.sample_ids(n, budget, make_generator(seed), temperature, prefix, constraints)
    pieces = [tok.decode(r) for r in rows]
    for p in pieces:
        constraint.check(p)
    return pieces


def interpolate(model: Any, a: Piece, b: Piece, steps: int = 5, temperature: float | None = None,
                seed: int | None = None) -> list[Piece]:  # fmt: skip
    """A MusicVAE's phrases between ``a`` and ``b`` (greedy decoding unless ``temperature`` is given)."""
    if not hasattr(model, "interpolate"):
        raise BadInputError(f"{model.registry_name} has no latent space to interpolate in",
                            "train a music-vae: genlab train music --model music-vae")  # fmt: skip
    greedy = temperature is None
    metre = [decoding.MetreConstraint(model.tokenizer, 1, a.time_signature)]
    return model.interpolate(a, b, steps, temperature or 1.0, make_generator(seed), greedy=greedy, constraints=metre)


class ComposeRequest(Request):
    """Options of ``genlab compose``."""

    bars: int = Field(16, description="bars to compose (after the --prime piece's)")
    key: str | None = Field(None, description='key to stay in, e.g. "D major" or "e minor" (default: any)')
    tempo: float | None = Field(None, description="quarter notes per minute, 10–400 (default 120)")
    time_signature: str = Field("4/4", description="time signature of new pieces, e.g. 3/4 or 6/8")
    style: str | None = Field(None, description="style label the model was trained with (chorale, folk, irish)")
    temperature: float = Field(1.0, gt=0, description="sampling temperature (< 1: safer, > 1: wilder)")
    n: int = Field(1, ge=1, le=100, description="pieces to write")
    prime: str | None = Field(
        None, description="MIDI/MusicXML/ABC file to continue", json_schema_extra={"file": "music"}
    )
    harmonize: str | None = Field(
        None,
        description="melody file to harmonise in four voices (chorale models)",
        json_schema_extra={"file": "music"},
    )
    interpolate: list[str] = Field(
        default_factory=list,
        description="phrase files to interpolate between (music-vae): --interpolate A B (or the option twice)",
        json_schema_extra={"file": "music"},
    )
    interpolate_to: str | None = Field(None, description="the second phrase file of --interpolate A B",
                                       json_schema_extra={"file": "music", "positional": True})  # fmt: skip
    steps: int = Field(5, ge=2, le=64, description="phrases along an --interpolate path, the ends included")
    voices: int = Field(4, ge=2, le=8, description="voices of a --harmonize piece")
    max_tokens: int | None = Field(None, ge=8, description="token budget per piece (default: ample for --bars)")
    soundfont: str | None = Field(
        None, description="General MIDI SoundFont (.sf2) for the WAV (FluidSynth)", json_schema_extra={"server": False}
    )
    sample_rate: int = Field(SAMPLE_RATE, ge=8000, le=96000, description="sample rate of the WAV")


@register_pipeline("music/compose")
class MusicComposePipeline(Pipeline):
    """``pipe.run(pipe.request(bars=8, key="G major", seed=0))`` → a :class:`MusicOutput`."""

    task: ClassVar[str] = TASK
    verb: ClassVar[str] = "compose"
    description: ClassVar[str] = "compose music (MIDI + WAV + piano roll): new, continued, harmonised or interpolated"
    request_class = ComposeRequest
    output_class = MusicOutput

    def default_filename(self, request: ComposeRequest) -> str:
        if len(request.interpolate) == 2:
            return f"interpolation-seed{request.seed}"
        return f"compose-{request.bars}bars-seed{request.seed}.mid"

    def run(self, request: ComposeRequest) -> MusicOutput:
        r = request
        check_options(r.bars, r.key, r.tempo)
        chosen = [name for name, on in (("--prime", r.prime), ("--harmonize", r.harmonize),
                                        ("--interpolate", r.interpolate)) if on]  # fmt: skip
        if len(chosen) > 1:
            raise BadInputError(f"{' and '.join(chosen)} cannot be combined", "give one of them")
        if r.interpolate_to and not r.interpolate:
            raise BadInputError(f"unexpected file {r.interpolate_to}", "a second file follows --interpolate A")
        if r.interpolate:
            files = [f for item in r.interpolate for f in item.split(",") if f] + [r.interpolate_to or ""]
            files = [f for f in files if f]
            if len(files) != 2:
                raise BadInputError(f"--interpolate takes two files, got {len(files)}",
                                    "genlab compose RUN --interpolate a.mid --interpolate b.mid")  # fmt: skip
            a, b = (read_melody(f, "--interpolate") for f in files)
            pieces = interpolate(self.model, a, b, r.steps, None if r.temperature == 1.0 else r.temperature, r.seed)
        elif r.harmonize:
            melody = read_melody(r.harmonize, "--harmonize")
            pieces = harmonize(self.model, melody, r.n, r.key, r.tempo, r.temperature, r.seed, r.voices, r.max_tokens)
        else:
            prime = read_melody(r.prime, "--prime") if r.prime else None
            pieces = compose(self.model, r.n, r.bars, r.key, r.tempo, r.style, r.temperature, r.seed, prime,
                             parse_time_signature(r.time_signature), r.max_tokens)  # fmt: skip
        notes = sum(len(p.notes) for p in pieces)
        info(f"composed {len(pieces)} piece(s): {notes:,} notes, {max((p.n_bars for p in pieces), default=0)} bars")
        about = {"model": self.model.registry_name, "seed": r.seed}
        return MusicOutput(pieces, r.sample_rate, r.soundfont, about)

    def __call__(self, bars: int = 16, seed: int | None = None, **options: Any) -> list[Piece]:
        """Pieces composed with the options of :class:`ComposeRequest`."""
        return self.run(self.request(bars=bars, seed=seed, **options)).pieces


class RenderRequest(Request):
    """Options of ``genlab render``."""

    midi: str = Field(
        description="MIDI (or MusicXML / ABC) file to render", json_schema_extra={"file": "music", "positional": True}
    )
    soundfont: str | None = Field(
        None, description="General MIDI SoundFont (.sf2) for FluidSynth", json_schema_extra={"server": False}
    )
    sample_rate: int = Field(SAMPLE_RATE, ge=8000, le=96000, description="sample rate of the WAV")
    seed: int | None = Field(None, description="unused: rendering is deterministic", json_schema_extra={"cli": False})


@register_pipeline("music/render")
class MusicRenderPipeline(Pipeline):
    """``genlab render tune.mid --out tune.wav``: FluidSynth with a SoundFont when present, else the built-in
    synthesiser. Needs no model."""

    task: ClassVar[str] = TASK
    verb: ClassVar[str] = "render"
    description: ClassVar[str] = "render a MIDI file to WAV (FluidSynth when installed, else a built-in synthesiser)"
    request_class = RenderRequest
    output_class = AudioFileOutput
    positional_out = True
    model_free = True

    def default_filename(self, request: RenderRequest) -> str:
        return f"{Path(request.midi).stem}.wav"

    def run(self, request: RenderRequest) -> AudioFileOutput:
        piece = read_melody(request.midi, "MIDI")
        audio = _render(piece, request.sample_rate, request.soundfont)
        info(f"rendered {len(piece.notes):,} notes, {len(audio) / request.sample_rate:.1f} s")
        return AudioFileOutput(audio, request.sample_rate)
