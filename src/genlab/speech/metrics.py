"""Distances between two renditions of the same sentence: dynamic time warping, mel-cepstral distortion, F0 RMSE.

Synthesised speech and its reference never have the same timing, so frames are first paired by **dynamic time
warping** (:func:`dtw_path`): the monotonic path from (0, 0) to (N−1, M−1), with steps (1, 0), (0, 1) and (1, 1),
that minimises the summed frame distance (Sakoe & Chiba 1978; symmetric steps, no window).

**Mel-cepstral distortion** (:func:`mel_cepstral_distortion`, Kubichek 1993) of paired frames with cepstra c, ĉ:

    MCD = (10 / ln 10) · sqrt(2 · Σ_{d=1..D} (c_d − ĉ_d)²)   dB, averaged over the DTW path,

c₀ (overall level) left out. genlab's cepstra are those of the natural-log mel amplitudes of its mel front end
(80 bands, D = 24 coefficients by default), read as an even sequence: ``ln M(n) = c₀ + 2 Σ_d c_d cos(πd(n + ½)/N)``,
so ``c_d = (1/N) Σ_n ln M(n) cos(πd(n + ½)/N)`` — the scale of the cepstrum of a log-amplitude spectrum, as
SPTK's. They are mel-frequency cepstra, not the mel-generalised cepstra of WORLD envelopes that some papers use:
values are comparable between genlab systems measured the same way, and of the same order as published MCDs, not
equal to them. The silent frames at the ends of each rendition (quieter than ``silence_db`` below its loudest frame)
are left out of the DTW.

**F0 RMSE** (:func:`f0_rmse`): the root mean square difference in Hz of the F0 tracks (WORLD DIO + StoneMask, one
value per mel frame) over the DTW-paired frames voiced in both; also the share of paired frames whose voicing
decisions differ (voicing decision error).

References:
    H. Sakoe and S. Chiba, "Dynamic programming algorithm optimization for spoken word recognition", IEEE Trans.
    ASSP 26(1), 1978.
    R. Kubichek, "Mel-cepstral distance measure for objective speech quality assessment", IEEE PACRIM 1993.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from genlab.core.errors import BadInputError

MCD_SCALE = 10.0 / math.log(10.0) * math.sqrt(2.0)


def dtw_path(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(i, j)`` of the minimum-cost monotonic path through the (N, M) cost matrix (module docstring)."""
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 2 or 0 in cost.shape:
        raise BadInputError(f"DTW needs a non-empty (N, M) cost matrix, got shape {cost.shape}")
    n, m = cost.shape
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    for i in range(1, n + 1):  # row by row; within a row, the (0, 1) step is a running minimum
        diag_up = np.minimum(acc[i - 1, :-1], acc[i - 1, 1:]) + cost[i - 1]
        row = acc[i]
        for j in range(1, m + 1):
            row[j] = min(diag_up[j - 1], row[j - 1] + cost[i - 1, j - 1])
    i, j, path = n, m, []
    while i > 0 and j > 0:
        path.append((i - 1, j - 1))
        step = np.argmin([acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1]])
        i, j = (i - 1, j - 1) if step == 0 else (i - 1, j) if step == 1 else (i, j - 1)
    idx = np.array(path[::-1])
    return idx[:, 0], idx[:, 1]


def mel_cepstrum(log_mel: torch.Tensor, n_coefficients: int = 24) -> torch.Tensor:
    """Cepstra (frames, n_coefficients) c₁…c_D of log-mels (n_mels, frames) (module docstring):
    ``c_d = (1/N) Σ_n log_mel[n] cos(πd(n + ½)/N)``, the DCT-II scaled as a cepstrum."""
    n = log_mel.shape[0]
    if not 1 <= n_coefficients < n:
        raise BadInputError(f"n_coefficients must be in 1..{n - 1} for {n} mel bands, got {n_coefficients}")
    k = torch.arange(n, dtype=torch.float64)
    d = torch.arange(1, n_coefficients + 1, dtype=torch.float64)
    basis = torch.cos(math.pi / n * (k[None, :] + 0.5) * d[:, None]) / n  # (coefficient, band)
    return (basis @ log_mel.double()).T


def _speech_frames(log_mel: torch.Tensor, silence_db: float) -> torch.Tensor:
    """Frames (bool) louder than ``silence_db`` below the loudest (level: log of the summed mel energy)."""
    level = torch.logsumexp(2 * log_mel.double(), dim=0) * (10 / math.log(10))  # dB of the summed squared mel
    return level > level.max() - silence_db


def aligned_frames(synth: torch.Tensor, ref: torch.Tensor, n_coefficients: int = 24, silence_db: float = 60.0):
    """``(cepstral distances along the DTW path, synth frame indices, ref frame indices)`` of two log-mels
    (n_mels, frames) of one front end, the silent frames at each end left out."""
    if synth.shape[0] != ref.shape[0]:
        raise BadInputError(f"the mels have {synth.shape[0]} and {ref.shape[0]} bands", "use one mel front end")
    keep = []
    for mel in (synth, ref):
        loud = torch.nonzero(_speech_frames(mel, silence_db)).flatten()
        keep.append(torch.arange(int(loud[0]), int(loud[-1]) + 1) if len(loud) else torch.arange(mel.shape[-1]))
    a, b = mel_cepstrum(synth[:, keep[0]], n_coefficients), mel_cepstrum(ref[:, keep[1]], n_coefficients)
    cost = torch.cdist(a, b).numpy()
    i, j = dtw_path(cost)
    return cost[i, j], keep[0][i].numpy(), keep[1][j].numpy()


def mel_cepstral_distortion(synth: torch.Tensor, ref: torch.Tensor, n_coefficients: int = 24) -> float:
    """MCD in dB between two log-mels (n_mels, frames) of the same front end, after DTW (module docstring)."""
    distances, _, _ = aligned_frames(synth, ref, n_coefficients)
    return float(MCD_SCALE * distances.mean())


def f0_rmse(synth_f0: torch.Tensor, ref_f0: torch.Tensor, synth_idx: np.ndarray, ref_idx: np.ndarray):
    """``(rmse_hz or None, voicing_error)`` of two F0 tracks (Hz, 0 unvoiced) over paired frame indices."""
    a, b = synth_f0.numpy()[synth_idx], ref_f0.numpy()[ref_idx]
    both = (a > 0) & (b > 0)
    rmse = float(np.sqrt(np.mean((a[both] - b[both]) ** 2))) if both.any() else None
    return rmse, float(np.mean((a > 0) != (b > 0))) if len(a) else 0.0
