"""audio/wavenet-vocoder: teacher-forced training, the cached incremental path against the parallel one, seeded
vocoding, the receptive field in frames, chunked vocoding and a run of the vocoder task, on tiny models."""

from __future__ import annotations

import math
from typing import ClassVar

import pytest
import torch

pytest.importorskip("soundfile")
pytest.importorskip("scipy")

import genlab  # noqa: E402
from genlab.audio import io  # noqa: E402
from genlab.audio.generation.wavenet import CLASSES, SILENCE, mu_law_encode  # noqa: E402
from genlab.audio.vocoder import TASK, vocode_stream  # noqa: E402
from genlab.audio.vocoder.wavenet import WaveNetVocoder, WaveNetVocoderConfig, upsample  # noqa: E402
from genlab.core.errors import BadInputError, ConfigError  # noqa: E402
from tests.model_mixin import ModelTesterMixin  # noqa: E402

RATE = 8000  # hop 128, window and FFT 512
TINY = {"sample_rate": RATE, "n_mels": 16, "residual_channels": 8, "skip_channels": 16, "layers_per_stack": 3,
        "stacks": 1, "conditioning_channels": 8, "train_samples": 512}  # fmt: skip


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tone(freq: float = 220.0, seconds: float = 0.1, amplitude: float = 0.5, phase: float = 0.0) -> torch.Tensor:
    t = torch.arange(int(seconds * RATE)) / RATE
    return amplitude * torch.sin(2 * math.pi * freq * t + phase)


def tiny(scale: float = 0.0, **overrides) -> WaveNetVocoder:
    """A tiny vocoder from seed 0; ``scale`` > 0 adds that much noise to every weight (a busier function)."""
    torch.manual_seed(0)
    model = WaveNetVocoder(WaveNetVocoderConfig(**{**TINY, **overrides}))
    if scale:
        with torch.no_grad():
            for p in model.parameters():
                p.add_(scale * torch.randn_like(p))
    return model.eval()


class TestWaveNetVocoder(ModelTesterMixin):
    model_name = "audio/wavenet-vocoder"
    config: ClassVar[dict] = TINY
    validation_keys: ClassVar[set[str] | None] = {"loss", "bits_per_sample"}

    def batch(self, model):
        waves = torch.stack([tone(180 + 60 * i, phase=i) for i in range(4)])  # 800 samples each
        return waves, torch.zeros(4, dtype=torch.long)  # ClipDataset's (waves, labels)

    def sample(self, model, seed):
        return model.vocode(model.mel(self.batch(model)[0][:2]), seed=seed)

    def check_output(self, model, out):
        assert out.shape == (2, 6 * 128) and out.dtype == torch.float32  # (frames − 1) · hop, frames = 1 + 800 // 128
        assert bool(torch.isfinite(out).all()) and float(out.abs().max()) <= 1.0 and float(out.std()) > 0


def test_config_limits_and_receptive_field():
    c = WaveNetVocoderConfig(**TINY)
    assert c.dilations == [1, 2, 4] and c.receptive_field == 9 and c.hop_length == 128
    assert tiny().receptive_frames == 1 + 1 + 1  # kernel 3 reaches 1 frame, interpolation 1, 8 samples < 1 hop
    default = WaveNetVocoderConfig()
    assert default.receptive_field == 512 and WaveNetVocoder(default).receptive_frames == 1 + 1 + 2
    with pytest.raises(ConfigError, match="discriminator"):
        WaveNetVocoderConfig.build({**TINY, "adversarial_weight": 0.1})
    with pytest.raises(ConfigError, match="odd"):
        WaveNetVocoderConfig.build({**TINY, "conditioning_kernel": 4})
    with pytest.raises(BadInputError, match="group"):
        tiny().training_losses(torch.zeros(2, 800), "discriminator")


def test_upsampling_puts_frame_f_on_sample_f_hop():
    frames = torch.tensor([[[0.0, 4.0, 8.0]]])
    out = upsample(frames, 2 * 4 + 3, hop=4)[0, 0]
    assert torch.allclose(out, torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 8.0]))  # linear, then held


def test_training_loss_is_finite_and_falls_on_a_sine():
    model = tiny().train()
    wave = tone().expand(2, -1).contiguous()  # a fixed toy segment, twice
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        opt.zero_grad()
        out = model.training_losses(wave, "generator")
        value = out["loss"].item()
        assert math.isfinite(value) and math.isclose(float(out["bits_per_sample"]), value / math.log(2), rel_tol=1e-5)
        out["loss"].backward()
        opt.step()
        losses.append(value)
    assert losses[0] == pytest.approx(math.log(CLASSES), abs=0.3)  # about uniform at the start
    assert sum(losses[-5:]) / 5 < losses[0] - 1.0, losses


