"""Signal metrics on known signals: SNR, SI-SDR, LSD, noisy mixtures, PESQ and STOI."""

from __future__ import annotations

import math

import pytest
import torch

from genlab.audio import signal_metrics as M
from genlab.core.errors import BadInputError


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def speech_like(rate: int = 16000, seconds: float = 3.0) -> torch.Tensor:
    """A stand-in for speech: a harmonic complex on a gliding 120 Hz pitch, shaped by a vowel's formants
    (700, 1200, 2600 Hz), opened and closed at a 4 Hz syllable rate, with a pause each second."""
    t = torch.arange(int(rate * seconds), dtype=torch.float64) / rate
    f0 = 120 + 15 * torch.sin(2 * math.pi * 0.5 * t)
    phase = 2 * math.pi * torch.cumsum(f0, 0) / rate
    wave = torch.zeros_like(t)
    for k in range(1, 27):  # harmonics up to about 4 kHz
        envelope = sum(
            gain * torch.exp(-0.5 * ((k * f0 - centre) / width) ** 2)
            for centre, width, gain in ((700, 130, 1.0), (1200, 150, 0.6), (2600, 200, 0.3))
        )
        wave += (envelope + 0.02) * torch.sin(k * phase)
    syllables = (0.5 - 0.5 * torch.cos(2 * math.pi * 4 * t)) ** 2
    pauses = ((t % 1.0) < 0.8).double()
    wave = wave * syllables * pauses
    return (0.3 * wave / wave.abs().max()).float()


