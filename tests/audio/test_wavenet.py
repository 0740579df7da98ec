"""``audio/wavenet``: μ-law coding, causality and receptive field, incremental generation equal to the full
forward, class conditioning, and training and sampling through the ``audio-generation`` task."""

from __future__ import annotations

import math
from typing import ClassVar

import pytest
import torch

pytest.importorskip("soundfile")

import genlab  # noqa: E402
from genlab.audio.generation.wavenet import (  # noqa: E402
    SILENCE,
    WaveNet,
    WaveNetConfig,
    mu_law_decode,
    mu_law_encode,
    sample_classes,
)
from genlab.audio.io import read_audio, write_audio  # noqa: E402
from genlab.core.errors import BadInputError, ConfigError  # noqa: E402
from genlab.core.registry import MODELS, TASKS  # noqa: E402
from tests.audio.test_generation import (  # noqa: E402, F401  (judge_dir and tone_folder: the judge fixture)
    RATE,
    AudioGANTesterMixin,
    judge_dir,
    tone,
    tone_folder,
)
from tests.cli_helpers import cli_ok  # noqa: E402

TINY = {
    "sample_rate": RATE,
    "clip_samples": 256,
    "num_classes": 3,
    "residual_channels": 4,
    "skip_channels": 8,
    "layers_per_stack": 3,
    "stacks": 2,
    "train_outputs": 64,
}  # fmt: skip  (receptive field 2 + 2·(1 + 2 + 4) = 16)
SMALL = {**TINY, "residual_channels": 8, "skip_channels": 16, "layers_per_stack": 4}  # receptive field 32


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def build(conditional: bool = True, **overrides) -> WaveNet:
    torch.manual_seed(0)
    return WaveNet(WaveNetConfig(**{**SMALL, "conditional": conditional, **overrides})).eval()


# --------------------------------------------------------------------------- the shared model suite


class WaveNetTesterMixin(AudioGANTesterMixin):
    """The audio generators' hooks (clips in [-1, 1], labels in turn) with WaveNet's validation losses."""

    validation_keys: ClassVar[set[str] | None] = {"loss", "bits_per_sample"}
    optimizer_steps: ClassVar[int] = 5  # lr 1e-3


class TestWaveNet(WaveNetTesterMixin):
    model_name = "audio/wavenet"
    config = TINY


class TestConditionalWaveNet(WaveNetTesterMixin):
    model_name = "audio/wavenet"
    config = {**TINY, "conditional": True}


# --------------------------------------------------------------------------- μ-law


def test_mu_law_round_trip_within_its_bound():
    x = torch.linspace(-1, 1, 20001)
    classes = mu_law_encode(x)
    assert classes.dtype == torch.long and int(classes.min()) == 0 and int(classes.max()) == 255
    assert torch.all(classes[1:] >= classes[:-1])  # monotonic
    assert int(mu_law_encode(torch.tensor(0.0))) == SILENCE == 128
    error = (mu_law_decode(classes) - x).abs()
    step = (256 ** (1 / 255) - 1) / 255  # (1 + μ)^(1/μ) − 1, over μ
    assert torch.all(error <= (1 + 255 * x.abs()) * step + 1e-6)  # ≈ 8.6e-5 + 0.022·|x|
    assert float(error[x.abs() <= 1e-3].max()) < 1.2e-4 and float(error.max()) < 0.023  # fine near 0, coarse at peaks
    every = torch.arange(256)
    assert torch.equal(mu_law_encode(mu_law_decode(every)), every)  # each class decodes to a value of its own
    assert float(mu_law_decode(every).abs().max()) == pytest.approx(1.0)
    assert torch.equal(mu_law_encode(torch.tensor([-3.0, 3.0])), torch.tensor([0, 255]))  # clipped


# --------------------------------------------------------------------------- architecture


