"""The speech recogniser: CTC training, decoding, the checkpoint round-trip, the data loaders, the CLI and eval."""

import json

import pytest
import torch

import genlab
from genlab.audio import espeak
from genlab.audio.io import read_audio, resample, write_audio
from genlab.core.errors import BadInputError
from genlab.core.model import GenerativeModel
from genlab.core.registry import DATASETS, METRICS, MODELS, PIPELINES, TASKS
from genlab.speech import text as frontend
from genlab.speech.asr.data import SEPARATOR, ASRDataConfig, folder_utterances, load_asr_data
from genlab.speech.asr.pipelines import split_long
from tests.cli_helpers import cli_ok
from tests.model_mixin import ModelTesterMixin

needs_espeak = pytest.mark.skipif(not espeak.available(), reason="espeakng-loader (the audio extra) is not installed")
RATE = 16000
WORDS = ("yes", "hello", "seven")
TINY = {"n_mels": 32, "conv_channels": 32, "gru_hidden": 32, "gru_layers": 1, "dropout": 0.0}


def spoken(word: str) -> torch.Tensor:
    wave, rate = espeak.synthesize(word, "en-us", 160, 50)
    return resample(torch.as_tensor(wave).float(), rate, RATE)


def batch_of(waves: list[torch.Tensor], phonemes: list[list[str]]):
    padded = torch.zeros(len(waves), max(len(w) for w in waves))
    for i, w in enumerate(waves):
        padded[i, : len(w)] = w
    joined = [SEPARATOR.join(p) for p in phonemes]
    return padded, torch.tensor([len(w) for w in waves]), joined, joined


def tiny_model(symbols, **overrides):
    cls = MODELS.get("speech/ctc")
    torch.manual_seed(0)
    return cls(cls.config_class.build({**TINY, "symbols": symbols, **overrides}))


@pytest.fixture(scope="module")
def words():
    if not espeak.available():
        pytest.skip("espeakng-loader (the audio extra) is not installed")
    waves = [spoken(w) for w in WORDS]
    phonemes = [frontend.phonemize(w) for w in WORDS]
    return waves, phonemes, sorted({s for p in phonemes for s in p} - set(frontend.SPECIALS))


