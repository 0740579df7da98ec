"""Spectral features of audio: STFT and its inverse, mel filterbanks and spectrograms, MFCCs and Griffin-Lim.

Everything works on float tensors shaped ``(..., samples)`` (a single wave or a batch) with torch only, so the
features run on any device and are differentiable where the maths is (STFT, mel projection, log, DCT).

* :func:`stft` / :func:`istft`: short-time Fourier transform with a periodic Hann window; frames are centred
  (the wave is zero-padded by ``n_fft // 2`` on both sides, which is defined for waves of any length), so a
  wave of ``T`` samples gives ``1 + T // hop_length`` frames. The inverse is the weighted overlap-add that
  undoes it exactly (Griffin & Lim 1984), given ``length``.
* Mel scale (:func:`hz_to_mel`, :func:`mel_to_hz`, :func:`mel_frequencies`). By default Slaney's, from the
  Auditory Toolbox (Slaney 1998): linear below 1 kHz at ``f_sp = 200/3`` Hz per mel, so 1 kHz is mel 15, and
  logarithmic above, ``m = 15 + ln(f / 1000) / (ln 6.4 / 27)``. With ``htk=True`` the HTK formula
  ``m = 2595 · log10(1 + f / 700)`` (Young et al., *The HTK Book*), where 1 kHz is mel 1000.
* :func:`mel_filterbank`: ``n_mels`` triangular filters on the FFT bins, their corners at ``n_mels + 2`` points
  equally spaced in mel between ``f_min`` and ``f_max``. ``norm="slaney"`` scales filter ``i`` by
  ``2 / (f_{i+2} − f_i)`` (its corner frequencies in Hz) so every filter has the same area, which keeps the
  mel energy of white noise flat (the convention of the Auditory Toolbox and of librosa's default).
* :class:`MelSpectrogram`: ``log(max(F · |STFT|^power, floor))`` as an ``nn.Module`` (the usual vocoder and
  TTS front end). :func:`mfcc`: the orthonormal DCT-II of a log-mel spectrogram over the mel axis
  (Davis & Mermelstein 1980).
* :func:`griffin_lim`: phase reconstruction from a magnitude, the fast Griffin-Lim algorithm of Perraudin,
  Balazs & Søndergaard, "A fast Griffin-Lim algorithm", WASPAA 2013. With ``P_C1`` the projection onto
  consistent spectrograms (``stft(istft(·))``) and ``P_C2`` the one onto the given magnitude:
  ``c_n = P_C1(P_C2(t_{n-1}))``, ``t_n = c_n + α (c_n − c_{n-1})``; ``α = 0`` is the original algorithm of
  Griffin & Lim, "Signal estimation from modified short-time Fourier transform", IEEE TASSP 1984.
  :func:`mel_to_magnitude` undoes the mel projection approximately, so ``griffin_lim(mel_to_magnitude(...))``
  is the classical vocoder baseline.
* :func:`spectral_convergence`: ``‖|S_ref| − |S_est|‖_F / ‖|S_ref|‖_F`` between magnitudes (Arık et al.,
  "Fast spectrogram inversion using multi-head convolutional neural networks", 2019).
"""

from __future__ import annotations

import math
import warnings
from typing import Literal

import torch
from torch import Tensor, nn

from genlab.core.errors import BadInputError

# Slaney's mel scale: linear below 1 kHz, logarithmic above
_SLANEY_F_SP = 200.0 / 3  # Hz per mel below 1 kHz
_SLANEY_MIN_LOG_HZ = 1000.0
_SLANEY_MIN_LOG_MEL = _SLANEY_MIN_LOG_HZ / _SLANEY_F_SP  # 15
_SLANEY_LOG_STEP = math.log(6.4) / 27.0  # 27 mels per factor 6.4 in frequency


# --------------------------------------------------------------------------- STFT


def hann_window(win_length: int, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None):
    """The periodic Hann window of ``win_length`` samples (the one whose shifts by ``win_length / 4`` sum to a
    constant, as the STFT wants)."""
    return torch.hann_window(win_length, periodic=True, dtype=dtype, device=device)


