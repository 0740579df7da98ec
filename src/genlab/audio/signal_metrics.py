"""Signal-level quality metrics of audio: SNR, SI-SDR, log-spectral distance, PESQ and STOI, and noisy mixtures.

Each metric compares an ``estimate`` (a model's output) with a ``reference`` (the clean target), both mono
waves of the same length, shape (samples,); a mismatch raises :class:`~genlab.core.errors.BadInputError`.

* :func:`snr_db`: ``10 · log10(‖r‖² / ‖r − e‖²)`` in dB.
* :func:`si_sdr`: scale-invariant signal-to-distortion ratio (Le Roux, Wisdom, Erdogan & Hershey, "SDR –
  half-baked or well done?", ICASSP 2019): with (by default) zero-mean signals, the target is the projection
  ``s = (⟨e, r⟩ / ‖r‖²) · r`` of the estimate onto the reference and SI-SDR ``= 10 · log10(‖s‖² / ‖e − s‖²)``,
  so rescaling the estimate does not change it. SNR and SI-SDR are capped to [−100, 100] dB (an exact or
  exactly scaled copy gives 100, not infinity).
* :func:`log_spectral_distance`: in dB, the mean over STFT frames ``t`` of
  ``sqrt(mean_k (10 · log10 P_ref(t, k) − 10 · log10 P_est(t, k))²)`` with ``P = |STFT|²`` (powers floored
  at 1e-10), the frame-wise form of the log-spectral distance of Gray & Markel, "Distance measures for speech
  processing", IEEE TASSP 1976, as used to score bandwidth extension (Kuleshov, Enam & Ermon, "Audio super
  resolution using neural networks", 2017, who use ``log |S|²`` without the dB factor).
* :func:`pesq_score`: PESQ, ITU-T P.862 (narrow band, 8 kHz) and P.862.2 (wide band, 16 kHz), MOS-LQO from
  about 1 (bad) to 4.5 (nb) or 4.64 (wb), through the ``pesq`` package; other sample rates are resampled.
* :func:`stoi_score`: STOI (Taal, Hendriks, Heusdens & Jensen, IEEE TASLP 2011), or extended STOI (Jensen &
  Taal, IEEE TASLP 2016), from 0 to 1, through the ``pystoi`` package.
* :func:`mix_at_snr`: speech plus a noise clip scaled so that ``10 · log10(P_speech / P_noise)`` is the
  asked SNR (the noisy input of speech-enhancement training and evaluation).
"""

from __future__ import annotations

import math
import warnings
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from genlab.audio.features import stft
from genlab.audio.io import resample
from genlab.core.errors import BadInputError
from genlab.core.optional import require

#: SNR and SI-SDR are capped to ±MAX_DB (the error power is floored at 10^(−MAX_DB/10) of the signal power)
MAX_DB = 100.0


def _pair(estimate: Tensor, reference: Tensor, metric: str) -> tuple[Tensor, Tensor]:
    """Both waves as float64 (samples,) tensors of the same length, or a BadInputError."""
    estimate, reference = torch.as_tensor(estimate), torch.as_tensor(reference)
    if estimate.dim() != 1 or reference.dim() != 1:
        raise BadInputError(
            f"{metric} compares two mono waves (samples,), got shapes {tuple(estimate.shape)} and "
            f"{tuple(reference.shape)}",
            "mix to mono first (wave.mean(0)) or score each item of a batch separately",
        )
    if estimate.shape[0] != reference.shape[0]:
        raise BadInputError(
            f"{metric}: the estimate has {estimate.shape[0]} samples but the reference {reference.shape[0]}",
            "crop or pad the estimate to the reference's length (genlab.audio.io.fit_length)",
        )
    if estimate.shape[0] == 0:
        raise BadInputError(f"{metric}: the waves are empty", "pass audio samples")
    return estimate.detach().double().cpu(), reference.detach().double().cpu()


def _ratio_db(signal_power: Tensor, error_power: Tensor) -> Tensor:
    """``10 · log10(signal / error)`` clipped to [−MAX_DB, MAX_DB] without dividing by zero."""
    tiny = torch.finfo(signal_power.dtype).tiny
    db = 10 * torch.log10(signal_power.clamp_min(tiny)) - 10 * torch.log10(error_power.clamp_min(tiny))
    return db.clamp(-MAX_DB, MAX_DB)