@pytest.fixture(scope="module")
def word_folder(tmp_path_factory, words):
    """The three words as WAV files with a .txt transcript beside each."""
    folder = tmp_path_factory.mktemp("words")
    for word, wave in zip(WORDS, words[0], strict=True):
        write_audio(folder / f"{word}.wav", wave, RATE)
        (folder / f"{word}.txt").write_text(word.capitalize() + ".\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def trained_run(word_folder, tmp_path_factory):
    return genlab.train(
        "asr", "ctc", str(word_folder), "words", max_steps=3, batch_size=3, runs_dir=tmp_path_factory.mktemp("runs"),
        progress=False, sample_every=0, data_options={"val_fraction": 0.34}, model_options=TINY,
    )  # fmt: skip


def test_registered_everywhere():
    assert MODELS.get("speech/ctc").task == "asr" and TASKS.get("asr").modality == "speech"
    assert PIPELINES.get("speech/transcribe").verb == "transcribe"
    assert {"speech/cer", "speech/per"} <= set(METRICS.names("speech/"))
    assert "ljspeech" in DATASETS and "sha256" in DATASETS.get("ljspeech").extras


@needs_espeak
def test_ctc_loss_falls_on_four_corpus_clips(tmp_path):
    cfg = ASRDataConfig(source="builtin:espeak-en:all", data_dir=str(tmp_path), n_sentences=12, max_seconds=3.1,
                        val_fraction=0.0)  # fmt: skip
    train, _, info = load_asr_data(cfg)
    assert len(train) >= 4 and len(info.skipped) == 12 - len(train)  # the longer sentences are skipped and counted
    items = [train[i] for i in range(4)]
    batch = (torch.stack([w for w, *_ in items]), torch.tensor([n for _, n, *_ in items]),
             [p for *_, p, _ in items], [c for *_, c in items])  # fmt: skip
    model = tiny_model(info.phoneme_symbols).train()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = model.training_losses(batch)["loss"]
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses


def test_greedy_and_beam_decoding_read_back_two_memorised_words(words):
    waves, phonemes, symbols = words
    model = tiny_model(symbols).train()
    batch = batch_of(waves[:2], phonemes[:2])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(40):
        opt.zero_grad()
        model.training_losses(batch)["loss"].backward()
        opt.step()
    assert model.decode(waves[:2]) == phonemes[:2]
    assert model.decode(waves[:2], beam_width=4) == phonemes[:2]


def test_character_targets(words):
    waves, _, _ = words
    chars = [frontend.characters(w) for w in WORDS]
    model = tiny_model(sorted({c for cs in chars for c in cs} - set(frontend.SPECIALS)), targets="chars")
    loss = model.training_losses(batch_of(waves, chars))["loss"]
    assert torch.isfinite(loss) and model.vocabulary.mode == "character"


def test_save_load_round_trip_gives_identical_outputs_without_pickle(words, tmp_path):
    waves, phonemes, symbols = words
    model = tiny_model(symbols).eval()
    model.save_pretrained(tmp_path)
    vocabulary = json.loads((tmp_path / "vocabulary.json").read_text(encoding="utf-8"))
    assert vocabulary["symbols"] == symbols and vocabulary["mode"] == "phoneme"
    loaded = GenerativeModel.from_pretrained(tmp_path)
    batch = batch_of(waves, phonemes)
    with torch.no_grad():
        assert torch.equal(model(batch[0], batch[1])[0], loaded(batch[0], batch[1])[0])
    assert loaded.vocabulary == model.vocabulary


def test_padding_does_not_change_an_utterances_scores(words):
    waves, _, symbols = words
    model = tiny_model(symbols).eval()
    padded = torch.cat([waves[0], torch.zeros(4000)])[None]
    with torch.no_grad():
        alone, n = model(waves[0][None])
        with_pad, m = model(padded, torch.tensor([len(waves[0])]))
    assert n.tolist() == m.tolist()
    torch.testing.assert_close(alone[0, : int(n)], with_pad[0, : int(n)], atol=1e-5, rtol=1e-4)


def test_folder_loader_skips_and_counts_missing_transcripts_and_corrupt_wavs(tmp_path):
    wave = 0.1 * torch.sin(torch.arange(8000) / 8000 * 2 * torch.pi * 220)
    for name in ("a", "b", "c"):
        write_audio(tmp_path / f"{name}.wav", wave, 8000)
    (tmp_path / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    (tmp_path / "transcripts.csv").write_text("file,text\na.wav,One day.\nb.wav,\nbroken.wav,Two days.\n")
    rows, skipped = folder_utterances(tmp_path)
    assert [r.wav.name for r in rows] == ["a.wav", "broken.wav"]
    assert sorted(skipped) == ["b.wav: empty transcript", "c.wav: no transcript"]
    cfg = ASRDataConfig(source=str(tmp_path), sample_rate=RATE, val_fraction=0.0)
    train, val, info = load_asr_data(cfg)
    assert len(train) == 1 and val is None and len(info.skipped) == 3
    assert any(s.startswith("broken.wav") for s in info.skipped)
    assert SEPARATOR.join(frontend.characters("One day.")) == train.chars[0]
    (tmp_path / "transcripts.csv").unlink()  # no table: a .txt beside each WAV
    (tmp_path / "c.txt").write_text("Three.")
    rows, skipped = folder_utterances(tmp_path)
    assert [r.text for r in rows] == ["Three."] and len(skipped) == 3


def test_long_recordings_are_cut_at_pauses_into_bounded_windows():
    loud = torch.ones(RATE)
    wave = torch.cat([loud, torch.zeros(800), loud, loud])  # a pause after 1 s, 3.05 s in all
    pieces = split_long(wave, RATE, 1.2)
    assert torch.equal(torch.cat(pieces), wave)
    assert all(len(p) <= 1.2 * RATE for p in pieces)
    assert RATE <= len(pieces[0]) <= RATE + 800  # the first cut falls in the pause
    assert len(split_long(wave[:RATE], RATE, 1.2)) == 1


def test_transcribe_pipeline_python_and_cli(trained_run, word_folder, tmp_path, capsys):
    pipe = genlab.load(trained_run.run.path)
    text = pipe(word_folder / "yes.wav")
    assert isinstance(text, str)
    wave, _ = read_audio(word_folder / "yes.wav", RATE)
    assert pipe(wave) == text
    out = tmp_path / "yes.txt"
    code, printed = cli_ok(["transcribe", str(word_folder / "yes.wav"), "--model", str(trained_run.run.path),
                            "--out", str(out)], capsys)  # fmt: skip
    assert code == 0, printed
    assert out.read_text(encoding="utf-8") == text + "\n"
    code, printed = cli_ok(["transcribe", str(word_folder), str(tmp_path / "all.json"), "--model",
                            str(trained_run.run.path), "--beam-width", "2"], capsys)  # fmt: skip
    assert code == 0, printed
    saved = json.loads((tmp_path / "all.json").read_text(encoding="utf-8"))
    assert [t["file"] for t in saved["transcripts"]] == ["hello.wav", "seven.wav", "yes.wav"]
    assert saved["decoder"].startswith("prefix beam search") and saved["targets"] == "phonemes"
    code, printed = cli_ok(["transcribe", str(word_folder / "seven.wav"), "--model", str(trained_run.run.path),
                            "--output-format", "json"], capsys)  # fmt: skip
    assert code == 0, printed
    written = json.loads((trained_run.run.path / "samples" / "transcribe-seven.json").read_text(encoding="utf-8"))
    assert written["transcripts"][0]["file"] == "seven.wav"
    code, printed = cli_ok(["transcribe", str(tmp_path / "missing.wav"), "--model", str(trained_run.run.path)], capsys)
    assert code == 2 and "error:" in printed


def test_eval_cer_on_the_held_out_split(trained_run, capsys):
    result = genlab.evaluate(trained_run.run.path, "cer,per")
    assert 0 <= result["metrics"]["cer"] < float("inf") and 0 <= result["metrics"]["per"] < float("inf")
    protocol = result["protocol"]
    assert protocol["n_reference"] == 1 and protocol["decoder"] == "greedy"
    assert protocol["reference_split"].startswith("validation split")
    code, printed = cli_ok(["eval", str(trained_run.run.path), "--metrics", "cer"], capsys)
    assert code == 0 and "cer" in printed, printed


def test_eval_refuses_a_folder_model_with_nothing_held_out(word_folder, tmp_path):
    run = genlab.train(
        "asr", "ctc", str(word_folder), "all", max_steps=1, batch_size=3, runs_dir=tmp_path, progress=False,
        sample_every=0, data_options={"val_fraction": 0.0}, model_options=TINY,
    )  # fmt: skip
    with pytest.raises(BadInputError, match="no validation split") as err:
        genlab.evaluate(run.run.path, "cer")
    assert "--ref" in err.value.hint
    assert genlab.evaluate(run.run.path, "cer", ref=str(word_folder))["protocol"]["n_reference"] == 3


def test_train_help_lists_the_task(capsys):
    code, printed = cli_ok(["train", "asr", "--help"], capsys)
    assert code == 0 and "--targets" in printed


def test_real_speech_folder_loads(shared_data):
    folder = shared_data / "speech" / "ljspeech-mini"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    train, val, info = load_asr_data(ASRDataConfig(source="ljspeech", data_dir=str(folder), max_files=4,
                                                   val_fraction=0.25))  # fmt: skip
    assert len(train) == 3 and len(val) == 1 and info.skipped == [] and info.sample_rate == RATE
    assert "p" in info.char_symbols


class TestCTCRecognizer(ModelTesterMixin):
    """The shared model suite: the output is the log-probabilities of fixed waves, which ignore the seed."""

    model_name = "speech/ctc"
    config = {**TINY, "symbols": ["a", "b", "c"], "sample_rate": 8000}
    validation_keys = {"loss"}
    seeded_outputs = False
    optimizer_steps = 10

    def batch(self, model):
        g = torch.Generator().manual_seed(0)
        waves = 0.1 * torch.randn(3, 4000, generator=g)
        targets = [["a", "b"], ["c"], ["b", "c", "a"]]
        joined = [SEPARATOR.join(t) for t in targets]
        return waves, torch.tensor([4000, 3000, 2500]), joined, joined

    def sample(self, model, seed):
        waves, samples, *_ = self.batch(model)
        with torch.no_grad():
            return model.eval()(waves, samples)[0]

    def check_output(self, model, out):
        assert out.dtype == torch.float32 and out.shape[0] == 3 and out.shape[2] == len(model.vocabulary)
        torch.testing.assert_close(out.exp().sum(-1), torch.ones(out.shape[:2]))
