"""Pictures of audio: spectrogram images for previews and logs, and PNG sheets of spectrograms or waveforms.

:func:`spectrogram_image` turns a wave into an RGB array (no figure, no axes): the power spectrogram
``|STFT|²``, projected onto ``n_mels`` mel bands (:func:`genlab.audio.features.mel_filterbank`) or kept on
linear frequency, in dB relative to its loudest bin, ``10 · log10(P / max P)``, clipped at ``−top_db``, mapped
through matplotlib's perceptually uniform 'magma' colormap, low frequencies at the bottom.

:func:`save_spectrogram_grid` and :func:`save_waveform_plot` draw figures with labelled axes (time in seconds,
frequency in Hz or amplitude) through matplotlib's object API (``matplotlib.figure.Figure`` on the Agg
canvas, never pyplot's global state, so no figure outlives a call), and write the PNG atomically.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from genlab.audio.features import hz_to_mel, mel_filterbank, stft
from genlab.core.errors import BadInputError
from genlab.core.io import atomic_write
from genlab.core.plots import use_font_fallback

#: powers below this (−100 dB re full scale²) count as silence
_POWER_FLOOR = 1e-10
#: Hz values offered as frequency ticks on mel axes (those up to the Nyquist frequency are used)
_HZ_TICKS = (0, 500, 1000, 2000, 4000, 8000, 16000)


def _mono(wave: Tensor) -> Tensor:
    wave = torch.as_tensor(wave).detach().cpu().float()
    if wave.dim() == 2:
        wave = wave.mean(0)  # (channels, samples) -> (samples,)
    if wave.dim() != 1 or wave.shape[0] == 0:
        raise BadInputError(
            f"cannot draw audio of shape {tuple(wave.shape)}", "pass a wave (samples,) or (channels, samples)"
        )
    return wave


def spectrogram_db(
    wave: Tensor,
    sample_rate: int,
    n_fft: int = 512,
    hop_length: int = 128,
    n_mels: int | None = 80,
    top_db: float = 80.0,
) -> np.ndarray:
    """The power spectrogram of ``wave`` in dB relative to its maximum, clipped to [−top_db, 0]: float32
    (n_mels or n_fft // 2 + 1, frames), row 0 the lowest frequency; a silent wave gives all −top_db."""
    wave = _mono(wave)
    power = stft(wave, n_fft, hop_length).abs().pow(2).double()  # (F, N)
    if n_mels is not None:
        power = mel_filterbank(sample_rate, n_fft, n_mels).double() @ power  # (n_mels, N)
    peak = float(power.max())
    if peak < _POWER_FLOOR:
        return np.full(tuple(power.shape), -top_db, dtype=np.float32)
    db = 10 * torch.log10(power.clamp_min(_POWER_FLOOR) / peak)
    return db.clamp_min(-top_db).float().numpy()


def spectrogram_image(
    wave: Tensor,
    sample_rate: int,
    n_fft: int = 512,
    hop_length: int = 128,
    n_mels: int | None = 80,
    top_db: float = 80.0,
) -> np.ndarray:
    """An RGB picture, uint8 (H, W, 3), of the (mel, or with ``n_mels=None`` linear) dB spectrogram of ``wave``
    (samples,): one row per band (low frequencies at the bottom), one column per frame, 'magma' colours from
    −``top_db`` dB (dark) to the loudest bin (bright). A silent wave gives a uniform dark image."""
    from matplotlib import colormaps

    db = spectrogram_db(wave, sample_rate, n_fft, hop_length, n_mels, top_db)
    level = (db + top_db) / top_db  # [-top_db, 0] dB -> [0, 1]
    rgba = colormaps["magma"](level[::-1])  # (H, W, 4) floats, low frequencies at the bottom
    return np.round(rgba[..., :3] * 255).astype(np.uint8)


def _figure(nrows: int, ncols: int, panel_size: tuple[float, float]):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    use_font_fallback()  # titles may be Mandarin sentences
    fig = Figure(figsize=(panel_size[0] * ncols, panel_size[1] * nrows), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def _save_png(fig, path: str | Path) -> Path:
    path = Path(path)
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    return path


def _check_titles(titles: list[str] | None, count: int) -> list[str]:
    if titles is None:
        return [""] * count
    if len(titles) != count:
        raise BadInputError(f"{len(titles)} titles for {count} waves", "pass one title per wave, or none")
    return list(titles)


def save_spectrogram_grid(
    waves: list[Tensor],
    sample_rate: int,
    path: str | Path,
    titles: list[str] | None = None,
    ncols: int = 4,
    *,
    n_fft: int = 512,
    hop_length: int = 128,
    n_mels: int | None = 80,
    top_db: float = 80.0,
) -> Path:
    """A PNG at ``path`` with one spectrogram panel per wave (``ncols`` per row), time in seconds and frequency
    in Hz on the axes (mel-spaced with ``n_mels``, linear with None), ``titles`` above the panels; returns
    ``path``. Each panel is in dB relative to its own loudest bin, down to −``top_db``."""
    if not waves:
        raise BadInputError("no waves to draw", "pass at least one wave")
    titles = _check_titles(titles, len(waves))
    ncols = max(1, min(ncols, len(waves)))
    nrows = math.ceil(len(waves) / ncols)
    fig, axes = _figure(nrows, ncols, (4.0, 2.8))
    nyquist = sample_rate / 2
    for i, ax in enumerate(axes.flat):
        if i >= len(waves):
            ax.set_axis_off()
            continue
        wave = _mono(waves[i])
        db = spectrogram_db(wave, sample_rate, n_fft, hop_length, n_mels, top_db)
        seconds = wave.shape[0] / sample_rate
        top = hz_to_mel(nyquist) if n_mels is not None else nyquist
        # row centres: mel bands at k · top / (n_mels + 1), k = 1..n_mels; FFT bins at k · top / (F - 1), k = 0..F-1
        step = top / (n_mels + 1) if n_mels is not None else top / (db.shape[0] - 1)
        low = 0.5 * step if n_mels is not None else -0.5 * step
        extent = (0.0, seconds, low, low + db.shape[0] * step)
        image = ax.imshow(db, origin="lower", aspect="auto", cmap="magma", vmin=-top_db, vmax=0.0, extent=extent)
        ax.set_ylim(0, top)
        if n_mels is not None:  # the y axis is in mels: put the ticks at round frequencies, labelled in Hz
            ticks = [hz for hz in _HZ_TICKS if hz <= nyquist]
            ax.set_yticks([hz_to_mel(float(hz)) for hz in ticks], [f"{hz:g}" for hz in ticks])
        ax.set_xlabel("time (s)")
        ax.set_ylabel("frequency (Hz)")
        ax.set_title(titles[i], fontsize=9)
    fig.colorbar(image, ax=axes, label="dB (re max)", shrink=0.8)
    return _save_png(fig, path)


def save_waveform_plot(
    waves: list[Tensor], sample_rate: int, path: str | Path, titles: list[str] | None = None, ncols: int = 1
) -> Path:
    """A PNG at ``path`` with one waveform panel per wave (amplitude against time in seconds, y from −1 to 1
    unless louder), ``titles`` above them; returns ``path``."""
    if not waves:
        raise BadInputError("no waves to draw", "pass at least one wave")
    titles = _check_titles(titles, len(waves))
    ncols = max(1, min(ncols, len(waves)))
    nrows = math.ceil(len(waves) / ncols)
    fig, axes = _figure(nrows, ncols, (8.0, 2.0))
    for i, ax in enumerate(axes.flat):
        if i >= len(waves):
            ax.set_axis_off()
            continue
        wave = _mono(waves[i]).numpy()
        ax.plot(np.arange(wave.shape[0]) / sample_rate, wave, lw=0.5, color="#3b0f70")
        limit = max(1.0, float(np.abs(wave).max()))
        ax.set_ylim(-limit, limit)
        ax.set_xlim(0, wave.shape[0] / sample_rate)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("amplitude")
        ax.set_title(titles[i], fontsize=9)
    return _save_png(fig, path)