def white(samples: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(samples, generator=torch.Generator().manual_seed(seed))


def noisy_copy(reference: torch.Tensor, snr: float, seed: int = 1) -> torch.Tensor:
    """reference + white noise at exactly ``snr`` dB (power ratio over the whole wave)."""
    noise = white(reference.shape[0], seed).double()
    noise *= reference.double().pow(2).mean().sqrt() / noise.pow(2).mean().sqrt() * 10 ** (-snr / 20)
    return (reference.double() + noise).float()


@pytest.fixture(scope="module")
def speech():
    return speech_like()


# --------------------------------------------------------------------------- SNR, SI-SDR, LSD


def test_scaled_copy_has_a_capped_huge_si_sdr():
    reference = white(16000)
    assert M.si_sdr(0.3 * reference, reference) >= 60
    assert M.si_sdr(reference, reference) == M.MAX_DB
    assert M.snr_db(reference, reference) == M.MAX_DB
    assert M.snr_db(0.5 * reference, reference) == pytest.approx(20 * math.log10(2), abs=1e-4)  # not scale-free
    assert M.si_sdr(-reference, reference) >= 60  # a negative scale too


@pytest.mark.parametrize("snr", [0.0, 10.0, 20.0])
def test_reference_plus_white_noise_scores_its_snr(snr):
    reference = white(32000, seed=2)
    estimate = noisy_copy(reference, snr)
    assert M.snr_db(estimate, reference) == pytest.approx(snr, abs=1e-3)
    # SI-SDR matches up to the chance correlation of the noise with the reference (~1/sqrt(32000))
    assert M.si_sdr(estimate, reference) == pytest.approx(snr, abs=0.3)


def test_si_sdr_zero_mean_and_batch():
    reference = white(8000, seed=3)
    offset = reference + 0.5  # a DC offset is removed by zero_mean
    assert M.si_sdr(offset, reference) >= 60
    assert M.si_sdr(offset, reference, zero_mean=False) < 10
    batch = torch.stack([noisy_copy(reference, 5.0), noisy_copy(reference, 15.0)])
    scores = M.si_sdr_batch(batch.double(), reference.double().expand(2, -1))
    assert scores.shape == (2,)
    assert float(scores[0]) == pytest.approx(M.si_sdr(batch[0], reference), abs=1e-6)
    assert float(scores[1]) == pytest.approx(15.0, abs=0.3)
    estimate = noisy_copy(reference, 5.0).requires_grad_()
    M.si_sdr_batch(estimate, reference).backward()  # usable as a loss
    assert estimate.grad is not None and bool(torch.isfinite(estimate.grad).all())


def test_mismatched_or_bad_inputs_raise():
    with pytest.raises(BadInputError, match="samples but the reference"):
        M.si_sdr(white(100), white(101))
    with pytest.raises(BadInputError, match="samples but the reference"):
        M.snr_db(white(100), white(99))
    with pytest.raises(BadInputError, match="mono"):
        M.si_sdr(white(100).reshape(2, 50), white(100).reshape(2, 50))
    with pytest.raises(BadInputError, match="silent"):
        M.snr_db(white(100), torch.zeros(100))
    with pytest.raises(BadInputError, match="shapes"):
        M.si_sdr_batch(torch.zeros(2, 10), torch.zeros(2, 11))


def test_log_spectral_distance():
    reference = white(16000, seed=4)
    assert M.log_spectral_distance(reference, reference) == 0.0
    assert M.log_spectral_distance(0.1 * reference, reference) == pytest.approx(20.0, abs=1e-3)  # -20 dB everywhere
    slight, heavy = noisy_copy(reference, 30.0), noisy_copy(reference, 0.0)
    assert 0 < M.log_spectral_distance(slight, reference) < M.log_spectral_distance(heavy, reference)
    with pytest.raises(BadInputError):
        M.log_spectral_distance(reference[:-1], reference)


# --------------------------------------------------------------------------- mixtures


@pytest.mark.parametrize("noise_seconds", [0.4, 1.0, 2.5])  # shorter (tiled), equal, longer (cropped)
@pytest.mark.parametrize("snr", [-5.0, 0.0, 12.5])
def test_mix_at_snr_hits_the_asked_snr(noise_seconds, snr):
    speech = speech_like(seconds=1.0)
    noise = 0.05 * white(int(16000 * noise_seconds), seed=5)
    mixture = M.mix_at_snr(speech, noise, snr, generator=torch.Generator().manual_seed(0))
    assert mixture.shape == speech.shape and mixture.dtype == speech.dtype
    assert M.snr_db(mixture, speech) == pytest.approx(snr, abs=0.01)


def test_mix_at_snr_offset_follows_the_generator():
    speech, noise = speech_like(seconds=0.5), white(40000, seed=6)
    first = M.mix_at_snr(speech, noise, 5.0, generator=torch.Generator().manual_seed(1))
    again = M.mix_at_snr(speech, noise, 5.0, generator=torch.Generator().manual_seed(1))
    other = M.mix_at_snr(speech, noise, 5.0, generator=torch.Generator().manual_seed(2))
    assert torch.equal(first, again) and not torch.equal(first, other)
    with pytest.raises(BadInputError, match="silent"):
        M.mix_at_snr(speech, torch.zeros(100), 5.0)


# --------------------------------------------------------------------------- PESQ and STOI


def test_pesq_of_clean_speech_is_high_and_drops_with_noise(speech):
    pytest.importorskip("pesq", reason="PESQ needs the pesq package (genlab[audio])")
    clean = M.pesq_score(speech, speech, 16000)
    noisy = M.pesq_score(noisy_copy(speech, 0.0), speech, 16000)
    assert clean > 4.0 and noisy < clean - 1.5
    narrow = M.pesq_score(speech, speech, 16000, mode="nb")  # resampled to 8 kHz
    assert narrow > 4.0
    assert M.pesq_score(speech, speech, 22050) > 4.0  # another rate is resampled to 16 kHz


def test_pesq_errors(speech):
    pytest.importorskip("pesq", reason="PESQ needs the pesq package (genlab[audio])")
    with pytest.raises(BadInputError, match="too short"):
        M.pesq_score(speech[:2000], speech[:2000], 16000)
    with pytest.raises(BadInputError, match="mode"):
        M.pesq_score(speech, speech, 16000, mode="fb")
    with pytest.raises(BadInputError, match="samples but the reference"):
        M.pesq_score(speech[:-1], speech, 16000)


def test_stoi_of_clean_speech_is_one_and_drops_with_noise(speech):
    pytest.importorskip("pystoi", reason="STOI needs the pystoi package (genlab[audio])")
    assert M.stoi_score(speech, speech, 16000) == pytest.approx(1.0, abs=1e-6)
    scores = [M.stoi_score(noisy_copy(speech, snr), speech, 16000) for snr in (20.0, 0.0, -10.0)]
    assert scores[0] > scores[1] > scores[2]
    assert M.stoi_score(noisy_copy(speech, 0.0), speech, 16000, extended=True) < 0.9
    with pytest.raises(BadInputError, match="too little"):
        M.stoi_score(speech[:3000], speech[:3000], 16000)
