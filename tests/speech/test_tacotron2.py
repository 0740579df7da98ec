"""The Tacotron 2 acoustic model: losses, guided attention, masking, autoregressive inference and its controls."""

import math

import pytest
import torch

from genlab.core.errors import BadInputError
from genlab.core.registry import MODELS
from genlab.speech.tts.tacotron2 import Tacotron2, Tacotron2Config, diagonality, guided_attention_weights
from tests.model_mixin import ModelTesterMixin

N_MELS = 16
TINY = {
    "symbols": ["a", "b", "c", "d", "e", "f"], "n_mels": N_MELS, "embedding_dim": 16, "encoder_dim": 16,
    "prenet_dim": 16, "attention_rnn_dim": 16, "decoder_rnn_dim": 16, "attention_dim": 8, "location_filters": 4,
    "location_kernel": 5, "postnet_channels": 16, "postnet_layers": 3, "dropout": 0.0, "rnn_dropout": 0.0,
    "max_decoder_steps": 40,
}  # fmt: skip
SILENCE = math.log(1e-5)  # the front end's default log_floor: the padding of the mels


def tiny(**overrides) -> Tacotron2:
    torch.manual_seed(0)
    return Tacotron2(Tacotron2Config.build({**TINY, **overrides}, where="test"))


def utterance(n_ids: int, frames: int, shift: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Ids (n_ids,) framed by <bos>/<eos> and smooth log-mels (N_MELS, frames) that move with time."""
    ids = torch.tensor([1, *[5 + (i * 3 + int(shift)) % 6 for i in range(n_ids - 2)], 2])
    t = torch.arange(frames, dtype=torch.float32)[None, :] / frames
    k = torch.arange(N_MELS, dtype=torch.float32)[:, None] / N_MELS
    return ids, -4.0 + 2.0 * torch.sin(3.0 * (k + t + shift)) + k


def batch_of(utterances, extra_ids: int = 0, extra_frames: int = 0, speakers=None):
    """The padded batch ``(ids, id_lengths, mels, mel_lengths, speakers, f0)`` (padding beyond the longest too)."""
    length = max(len(i) for i, _ in utterances) + extra_ids
    frames = max(m.shape[1] for _, m in utterances) + extra_frames
    ids = torch.zeros(len(utterances), length, dtype=torch.long)
    mels = torch.full((len(utterances), N_MELS, frames), SILENCE)
    for b, (i, m) in enumerate(utterances):
        ids[b, : len(i)], mels[b, :, : m.shape[1]] = i, m
    speakers = torch.zeros(len(utterances), dtype=torch.long) if speakers is None else torch.tensor(speakers)
    id_lengths = torch.tensor([len(i) for i, _ in utterances])
    mel_lengths = torch.tensor([m.shape[1] for _, m in utterances])
    return ids, id_lengths, mels, mel_lengths, speakers, torch.zeros(len(utterances), frames)


TOY = [utterance(6, 13), utterance(5, 10, shift=1.0)]


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors gain nothing from intra-op threads, and on a busy machine they cost a lot."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class TestTacotron2(ModelTesterMixin):
    """The shared model suite: the output is the seeded inference of a fixed sentence (prenet dropout)."""

    model_name = "speech/tacotron2"
    config = TINY
    validation_keys = {"loss"}
    optimizer_steps = 10

    def batch(self, model):
        return batch_of(TOY)

    def sample(self, model, seed):
        torch.manual_seed(seed)
        return model.infer(TOY[0][0])

    def check_output(self, model, out):
        assert out.dtype == torch.float32 and out.dim() == 2 and out.shape[0] == N_MELS
        assert 1 <= out.shape[1] <= 40 * model.config.r and torch.isfinite(out).all()


def test_registered_and_losses_are_finite_scalars():
    assert MODELS.get("speech/tacotron2") is Tacotron2
    out = tiny().training_losses(batch_of(TOY), "acoustic")
    assert set(out) == {"loss", "mel_decoder", "mel_postnet", "stop", "guided_attention", "attention_diagonality"}
    for key, value in out.items():
        assert value.shape == () and torch.isfinite(value), key
    assert out["loss"].requires_grad and 0 <= float(out["attention_diagonality"]) <= 1
    weight = Tacotron2Config.model_fields["guided_attention_weight"].default
    terms = out["mel_decoder"] + out["mel_postnet"] + out["stop"] + weight * out["guided_attention"]
    assert torch.allclose(out["loss"].detach(), terms)


def test_guided_attention_weights_match_hand_computed_values():
    w = guided_attention_weights(torch.tensor([2, 3]), torch.tensor([2, 1]), sigma=0.2)
    assert w.shape == (2, 2, 3)
    a, b, c = 1 - math.exp(-0.25 / 0.08), 1 - math.exp(-(1 / 9) / 0.08), 1 - math.exp(-(4 / 9) / 0.08)
    # N=2, T=2: (n/2 − t/2)², the third symbol is padding; N=3, T=1: (n/3)², the second step is padding
    expected = torch.tensor([[[0.0, a, 0.0], [a, 0.0, 0.0]], [[0.0, b, c], [0.0, 0.0, 0.0]]])
    assert torch.allclose(w, expected, atol=1e-6)


def test_thirty_adam_steps_lower_the_loss_on_two_utterances():
    model = tiny().train()
    batch = batch_of(TOY)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)

    def loss(step: bool = False) -> torch.Tensor:
        torch.manual_seed(3)
        out = model.training_losses(batch, "acoustic")
        if step:
            opt.zero_grad()
            out["loss"].backward()
            opt.step()
        return out

    before = loss()
    for _ in range(30):
        loss(step=True)
    after = loss()
    assert after["loss"] < 0.5 * before["loss"], (float(before["loss"]), float(after["loss"]))
    assert after["mel_postnet"] < before["mel_postnet"] and after["stop"] < before["stop"]


def test_padding_does_not_change_the_loss_terms():
    """The batch's mel and stop terms are the frame- (step-) weighted means of each utterance's own terms."""
    model = tiny(prenet_dropout=0.0).train()  # no randomness: the same numbers whatever the batch shape
    alone = [model.training_losses(batch_of([u]), "acoustic") for u in TOY]
    both = model.training_losses(batch_of(TOY, extra_ids=3, extra_frames=7), "acoustic")
    frames = torch.tensor([13.0, 10.0])
    steps = torch.tensor([7.0, 5.0])  # ⌈F / r⌉
    pairs = torch.tensor([6.0 * 7, 5.0 * 5])  # N · T of the guided attention
    for key, weight in (("mel_decoder", frames), ("mel_postnet", frames), ("stop", steps), ("guided_attention", pairs)):
        mixed = sum(w * a[key] for w, a in zip(weight, alone, strict=True)) / weight.sum()
        assert torch.allclose(both[key], mixed, rtol=1e-4, atol=1e-6), key


def test_infer_stops_on_the_stop_token_or_at_the_cap():
    model = tiny().eval()
    ids = TOY[0][0]
    with torch.no_grad():
        model.decoder.stop.bias.fill_(20.0)  # stops after the first step
    mel = model.infer(ids)
    assert mel.shape == (N_MELS, model.config.r) and model.last_alignment.shape == (1, len(ids))
    with torch.no_grad():
        model.decoder.stop.bias.fill_(-20.0)  # never stops: the cap ends it
    assert model.infer(ids).shape == (N_MELS, 40 * 2)  # max_decoder_steps = 40 < ⌈20 · 6 / 2⌉ = 60
    model.config.max_frames_per_symbol = 3.0  # ⌈3 · 6 / 2⌉ = 9 steps
    assert model.infer(ids).shape == (N_MELS, 9 * 2) and model.last_alignment.shape == (9, len(ids))
    assert torch.allclose(model.last_alignment.sum(-1), torch.ones(9))


def test_speed_resamples_the_frames_and_unknown_controls_are_refused():
    model = tiny().eval()
    with torch.no_grad():
        model.decoder.stop.bias.fill_(-20.0)
    model.config.max_frames_per_symbol = 5.0  # 15 steps, 30 frames
    torch.manual_seed(0)
    normal = model.infer(TOY[0][0])
    torch.manual_seed(0)
    fast = model.infer(TOY[0][0], speed=2.0)
    assert normal.shape[1] == 30 and abs(fast.shape[1] - 15) <= 1
    assert torch.allclose(fast[:, 0], normal[:, 0]) and torch.allclose(fast[:, -1], normal[:, -1])
    with pytest.raises(BadInputError, match="no pitch") as err:
        model.infer(TOY[0][0], pitch=1.0)
    assert "speech/fastspeech" in err.value.hint


def test_infer_is_deterministic_under_a_seed_and_varies_without():
    model = tiny().eval()
    torch.manual_seed(5)
    a = model.infer(TOY[1][0])
    torch.manual_seed(5)
    b = model.infer(TOY[1][0])
    c = model.infer(TOY[1][0])  # other prenet dropout draws
    assert torch.equal(a, b) and not (a.shape == c.shape and torch.equal(a, c))


def test_alignment_and_diagonality():
    model = tiny()
    ids, id_lengths, mels, mel_lengths, speakers, _ = batch_of(TOY, extra_ids=2)
    attn = model.alignment(ids, id_lengths, mels, mel_lengths, speakers)
    assert attn.shape == (2, 7, 6) and model.training  # ⌈13 / 2⌉ steps of the longest, its 6 symbols (trimmed)
    assert torch.allclose(attn.sum(-1), torch.ones(2, 7), atol=1e-5) and attn[1, :, 5:].abs().max() == 0
    assert 0.0 <= diagonality(attn, id_lengths, mel_lengths, r=2) <= 1.0
    # a perfectly linear alignment: step t of T attends to symbol ⌊t·N/T⌋
    steps, symbols = 40, 20
    line = torch.zeros(1, steps, symbols)
    line[0, torch.arange(steps), torch.arange(steps) * symbols // steps] = 1.0
    assert diagonality(line, torch.tensor([symbols]), torch.tensor([steps])) == pytest.approx(1.0)
    uniform = torch.full((1, steps, symbols), 1.0 / symbols)
    assert diagonality(uniform, torch.tensor([symbols]), torch.tensor([steps])) < 0.3


def test_speakers_change_the_output_and_frame_counts_pad_to_r():
    model = tiny(speakers=["x", "y"], speaker_dim=4, r=3)
    assert model.speaker_embedding is not None
    out = model.training_losses(batch_of(TOY, speakers=[0, 1]), "acoustic")  # 13 and 10 frames: padded to 15
    assert torch.isfinite(out["loss"])
    model.eval()
    torch.manual_seed(1)
    a = model.infer(TOY[0][0], speaker=0)
    torch.manual_seed(1)
    b = model.infer(TOY[0][0], speaker=1)
    assert a.shape[1] % 3 == 0 and not (a.shape == b.shape and torch.equal(a, b))
    with pytest.raises(BadInputError, match="out of range"):
        model.infer(TOY[0][0], speaker=2)


def test_bad_inputs_are_refused():
    model = tiny()
    with pytest.raises(BadInputError, match="mel bands"):
        ids, il, mels, ml, spk, f0 = batch_of(TOY)
        model.training_losses((ids, il, mels[:, :8], ml, spk, f0), "acoustic")
    with pytest.raises(BadInputError, match="ids"):
        model.infer(torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(Exception, match="odd"):
        Tacotron2Config.build({**TINY, "postnet_kernel": 4}, where="test")
