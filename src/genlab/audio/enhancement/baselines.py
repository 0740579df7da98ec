"""Classical speech enhancement with no training: spectral subtraction and a decision-directed Wiener filter.

Both work on the STFT of one mono wave (periodic Hann window of ``win_ms``, hop ``hop_ms``), keep the noisy
phase, and need an estimate ``λ(k)`` of the noise power spectrum, taken (:func:`noise_psd`) as the mean power
``|X(k, t)|²`` over the quietest ``quietest`` share of the frames (by total frame energy: the pauses of speech),
or over the first ``noise_ms`` milliseconds when given (the classical assumption that a recording starts with
noise alone).

* :func:`spectral_subtraction` — power spectral subtraction with over-subtraction and a spectral floor:
  ``|Ŝ|² = |X|² − α·λ`` where that exceeds ``β·λ``, else ``β·λ`` (Boll 1979 subtracts the noise magnitude
  once; Berouti, Schwartz & Makhoul 1979 add the over-subtraction factor α > 1 and the floor β, which trade
  residual noise against "musical" noise). ``Ŝ = (|Ŝ| / |X|)·X``.
* :func:`wiener_filter` — the Wiener gain ``G = ξ / (1 + ξ)`` with the a-priori SNR ``ξ`` from the
  decision-directed estimate of Ephraim & Malah 1984, used with the Wiener gain by Scalart & Filho 1996:
  ``ξ(k, t) = a·|Ŝ(k, t−1)|² / λ(k) + (1 − a)·max(γ(k, t) − 1, 0)``, with the a-posteriori SNR
  ``γ = |X|² / λ``, ``a = 0.98`` and ``ξ`` floored at ``xi_min_db`` (−25 dB) against musical noise;
  ``Ŝ(k, t) = G(k, t)·X(k, t)``.

References:
    S. F. Boll, "Suppression of acoustic noise in speech using spectral subtraction", IEEE TASSP 27(2), 1979.
    M. Berouti, R. Schwartz and J. Makhoul, "Enhancement of speech corrupted by acoustic noise", ICASSP 1979.
    Y. Ephraim and D. Malah, "Speech enhancement using a minimum mean-square error short-time spectral
    amplitude estimator", IEEE TASSP 32(6), 1984.
    P. Scalart and J. V. Filho, "Speech enhancement based on a priori signal to noise estimation", ICASSP 1996.
"""

from __future__ import annotations

import math

import torch

from genlab.audio.features import istft, stft
from genlab.core.errors import BadInputError

TINY = 1e-12


def _frames(sample_rate: int, win_ms: float, hop_ms: float) -> tuple[int, int, int]:
    """(n_fft, hop_length, win_length) for a window and hop in ms (the FFT size is the next power of 2)."""
    win = max(2, int(round(sample_rate * win_ms / 1000)))
    return 1 << (win - 1).bit_length(), max(1, int(round(sample_rate * hop_ms / 1000))), win


def _check(wave: torch.Tensor, sample_rate: int) -> torch.Tensor:
    wave = torch.as_tensor(wave)
    if wave.dim() != 1 or wave.shape[0] == 0:
        raise BadInputError(f"the baselines enhance one mono wave (samples,), got shape {tuple(wave.shape)}",
                            "mix to mono first (wave.mean(0))")  # fmt: skip
    if sample_rate <= 0:
        raise BadInputError(f"sample_rate must be positive, got {sample_rate}")
    return wave.double()


def noise_psd(
    power: torch.Tensor, hop_length: int, sample_rate: int, quietest: float = 0.1, noise_ms: float | None = None
) -> torch.Tensor:
    """Noise power spectrum (F,) from a power spectrogram (F, T): the mean over the first ``noise_ms`` ms of
    frames when given, else over the ``quietest`` share of frames with the least energy (at least one)."""
    frames = power.shape[-1]
    if noise_ms is not None:
        count = min(frames, max(1, int(round(noise_ms / 1000 * sample_rate / hop_length))))
        chosen = torch.arange(count)
    else:
        if not 0 < quietest <= 1:
            raise BadInputError(f"quietest must be in (0, 1], got {quietest}", "e.g. 0.1: the quietest 10% of frames")
        count = max(1, int(math.ceil(quietest * frames)))
        chosen = torch.argsort(power.sum(0))[:count]
    return power[:, chosen].mean(-1).clamp_min(TINY)


def spectral_subtraction(
    wave: torch.Tensor,
    sample_rate: int,
    alpha: float = 2.0,
    beta: float = 0.01,
    quietest: float = 0.1,
    noise_ms: float | None = None,
    win_ms: float = 32.0,
    hop_ms: float = 8.0,
) -> torch.Tensor:
    """Power spectral subtraction (Boll 1979; α and β of Berouti et al. 1979) of a noisy mono wave (samples,);
    returns the enhanced wave, same length, float32. ``alpha`` ≥ 1 over-subtracts, ``beta`` ≥ 0 is the floor
    as a share of the noise power (module docstring)."""
    if alpha <= 0 or beta < 0:
        raise BadInputError(f"spectral subtraction needs alpha > 0 and beta >= 0, got {alpha} and {beta}")
    x = _check(wave, sample_rate)
    n_fft, hop, win = _frames(sample_rate, win_ms, hop_ms)
    spec = stft(x, n_fft, hop, win)
    power = spec.abs().pow(2)
    noise = noise_psd(power, hop, sample_rate, quietest, noise_ms)[:, None]
    cleaned = torch.maximum(power - alpha * noise, beta * noise)
    gain = (cleaned / power.clamp_min(TINY)).sqrt().clamp(max=1.0)
    return istft(gain * spec, n_fft, hop, win, length=x.shape[0]).float()


def wiener_filter(
    wave: torch.Tensor,
    sample_rate: int,
    smoothing: float = 0.98,
    xi_min_db: float = -25.0,
    quietest: float = 0.1,
    noise_ms: float | None = None,
    win_ms: float = 32.0,
    hop_ms: float = 8.0,
) -> torch.Tensor:
    """Wiener filtering with the decision-directed a-priori SNR (Ephraim & Malah 1984; Scalart & Filho 1996) of
    a noisy mono wave (samples,); returns the enhanced wave, same length, float32. ``smoothing`` is the
    decision-directed weight ``a`` in [0, 1), ``xi_min_db`` the floor of the a-priori SNR (module docstring)."""
    if not 0 <= smoothing < 1:
        raise BadInputError(f"smoothing must be in [0, 1), got {smoothing}", "0.98 is the usual value")
    x = _check(wave, sample_rate)
    n_fft, hop, win = _frames(sample_rate, win_ms, hop_ms)
    spec = stft(x, n_fft, hop, win)  # (F, T)
    power = spec.abs().pow(2)
    noise = noise_psd(power, hop, sample_rate, quietest, noise_ms)
    posteriori = power / noise[:, None]  # γ
    xi_min = 10 ** (xi_min_db / 10)
    gains = torch.empty_like(power)
    previous = torch.zeros_like(noise)  # |Ŝ(k, t−1)|² / λ(k)
    for t in range(power.shape[-1]):
        xi = smoothing * previous + (1 - smoothing) * (posteriori[:, t] - 1).clamp_min(0)
        xi = xi.clamp_min(xi_min)
        gains[:, t] = xi / (1 + xi)
        previous = gains[:, t].pow(2) * posteriori[:, t]
    return istft(gains * spec, n_fft, hop, win, length=x.shape[0]).float()


#: baseline name → function of (noisy wave, sample rate), scored beside the model by the evaluation
BASELINES = {"spectral_subtraction": spectral_subtraction, "wiener": wiener_filter}
