"""Audio datasets: folders (labels from names, sub-folders, CSV), skipped files, FSDD and eSpeak NG digits."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import re
from pathlib import Path

import pytest
import torch

pytest.importorskip("soundfile")
pytest.importorskip("scipy.signal")

from genlab.audio import data, io  # noqa: E402
from genlab.core.errors import BadInputError, DataError  # noqa: E402
from genlab.core.registry import DATASETS  # noqa: E402

SHARED_FSDD = Path(__file__).resolve().parents[3] / "shared" / "data" / "fsdd"


def tone(freq: float, rate: int = 8000, seconds: float = 0.3, amp: float = 0.5) -> torch.Tensor:
    t = torch.arange(int(rate * seconds)) / rate
    return amp * torch.sin(2 * math.pi * freq * t)


def write_digits(folder: Path, names: list[str], rate: int = 8000) -> None:
    """FSDD-named 16-bit WAVs: a tone whose pitch depends on the digit, padded with silence (one encoding
    per digit, copied to each name: hundreds of files are written in a blink)."""
    folder.mkdir(parents=True, exist_ok=True)
    encoded = {}
    for name in names:
        digit = int(name[0])
        if digit not in encoded:
            wave = torch.cat([torch.zeros(800), tone(300 + 50 * digit, rate), torch.zeros(800)])
            encoded[digit] = io.encode_audio(wave, rate, "wav")
        (folder / f"{name}.wav").write_bytes(encoded[digit])


@pytest.fixture
def fsdd_like(tmp_path):
    """6 readable FSDD-style clips, a corrupt file and an empty (header-only) file."""
    folder = tmp_path / "clips"
    write_digits(folder, ["1_ana_0", "1_bob_3", "2_ana_1", "2_bob_7", "3_ana_2", "3_bob_5"])
    (folder / "4_ana_0.wav").write_bytes(b"RIFF this is not audio at all")
    io.write_audio(folder / "5_bob_0.wav", torch.zeros(0), 8000)
    return folder


def test_labels_and_speakers_from_file_names(fsdd_like):
    clips = data.load_audio_folder(fsdd_like, 8000)
    assert len(clips) == 6 and clips.classes == ["1", "2", "3"]
    assert [clips.classes[i] for i in clips.labels] == ["1", "1", "2", "2", "3", "3"]
    assert clips.speakers == ["ana", "bob"] * 3 and clips.names[0] == "1_ana_0"
    assert all(w.dtype == torch.float32 and w.dim() == 1 for w in clips.waves)
    assert clips.waves[0].numel() < 0.3 * 8000 + 800  # leading and trailing silence trimmed
    assert len(clips.skipped) == 2
    assert {Path(s.split(": ")[0]).name for s in clips.skipped} == {"4_ana_0.wav", "5_bob_0.wav"}
    assert clips.sample_rate == 8000 and clips.source == str(fsdd_like)


def test_silent_files_are_skipped(tmp_path):
    write_digits(tmp_path, ["1_a_0", "2_a_0"])
    io.write_audio(tmp_path / "3_a_0.wav", torch.zeros(4000), 8000)
    clips = data.load_audio_folder(tmp_path, 8000)
    assert len(clips) == 2 and len(clips.skipped) == 1 and "silent" in clips.skipped[0]


def test_labels_from_sub_folders(tmp_path):
    for cls, freq in (("dog", 300), ("cat", 600)):
        for i in range(2):
            io.write_audio(tmp_path / cls / f"clip{i}.flac", tone(freq + 10 * i), 8000)
    io.write_audio(tmp_path / "stray.wav", tone(440), 8000)
    clips = data.load_audio_folder(tmp_path, 8000)
    assert clips.classes == ["cat", "dog"]
    assert [clips.classes[i] for i in clips.labels] == ["cat", "cat", "dog", "dog"]
    assert len(clips.skipped) == 1 and "not in a class sub-folder" in clips.skipped[0]


def test_labels_from_csv_found_in_the_folder(tmp_path):
    for name in ("a", "b", "c"):
        io.write_audio(tmp_path / f"{name}.wav", tone(400), 8000)
    (tmp_path / "labels.csv").write_text("file,label,speaker\na.wav,yes,x\nb.wav,no,y\n")
    clips = data.load_audio_folder(tmp_path, 8000)
    assert clips.classes == ["no", "yes"] and clips.names == ["a", "b"]
    assert clips.labels == [1, 0] and clips.speakers == ["x", "y"]
    assert len(clips.skipped) == 1 and "not listed in labels.csv" in clips.skipped[0]


def test_labels_from_a_given_csv_and_metadata_csv(tmp_path):
    io.write_audio(tmp_path / "sub" / "a.wav", tone(400), 8000)
    io.write_audio(tmp_path / "b.wav", tone(500), 8000)
    table = tmp_path.parent / f"{tmp_path.name}-table.csv"
    table.write_text("sub/a.wav;10\nb.wav;2\n")  # no header, semicolons
    clips = data.load_audio_folder(tmp_path, 8000, csv=table)
    assert clips.classes == ["2", "10"]  # numeric labels sort as numbers
    assert {n: clips.classes[i] for n, i in zip(clips.names, clips.labels, strict=True)} == {"a": "10", "b": "2"}
    (tmp_path / "metadata.csv").write_text("b|a transcript, not a label\n")
    assert data.load_audio_folder(tmp_path, 8000).classes == []  # not a label table: ignored
    (tmp_path / "metadata.csv").write_text("file_name,label\nsub/a.wav,up\nb.wav,down\n")
    assert data.load_audio_folder(tmp_path, 8000).classes == ["down", "up"]
    with pytest.raises(BadInputError, match="labels='name'"):
        data.load_audio_folder(tmp_path, 8000, labels="name", csv=table)


def test_unlabelled_folder_and_explicit_none(tmp_path):
    io.write_audio(tmp_path / "take one.wav", tone(400), 8000)
    clips = data.load_audio_folder(tmp_path, 8000)
    assert clips.labels == [-1] and clips.classes == [] and clips.speakers == [""]
    write_digits(tmp_path, ["7_theo_12"])
    clips = data.load_audio_folder(tmp_path, 8000, labels="none")
    assert clips.labels == [-1, -1] and "theo" in clips.speakers


def test_stereo_44k_is_mixed_and_resampled(tmp_path):
    stereo = torch.stack([tone(440, 44100, 0.5), tone(440, 44100, 0.5, amp=0.25)])
    io.write_audio(tmp_path / "1_s_0.wav", stereo, 44100)
    clips = data.load_audio_folder(tmp_path, 16000, trim=False)
    assert clips.sample_rate == 16000 and clips.waves[0].dim() == 1
    assert abs(clips.waves[0].numel() - 8000) <= 2
    assert abs(float(clips.waves[0].abs().max()) - 0.375) < 0.02  # the mean of the two channels


def test_max_files_spreads_over_classes(tmp_path):
    write_digits(tmp_path, [f"{d}_a_{t}" for d in range(3) for t in range(4)])
    clips = data.load_audio_folder(tmp_path, 8000, max_files=3)
    assert len(clips) == 3 and sorted(clips.classes) == ["0", "1", "2"]


def test_subset_keeps_the_metadata(fsdd_like):
    clips = data.load_audio_folder(fsdd_like, 8000)
    part = clips.subset([4, 0])
    assert part.names == ["3_ana_2", "1_ana_0"] and part.classes == clips.classes
    assert part.labels == [2, 0] and torch.equal(part.waves[1], clips.waves[0]) and len(part) == 2


def test_empty_or_unreadable_folders_raise_with_hints(tmp_path):
    with pytest.raises(DataError) as err:
        data.load_audio_folder(tmp_path, 8000)
    assert "no audio files" in err.value.message and ".wav" in err.value.hint
    (tmp_path / "broken.wav").write_bytes(b"junk")
    with pytest.raises(DataError, match="could be used") as err:
        data.load_audio_folder(tmp_path, 8000)
    assert "broken.wav" in err.value.hint
    with pytest.raises(DataError, match="no folder"):
        data.load_audio_folder(tmp_path / "missing", 8000)
    with pytest.raises(DataError, match="no label table"):
        data.load_audio_folder(tmp_path, 8000, labels="csv")
    with pytest.raises(BadInputError, match="label"):
        data.load_audio_folder(tmp_path, 8000, labels="name", pattern=r"^(?P<speaker>\w+)$")


# --------------------------------------------------------------------------- FSDD


def test_fsdd_split_rule_on_names():
    assert data.parse_fsdd_name("7_theo_12.wav") == (7, "theo", 12)
    assert [data.fsdd_split(n) for n in ("0_george_0.wav", "3_lucas_4", "3_lucas_5", "9_yweweler_49")] == [
        "test", "test", "train", "train",
    ]  # fmt: skip
    with pytest.raises(DataError):
        data.fsdd_split("hello.wav")
    names = data.fsdd_names("test")
    assert len(names) == 300 and len(data.fsdd_names("train")) == 2700 and len(data.fsdd_names()) == 3000
    assert {data.parse_fsdd_name(n)[2] for n in names} == set(range(5))


def test_manifest_has_3000_hex_sha256_at_a_fixed_commit():
    manifest = data.fsdd_manifest()
    assert re.fullmatch(r"[0-9a-f]{40}", manifest["commit"]) and manifest["commit"] in manifest["url"]
    files = manifest["files"]
    assert len(files) == 3000 and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in files.values())
    assert {data.parse_fsdd_name(n)[1] for n in files} == {"george", "jackson", "lucas", "nicolas", "theo", "yweweler"}


def test_manifest_matches_the_shared_copy():
    if not SHARED_FSDD.is_dir():
        pytest.skip(f"the shared FSDD copy is not at {SHARED_FSDD} (only on the project's machines)")
    files = data.fsdd_manifest()["files"]
    for name in ("0_george_0.wav", "7_theo_12.wav", "9_yweweler_49.wav"):
        assert hashlib.sha256((SHARED_FSDD / "recordings" / name).read_bytes()).hexdigest() == files[name]
    table = dict(
        re.findall(
            r"^\| recordings/(\S+\.wav) \| \d+ \| ([0-9a-f]{64}) \|", (SHARED_FSDD / "SOURCE.md").read_text(), re.M
        )
    )
    assert table == files


def test_fsdd_reads_a_local_copy_of_the_test_split(tmp_path):
    write_digits(tmp_path / "fsdd" / "recordings", [n[:-4] for n in data.fsdd_names("test")])
    (tmp_path / "fsdd" / "recordings" / "0_george_0.wav").write_bytes(b"truncated")
    clips = data.load_fsdd("test", data_dir=str(tmp_path))
    assert len(clips) == 299 and clips.classes == [str(d) for d in range(10)]
    assert len(set(clips.speakers)) == 6 and clips.source == "fsdd:test" and clips.sample_rate == 8000
    assert len(clips.skipped) == 1 and "0_george_0.wav" in clips.skipped[0]
    assert [clips.classes[i] for i in clips.labels[:1]] == [clips.names[0][0]]
    assert len(data.load_fsdd("test", data_dir=str(tmp_path / "fsdd"))) == 299  # data_dir = the fsdd folder


def test_fsdd_with_files_missing_and_downloads_disabled(tmp_path, monkeypatch):
    monkeypatch.setenv("GENLAB_DISABLE_DOWNLOADS", "1")
    write_digits(tmp_path / "fsdd" / "recordings", ["0_george_0", "1_theo_3"])
    with pytest.raises(DataError, match="298 of the 300 test recordings are missing") as err:
        data.load_fsdd("test", data_dir=str(tmp_path))
    assert "downloads are disabled" in err.value.message
    assert "--data-dir" in err.value.hint and "free-spoken-digit-dataset" in err.value.hint
    with pytest.raises(DataError, match="downloading is off"):
        data.load_fsdd("test", data_dir=str(tmp_path), download=False)


def test_fsdd_downloads_missing_files_and_verifies_them(tmp_path, monkeypatch):
    """The download path, on file:// URLs: fetched files land in place; a wrong sha256 is refused."""
    source = tmp_path / "remote"
    write_digits(source, ["0_ana_0", "1_ana_1", "2_bob_7"])
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(source.glob("*.wav"))}
    manifest = {"commit": "0" * 40, "url": source.as_uri() + "/", "files": files}
    monkeypatch.setattr(data, "fsdd_manifest", lambda: manifest)
    clips = data.load_fsdd("test", data_dir=str(tmp_path / "data"))
    assert (
        clips.names == ["0_ana_0", "1_ana_1"] and (tmp_path / "data" / "fsdd" / "recordings" / "1_ana_1.wav").is_file()
    )
    manifest["files"]["2_bob_7.wav"] = "f" * 64
    with pytest.raises(DataError, match="checksum mismatch"):
        data.load_fsdd("train", data_dir=str(tmp_path / "data"))
    assert not (tmp_path / "data" / "fsdd" / "recordings" / "2_bob_7.wav").exists()