def test_registry_config_limits_and_receptive_field():
    assert MODELS.get("audio/wavenet") is WaveNet
    assert "wavenet" in TASKS.get("audio-generation").model_names()
    c = WaveNetConfig()
    assert (c.residual_channels, c.skip_channels, c.stacks) == (32, 64, 2)
    assert c.dilations == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512] * 2 and c.receptive_field == 2048
    assert WaveNet(WaveNetConfig(**TINY)).receptive_field == 16
    bad_values = ({"residual_channels": 0}, {"layers_per_stack": 15}, {"temperature": -1}, {"train_outputs": 0},
                  {"betas": (0.9, 1.0)})  # fmt: skip
    for bad in bad_values:
        with pytest.raises(ConfigError, match=next(iter(bad))):
            WaveNetConfig.build(bad)
    with pytest.raises(ConfigError, match="num_classes"):
        WaveNet(WaveNetConfig(**{**TINY, "num_classes": 0, "conditional": True}))
    with pytest.raises(BadInputError, match="unknown optimizer group"):
        build().training_losses((torch.zeros(2, 256), torch.zeros(2)), "generator")
    with pytest.raises(BadInputError, match="conditional"):
        build()(torch.zeros(1, 40, dtype=torch.long))  # a conditional WaveNet needs its labels


