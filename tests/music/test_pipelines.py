"""The ``music`` task end to end: tiny training runs of every model on a folder of hand-made MIDI tunes, the
samples they write, and ``compose`` (new pieces, continuation, interpolation) and ``render`` with their errors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

import genlab
from genlab.core.errors import BadInputError, GenlabError
from genlab.core.model import GenerativeModel
from genlab.music import markov, models, task, vae  # noqa: F401  (registers the task and models)
from genlab.music.io import read_piece, write_midi
from genlab.music.notes import Note, Piece, scale_pitch_classes
from genlab.music.pipelines import MusicComposePipeline, MusicOutput, MusicRenderPipeline

SCALE = [0, 2, 4, 5, 7, 9, 11, 12]
MODELS = {
    "transformer": {"n_layer": 1, "n_head": 2, "n_embd": 16},
    "lstm": {"n_layer": 1, "n_embd": 8, "hidden_size": 16},
    "music-vae": {"latent_dim": 4, "embedding_dim": 8, "encoder_hidden": 8, "encoder_layers": 1,
                  "decoder_hidden": 16, "decoder_layers": 1, "phrase_bars": 2},
    "markov": {"max_order": 3},
}  # fmt: skip


def tune(i: int) -> Piece:
    """A 4-bar tune in C major (a different contour per ``i``)."""
    notes, t = [], 0.0
    for k in range(16):
        d = (1.0, 0.5, 0.5, 2.0)[(k + i) % 4]
        notes.append(Note(60 + SCALE[(k * (i % 3 + 1) + i) % 8], t, d))
        t += d
    return Piece(notes, tempo=100, key="C major", title=f"tune {i}")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tunes")
    for i in range(12):
        write_midi(tune(i), root / f"tune{i:02d}.mid")
    return root


@pytest.fixture(scope="module")
def runs(folder, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for name, options in MODELS.items():
        result = genlab.train("music", name, str(folder), name, runs_dir=root, progress=False, max_steps=2,
                              batch_size=4, data_options={"transpose": False, "data_dir": str(root / "data")},
                              model_options=options)  # fmt: skip
        assert result.status == "completed", name
        out[name] = result.run.path
    return out


@pytest.mark.slow  # the module's four tiny training runs take several seconds together
@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_trains_and_writes_midi_wav_and_a_piano_roll(runs, name):
    run = runs[name]
    assert (run / "model" / "config.json").is_file()
    written = {p.suffix for p in (run / "samples").rglob("*")}
    assert {".mid", ".wav", ".png"} <= written, written
    model = GenerativeModel.from_pretrained(run / "model")
    assert model.tokenizer.kind == "melody"  # one voice: the auto tokenizer
    size = model.config.max_length if name == "music-vae" else model.config.block_size
    assert size >= 10


@pytest.mark.slow  # the module's four tiny training runs take several seconds together
def test_compose_saves_midi_with_wav_and_piano_roll_beside_it(runs, tmp_path):
    pipe = MusicComposePipeline.from_pretrained(runs["lstm"])
    out = pipe.run(pipe.request(bars=3, key="G major", seed=0, n=2))
    assert isinstance(out, MusicOutput) and len(out.pieces) == 2
    g_major = scale_pitch_classes("G major")
    assert all(n.pitch % 12 in g_major for p in out.pieces for n in p.notes)
    assert all(p.n_bars <= 3 for p in out.pieces)
    first = out.save(tmp_path / "tune.mid")
    assert first == tmp_path / "tune-1.mid"
    for stem in ("tune-1", "tune-2"):
        for suffix in (".mid", ".wav", ".png"):
            assert (tmp_path / f"{stem}{suffix}").stat().st_size > 0
    again = read_piece(tmp_path / "tune-1.mid")
    assert [(n.pitch, n.start) for n in again.notes] == [(n.pitch, n.start) for n in out.pieces[0].notes]
    assert out.encode("mid")[:4] == b"MThd" and out.encode("wav")[:4] == b"RIFF"


@pytest.mark.slow  # the module's four tiny training runs take several seconds together
def test_the_same_seed_composes_the_same_piece(runs):
    pipe = MusicComposePipeline.from_pretrained(runs["transformer"])
    a, b = pipe(bars=2, seed=3), pipe(bars=2, seed=3)
    assert [p.notes for p in a] == [p.notes for p in b]


@pytest.mark.slow  # the module's four tiny training runs take several seconds together
def test_a_continuation_keeps_the_prime(runs, folder):
    pipe = MusicComposePipeline.from_pretrained(runs["markov"])
    prime = read_piece(folder / "tune00.mid").slice_bars(0, 2)
    path = folder.parent / "prime.mid"
    write_midi(prime, path)
    (piece,) = pipe(bars=2, seed=0, prime=str(path))
    assert [(n.pitch, n.start) for n in piece.notes[: len(prime.notes)]] == [(n.pitch, n.start) for n in prime.notes]
    assert len(piece.notes) > len(prime.notes)


@pytest.mark.slow  # the module's four tiny training runs take several seconds together
def test_the_vae_interpolates_between_two_files_into_a_folder(runs, folder, tmp_path):
    pipe = MusicComposePipeline.from_pretrained(runs["music-vae"])
    a, b = str(folder / "tune01.mid"), str(folder / "tune02.mid")
    out = pipe.run(pipe.request(interpolate=[a, b], steps=3, seed=0))
    assert len(out.pieces) == 3
    out.save(tmp_path / "walk")
    assert sorted(p.name for p in (tmp_path / "walk").glob("*.mid")) == ["01.mid", "02.mid", "03.mid"]
    (piece,) = pipe(bars=4, seed=0)  # phrases chained to the bars asked for
    assert piece.n_bars <= 4
    other = MusicComposePipeline.from_pretrained(runs["lstm"])
    with pytest.raises(BadInputError, match="latent"):
        other.run(other.request(interpolate=[a, b]))


@pytest.mark.slow  # the module's four tiny training runs take several seconds together
@pytest.mark.parametrize(
    ("options", "match"),
    [({"bars": 0}, "bars"), ({"key": "Q lydian"}, "key"), ({"tempo": 5000}, "tempo"), ({"tempo": 1}, "tempo"),
     ({"time_signature": "4-4"}, "time signature"), ({"style": "jazz"}, "style")],
)  # fmt: skip
def test_bad_compose_options_get_clear_errors(runs, options, match):
    pipe = MusicComposePipeline.from_pretrained(runs["lstm"])
    with pytest.raises(GenlabError, match=match):
        pipe.run(pipe.request(**options))


@pytest.mark.slow  # the module's four tiny training runs take several seconds together
def test_a_prime_without_notes_and_two_modes_at_once_are_refused(runs, folder, tmp_path):
    from tests.music.conftest import write_test_midi

    empty = write_test_midi(tmp_path / "empty.mid", [[]])
    pipe = MusicComposePipeline.from_pretrained(runs["lstm"])
    with pytest.raises(GenlabError, match="notes"):
        pipe.run(pipe.request(prime=str(empty)))
    with pytest.raises(BadInputError, match="cannot be combined"):
        pipe.run(pipe.request(prime=str(folder / "tune00.mid"), harmonize=str(folder / "tune01.mid")))
    with pytest.raises(BadInputError, match="REMI"):  # a melody model cannot harmonise
        pipe.run(pipe.request(harmonize=str(folder / "tune01.mid")))


def test_render_needs_no_model_and_writes_a_wav(folder, tmp_path):
    pipe = MusicRenderPipeline.without_run()
    out = pipe.run(pipe.request(midi=str(folder / "tune03.mid"), sample_rate=8000))
    path = out.save(tmp_path / "tune.wav")
    assert path.read_bytes()[:4] == b"RIFF"
    seconds = tune(3).seconds
    assert 8000 * seconds <= len(out.audio) <= 8000 * (seconds + 4)  # the last note rings on (release, reverb)
    with pytest.raises(BadInputError, match="WAV"):
        out.save(tmp_path / "tune.mp3")


def test_rows_are_cut_at_bars_and_repeat_the_conditioning():
    from genlab.music.tokenizers import MelodyTokenizer

    tok = MelodyTokenizer()
    ids = tok.encode(Piece([Note(60 + k % 5, float(k), 1.0) for k in range(32)]))
    rows = task.split_at_bars(ids, tok, 30)
    assert len(rows) > 1 and all(len(r) <= 30 and r[:5] == ids[:5] for r in rows)
    assert all(r[5] == tok.bar_id for r in rows)
    assert [t for r in rows for t in r[5:]] == ids[5:]


def test_training_records_the_keys_of_the_pieces_before_transposition(tmp_path):
    from genlab.music.data import MusicDataConfig, load_music_data

    folder = tmp_path / "tunes"
    folder.mkdir()
    for i in range(12):
        piece = tune(i) if i % 3 else replace(tune(i).transpose(7), key="G major")
        write_midi(piece, folder / f"tune{i:02d}.mid")
    data = {"data_dir": str(tmp_path / "data"), "transpose": True}
    result = genlab.train("music", "markov", str(folder), "k", runs_dir=tmp_path / "runs", progress=False,
                          data_options=data, model_options={"max_order": 2, "key_prior": "corpus"})  # fmt: skip
    config = GenerativeModel.from_pretrained(result.run.path / "model").config
    train = load_music_data(str(folder), MusicDataConfig(**data), "train").pieces
    expected = {f"Key_{k}": sum(p.key == k for p in train) for k in ("C major", "G major")}
    assert config.key_prior == "corpus"
    assert config.key_counts == {k: v for k, v in expected.items() if v}  # no transposed copy counted
