"""The audio-generation task: WaveGAN, SpecGAN, the sample pipeline and the judge-based metrics."""

from __future__ import annotations

import csv
import io
import math
import zipfile
from typing import ClassVar

import pytest
import torch

pytest.importorskip("soundfile")

import genlab  # noqa: E402
from genlab.audio.classifier import MelCNN, MelCNNConfig  # noqa: E402
from genlab.audio.generation import AudioClipsOutput, PhaseShuffle, SpecGAN, SpecGANConfig, WaveGAN  # noqa: E402
from genlab.audio.generation import evaluation as E  # noqa: E402
from genlab.audio.generation.base import strided_stages  # noqa: E402
from genlab.audio.generation.wavegan import WaveGANConfig  # noqa: E402
from genlab.audio.io import read_audio, write_audio  # noqa: E402
from genlab.core.errors import BadInputError, ConfigError  # noqa: E402
from genlab.core.registry import METRICS, MODELS, PIPELINES, TASKS  # noqa: E402
from tests.cli_helpers import cli_ok  # noqa: E402
from tests.model_mixin import ModelTesterMixin  # noqa: E402

RATE = 8000
CLIP = 2000  # 0.25 s → a window of 2048 samples
FREQS = {"low": 300.0, "mid": 700.0, "high": 1300.0}
GAN_KEYS = {"d_loss", "g_loss", "d_real", "d_fake"}
TINY = {"sample_rate": RATE, "clip_samples": 1000, "num_classes": 3, "model_size": 2, "latent_dim": 8, "label_dim": 4}
SPEC_STATS = {"n_fft": 64, "spec_mean": [-3.0] * 32, "spec_std": [2.0] * 32}  # 32 bins; measured stats in training


def tone(freq: float, samples: int, phase: float = 0.0, amp: float = 0.3) -> torch.Tensor:
    t = torch.arange(samples) / RATE
    return amp * torch.sin(2 * math.pi * freq * t + phase)