def test_fsdd_shared_copy_has_the_official_split():
    if not SHARED_FSDD.is_dir():
        pytest.skip(f"the shared FSDD copy is not at {SHARED_FSDD} (only on the project's machines)")
    train = data.load_fsdd("train", data_dir=str(SHARED_FSDD), download=False)
    test = data.load_fsdd("test", data_dir=str(SHARED_FSDD), download=False)
    assert (len(train), len(test)) == (2700, 300) and not train.skipped and not test.skipped
    assert set(train.labels) == set(test.labels) == set(range(10)) and len(train.classes) == 10
    assert len(set(train.speakers)) == len(set(test.speakers)) == 6
    assert not set(train.names) & set(test.names)


def test_datasets_are_registered():
    fsdd, espeak = DATASETS.get("fsdd"), DATASETS.get("builtin:espeak-digits")
    assert fsdd.modality == espeak.modality == "audio"
    assert fsdd.splits == ("train", "test", "all") and fsdd.license == "CC BY-SA 4.0"
    assert espeak.splits == ("train", "test") and "eSpeak NG" in espeak.description
    with pytest.raises(DataError, match="no split 'val'"):
        data.load_fsdd("val")


# --------------------------------------------------------------------------- eSpeak NG digits

needs_espeak = pytest.mark.skipif(
    importlib.util.find_spec("espeakng_loader") is None,
    reason="eSpeak NG comes with espeakng-loader (pip install 'genlab[audio]')",
)
SMALL = {"voices": ("en", "en+f3", "en-us+m2"), "test_voices": ("en-us+m2",), "pitches": (50, 70), "rates": (175,)}


