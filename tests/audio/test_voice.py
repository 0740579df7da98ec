"""WORLD voice conversion: pitch, formants, presets, fitted speakers, the voice verb with and without a run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("pyworld")
pytest.importorskip("soundfile")

import genlab  # noqa: E402
from genlab.audio import voice, world  # noqa: E402
from genlab.audio.io import read_audio, write_audio  # noqa: E402
from genlab.core.errors import BadInputError, UnknownNameError  # noqa: E402
from tests.cli_helpers import cli_ok  # noqa: E402
from tests.model_mixin import ModelTesterMixin  # noqa: E402

RATE = 16000


def vowel(f0: float, seconds: float = 0.6, rate: int = RATE) -> torch.Tensor:
    """A voiced, vowel-like sound: harmonics of ``f0`` shaped by two formant-like resonances."""
    t = torch.arange(int(rate * seconds)) / rate
    wave = torch.zeros_like(t)
    for k in range(1, int(3500 / f0)):
        f = k * f0
        gain = np.exp(-(((f - 700) / 300) ** 2)) + 0.5 * np.exp(-(((f - 1200) / 400) ** 2)) + 0.05
        wave += float(gain) * torch.sin(2 * np.pi * f * t) / k**0.5
    envelope = torch.clamp(torch.minimum(t, t.flip(0)) / 0.05, max=1.0)
    return 0.3 * wave / wave.abs().max() * envelope


def f0_of(wave: torch.Tensor, rate: int = RATE) -> float:
    return world.median_f0(world.analyze(wave, rate, "harvest"))


def test_analysis_finds_the_pitch_and_synthesis_keeps_the_length():
    x = vowel(150.0)
    features = world.analyze(x, RATE)
    assert abs(world.median_f0(features) - 150) < 5
    y = world.synthesize(features, length=len(x))
    assert y.shape == x.shape and torch.isfinite(y).all() and y.abs().max() <= 1


def test_pitch_shift_by_an_octave():
    out = world.convert(vowel(140.0), RATE, world.VoiceSettings(pitch=12.0))
    assert abs(f0_of(out) / 140 - 2.0) < 0.1


def test_envelope_warp():
    env = np.zeros((2, 101))
    env[:, 20] = 1.0
    assert np.array_equal(world.warp_envelope(env, 1.0), env)
    up = world.warp_envelope(env, 1.5)
    assert int(np.argmax(up[0])) == 30  # the peak at bin 20 moves to bin 30


def test_gender_presets_reach_the_target_and_leave_a_matching_voice_alone():
    x = vowel(120.0)
    to_female = world.convert(x, RATE, world.gender_settings("female"))
    assert abs(f0_of(to_female) - world.GENDER_F0["female"]) < 15
    settings = world.gender_settings("male")
    assert settings.formant_auto and settings.target_f0 == 120.0
    feats = world.analyze(x, RATE)
    same = world.transform(feats, settings)
    assert np.allclose(same.f0, feats.f0) and np.allclose(same.envelope, feats.envelope)


def test_blockwise_conversion_and_silence():
    x = torch.cat([vowel(150.0, 0.5), vowel(180.0, 0.5), vowel(160.0, 0.5)])
    out = world.convert(x, RATE, world.VoiceSettings(pitch=3.0), block_seconds=0.4, crossfade_seconds=0.05)
    assert out.shape == x.shape and torch.isfinite(out).all()
    silent = torch.zeros(RATE // 2)
    assert torch.equal(world.convert(silent, RATE, world.VoiceSettings(pitch=5.0)), silent)
    with pytest.raises(BadInputError, match="empty"):
        world.convert(torch.zeros(0), RATE, world.VoiceSettings())


@pytest.fixture(scope="module")
def speakers(tmp_path_factory):
    """Two 'speakers' of vowel-like takes: low at ~110 Hz, high at ~220 Hz (VCTK-style names SPEAKER_TAKE)."""
    folder = tmp_path_factory.mktemp("speakers")
    for take in range(3):
        write_audio(folder / f"low_{take:03d}.wav", vowel(105.0 + 5 * take), RATE)
        write_audio(folder / f"high_{take:03d}.wav", vowel(210.0 + 10 * take), RATE)
    return folder


@pytest.fixture(scope="module")
def fitted(speakers, tmp_path_factory):
    return genlab.train("voice-conversion", "world", str(speakers), "pair", runs_dir=tmp_path_factory.mktemp("runs"),
                        progress=False)  # fmt: skip


def test_fit_stores_each_speakers_log_f0(fitted):
    model = genlab.load(fitted.run.path).model
    assert model.config.speakers == ["high", "low"]
    medians = model.speaker_log_f0[:, 0].exp()
    assert abs(float(medians[0]) - 220) < 15 and abs(float(medians[1]) - 110) < 10
    assert (fitted.run.path / "samples" / "final.txt").read_text().startswith("speaker")


def test_to_speaker_moves_the_pitch(fitted, tmp_path):
    pipe = genlab.load(fitted.run.path)
    write_audio(tmp_path / "in.wav", vowel(110.0), RATE)
    out = pipe(tmp_path / "in.wav", to_speaker="high")
    assert out.sample_rate == RATE and abs(f0_of(out.wave) - 220) < 20
    with pytest.raises(UnknownNameError, match="speaker"):
        pipe(tmp_path / "in.wav", to_speaker="hihg")
    with pytest.raises(BadInputError, match="give one"):
        pipe(tmp_path / "in.wav", to_speaker="high", gender="male")


def test_voice_command_without_a_run(tmp_path, capsys):
    write_audio(tmp_path / "in.wav", vowel(150.0), RATE)
    code, text = cli_ok(["voice", str(tmp_path / "in.wav"), str(tmp_path / "out.wav"), "--pitch", "12"], capsys)
    assert code == 0, text
    out, rate = read_audio(tmp_path / "out.wav")
    assert rate == RATE and abs(f0_of(out) / 150 - 2) < 0.1
    code, text = cli_ok(["voice", str(tmp_path / "in.wav"), str(tmp_path / "o.wav"), "--to-speaker", "x"], capsys)
    assert code == 2 and "trained on recordings of speakers" in text
    code, text = cli_ok(["voice", str(tmp_path / "missing.wav"), str(tmp_path / "o.wav")], capsys)
    assert code == 2 and "no audio file" in text


def test_voice_command_with_a_run(fitted, tmp_path, capsys):
    write_audio(tmp_path / "in.wav", vowel(110.0), RATE)
    args = ["voice", str(tmp_path / "in.wav"), str(tmp_path / "o.flac"), "--to-speaker", "high"]
    code, text = cli_ok([*args, "--model", str(fitted.run.path)], capsys)
    assert code == 0, text
    assert read_audio(tmp_path / "o.flac")[1] == RATE


def test_long_recordings_are_refused_with_a_hint(tmp_path, monkeypatch):
    write_audio(tmp_path / "long.wav", vowel(150.0, 1.0), RATE)
    monkeypatch.setattr(voice, "MAX_SECONDS", 0.5)
    with pytest.raises(BadInputError, match="voice conversion takes up to") as e:
        voice.VoicePipeline.without_run()(tmp_path / "long.wav", pitch=2)
    assert "split it" in e.value.hint


class TestWorldContract(ModelTesterMixin):
    """The shared model suite for the closed-form WORLD model: its output is the fitted log-F0 table."""

    model_name = "audio/world"
    config = {"speakers": ["high", "low"], "f0_method": "dio"}
    validation_keys = None
    seeded_outputs = False

    def fit_data(self, model):
        from genlab.audio.loading import ClipDataset

        waves = [vowel(220.0), vowel(110.0), vowel(230.0)]
        return ClipDataset(waves, [0, 1, 0], len(waves[0])), None

    def batch(self, model):
        return self.fit_data(model)[0][0]

    def sample(self, model, seed):
        return model.speaker_log_f0.clone()

    def check_output(self, model, out):
        assert out.shape == (2, 2) and torch.isfinite(out).all()
        assert float(out[0, 0].exp()) > float(out[1, 0].exp())  # the high speaker's pitch is higher