def test_causality_and_receptive_field():
    model = build().double()  # the influence of the farthest input passes every gate: tiny, visible in float64
    rf, labels = model.receptive_field, torch.tensor([0, 2])
    x = torch.randint(0, 256, (2, 120), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        base = model(x, labels)
        assert base.shape == (2, 256, 120) and rf == 32
        k = 40
        changed = x.clone()
        changed[:, k] = (changed[:, k] + 100) % 256
        out = model(changed, labels)
        assert torch.equal(out[:, :, :k], base[:, :, :k])  # the past does not see the future
        assert (out[:, :, k] - base[:, :, k]).abs().max() > 1e-4  # output k reads input k
        assert (out[:, :, k + rf - 1] - base[:, :, k + rf - 1]).abs().max() > 1e-12  # … and output k + rf − 1
        assert torch.equal(out[:, :, k + rf :], base[:, :, k + rf :])  # beyond the receptive field: unchanged
        valid = model(x, labels, pad=False)  # only outputs whose receptive field lies in x
        assert valid.shape == (2, 256, 120 - rf + 1)
        assert torch.allclose(valid, base[:, :, rf - 1 :], atol=1e-10)
    with pytest.raises(BadInputError, match="receptive field"):
        model(x[:, : rf - 1], labels, pad=False)


@pytest.mark.parametrize("conditional", [True, False])
def test_incremental_generation_equals_the_full_forward(conditional):
    model = build(conditional)
    labels = torch.tensor([0, 2, 1]) if conditional else None
    x = torch.randint(0, 256, (3, 120), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        full = torch.softmax(model(x, labels), dim=1)  # (B, 256, T)
        logits, state = model.start(x[:, :7], labels)  # prefix shorter than some dilations: zero history
        steps = [logits]
        for t in range(7, 120):
            steps.append(model.step(x[:, t], state))
    incremental = torch.softmax(torch.stack(steps[:-1], dim=2), dim=1)  # predictions of positions 7 … 119
    assert torch.allclose(incremental, full[:, :, 6:119], atol=1e-5)
    assert torch.equal(incremental.argmax(1), full[:, :, 6:119].argmax(1))
    last = torch.softmax(steps[-1], dim=1)
    assert torch.allclose(last, full[:, :, 119], atol=1e-5) and state.position == 120


def test_generation_starts_from_silence_as_the_full_forward_does():
    model = build()
    labels, rf = torch.tensor([1, 1, 0]), model.receptive_field
    x = torch.randint(0, 256, (3, 40), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        logits, state = model.start_from_silence(labels, 3)  # one forward per distinct label, copied
        steps = [logits] + [model.step(x[:, t], state) for t in range(39)]
        prefix = torch.cat([torch.full((3, rf), SILENCE), x], dim=1)
        full = torch.softmax(model(prefix, labels)[:, :, rf - 1 : rf + 39], dim=1)
    assert torch.allclose(torch.softmax(torch.stack(steps, dim=2), dim=1), full, atol=1e-5)


def test_sampling_follows_the_softmax_and_the_temperature():
    logits = torch.tensor([[0.0, 1.0, 2.0, -1.0]]).expand(20000, -1)
    u = torch.rand((20000, 1), generator=torch.Generator().manual_seed(0))
    for temperature in (1.0, 0.5):
        drawn = sample_classes(logits, temperature, u)
        share = torch.bincount(drawn, minlength=4).double() / len(drawn)
        assert torch.allclose(share, torch.softmax(logits[0].double() / temperature, 0), atol=0.015)
    assert torch.equal(sample_classes(logits, 0.0, u), torch.full((20000,), 2))
    model = build()
    cold = model.generate(2, labels=0, seed=0, temperature=0)
    assert torch.equal(cold, model.generate(2, labels=0, seed=5, temperature=0))  # greedy ignores the seed
    assert torch.equal(cold[0], cold[1])
    with pytest.raises(BadInputError, match="temperature"):
        model.generate(1, labels=0, temperature=-1)


def test_the_label_changes_the_output_distribution():
    model = build()
    x = torch.randint(0, 256, (1, 40), generator=torch.Generator().manual_seed(3)).expand(3, -1)
    with torch.no_grad():
        p = torch.log_softmax(model(x, torch.tensor([0, 1, 2])), dim=1)  # the same history, three labels
    kl = (p[0].exp() * (p[0] - p[1])).sum(0)  # KL per position
    assert float(kl.min()) > 1e-6 and not torch.allclose(p[1], p[2], atol=1e-4)
    with pytest.raises(BadInputError, match="unconditional"):
        build(conditional=False).generate(1, labels=0)


def test_a_few_steps_teach_the_label_its_loudness():
    """Quiet noise for label 0, loud noise for label 1: white noise is unpredictable from its past, so only
    the label can tell the level, and after training the generated clips follow it."""
    model = build(train_outputs=128).train()
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(16) % 2
    waves = torch.randn(16, 256, generator=g) * torch.where(labels == 1, 0.5, 0.02)[:, None]
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    torch.manual_seed(0)
    first = None
    for _ in range(40):
        opt.zero_grad()
        loss = model.training_losses((waves.clamp(-1, 1), labels), "model")["loss"]
        loss.backward()
        opt.step()
        first = float(loss.detach()) if first is None else first
    assert float(loss.detach()) < first - 0.5
    quiet, loud = model.eval().generate(4, labels=0, seed=0), model.generate(4, labels=1, seed=0)
    assert float(loud.pow(2).mean().sqrt()) > 4 * float(quiet.pow(2).mean().sqrt())


def test_training_windows_cover_the_clip_after_a_receptive_field_of_silence():
    model = build(train_outputs=32)
    rf = model.receptive_field
    waves = mu_law_decode(torch.arange(256))[None].repeat(64, 1)  # sample i has class i: a class tells its place
    inputs, targets = model.windows(waves, torch.Generator().manual_seed(0))
    assert inputs.shape == (64, rf + 31) and targets.shape == (64, 32)
    history = torch.cat([torch.full((rf,), SILENCE), torch.arange(256)])  # the clip after rf of silence
    starts = targets[:, 0]
    for i, start in enumerate(starts.tolist()):  # targets: 32 samples of the clip; inputs: the rf + 31 before
        assert torch.equal(targets[i], torch.arange(start, start + 32))
        assert torch.equal(inputs[i], history[start : start + rf + 31])
    assert int(starts.min()) < rf and int(starts.max()) > 256 - 32 - rf  # windows from the start to the end
    assert model.windows(waves[:2], torch.Generator().manual_seed(1))[1].shape == (2, 32)
    long = build(train_outputs=1000)  # more outputs than the clip has: capped at it
    assert torch.equal(long.windows(waves[:2])[1], torch.arange(256).expand(2, -1))


# --------------------------------------------------------------------------- through the task


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    """Two classes of tones named LABEL_SPEAKER_TAKE.wav, 6 takes each, 0.08–0.1 s at 8 kHz."""
    folder = tmp_path_factory.mktemp("wavenet-tones")
    for label, freq in (("low", 300.0), ("high", 1300.0)):
        for take in range(6):
            write_audio(folder / f"{label}_s{take % 2}_{take}.wav", tone(freq, 640 + 32 * take, take), RATE)
    return folder


@pytest.fixture(scope="module")
def run(tones, tmp_path_factory):
    """Two engine steps of a tiny conditional WaveNet on the tones (0.1 s clips)."""
    return genlab.train(
        "audio-generation", "wavenet", str(tones), "wn", max_steps=2, batch_size=4,
        runs_dir=tmp_path_factory.mktemp("runs"), progress=False, sample_every=0, val_batches=1, threads=1,
        log_every=1, data_options={"sample_rate": RATE, "clip_seconds": 0.1, "val_fraction": 0.25},
        model_options={**{k: v for k, v in TINY.items() if k not in ("sample_rate", "clip_samples", "num_classes")},
                       "conditional": True},
    )  # fmt: skip


def test_train_then_sample_a_conditional_wavenet(run, tmp_path):
    assert run.status == "completed" and run.steps == 2
    assert len(list((run.run.path / "samples" / "final").glob("*.wav"))) == 2  # one clip per class
    pipe = genlab.load(run.run.path)
    model = pipe.model
    assert isinstance(model, WaveNet) and model.conditional and model.class_names == ["high", "low"]
    assert (model.config.clip_samples, model.config.sample_rate) == (800, RATE)
    out = pipe(n=2, label="low", seed=0)
    assert out.waves.shape == (2, 800) and out.titles == ["low", "low"] and float(out.waves.abs().max()) <= 1
    assert torch.equal(pipe(n=2, label=1, seed=0).waves, out.waves)
    wave, rate = read_audio(out.save(tmp_path / "lows") / "000_low.wav")
    assert rate == RATE and wave.shape == (800,)
    with pytest.raises(BadInputError, match="not one of this model's classes"):
        pipe(n=1, label="mid")


@pytest.mark.filterwarnings("ignore:.*rank-deficient")  # a handful of clips: the numbers are not the point
def test_the_judged_metrics_score_a_wavenet(run, judge_dir):  # noqa: F811  (the fixture imported above)
    result = genlab.evaluate(run.run.path, judge=judge_dir, n=6, seed=0, baselines=False)
    m = result["metrics"]
    assert set(m) == {"label_accuracy", "is", "is_std", "fd"}
    assert 0 <= m["label_accuracy"] <= 1 and 1 <= m["is"] <= 3 and m["fd"] >= 0
    assert result["protocol"]["model"] == "audio/wavenet" and result["protocol"]["n_generated"] == 6


def test_train_command(tones, tmp_path, capsys):
    code, text = cli_ok(
        ["train", "audio-generation", "--model", "wavenet", "--data", str(tones), "--conditional", "--clip-seconds",
         "0.05", "--max-steps", "1", "--batch-size", "4", "--threads", "1", "--no-progress", "--runs-dir",
         str(tmp_path), "--name", "cli", "--set", "model.residual_channels=4", "--set", "model.skip_channels=8",
         "--set", "model.layers_per_stack=2", "--set", "model.stacks=1"], capsys,
    )  # fmt: skip
    assert code == 0, text
    model = genlab.load(tmp_path / "audio-generation" / "cli").model
    assert model.conditional and model.receptive_field == 5 and math.isclose(model.config.clip_samples, 400)