def _check_stft_args(n_fft: int, hop_length: int, win_length: int | None, invertible: bool = False) -> int:
    win_length = n_fft if win_length is None else win_length
    if n_fft < 2 or hop_length < 1 or not 1 <= win_length <= n_fft:
        raise BadInputError(
            f"invalid STFT sizes n_fft={n_fft}, hop_length={hop_length}, win_length={win_length}",
            "use n_fft >= 2, hop_length >= 1 and 1 <= win_length <= n_fft (e.g. 1024, 256, 1024)",
        )
    if invertible and hop_length >= win_length:
        # the overlap-add of the squared windows must not vanish anywhere (the NOLA condition); a Hann window
        # is zero at its ends, so frames must overlap
        raise BadInputError(
            f"hop_length {hop_length} is not shorter than the window ({win_length}): the STFT cannot be inverted",
            "use hop_length < win_length (a quarter of the window is the usual choice)",
        )
    return win_length


def _stft(wave: Tensor, n_fft: int, hop_length: int, window: Tensor, center: bool) -> Tensor:
    """STFT of ``wave`` (..., samples) with a given window → complex (..., n_fft // 2 + 1, frames)."""
    if not wave.is_floating_point():
        wave = wave.float()
    if wave.dim() == 0 or wave.shape[-1] == 0:
        raise BadInputError(f"cannot take the STFT of an empty wave (shape {tuple(wave.shape)})", "pass audio samples")
    if not center and wave.shape[-1] < n_fft:
        raise BadInputError(
            f"the wave ({wave.shape[-1]} samples) is shorter than one frame (n_fft={n_fft})",
            "pass a longer wave, a smaller n_fft, or center=True",
        )
    lead = wave.shape[:-1]
    flat = wave.reshape(-1, wave.shape[-1])  # (..., T) -> (B, T)
    if center:
        flat = nn.functional.pad(flat, (n_fft // 2, n_fft // 2))  # zeros: defined for waves of any length
    spec = torch.stft(
        flat,
        n_fft,
        hop_length=hop_length,
        win_length=window.shape[0],
        window=window.to(flat.dtype),
        center=False,
        return_complex=True,
    )
    return spec.reshape(*lead, *spec.shape[-2:])


def _istft(spec: Tensor, n_fft: int, hop_length: int, window: Tensor, length: int | None, center: bool) -> Tensor:
    lead = spec.shape[:-2]
    flat = spec.reshape(-1, *spec.shape[-2:])  # (..., F, N) -> (B, F, N)
    wave = torch.istft(
        flat,
        n_fft,
        hop_length=hop_length,
        win_length=window.shape[0],
        window=window.to(flat.real.dtype),
        center=center,
        length=length,
    )
    return wave.reshape(*lead, wave.shape[-1])


def stft(wave: Tensor, n_fft: int, hop_length: int, win_length: int | None = None, center: bool = True) -> Tensor:
    """Short-time Fourier transform of ``wave`` (..., samples) with a periodic Hann window of ``win_length``
    (default ``n_fft``) samples; returns complex (..., n_fft // 2 + 1, frames).

    With ``center`` frame ``t`` is centred on sample ``t · hop_length`` (the wave is zero-padded by
    ``n_fft // 2`` on both sides) and there are ``1 + samples // hop_length`` frames.
    """
    win_length = _check_stft_args(n_fft, hop_length, win_length)
    return _stft(wave, n_fft, hop_length, hann_window(win_length, device=wave.device), center)


def istft(
    spec: Tensor,
    n_fft: int,
    hop_length: int,
    win_length: int | None = None,
    length: int | None = None,
    center: bool = True,
) -> Tensor:
    """Inverse of :func:`stft`: complex (..., n_fft // 2 + 1, frames) → real (..., samples).

    ``length``: the number of samples to return (the original wave's, for an exact round trip); None gives
    ``hop_length · (frames − 1)`` samples with ``center``.
    """
    win_length = _check_stft_args(n_fft, hop_length, win_length, invertible=True)
    if not spec.is_complex() or spec.dim() < 2 or spec.shape[-2] != n_fft // 2 + 1:
        raise BadInputError(
            f"istft wants a complex (..., {n_fft // 2 + 1}, frames) spectrogram, got {spec.dtype} {tuple(spec.shape)}",
            "pass the output of stft with the same n_fft",
        )
    return _istft(spec, n_fft, hop_length, hann_window(win_length, device=spec.device), length, center)


def log_magnitude(spec: Tensor, floor: float = 1e-5) -> Tensor:
    """Natural log of ``max(|spec|, floor)`` for a complex or magnitude spectrogram."""
    return torch.log(spec.abs().clamp_min(floor))


# --------------------------------------------------------------------------- mel scale


def hz_to_mel(f: float | Tensor, htk: bool = False) -> float | Tensor:
    """Frequency in Hz → mel: Slaney's scale (1 kHz = mel 15) or, with ``htk``, 2595 · log10(1 + f / 700)."""
    x = torch.as_tensor(f, dtype=torch.float64)
    if htk:
        mel = 2595.0 * torch.log10(1.0 + x / 700.0)
    else:
        log_part = _SLANEY_MIN_LOG_MEL + torch.log(x.clamp_min(_SLANEY_MIN_LOG_HZ) / _SLANEY_MIN_LOG_HZ) / (
            _SLANEY_LOG_STEP
        )
        mel = torch.where(x < _SLANEY_MIN_LOG_HZ, x / _SLANEY_F_SP, log_part)
    if isinstance(f, Tensor):
        return mel.to(f.dtype) if f.is_floating_point() else mel
    return float(mel)


def mel_to_hz(m: float | Tensor, htk: bool = False) -> float | Tensor:
    """Mel → frequency in Hz, the inverse of :func:`hz_to_mel` on the same scale."""
    x = torch.as_tensor(m, dtype=torch.float64)
    if htk:
        hz = 700.0 * (10.0 ** (x / 2595.0) - 1.0)
    else:
        log_part = _SLANEY_MIN_LOG_HZ * torch.exp(_SLANEY_LOG_STEP * (x - _SLANEY_MIN_LOG_MEL))
        hz = torch.where(x < _SLANEY_MIN_LOG_MEL, x * _SLANEY_F_SP, log_part)
    if isinstance(m, Tensor):
        return hz.to(m.dtype) if m.is_floating_point() else hz
    return float(hz)


def mel_frequencies(n_mels: int, f_min: float = 0.0, f_max: float = 11025.0, htk: bool = False) -> Tensor:
    """``n_mels`` frequencies in Hz (float64), equally spaced on the mel scale from ``f_min`` to ``f_max``."""
    mels = torch.linspace(hz_to_mel(float(f_min), htk), hz_to_mel(float(f_max), htk), n_mels, dtype=torch.float64)
    return mel_to_hz(mels, htk)


def mel_filterbank(
    sample_rate: int,
    n_fft: int,
    n_mels: int,
    f_min: float = 0.0,
    f_max: float | None = None,
    htk: bool = False,
    norm: Literal["slaney", None] = "slaney",
) -> Tensor:
    """Triangular mel filters, float32 (n_mels, n_fft // 2 + 1): ``mel = filterbank @ magnitude``.

    Filter ``i`` rises from corner ``f_i`` to its centre ``f_{i+1}`` and falls to ``f_{i+2}``, the corners being
    ``n_mels + 2`` frequencies equally spaced in mel from ``f_min`` to ``f_max`` (default: the Nyquist frequency).
    ``norm="slaney"`` scales each filter by ``2 / (f_{i+2} − f_i)`` (equal areas); None leaves peaks of 1.
    A filter too narrow to cover any FFT bin (too many mels for ``n_fft``) is all zeros, with a warning.
    """
    f_max = sample_rate / 2 if f_max is None else float(f_max)
    if sample_rate <= 0 or n_mels < 1 or not 0 <= f_min < f_max <= sample_rate / 2:
        raise BadInputError(
            f"invalid mel filterbank: sample_rate={sample_rate}, n_mels={n_mels}, f_min={f_min}, f_max={f_max}",
            "use n_mels >= 1 and 0 <= f_min < f_max <= sample_rate / 2",
        )
    if norm not in ("slaney", None):
        raise BadInputError(f"unknown mel filterbank norm {norm!r}", "use norm='slaney' or norm=None")
    bin_hz = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)  # (F,)
    corners = mel_frequencies(n_mels + 2, f_min, f_max, htk)  # (n_mels + 2,)
    lo, mid, hi = corners[:-2, None], corners[1:-1, None], corners[2:, None]  # each (n_mels, 1)
    rising = (bin_hz - lo) / (mid - lo)
    falling = (hi - bin_hz) / (hi - mid)
    weights = torch.minimum(rising, falling).clamp_min(0.0)  # (n_mels, F)
    if norm == "slaney":
        weights = weights * (2.0 / (hi - lo))
    empty = int((weights.amax(dim=1) == 0).sum())
    if empty:
        warnings.warn(
            f"{empty} of {n_mels} mel filters cover no FFT bin (n_fft={n_fft} is too small for {n_mels} mels); "
            "they are all zeros",
            stacklevel=2,
        )
    return weights.float()


# --------------------------------------------------------------------------- mel spectrogram and MFCC


class MelSpectrogram(nn.Module):
    """Log-mel spectrogram: ``log(max(F · |stft(wave)|^power, floor))``, (..., samples) → (..., n_mels, frames).

    ``power`` 1 gives a magnitude mel spectrogram (the HiFi-GAN / Tacotron 2 convention), 2 a power one;
    ``log=False`` returns the mel values themselves. The Hann window and the Slaney-normalised filterbank
    (:func:`mel_filterbank`) are non-persistent buffers: they follow ``.to(device)`` but add no keys to the
    state dict of a model holding this module.
    """

    def __init__(
        self,
        sample_rate: int,
        n_fft: int = 1024,
        hop_length: int = 256,
        n_mels: int = 80,
        f_min: float = 0.0,
        f_max: float | None = None,
        win_length: int | None = None,
        power: float = 1.0,
        log: bool = True,
        floor: float = 1e-5,
    ):
        super().__init__()
        self.win_length = _check_stft_args(n_fft, hop_length, win_length)
        self.sample_rate, self.n_fft, self.hop_length, self.n_mels = sample_rate, n_fft, hop_length, n_mels
        self.f_min, self.f_max = f_min, sample_rate / 2 if f_max is None else f_max
        self.power, self.log, self.floor = power, log, floor
        self.register_buffer("window", hann_window(self.win_length), persistent=False)
        fb = mel_filterbank(sample_rate, n_fft, n_mels, f_min, self.f_max)
        self.register_buffer("filterbank", fb, persistent=False)

    def frames(self, samples: int) -> int:
        """How many frames a wave of ``samples`` samples gives (frames are centred)."""
        return 1 + samples // self.hop_length

    def forward(self, wave: Tensor) -> Tensor:
        spec = _stft(wave, self.n_fft, self.hop_length, self.window, center=True)  # (..., F, N)
        magnitude = spec.abs()
        if self.power != 1.0:
            magnitude = magnitude.pow(self.power)
        mel = torch.matmul(self.filterbank.to(magnitude.dtype), magnitude)  # (n_mels, F) @ (..., F, N)
        return torch.log(mel.clamp_min(self.floor)) if self.log else mel

    def extra_repr(self) -> str:
        return (
            f"sample_rate={self.sample_rate}, n_fft={self.n_fft}, hop_length={self.hop_length}, "
            f"n_mels={self.n_mels}, power={self.power}, log={self.log}"
        )


def spec_augment(
    spec: Tensor, freq_mask: int, time_mask: int, frames: Tensor | None = None, fill: Tensor | None = None
) -> Tensor:
    """SpecAugment (Park et al. 2019) with one mask of each kind: a copy of ``spec`` (B, ..., n_mels, T) where, per
    item, a random band of up to ``freq_mask`` mel channels and a random span of up to ``time_mask`` frames (within
    the item's first ``frames[i]``, default all) are set to ``fill[i]`` (default 0). 0 turns a mask off."""
    out = spec.clone()
    n_mels, total = spec.shape[-2:]
    for i in range(spec.shape[0]):
        value = 0.0 if fill is None else fill[i]
        if freq_mask:
            w = int(torch.randint(0, freq_mask + 1, ()))
            f0 = int(torch.randint(0, max(1, n_mels - w + 1), ()))
            out[i, ..., f0 : f0 + w, :] = value
        if time_mask:
            length = total if frames is None else int(frames[i])
            w = int(torch.randint(0, time_mask + 1, ()))
            t0 = int(torch.randint(0, max(1, length - w + 1), ()))
            out[i, ..., t0 : t0 + w] = value
    return out


def dct_matrix(n_out: int, n_in: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """The first ``n_out`` rows of the orthonormal DCT-II of size ``n_in``: (n_out, n_in), with
    ``C[k, n] = sqrt(2 / N) · cos(π k (n + 1/2) / N)`` and row 0 scaled by ``1 / sqrt(2)``."""
    n = torch.arange(n_in, dtype=torch.float64)
    k = torch.arange(n_out, dtype=torch.float64)[:, None]
    basis = torch.cos(math.pi / n_in * (n + 0.5) * k) * math.sqrt(2.0 / n_in)
    basis[0] /= math.sqrt(2.0)
    return basis.to(dtype)


def mfcc(log_mel: Tensor, n_mfcc: int = 13) -> Tensor:
    """Mel-frequency cepstral coefficients: the orthonormal DCT-II of ``log_mel`` (..., n_mels, frames) over
    the mel axis, keeping the first ``n_mfcc`` coefficients → (..., n_mfcc, frames)."""
    n_mels = log_mel.shape[-2]
    if not 1 <= n_mfcc <= n_mels:
        raise BadInputError(f"n_mfcc={n_mfcc} with {n_mels} mel bands", f"use 1 <= n_mfcc <= {n_mels}")
    return torch.matmul(dct_matrix(n_mfcc, n_mels, log_mel.dtype).to(log_mel.device), log_mel)


# --------------------------------------------------------------------------- inversion


def spectral_convergence(estimate: Tensor, reference: Tensor) -> float:
    """``‖|reference| − |estimate|‖_F / ‖|reference|‖_F`` between two spectrograms of the same shape
    (complex or magnitudes); 0 is a perfect match."""
    if estimate.shape != reference.shape:
        raise BadInputError(
            f"spectrograms differ in shape: {tuple(estimate.shape)} vs {tuple(reference.shape)}",
            "compute both with the same STFT settings on waves of the same length",
        )
    ref = reference.abs().double()
    return float(
        torch.linalg.vector_norm(ref - estimate.abs().double()) / torch.linalg.vector_norm(ref).clamp_min(1e-12)
    )


def griffin_lim(
    magnitude: Tensor,
    n_fft: int,
    hop_length: int,
    win_length: int | None = None,
    n_iter: int = 32,
    momentum: float = 0.99,
    length: int | None = None,
    generator: torch.Generator | None = None,
    init: Literal["random", "zeros"] = "random",
) -> Tensor:
    """A wave whose STFT magnitude approximates ``magnitude`` (..., n_fft // 2 + 1, frames), by the fast
    Griffin-Lim algorithm (module docstring) with ``momentum`` α (0.99 as in the paper; 0: plain Griffin-Lim).

    The phase starts uniformly random, drawn from ``generator`` (seeded: deterministic output), or at zero
    with ``init="zeros"``. ``length``: samples of the output (default ``hop_length · (frames − 1)``); it must
    give as many frames as ``magnitude`` has. Returns (..., samples), real.
    """
    win_length = _check_stft_args(n_fft, hop_length, win_length, invertible=True)
    if magnitude.is_complex() or magnitude.dim() < 2 or magnitude.shape[-2] != n_fft // 2 + 1:
        raise BadInputError(
            f"griffin_lim wants a real (..., {n_fft // 2 + 1}, frames) magnitude, got {magnitude.dtype} "
            f"{tuple(magnitude.shape)}",
            "pass stft(...).abs() computed with the same n_fft",
        )
    if init not in ("random", "zeros"):
        raise BadInputError(f"unknown phase init {init!r}", "use init='random' or init='zeros'")
    frames = magnitude.shape[-1]
    if length is not None and 1 + length // hop_length != frames:
        raise BadInputError(
            f"length {length} gives {1 + length // hop_length} frames but the magnitude has {frames}",
            f"pass a length in [{hop_length * (frames - 1)}, {hop_length * frames - 1}] or None",
        )
    magnitude = magnitude.float() if not magnitude.is_floating_point() else magnitude
    window = hann_window(win_length, magnitude.dtype, magnitude.device)
    if init == "random":  # drawn on the CPU, so a seeded CPU generator gives the same phase on every device
        angle = torch.rand(magnitude.shape, generator=generator, dtype=magnitude.dtype) * (2 * math.pi)
    else:
        angle = torch.zeros(magnitude.shape, dtype=magnitude.dtype)
    phase = torch.polar(torch.ones_like(angle), angle).to(magnitude.device)  # unit complex numbers

    def consistent(phase: Tensor) -> Tensor:  # P_C1(P_C2(·)): impose the magnitude, then stft(istft(·))
        wave = _istft(magnitude * phase, n_fft, hop_length, window, length, center=True)
        return _stft(wave, n_fft, hop_length, window, center=True)

    previous = None
    accelerated = magnitude * phase  # t_0
    for _ in range(n_iter):
        current = consistent(accelerated / accelerated.abs().clamp_min(1e-16))  # c_n
        accelerated = current if previous is None else current + momentum * (current - previous)  # t_n
        previous = current
    phase = accelerated / accelerated.abs().clamp_min(1e-16)
    return _istft(magnitude * phase, n_fft, hop_length, window, length, center=True)


def mel_to_magnitude(mel: Tensor, filterbank: Tensor, n_iter: int = 10) -> Tensor:
    """A non-negative linear-frequency magnitude ``S`` (..., n_fft // 2 + 1, frames) with ``filterbank @ S``
    close to ``mel`` (..., n_mels, frames): the approximate inverse of the mel projection.

    ``mel`` holds mel *values* (``exp`` of a log-mel spectrogram), with the same ``power`` as the wanted
    output. Starts from the pseudo-inverse solution clamped at zero, then takes ``n_iter`` projected-gradient
    steps on ``‖filterbank · S − mel‖²`` subject to ``S ≥ 0`` (step ``1 / σ_max²``, so the residual never grows).
    """
    if mel.shape[-2] != filterbank.shape[0]:
        raise BadInputError(
            f"mel has {mel.shape[-2]} bands but the filterbank {filterbank.shape[0]}",
            "pass the filterbank the mel spectrogram was made with (MelSpectrogram.filterbank)",
        )
    fb = filterbank.to(device=mel.device, dtype=torch.float64)
    target = mel.double()
    magnitude = torch.matmul(torch.linalg.pinv(fb), target).clamp_min(0.0)  # (F, M) @ (..., M, N)
    if n_iter > 0:
        step = 1.0 / float(torch.linalg.matrix_norm(fb, ord=2)) ** 2
        for _ in range(n_iter):
            gradient = torch.matmul(fb.T, torch.matmul(fb, magnitude) - target)
            magnitude = (magnitude - step * gradient).clamp_min(0.0)
    return magnitude.to(mel.dtype)