def tone_batch(n: int, samples: int, num_classes: int, seed: int = 123) -> tuple[torch.Tensor, torch.Tensor]:
    """Tones of the classes in turn, with noise, in [-1, 1]; labels (n,)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % max(num_classes, 1)
    freqs = list(FREQS.values())
    waves = torch.stack([tone(freqs[int(y) % 3], samples, float(i)) for i, y in enumerate(labels)])
    return (waves + 0.01 * torch.randn(waves.shape, generator=g)).clamp(-1, 1), labels


# --------------------------------------------------------------------------- the shared model suite


class AudioGANTesterMixin(ModelTesterMixin):
    """Hooks of the shared model suite for audio generators: clips (n, clip_samples) in [-1, 1]."""

    validation_keys: ClassVar[set[str] | None] = GAN_KEYS
    optimizer_steps: ClassVar[int] = 10  # lr 1e-4
    num_samples: ClassVar[int] = 4

    def batch(self, model):
        return tone_batch(8, model.config.clip_samples, model.config.num_classes)

    def labels(self, model, n: int) -> torch.Tensor | None:
        return torch.arange(n) % model.config.num_classes if model.conditional else None

    def sample(self, model, seed: int) -> torch.Tensor:
        return model.generate(self.num_samples, labels=self.labels(model, self.num_samples), seed=seed)

    def check_output(self, model, out: torch.Tensor) -> None:
        assert out.shape == (self.num_samples, model.config.clip_samples) and out.dtype == torch.float32
        assert out.min() >= -1 and out.max() <= 1 and out.std() > 0

    def test_labels_are_checked(self):
        model = self.build().eval()
        if not model.conditional:
            with pytest.raises(BadInputError, match="unconditional") as err:
                model.generate(2, labels=torch.tensor([0, 0]))
            assert "--conditional" in err.value.hint
            return
        with pytest.raises(BadInputError, match="out of range"):
            model.generate(2, labels=torch.tensor([0, 3]))
        a, b = model.generate(2, labels=0, seed=0), model.generate(2, labels=1, seed=0)
        assert (a - b).abs().max() > 0  # the label changes the clip


class TestWaveGAN(AudioGANTesterMixin):
    model_name = "audio/wavegan"
    config = TINY


class TestConditionalWaveGAN(AudioGANTesterMixin):
    model_name = "audio/wavegan"
    config = {**TINY, "conditional": True}


class TestSpecGAN(AudioGANTesterMixin):
    model_name = "audio/specgan"
    config = {**TINY, **SPEC_STATS, "griffin_lim_iters": 4}


class TestConditionalSpecGAN(AudioGANTesterMixin):
    model_name = "audio/specgan"
    config = {**TINY, **SPEC_STATS, "griffin_lim_iters": 4, "conditional": True}


class TestSpectralNormWaveGAN(AudioGANTesterMixin):
    """The cheaper CPU recipe: hinge loss, spectral normalisation, one critic step, no penalty."""

    model_name = "audio/wavegan"
    config = {**TINY, "conditional": True, "loss": "hinge", "spectral_norm": True, "gp_weight": 0, "n_critic": 1}


def test_the_cheaper_recipe_constrains_the_critic():
    model = SpecGAN(SpecGANConfig(**{**TINY, **SPEC_STATS, **TestSpectralNormWaveGAN.config}))
    convs = [m for m in model.discriminator.features if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(hasattr(m, "parametrizations") for m in convs)
    assert hasattr(model.discriminator.head.linear, "parametrizations")
    assert not any(hasattr(m, "parametrizations") for m in model.generator.modules())
    waves, labels = torch.rand(4, CLIP) * 2 - 1, torch.tensor([0, 1, 2, 0])
    d = model.training_losses((waves, labels), "discriminator")
    assert "gp" not in d and float(d["d_loss"]) >= 0  # the hinge loss is never negative
    with pytest.raises(ConfigError, match="Lipschitz"):
        SpecGANConfig.build({"gp_weight": 0})
    assert SpecGANConfig.build({"gp_weight": 0, "spectral_norm": True}).loss == "wasserstein"


# --------------------------------------------------------------------------- architecture


def test_registered_names_and_the_papers_recipe():
    assert MODELS.get("audio/wavegan") is WaveGAN and MODELS.get("audio/specgan") is SpecGAN
    assert TASKS.get("audio-generation").model_names() == ["specgan", "wavegan", "wavenet"]
    assert PIPELINES.get("audio/sample").verb == "sample"
    assert {"audio/label_accuracy", "audio/is", "audio/fd"} <= set(METRICS.names("audio/"))
    d, g = WaveGAN(WaveGANConfig(**TINY)).optimizer_groups()
    assert (d.name, d.lr, d.betas, d.every) == ("discriminator", 1e-4, (0.5, 0.9), 1)
    assert (g.name, g.lr, g.betas, g.every) == ("generator", 1e-4, (0.5, 0.9), 5)
    c = WaveGANConfig()
    assert (c.latent_dim, c.gp_weight, c.phase_shuffle) == (100, 10.0, 2)


def test_windows_stages_and_lengths():
    assert strided_stages(16384, 4, (16, 32), "x") == (16, 5)  # the paper: 16 · 4⁵
    assert strided_stages(8192, 4, (16, 32), "x") == (32, 4)
    assert WaveGANConfig(clip_samples=8000).window == 8192 and WaveGANConfig(clip_samples=16000).window == 16384
    paper = WaveGAN(WaveGANConfig(sample_rate=16000, clip_samples=16384, model_size=64))
    assert [m.out_channels for m in paper.generator.ups] == [512, 256, 128, 64, 1]
    assert paper.generator(torch.zeros(1, 100)).shape == (1, 1, 16384)
    spec = SpecGANConfig(sample_rate=16000, clip_samples=16384)
    assert (spec.fft_size, spec.hop_length, spec.spectrogram_shape) == (256, 128, (128, 128))  # the paper's 128×128
    assert SpecGANConfig(sample_rate=8000, clip_samples=8000).spectrogram_shape == (64, 128)
    with pytest.raises(ConfigError, match="power of 2"):
        WaveGANConfig.build({"window_samples": 5000})
    with pytest.raises(ConfigError, match="shorter than a clip"):
        WaveGANConfig.build({"clip_samples": 5000, "window_samples": 4096})
    with pytest.raises(ConfigError, match="num_classes"):
        WaveGAN(WaveGANConfig(**{**TINY, "num_classes": 0, "conditional": True}))


def test_phase_shuffle_keeps_the_shape_and_shifts_each_clip_by_at_most_n():
    x = torch.randn(16, 3, 50)
    assert torch.equal(PhaseShuffle(0)(x), x)
    shuffle = PhaseShuffle(2)
    assert torch.equal(shuffle.eval()(x), x)  # identity outside training
    torch.manual_seed(0)
    y = shuffle.train()(x)
    assert y.shape == x.shape
    shifts = set()
    for i in range(len(x)):
        # out[t] = x[t - s]: find s from the interior, where no reflection is involved
        found = [s for s in range(-2, 3) if torch.equal(y[i, :, 2:-2], x[i, :, 2 - s : 48 - s])]
        assert len(found) == 1, i
        shifts.add(found[0])
    assert len(shifts) > 1  # clips get different shifts


def test_specgan_normalisation_round_trip_and_statistics():
    config = SpecGANConfig(sample_rate=RATE, clip_samples=CLIP, model_size=2)
    waves, _ = tone_batch(6, CLIP, 3)
    stats = SpecGAN.statistics(config, [waves[:4], waves[4:]])
    model = SpecGAN(SpecGANConfig(**{**config.to_dict(), **stats}))
    assert model.spec_mean.shape == (config.spectrogram_shape[0],) and bool(model.stats_ready)
    log_mag = model.spectrogram(model.padded(waves))
    flat = log_mag.transpose(1, 2).reshape(-1, log_mag.shape[1]).double()
    assert torch.allclose(model.spec_mean.double(), flat.mean(0), atol=1e-3)
    assert torch.allclose(model.spec_std.double(), flat.std(0, unbiased=False).clamp_min(1e-2), atol=1e-3)
    x = model.normalize(log_mag)
    assert x.shape == (6, 1, *config.spectrogram_shape) and x.min() >= -1 and x.max() <= 1
    back = model.denormalize(x)
    inside = x[:, 0].abs() < 1  # not clipped at ±3σ
    assert inside.float().mean() > 0.9
    assert torch.allclose(back[inside], log_mag[inside], atol=1e-4)
    fresh = SpecGAN(SpecGANConfig(**TINY, n_fft=64))  # built outside genlab train: statistics from its first batch
    with pytest.warns(UserWarning, match="first training batch|this batch"):
        fresh.training_losses(tone_batch(4, 1000, 3), "discriminator")
    assert bool(fresh.stats_ready) and not torch.equal(fresh.spec_mean, torch.zeros_like(fresh.spec_mean))
    with pytest.raises(ConfigError, match="frequency bins"):
        SpecGAN(SpecGANConfig(**{**TINY, **SPEC_STATS, "spec_mean": [0.0] * 5}))


def test_inception_score_bounds():
    confident = torch.eye(4).repeat(5, 1)  # 20 clips, each sure of one of 4 classes, classes balanced
    assert E.inception_score(confident, 1)[0] == pytest.approx(4.0, rel=1e-6)
    assert E.inception_score(torch.full((20, 4), 0.25), 2)[0] == pytest.approx(1.0)
    value, std = E.inception_score(torch.softmax(torch.randn(200, 4), 1), 2, seed=0)
    assert 1 <= value <= 4 and std >= 0


# --------------------------------------------------------------------------- data, training, sampling, eval


@pytest.fixture(scope="module")
def tone_folder(tmp_path_factory):
    """Three classes of tones named LABEL_SPEAKER_TAKE.wav (16 takes each), 0.15–0.3 s long."""
    folder = tmp_path_factory.mktemp("tones")
    g = torch.Generator().manual_seed(0)
    for label, freq in FREQS.items():
        for take in range(16):
            samples = int(RATE * (0.15 + 0.15 * float(torch.rand((), generator=g))))
            wave = tone(freq * (1 + 0.02 * take), samples, take, 0.1 + 0.4 * float(torch.rand((), generator=g)))
            wave = wave + 0.01 * torch.randn(samples, generator=g)
            write_audio(folder / f"{label}_s{take % 2}_{take}.wav", wave, RATE)
    return folder


@pytest.fixture(scope="module")
def judge_dir(tone_folder, tmp_path_factory):
    """A tiny log-mel CNN taught the three tones in a few Adam steps, saved like a shipped judge. Its classes are in
    another order than the data's (matched by name)."""
    from genlab.audio.io import fit_length

    names = ["low", "mid", "high"]
    waves, labels = [], []
    for path in sorted(tone_folder.glob("*.wav")):
        waves.append(fit_length(read_audio(path, RATE)[0], CLIP))
        labels.append(names.index(path.name.split("_")[0]))
    x, y = torch.stack(waves), torch.tensor(labels)
    torch.manual_seed(0)
    config = MelCNNConfig(sample_rate=RATE, clip_samples=CLIP, num_classes=3, class_names=names, widths=(4, 4, 8, 8),
                          feature_dim=8, freq_mask=0, time_mask=0, dropout=0.0)  # fmt: skip
    judge = MelCNN(config)
    opt = torch.optim.Adam(judge.parameters(), lr=1e-2)
    for _ in range(25):
        opt.zero_grad()
        judge.training_losses((x, y))["loss"].backward()
        opt.step()
    assert (judge.probabilities(x).argmax(1) == y).float().mean() > 0.9
    path = tmp_path_factory.mktemp("judge") / "tones-judge"
    judge.save_pretrained(path)
    return path