def snr_db(estimate: Tensor, reference: Tensor) -> float:
    """Signal-to-noise ratio of ``estimate`` against ``reference`` in dB: ``10 · log10(‖r‖² / ‖r − e‖²)``."""
    estimate, reference = _pair(estimate, reference, "SNR")
    if not reference.any():
        raise BadInputError("SNR: the reference is silent (all zeros)", "pass the clean signal as the reference")
    return float(_ratio_db(reference.pow(2).sum(), (reference - estimate).pow(2).sum()))


def si_sdr_batch(estimate: Tensor, reference: Tensor, zero_mean: bool = True) -> Tensor:
    """SI-SDR in dB of each item of (..., samples) batches → (...); differentiable (usable as a loss, negated).

    Computed in the inputs' dtype on their device; a silent reference gives −100 dB.
    """
    if estimate.shape != reference.shape or estimate.dim() == 0:
        raise BadInputError(
            f"SI-SDR: shapes {tuple(estimate.shape)} and {tuple(reference.shape)} differ",
            "pass estimates and references of the same (..., samples) shape",
        )
    if zero_mean:
        estimate = estimate - estimate.mean(-1, keepdim=True)
        reference = reference - reference.mean(-1, keepdim=True)
    eps = torch.finfo(reference.dtype).tiny
    scale = (estimate * reference).sum(-1, keepdim=True) / reference.pow(2).sum(-1, keepdim=True).clamp_min(eps)
    target = scale * reference  # the projection of the estimate onto the reference
    return _ratio_db(target.pow(2).sum(-1), (estimate - target).pow(2).sum(-1))


def si_sdr(estimate: Tensor, reference: Tensor, zero_mean: bool = True) -> float:
    """Scale-invariant SDR (Le Roux et al. 2019) of ``estimate`` against ``reference``, both (samples,), in dB.

    ``zero_mean``: remove each wave's mean first (the paper's definition). A scaled copy scores 100 dB.
    """
    estimate, reference = _pair(estimate, reference, "SI-SDR")
    if not (reference - reference.mean() if zero_mean else reference).any():
        raise BadInputError("SI-SDR: the reference is silent (constant)", "pass the clean signal as the reference")
    return float(si_sdr_batch(estimate, reference, zero_mean))


def log_spectral_distance(estimate: Tensor, reference: Tensor, n_fft: int = 512, hop_length: int = 128) -> float:
    """Log-spectral distance in dB between ``estimate`` and ``reference`` (samples,) (module docstring);
    0 for identical waves."""
    estimate, reference = _pair(estimate, reference, "log-spectral distance")
    power_est = stft(estimate, n_fft, hop_length).abs().pow(2).clamp_min(1e-10)  # (F, N)
    power_ref = stft(reference, n_fft, hop_length).abs().pow(2).clamp_min(1e-10)
    difference = 10 * torch.log10(power_ref) - 10 * torch.log10(power_est)
    return float(difference.pow(2).mean(dim=0).sqrt().mean())


def mix_at_snr(speech: Tensor, noise: Tensor, snr_db: float, generator: torch.Generator | None = None) -> Tensor:
    """``speech + g · noise`` (samples,), with the gain ``g`` setting ``10 · log10(P_speech / P_noise)`` to
    ``snr_db`` (powers are mean squares over the speech's length).

    The noise is cropped to the speech's length from a random offset drawn from ``generator`` (torch's global
    generator when None); a shorter noise is tiled (repeated end to start) from a random offset. The speech is
    not changed: keep it as the clean target.
    """
    speech, noise = torch.as_tensor(speech), torch.as_tensor(noise)
    if speech.dim() != 1 or noise.dim() != 1 or speech.shape[0] == 0 or noise.shape[0] == 0:
        raise BadInputError(
            f"mix_at_snr wants two non-empty mono waves (samples,), got {tuple(speech.shape)} and {tuple(noise.shape)}",
            "mix to mono first (wave.mean(0))",
        )
    n, m = speech.shape[0], noise.shape[0]
    if m >= n:
        start = int(torch.randint(0, m - n + 1, (1,), generator=generator))
        segment = noise[start : start + n]
    else:
        start = int(torch.randint(0, m, (1,), generator=generator))
        segment = noise[(start + torch.arange(n)) % m]  # tiled from a random offset
    speech_power = float(speech.double().pow(2).mean())
    noise_power = float(segment.double().pow(2).mean())
    if speech_power == 0 or noise_power == 0:
        which = "speech" if speech_power == 0 else "noise (over the cropped segment)"
        raise BadInputError(f"mix_at_snr: the {which} is silent", "pass audible speech and noise")
    gain = math.sqrt(speech_power / (noise_power * 10 ** (snr_db / 10)))
    return speech + (gain * segment.double()).to(speech.dtype)


