"""The output of audio pipelines: one mono wave at a sample rate, saved as WAV/FLAC/OGG or encoded to bytes.

The wave is either held in memory or produced block by block (``blocks``: a function returning an
iterator of tensors, e.g. a long recording enhanced chunk by chunk); then ``save`` writes each block as it
comes, so a 3-hour result never sits in memory, into a temporary file renamed into place when complete.
"""

from __future__ import annotations

import io as bytes_io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genlab.core.errors import BadInputError
from genlab.core.io import atomic_write
from genlab.core.optional import require
from genlab.core.pipeline import Output


class AudioOutput(Output):
    """A mono wave in [-1, 1] at ``sample_rate`` — ``wave`` (samples,) or ``blocks`` — with what made it (``info``).

    ``save(path)`` writes the format of the suffix (.wav 16-bit PCM, .flac, .ogg); ``encode(format)``
    gives the bytes of such a file; ``wave`` gathers the blocks in memory on first use.
    """

    formats = {"wav": "audio/wav", "flac": "audio/flac", "ogg": "audio/ogg"}
    suffix = ".wav"

    def __init__(
        self,
        wave: torch.Tensor | None,
        sample_rate: int,
        info: dict[str, Any] | None = None,
        blocks: Callable[[], Iterator[torch.Tensor]] | None = None,
    ):
        if (wave is None) == (blocks is None):
            raise ValueError("give the wave or the blocks that make it, not both")
        self._wave = None if wave is None else wave.detach().float().cpu()
        self.blocks, self.sample_rate, self.info = blocks, int(sample_rate), dict(info or {})

    @property
    def wave(self) -> torch.Tensor:
        """All the samples (samples,) in memory (gathered from the blocks on first use)."""
        if self._wave is None:
            self._wave = torch.cat([b.detach().float().cpu() for b in self.blocks()] or [torch.zeros(0)])
        return self._wave

    @property
    def seconds(self) -> float:
        return self.wave.shape[-1] / self.sample_rate

    def _write(self, target, suffix: str) -> None:
        from genlab.audio.io import WRITE_FORMATS

        sf = require("soundfile", "audio", "writing audio files")
        fmt, subtype = WRITE_FORMATS[suffix]
        with sf.SoundFile(target, "w", samplerate=self.sample_rate, channels=1, format=fmt, subtype=subtype) as f:
            source = iter([self._wave]) if self._wave is not None else self.blocks()
            for block in source:
                f.write(np.clip(np.nan_to_num(block.detach().float().cpu().numpy()), -1.0, 1.0))

    def save(self, path: str | Path) -> Path:
        """Write to ``path`` (.wav, .flac or .ogg), atomically; returns ``path``."""
        from genlab.audio.io import WRITE_FORMATS

        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in WRITE_FORMATS:
            raise BadInputError(
                f"cannot write audio as '{path.suffix or path.name}'", f"use one of {', '.join(WRITE_FORMATS)}"
            )
        atomic_write(path, lambda tmp: self._write(tmp, suffix))
        return path

    def encode(self, format: str | None = None) -> bytes:
        format = self.check_format(format)
        buffer = bytes_io.BytesIO()
        self._write(buffer, f".{format}")
        return buffer.getvalue()