@needs_espeak
def test_espeak_digits_splits_hold_out_whole_voices():
    train, test = data.espeak_digits("train", **SMALL), data.espeak_digits("test", **SMALL)
    assert (len(train), len(test)) == (40, 20)
    assert train.classes == test.classes == [str(d) for d in range(10)]
    assert sorted(set(train.labels)) == list(range(10)) and train.labels[:10] == list(range(10))
    assert set(train.speakers) == {"en", "en+f3"} and set(test.speakers) == {"en-us+m2"}
    assert all(0.1 < w.numel() / 8000 < 1.5 and abs(float(w.abs().max()) - 0.95) < 1e-4 for w in train.waves)
    assert train.names[0] == "0_en_p50_r175" and train.sample_rate == 8000


@needs_espeak
def test_espeak_digits_are_deterministic():
    one = data.espeak_digits("test", 16000, **SMALL)
    two = data.espeak_digits("test", 16000, **SMALL)
    assert one.sample_rate == 16000 and all(torch.equal(a, b) for a, b in zip(one.waves, two.waves, strict=True))


@needs_espeak
def test_espeak_digits_default_test_split_and_errors():
    test = data.espeak_digits("test")
    n_train_voices = len(data.ESPEAK_VOICES) - len(data.ESPEAK_TEST_VOICES)
    per_voice = 10 * len(data.ESPEAK_PITCHES) * len(data.ESPEAK_RATES)
    assert len(test) == len(data.ESPEAK_TEST_VOICES) * per_voice and n_train_voices >= 4
    assert set(test.speakers) == set(data.ESPEAK_TEST_VOICES)
    with pytest.raises(DataError, match="no voice left"):
        data.espeak_digits("test", voices=("en",), test_voices=())
    assert json.dumps(test.describe())  # a printable one-line summary
