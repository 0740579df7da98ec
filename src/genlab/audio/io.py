"""Reading and writing audio: WAV, FLAC and OGG files through soundfile, with the conversions users need.

Waveforms are float32 tensors in [-1, 1], shape ``(samples,)`` for mono (the layout every genlab audio
model takes) or ``(channels, samples)`` when ``mono=False``. :func:`read_audio` converts what it meets
instead of failing: several channels are averaged to mono, another sample rate is resampled
(polyphase, :func:`resample`), integer PCM is scaled to [-1, 1]. It refuses, with a hint, what cannot
be audio: a missing file, a file soundfile cannot decode, an empty file. Long files are read in blocks
(:func:`iter_blocks`) by the streaming pipelines, so a 3-hour recording never sits in memory at once.

:func:`write_audio` writes atomically (a temporary file renamed into place) in the format the suffix
names: ``.wav`` (16-bit PCM), ``.flac`` or ``.ogg`` (Vorbis). Loudness helpers: :func:`rms_db`,
:func:`normalize_peak`, :func:`normalize_rms`; :func:`trim_silence` cuts leading and trailing quiet frames.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from genlab.core.errors import BadInputError
from genlab.core.io import atomic_write
from genlab.core.optional import require

#: suffix → (soundfile format, subtype) of the files :func:`write_audio` writes
WRITE_FORMATS = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"), ".ogg": ("OGG", "VORBIS")}
#: suffixes genlab looks for in audio folders
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")


def _soundfile():
    return require("soundfile", "audio", "reading and writing audio files")


@dataclass
class AudioInfo:
    """What a file holds, read from its header: sample rate, channels, frames and duration (seconds)."""

    sample_rate: int
    channels: int
    frames: int
    format: str

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def audio_info(path: str | Path) -> AudioInfo:
    """The header of the audio file at ``path``; a missing or undecodable file raises with a hint."""
    sf = _soundfile()
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"no audio file at {path}", "check the path (WAV, FLAC or OGG files)")
    try:
        info = sf.info(str(path))
    except Exception as e:  # soundfile raises its own LibsndfileError/RuntimeError for undecodable input
        raise BadInputError(
            f"{path} is not an audio file genlab can read ({str(e).splitlines()[0] if str(e) else type(e).__name__})",
            "pass a WAV, FLAC or OGG file (convert others first, e.g. ffmpeg -i in.m4a out.wav)",
        ) from None
    return AudioInfo(int(info.samplerate), int(info.channels), int(info.frames), str(info.format))


def read_audio(
    path: str | Path,
    sample_rate: int | None = None,
    mono: bool = True,
    max_seconds: float | None = None,
) -> tuple[torch.Tensor, int]:
    """Read ``path`` as float32 in [-1, 1]; returns ``(wave, rate)``.

    ``sample_rate``: resample to this rate when the file has another (None keeps the file's).
    ``mono``: average the channels (a stereo file is converted, not refused) → shape (samples,);
    else (channels, samples). ``max_seconds``: read at most this much from the start (None: all).
    An empty file raises :class:`BadInputError`.
    """
    sf = _soundfile()
    info = audio_info(path)
    if info.frames == 0:
        raise BadInputError(f"{path} holds no audio (0 samples)", "record or export the file again")
    frames = -1 if max_seconds is None else min(info.frames, int(round(max_seconds * info.sample_rate)))
    try:
        data, rate = sf.read(str(path), frames=frames, dtype="float32", always_2d=True)
    except Exception as e:
        raise BadInputError(f"could not decode {path}: {e}", "the file may be truncated; export it again") from None
    wave = torch.from_numpy(np.ascontiguousarray(data.T))  # (channels, samples)
    if mono:
        wave = wave.mean(0)
    if sample_rate is not None and rate != sample_rate:
        wave = resample(wave, rate, sample_rate)
        rate = sample_rate
    return wave, int(rate)


def iter_blocks(
    path: str | Path, block_seconds: float, sample_rate: int | None = None, overlap: int = 0
) -> Iterator[torch.Tensor]:
    """Mono blocks of ``block_seconds`` from ``path`` (resampled to ``sample_rate``), read one at a time.

    Consecutive blocks share ``overlap`` samples (at the file's rate when resampling: callers that need
    exact overlaps pass files already at the model's rate). Memory stays at one block, whatever the length.
    """
    sf = _soundfile()
    info = audio_info(path)
    if info.frames == 0:
        raise BadInputError(f"{path} holds no audio (0 samples)", "record or export the file again")
    block = max(1, int(round(block_seconds * info.sample_rate)))
    if overlap >= block:
        raise ValueError(f"overlap ({overlap}) must be shorter than a block ({block} samples)")
    for data in sf.blocks(str(path), blocksize=block, overlap=overlap, dtype="float32", always_2d=True):
        wave = torch.from_numpy(np.ascontiguousarray(data.T)).mean(0)
        if sample_rate is not None and info.sample_rate != sample_rate:
            wave = resample(wave, info.sample_rate, sample_rate)
        yield wave


def resample(wave: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """Resample along the last axis with a polyphase filter (scipy's ``resample_poly``, Kaiser window).

    The ratio is reduced by the greatest common divisor (16 kHz → 8 kHz is up 1, down 2).
    """
    if orig_rate == new_rate:
        return wave
    if orig_rate <= 0 or new_rate <= 0:
        raise BadInputError(f"cannot resample from {orig_rate} Hz to {new_rate} Hz", "sample rates must be positive")
    signal = require("scipy.signal", "audio", "resampling audio")
    g = math.gcd(int(orig_rate), int(new_rate))
    out = signal.resample_poly(wave.double().numpy(), int(new_rate) // g, int(orig_rate) // g, axis=-1)
    return torch.from_numpy(np.ascontiguousarray(out)).to(wave.dtype)


def write_audio(path: str | Path, wave: torch.Tensor | np.ndarray, sample_rate: int) -> Path:
    """Write ``wave`` ((samples,) or (channels, samples), float in [-1, 1]; louder samples are clipped)
    to ``path`` atomically, in the format of its suffix (.wav, .flac, .ogg); returns ``path``."""
    sf = _soundfile()
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in WRITE_FORMATS:
        raise BadInputError(
            f"cannot write audio as '{path.suffix or path.name}'", f"use one of {', '.join(WRITE_FORMATS)}"
        )
    data = torch.as_tensor(wave).detach().float().cpu()
    if data.dim() == 2:
        data = data.T  # soundfile wants (samples, channels)
    elif data.dim() != 1:
        raise BadInputError(f"audio must be (samples,) or (channels, samples), got shape {tuple(data.shape)}")
    array = np.clip(np.nan_to_num(data.numpy()), -1.0, 1.0)
    fmt, subtype = WRITE_FORMATS[suffix]
    atomic_write(path, lambda tmp: sf.write(tmp, array, int(sample_rate), format=fmt, subtype=subtype))
    return path


def encode_audio(wave: torch.Tensor, sample_rate: int, format: str = "wav") -> bytes:
    """``wave`` as the bytes of a ``format`` (wav, flac, ogg) file."""
    import io

    sf = _soundfile()
    fmt, subtype = WRITE_FORMATS[f".{format}"]
    data = torch.as_tensor(wave).detach().float().cpu()
    array = np.clip(np.nan_to_num((data.T if data.dim() == 2 else data).numpy()), -1.0, 1.0)
    buf = io.BytesIO()
    sf.write(buf, array, int(sample_rate), format=fmt, subtype=subtype)
    return buf.getvalue()


# --------------------------------------------------------------------------- loudness and silence


def rms_db(wave: torch.Tensor, floor: float = 1e-10) -> float:
    """Root-mean-square level in dB relative to full scale (a full-scale sine is −3.01 dBFS)."""
    rms = float(wave.double().pow(2).mean().sqrt()) if wave.numel() else 0.0
    return 20 * math.log10(max(rms, floor))


def is_silent(wave: torch.Tensor, threshold_db: float = -60.0) -> bool:
    """True when the whole ``wave`` is quieter than ``threshold_db`` dBFS RMS."""
    return rms_db(wave) < threshold_db


def normalize_peak(wave: torch.Tensor, peak: float = 0.95) -> torch.Tensor:
    """Scale so the largest absolute sample is ``peak``; silence is returned unchanged."""
    m = float(wave.abs().max()) if wave.numel() else 0.0
    return wave if m < 1e-8 else wave * (peak / m)


def normalize_rms(wave: torch.Tensor, target_db: float = -20.0, max_peak: float = 0.99) -> torch.Tensor:
    """Scale to ``target_db`` dBFS RMS (loudness normalisation), lowered if needed so no sample
    exceeds ``max_peak``; a silent wave (below −100 dBFS) is returned unchanged with a warning."""
    level = rms_db(wave)
    if level < -100:
        warnings.warn("the audio is silent: loudness normalisation left it unchanged", stacklevel=2)
        return wave
    out = wave * 10 ** ((target_db - level) / 20)
    m = float(out.abs().max())
    return out * (max_peak / m) if m > max_peak else out


def trim_silence(
    wave: torch.Tensor, sample_rate: int, threshold_db: float = -40.0, frame_ms: float = 10.0, pad_ms: float = 20.0
) -> torch.Tensor:
    """Cut leading and trailing frames quieter than ``threshold_db`` below the loudest frame, keeping
    ``pad_ms`` around what is left; an all-quiet wave is returned unchanged."""
    frame = max(1, int(sample_rate * frame_ms / 1000))
    n = wave.shape[-1] // frame
    if n == 0:
        return wave
    energy = wave[..., : n * frame].reshape(*wave.shape[:-1], n, frame).double().pow(2).mean(-1)
    if energy.dim() > 1:
        energy = energy.mean(0)
    db = 10 * torch.log10(energy.clamp_min(1e-20))
    loud = torch.nonzero(db > db.max() + threshold_db).flatten()
    if loud.numel() == 0 or float(db.max()) < -100:
        return wave
    pad = int(sample_rate * pad_ms / 1000)
    start = max(0, int(loud[0]) * frame - pad)
    end = min(wave.shape[-1], (int(loud[-1]) + 1) * frame + pad)
    return wave[..., start:end]


def fit_length(wave: torch.Tensor, length: int, random: bool = False, generator: torch.Generator | None = None):
    """Crop or zero-pad the last axis to ``length`` samples: a centred (or, with ``random``, a random)
    crop of longer waves, a centred pad of shorter ones."""
    n = wave.shape[-1]
    if n == length:
        return wave
    if n > length:
        start = int(torch.randint(0, n - length + 1, (1,), generator=generator)) if random else (n - length) // 2
        return wave[..., start : start + length]
    left = (length - n) // 2
    return torch.nn.functional.pad(wave, (left, length - n - left))