def test_training_windows_start_on_frame_centres_with_their_frames():
    model = tiny(train_samples=300)
    wave = torch.linspace(-0.9, 0.9, 800).expand(3, -1).contiguous()
    inputs, targets, mel = model.windows(wave, torch.Generator().manual_seed(1))
    assert inputs.shape == targets.shape == (3, 300) and mel.shape == (3, 16, 1 + 300 // 128)
    assert bool((inputs[:, 0] == SILENCE).all()) and torch.equal(inputs[:, 1:], targets[:, :-1])
    whole = model.mel(wave)
    for b in range(3):  # the window's first sample sits on the centre of the frame its mel starts with
        frame = [f for f in range(whole.shape[-1]) if torch.equal(whole[b, :, f], mel[b, :, 0])]
        assert len(frame) == 1, "the window's mel frames are not the segment's"
        assert torch.equal(mel[b], whole[b, :, frame[0] : frame[0] + 3])
        assert torch.equal(targets[b], mu_law_encode(wave[b, frame[0] * 128 : frame[0] * 128 + 300]))


def test_incremental_logits_equal_the_parallel_forward():
    model = tiny(scale=0.3)
    g = torch.Generator().manual_seed(0)
    inputs = torch.randint(0, CLASSES, (2, 300), generator=g)
    mel = torch.randn(2, 16, 4, generator=g) - 5  # 300 samples run past the last frame centre (384 > 300 > 256)
    with torch.no_grad():
        full = model.logits(inputs, mel)  # (2, 256, 300)
        state = model.start(mel)
        cached = torch.stack([model.step(inputs[:, t], state) for t in range(inputs.shape[1])], dim=2)
    assert full.std() > 0.5  # a function that varies
    assert torch.allclose(cached, full, atol=1e-4, rtol=0), float((cached - full).abs().max())


def test_the_logits_depend_on_the_frames_within_the_receptive_frames_only():
    model = tiny(scale=0.3)
    g = torch.Generator().manual_seed(1)
    inputs = torch.randint(0, CLASSES, (1, 128 * 11), generator=g)
    mel = torch.randn(1, 16, 12, generator=g) - 5
    changed = mel.clone()
    changed[..., 6] += 3.0
    with torch.no_grad():
        a, b = model.logits(inputs, mel), model.logits(inputs, changed)
    differs = (a - b).abs().amax(1)[0] > 1e-6  # (samples,)
    r = model.receptive_frames
    assert bool(differs.any())
    first, last = int(differs.nonzero()[0]), int(differs.nonzero()[-1])
    assert first >= (6 - r) * 128 and last < (6 + r) * 128, (first, last, r)


def test_vocode_shapes_lengths_and_range():
    model = tiny(scale=0.1)
    mel = model.mel(tone(seconds=0.05))  # 1 + 400 // 128 = 4 frames
    out = model.vocode(mel)
    assert out.shape == (3 * 128,) and out.dtype == torch.float32 and float(out.abs().max()) <= 1.0
    assert model.vocode(mel, length=3 * 128 + 100).shape == (484,)
    assert model.vocode(torch.stack([mel, mel])).shape == (2, 384)
    assert model.resynthesize(tone(seconds=0.05)).shape == (400,)
    assert model.vocode(mel[:, :1]).shape == (0,)  # one frame: no frame centre inside a wave
    with pytest.raises(BadInputError, match="frames"):
        model.vocode(mel, length=10)
    with pytest.raises(BadInputError, match="temperature"):
        model.vocode(mel, temperature=-1)


def test_seeded_vocoding_is_deterministic_and_the_temperature_matters():
    model = tiny(scale=0.3)
    mel = model.mel(tone(seconds=0.05))
    a, b = model.vocode(mel, seed=3), model.vocode(mel, seed=3)
    assert torch.equal(a, b) and not torch.equal(a, model.vocode(mel, seed=4))
    assert torch.equal(model.vocode(mel, generator=torch.Generator().manual_seed(3)), a)
    assert torch.equal(model.vocode(mel), model.vocode(mel, seed=model.config.seed))  # the config's seed
    greedy = model.vocode(mel, seed=1, temperature=0)
    assert torch.equal(greedy, model.vocode(mel, seed=2, temperature=0))  # the argmax draws nothing
    assert model._draw == (None, None)  # vocode's options do not outlive the call


def test_chunked_vocoding():
    """One piece covering the input equals vocode. With smaller pieces the output has the right length and range
    but is another draw: a piece restarts from an empty history before its core, while a whole-input draw carries
    every earlier sample along (no sampled autoregressive model can give equal samples there)."""
    model = tiny(scale=0.1)
    mel = model.mel(tone(seconds=0.2))  # 13 frames
    whole = model.vocode(mel, seed=0)
    one = torch.cat(list(vocode_stream(model, [mel], chunk_frames=64)))
    assert torch.equal(one, whole)
    pieces = list(vocode_stream(model, [mel[:, :5], mel[:, 5:]], chunk_frames=4, length=1600))
    out = torch.cat(pieces)
    assert len(pieces) > 1 and out.shape == (1600,) and float(out.abs().max()) <= 1.0


def test_the_vocoder_task_trains_and_reloads_it(tmp_path):
    root = tmp_path / "wavs"
    root.mkdir()
    for i in range(3):
        io.write_audio(root / f"tone{i}.wav", tone(150 + 50 * i, seconds=0.3, amplitude=0.3), RATE)
    result = genlab.train(
        TASK, "wavenet-vocoder", str(root), "tiny", max_steps=2, batch_size=2, threads=1, progress=False,
        sample_every=0, val_batches=1, log_every=1, runs_dir=tmp_path / "runs",
        data_options={"sample_rate": RATE, "clip_seconds": 0.1, "val_fraction": 0.34, "segments_per_epoch": 4},
        model_options={k: v for k, v in TINY.items() if k != "sample_rate"},
    )  # fmt: skip
    assert result.status == "completed" and result.steps == 2
    model = genlab.load(result.run.path).model
    assert isinstance(model, WaveNetVocoder) and model.config.n_mels == 16
    assert model.vocode(model.mel(tone(seconds=0.05))).shape == (384,)
