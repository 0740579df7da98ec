"""The output of audio pipelines: one wave at a sample rate, saved as WAV/FLAC/OGG or encoded to bytes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from genlab.core.pipeline import Output


class AudioOutput(Output):
    """A mono wave (samples,) in [-1, 1] at ``sample_rate``, with what made it (``info``).

    ``save(path)`` writes the format of the suffix (.wav 16-bit PCM, .flac, .ogg; another suffix gets .wav
    added); ``encode(format)`` gives the bytes of such a file.
    """

    formats = {"wav": "audio/wav", "flac": "audio/flac", "ogg": "audio/ogg"}
    suffix = ".wav"

    def __init__(self, wave: torch.Tensor, sample_rate: int, info: dict[str, Any] | None = None):
        self.wave, self.sample_rate, self.info = wave.detach().float().cpu(), int(sample_rate), dict(info or {})

    @property
    def seconds(self) -> float:
        return self.wave.shape[-1] / self.sample_rate

    def save(self, path: str | Path) -> Path:
        from genlab.audio.io import WRITE_FORMATS, write_audio

        path = Path(path)
        if path.suffix.lower() not in WRITE_FORMATS:
            path = path.with_name(path.name + ".wav")
        return write_audio(path, self.wave, self.sample_rate)

    def encode(self, format: str | None = None) -> bytes:
        from genlab.audio.io import encode_audio

        return encode_audio(self.wave, self.sample_rate, self.check_format(format))
