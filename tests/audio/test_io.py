"""Audio file I/O: round trips, conversions and the clear errors of bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

pytest.importorskip("soundfile")

from genlab.audio import io  # noqa: E402
from genlab.core.errors import BadInputError  # noqa: E402
from tests.audio.long_files import long_wav  # noqa: E402


def sine(freq=440.0, rate=8000, seconds=0.5, amp=0.5):
    t = torch.arange(int(rate * seconds)) / rate
    return amp * torch.sin(2 * math.pi * freq * t)


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_write_read_round_trip(tmp_path, suffix):
    wave = sine()
    path = io.write_audio(tmp_path / f"a{suffix}", wave, 8000)
    back, rate = io.read_audio(path)
    assert rate == 8000 and back.shape == wave.shape and back.dtype == torch.float32
    assert float((back - wave).abs().max()) < 1e-3  # 16-bit quantisation


def test_ogg_round_trip_is_close(tmp_path):
    wave = sine(rate=16000)
    back, rate = io.read_audio(io.write_audio(tmp_path / "a.ogg", wave, 16000))
    assert rate == 16000 and abs(back.shape[0] - wave.shape[0]) < 2000
    assert abs(io.rms_db(back) - io.rms_db(wave)) < 1.0


def test_stereo_is_mixed_to_mono_and_resampled(tmp_path):
    left, right = sine(440, 16000), sine(440, 16000, amp=0.25)
    io.write_audio(tmp_path / "s.wav", torch.stack([left, right]), 16000)
    assert io.audio_info(tmp_path / "s.wav").channels == 2
    mono, rate = io.read_audio(tmp_path / "s.wav", sample_rate=8000)
    assert rate == 8000 and mono.dim() == 1 and mono.shape[0] == 4000
    # a 440 Hz sine survives 16 kHz -> 8 kHz: the level is the mean of the channels' amplitudes (0.375)
    assert abs(float(mono[500:-500].abs().max()) - 0.375) < 0.01
    both, _ = io.read_audio(tmp_path / "s.wav", mono=False)
    assert both.shape == (2, 8000)


def test_resample_keeps_a_tone_and_the_length():
    x = sine(1000, 16000, seconds=1.0)
    y = io.resample(x, 16000, 22050)
    assert y.shape[0] == 22050
    spectrum = np.abs(np.fft.rfft(y.numpy()))
    assert abs(int(np.argmax(spectrum)) - 1000) <= 1  # 1 Hz bins for a 1 s signal


def test_bad_input_errors(tmp_path):
    with pytest.raises(BadInputError, match="no audio file"):
        io.read_audio(tmp_path / "missing.wav")
    (tmp_path / "text.wav").write_text("not audio")
    with pytest.raises(BadInputError, match="not an audio file") as e:
        io.read_audio(tmp_path / "text.wav")
    assert "WAV" in e.value.hint
    io.write_audio(tmp_path / "empty.wav", torch.zeros(0), 8000)
    with pytest.raises(BadInputError, match="holds no audio"):
        io.read_audio(tmp_path / "empty.wav")
    with pytest.raises(BadInputError, match="cannot write audio"):
        io.write_audio(tmp_path / "a.mp4", sine(), 8000)


def test_max_seconds_and_blocks(tmp_path):
    wave = sine(seconds=2.0)
    io.write_audio(tmp_path / "long.wav", wave, 8000)
    head, _ = io.read_audio(tmp_path / "long.wav", max_seconds=0.5)
    assert head.shape[0] == 4000
    blocks = list(io.iter_blocks(tmp_path / "long.wav", block_seconds=0.3))
    assert sum(b.shape[0] for b in blocks) == 16000 and blocks[0].shape[0] == 2400


def test_loudness_and_trimming():
    wave = sine(amp=1.0)
    assert abs(io.rms_db(wave) + 3.01) < 0.05
    quiet = io.normalize_rms(wave, -30.0)
    assert abs(io.rms_db(quiet) + 30.0) < 0.05
    assert abs(float(io.normalize_peak(wave * 0.1).abs().max()) - 0.95) < 1e-6
    with pytest.warns(UserWarning, match="silent"):
        assert torch.equal(io.normalize_rms(torch.zeros(100)), torch.zeros(100))
    padded = torch.cat([torch.zeros(4000), sine(), torch.zeros(4000)])
    trimmed = io.trim_silence(padded, 8000, pad_ms=0)
    assert abs(trimmed.shape[0] - 4000) <= 80
    assert io.is_silent(torch.zeros(10)) and not io.is_silent(wave)


def test_fit_length():
    x = torch.arange(10.0)
    assert io.fit_length(x, 6).tolist() == [2, 3, 4, 5, 6, 7]
    assert io.fit_length(x, 12).tolist()[:2] == [0, 0] and io.fit_length(x, 12).shape[0] == 12
    g = torch.Generator().manual_seed(0)
    assert io.fit_length(x, 4, random=True, generator=g).shape[0] == 4


def test_encode_audio_is_a_wav():
    data = io.encode_audio(sine(), 8000)
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"


def test_a_three_hour_file_is_read_from_its_header_and_in_blocks(tmp_path):
    path = long_wav(tmp_path / "three-hours.wav", 3, 8000, sine(seconds=1.0))
    info = io.audio_info(path)
    assert info.seconds == 3 * 3600 and info.sample_rate == 8000  # the header, not the samples
    head, _ = io.read_audio(path, max_seconds=2.0)
    assert head.shape == (16000,) and float(head[:8000].abs().max()) > 0.1 and float(head[8000:].abs().max()) == 0
    blocks = io.iter_blocks(path, block_seconds=10.0)
    assert [next(blocks).shape[0] for _ in range(3)] == [80000] * 3  # one block at a time, whatever the length
