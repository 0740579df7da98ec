"""``genlab denoise-audio``: enhance a recording of any length, rate and channel count, in bounded memory.

``genlab denoise-audio noisy.wav clean.wav --model RUN`` (or ``genlab denoise-audio RUN noisy.wav --out
clean.wav``; ``pipe = genlab.load(RUN); pipe("noisy.wav").save("clean.wav")`` in Python) reads the input in
blocks (:func:`genlab.audio.io.iter_blocks`; several channels are averaged to mono, with a warning),
resamples it to the model's rate as a stream, enhances it chunk by chunk with exact stitching
(:func:`~genlab.audio.enhancement.streaming.enhance_stream`) and writes the result block by block with
soundfile into a temporary file renamed into place at the end — so a 3-hour recording never sits in memory.
``--shifts S`` averages ``S`` passes over shifted copies of the input (test-time shifts, still streamed;
:meth:`~genlab.audio.enhancement.unet.UNetMask.enhance`).

**Rate of the output**: the input's (``--out-rate input``, the default: the enhanced audio is resampled back,
so the file replaces the input sample for sample; content above the model's Nyquist frequency is not
restored) or the model's (``--out-rate model``). The output has the input's duration. A silent input (below
−70 dBFS RMS) is written back unchanged (mono, at the output rate) with a warning: there is nothing to
enhance. A missing, empty or undecodable file is a :class:`~genlab.core.errors.BadInputError` with a hint.

The input is read twice, block by block: once when the pipeline is called, to measure its level (and to
refuse a bad file before anything is written), once to enhance it. That work happens when the output is saved
or encoded (:class:`AudioOutput` holds the recipe, not the samples); ``AudioOutput.wave`` gives the samples
in memory for short inputs.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import torch
from pydantic import Field

from genlab.audio import io
from genlab.audio.enhancement.streaming import enhance_stream
from genlab.audio.enhancement.unet import MAX_SHIFTS, TASK, UNetMask
from genlab.audio.output import AudioOutput
from genlab.audio.streaming import StreamResampler, exact_length, resampled_length
from genlab.core.errors import BadInputError
from genlab.core.pipeline import Pipeline, Request, register_pipeline

BLOCK_SECONDS = 30.0  # read this much of the input at a time
SILENT_DB = -70.0  # an input quieter than this (RMS over the whole file) is returned unchanged


class AudioDenoising(Request):
    """Options of ``genlab denoise-audio``."""

    audio: str = Field(
        description="noisy recording (WAV, FLAC, OGG), any length, rate and number of channels",
        json_schema_extra={"file": "audio", "positional": True},
    )
    out_rate: Literal["input", "model"] = Field(
        "input", description="sample rate of the written file: the input's (resampled back) or the model's"
    )
    chunk_seconds: float = Field(10.0, ge=0.5, le=600, description="audio enhanced at a time (bounds memory)")
    shifts: int = Field(
        1, ge=1, le=MAX_SHIFTS, description="test-time shifts: average this many passes over shifted copies "
        "(a little cleaner, slower by as much)",
    )  # fmt: skip
    seed: int | None = Field(
        None, description="unused: enhancing draws nothing at random", json_schema_extra={"cli": False}
    )


@register_pipeline("audio/denoise-audio")
class AudioDenoisingPipeline(Pipeline):
    """``pipe("noisy.wav")`` / ``pipe(wave, sample_rate)`` → :class:`AudioOutput` (module docstring)."""

    task = TASK
    verb = "denoise-audio"
    description = "remove noise from a speech recording (any length, rate and channels; processed in chunks)"
    request_class = AudioDenoising
    output_class = AudioOutput
    positional_out = True
    model: UNetMask

    def default_filename(self, request: AudioDenoising) -> str:
        return f"{Path(request.audio).stem}_denoised.wav"

    def run(self, request: AudioDenoising) -> AudioOutput:
        return self(request.audio, out_rate=request.out_rate, chunk_seconds=request.chunk_seconds,
                    shifts=request.shifts)  # fmt: skip

    def __call__(
        self,
        audio: str | Path | torch.Tensor,
        sample_rate: int | None = None,
        out_rate: Literal["input", "model"] = "input",
        chunk_seconds: float = 10.0,
        shifts: int = 1,
    ) -> AudioOutput:
        """Enhance an audio file, or a wave (samples,) / (channels, samples) at ``sample_rate``; ``shifts``
        test-time shifts averaged (:meth:`UNetMask.enhance`)."""
        if out_rate not in ("input", "model"):
            raise BadInputError(f"unknown out_rate '{out_rate}'", "use 'input' or 'model'")
        self.model.shift_delays(shifts)  # a bad count fails here, before anything is read
        if isinstance(audio, torch.Tensor):
            read, rate, frames, channels, name = self._tensor_source(audio, sample_rate)
        else:
            read, rate, frames, channels, name = self._file_source(Path(audio))
        info: dict = {"input": name, "input_rate": rate, "input_channels": channels, "seconds": frames / rate}
        if channels > 1:
            warnings.warn(f"{name} has {channels} channels: they are averaged to mono", stacklevel=2)
            info["note"] = f"{channels} channels averaged to mono"
        silent = _level_db(read()) < SILENT_DB
        if silent:
            warnings.warn(f"{name} is silent: there is nothing to enhance, it is written unchanged", stacklevel=2)
            info["note"] = "silent input written unchanged"
        model_rate = self.model.config.sample_rate
        target = rate if out_rate == "input" else model_rate
        info |= {"sample_rate": target, "model_rate": model_rate, "enhanced": not silent}
        if not silent:
            info["shifts"] = shifts  # passes made; a silent input gets none
        frames_per_chunk = max(1, int(round(chunk_seconds * model_rate / self.model.config.hop_length)))

        def blocks() -> Iterator[torch.Tensor]:
            stream = read()
            if silent:
                stream = StreamResampler(rate, target)(stream)
            else:
                stream = StreamResampler(rate, model_rate)(stream)
                stream = enhance_stream(self.model, stream, frames_per_chunk, shifts)
                stream = StreamResampler(model_rate, target)(stream)
            yield from exact_length(stream, frames if target == rate else resampled_length(frames, rate, target))

        return AudioOutput(None, target, info, blocks=blocks)

    def _file_source(self, path: Path):
        header = io.audio_info(path)  # a missing or undecodable file raises with a hint
        if header.frames == 0:
            raise BadInputError(f"{path} holds no audio (0 samples)", "record or export the file again")
        return (
            (lambda: io.iter_blocks(path, BLOCK_SECONDS)),
            header.sample_rate,
            header.frames,
            header.channels,
            str(path),
        )

    def _tensor_source(self, wave: torch.Tensor, sample_rate: int | None):
        if sample_rate is None:
            raise BadInputError(
                "a wave needs its sample_rate", f"pipe(wave, sample_rate={self.model.config.sample_rate})"
            )
        wave = wave.detach().float().cpu()
        if wave.dim() not in (1, 2) or wave.shape[-1] == 0:
            raise BadInputError(f"expected a wave (samples,) or (channels, samples), got shape {tuple(wave.shape)}")
        channels = 1 if wave.dim() == 1 else wave.shape[0]
        mono = wave if wave.dim() == 1 else wave.mean(0)
        block = int(BLOCK_SECONDS * sample_rate)
        return (lambda: iter(torch.split(mono, block))), int(sample_rate), mono.shape[0], channels, "the wave"


def _level_db(blocks: Iterator[torch.Tensor]) -> float:
    """RMS level in dBFS of a stream of blocks (read once, nothing kept)."""
    total, count = 0.0, 0
    for block in blocks:
        total += float(block.double().pow(2).sum())
        count += block.shape[0]
    return 10 * math.log10(max(total / max(count, 1), 1e-20))
