"""The tts task end to end: training through the engine, `genlab speak` (text, files, mixed languages, default
voices), fine-tuning from a voice, and `genlab eval` with a recogniser."""

import pytest
import torch

import genlab
from genlab.audio import espeak
from genlab.audio.io import read_audio
from genlab.core.errors import BadInputError
from genlab.core.registry import METRICS, MODELS, PIPELINES, TASKS
from tests.cli_helpers import cli_ok
from tests.speech.voices import TINY_FASTSPEECH, spoken_folder, tiny_voice

pytestmark = pytest.mark.skipif(not espeak.available(), reason="espeakng-loader (the audio extra) is not installed")
SENTENCES = ["Hello there.", "Good morning to you.", "It is 7 o'clock.", "See you soon, my friend.",
             "The cat sat on the mat.", "Dr. Smith paid $3.50."]  # fmt: skip
ASR_TINY = {"n_mels": 32, "conv_channels": 16, "gru_hidden": 16, "gru_layers": 1, "targets": "chars"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Six spoken sentences in the LJ Speech layout."""
    return spoken_folder(tmp_path_factory.mktemp("voice"), SENTENCES)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def voice(folder, runs):
    """A tiny FastSpeech trained for a few steps, named as the default English voice."""
    return tiny_voice(folder, runs, "voice-en", max_steps=3, val_fraction=0.34)


def test_registered_everywhere():
    assert TASKS.get("tts").modality == "speech" and MODELS.get("speech/fastspeech").task == "tts"
    assert PIPELINES.get("speech/speak").verb == "speak"
    assert {"speech/mcd", "speech/f0_rmse", "speech/rtf"} <= set(METRICS.names("speech/"))
    assert METRICS.get("speech/cer").serves("tts") and METRICS.get("speech/cer").serves("asr")


def test_training_writes_a_voice_with_its_vocabulary_and_samples(voice):
    model_dir = voice / "model"
    assert (model_dir / "vocabulary.json").is_file() and (model_dir / "model.safetensors").is_file()
    samples = {p.suffix for p in (voice / "samples").iterdir()}
    assert {".wav", ".png"} <= samples


def test_speak_returns_a_wave_and_its_rate(voice):
    pipe = genlab.load(voice)
    out = pipe(text="Hello there, 3 cats.", speed=1.0, seed=0)
    assert out.sample_rate == 16000 and out.wave.dim() == 1 and out.wave.abs().max() <= 1.0
    again = pipe("Hello there, 3 cats.", seed=0)
    assert torch.equal(out.wave, again.wave)  # seeded
    fast = pipe("Hello there, 3 cats.", speed=2.0, seed=0)
    assert len(fast.wave) < len(out.wave)
    with pytest.raises(BadInputError):
        pipe("🙂")
    with pytest.raises(BadInputError, match="not both"):
        pipe("Hi.", file="x.txt")


def test_mixed_text_speaks_the_models_language_and_names_the_rest(voice):
    pipe = genlab.load(voice)
    with pytest.warns(UserWarning, match="Mandarin"):
        out = pipe("Hello. 你好。 Goodbye.", seed=0)
    assert out.info["sentences"] == 2 and any("Mandarin" in s for s in out.info["skipped"])
    with pytest.raises(BadInputError, match="nothing in the text could be spoken"), pytest.warns(UserWarning):
        pipe("你好。", seed=0)


def test_a_long_file_is_streamed_sentence_by_sentence(voice, tmp_path):
    text = tmp_path / "chapter.txt"
    text.write_text(("One short line. Another one here!\n\n" * 6) + "🙂🙂\n\nThe end.\n", encoding="utf-8")
    out = genlab.load(voice)(file=str(text), seed=0)
    assert out.blocks is not None  # not synthesised yet: written block by block when saved
    blocks = iter(out.blocks())
    first = next(blocks)
    assert first.dim() == 1 and out.info["sentences"] == 1  # one sentence made, the others not yet
    path = out.save(tmp_path / "chapter.wav")
    wave, rate = read_audio(path)
    assert rate == 16000 and len(wave) > 13 * 0.25 * rate and out.info["sentences"] == 13
    assert any("nothing English or Mandarin" in s for s in out.info["skipped"])


def test_cli_speak_with_the_default_voice_and_with_a_model(voice, runs, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GENLAB_RUNS_DIR", str(runs))
    code, out = cli_ok(["speak", "The quick brown fox.", "--out", str(tmp_path / "fox.wav")], capsys)
    assert code == 0, out
    assert read_audio(tmp_path / "fox.wav")[1] == 16000
    code, out = cli_ok(["speak", "Slowly now.", "--model", str(voice), "--speed", "0.5", "--out",
                        str(tmp_path / "slow.wav")], capsys)  # fmt: skip
    assert code == 0, out
    code, out = cli_ok(["speak", "今天天气很好。", "--lang", "zh", "--out", str(tmp_path / "park.wav")], capsys)
    assert code != 0 and "voice-zh" in out  # no Mandarin voice here: the hint says how to train one


def test_fine_tuning_keeps_the_vocabulary_and_statistics(voice, folder, runs):
    result = genlab.train(
        "tts",
        "fastspeech",
        str(folder),
        "tuned",
        max_steps=2,
        batch_size=4,
        runs_dir=runs,
        progress=False,
        init_from=str(voice),
        data_options={"val_fraction": 0.0, "max_files": 3},
    )
    base = genlab.load(voice).model.config
    tuned = genlab.load(result.run.path).model.config
    assert (
        tuned.symbols == base.symbols and tuned.mel_mean == base.mel_mean and tuned.hidden == TINY_FASTSPEECH["hidden"]
    )


def test_eval_scores_distortion_speed_and_intelligibility(voice, folder, runs):
    asr = genlab.train("asr", "ctc", str(folder), "asr", max_steps=2, batch_size=3, runs_dir=runs, progress=False,
                       data_options={"val_fraction": 0.34}, model_options=ASR_TINY).run.path  # fmt: skip
    result = genlab.evaluate(voice, ["cer", "mcd", "f0_rmse", "rtf"], asr=str(asr), n=2)
    m = result["metrics"]
    assert (
        m["cer"] >= 0
        and m["mcd_db"] > 0
        and m["rtf"] > 0
        and m["rtf"] == pytest.approx(m["rtf_acoustic"] + m["rtf_vocoder"])
    )
    ref = result["baselines"]["reference"]
    assert ref["mcd_db"] < m["mcd_db"] and "cer" in ref
    vocoded = result["baselines"]["vocoded"]  # Griffin-Lim on the reference mels: closer than the model's speech
    assert vocoded["mcd_db"] < m["mcd_db"] and "cer" in vocoded
    assert "copy synthesis" in result["protocol"]["baseline_vocoded"]
    assert result["protocol"]["n_reference"] == 2
    with pytest.raises(BadInputError, match="--asr"):
        genlab.evaluate(voice, ["cer"], n=1, save=False)
    slow = genlab.evaluate(voice, ["rtf"], n=2, speed=0.5, save=False, baselines=False)
    assert slow["protocol"]["speed"] == 0.5 and result["protocol"]["speed"] == 1.0


def test_tacotron_trains_through_the_task_and_plots_its_alignment(folder, runs):
    tiny = {"embedding_dim": 16, "encoder_dim": 16, "encoder_conv_layers": 1, "prenet_dim": 16,
            "attention_rnn_dim": 16, "decoder_rnn_dim": 16, "attention_dim": 16, "location_filters": 4,
            "postnet_channels": 16, "postnet_layers": 2, "max_decoder_steps": 40}  # fmt: skip
    result = genlab.train("tts", "tacotron2", str(folder), "taco", max_steps=2, batch_size=4, runs_dir=runs,
                          progress=False, grad_clip=1.0, model_options=tiny)  # fmt: skip
    assert any(p.name.endswith("-alignment.png") for p in (result.run.path / "samples").iterdir())
    out = genlab.load(result.run.path)("Hello there.", seed=0)
    assert out.wave.numel() > 0 and out.info["voices"]["en"].startswith("speech/tacotron2")
    with pytest.raises(BadInputError, match="fastspeech"):
        genlab.load(result.run.path)("Hello there.", pitch=2.0)


def test_cli_fine_tunes_a_voice_with_clipped_gradients(voice, folder, runs, capsys):
    code, out = cli_ok(["train", "tts", "--model", "fastspeech", "--data", str(folder), "--max-steps", "1",
                        "--batch-size", "4", "--init-from", str(voice), "--grad-clip", "1", "--name", "cli-tuned",
                        "--runs-dir", str(runs), "--set", "data.val_fraction=0"], capsys)  # fmt: skip
    assert code == 0, out
    assert "starting from the weights" in out and (runs / "tts" / "cli-tuned" / "model" / "config.json").is_file()


def test_a_trained_vocoder_speaks_and_a_mismatched_one_is_refused(voice, folder, runs, tmp_path):
    vocos = genlab.train("vocoder", "vocos", str(folder / "wavs"), "voc", max_steps=1, batch_size=2, runs_dir=runs,
                         progress=False, sample_every=0, model_options={"dim": 8, "intermediate_dim": 8, "layers": 1},
                         data_options={"segments_per_epoch": 4}).run.path  # fmt: skip
    out = genlab.load(voice)("Hello there.", vocoder=str(vocos), seed=0)
    assert out.info["voices"]["en"].endswith("audio/vocos") and out.wave.abs().max() <= 1.0
    result = genlab.evaluate(voice, ["mcd", "rtf"], vocoder=str(vocos), n=1, save=False)
    assert result["metrics"]["rtf_vocoder"] > 0 and "audio/vocos" in result["protocol"]["system"]
    other = genlab.train("vocoder", "vocos", str(folder / "wavs"), "voc8k", max_steps=1, batch_size=2, runs_dir=runs,
                         progress=False, sample_every=0, model_options={"dim": 8, "intermediate_dim": 8, "layers": 1},
                         data_options={"segments_per_epoch": 4, "sample_rate": 8000}).run.path  # fmt: skip
    with pytest.raises(BadInputError, match="sample_rate"):
        genlab.load(voice)("Hello there.", vocoder=str(other))