def _numpy_pair(estimate: Tensor, reference: Tensor, metric: str) -> tuple[np.ndarray, np.ndarray]:
    estimate, reference = _pair(estimate, reference, metric)
    if not reference.any():
        raise BadInputError(f"{metric}: the reference is silent", "pass the clean speech as the reference")
    return estimate.numpy(), reference.numpy()


def pesq_score(
    estimate: Tensor, reference: Tensor, sample_rate: int, mode: Literal["auto", "nb", "wb"] = "auto"
) -> float:
    """PESQ (MOS-LQO) of ``estimate`` against the clean ``reference``, both (samples,) at ``sample_rate``.

    ``mode``: ``"wb"`` (P.862.2, scored at 16 kHz) or ``"nb"`` (P.862, at 8 kHz); ``"auto"`` is nb for rates
    below 16 kHz and wb otherwise. Waves at another rate than the mode's are resampled
    (:func:`genlab.audio.io.resample`). PESQ needs speech: a reference in which it finds no utterance, or
    too short a wave (a fraction of a second), raises BadInputError.
    """
    pesq = require("pesq", "audio", "PESQ")
    if mode not in ("auto", "nb", "wb"):
        raise BadInputError(f"unknown PESQ mode {mode!r}", "use 'auto', 'nb' (8 kHz) or 'wb' (16 kHz)")
    if mode == "auto":
        mode = "nb" if sample_rate < 16000 else "wb"
    rate = 16000 if mode == "wb" else 8000
    estimate_np, reference_np = _numpy_pair(estimate, reference, "PESQ")
    if sample_rate != rate:
        estimate_np = resample(torch.from_numpy(estimate_np), sample_rate, rate).numpy()
        reference_np = resample(torch.from_numpy(reference_np), sample_rate, rate).numpy()
    try:
        return float(pesq.pesq(rate, reference_np, estimate_np, mode))
    except pesq.NoUtterancesError:
        raise BadInputError(
            "PESQ found no speech in the reference", "PESQ scores speech: pass a recording with audible speech"
        ) from None
    except pesq.BufferTooShortError:
        seconds = len(reference_np) / rate
        raise BadInputError(
            f"the audio ({seconds:.2f} s) is too short for PESQ", "pass at least a second of speech"
        ) from None


def stoi_score(estimate: Tensor, reference: Tensor, sample_rate: int, extended: bool = False) -> float:
    """STOI (or, with ``extended``, ESTOI) of ``estimate`` against the clean ``reference``, both (samples,) at
    ``sample_rate``; from 0 to 1, higher is more intelligible. Needs at least about 0.4 s of non-silent
    speech (30 frames at 10 kHz) and raises BadInputError otherwise."""
    pystoi = require("pystoi", "audio", "STOI")
    estimate_np, reference_np = _numpy_pair(estimate, reference, "STOI")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        score = float(pystoi.stoi(reference_np, estimate_np, sample_rate, extended=extended))
    if any("Not enough STFT frames" in str(w.message) for w in caught):
        raise BadInputError(
            "the reference has too little non-silent audio for STOI (it needs 30 frames, about 0.4 s)",
            "pass a longer speech recording",
        )
    for w in caught:  # pass other warnings on
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return score
