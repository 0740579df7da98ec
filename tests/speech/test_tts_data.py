"""Text-to-speech building blocks that need no trained model: the data, the distances, the speak pipeline's checks."""

import math

import numpy as np
import pytest
import torch

from genlab.audio import espeak
from genlab.audio.io import write_audio
from genlab.audio.vocoder.frontend import MelFrontEnd
from genlab.core.errors import BadInputError, ConfigError
from genlab.speech import metrics
from genlab.speech.tts.base import AcousticConfig, length_mask, trim_batch
from genlab.speech.tts.data import TTSDataConfig, load_tts_data, trim_silence
from genlab.speech.tts.pipelines import SpeakPipeline, read_paragraphs

needs_espeak = pytest.mark.skipif(not espeak.available(), reason="espeakng-loader (the audio extra) is not installed")
RATE = 16000


def tone(seconds: float, hz: float = 200.0, level: float = 0.5) -> torch.Tensor:
    t = torch.arange(int(seconds * RATE)) / RATE
    return level * torch.sin(2 * math.pi * hz * t)


# ----------------------------------------------------------------------------- distances


def test_dtw_finds_the_cheapest_monotonic_path():
    cost = np.array([[0, 5, 5], [5, 0, 5], [5, 5, 0], [5, 5, 0.0]])
    i, j = metrics.dtw_path(cost)
    assert i.tolist() == [0, 1, 2, 3] and j.tolist() == [0, 1, 2, 2]
    rng = np.random.default_rng(0)
    cost = rng.random((5, 4))
    i, j = metrics.dtw_path(cost)
    assert (i[0], j[0], i[-1], j[-1]) == (0, 0, 4, 3) and np.all(np.diff(i) >= 0) and np.all(np.diff(j) >= 0)
    best = _brute_force(cost)
    assert cost[i, j].sum() == pytest.approx(best)


def _brute_force(cost: np.ndarray) -> float:
    n, m = cost.shape
    best = math.inf

    def walk(a, b, total):
        nonlocal best
        total += cost[a, b]
        if (a, b) == (n - 1, m - 1):
            best = min(best, total)
            return
        for da, db in ((1, 0), (0, 1), (1, 1)):
            if a + da < n and b + db < m:
                walk(a + da, b + db, total)

    walk(0, 0, 0.0)
    return best


def test_mel_cepstrum_is_the_dct_scaled_as_a_cepstrum():
    from scipy.fft import dct

    mel = torch.randn(20, 7)
    expected = dct(mel.numpy().astype(np.float64), type=2, axis=0)[1:6].T / (2 * 20)  # scipy's DCT-II is 2·Σ
    assert np.allclose(metrics.mel_cepstrum(mel, 5).numpy(), expected, atol=1e-9)
    with pytest.raises(BadInputError):
        metrics.mel_cepstrum(mel, 20)


def test_mcd_is_zero_for_the_same_speech_and_ignores_timing():
    front = MelFrontEnd(sample_rate=RATE)
    analysis = front.mel_spectrogram()
    speech = torch.cat([tone(0.3, 150), tone(0.3, 300), tone(0.3, 600)])
    slow = torch.cat([tone(0.5, 150), tone(0.3, 300), tone(0.6, 600)])
    mel, mel_slow = analysis(speech[None])[0], analysis(slow[None])[0]
    assert metrics.mel_cepstral_distortion(mel, mel) == pytest.approx(0.0, abs=1e-6)
    other = analysis(torch.cat([tone(0.3, 1000), tone(0.3, 2000), tone(0.3, 3000)])[None])[0]
    assert metrics.mel_cepstral_distortion(mel_slow, mel) < 0.5 * metrics.mel_cepstral_distortion(other, mel)


def test_f0_rmse_over_paired_voiced_frames():
    a, b = torch.tensor([0.0, 100, 110, 120]), torch.tensor([0.0, 100, 100, 0])
    idx = np.arange(4)
    rmse, vde = metrics.f0_rmse(a, b, idx, idx)
    assert rmse == pytest.approx(math.sqrt((0 + 100) / 2)) and vde == pytest.approx(0.25)


def test_f0_track_follows_a_tone():
    pytest.importorskip("pyworld")
    from genlab.audio.world import f0_track

    f0 = f0_track(tone(1.0, 220.0), RATE, 256)
    assert len(f0) == 1 + RATE // 256
    assert torch.median(f0[5:-5]).item() == pytest.approx(220.0, rel=0.02)


# ----------------------------------------------------------------------------- data


def test_trim_silence_keeps_the_margin():
    front = MelFrontEnd(sample_rate=RATE)
    wave = torch.cat([torch.zeros(RATE), tone(0.5), torch.zeros(RATE)])
    trimmed = trim_silence(wave, front, 40.0, 3)
    assert abs(len(trimmed) - (int(0.5 * RATE) + 6 * 256)) <= 2 * 256
    assert torch.equal(trim_silence(wave, front, 0.0, 3), wave)