def train_tiny(model: str, folder, root, name: str, **model_options):
    return genlab.train(
        "audio-generation", model, str(folder), name, max_steps=2, batch_size=8, runs_dir=root, progress=False,
        sample_every=0, val_batches=1, threads=1, log_every=1,
        data_options={"sample_rate": RATE, "clip_seconds": CLIP / RATE, "val_fraction": 0.25},
        model_options={"model_size": 2, "latent_dim": 8, "label_dim": 4, "n_critic": 2, **model_options},
    )  # fmt: skip


@pytest.fixture(scope="module")
def runs(tone_folder, tmp_path_factory):
    """Two engine steps of a conditional WaveGAN and of an unconditional SpecGAN on the tones."""
    root = tmp_path_factory.mktemp("runs")
    return {
        "wavegan": train_tiny("wavegan", tone_folder, root, "wave", conditional=True),
        "specgan": train_tiny("specgan", tone_folder, root, "spec", griffin_lim_iters=4),
    }


def test_training_runs_and_writes_samples(runs):
    for name, result in runs.items():
        assert result.status == "completed" and result.steps == 2, name
        rows = list(csv.DictReader((result.run.path / "metrics.csv").open()))
        steps = [row for row in rows if row.get("gp")]
        assert [int(row["step"]) for row in steps] == [1, 2], name
        for row in rows:  # every logged loss, training and validation, is finite
            assert all(math.isfinite(float(v)) for v in row.values() if v not in ("", None)), (name, row)
        assert (result.run.path / "samples" / "final.png").is_file()
        assert len(list((result.run.path / "samples" / "final").glob("*.wav"))) >= 3
    wave = genlab.load(runs["wavegan"].run.path).model
    assert wave.conditional and wave.class_names == ["high", "low", "mid"] and wave.config.window == 2048
    spec = genlab.load(runs["specgan"].run.path).model
    assert not spec.conditional and len(spec.config.spec_mean) == 64  # n_fft 128 at 8 kHz: 64 bins, measured
    assert torch.equal(spec.spec_mean, torch.tensor(spec.config.spec_mean))


