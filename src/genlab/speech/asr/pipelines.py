"""The ``transcribe`` pipeline: text (and phonemes) of speech files from a trained ``speech/ctc`` recogniser.

``genlab transcribe speech.wav --model RUN`` prints the transcript; ``--out speech.txt`` / ``--out speech.json``
writes it (the JSON adds the symbols, the decoder and the windows). ``genlab.load(RUN)("speech.wav")`` returns the
text. Files are read as mono and resampled to the model's rate. A recording longer than ``window_seconds`` is cut
into windows of at most that length, each ending at the quietest 20 ms of its last quarter (a pause, in speech),
and the windows' transcripts are joined; at most :data:`MAX_SECONDS` of audio are transcribed per file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import torch
from pydantic import Field

from genlab.core.errors import BadInputError
from genlab.core.io import atomic_write_text
from genlab.core.pipeline import Output, Pipeline, Request, register_pipeline
from genlab.speech.asr.model import TASK, CTCRecognizer

MAX_SECONDS = 600.0  # longest recording transcribed (10 minutes); longer ones are refused with a hint
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


class TranscribeRequest(Request):
    """Options of ``genlab transcribe``."""

    audio: str = Field(
        description="a speech recording (WAV, FLAC, OGG) or a folder of them",
        json_schema_extra={"file": "audio", "positional": True},
    )
    beam_width: int = Field(1, ge=1, le=64, description="1: greedy decoding; more: CTC prefix beam search")
    window_seconds: float = Field(15.0, ge=2, le=60, description="longer recordings are cut into windows this long")
    output_format: Literal["txt", "json"] = Field(
        "txt",
        description="txt: the transcript, printed without --out; json: with the symbols and decoder, written to --out "
        "or the run's samples/ (with --out, its suffix decides)",
        json_schema_extra={"server": False},  # over HTTP the response's own format field chooses
    )
    seed: int | None = Field(None, description="unused: decoding is deterministic", json_schema_extra={"cli": False})


class TranscriptionOutput(Output):
    """Transcripts of one or more recordings: printed, saved as ``.txt`` (one line each) or ``.json``."""

    formats = {"txt": "text/plain; charset=utf-8", "json": "application/json"}
    suffix = ".txt"

    def __init__(self, names: list[str], texts: list[str], symbols: list[list[str]], meta: dict, printed=True):
        self.names, self.texts, self.symbols, self.meta = names, texts, symbols, meta
        self.printed = printed  # False: a terminal gets a JSON file instead of the printed transcript

    def text(self) -> str | None:
        if not self.printed:
            return None
        return self.plain()

    def plain(self) -> str:
        """The transcripts as text: one line, or ``file<TAB>text`` lines for several files."""
        if len(self.texts) == 1:
            return self.texts[0] + "\n"
        return "".join(f"{n}\t{t}\n" for n, t in zip(self.names, self.texts, strict=True))

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        if path.is_dir():
            path = path / f"transcript{self.suffix}"
        fmt = "json" if path.suffix.lower() == ".json" else "txt"
        atomic_write_text(path, self.encode(fmt).decode("utf-8"))
        return path

    def encode(self, format: str | None = None) -> bytes:
        if self.check_format(format) == "json":
            items = [{"file": n, "text": t, "symbols": s}
                     for n, t, s in zip(self.names, self.texts, self.symbols, strict=True)]  # fmt: skip
            return (json.dumps({**self.meta, "transcripts": items}, ensure_ascii=False, indent=1) + "\n").encode()
        return self.plain().encode("utf-8")


def split_long(wave: torch.Tensor, sample_rate: int, window_seconds: float) -> list[torch.Tensor]:
    """Windows of at most ``window_seconds`` covering ``wave`` (samples,), each cut at the quietest 20 ms of its
    last quarter; a wave no longer than a window is returned whole."""
    window = int(window_seconds * sample_rate)
    hop = max(1, sample_rate // 50)  # 20 ms
    pieces, start = [], 0
    while len(wave) - start > window:
        tail = wave[start + window * 3 // 4 : start + window]
        energy = tail[: len(tail) // hop * hop].reshape(-1, hop).pow(2).mean(1)
        cut = start + window * 3 // 4 + int(energy.argmin()) * hop + hop // 2
        pieces.append(wave[start:cut])
        start = cut
    pieces.append(wave[start:])
    return pieces


def _files(source: Path) -> list[Path]:
    if source.is_dir():
        files = sorted(p for p in source.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
        if not files:
            raise BadInputError(f"no audio files in {source}", f"put {', '.join(AUDIO_SUFFIXES)} files there")
        return files
    return [source]


@register_pipeline("speech/transcribe")
class TranscribePipeline(Pipeline):
    """``pipe("speech.wav")`` → text; ``pipe.run(pipe.request(audio=…))`` → :class:`TranscriptionOutput`."""

    task = TASK
    verb = "transcribe"
    description = "transcribe speech with a trained CTC recogniser (its own domain only: not a general ASR)"
    request_class = TranscribeRequest
    output_class = TranscriptionOutput
    positional_out = True
    model: CTCRecognizer

    def transcribe_waves(self, waves: list[torch.Tensor], beam_width: int = 1, window_seconds: float = 15.0):
        """``(texts, symbol lists)`` of waves (samples,) at the model's rate; long ones decoded by windows."""
        rate = self.model.config.sample_rate
        pieces, owner = [], []
        for i, wave in enumerate(waves):
            for piece in split_long(wave, rate, window_seconds):
                pieces.append(piece)
                owner.append(i)
        decoded = self.model.decode(pieces, beam_width)
        symbols: list[list[str]] = [[] for _ in waves]
        for i, syms in zip(owner, decoded, strict=True):
            if symbols[i] and syms:
                symbols[i].append(" ")
            symbols[i].extend(syms)
        return [self.model.to_text(s).strip() for s in symbols], symbols

    def read(self, path: Path) -> torch.Tensor:
        from genlab.audio.io import audio_info, read_audio

        seconds = audio_info(path).seconds  # a missing or unreadable file raises BadInputError with a hint
        if seconds > MAX_SECONDS:
            raise BadInputError(f"{path} lasts {seconds:.0f} s; transcribe reads at most {MAX_SECONDS:.0f} s",
                                "cut the recording into parts (e.g. sox in.wav out.wav trim 0 600)")  # fmt: skip
        return read_audio(path, self.model.config.sample_rate)[0]

    def run(self, request: TranscribeRequest) -> TranscriptionOutput:
        source = Path(request.audio)
        files = _files(source)
        texts, symbols = self.transcribe_waves([self.read(f) for f in files], request.beam_width,
                                               request.window_seconds)  # fmt: skip
        names = [str(f.relative_to(source)) if source.is_dir() else f.name for f in files]
        c = self.model.config
        meta = {"model": self.model.registry_name, "targets": c.targets, "language": c.language,
                "decoder": "greedy" if request.beam_width == 1 else f"prefix beam search (width {request.beam_width})",
                "window_seconds": request.window_seconds}  # fmt: skip
        return TranscriptionOutput(names, texts, symbols, meta, printed=request.output_format == "txt")

    def default_filename(self, request: TranscribeRequest) -> str:
        return f"transcribe-{Path(request.audio).stem or 'speech'}.{request.output_format}"

    def __call__(self, audio: str | Path | torch.Tensor | list, beam_width: int = 1) -> str | list[str]:
        """The transcript of a file or of a wave (samples,) at the model's rate; a list gives a list."""
        if isinstance(audio, list):
            return [self(a, beam_width) for a in audio]  # type: ignore[misc]
        if isinstance(audio, torch.Tensor):
            if audio.dim() != 1:
                raise BadInputError(f"pass one mono wave (samples,), got shape {tuple(audio.shape)}")
            return self.transcribe_waves([audio], beam_width)[0][0]
        out = self.run(self.request(audio=str(audio), beam_width=beam_width))
        return out.texts[0] if len(out.texts) == 1 else out.plain()
