"""Speech enhancement: mixtures and noises, the U-Net mask model, exact chunked inference, the classical
baselines, the denoise-audio pipeline and the evaluation, on tiny synthetic "speech" (harmonic tones with
syllable envelopes) so every test runs in seconds."""

from __future__ import annotations

import math
import warnings
from typing import ClassVar

import numpy as np
import pytest
import torch

pytest.importorskip("soundfile")
pytest.importorskip("scipy")

import genlab  # noqa: E402
from genlab.audio import io  # noqa: E402
from genlab.audio.enhancement import evaluation, pipelines  # noqa: E402
from genlab.audio.enhancement.baselines import noise_psd, spectral_subtraction, wiener_filter  # noqa: E402
from genlab.audio.enhancement.data import (  # noqa: E402
    EnhancementDataConfig,
    Speech,
    describe,
    load_enhancement_data,
    make_mixture,
    speaker_of,
    split_speech,
)
from genlab.audio.enhancement.noise import NoiseSet, babble, load_noise_folder, pink_noise  # noqa: E402
from genlab.audio.enhancement.streaming import enhance_stream  # noqa: E402
from genlab.audio.enhancement.unet import TASK, UNetMask, UNetMaskConfig, reflect_delay  # noqa: E402
from genlab.audio.signal_metrics import si_sdr, snr_db  # noqa: E402
from genlab.audio.streaming import StreamResampler  # noqa: E402
from genlab.core.errors import BadInputError, ConfigError, DataError  # noqa: E402
from genlab.core.evaluation import EvalContext, run_metrics, task_metrics  # noqa: E402
from genlab.core.registry import PIPELINES, TASKS  # noqa: E402
from tests.audio.long_files import long_wav  # noqa: E402
from tests.cli_helpers import cli_ok  # noqa: E402
from tests.model_mixin import ModelTesterMixin  # noqa: E402