def test_conditional_training_refuses_unlabelled_clips(tmp_path, runs_dir):
    for i in range(3):
        write_audio(tmp_path / f"clip{i}.wav", tone(440.0, 1500), RATE)
    with pytest.raises(ConfigError, match="--conditional needs labelled clips") as err:
        genlab.train(
            "audio-generation", "wavegan", str(tmp_path), "u", max_steps=1, progress=False,
            data_options={"sample_rate": RATE, "labels": "none"}, model_options={"conditional": True},
        )  # fmt: skip
    assert "without --conditional" in err.value.hint


def test_sample_pipeline_writes_wavs_and_a_sheet(runs, tmp_path):
    pipe = genlab.load(runs["wavegan"].run.path)
    out = pipe(n=3, label="mid", seed=0)
    assert isinstance(out, AudioClipsOutput) and out.waves.shape == (3, CLIP) and out.titles == ["mid"] * 3
    assert torch.equal(pipe(n=3, label=2, seed=0).waves, out.waves)  # index 2 of (high, low, mid)
    folder = out.save(tmp_path / "mids")
    assert sorted(p.name for p in folder.iterdir()) == ["000_mid.wav", "001_mid.wav", "002_mid.wav", "spectrograms.png"]
    wave, rate = read_audio(folder / "001_mid.wav")
    assert rate == RATE and wave.shape == (CLIP,)
    one = pipe(n=1, label="low", seed=1)
    assert one.save(tmp_path / "low.wav").is_file() and one.encode().startswith(b"RIFF")
    names = zipfile.ZipFile(io.BytesIO(out.encode())).namelist()
    assert "spectrograms.png" in names and "000_mid.wav" in names and out.encode("png").startswith(b"\x89PNG")
    with pytest.raises(BadInputError, match="cannot go into one .wav file"):
        out.save(tmp_path / "three.wav")
    with pytest.raises(BadInputError, match="not one of this model's classes") as err:
        pipe(n=1, label="7")
    assert "high, low, mid" in err.value.hint
    with pytest.raises(BadInputError, match="unconditional") as err:
        genlab.load(runs["specgan"].run.path)(n=1, label="low")
    assert "--conditional" in err.value.hint


