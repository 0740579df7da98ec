"""Transcribed speech for the recogniser: the built-in eSpeak corpora, LJ Speech and folders of WAV + transcript.

Every source gives :class:`Utterance` rows (a WAV file, its text, its phonemes); :func:`load_asr_data` reads the
audio at the model's rate into an :class:`UtteranceDataset` and reports an :class:`ASRDataInfo`.

* ``builtin:espeak-en`` / ``builtin:espeak-zh`` (``genlab.speech.corpus``): ``train`` and a held-out ``test``
  split; the phonemes come with the corpus.
* LJ Speech (``ljspeech``, a local copy: ``--data-dir`` or a folder with ``metadata.csv`` + ``wavs/``): the
  ``metadata.csv`` lines ``id|text|normalized text``. The archive is :data:`LJSPEECH_URL` (sha256
  :data:`LJSPEECH_SHA256`); genlab does not fetch its 2.6 GB, it reads a copy unpacked there.
* Any folder of WAV files with their transcripts: a CSV ``file,text`` (``transcripts.csv`` or
  ``metadata.csv`` with a header) or a ``.txt`` of the same stem beside each WAV.

A WAV without a transcript, an empty transcript line, an unreadable WAV and an utterance longer than
``max_seconds`` are skipped and counted (``ASRDataInfo.skipped``), never fatal. Phonemes of transcribed folders
come from eSpeak NG when it is installed (``genlab[audio]``); without it only character targets can be trained.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

import torch
from pydantic import Field
from torch.utils.data import Dataset

from genlab.core.config import Config
from genlab.core.data import DataInfo, DatasetSpec, register_dataset
from genlab.core.download import data_root
from genlab.core.errors import BadInputError, DataError, GenlabError
from genlab.speech import corpus
from genlab.speech import text as frontend

LJSPEECH_URL = "https://data.keithito.com/data/speech/LJSpeech-1.1.tar.bz2"
LJSPEECH_SHA256 = "be1a30453f28eb8dd26af4101ae40cbf2c50413b1bb21936cbcdc6fae3de8aa5"
LJSPEECH_BYTES = 2_748_572_632
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
SEPARATOR = "\x1f"  # joins a row's target symbols into one string (phonemes are several characters long)


class Utterance(NamedTuple):
    """One transcribed recording: its audio file, the text as written, its phoneme symbols (empty if unknown)."""

    wav: Path
    text: str
    phonemes: tuple[str, ...]


class ASRDataConfig(Config):
    """Where the transcribed speech comes from and how it is read."""

    source: str = Field(
        "builtin:espeak-en", min_length=1,
        description="builtin:espeak-en, builtin:espeak-zh (optionally :train/:test), ljspeech, or a folder of WAV "
        "files with transcripts (metadata.csv id|text, a CSV file,text, or a .txt beside each WAV)",
    )  # fmt: skip
    data_dir: str | None = Field(None, description="folder of standard datasets (the eSpeak corpora, LJSpeech-1.1)")
    language: Literal["auto", "en", "zh"] = Field("auto", description="language of the transcripts (auto: en, or "
                                                  "zh for builtin:espeak-zh)")  # fmt: skip
    sample_rate: int = Field(16000, ge=8000, le=48000, description="audio is resampled to this rate (Hz)")
    n_sentences: int | None = Field(None, ge=1, description="built-in corpora: build and use the first N sentences")
    max_files: int | None = Field(None, ge=1, description="use at most this many utterances (after a seeded shuffle)")
    max_seconds: float = Field(20.0, gt=0, le=120, description="longer utterances are skipped and counted")
    val_fraction: float = Field(0.05, ge=0.0, lt=0.9, description="share of the training utterances held out")
    split_seed: int = Field(0, description="seed of the shuffle behind the split")


@dataclass
class ASRDataInfo(DataInfo):
    """What was loaded; written to the run (``data.json``) and used to fill the model config."""

    source: str
    language: str
    sample_rate: int
    n_train: int = 0
    n_val: int = 0
    seconds: float = 0.0
    phoneme_symbols: list[str] = field(default_factory=list)
    char_symbols: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    split: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)


class UtteranceDataset(Dataset):
    """Waves at one rate with their targets. An item is ``(wave (max_samples,) zero-padded, n_samples,
    phonemes, characters)``, the symbol lists joined by :data:`SEPARATOR`, so the default collate makes batches
    of fixed size; the model cuts each batch to its longest utterance and masks the rest."""

    def __init__(self, waves: list[torch.Tensor], phonemes: list[list[str]], chars: list[list[str]]):
        self.waves = [w.to(torch.float16) for w in waves]  # half the memory; speech needs no more precision
        self.phonemes = [SEPARATOR.join(p) for p in phonemes]
        self.chars = [SEPARATOR.join(c) for c in chars]
        self.max_samples = max((len(w) for w in waves), default=1)

    def __len__(self) -> int:
        return len(self.waves)

    @property
    def lengths(self) -> list[int]:
        """Samples of each utterance (the trainer batches utterances of similar length together)."""
        return [len(w) for w in self.waves]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, str, str]:
        wave = torch.zeros(self.max_samples)
        wave[: len(self.waves[i])] = self.waves[i].float()
        return wave, len(self.waves[i]), self.phonemes[i], self.chars[i]


# ----------------------------------------------------------------------------- sources


def _transcript_table(folder: Path) -> dict[str, str] | None:
    """``{file stem: text}`` from ``metadata.csv`` (LJ Speech: ``id|text|normalized``) or a CSV ``file,text``."""
    for name in ("metadata.csv", "transcripts.csv"):
        path = folder / name
        if not path.is_file():
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        if lines and "|" in lines[0]:  # LJ Speech: id|text|normalized text, no header; the normalised text is read
            rows = [line.split("|") for line in lines if line.strip()]
            return {r[0].strip(): (r[2] if len(r) > 2 and r[2].strip() else r[1] if len(r) > 1 else "").strip()
                    for r in rows}  # fmt: skip
        reader = csv.DictReader(lines)
        if not reader.fieldnames or not {"file", "text"} <= set(reader.fieldnames):
            raise DataError(f"{path} has no columns file,text", "write a header line: file,text")
        return {Path(r["file"] or "").stem: (r["text"] or "").strip() for r in reader}
    return None


def folder_utterances(folder: str | Path) -> tuple[list[Utterance], list[str]]:
    """Utterances of a folder of audio files with transcripts (see the module notes) and the skipped ones
    (``"path: reason"``): files without a transcript and empty transcripts."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"no folder {folder}", "pass a folder of WAV files with transcripts")
    audio_dir = folder / "wavs" if (folder / "wavs").is_dir() else folder
    files = sorted(p for p in audio_dir.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise DataError(f"no audio files in {audio_dir}", f"put {', '.join(AUDIO_SUFFIXES)} files there")
    table = _transcript_table(folder)
    rows, skipped = [], []
    for wav in files:
        if table is not None:
            text = table.get(wav.stem)
        else:
            beside = wav.with_suffix(".txt")
            text = beside.read_text(encoding="utf-8").strip() if beside.is_file() else None
        if text is None:
            skipped.append(f"{wav.name}: no transcript")
        elif not text:
            skipped.append(f"{wav.name}: empty transcript")
        else:
            rows.append(Utterance(wav, text, ()))
    return rows, skipped


def ljspeech_folder(data_dir: str | Path | None) -> Path:
    """The unpacked LJ Speech 1.1 (``LJSpeech-1.1/`` under the data folder, or the folder itself)."""
    root = data_root(data_dir)
    for candidate in (root, root / "LJSpeech-1.1"):
        if (candidate / "metadata.csv").is_file() and (candidate / "wavs").is_dir():
            return candidate
    raise DataError(
        f"no LJ Speech copy under {root}",
        f"download {LJSPEECH_URL} ({LJSPEECH_BYTES / 1e9:.1f} GB, sha256 {LJSPEECH_SHA256}), unpack it there and "
        "pass --data-dir",
    )


def _ljspeech(split: str = "all", data_dir: str | None = None, download: bool = True):
    """LJ Speech 1.1: one speaker reading 13,100 clips (public domain); read from a local copy."""
    return folder_utterances(ljspeech_folder(data_dir))[0]


register_dataset(
    DatasetSpec(
        "ljspeech", "speech", _ljspeech, ("all",),
        "LJ Speech 1.1: 13,100 clips of one English speaker, 24 h, 22,050 Hz (a local copy: --data-dir)",
        "public domain", {"url": LJSPEECH_URL, "sha256": LJSPEECH_SHA256, "sample_rate": 22050, "language": "en"},
    )
)  # fmt: skip


def source_utterances(cfg: ASRDataConfig, split: str | None = None) -> tuple[list[Utterance], list[str], str]:
    """``(utterances, skipped, language)`` of ``cfg.source`` (``split``: a built-in corpus's split)."""
    if cfg.source.startswith("builtin:"):
        name, _, tail = cfg.source[len("builtin:") :].partition(":")
        language = {"espeak-en": "en", "espeak-zh": "zh"}.get(name)
        if language is None:
            raise DataError(f"no built-in speech corpus '{cfg.source}'", "use builtin:espeak-en or builtin:espeak-zh")
        rows = corpus.load_corpus(language, split or tail or "train", cfg.data_dir, cfg.n_sentences)
        return [Utterance(r.wav, r.text, r.phonemes) for r in rows], [], language
    language = "en" if cfg.language == "auto" else cfg.language
    if cfg.source == "ljspeech":
        rows, skipped = folder_utterances(ljspeech_folder(cfg.data_dir))
    else:
        rows, skipped = folder_utterances(cfg.source)
    return rows, skipped, language


def _phonemize(rows: list[Utterance], language: str) -> list[Utterance]:
    """Rows with phonemes from eSpeak NG (rows that already have them are kept); unchanged without eSpeak NG."""
    if all(r.phonemes for r in rows):
        return rows
    try:
        with frontend.Phonemizer() as g2p:
            return [r if r.phonemes else r._replace(phonemes=tuple(g2p(r.text, language))) for r in rows]
    except GenlabError:  # eSpeak NG is not installed: character targets only
        return rows


def read_utterances(
    rows: list[Utterance], language: str, sample_rate: int, max_seconds: float
) -> tuple[list[torch.Tensor], list[Utterance], list[str]]:
    """Waves (mono, at ``sample_rate``) of the rows that can be read, those rows, and the skipped ones."""
    from genlab.audio.io import audio_info, read_audio

    waves, kept, skipped = [], [], []
    for row in rows:
        try:
            if audio_info(row.wav).seconds > max_seconds:
                skipped.append(f"{row.wav.name}: longer than {max_seconds:g} s")
                continue
            wave, _ = read_audio(row.wav, sample_rate)
            chars = frontend.characters(row.text, language)
        except BadInputError as e:
            skipped.append(f"{row.wav.name}: {e.message}")
            continue
        if not chars:
            skipped.append(f"{row.wav.name}: nothing to say in the transcript")
            continue
        waves.append(wave)
        kept.append(row)
    return waves, kept, skipped


def to_dataset(waves: list[torch.Tensor], rows: list[Utterance], language: str) -> UtteranceDataset:
    return UtteranceDataset(waves, [list(r.phonemes) for r in rows],
                            [frontend.characters(r.text, language) for r in rows])  # fmt: skip


def load_asr_data(cfg: ASRDataConfig, split: str | None = None):
    """``(train, val or None, info)``; with ``split`` (a built-in corpus's ``test``), that split alone as train."""
    rows, skipped, language = source_utterances(cfg, split)
    if cfg.max_files is not None and len(rows) > cfg.max_files:
        rows = random.Random(cfg.split_seed).sample(rows, cfg.max_files)
    rows = _phonemize(rows, language)
    waves, rows, unreadable = read_utterances(rows, language, cfg.sample_rate, cfg.max_seconds)
    skipped += unreadable
    if not rows:
        raise DataError(f"no usable utterances in {cfg.source} ({len(skipped)} skipped)", "; ".join(skipped[:3]))
    order = list(range(len(rows)))
    random.Random(cfg.split_seed).shuffle(order)
    n_val = int(round(len(rows) * cfg.val_fraction)) if split is None and len(rows) > 1 else 0
    val_idx, train_idx = sorted(order[:n_val]), sorted(order[n_val:])
    pick = lambda idx: to_dataset([waves[i] for i in idx], [rows[i] for i in idx], language)  # noqa: E731
    train = pick(train_idx)
    val = pick(val_idx) if val_idx else None
    phonemes = sorted({s for r in rows for s in r.phonemes} - set(frontend.SPECIALS))
    chars = sorted({c for d in (train, val) if d for seq in d.chars for c in seq.split(SEPARATOR)} - {""})
    info = ASRDataInfo(
        source=cfg.source, language=language, sample_rate=cfg.sample_rate, n_train=len(train_idx), n_val=n_val,
        seconds=round(sum(len(w) for w in waves) / cfg.sample_rate, 2), phoneme_symbols=phonemes,
        char_symbols=sorted(set(chars) - set(frontend.SPECIALS)), skipped=skipped,
        split={"val_fraction": cfg.val_fraction, "seed": cfg.split_seed, "n_val": n_val}, config=cfg.to_dict(),
    )  # fmt: skip
    return train, val, info


def describe_asr_data(info: ASRDataInfo) -> str:
    skipped = f", {len(info.skipped)} skipped" if info.skipped else ""
    return (f"{info.source}: {info.n_train} training + {info.n_val} validation utterances, {info.seconds / 60:.1f} "
            f"min at {info.sample_rate} Hz ({info.language}, {len(info.phoneme_symbols)} phonemes, "
            f"{len(info.char_symbols)} characters){skipped}")  # fmt: skip


def recorded_data_options(model, config_class: type[ASRDataConfig], data_dir: str | None = None) -> dict[str, Any]:
    """The data options a speech ``model`` recorded at training (those ``config_class`` takes), at the model's rate
    and language; ``data_dir`` where its dataset lives now."""
    recorded = dict((model.provenance.data or {}).get("config") or {})
    options = {k: v for k, v in recorded.items() if k in config_class.model_fields}
    options |= {"sample_rate": model.config.sample_rate, "language": model.config.language}
    return options | ({"data_dir": data_dir} if data_dir else {})


def held_out_data(model, request, config_class: type[ASRDataConfig], load) -> tuple[Any, str, str]:
    """``(dataset, split description, source)`` an evaluation scores a speech ``model`` on: ``request.ref`` (a
    built-in corpus, ``:test`` by default, or all utterances of a folder), else the split the model's recorded
    training data held out — a built-in corpus's ``test`` split, or the validation split (same files, seed and
    fraction). ``load(cfg, split=None)`` is the task's loader, returning ``(train, val, info)``."""
    base = recorded_data_options(model, config_class, request.data_dir)
    source = request.ref or base.get("source")
    if not source:
        raise BadInputError("no reference data: the model does not record its training data",
                            "pass --ref with transcribed speech (builtin:espeak-en:test or a folder)")  # fmt: skip
    if source.startswith("builtin:"):
        name, _, split = source[len("builtin:") :].partition(":")
        split = split if split in corpus.SPLITS else "test"
        cfg = config_class.build({**base, "source": f"builtin:{name}", "max_files": None}, where="eval")
        return load(cfg, split)[0], split, source
    if request.ref:
        cfg = config_class.build({**base, "source": source, "val_fraction": 0.0, "max_files": None}, where="eval")
        return load(cfg)[0], f"all utterances of {source}", source
    cfg = config_class.build(base, where="eval")  # the same files (max_files), seed and fraction as in training
    dataset = load(cfg)[1] if int(model.provenance.data.get("n_val") or 0) else None
    if dataset is None:
        raise BadInputError(f"{source} has no test split and the model was trained with no validation split",
                            "pass --ref with transcribed speech the model has not seen")  # fmt: skip
    return dataset, f"validation split of {source} (seed {cfg.split_seed}, fraction {cfg.val_fraction})", source
