"""Rendering to audio (the built-in synthesiser; FluidSynth when installed) and piano-roll plots."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from genlab.core.errors import BadInputError
from genlab.music import render
from genlab.music.notes import Note, Piece
from genlab.music.plots import piano_roll


def test_builtin_synth_gives_mono_float32_audio_of_the_right_length(chorale_piece, monkeypatch):
    monkeypatch.setattr(render, "find_soundfont", lambda soundfont=None: None)  # force the built-in synthesiser
    audio = render.render(chorale_piece, sample_rate=8000)
    assert audio.dtype == np.float32 and audio.ndim == 1
    seconds = chorale_piece.length * 60 / chorale_piece.tempo
    assert abs(len(audio) / 8000 - (seconds + render.RELEASE_S)) < 0.01
    assert np.max(np.abs(audio)) == pytest.approx(render.PEAK, abs=1e-6)
    assert np.all(np.abs(audio) <= 1.0)


def test_builtin_synth_plays_the_right_pitch_at_the_right_time():
    piece = Piece([Note(69, 1, 1)], tempo=60)  # A4 (440 Hz) from second 1 to 2
    audio = render.synthesize(piece, 8000)
    assert np.max(np.abs(audio[:7900])) < 1e-6  # silence before the onset
    segment = audio[8000 + 400 : 8000 + 4400]
    spectrum = np.abs(np.fft.rfft(segment * np.hanning(len(segment))))
    peak_hz = np.argmax(spectrum) * 8000 / len(segment)
    assert abs(peak_hz - 440) < 4


def test_write_wav_round_trip(tmp_path):
    audio = np.sin(np.linspace(0, 100, 4000)).astype(np.float32) * 0.5
    path = render.write_wav(audio, 8000, tmp_path / "out" / "a.wav")
    back = render.read_wav(path)
    assert back.shape == audio.shape and np.max(np.abs(back - audio)) < 1e-4


def test_render_errors(tmp_path):
    with pytest.raises(BadInputError, match="no notes"):
        render.render(Piece([]))
    with pytest.raises(BadInputError, match="sample rate"):
        render.render(Piece([Note(60, 0, 1)]), sample_rate=100)
    with pytest.raises(BadInputError, match="SoundFont"):
        render.render(Piece([Note(60, 0, 1)]), soundfont=tmp_path / "missing.sf2")


@pytest.mark.skipif(not render.fluidsynth_available(), reason="fluidsynth and a General MIDI SoundFont not installed")
def test_fluidsynth_renders_when_installed(chorale_piece):
    assert shutil.which("fluidsynth")
    audio = render.render(chorale_piece, sample_rate=22050)
    assert audio.dtype == np.float32 and np.max(np.abs(audio)) > 0.1
    assert len(audio) > 0.9 * chorale_piece.seconds * 22050


def test_piano_roll_is_a_png(tmp_path, chorale_piece):
    path = piano_roll(chorale_piece, tmp_path / "roll.png", title="four voices")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
    with pytest.raises(BadInputError, match="no notes"):
        piano_roll(Piece([]), tmp_path / "empty.png")
