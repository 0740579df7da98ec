"""A long WAV file without the disk space: a header for hours of 16-bit mono audio whose first samples are
written and the rest left as a sparse hole (read back as zeros)."""

from __future__ import annotations

import struct
from pathlib import Path

import torch


def long_wav(path: Path, hours: float, rate: int, head: torch.Tensor) -> Path:
    """A PCM-16 mono WAV of ``hours`` at ``rate`` starting with ``head`` (samples,) in [-1, 1], then silence."""
    frames = int(hours * 3600 * rate)
    data_bytes = 2 * frames
    pcm = (head.clamp(-1, 1) * 32767).round().to(torch.int16).numpy().tobytes()
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE")
        f.write(b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, 2 * rate, 2, 16))
        f.write(b"data" + struct.pack("<I", data_bytes) + pcm)
        f.truncate(44 + data_bytes)  # the rest is a hole: no disk space, reads as zeros
    return path
