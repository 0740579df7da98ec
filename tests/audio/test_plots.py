"""Spectrogram pictures and PNG sheets of audio."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from genlab.audio import plots
from genlab.core.errors import BadInputError


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def sine(freq=1000.0, rate=16000, seconds=0.5, amp=0.5):
    t = torch.arange(int(rate * seconds)) / rate
    return amp * torch.sin(2 * math.pi * freq * t)


def test_spectrogram_image_shape_dtype_and_orientation():
    image = plots.spectrogram_image(sine(1000.0), 16000, n_fft=512, hop_length=128, n_mels=80)
    assert image.shape == (80, 63, 3) and image.dtype == np.uint8
    # the tone's row is the brightest; it sits in the lower half (1 kHz is low on a 0-8 kHz mel axis)
    brightness = image[:, 10:-10].astype(float).sum(axis=(1, 2))
    row = int(brightness.argmax())
    assert image.shape[0] // 2 < row < image.shape[0]
    linear = plots.spectrogram_image(sine(1000.0), 16000, n_fft=512, hop_length=128, n_mels=None)
    assert linear.shape == (257, 63, 3)
    assert int(linear[:, 10:-10].astype(float).sum(axis=(1, 2)).argmax()) == 256 - 32  # bin 32 from the bottom


def test_spectrogram_image_of_silence_is_uniform():
    image = plots.spectrogram_image(torch.zeros(4000), 16000)
    assert image.shape == (80, 32, 3)
    assert (image == image[0, 0]).all()
    db = plots.spectrogram_db(sine(), 16000, top_db=60.0)
    assert float(db.max()) == 0.0 and float(db.min()) >= -60.0


def test_spectrogram_grid_png_opens(tmp_path):
    waves = [sine(440.0), sine(2000.0, seconds=0.25), torch.zeros(1000), torch.stack([sine(), sine()])]
    path = plots.save_spectrogram_grid(waves, 16000, tmp_path / "grid.png", titles=["a", "b", "c", "d"], ncols=3)
    assert path == tmp_path / "grid.png"
    with Image.open(path) as picture:
        picture.load()
        assert picture.format == "PNG" and picture.width > picture.height > 100
    assert [p.name for p in tmp_path.iterdir()] == ["grid.png"]  # no temporary file left behind
    linear = plots.save_spectrogram_grid([sine()], 16000, tmp_path / "sub" / "linear.png", n_mels=None)
    assert linear.is_file()


def test_waveform_plot_png_opens(tmp_path):
    path = plots.save_waveform_plot([sine(), 0.1 * sine()], 16000, tmp_path / "waves.png", titles=["x", "y"])
    with Image.open(path) as picture:
        assert picture.format == "PNG"


def test_bad_input(tmp_path):
    with pytest.raises(BadInputError, match="titles"):
        plots.save_spectrogram_grid([sine(), sine()], 16000, tmp_path / "g.png", titles=["only one"])
    with pytest.raises(BadInputError, match="titles"):
        plots.save_waveform_plot([sine()], 16000, tmp_path / "w.png", titles=["a", "b"])
    with pytest.raises(BadInputError, match="no waves"):
        plots.save_spectrogram_grid([], 16000, tmp_path / "g.png")
    with pytest.raises(BadInputError, match="shape"):
        plots.spectrogram_image(torch.zeros(2, 2, 100), 16000)
    assert not any(tmp_path.iterdir())