def test_sample_command(runs, tmp_path, capsys):
    out = tmp_path / "highs"
    code, text = cli_ok(["sample", str(runs["wavegan"].run.path), "--label", "high", "--n", "2", "--seed", "0",
                         "--out", str(out)], capsys)  # fmt: skip
    assert code == 0, text
    assert sorted(p.name for p in out.iterdir()) == ["000_high.wav", "001_high.wav", "spectrograms.png"]
    code, text = cli_ok(["sample", str(runs["wavegan"].run.path), "--label", "9", "--n", "1"], capsys)
    assert code == 2 and "hint:" in text


def test_judge_input_resamples_and_crops(judge_dir):
    from genlab.audio.classifier.train import load_audio_classifier

    judge = load_audio_classifier(judge_dir)
    assert E.judge_input(torch.zeros(2, 4000), 16000, judge).shape == (2, CLIP)  # 16 kHz → 8 kHz, then cut
    assert E.judge_input(torch.zeros(2, 1500), RATE, judge).shape == (2, CLIP)  # zero-padded


def test_eval_of_a_conditional_run(runs, judge_dir):
    result = genlab.evaluate(runs["wavegan"].run.path, judge=judge_dir, n=24, seed=0)
    m, b, p = result["metrics"], result["baselines"], result["protocol"]
    assert set(m) == {"label_accuracy", "is", "is_std", "fd"}
    assert 0 <= m["label_accuracy"] <= 1 and 1 <= m["is"] <= 3 and m["fd"] >= 0
    assert set(b) == {"real", "noise"}
    assert b["real"]["label_accuracy"] > 0.8 and b["real"]["is"] > b["noise"]["is"]  # the judge knows real tones
    assert b["real"]["fd"] < b["noise"]["fd"]  # real vs real is the floor
    assert p["n_generated"] == 24 and p["n_reference"] == 12 and p["reference_split"].startswith("validation split")
    assert p["judge_sha256"] and p["judge_classes"] == ["low", "mid", "high"] and p["is_splits"] == 1
    assert "baseline_real" in p and "baseline_noise" in p


def test_eval_of_an_unconditional_run_and_its_refusals(runs, judge_dir):
    result = genlab.evaluate(runs["specgan"].run.path, "is,fd", judge=judge_dir, n=12, baselines=False)
    assert set(result["metrics"]) == {"is", "is_std", "fd"} and result["baselines"] == {}
    with pytest.raises(BadInputError, match="needs a conditional model"):
        genlab.evaluate(runs["specgan"].run.path, "label_accuracy", judge=judge_dir, n=12)
    with pytest.raises(BadInputError, match="no audio classifier"):
        genlab.evaluate(runs["specgan"].run.path, "is", judge="no-such-judge", n=12)