def test_batches_are_trimmed_to_their_longest():
    ids = torch.tensor([[1, 5, 6, 2, 0, 0], [1, 5, 2, 0, 0, 0]])
    mels, f0 = torch.zeros(2, 4, 10), torch.zeros(2, 10)
    out = trim_batch((ids, torch.tensor([4, 3]), mels, torch.tensor([7, 5]), torch.tensor([0, 0]), f0))
    assert out[0].shape == (2, 4) and out[2].shape == (2, 4, 7) and out[5].shape == (2, 7)
    assert length_mask(torch.tensor([2, 3])).tolist() == [[True, True, False], [True, True, True]]


def test_config_checks_the_statistics():
    with pytest.raises(ConfigError, match="mel_mean"):
        AcousticConfig.build({"n_mels": 8, "mel_mean": [0.0, 1.0]}, where="test")
    c = AcousticConfig.build({"sample_rate": 16000}, where="test")
    assert (c.hop_length, c.n_fft, c.n_speakers) == (256, 1024, 1) and c.pad_value == pytest.approx(math.log(1e-5))


@pytest.fixture(scope="module")
def voice_folder(tmp_path_factory):
    """Four sentences of two 'speakers' in a folder with transcripts; one line missing, one WAV unreadable."""
    if not espeak.available():
        pytest.skip("espeakng-loader (the audio extra) is not installed")
    folder = tmp_path_factory.mktemp("voice")
    (folder / "wavs").mkdir()
    lines = []
    for k, sentence in enumerate(["Hello there.", "Good morning.", "It is 7 o'clock.", "See you soon."]):
        wave, rate = espeak.synthesize(sentence, "en-us+m3" if k % 2 else "en-us", 160, 50)
        name = f"{'a' if k % 2 else 'b'}_{k:03d}"
        write_audio(folder / "wavs" / f"{name}.wav", torch.cat([torch.zeros(4000), wave]), rate)
        lines.append(f"{name}|{sentence}|{sentence}")
    (folder / "wavs" / "c_999.wav").write_bytes(b"not a wav")
    lines.append("c_999|Broken.|Broken.")
    (folder / "wavs" / "d_000.wav").write_bytes((folder / "wavs" / "a_001.wav").read_bytes())  # no transcript line
    (folder / "metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@needs_espeak
def test_folder_gives_ids_mels_f0_and_speakers(voice_folder):
    cfg = TTSDataConfig.build({"source": str(voice_folder), "val_fraction": 0.0, "speakers": "prefix"}, where="data")
    train, val, info = load_tts_data(cfg, keep_waves=True)
    assert val is None and len(train) == 4 and info.speakers == ["a", "b"]
    assert len(info.skipped) == 2 and any("no transcript" in s for s in info.skipped)
    ids, n_ids, mel, n_frames, speaker, f0 = train[0]
    assert ids[0] == 1 and ids[n_ids - 1] == 2 and ids[n_ids:].eq(0).all()
    assert mel.shape == (80, train.max_frames) and mel[:, n_frames:].eq(math.log(1e-5)).all()
    assert f0.shape == (train.max_frames,) and len(info.mel_mean) == 80 and info.front_end["hop_length"] == 256
    assert len(train.waves) == 4 and abs(MelFrontEnd(sample_rate=RATE).frames(len(train.waves[0])) - n_frames) <= 1
    assert len(train.waves[0]) < 4000 + 16000  # the leading silence is trimmed
    chars = load_tts_data(TTSDataConfig.build({"source": str(voice_folder), "symbols": "character",
                                               "val_fraction": 0.0}, where="data"))[2]  # fmt: skip
    assert "h" in chars.symbols and chars.symbol_mode == "character"


# ----------------------------------------------------------------------------- speak


def test_speak_without_a_default_voice_says_how_to_train_one(tmp_path, monkeypatch):
    monkeypatch.setenv("GENLAB_RUNS_DIR", str(tmp_path))
    pipe = SpeakPipeline(None)
    with pytest.raises(BadInputError) as e:
        pipe("Hello there.")
    assert "genlab train tts" in e.value.hint and "voice-en" in e.value.hint
    with pytest.raises(BadInputError, match="nothing to speak"):
        pipe()
    for text in ("", "   ", "🙂🎉"):
        with pytest.raises(BadInputError):
            pipe(text)
    with pytest.raises(BadInputError, match="Cyrillic"):
        pipe("Привет")


def test_paragraphs_are_read_lazily(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("One line\nand its rest.\n\n\nSecond paragraph.\n", encoding="utf-8")
    assert list(read_paragraphs(path)) == ["One line and its rest.", "Second paragraph."]
    path.write_bytes(b"\xff\xfe bad")
    with pytest.raises(BadInputError, match="UTF-8"):
        list(read_paragraphs(path))
    with pytest.raises(BadInputError, match="no text file"):
        list(read_paragraphs(tmp_path / "missing.txt"))