RATE = 8000
TINY = {"sample_rate": RATE, "base_channels": 4, "levels": 2, "max_channels": 8}


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def utterance(f0: float, seconds: float, seed: int, rate: int = RATE) -> torch.Tensor:
    """Synthetic "speech": 8 harmonics of a gliding f0 under syllable-like Hann bumps with pauses, peak 0.5."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * rate), dtype=torch.float64) / rate
    f = f0 * (1 + 0.05 * torch.sin(2 * math.pi * 3 * t))
    phase = 2 * math.pi * torch.cumsum(f, 0) / rate
    voiced = sum(torch.sin(h * phase) / h for h in range(1, 9))
    envelope = torch.zeros_like(t)
    start = 0.05
    while start < seconds - 0.2:
        length = 0.12 + 0.1 * float(torch.rand(1, generator=g))
        inside = (t >= start) & (t < start + length)
        envelope[inside] = torch.sin(math.pi * (t[inside] - start) / length) ** 2
        start += length + 0.05 + 0.1 * float(torch.rand(1, generator=g))
    wave = voiced * envelope
    return (0.5 * wave / wave.abs().max()).float()


def speech_set(speakers: int = 3, per: int = 3, seconds: float = 1.0) -> Speech:
    waves, ids, who = [], [], []
    for s in range(speakers):
        for k in range(per):
            waves.append(utterance(110 + 60 * s + 7 * k, seconds, 10 * s + k))
            ids.append(f"s{s}_{k:03d}")
            who.append(f"s{s}")
    return Speech(waves, ids, who, "synthetic", RATE)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """A folder of synthetic speech (3 speakers × 3 files, VCTK-style names) and a noise folder with test.txt."""
    root = tmp_path_factory.mktemp("enhancement")
    speech, noise = root / "speech", root / "noise"
    speech.mkdir()
    noise.mkdir()
    for wave, name in zip(speech_set(seconds=1.5).waves, speech_set().ids, strict=True):
        io.write_audio(speech / f"{name}.wav", wave, RATE)
    g = torch.Generator().manual_seed(1)
    for name, cutoff in (("hum", 0.02), ("hiss", 0.5), ("rumble", 0.05)):
        white = torch.randn(RATE * 2, generator=g)
        width = 2 * int(0.5 / cutoff) + 1  # odd: a centred moving average
        kernel = torch.ones(width) / width
        coloured = torch.nn.functional.conv1d(white[None, None], kernel[None, None], padding="same")[0, 0]
        io.write_audio(noise / f"{name}.wav", 0.1 * coloured / coloured.abs().max(), RATE)
    (noise / "test.txt").write_text("rumble\n")
    return speech, noise


@pytest.fixture(scope="module")
def trained(folders, tmp_path_factory):
    speech, noise = folders
    return genlab.train(
        TASK, "unet-mask", str(speech), "tiny", max_steps=2, batch_size=4, threads=1, progress=False,
        sample_every=0, val_batches=1, log_every=1, runs_dir=tmp_path_factory.mktemp("runs"),
        data_options={"sample_rate": RATE, "segment_seconds": 0.5, "segments_per_epoch": 8, "val_mixtures": 4,
                      "val_fraction": 0.34, "noise": ["white", "babble", str(noise)]},
        model_options={"base_channels": 4, "levels": 2, "max_channels": 8},
    )  # fmt: skip


def randomised(config: dict | None = None, scale: float = 0.3) -> UNetMask:
    """A model whose weights and input statistics are random (so the mask varies over time and frequency)."""
    torch.manual_seed(0)
    model = UNetMask(UNetMaskConfig(**(config or TINY)))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn_like(p))
        model.net.input_norm.running_mean.normal_(-4, 1)
    return model.eval()


# --------------------------------------------------------------------------- the shared model suite


class TestUNetMask(ModelTesterMixin):
    model_name = "audio/unet-mask"
    config: ClassVar[dict] = TINY
    validation_keys: ClassVar[set[str] | None] = {"loss", "si_sdr", "si_sdr_improvement"}

    def _pair(self, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(seed)
        clean = torch.stack([utterance(120 + 40 * i + seed, 0.3, seed + i) for i in range(n)])
        return clean + 0.1 * torch.randn(clean.shape, generator=g), clean

    def batch(self, model):
        return self._pair(4, 123)

    def sample(self, model, seed):
        return model.enhance(self._pair(2, seed)[0])

    def check_output(self, model, out):
        assert out.shape == (2, int(0.3 * RATE)) and out.dtype == torch.float32 and bool(torch.isfinite(out).all())

    def test_validation_losses_are_finite(self):
        model = self.build()
        values = model.validation_losses(self.batch(model))
        assert set(values) == self.validation_keys and all(math.isfinite(float(v)) for v in values.values())


def test_mask_is_bounded_and_geometry_is_recorded():
    model = randomised(scale=3.0)
    spec = model.spectrum(torch.randn(2, RATE) * 5)
    with torch.no_grad():
        mask = model.mask(spec)
    assert mask.shape == spec.shape and float(mask.min()) >= 0 and float(mask.max()) <= 1
    assert float(mask.max()) > 0.99 and float(mask.min()) < 0.01  # the sigmoid saturates both ways
    boosted = randomised({**TINY, "max_gain": 2.0}, scale=3.0)
    with torch.no_grad():
        assert float(boosted.mask(spec).max()) <= 2.0
    cfg = UNetMaskConfig()
    assert (cfg.n_fft, cfg.hop_length, cfg.win_length) == (512, 128, 512)  # 32 ms / 8 ms at 16 kHz
    assert UNetMask(cfg).receptive_frames == 72 and UNetMask(cfg).frame_multiple == 8
    with pytest.raises(BadInputError, match="enhances waves"):
        model(torch.randn(3, 2, 100))


def test_complex_mask_is_bounded_turns_phase_and_starts_near_the_magnitude_mask():
    spec = UNetMask(UNetMaskConfig(**TINY)).spectrum(torch.randn(2, RATE) * 0.1)
    plain, cplx = UNetMask(UNetMaskConfig(**TINY)), UNetMask(UNetMaskConfig(**TINY, mask="complex"))
    with torch.no_grad():
        start = cplx.eval().mask(spec)
        assert start.is_complex() and torch.allclose(start.real, plain.eval().mask(spec), atol=1e-3)
        assert float(start.imag.abs().max()) < 1e-6  # a zero-initialised output layer: no phase turn yet
    model = randomised({**TINY, "mask": "complex", "max_gain": 2.0}, scale=3.0)
    with torch.no_grad():
        mask = model.mask(spec)
    assert mask.shape == spec.shape and float(mask.abs().max()) <= 2.0 + 1e-6
    assert float(mask.angle().abs().max()) > 1.0  # the phase of some bins is turned
    assert model.receptive_frames == randomised(TINY).receptive_frames
    wave = utterance(150, 0.5, 0)[None]
    estimate = model(wave)
    assert estimate.shape == wave.shape and bool(torch.isfinite(estimate).all())
    noisy, clean = wave + 0.1 * torch.randn(wave.shape, generator=torch.Generator().manual_seed(0)), wave
    model.train()
    model.training_losses((noisy.repeat(2, 1), clean.repeat(2, 1)))["loss"].backward()
    assert all(p.grad is not None and bool(torch.isfinite(p.grad).all()) for p in model.parameters())


def test_chunked_complex_enhancement_equals_whole_file_enhancement():
    model = randomised({**TINY, "mask": "complex"}, scale=1.0)
    wave = utterance(150, 2.0, 0) + 0.05 * torch.randn(2 * RATE, generator=torch.Generator().manual_seed(0))
    whole = model.enhance(wave)
    chunked = torch.cat(list(enhance_stream(model, torch.split(wave, 1001), chunk_frames=20)))
    assert chunked.shape == whole.shape and float((chunked - whole).abs().max()) <= 1e-5


def test_extra_speech_joins_the_training_side_only(folders, tmp_path):
    speech, noise = folders
    extra = tmp_path / "extra"
    extra.mkdir()
    for k in range(2):
        io.write_audio(extra / f"LJ001-{k:04d}.wav", utterance(200 + 30 * k, 1.0, 50 + k), RATE)
    options = {"source": str(speech), "sample_rate": RATE, "val_fraction": 0.34, "val_mixtures": 2,
               "noise": ["white", "babble"]}  # fmt: skip
    train0, val0, info0 = load_enhancement_data(EnhancementDataConfig.build(options))
    cfg = EnhancementDataConfig.build({**options, "extra_speech": str(extra)})
    assert cfg.extra_speech == [str(extra)]
    train, val, info = load_enhancement_data(cfg)
    assert info.n_extra == 2 and info.n_train == info0.n_train + 2 and info.val_files == info0.val_files
    assert len(train.speech) == len(train0.speech) + 2 and str(extra) in train.speech.ids[-1]
    assert not any(str(extra) in f for f in info.val_files) and info.seconds > info0.seconds
    with pytest.raises(DataError, match="no folder or dataset"):
        load_enhancement_data(EnhancementDataConfig.build({**options, "extra_speech": [str(tmp_path / "none")]}))


def test_speed_perturbed_copies_join_the_training_side_as_faster_and_slower_voices(folders):
    speech, _ = folders
    options = {"source": str(speech), "sample_rate": RATE, "val_fraction": 0.34, "val_mixtures": 2,
               "noise": ["white", "babble"]}  # fmt: skip
    train0, _, info0 = load_enhancement_data(EnhancementDataConfig.build(options))
    train, _, info = load_enhancement_data(EnhancementDataConfig.build({**options, "speed_perturb": [0.9, 1.1]}))
    n = len(train0.speech)
    assert info.n_perturbed == 2 * n and len(train.speech) == 3 * n and info.val_files == info0.val_files
    assert "speed-perturbed" in describe(info)
    original, slower, faster = train.speech.waves[0], train.speech.waves[n], train.speech.waves[2 * n]
    assert slower.shape[0] == pytest.approx(original.shape[0] / 0.9, abs=2)
    assert faster.shape[0] == pytest.approx(original.shape[0] / 1.1, abs=2)
    assert train.speech.speakers[n] == train.speech.speakers[0]  # babble still leaves the target's voice out

    def pitch(wave: torch.Tensor) -> float:  # the strongest spectral peak
        spectrum = torch.fft.rfft(wave.double() * torch.hann_window(wave.shape[0], dtype=torch.float64)).abs()
        return float(spectrum.argmax()) * RATE / wave.shape[0]

    assert pitch(faster) / pitch(original) == pytest.approx(1.1, rel=0.05)
    assert pitch(slower) / pitch(original) == pytest.approx(0.9, rel=0.05)
    for bad in ([1.0], [3.0]):
        with pytest.raises(ConfigError, match="speed_perturb"):
            EnhancementDataConfig.build({**options, "speed_perturb": bad})


def test_receptive_field_bounds_what_a_frame_sees():
    model = randomised({"sample_rate": 16000, "base_channels": 4, "levels": 4, "max_channels": 8})
    spec = model.spectrum(torch.randn(1, 128 * 240) * 0.1)
    base = model.mask(spec)
    r = model.receptive_frames
    for t0 in (100, 101, 103):  # every alignment with the pooling grid
        changed = spec.clone()
        changed[..., t0] *= 10
        moved = torch.nonzero((model.mask(changed) - base).abs().amax(1)[0] > 0).flatten()
        assert moved.numel() and int(moved.min()) >= t0 - r and int(moved.max()) <= t0 + r


def test_chunked_enhancement_equals_whole_file_enhancement():
    model = randomised(scale=1.0)
    wave = (
        utterance(150, 3.0, 0)
        + 0.05 * torch.randn(3 * RATE + 77, generator=torch.Generator().manual_seed(0))[: 3 * RATE]
    )
    whole = model.enhance(wave)
    with torch.no_grad():
        assert float(model.mask(model.spectrum(wave[None])).std()) > 0.05  # a mask that varies: the test can fail
    blocks = torch.split(wave, 1001)  # blocks that do not line up with anything
    chunked = torch.cat(list(enhance_stream(model, blocks, chunk_frames=20)))
    assert chunked.shape == whole.shape and float((chunked - whole).abs().max()) <= 1e-5
    short = torch.randn(100)  # shorter than a frame hop: one piece
    assert torch.allclose(torch.cat(list(enhance_stream(model, [short]))), model.enhance(short), atol=1e-6)


def test_reflect_delay_mirrors_the_start_and_folds_over_short_waves():
    wave = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    assert torch.equal(reflect_delay(wave, 0), wave)
    assert reflect_delay(wave, 2).tolist() == [[3.0, 2.0, 1.0, 2.0, 3.0, 4.0]]  # sample -i reads sample i
    assert reflect_delay(wave, 8).tolist() == [[3.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 2.0, 1.0, 2.0, 3.0, 4.0]]
    assert reflect_delay(torch.tensor([5.0]), 3).tolist() == [5.0, 5.0, 5.0, 5.0]


def test_test_time_shifts_average_shifted_passes_and_refuse_bad_counts():
    model = randomised(scale=1.0)
    hop = model.config.hop_length
    span = hop * (model.frame_multiple + 1)  # one period of the pooling grid and one hop
    assert model.shift_delays(1) == [0] and model.shift_delays(4) == [round(k * span / 4) for k in range(4)]
    assert len({d % hop for d in model.shift_delays(4)}) == 4  # four phases of the STFT frames
    wave = utterance(150, 1.0, 0) + 0.05 * torch.randn(RATE, generator=torch.Generator().manual_seed(0))
    once, four = model.enhance(wave), model.enhance(wave, shifts=4)
    assert torch.equal(model.enhance(wave, shifts=1), once) and four.shape == wave.shape
    assert float((four - once).abs().max()) > 1e-4  # the shifted passes differ: an average, not a copy
    by_hand = sum(model(reflect_delay(wave[None], d))[0, d:] for d in model.shift_delays(4)) / 4
    assert torch.allclose(four, by_hand.detach(), atol=1e-6)
    assert torch.allclose(model.enhance(wave[None].repeat(2, 1), shifts=4)[1], four, atol=1e-5)
    assert model.enhance(torch.randn(5), shifts=8).shape == (5,)  # delays longer than the wave fold over it
    for bad in (0, 2.5, 65):
        with pytest.raises(BadInputError, match="shifts"):
            model.enhance(wave, shifts=bad)


def test_chunked_enhancement_with_shifts_equals_whole_file_enhancement():
    model = randomised(scale=1.0)
    wave = utterance(150, 2.0, 0) + 0.05 * torch.randn(2 * RATE, generator=torch.Generator().manual_seed(1))
    whole = model.enhance(wave, shifts=3)
    chunked = torch.cat(list(enhance_stream(model, torch.split(wave, 37), chunk_frames=20, shifts=3)))
    assert chunked.shape == whole.shape and float((chunked - whole).abs().max()) <= 1e-5
    short = torch.randn(100)  # shorter than the largest delay
    assert torch.allclose(torch.cat(list(enhance_stream(model, [short], shifts=5))), model.enhance(short, shifts=5),
                          atol=1e-6)  # fmt: skip
    assert list(enhance_stream(model, [], shifts=2)) == []
    assert not model.training


@pytest.mark.parametrize(("orig", "new"), [(44100, 8000), (8000, 16000), (16000, 22050)])
def test_stream_resampler_equals_whole_resampling(orig, new):
    wave = torch.randn(orig + 321, generator=torch.Generator().manual_seed(orig))
    streamed = torch.cat(list(StreamResampler(orig, new, core=3000)(torch.split(wave, 999))))
    whole = io.resample(wave, orig, new)
    assert streamed.shape == whole.shape and float((streamed - whole).abs().max()) <= 1e-5


# --------------------------------------------------------------------------- noises and mixtures


def test_pink_noise_falls_3_db_per_octave():
    from scipy.signal import welch

    noise = pink_noise(1 << 16, torch.Generator().manual_seed(0))
    assert abs(float(noise.pow(2).mean().sqrt()) - 1) < 1e-4
    freqs, power = welch(noise.numpy(), fs=16000, nperseg=4096)
    band = (freqs > 50) & (freqs < 6000)
    slope = np.polyfit(np.log2(freqs[band]), 10 * np.log10(power[band]), 1)[0]
    assert -3.4 < slope < -2.6, slope


@pytest.mark.parametrize("kind", ["white", "pink", "babble"])
def test_mixtures_have_the_snr_asked_for(kind):
    speech = speech_set()
    noises = NoiseSet([kind], speech.waves, speech.speakers, {})
    g = torch.Generator().manual_seed(3)
    for level in ((-30.0, -20.0), (-3.0, -3.0)):  # the second one must be scaled down for the peak
        for _ in range(5):
            noisy, clean, facts = make_mixture(speech, 1, noises, 4000, (-5.0, 20.0), level, g)
            assert abs(snr_db(noisy, clean) - facts["snr"]) < 0.1 and -5 <= facts["snr"] <= 20
            assert float(noisy.abs().max()) <= 0.99 + 1e-6 and facts["noise"] == kind


def test_babble_sums_other_utterances_of_other_speakers():
    speech = speech_set(speakers=3, per=3)
    g = torch.Generator().manual_seed(0)
    for target in range(len(speech)):
        wave, used = babble(speech.waves, speech.speakers, target, 2000, g)
        assert 3 <= len(used) <= 6 and target not in used
        assert all(speech.speakers[i] != speech.speakers[target] for i in used)
        assert abs(float(wave.pow(2).mean().sqrt()) - 1) < 1e-4
    _, used = babble(speech.waves[:2], ["", ""], 0, 2000, g)  # fewer others than talkers: all of them
    assert used == [1]
    with pytest.raises(DataError, match="other utterances"):
        babble(speech.waves[:1], [""], 0, 2000, g)


def test_splits_are_disjoint_seeded_and_by_speaker_when_names_say_so():
    speech = speech_set(speakers=4, per=3)
    train, val, record = split_speech(speech, 0.25, seed=0)
    assert record["method"] == "speaker" and len(record["val_speakers"]) == 1
    assert sorted(train + val) == list(range(12)) and not set(train) & set(val)
    assert not {speech.speakers[i] for i in train} & {speech.speakers[i] for i in val}
    assert split_speech(speech, 0.25, seed=0)[1] == val
    anonymous = Speech(speech.waves, speech.ids, [""] * 12, "x", RATE)
    train, val, record = split_speech(anonymous, 0.25, seed=1)
    assert record["method"] == "file" and len(val) == 3 and not set(train) & set(val)
    assert speaker_of("7_theo_12") == "theo" and speaker_of("p225_003") == "p225"
    assert speaker_of("84-121123-0000") == "84" and speaker_of("LJ001-0001") == ""


def test_noise_folders_hold_out_test_txt_or_the_end_of_each_recording(folders, tmp_path):
    _, noise = folders
    split = load_noise_folder(noise, RATE)
    assert split.split == "test.txt" and split.held_out.names == ["rumble"] and "rumble" not in split.train.names
    assert all(abs(io.rms_db(w) + 25) < 0.1 for w in split.train.waves)  # level-normalised
    bare = tmp_path / "bare"
    bare.mkdir()
    io.write_audio(bare / "fan.wav", 0.1 * torch.randn(RATE), RATE)
    timed = load_noise_folder(bare, RATE, held_out_fraction=0.25)
    assert timed.split == "time" and timed.train.waves[0].shape[0] == 6000 and timed.held_out.waves[0].shape[0] == 2000


def test_data_config_parses_ranges_and_refuses_bad_ones():
    cfg = EnhancementDataConfig.build({"snr": "-5:20", "noise": "white,pink", "level_db": "-30:-10"})
    assert cfg.snr == (-5.0, 20.0) and cfg.noise == ["white", "pink"] and cfg.level_db == (-30.0, -10.0)
    for bad in ({"snr": "20:-5"}, {"snr": "loud"}, {"snr": "-50:0"}, {"noise": []}):
        with pytest.raises(ConfigError):
            EnhancementDataConfig.build(bad)


# --------------------------------------------------------------------------- baselines


def test_classical_baselines_raise_the_snr_of_a_tone_in_white_noise():
    t = torch.arange(2 * RATE) / RATE
    gate = (((t > 0.3) & (t < 0.9)) | ((t > 1.2) & (t < 1.8))).float()  # pauses to estimate the noise in
    clean = 0.3 * torch.sin(2 * math.pi * 440 * t) * gate
    noisy = clean + 0.1 * torch.randn(t.shape, generator=torch.Generator().manual_seed(0))
    before = snr_db(noisy, clean)
    for enhance in (spectral_subtraction, wiener_filter):
        out = enhance(noisy, RATE)
        assert out.shape == noisy.shape and out.dtype == torch.float32
        assert snr_db(out, clean) > before + 5, enhance.__name__
    leading = spectral_subtraction(noisy, RATE, noise_ms=250)  # the first 250 ms are noise alone here
    assert snr_db(leading, clean) > before + 5
    power = torch.ones(5, 10)
    power[:, 3] = 0.1
    assert torch.allclose(noise_psd(power, 64, RATE, quietest=0.1), torch.full((5,), 0.1))
    with pytest.raises(BadInputError, match="mono"):
        wiener_filter(torch.zeros(2, 100), RATE)


# --------------------------------------------------------------------------- metrics on known signals


def test_metrics_score_known_signals():
    clean = utterance(140, 1.5, 0)
    noisy = clean + 0.05 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(0))
    mixture = evaluation.Mixture(noisy, clean, 5.0, "white", "x.wav")
    test = evaluation.TestSet("synthetic", RATE, [mixture], ["x.wav"], [{"kind": "white"}])
    test.input_si_sdr = [si_sdr(noisy, clean)]
    specs = list(task_metrics(TASK).values())
    assert [s.key for s in specs] == ["si_sdr", "si_sdr_improvement", "pesq", "stoi", "snr"]

    def scores(samples):
        ctx = EvalContext(None, TASKS.get(TASK), None, name="check")
        ctx.cache |= {"reference": test, "samples": samples}
        return run_metrics(specs, ctx)[0]

    perfect, unchanged = scores([clean]), scores([noisy])
    assert perfect["si_sdr"] >= 99 and perfect["snr"] >= 99 and perfect["stoi"] > 0.99 and perfect["pesq"] > 4.0
    assert unchanged["si_sdr_improvement"] == 0 and abs(unchanged["snr"] - snr_db(noisy, clean)) < 1e-3
    assert unchanged["pesq"] < perfect["pesq"] and unchanged["stoi"] < perfect["stoi"]
    blip = clean[:1000]  # 0.125 s: too little speech for STOI, which leaves it out and counts it
    test.mixtures.append(evaluation.Mixture(blip, blip, 5.0, "white", "blip.wav"))
    test.input_si_sdr.append(100.0)
    ctx = EvalContext(None, TASKS.get(TASK), None)
    ctx.cache |= {"reference": test, "samples": [clean, blip]}
    values, protocol = run_metrics(specs, ctx)
    assert values["stoi"] == perfect["stoi"] and protocol["stoi_skipped_mixtures"] == 1


# --------------------------------------------------------------------------- training, evaluation, pipeline


def test_training_two_steps_records_the_data_and_previews(trained, folders):
    _, noise = folders
    assert trained.status == "completed" and trained.steps == 2
    from genlab.core.metrics_log import read_rows

    rows = read_rows(trained.run.path / "metrics.csv")
    losses = [float(r["loss"]) for r in rows if r.get("loss")] + [
        float(r["val_loss"]) for r in rows if r.get("val_loss")
    ]
    assert len(losses) >= 2 and all(math.isfinite(v) for v in losses)
    model = genlab.load(trained.run.path).model
    assert model.config.sample_rate == RATE and model.config.base_channels == 4
    data = model.provenance.data
    assert data["split"]["method"] == "speaker" and len(data["val_files"]) == 3
    assert {n["kind"] for n in data["noise"]} == {"white", "babble", "folder"}
    assert [n for n in data["noise"] if n["kind"] == "folder"][0]["held_out"] == ["rumble"]
    assert (trained.run.path / "samples" / "final.png").is_file() and (
        trained.run.path / "samples" / "final.wav"
    ).is_file()


def test_evaluation_end_to_end_with_the_baselines(trained):
    result = genlab.evaluate(trained.run.path, n=2, snrs=[0, 5])
    assert set(result["metrics"]) == {"si_sdr", "si_sdr_improvement", "pesq", "stoi", "snr"}
    assert set(result["baselines"]) == {"noisy_input", "spectral_subtraction", "wiener"}
    assert result["baselines"]["noisy_input"]["si_sdr_improvement"] == 0
    assert all(math.isfinite(v) for v in result["metrics"].values())
    p = result["protocol"]
    assert p["n_utterances"] == 2 and p["n_mixtures"] == 12 and p["snrs"] == [0, 5] and p["seed"] == 0
    assert [n["kind"] for n in p["noises"]] == ["white", "babble", "folder"]  # the training noises
    assert p["noises"][2]["recordings"] == ["rumble"] and "baseline_wiener" in p and "notes" not in p
    again = genlab.evaluate(trained.run.path, "si_sdr", n=2, snrs=[0, 5], save=False)
    assert again["metrics"]["si_sdr"] == result["metrics"]["si_sdr"]  # seeded: the same test set
    single = genlab.evaluate(trained.run.path, "snr", n=1, noise=["white", "babble"], snrs=[10], save=False)
    assert single["protocol"]["n_mixtures"] == 1 and "babble skipped" in single["protocol"]["notes"][0]
    assert abs(single["baselines"]["noisy_input"]["snr"] - 10) < 0.1
    shifted = genlab.evaluate(trained.run.path, "si_sdr", n=2, snrs=[0, 5], shifts=2, save=False)
    assert shifted["protocol"]["shifts"] == 2 and result["protocol"]["shifts"] == 1
    assert abs(shifted["metrics"]["si_sdr"] - result["metrics"]["si_sdr"]) < 1  # the same test set, enhanced twice


def test_pipeline_streams_a_file_in_chunks_equal_to_the_whole(trained, tmp_path, monkeypatch):
    pipe = genlab.load(trained.run.path)
    assert isinstance(pipe, pipelines.AudioDenoisingPipeline) and PIPELINES.get("audio/denoise-audio")
    pipe.model.load_state_dict(randomised().state_dict())  # two steps leave the mask nearly constant
    wave = utterance(150, 3.0, 1) + 0.05 * torch.randn(3 * RATE, generator=torch.Generator().manual_seed(2))
    path = io.write_audio(tmp_path / "noisy.wav", wave, RATE)
    read, _ = io.read_audio(path)
    monkeypatch.setattr(pipelines, "BLOCK_SECONDS", 0.3)  # many input blocks, several chunks
    out = pipe(path, chunk_seconds=0.5)
    assert out.sample_rate == RATE and out.info["enhanced"]
    assert float((out.wave - pipe.model.enhance(read)).abs().max()) <= 1e-5
    saved = out.save(tmp_path / "clean.flac")
    back, rate = io.read_audio(saved)
    assert rate == RATE and back.shape == read.shape
    assert out.encode("wav")[:4] == b"RIFF"
    with pytest.raises(BadInputError, match="cannot write audio"):
        out.save(tmp_path / "clean.mp3")
    shifted = pipe(path, chunk_seconds=0.5, shifts=2)
    assert shifted.info["shifts"] == 2
    assert float((shifted.wave - pipe.model.enhance(read, shifts=2)).abs().max()) <= 1e-5
    with pytest.raises(BadInputError, match="shifts"):
        pipe(path, shifts=0)


def test_pipeline_converts_stereo_and_other_rates_and_passes_silence_through(trained, tmp_path):
    pipe = genlab.load(trained.run.path)
    left = utterance(150, 1.0, 3, rate=16000)
    stereo = io.write_audio(tmp_path / "stereo.wav", torch.stack([left, 0.5 * left]), 16000)
    with pytest.warns(UserWarning, match="averaged to mono"):
        out = pipe(stereo)
    assert out.sample_rate == 16000 and out.wave.shape == (16000,) and "mono" in out.info["note"]
    with pytest.warns(UserWarning):
        at_model = pipe(stereo, out_rate="model")
    assert at_model.sample_rate == RATE and at_model.wave.shape == (RATE,)
    silent = io.write_audio(tmp_path / "silent.wav", torch.zeros(5000), RATE)
    with pytest.warns(UserWarning, match="silent"):
        quiet = pipe(silent, shifts=4)
    assert not quiet.info["enhanced"] and torch.equal(quiet.wave, torch.zeros(5000))
    assert "shifts" not in quiet.info  # no pass was made
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a mono file at the model's rate warns about nothing
        pipe(utterance(150, 0.5, 4)[None], sample_rate=RATE).wave  # noqa: B018


def test_pipeline_refuses_missing_and_non_audio_files(trained, tmp_path):
    pipe = genlab.load(trained.run.path)
    with pytest.raises(BadInputError, match="no audio file"):
        pipe(tmp_path / "nope.wav")
    (tmp_path / "notes.wav").write_text("not audio at all")
    with pytest.raises(BadInputError, match="not an audio file") as err:
        pipe(tmp_path / "notes.wav")
    assert "WAV" in err.value.hint
    with pytest.raises(BadInputError, match="sample_rate"):
        pipe(torch.zeros(100))


def test_cli_denoises_with_positional_in_and_out_and_parses_the_snr_range(trained, tmp_path, capsys):
    noisy = io.write_audio(tmp_path / "noisy.wav", utterance(160, 0.8, 5), RATE)
    code, text = cli_ok(["denoise-audio", str(noisy), str(tmp_path / "out.wav"), "--model", str(trained.run.path)],
                        capsys)  # fmt: skip
    assert code == 0, text
    assert io.audio_info(tmp_path / "out.wav").frames == io.audio_info(noisy).frames
    from genlab.cli.train import task_command

    command = task_command(TASKS.get(TASK))
    ctx = command.make_context("train", [TASK, "--snr", "-5:20", "--noise", "white", "--noise", "pink"])
    values = {k: v for k, v in ctx.params.items() if k.startswith("task__") and v}
    cfg = EnhancementDataConfig.build({"snr": values["task__data__snr"], "noise": list(values["task__data__noise"])})
    assert cfg.snr == (-5.0, 20.0) and cfg.noise == ["white", "pink"]


def test_a_three_hour_file_streams_block_by_block(trained, tmp_path):
    pipe = genlab.load(trained.run.path)
    head = utterance(150, 2.0, 4) + 0.05 * torch.randn(2 * RATE, generator=torch.Generator().manual_seed(5))
    path = long_wav(tmp_path / "three-hours.wav", 3, RATE, head)
    out = pipe(path)  # one pass for the level; nothing is enhanced until the blocks are asked for
    assert out.sample_rate == RATE and out.info["enhanced"]
    blocks = out.blocks()
    first = [next(blocks) for _ in range(3)]
    assert all(b.dim() == 1 and bool(torch.isfinite(b).all()) for b in first)
    assert sum(b.shape[0] for b in first) < 3600 * RATE  # streamed, not gathered
