"""Spectral features: STFT round trips, the mel scale and filterbank, mel spectrograms, MFCCs and Griffin-Lim."""

from __future__ import annotations

import math

import pytest
import torch

from genlab.audio import features as F
from genlab.core.errors import BadInputError


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def sine(freq=440.0, rate=16000, seconds=0.5, amp=0.5):
    t = torch.arange(int(rate * seconds)) / rate
    return amp * torch.sin(2 * math.pi * freq * t)


def chirp(rate=16000, seconds=1.0, f_start=200.0, f_end=3200.0):
    t = torch.arange(int(rate * seconds)) / rate
    return 0.5 * torch.sin(2 * math.pi * (f_start * t + (f_end - f_start) / (2 * seconds) * t**2))


# --------------------------------------------------------------------------- STFT


@pytest.mark.parametrize("win_length", [None, 400])
def test_stft_istft_round_trip(win_length):
    noise = torch.randn(3, 8001, generator=torch.Generator().manual_seed(0))  # not a multiple of the hop
    for wave in (noise, sine(seconds=0.3)):
        spec = F.stft(wave, 512, 128, win_length)
        assert spec.is_complex() and spec.shape == (*wave.shape[:-1], 257, 1 + wave.shape[-1] // 128)
        back = F.istft(spec, 512, 128, win_length, length=wave.shape[-1])
        assert back.shape == wave.shape
        assert float((back - wave).abs().max()) < 1e-5


def test_stft_of_a_tone_peaks_at_its_bin_and_batches_match_singles():
    wave = sine(1000, 16000, 0.5)  # 1000 Hz is bin 32 of a 512-point FFT at 16 kHz
    spec = F.stft(wave, 512, 128)
    assert int(spec.abs().mean(-1).argmax()) == 32
    batch = torch.stack([wave, 0.5 * wave])
    assert torch.allclose(F.stft(batch, 512, 128)[0], spec, atol=1e-6)
    window = F.hann_window(512)  # periodic: zero at sample 0, one at the middle, not zero at the last sample
    assert float(window[0]) == 0.0 and abs(float(window[256]) - 1.0) < 1e-7 and float(window[-1]) > 0.0


def test_stft_bad_input():
    with pytest.raises(BadInputError, match="invalid STFT sizes"):
        F.stft(torch.zeros(100), 512, 0)
    with pytest.raises(BadInputError, match="cannot be inverted"):
        F.istft(torch.zeros(257, 4, dtype=torch.complex64), 512, 512)
    with pytest.raises(BadInputError, match="complex"):
        F.istft(torch.zeros(257, 4), 512, 128)
    with pytest.raises(BadInputError, match="empty"):
        F.stft(torch.zeros(0), 512, 128)


# --------------------------------------------------------------------------- mel scale and filterbank


def test_mel_scales_fixed_points_and_round_trip():
    assert F.hz_to_mel(1000.0) == pytest.approx(15.0, abs=1e-9)  # Slaney: 1 kHz at 200/3 Hz per mel
    assert F.hz_to_mel(200.0) == pytest.approx(3.0, abs=1e-9)  # linear part
    assert F.hz_to_mel(6400.0) == pytest.approx(15.0 + 27.0, abs=1e-9)  # 27 mels per factor 6.4 above 1 kHz
    # HTK: 2595 log10(1 + 1000 / 700) = 999.986, i.e. 1000 to 1e-3 relative
    assert F.hz_to_mel(1000.0, htk=True) == pytest.approx(1000.0, rel=1e-3)
    assert F.hz_to_mel(700.0, htk=True) == pytest.approx(2595 * math.log10(2), abs=1e-9)
    hz = torch.tensor([0.0, 50.0, 999.0, 1000.0, 1001.0, 4000.0, 11025.0], dtype=torch.float64)
    for htk in (False, True):
        assert torch.allclose(F.mel_to_hz(F.hz_to_mel(hz, htk), htk), hz, atol=1e-6)
    assert isinstance(F.hz_to_mel(440.0), float)
    centres = F.mel_frequencies(5, 0.0, 8000.0)
    assert centres[0] == 0.0 and float(centres[-1]) == pytest.approx(8000.0)


def test_mel_filterbank_shape_non_negative_and_peaks_at_centres():
    rate, n_fft, n_mels = 16000, 1024, 40
    fb = F.mel_filterbank(rate, n_fft, n_mels)
    assert fb.shape == (n_mels, n_fft // 2 + 1) and fb.dtype == torch.float32
    assert float(fb.min()) >= 0.0 and bool((fb.amax(1) > 0).all())
    centres = F.mel_frequencies(n_mels + 2, 0.0, rate / 2)[1:-1]
    bin_hz = rate / n_fft
    peaks_hz = fb.argmax(1).double() * bin_hz
    assert float((peaks_hz - centres).abs().max()) <= bin_hz  # each filter peaks at the bin nearest its centre
    # Slaney norm: equal areas 2 / (f_hi - f_lo) * (f_hi - f_lo) / 2 = 1 in Hz, i.e. sum * bin_hz ≈ 1 for wide filters
    assert float((fb[-5:].sum(1) * bin_hz - 1.0).abs().max()) < 0.02
    unnormalised = F.mel_filterbank(rate, n_fft, n_mels, norm=None)
    assert float(unnormalised.amax(1).max()) <= 1.0 and float(unnormalised.amax(1)[-1]) > 0.9


def test_mel_filterbank_bad_input_and_empty_filters():
    with pytest.raises(BadInputError, match="invalid mel filterbank"):
        F.mel_filterbank(16000, 512, 40, f_max=9000.0)
    with pytest.raises(BadInputError, match="norm"):
        F.mel_filterbank(16000, 512, 40, norm="area")
    with pytest.warns(UserWarning, match="cover no FFT bin"):
        F.mel_filterbank(16000, 64, 128)


# --------------------------------------------------------------------------- mel spectrogram and MFCC


def test_mel_spectrogram_shapes_and_frames():
    mel = F.MelSpectrogram(16000, n_fft=512, hop_length=128, n_mels=40)
    single = mel(sine(seconds=0.25))
    assert single.shape == (40, mel.frames(4000)) == (40, 32)
    batch = mel(torch.stack([sine(seconds=0.25), sine(880, seconds=0.25)]))
    assert batch.shape == (2, 40, 32) and torch.allclose(batch[0], single, atol=1e-5)
    assert mel(torch.randn(2, 3, 1000)).shape == (2, 3, 40, mel.frames(1000))
    assert float(mel(torch.zeros(1000)).max()) == pytest.approx(math.log(1e-5))  # the floor
    assert set(mel.state_dict()) == set()  # window and filterbank are non-persistent buffers
    holder = torch.nn.Sequential(mel, torch.nn.Linear(3, 3))
    assert set(holder.state_dict()) == {"1.weight", "1.bias"}
    power = F.MelSpectrogram(16000, n_fft=512, hop_length=128, n_mels=40, log=False, power=2.0)
    expected = mel.filterbank @ F.stft(sine(seconds=0.25), 512, 128).abs().pow(2)
    assert torch.allclose(power(sine(seconds=0.25)), expected, rtol=1e-4, atol=1e-6)


def test_a_tone_lands_in_the_band_nearest_its_frequency():
    n_mels = 64
    mel = F.MelSpectrogram(16000, n_fft=1024, hop_length=256, n_mels=n_mels)
    energy = mel(sine(1000.0, seconds=0.5)).mean(-1)  # (n_mels,)
    centres = F.mel_frequencies(n_mels + 2, 0.0, 8000.0)[1:-1]
    assert int(energy.argmax()) == int((centres - 1000.0).abs().argmin())


def test_mfcc_of_a_constant_log_mel_has_only_coefficient_zero():
    log_mel = torch.full((2, 40, 7), -3.0)
    coeffs = F.mfcc(log_mel, n_mfcc=13)
    assert coeffs.shape == (2, 13, 7)
    assert torch.allclose(coeffs[:, 0], torch.full((2, 7), -3.0 * math.sqrt(40)), atol=1e-4)  # orthonormal
    assert float(coeffs[:, 1:].abs().max()) < 1e-4
    full = F.dct_matrix(40, 40, torch.float64)
    assert torch.allclose(full @ full.T, torch.eye(40, dtype=torch.float64), atol=1e-10)
    with pytest.raises(BadInputError, match="n_mfcc"):
        F.mfcc(log_mel, n_mfcc=41)


# --------------------------------------------------------------------------- inversion


@pytest.mark.parametrize("signal", [chirp, lambda: sine(440.0, seconds=1.0)])
def test_griffin_lim_recovers_a_consistent_phase(signal):
    wave = signal()
    target = F.stft(wave, 512, 128).abs()

    def convergence(n_iter, seed=0):
        rebuilt = F.griffin_lim(target, 512, 128, n_iter=n_iter, length=wave.shape[0], generator=seeded(seed))
        assert rebuilt.shape == wave.shape
        return F.spectral_convergence(F.stft(rebuilt, 512, 128), target), rebuilt

    def seeded(seed):
        return torch.Generator().manual_seed(seed)

    start, _ = convergence(0)  # the random-phase start
    after, first = convergence(32)
    assert start > 0.3 and after < 0.3 * start
    _, again = convergence(32)
    assert torch.equal(first, again)  # same seed, same wave
    _, other = convergence(32, seed=1)
    assert not torch.equal(first, other)


def test_griffin_lim_options_and_errors():
    wave = chirp(seconds=0.5)
    target = F.stft(wave, 512, 128).abs()
    zeros = F.griffin_lim(target, 512, 128, n_iter=16, init="zeros")
    assert zeros.shape == (128 * (target.shape[-1] - 1),)
    batch = F.griffin_lim(torch.stack([target, target]), 512, 128, n_iter=2, generator=torch.Generator())
    assert batch.shape == (2, zeros.shape[0])
    with pytest.raises(BadInputError, match="frames"):
        F.griffin_lim(target, 512, 128, length=100)
    with pytest.raises(BadInputError, match="magnitude"):
        F.griffin_lim(F.stft(wave, 512, 128), 512, 128)


def test_mel_to_magnitude_inverts_the_projection_approximately():
    mel = F.MelSpectrogram(16000, n_fft=512, hop_length=128, n_mels=64, log=False)
    magnitude = F.stft(chirp(seconds=0.5), 512, 128).abs()
    projected = mel.filterbank @ magnitude
    estimate = F.mel_to_magnitude(projected, mel.filterbank)
    assert estimate.shape == magnitude.shape and float(estimate.min()) >= 0.0
    residual = float((mel.filterbank @ estimate - projected).norm() / projected.norm())
    start = F.mel_to_magnitude(projected, mel.filterbank, n_iter=0)
    assert residual < 0.1 and residual <= float((mel.filterbank @ start - projected).norm() / projected.norm())
    with pytest.raises(BadInputError, match="bands"):
        F.mel_to_magnitude(projected[:10], mel.filterbank)


def test_spectral_convergence():
    spec = F.stft(chirp(seconds=0.25), 512, 128)
    assert F.spectral_convergence(spec, spec) == 0.0
    assert F.spectral_convergence(0.5 * spec.abs(), spec) == pytest.approx(0.5, abs=1e-6)
    with pytest.raises(BadInputError, match="shape"):
        F.spectral_convergence(spec[:, :-1], spec)
