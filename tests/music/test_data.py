"""Music data: folders with corrupt files, the JSON cache, the fixed split, windows and augmentation."""

from __future__ import annotations

import pytest

from genlab.core.errors import DataError
from genlab.core.registry import DATASETS
from genlab.music import data
from genlab.music.io import write_midi
from genlab.music.notes import Note, Piece


def _folder(tmp_path, n=24):
    folder = tmp_path / "midis"
    for i in range(n):
        notes = [Note(60 + (i + k) % 12, k * 0.5, 0.5) for k in range(16)] + [Note(48, 0, 8, voice=1)]
        write_midi(Piece(notes, title=f"tune {i}"), folder / "sub" / f"tune{i:02d}.mid")
    (folder / "broken.mid").write_bytes(b"MThd garbage")
    (folder / "readme.txt").write_text("not music")
    return folder


def test_folder_is_read_cached_and_split_by_piece(tmp_path):
    folder = _folder(tmp_path)
    cfg = data.MusicDataConfig(data_dir=str(tmp_path / "data"))
    first = data.load_music_data(str(folder), cfg, "train")
    assert first.info.files == 25 and first.info.n_skipped == 1 and "broken.mid" in first.info.skipped[0]
    assert not first.info.cached
    again = data.load_music_data(str(folder), cfg, "train")
    assert again.info.cached and [p.notes for p in again.pieces] == [p.notes for p in first.pieces]
    splits = {s: data.load_music_data(str(folder), cfg, s).pieces for s in data.SPLITS}
    titles = {s: {p.title for p in ps} for s, ps in splits.items()}
    assert sum(len(t) for t in titles.values()) == 24
    assert not (titles["train"] & titles["val"] or titles["train"] & titles["test"] or titles["val"] & titles["test"])
    assert titles["val"] and titles["test"]
    # fixed: a second call puts each piece where it was
    assert {p.title for p in data.load_music_data(str(folder), cfg, "test").pieces} == titles["test"]


def test_a_changed_file_is_parsed_again(tmp_path):
    folder = _folder(tmp_path, n=3)
    cfg = data.MusicDataConfig(data_dir=str(tmp_path / "data"))
    before = sum(len(data.load_music_data(str(folder), cfg, s).pieces) for s in data.SPLITS)
    write_midi(Piece([Note(70, 0, 1)], title="tune 0"), folder / "sub" / "tune00.mid")
    after = data.load_music_data(str(folder), cfg, "train")
    assert not after.info.cached and before == 3


def test_small_folders_still_get_val_and_test(tmp_path):
    folder = _folder(tmp_path, n=4)
    cfg = data.MusicDataConfig(data_dir=str(tmp_path / "data"))
    sizes = [len(data.load_music_data(str(folder), cfg, s).pieces) for s in data.SPLITS]
    assert sizes == [2, 1, 1]


def test_windows_augmentation_and_token_sequences(tmp_path):
    folder = _folder(tmp_path, n=12)
    cfg = data.MusicDataConfig(data_dir=str(tmp_path / "data"), max_bars=1, max_tokens=20)
    train = data.load_music_data(str(folder), cfg, "train")
    tok = train.tokenizer()
    assert tok.kind == "remi"  # two voices
    windows = train.windows()
    assert len(windows) == len(train.pieces) * 2 * 12  # 2 one-bar windows, 12 transpositions each
    assert all(p.n_bars == 1 for p, _ in windows)
    rows = train.token_sequences(tok)
    assert all(len(r) <= 20 and r[0] == tok.bos_id and r[-1] == tok.eos_id for r in rows)
    val = data.load_music_data(str(folder), cfg, "val")
    assert len(val.windows()) == 2 * len(val.pieces)  # no augmentation off the train split
    melody = data.MusicDataConfig(data_dir=str(tmp_path / "data"), tokenizer="melody", transpose=False)
    assert data.load_music_data(str(folder), melody, "train").tokenizer().kind == "melody"


def test_bad_sources_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="neither"):
        data.load_music_data(str(tmp_path / "nothing"), data.MusicDataConfig(), "train")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no MIDI"):
        data.load_music_data(str(tmp_path / "empty"), data.MusicDataConfig(), "train")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.mid").write_bytes(b"nope")
    with pytest.raises(DataError, match="could be read"):
        data.load_music_data(str(bad), data.MusicDataConfig(data_dir=str(tmp_path)), "train")
    with pytest.raises(DataError, match="split"):
        data.load_music_data(str(bad), data.MusicDataConfig(), "dev")


