"""Fine-tuning a vocoder on an acoustic model's ground-truth-aligned mels (`genlab train vocoder --mels-from RUN`):
the aligned mels, the segments cut from them, the vocoder's use of them, and the errors."""

from pathlib import Path

import pytest
import torch

import genlab
from genlab.audio import espeak
from genlab.audio.vocoder.task import AlignedSegmentDataset
from genlab.core.errors import BadInputError, ConfigError
from genlab.core.model import GenerativeModel
from genlab.core.registry import TASKS
from genlab.core.runs import resolve_model_dir
from tests.cli_helpers import cli_ok
from tests.speech.voices import spoken_folder, tiny_voice

pytestmark = pytest.mark.skipif(not espeak.available(), reason="espeakng-loader (the audio extra) is not installed")
SENTENCES = ["Hello there, how are you today?", "Good morning to you and your family.",
             "The cat sat quietly on the mat.", "See you soon, my dear old friend."]  # fmt: skip
TINY_VOCOS = {"dim": 8, "intermediate_dim": 8, "layers": 1}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Four spoken sentences in the LJ Speech layout."""
    return spoken_folder(tmp_path_factory.mktemp("voice"), SENTENCES)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def voice(folder, runs):
    return tiny_voice(
        folder,
        runs,
        "voice",
        max_steps=2,
        val_fraction=0.25,
        sample_every=0,
        model_options={"postnet_layers": 1, "postnet_channels": 8},
    )


@pytest.fixture(scope="module")
def base_vocoder(folder, runs):
    return genlab.train("vocoder", "vocos", str(folder / "wavs"), "voc", max_steps=1, batch_size=2, runs_dir=runs,
                        progress=False, sample_every=0, model_options=TINY_VOCOS,
                        data_options={"segments_per_epoch": 4}).run.path  # fmt: skip


def _acoustic(run):
    return GenerativeModel.from_pretrained(resolve_model_dir(run))


def test_aligned_mels_match_the_recordings_frame_for_frame(voice, folder):
    model = _acoustic(voice)
    mels = TASKS.get("tts").aligned_mels(model)
    assert len(mels.train) == 3 and len(mels.val) == 1 and Path(mels.source).resolve() == folder.resolve()
    front = model.front_end
    for wave, mel in mels.train + mels.val:
        assert mel.shape == (front.n_mels, front.frames(len(wave)))
        assert torch.isfinite(mel.float()).all()
    again = TASKS.get("tts").aligned_mels(model)  # dropout off: the same mels twice
    assert all(torch.equal(a[1], b[1]) for a, b in zip(mels.train, again.train, strict=True))


def test_tacotron_gives_aligned_mels_of_the_recordings_length(folder, runs):
    tiny = {"embedding_dim": 16, "encoder_dim": 16, "encoder_conv_layers": 1, "prenet_dim": 16,
            "attention_rnn_dim": 16, "decoder_rnn_dim": 16, "attention_dim": 16, "location_filters": 4,
            "postnet_channels": 16, "postnet_layers": 2, "max_decoder_steps": 40}  # fmt: skip
    run = genlab.train("tts", "tacotron2", str(folder), "taco", max_steps=1, batch_size=4, runs_dir=runs,
                       progress=False, sample_every=0, model_options=tiny).run.path  # fmt: skip
    mels = TASKS.get("tts").aligned_mels(_acoustic(run))
    assert all(mel.shape[-1] == _acoustic(run).front_end.frames(len(wave)) for wave, mel in mels.train)


def test_segments_pair_each_wave_with_its_centred_frames():
    hop, frames = 4, 5
    wave = torch.arange(40, dtype=torch.float32)
    mel = torch.arange(11, dtype=torch.float32).repeat(3, 1)  # frame f holds f: centred on sample f·hop
    short = (torch.zeros(8), torch.zeros(3, 3))
    train = AlignedSegmentDataset([(wave, mel), short], hop, frames, length=50)
    assert train.skipped == 1 and len(train) == 50
    for _ in range(20):
        segment, frames_ = train[0]
        assert segment.shape == (frames * hop,) and frames_.shape == (3, frames + 1)
        assert int(segment[0]) == int(frames_[0, 0]) * hop  # the first frame is centred on the first sample
    val = AlignedSegmentDataset([(wave, mel)], hop, frames, random=False)
    assert len(val) == 1 and torch.equal(val[0][0], val[0][0]) and int(val[0][1][0, 0]) == 2  # the centre segment


def test_a_vocoder_inverts_the_mels_it_is_given(base_vocoder):
    vocoder = _acoustic(base_vocoder)
    torch.manual_seed(0)
    wave = 0.1 * torch.randn(2, vocoder.config.samples(9))
    own = vocoder.mel(wave)
    alone = vocoder.training_losses(wave)["loss"]
    assert torch.allclose(vocoder.training_losses((wave, own))["loss"], alone)  # its own mels: the usual loss
    other = vocoder.training_losses((wave, own + 1.0))["loss"]
    assert not torch.allclose(other, alone)
    with pytest.raises(BadInputError, match="mel frames"):
        vocoder.training_losses((wave, own[..., :-1]))


def test_fine_tuning_on_aligned_mels_trains_from_a_vocoder(voice, base_vocoder, folder, runs, capsys):
    code, out = cli_ok(["train", "vocoder", "--model", "vocos", "--data", str(folder), "--mels-from", str(voice),
                        "--init-from", str(base_vocoder), "--max-steps", "2", "--batch-size", "2",
                        "--clip-seconds", "0.25", "--name", "tuned", "--runs-dir", str(runs)], capsys)  # fmt: skip
    assert code == 0, out
    run = runs / "vocoder" / "tuned"
    assert GenerativeModel.from_pretrained(run / "model").config.dim == TINY_VOCOS["dim"]  # the base's sizes kept
    assert "starting from the weights" in out and (run / "model" / "config.json").is_file()
    assert any(p.suffix == ".png" for p in (run / "samples").iterdir())
    tuned = genlab.load(voice)("Hello there.", vocoder=str(run), seed=0)  # it inverts the voice's mels
    assert tuned.wave.numel() > 0 and tuned.wave.abs().max() <= 1.0


def test_aligned_mels_need_the_voices_corpus_and_a_tts_run(voice, base_vocoder, folder, runs):
    train = {"max_steps": 1, "batch_size": 2, "runs_dir": runs, "progress": False, "model_options": TINY_VOCOS}
    with pytest.raises(ConfigError, match=f"--data {folder}"):
        genlab.train("vocoder", "vocos", str(folder / "wavs"), "wrong-data", **train,
                     data_options={"mels_from": str(voice)})  # fmt: skip
    with pytest.raises(ConfigError, match="gives no aligned mels"):
        genlab.train("vocoder", "vocos", str(folder / "wavs"), "not-tts", **train,
                     data_options={"mels_from": str(base_vocoder)})  # fmt: skip


def test_the_wavenet_vocoder_refuses_given_mels():
    from genlab.audio.vocoder.wavenet import WaveNetVocoder, WaveNetVocoderConfig

    model = WaveNetVocoder(WaveNetVocoderConfig(residual_channels=4, skip_channels=4, layers_per_stack=2, stacks=1))
    wave = torch.zeros(1, model.config.samples(5))
    with pytest.raises(BadInputError, match="own mels"):
        model.training_losses((wave, model.mel(wave)))
