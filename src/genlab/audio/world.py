"""Voice transformation with the WORLD vocoder: pitch, formants, gender presets and target-speaker pitch.

WORLD (Morise, Yokomori & Ozawa 2016) splits speech into a fundamental frequency track F0 (Harvest,
Morise 2017; or the faster DIO + StoneMask), a smooth spectral envelope (CheapTrick) and a band
aperiodicity (D4C), and synthesises speech back from the three. Transforming them changes the voice while
keeping the words:

* **pitch** ``--pitch +4``: F0 × 2^(semitones/12) on voiced frames;
* **formants** ``--formant 1.15``: the envelope stretched along frequency, ``sp'(f) = sp(f / α)``; formants
  scale with vocal-tract length, which is about 15–20 % shorter in women than in men (Fant 1966), so
  α ≈ 1.15 moves a voice toward a female one and α ≈ 0.87 toward a male one;
* **gender presets** ``--gender female|male``: a target median F0 (female 210 Hz, male 120 Hz, typical adult
  speaking levels) reached by a pitch ratio measured on the input itself, with formants scaled by 1.15 (or
  1/1.15) when the voice moves toward the other gender by more than 10 % in pitch — a voice already at the
  target level is left as it is;
* **target speaker** ``--to-speaker NAME`` (a run of ``genlab train voice-conversion --model world``): the
  log-F0 of the input is moved to the target speaker's mean and spread (the Gaussian log-F0 transform common
  to statistical voice conversion, e.g. Toda, Black & Tokuda 2007), and formants by the ratio of the two
  speakers' median F0 to the power 0.3 (a mild vocal-tract cue; set ``--formant`` to override).

Long recordings are processed in blocks of ``block_seconds`` with ``crossfade_seconds`` of overlap blended
linearly, so memory stays bounded whatever the length (WORLD analyses the whole signal it is given).

``pyworld`` is an optional dependency (``genlab[audio]``).

References:
    M. Morise, F. Yokomori and K. Ozawa, "WORLD: a vocoder-based high-quality speech synthesis system for
    real-time applications", IEICE Transactions on Information and Systems, 2016.
    M. Morise, "Harvest: A high-performance fundamental frequency estimator from speech signals", Interspeech 2017.
    G. Fant, "A note on vocal tract size factors and non-uniform F-pattern scalings", STL-QPSR 7(4), 1966.
    T. Toda, A. W. Black and K. Tokuda, "Voice Conversion Based on Maximum-Likelihood Estimation of Spectral
    Parameter Trajectory", IEEE TASLP 15(8), 2007.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from genlab.core.errors import BadInputError
from genlab.core.optional import require

#: typical adult speaking F0 (Hz) that the gender presets aim at
GENDER_F0 = {"female": 210.0, "male": 120.0}
#: formant scaling of the presets (vocal tracts differ by roughly 15 %, Fant 1966)
GENDER_FORMANT = 1.15
FRAME_PERIOD_MS = 5.0


def _pyworld():
    with warnings.catch_warnings():  # pyworld imports pkg_resources, which warns that it is deprecated
        warnings.simplefilter("ignore")
        return require("pyworld", "audio", "WORLD voice conversion")


@dataclass
class WorldFeatures:
    """WORLD's analysis of a wave: F0 per frame (Hz, 0 = unvoiced), spectral envelope and aperiodicity
    (frames, fft_size/2 + 1), at ``sample_rate`` with frames every ``frame_period`` ms."""

    f0: np.ndarray
    envelope: np.ndarray
    aperiodicity: np.ndarray
    sample_rate: int
    frame_period: float = FRAME_PERIOD_MS

    @property
    def voiced(self) -> np.ndarray:
        return self.f0 > 0


def analyze(wave: torch.Tensor | np.ndarray, sample_rate: int, f0_method: Literal["harvest", "dio"] = "harvest",
            f0_floor: float = 60.0, f0_ceil: float = 600.0) -> WorldFeatures:  # fmt: skip
    """WORLD analysis of a mono wave in [-1, 1]."""
    pw = _pyworld()
    x = np.ascontiguousarray(torch.as_tensor(wave).double().numpy())
    if x.ndim != 1:
        raise BadInputError(f"WORLD analyses mono waves, got shape {x.shape}", "mix the channels to mono first")
    if f0_method == "harvest":
        f0, t = pw.harvest(x, sample_rate, f0_floor=f0_floor, f0_ceil=f0_ceil, frame_period=FRAME_PERIOD_MS)
    else:
        f0, t = pw.dio(x, sample_rate, f0_floor=f0_floor, f0_ceil=f0_ceil, frame_period=FRAME_PERIOD_MS)
        f0 = pw.stonemask(x, f0, t, sample_rate)
    envelope = pw.cheaptrick(x, f0, t, sample_rate)
    aperiodicity = pw.d4c(x, f0, t, sample_rate)
    return WorldFeatures(f0, envelope, aperiodicity, sample_rate)


def f0_track(wave: torch.Tensor | np.ndarray, sample_rate: int, hop_length: int, frames: int | None = None,
             f0_floor: float = 60.0, f0_ceil: float = 600.0) -> torch.Tensor:  # fmt: skip
    """F0 (Hz, 0 = unvoiced) every ``hop_length`` samples — one value per frame of a centred STFT with that hop
    (frame ``n`` at sample ``n · hop``) — by DIO refined with StoneMask (fast enough for whole corpora);
    ``frames`` cuts or zero-pads the track to that many frames (default ``1 + samples // hop``)."""
    pw = _pyworld()
    x = np.ascontiguousarray(torch.as_tensor(wave).double().reshape(-1).numpy())
    frames = 1 + len(x) // hop_length if frames is None else frames
    if len(x) < 2 * hop_length:
        return torch.zeros(frames)
    period = 1000.0 * hop_length / sample_rate
    f0, t = pw.dio(x, sample_rate, f0_floor=f0_floor, f0_ceil=f0_ceil, frame_period=period)
    f0 = torch.from_numpy(pw.stonemask(x, f0, t, sample_rate).astype(np.float32))
    return f0[:frames] if len(f0) >= frames else torch.nn.functional.pad(f0, (0, frames - len(f0)))


def synthesize(features: WorldFeatures, length: int | None = None) -> torch.Tensor:
    """The wave (float32, clipped to [-1, 1]) WORLD synthesises from ``features``, cut or padded to ``length``."""
    pw = _pyworld()
    y = pw.synthesize(
        np.ascontiguousarray(features.f0), np.ascontiguousarray(features.envelope),
        np.ascontiguousarray(features.aperiodicity), features.sample_rate, features.frame_period,
    )  # fmt: skip
    out = torch.from_numpy(y.astype(np.float32)).clamp(-1, 1)
    if length is not None:
        out = out[:length] if len(out) >= length else torch.nn.functional.pad(out, (0, length - len(out)))
    return out


def warp_envelope(envelope: np.ndarray, alpha: float) -> np.ndarray:
    """The envelope stretched along frequency by ``alpha`` (``sp'(f) = sp(f / α)``: α > 1 raises formants),
    interpolated linearly between bins; frequencies beyond the top take the last bin's value."""
    if alpha == 1.0:
        return envelope
    bins = envelope.shape[1]
    source = np.arange(bins) / alpha  # the bin each output bin reads
    lo = np.clip(np.floor(source).astype(int), 0, bins - 1)
    hi = np.clip(lo + 1, 0, bins - 1)
    w = np.clip(source - lo, 0.0, 1.0)
    return envelope[:, lo] * (1 - w) + envelope[:, hi] * w


def median_f0(features: WorldFeatures) -> float | None:
    """Median F0 (Hz) of the voiced frames, None when no frame is voiced."""
    voiced = features.f0[features.voiced]
    return float(np.median(voiced)) if voiced.size else None


@dataclass
class VoiceSettings:
    """What to change: pitch (semitones), formant factor, and optional log-F0 target statistics."""

    pitch: float = 0.0
    formant: float = 1.0
    target_f0: float | None = None  # a median F0 to reach (Hz), measured on the input: the gender presets
    target_log_f0: tuple[float, float] | None = None  # (mean, std) of a speaker's log-F0: target-speaker mode
    source_log_f0: tuple[float, float] | None = None  # the input speaker's, when known (else measured)
    formant_auto: bool = False  # derive the formant factor from the pitch change (presets, target speaker)


def gender_settings(gender: Literal["female", "male"], pitch: float = 0.0, formant: float | None = None):
    """The preset of ``gender``: its target median F0; ``pitch`` semitones on top, ``formant`` overrides."""
    return VoiceSettings(pitch=pitch, formant=formant or 1.0, target_f0=GENDER_F0[gender], formant_auto=formant is None)


def log_f0_stats(features: list[WorldFeatures]) -> tuple[float, float] | None:
    """Mean and standard deviation of log F0 over the voiced frames of several analyses."""
    values = np.concatenate([np.log(f.f0[f.voiced]) for f in features]) if features else np.empty(0)
    if values.size < 2:
        return None
    return float(values.mean()), float(max(values.std(), 1e-3))


def transform(features: WorldFeatures, settings: VoiceSettings) -> WorldFeatures:
    """``features`` with F0 and envelope changed as ``settings`` say (unvoiced frames stay unvoiced)."""
    f0 = features.f0.copy()
    voiced = features.voiced
    ratio = 1.0
    if voiced.any():
        if settings.target_log_f0 is not None:
            mean, std = settings.source_log_f0 or log_f0_stats([features]) or (float(np.log(f0[voiced]).mean()), 1.0)
            t_mean, t_std = settings.target_log_f0
            f0[voiced] = np.exp((np.log(f0[voiced]) - mean) / std * t_std + t_mean)
            ratio = math.exp(t_mean - mean)
        elif settings.target_f0 is not None:
            ratio = settings.target_f0 / float(np.median(f0[voiced]))
            if 1 / 1.1 < ratio < 1.1:
                ratio = 1.0  # already at the preset's level
            f0[voiced] *= ratio
        f0[voiced] *= 2 ** (settings.pitch / 12)
    alpha = settings.formant
    if settings.formant_auto and ratio != 1.0:
        if settings.target_log_f0 is not None:
            alpha = ratio**0.3
        else:
            alpha = GENDER_FORMANT if ratio > 1 else 1 / GENDER_FORMANT
    envelope = warp_envelope(features.envelope, alpha)
    return WorldFeatures(f0, envelope, features.aperiodicity, features.sample_rate, features.frame_period)


def convert(wave: torch.Tensor, sample_rate: int, settings: VoiceSettings, f0_method: str = "harvest",
            block_seconds: float = 20.0, crossfade_seconds: float = 0.1) -> torch.Tensor:  # fmt: skip
    """Analyse, transform and resynthesise ``wave`` (mono, [-1, 1]) block by block; returns the same length.

    With ``settings.target_log_f0`` and no ``source_log_f0``, the input's log-F0 statistics are measured on
    the whole input first (an F0 pass with ``f0_method``), so every block is mapped alike.
    """
    if wave.numel() == 0:
        raise BadInputError("the audio is empty", "pass a recording with speech in it")
    if settings.target_log_f0 is not None and settings.source_log_f0 is None:
        measured = log_f0_stats([analyze(wave, sample_rate, f0_method)])  # type: ignore[arg-type]
        settings = VoiceSettings(**{**settings.__dict__, "source_log_f0": measured})
    block = int(block_seconds * sample_rate)
    fade = int(crossfade_seconds * sample_rate)
    if len(wave) <= block + fade:
        return _convert_block(wave, sample_rate, settings, f0_method)
    out = torch.zeros_like(wave)
    weight = torch.zeros_like(wave)
    ramp = torch.linspace(0, 1, fade + 2)[1:-1] if fade else torch.empty(0)
    start = 0
    while start < len(wave):
        end = min(len(wave), start + block + fade)
        piece = _convert_block(wave[start:end], sample_rate, settings, f0_method)
        w = torch.ones(end - start)
        if start > 0 and fade:
            w[:fade] = ramp[: min(fade, len(w))]
        if end < len(wave) and fade:
            w[-fade:] = 1 - ramp
        out[start:end] += piece * w
        weight[start:end] += w
        start += block
    return out / weight.clamp_min(1e-6)


def _convert_block(wave: torch.Tensor, sample_rate: int, settings: VoiceSettings, f0_method: str) -> torch.Tensor:
    features = analyze(wave, sample_rate, f0_method)  # type: ignore[arg-type]
    if not features.voiced.any():
        return wave.clone()  # nothing voiced (silence, noise): WORLD would only add artefacts
    return synthesize(transform(features, settings), length=len(wave))