def test_datasets_are_registered_with_licences_and_download_specs(tmp_path):
    names = DATASETS.names(modality="music")
    for name in ("builtin:bach-chorales", "builtin:folk", "builtin:oneill", "nottingham", "lakh-aligned",
                 "maestro-midi"):  # fmt: skip
        assert name in names
        spec = DATASETS.get(name)
        assert spec.license and spec.description and spec.splits == data.SPLITS
    for name, download in data.DOWNLOADS.items():
        spec = DATASETS.get(name)
        assert spec.extras["url"].startswith("http")
        checksums = [download.sha256] if download.archive else [sha for _, sha in download.files]
        assert checksums and all(len(c) == 64 and int(c, 16) >= 0 for c in checksums)
    with pytest.raises(DataError, match="downloads are disabled"):
        data.load_music_data("maestro-midi", data.MusicDataConfig(data_dir=str(tmp_path)), "train")


def test_downloaded_archive_placed_by_hand_is_unpacked_and_read(tmp_path):
    import zipfile

    folder = tmp_path / "music" / "maestro-midi"
    folder.mkdir(parents=True)
    midi = write_midi(Piece([Note(60, 0, 1), Note(62, 1, 1)], title="etude"), tmp_path / "etude.mid")
    with zipfile.ZipFile(folder / data.DOWNLOADS["maestro-midi"].archive, "w") as z:
        z.write(midi, "maestro-v3.0.0/2004/etude.midi")
    loaded = data.load_music_data("maestro-midi", data.MusicDataConfig(data_dir=str(tmp_path)), "train")
    assert [p.title for p in loaded.pieces] == ["etude"]


def test_collections_of_single_files_are_fetched_one_by_one_and_checked(tmp_path, monkeypatch):
    import hashlib

    from genlab.core.download import DISABLE_ENV

    source = tmp_path / "upstream"
    source.mkdir()
    tunes = {
        "a.abc": "X:1\nT:Reel\nM:4/4\nL:1/8\nK:D\nABcd efga|\n",
        "b.abc": "X:2\nT:Jig\nM:6/8\nL:1/8\nK:G\nGAB cde|\n",
    }
    for name, text in tunes.items():
        (source / name).write_text(text)
    files = tuple((n, hashlib.sha256(t.encode()).hexdigest()) for n, t in tunes.items())
    spec = data.Download(source.as_uri() + "/", None, None, "two tunes", files=files)
    monkeypatch.setitem(data.DOWNLOADS, "nottingham", spec)
    monkeypatch.delenv(DISABLE_ENV, raising=False)
    got = data.downloaded_files("nottingham", tmp_path / "data")
    assert [p.name for p in got] == ["a.abc", "b.abc"]
    bad = data.Download(source.as_uri() + "/", None, None, "wrong sum", files=(("a.abc", "0" * 64),))
    monkeypatch.setitem(data.DOWNLOADS, "nottingham", bad)
    with pytest.raises(DataError, match="checksum mismatch"):
        data.downloaded_files("nottingham", tmp_path / "other")
    assert not (tmp_path / "other" / "music" / "nottingham" / "a.abc").exists()


def test_builtin_chorales_load_with_styles(tmp_path):
    cfg = data.MusicDataConfig(data_dir=str(tmp_path), max_files=4)
    pieces = [p for s in data.SPLITS for p in data.load_music_data("builtin:bach-chorales", cfg, s).pieces]
    assert len(pieces) == 4 and all(p.voices == 4 for p in pieces)
    train = data.load_music_data("builtin:bach-chorales:train", cfg)
    assert set(train.styles) <= {"chorale"}


def test_builtin_file_lists_match_the_corpus_sizes(tmp_path):
    assert len(data.chorale_files(tmp_path)) == 350  # 371 numbers, 21 of them for a chorale already numbered
    essen = sum(p.read_text(encoding="latin-1").count("\nX:") + p.read_text(encoding="latin-1").startswith("X:")
                for p in data.essen_files())  # fmt: skip
    oneill = sum(p.read_text(encoding="latin-1").count("\nX:") + p.read_text(encoding="latin-1").startswith("X:")
                 for p in data.oneill_files())  # fmt: skip
    assert (essen, oneill) == (8514, 2009)


