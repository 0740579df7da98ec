"""The FastSpeech 2 acoustic model: its losses and alignment, training, inference controls and the shared suite."""

import math

import pytest
import torch

from genlab.core.errors import BadInputError
from genlab.core.model import GenerativeModel
from genlab.core.registry import MODELS
from genlab.speech.tts.alignment import durations as alignment_durations
from genlab.speech.tts.alignment import monotonic_alignment_search
from genlab.speech.tts.fastspeech import FastSpeech, FastSpeechConfig
from tests.model_mixin import ModelTesterMixin

N_MELS = 16
TINY = {"symbols": ["a", "b", "c", "d", "e", "f"], "n_mels": N_MELS, "hidden": 16, "n_heads": 2,
        "encoder_layers": 1, "decoder_layers": 1, "ffn_hidden": 32, "predictor_channels": 16, "dropout": 0.0,
        "predictor_dropout": 0.0, "lr": 3e-3}  # fmt: skip
LOSS_KEYS = {"loss", "mel", "prior", "duration", "pitch", "energy"}


def tiny(**overrides) -> FastSpeech:
    torch.manual_seed(0)
    return FastSpeech(FastSpeechConfig.build({**TINY, **overrides}))


def utterances(n: int = 2, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Toy utterances (ids (L,), log-mel (n_mels, F), f0 (F,)): each symbol id has its own mel pattern and pitch
    (ids 5 and 6 unvoiced) and lasts 2–5 frames, framed by <bos>/<eos>."""
    g = torch.Generator().manual_seed(seed)
    patterns = torch.randn(11, N_MELS, generator=g) * 2 - 4
    hertz = torch.tensor([0, 120, 110, 130, 150, 0, 0, 170, 190, 140, 160.0])
    out = []
    for i in range(n):
        inner = torch.randint(5, 11, (4 + 2 * i,), generator=g)
        ids = torch.cat([torch.tensor([1]), inner, torch.tensor([2])])
        frames = torch.randint(2, 6, (len(ids),), generator=g)
        mel = torch.repeat_interleave(patterns[ids], frames, dim=0).T
        mel = mel + 0.1 * torch.randn(mel.shape, generator=g)
        out.append((ids, mel, torch.repeat_interleave(hertz[ids], frames)))
    return out


def collate(items, extra_symbols: int = 0, extra_frames: int = 0, pad_value: float = -11.5):
    """The padded batch of the tts task ``(ids, id_lengths, mels, mel_lengths, speakers, f0)``."""
    n_ids = max(len(ids) for ids, _, _ in items) + extra_symbols
    n_frames = max(mel.shape[1] for _, mel, _ in items) + extra_frames
    ids = torch.zeros(len(items), n_ids, dtype=torch.long)
    mels = torch.full((len(items), N_MELS, n_frames), pad_value)
    f0 = torch.zeros(len(items), n_frames)
    for b, (i, mel, hz) in enumerate(items):
        ids[b, : len(i)], mels[b, :, : mel.shape[1]], f0[b, : len(hz)] = i, mel, hz
    lengths = torch.tensor([len(i) for i, _, _ in items]), torch.tensor([m.shape[1] for _, m, _ in items])
    return ids, lengths[0], mels, lengths[1], torch.zeros(len(items), dtype=torch.long), f0


def test_loss_terms_are_finite_scalars_and_alignment_is_surjective():
    model = tiny().train()
    batch = collate(utterances(3))
    losses = model.training_losses(batch, "acoustic")
    assert set(losses) == LOSS_KEYS
    for key, value in losses.items():
        assert value.dim() == 0 and torch.isfinite(value), key
    assert losses["loss"].requires_grad
    ids, id_lengths, mels, mel_lengths, _, _ = batch
    with torch.no_grad():
        means = model.to_means(model.encode(ids, id_lengths, torch.zeros(3, dtype=torch.long)))
        log_p = model.log_likelihoods(means, model.normalize(mels))
    d = alignment_durations(monotonic_alignment_search(log_p, id_lengths, mel_lengths))
    assert torch.equal(d.sum(1), mel_lengths)
    real = torch.arange(d.shape[1])[None, :] < id_lengths[:, None]
    assert (d[real] >= 1).all() and (d[~real] == 0).all()


def test_the_encoder_tells_symbols_apart_more_than_positions_at_initialisation():
    """Symbol embeddings on the scale of the sinusoidal positions: encodings of one symbol at different places
    lie closer together than those of different symbols (else alignment starts out reading positions)."""
    torch.manual_seed(0)
    model = FastSpeech(FastSpeechConfig.build({"symbols": list("abcdefgh")})).eval()  # default widths
    ids = torch.randint(3, len(model.vocabulary), (1, 40), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        h = model.encode(ids, torch.tensor([40]), torch.zeros(1, dtype=torch.long))[0]
    distance = (h[:, None] - h[None]).norm(dim=-1)
    same = (ids[0][:, None] == ids[0][None]) & ~torch.eye(40, dtype=torch.bool)
    assert distance[~same & ~torch.eye(40, dtype=torch.bool)].mean() > 1.5 * distance[same].mean()


def test_log_likelihoods_are_gaussian_densities():
    model = tiny()
    means, mel = torch.randn(2, 3, N_MELS), torch.randn(2, N_MELS, 5)
    expected = torch.distributions.Normal(means[:, :, None, :], 1.0).log_prob(mel.transpose(1, 2)[:, None]).sum(-1)
    torch.testing.assert_close(model.log_likelihoods(means, mel), expected, atol=1e-4, rtol=1e-4)


def test_symbol_targets_average_over_aligned_frames():
    model = tiny(f0_mean=0.0, f0_std=1.0)
    alignment = torch.tensor([[[1, 1, 0, 0, 0], [0, 0, 1, 1, 1]]], dtype=torch.float32)
    f0 = torch.tensor([[0.0, 0.0, 100.0, 0.0, 400.0]])
    mel = torch.arange(5.0)[None, None, :].expand(1, N_MELS, 5)
    pitch, energy = model.symbol_targets(alignment, mel, f0)
    torch.testing.assert_close(pitch, torch.tensor([[0.0, math.log(200.0)]]))  # ½(ln 100 + ln 400)
    torch.testing.assert_close(energy, torch.tensor([[0.5, 3.0]]))


def test_thirty_adam_steps_lower_the_loss():
    model = tiny().train()
    batch = collate(utterances(2))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(30):
        opt.zero_grad()
        losses = model.training_losses(batch, "acoustic")
        losses["loss"].backward()
        opt.step()
        first = first or {k: v.item() for k, v in losses.items()}
    last = {k: v.item() for k, v in model.training_losses(batch, "acoustic").items()}
    assert last["loss"] < 0.7 * first["loss"], (first, last)
    assert last["mel"] < first["mel"] and last["prior"] < first["prior"] and last["duration"] < first["duration"]


def test_a_padded_batch_gives_the_loss_of_the_unpadded_one():
    model = tiny(postnet_layers=2, postnet_channels=8).eval()
    items = utterances(2)
    with torch.no_grad():
        tight = model.training_losses(collate(items), "acoustic")
        loose = model.training_losses(collate(items, extra_symbols=3, extra_frames=7), "acoustic")
        alone = [model.training_losses(collate([item]), "acoustic") for item in items]
    for key in LOSS_KEYS:
        torch.testing.assert_close(tight[key], loose[key], atol=1e-5, rtol=1e-5)
    # each utterance alone: the batch's means are the frame- (or symbol-) weighted means of theirs
    frames = torch.tensor([float(mel.shape[1]) for _, mel, _ in items])
    symbols = torch.tensor([float(len(ids)) for ids, _, _ in items])
    for key in LOSS_KEYS - {"loss"}:
        weights = symbols if key in ("duration", "pitch", "energy") else frames
        pooled = sum(float(a[key]) * w for a, w in zip(alone, weights, strict=True)) / weights.sum()
        torch.testing.assert_close(tight[key], pooled.float(), atol=1e-5, rtol=1e-5)


def test_infer_shape_durations_and_speed():
    model = tiny().eval()
    ids = utterances(1)[0][0]
    mel = model.infer(ids)
    d = model.last_durations
    assert mel.dtype == torch.float32 and mel.shape == (N_MELS, int(d.sum()))
    assert d.shape == ids.shape and (d >= 1).all()
    frames_per_symbol(model, 8.0)
    assert model.infer(ids).shape[1] == 8 * len(ids)
    assert model.infer(ids, speed=2.0).shape[1] == 4 * len(ids) and (model.last_durations == 4).all()
    assert model.infer(ids, speed=3.0).shape[1] == 3 * len(ids)  # 8/3 rounds to 3


def frames_per_symbol(model: FastSpeech, frames: float) -> None:
    """Make the duration predictor say ``frames`` for every symbol."""
    model.duration_predictor.out.weight.data.zero_()
    model.duration_predictor.out.bias.data.fill_(float(torch.log1p(torch.tensor(frames))))


def test_infer_is_deterministic_and_controls_change_the_output():
    model = tiny().eval()
    ids = utterances(1)[0][0]
    base = model.infer(ids)
    assert torch.equal(base, model.infer(ids))
    higher, louder = model.infer(ids, pitch=4.0), model.infer(ids, energy=1.0)
    assert higher.shape == base.shape and louder.shape == base.shape
    assert not torch.allclose(higher, base) and not torch.allclose(louder, base)
    assert torch.equal(model.infer(ids, pitch=0.0, energy=0.0), base)


def test_infer_rejects_bad_input():
    model = tiny().eval()
    ids = utterances(1)[0][0]
    with pytest.raises(BadInputError, match="unknown control") as err:
        model.infer(ids, loudness=1.0)
    assert "pitch, energy" in err.value.hint
    long_model = tiny(max_frames=16).eval()
    frames_per_symbol(long_model, 3.0)
    with pytest.raises(BadInputError, match="would have 18 frames, more than max_frames"):
        long_model.infer(ids)
    with pytest.raises(BadInputError, match="out of range"):
        model.infer(ids, speaker=1)
    with pytest.raises(BadInputError, match="ids must lie"):
        model.infer(torch.tensor([1, 99, 2]))


def test_a_mel_shorter_than_its_text_is_reported():
    model = tiny()
    ids, mel, f0 = utterances(1)[0]
    with pytest.raises(BadInputError, match="mel frames for"):
        model.training_losses(collate([(ids, mel[:, :3], f0[:3])]), "acoustic")


def test_several_speakers_get_an_embedding():
    model = tiny(speakers=["ann", "bob"]).eval()
    ids = utterances(1)[0][0]
    ann, bob = model.infer(ids, speaker=0), model.infer(ids, speaker=1)  # durations may differ as well
    assert model.speaker is not None and (ann.shape != bob.shape or not torch.allclose(ann, bob))
    batch = list(collate(utterances(2)))
    batch[4] = torch.tensor([0, 1])
    assert torch.isfinite(model.training_losses(tuple(batch), "acoustic")["loss"])


def test_save_and_load_give_the_same_mel(tmp_path):
    model = tiny(postnet_layers=2, postnet_channels=8)
    model.save_pretrained(tmp_path)
    loaded = GenerativeModel.from_pretrained(tmp_path)
    assert isinstance(loaded, FastSpeech) and (tmp_path / "vocabulary.json").exists()
    ids = utterances(1)[0][0]
    assert torch.equal(loaded.infer(ids, pitch=1.0), model.eval().infer(ids, pitch=1.0))


def test_config_checks_its_sizes():
    with pytest.raises(Exception, match="multiple of n_heads"):
        FastSpeechConfig.build({**TINY, "hidden": 15})
    with pytest.raises(Exception, match="must be odd"):
        FastSpeechConfig.build({**TINY, "ffn_kernel": 4})


class TestFastSpeech(ModelTesterMixin):
    """The shared model suite: the output is the mel of fixed ids, which ignores the seed."""

    model_name = "speech/fastspeech"
    config = TINY
    validation_keys = LOSS_KEYS
    seeded_outputs = False
    optimizer_steps = 10

    def batch(self, model):
        return collate(utterances(2))

    def sample(self, model, seed):
        torch.manual_seed(seed)
        return model.eval().infer(utterances(1)[0][0])

    def check_output(self, model, out):
        assert out.dtype == torch.float32 and out.dim() == 2 and out.shape[0] == N_MELS and out.shape[1] >= 6
        assert torch.isfinite(out).all()


def test_registered():
    assert MODELS.get("speech/fastspeech") is FastSpeech
