"""``genlab train music``, ``genlab compose`` and ``genlab render`` from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from genlab.music import markov, models, task, vae  # noqa: F401  (registers the task, models and pipelines)
from genlab.music.io import write_midi
from tests.cli_helpers import cli_ok
from tests.music.test_pipelines import tune


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli-tunes")
    for i in range(6):
        write_midi(tune(i), root / f"tune{i}.mid")
    return root


@pytest.fixture(scope="module")
def run(folder, tmp_path_factory) -> Path:
    """A Markov run trained by ``genlab train music`` (closed form: one pass over the tunes)."""
    import genlab

    root = tmp_path_factory.mktemp("cli-runs")
    result = genlab.train("music", "markov", str(folder), "m", runs_dir=root, progress=False,
                          data_options={"data_dir": str(root / "data")}, model_options={"max_order": 3})  # fmt: skip
    return result.run.path


def test_train_music_from_the_command_line(folder, tmp_path, capsys):
    code, out = cli_ok(["train", "music", "--model", "markov", "--data", str(folder), "--name", "cli",
                        "--runs-dir", str(tmp_path), "--no-progress", "--max-order", "2",
                        "--set", f"data.data_dir={tmp_path / 'data'}"], capsys)  # fmt: skip
    assert code == 0, out
    assert (tmp_path / "music" / "cli" / "model" / "config.json").is_file()


def test_compose_writes_midi_wav_and_png(run, tmp_path, capsys):
    out = tmp_path / "tune.mid"
    code, text = cli_ok(["compose", str(run), "--bars", "2", "--key", "D major", "--tempo", "100", "--seed", "0",
                         "--out", str(out)], capsys)  # fmt: skip
    assert code == 0, text
    for suffix in (".mid", ".wav", ".png"):
        assert out.with_suffix(suffix).stat().st_size > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--bars", "0"], "bars"), (["--key", "X major"], "key"), (["--tempo", "900"], "tempo")],
)
def test_compose_refuses_bad_options_with_exit_code_2(run, tmp_path, capsys, args, message):
    code, text = cli_ok(["compose", str(run), *args, "--out", str(tmp_path / "x.mid")], capsys)
    assert code == 2 and "error" in text and message in text, text
    assert not (tmp_path / "x.mid").exists()


def test_render_a_midi_file_without_a_model(folder, tmp_path, capsys):
    out = tmp_path / "tune.wav"
    code, text = cli_ok(["render", str(folder / "tune1.mid"), "--out", str(out)], capsys)
    assert code == 0, text
    assert out.read_bytes()[:4] == b"RIFF"
    code, text = cli_ok(["render", str(folder / "tune1.mid"), str(tmp_path / "positional.wav")], capsys)
    assert code == 0 and (tmp_path / "positional.wav").is_file(), text


def test_render_refuses_a_file_that_is_not_music(tmp_path, capsys):
    bad = tmp_path / "notes.mid"
    bad.write_text("not a midi file")
    code, text = cli_ok(["render", str(bad), "--out", str(tmp_path / "x.wav")], capsys)
    assert code == 2 and "error" in text, text


@pytest.mark.slow  # trains a tiny MusicVAE
def test_compose_interpolates_between_two_files_with_a_vae(folder, tmp_path, capsys):
    import genlab

    vae_run = genlab.train("music", "music-vae", str(folder), "v", runs_dir=tmp_path / "runs", progress=False,
                           max_steps=2, batch_size=4, data_options={"data_dir": str(tmp_path / "data")},
                           model_options={"latent_dim": 4, "encoder_hidden": 8, "decoder_hidden": 8})  # fmt: skip
    walk = tmp_path / "walk"
    a, b = str(folder / "tune1.mid"), str(folder / "tune2.mid")
    args = ["compose", str(vae_run.run.path), "--interpolate", a, b, "--steps", "3", "--seed", "0", "--out", str(walk)]
    code, text = cli_ok(args, capsys)
    assert code == 0, text
    assert sorted(p.name for p in walk.glob("*.mid")) == ["01.mid", "02.mid", "03.mid"]
