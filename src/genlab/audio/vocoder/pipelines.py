"""``genlab vocode``: resynthesise a recording through the vocoder's mels — or through Griffin-Lim — and the Python
entry point that turns mel spectrograms (a text-to-speech model's output) into audio.

``genlab vocode in.wav out.wav --model RUN`` (``pipe = genlab.load(RUN); pipe("in.wav").save("out.wav")`` in
Python) reads the input in blocks (several channels are averaged to mono, with a warning), resamples it to the
model's rate as a stream, analyses it with the model's front end and vocodes the mels chunk by chunk with exact
stitching (:func:`~genlab.audio.vocoder.streaming.resynthesize_stream`: the result equals vocoding the whole
recording), and writes the output block by block — a recording of any length, in bounded memory. The output has
the input's duration, at the input's rate (``--out-rate input``, the default; content above the model's Nyquist
frequency is not restored) or the model's (``--out-rate model``).

``--griffin-lim`` inverts the same mels with fast Griffin-Lim instead (``--griffin-lim-iters``, 32 by default;
its random initial phase is seeded by ``--seed``): the classical method, to hear what the model adds. Griffin-Lim
iterates over the whole spectrogram, so that mode works on the whole recording in memory, up to
:data:`GRIFFIN_LIM_MAX_SECONDS`; longer ones are refused with a hint.

``pipe.from_mel(mel)`` vocodes log-mels (n_mels, frames) computed with the model's front end
(``pipe.model.front_end``; ``pipe.model.mel(wave)`` computes them) into an :class:`AudioOutput` at the model's
rate, ``(frames − 1) · hop`` samples (or ``length``), streamed chunk by chunk the same way.

``--backend onnx`` (``backend="onnx"``) runs the vocoder's network — mels to STFT log-magnitude and phase — in
onnxruntime (exported once per model and checked against PyTorch; :mod:`genlab.exporters.runtime`); the inverse
STFT and the stitching stay the same PyTorch code.

A missing, empty or undecodable file is a :class:`~genlab.core.errors.BadInputError` with a hint.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import Field

from genlab.audio import io
from genlab.audio.output import AudioOutput
from genlab.audio.streaming import StreamResampler, exact_length, resampled_length
from genlab.audio.vocoder.base import TASK, Vocoder
from genlab.audio.vocoder.streaming import resynthesize_stream, vocode_stream
from genlab.core.errors import BadInputError
from genlab.core.model import GenerativeModel
from genlab.core.pipeline import Pipeline, Request, register_pipeline
from genlab.exporters.runtime import backend_model

BLOCK_SECONDS = 30.0  # read this much of the input at a time
GRIFFIN_LIM_MAX_SECONDS = 600.0  # Griffin-Lim works on the whole recording: 10 minutes at most


class VocodeRequest(Request):
    """Options of ``genlab vocode``."""

    audio: str = Field(
        description="recording to resynthesise (WAV, FLAC, OGG), any length, rate and number of channels",
        json_schema_extra={"file": "audio", "positional": True},
    )
    griffin_lim: bool = Field(
        False, description="invert the mels with Griffin-Lim instead of the model (the classical method)"
    )
    griffin_lim_iters: int = Field(32, ge=1, le=1000, description="iterations of Griffin-Lim (with --griffin-lim)")
    out_rate: Literal["input", "model"] = Field(
        "input", description="sample rate of the written file: the input's (resampled back) or the model's"
    )
    chunk_seconds: float = Field(10.0, ge=0.5, le=600, description="audio vocoded at a time (bounds memory)")
    seed: int | None = Field(None, description="seed of Griffin-Lim's random initial phase (the model draws nothing)")
    backend: Literal["torch", "onnx"] = Field(
        "torch",
        description="onnx: the vocoder's network runs in onnxruntime (exported once per model, checked against "
        "PyTorch, cached; the inverse STFT stays in PyTorch); needs the export extra",
    )


@register_pipeline("audio/vocode")
class VocodePipeline(Pipeline):
    """``pipe("in.wav")`` / ``pipe(wave, sample_rate)`` / ``pipe.from_mel(mel)`` → :class:`AudioOutput` (module
    docstring)."""

    task = TASK
    verb = "vocode"
    description = "resynthesise a recording through the vocoder's mel spectrogram (or Griffin-Lim); any length"
    request_class = VocodeRequest
    output_class = AudioOutput
    positional_out = True
    model: Vocoder

    @classmethod
    def model_problem(cls, model: GenerativeModel) -> str | None:
        return None if isinstance(model, Vocoder) else f"{model.registry_name} is not a mel vocoder"

    def default_filename(self, request: VocodeRequest) -> str:
        return f"{Path(request.audio).stem}_{'griffin_lim' if request.griffin_lim else 'vocoded'}.wav"

    def run(self, request: VocodeRequest) -> AudioOutput:
        return self(request.audio, griffin_lim=request.griffin_lim, griffin_lim_iters=request.griffin_lim_iters,
                    out_rate=request.out_rate, chunk_seconds=request.chunk_seconds, seed=request.seed,
                    backend=request.backend)  # fmt: skip

    def __call__(
        self,
        audio: str | Path | torch.Tensor,
        sample_rate: int | None = None,
        griffin_lim: bool = False,
        griffin_lim_iters: int = 32,
        out_rate: Literal["input", "model"] = "input",
        chunk_seconds: float = 10.0,
        seed: int | None = None,
        backend: str = "torch",
    ) -> AudioOutput:
        """Resynthesise an audio file, or a wave (samples,) / (channels, samples) at ``sample_rate``;
        ``backend="onnx"`` runs the vocoder's network in onnxruntime."""
        if out_rate not in ("input", "model"):
            raise BadInputError(f"unknown out_rate '{out_rate}'", "use 'input' or 'model'")
        if griffin_lim and backend != "torch":
            raise BadInputError("Griffin-Lim has no network to run in onnxruntime", "drop --backend onnx")
        if isinstance(audio, torch.Tensor):
            read, rate, frames, channels, name = self._tensor_source(audio, sample_rate)
        else:
            read, rate, frames, channels, name = self._file_source(Path(audio))
        info: dict[str, Any] = {"input": name, "input_rate": rate, "input_channels": channels,
                                "seconds": frames / rate}  # fmt: skip
        if channels > 1:
            warnings.warn(f"{name} has {channels} channels: they are averaged to mono", stacklevel=2)
            info["note"] = f"{channels} channels averaged to mono"
        model_rate = self.model.sample_rate
        target = rate if out_rate == "input" else model_rate
        length = frames if target == rate else resampled_length(frames, rate, target)
        info |= {"sample_rate": target, "model_rate": model_rate, "front_end": self.model.config.describe()}
        if griffin_lim:
            info |= {"method": f"griffin-lim ({griffin_lim_iters} iterations, seed {seed or 0})"}
            wave = self._griffin_lim(read, rate, frames, name, griffin_lim_iters, seed or 0)
            wave = torch.cat(list(exact_length(iter([io.resample(wave, model_rate, target)]), length)))
            return AudioOutput(wave, target, info)
        info["method"] = self.model.registry_name
        model = backend_model(self.model, backend)  # onnx: exported on first use
        chunk = self._chunk_frames(chunk_seconds)

        def blocks() -> Iterator[torch.Tensor]:
            stream = StreamResampler(rate, model_rate)(read())
            stream = StreamResampler(model_rate, target)(resynthesize_stream(model, stream, chunk))
            yield from exact_length(stream, length)

        return AudioOutput(None, target, info, blocks=blocks)

    def from_mel(
        self, mel: torch.Tensor, length: int | None = None, chunk_seconds: float = 10.0, backend: str = "torch"
    ) -> AudioOutput:
        """Audio at the model's rate from log-mels (n_mels, frames) of the model's front end, streamed chunk by
        chunk; ``length`` samples (default ``(frames − 1) · hop``); ``backend="onnx"``: the network in
        onnxruntime."""
        c = self.model.config
        c.check_mel(mel)
        if mel.dim() != 2:
            raise BadInputError(f"from_mel takes one mel spectrogram (n_mels, frames), got {tuple(mel.shape)}",
                                "vocode a batch with pipe.model.vocode(mels)")  # fmt: skip
        if length is not None and c.frames(length) != mel.shape[-1]:
            shortest = c.samples(mel.shape[-1])
            raise BadInputError(f"{length} samples give {c.frames(length)} frames, but the mel has {mel.shape[-1]}",
                                f"ask for a length in [{shortest}, {shortest + c.hop_length - 1}] or none")  # fmt: skip
        chunk = self._chunk_frames(chunk_seconds)
        mel = mel.detach().float().cpu()
        model = backend_model(self.model, backend)

        def blocks() -> Iterator[torch.Tensor]:
            yield from vocode_stream(model, torch.split(mel, chunk, dim=-1), chunk, length)

        info = {"input": "mel", "frames": mel.shape[-1], "method": self.model.registry_name,
                "front_end": c.describe()}  # fmt: skip
        return AudioOutput(None, c.sample_rate, info, blocks=blocks)

    # --- helpers ----------------------------------------------------------------------------------
    def _chunk_frames(self, chunk_seconds: float) -> int:
        return max(1, int(round(chunk_seconds * self.model.sample_rate / self.model.config.hop_length)))

    def _griffin_lim(self, read: Callable[[], Iterator[torch.Tensor]], rate: int, frames: int, name: str,
                     iters: int, seed: int) -> torch.Tensor:  # fmt: skip
        """Griffin-Lim of the whole input's mels at the model's rate (refused beyond the length cap)."""
        seconds = frames / rate
        if seconds > GRIFFIN_LIM_MAX_SECONDS:
            raise BadInputError(
                f"{name} lasts {seconds / 60:.1f} minutes; Griffin-Lim works on the whole recording and takes up to "
                f"{GRIFFIN_LIM_MAX_SECONDS / 60:g}",
                "split it first (e.g. sox in.wav part.wav trim 0 600 : newfile : restart), or vocode it with the "
                "model (without --griffin-lim), which streams any length",
            )  # fmt: skip
        wave = io.resample(torch.cat(list(read())), rate, self.model.sample_rate)
        mel = self.model.mel(wave)
        generator = torch.Generator().manual_seed(seed)
        return self.model.config.griffin_lim(mel, iters, wave.shape[-1], generator)

    def _file_source(self, path: Path):
        header = io.audio_info(path)  # a missing or undecodable file raises with a hint
        if header.frames == 0:
            raise BadInputError(f"{path} holds no audio (0 samples)", "record or export the file again")
        read = lambda: io.iter_blocks(path, BLOCK_SECONDS)  # noqa: E731
        return read, header.sample_rate, header.frames, header.channels, str(path)

    def _tensor_source(self, wave: torch.Tensor, sample_rate: int | None):
        if sample_rate is None:
            raise BadInputError("a wave needs its sample_rate", f"pipe(wave, sample_rate={self.model.sample_rate})")
        wave = wave.detach().float().cpu()
        if wave.dim() not in (1, 2) or wave.shape[-1] == 0:
            raise BadInputError(f"expected a wave (samples,) or (channels, samples), got shape {tuple(wave.shape)}")
        channels = 1 if wave.dim() == 1 else wave.shape[0]
        mono = wave if wave.dim() == 1 else wave.mean(0)
        block = max(1, int(BLOCK_SECONDS * sample_rate))
        return (lambda: iter(torch.split(mono, block))), int(sample_rate), mono.shape[0], channels, "the wave"