def test_hash_split_of_many_titles_is_fixed_disjoint_and_80_10_10():
    pieces = [Piece([Note(60, 0, 1)], title=f"Tune {i}") for i in range(1000)]
    parts = {s: data.split_pieces(pieces, s) for s in data.SPLITS}
    assert sum(map(len, parts.values())) == 1000
    assert 750 < len(parts["train"]) < 850 and 60 < len(parts["val"]) < 140 and 60 < len(parts["test"]) < 140
    assert all(data.split_of(p) == s for s, ps in parts.items() for p in ps)
    # the same title in another spelling lands in the same split; another seed moves pieces
    assert data.split_of(Piece([], title="tune-7!")) == data.split_of(pieces[7])
    assert data.split_pieces(pieces, "test", seed=1) != parts["test"]


def test_harmonisations_of_one_melody_share_a_split_whatever_their_titles_and_keys():
    melody = [60, 62, 64, 65, 67, 65, 64, 62, 60, 64, 67, 72, 71]

    def setting(title: str, shift: int, rhythm: float, seed: int) -> Piece:
        top = [Note(p + shift, i * rhythm, rhythm, voice=0) for i, p in enumerate(melody)]
        bass = [Note(40 + seed + i % 5, i * rhythm, rhythm, voice=1) for i in range(len(melody))]
        return Piece(top + bass, title=title)

    tunes = [Piece([Note(60 + (i * k) % 12, k, 1) for k in range(14)], title=f"Tune {i}") for i in range(300)]
    settings = [setting("bwv 1", 0, 1.0, 0), setting("bwv 2", 5, 0.5, 3), setting("bwv 3", -2, 2.0, 7)]
    pieces = tunes + settings
    groups = data.split_groups(pieces)
    assert len(set(groups[-3:])) == 1 and groups[-1] == "bwv 1"
    splits = [next(s for s in data.SPLITS if p in data.split_pieces(pieces, s)) for p in settings]
    assert len(set(splits)) == 1
    # a short melody does not tie pieces together
    assert data.incipit(Piece([Note(60, 0, 1), Note(62, 1, 1)])) is None
    assert data.incipit(settings[0]) == data.incipit(settings[1]) == (2, 2, 1, 2, -2, -1, -2, -2, 4, 3, 5, -1)


def test_style_labels_come_from_the_corpus_collection():
    corpus = data.music21_corpus_dir()
    assert data.style_of(corpus / "bach" / "bwv269.mxl") == "chorale"
    assert data.style_of(corpus / "essenFolksong" / "han1.abc") == "folk"
    assert data.style_of(corpus / "oneills1850" / "0001-0050.abc") == "irish"
    assert data.style_of("/home/me/bach/prelude.mid") is None


def test_pieces_in_a_metre_without_tokens_are_skipped_and_counted(tmp_path):
    folder = tmp_path / "odd"
    write_midi(Piece([Note(60, 0, 1)], time_signature=(4, 4), title="a"), folder / "a.mid")
    write_midi(Piece([Note(60, 0, 1)], time_signature=(9, 4), title="b"), folder / "b.mid")
    loaded = data.load_music_data(str(folder), data.MusicDataConfig(data_dir=str(tmp_path)), "train")
    assert [p.title for p in loaded.pieces] == ["a"]
    assert loaded.info.n_skipped == 1 and "9/4" in loaded.info.skipped[0]


def test_training_rows_expose_lengths_and_batches_are_cut_to_their_longest_row():
    import torch

    from genlab.engine.batching import LengthBucketBatchSampler
    from genlab.engine.config import RunConfig
    from genlab.engine.trainer import _loader
    from genlab.music.task import MusicSequences

    rows = [[1, 5, 6, 2], [1, 7, 2], [1, 8, 9, 10, 11, 12, 2], [1, 2]] * 4
    seqs = MusicSequences(rows, pad_id=0)
    assert seqs.length == 7 and seqs.lengths == [4, 3, 7, 2] * 4
    batch = seqs.__getitems__([0, 1])
    assert [b.tolist() for b in batch] == [[1, 5, 6, 2], [1, 7, 2, 0]]  # cut to 4, not the set's 7
    assert [b.tolist() for b in seqs.__getitems__([3])] == [[1, 2]]
    cfg = RunConfig(task="music", name="x", train={"batch_size": 4})
    loader = _loader(seqs, cfg, shuffle=True)
    assert isinstance(loader.batch_sampler, LengthBucketBatchSampler)
    for ids in loader:
        lengths = (ids != 0).sum(1)
        assert ids.shape[1] == max(int(lengths.max()), 2)
        assert torch.equal(ids[:, 0], torch.ones(len(ids), dtype=torch.long))
