"""Data for speech enhancement: clean speech loaded once, noisy mixtures made on the fly.

A training item is ``(noisy, clean)``, two mono float32 waves of ``segment_seconds`` at ``sample_rate``:

1. an utterance is drawn with probability ∝ its length (every second of speech equally likely) and a random
   crop of the segment's length is cut from it (a shorter one is zero-padded at a random offset; crops that
   are silent are redrawn);
2. the crop is scaled to an RMS level drawn uniformly in ``level_db`` (dBFS): the level of a recording says
   nothing of what is speech;
3. a noise kind is drawn uniformly from ``noise`` (white, pink, babble, folders: :mod:`.noise`) and a noise of
   that kind of the same length;
4. an SNR is drawn uniformly in ``snr`` (dB) and the noise scaled so that ``10·log10(P_speech / P_noise)`` is
   exactly that SNR (:func:`~genlab.audio.signal_metrics.mix_at_snr`, powers over the segment);
5. when the mixture's peak exceeds 0.99 both waves are scaled down together (the SNR is unchanged).

Randomness comes from torch's global generator, seeded by the engine, so a seeded run repeats.

**Clean speech** is a registered audio dataset (``fsdd``, ``fsdd:test``, ``builtin:espeak-digits``) or a folder of
audio files searched recursively (LJ Speech's ``wavs/``, VCTK, LibriSpeech, any WAV/FLAC folder), read once as
mono at ``sample_rate`` (other rates resampled, stereo mixed down, leading and trailing silence trimmed;
unreadable, empty and silent files skipped and counted). **Memory** is bounded by ``max_minutes`` of clean
speech (default 60 minutes: 230 MB of float32 at 16 kHz; files beyond it, in a seeded order, are left out and
counted) and ``max_noise_minutes`` of noise recordings (30 minutes: 115 MB). Folders are measured from the
file headers before anything is read.

**More voices**: ``extra_speech`` adds folders or datasets of clean speech to the training side only (never
held out, never in validation), so a model can learn from more speakers than the source that defines the test
split — FSDD's four training speakers plus LJ Speech and VCTK, say. ``speed_perturb`` adds copies of the
training speech (extra speech included) played faster or slower (0.9 and 1.1 say), each like a new voice.

**Held out**: a seeded ``val_fraction`` of the speakers when the file names say who speaks (FSDD
``7_theo_12``, VCTK ``p225_003``, LibriSpeech ``84-121123-0000``; datasets that record speakers), else of the
files; the held-out files are recorded (``val_files``) so evaluation finds them again. Validation uses
``val_mixtures`` mixtures made once with a seeded generator from the held-out speech and the held-out noise
(``test.txt`` of a noise folder, or the end of each recording), the same at every epoch and in every run.
"""

from __future__ import annotations

import logging
import math
import os
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from pydantic import Field, field_validator, model_validator
from torch.utils.data import Dataset

from genlab.audio import io
from genlab.audio.enhancement.noise import (
    BABBLE,
    NoiseFolder,
    NoiseSet,
    audio_files,
    check_noise_names,
    load_noise_folder,
)
from genlab.audio.loading import parse_source
from genlab.audio.signal_metrics import mix_at_snr
from genlab.core.config import Config
from genlab.core.data import DataInfo
from genlab.core.errors import BadInputError, DataError, GenlabError
from genlab.core.registry import DATASETS

log = logging.getLogger(__name__)

DEFAULT_SOURCE = "builtin:espeak-digits"
DEFAULT_NOISE = ("white", "pink", "babble")
#: file-name patterns that name the speaker (tried in order)
SPEAKER_PATTERNS = (
    re.compile(r"^\d+_(?P<speaker>[A-Za-z]+)_\d+$"),  # FSDD: 7_theo_12
    re.compile(r"^(?P<speaker>[A-Za-z]+\d+)_\d+$"),  # VCTK: p225_003
    re.compile(r"^(?P<speaker>\d+)-\d+-\d+$"),  # LibriSpeech: 84-121123-0000
)
PEAK = 0.99
SILENT_CROP_DB = -70.0  # a speech crop quieter than this is redrawn
CROP_TRIES = 10


def parse_range(value: Any, what: str) -> Any:
    """``"lo:hi"`` (or ``"x"``: both ends) as a pair of floats; lists and tuples pass through."""
    if isinstance(value, (int, float)):
        return (float(value), float(value))
    if isinstance(value, str):
        parts = value.split(":")
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            raise ValueError(f"{what} must be 'low:high' in dB, e.g. -5:20; got '{value}'") from None
        if len(numbers) not in (1, 2):
            raise ValueError(f"{what} must be 'low:high' in dB, e.g. -5:20; got '{value}'")
        return (numbers[0], numbers[-1])
    return value


def split_names(value: Any) -> Any:
    """A comma-separated string as a list of names; paths in a list become strings (other values pass through)."""
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, (list, tuple)):
        return [os.fspath(v) if isinstance(v, os.PathLike) else v for v in value]
    return value


class EnhancementDataConfig(Config):
    """Clean speech, noises and mixing settings of a speech-enhancement run (module docstring)."""

    source: str = Field(
        DEFAULT_SOURCE,
        min_length=1,
        description="clean speech: a folder of audio files (searched recursively) or an audio dataset "
        "(fsdd, builtin:espeak-digits)",
    )
    data_dir: str | None = Field(None, description="folder of standard datasets (fsdd)")
    extra_speech: list[str] = Field(
        default_factory=list,
        description="more clean speech for training only (folders or datasets, never held out); repeat the option "
        "for several",
    )
    speed_perturb: list[float] = Field(
        default_factory=list,
        max_length=8,
        description="speed factors of extra copies of the training speech (0.9 and 1.1 are usual): each copy plays "
        "faster or slower, its pitch and formants moved with it, like a new voice; training side only",
    )
    sample_rate: int = Field(16000, ge=8000, le=48000, description="everything is resampled to this rate (Hz)")
    segment_seconds: float = Field(1.0, ge=0.25, le=10, description="length of the training mixtures, seconds")
    snr: tuple[float, float] = Field(
        (-5.0, 20.0), description="SNR range of the mixtures in dB, drawn uniformly; on the command line low:high",
        json_schema_extra={"cli_default": "-5:20"},
    )  # fmt: skip
    noise: list[str] = Field(
        list(DEFAULT_NOISE),
        description="noises, each drawn equally often: white, pink, babble (other utterances), or a folder of "
        "recordings; repeat the option for several",
    )
    level_db: tuple[float, float] = Field(
        (-35.0, -15.0), description="RMS level of the clean speech in a mixture, dBFS, drawn uniformly (low:high)",
        json_schema_extra={"cli_default": "-35:-15"},
    )  # fmt: skip
    segments_per_epoch: int = Field(2000, ge=1, description="random mixtures that make one epoch")
    val_fraction: float = Field(
        0.1, ge=0.0, lt=0.9, description="share of the speakers (or files) held out, and of each noise recording "
        "when its folder has no test.txt",
    )  # fmt: skip
    val_mixtures: int = Field(32, ge=0, le=10000, description="fixed validation mixtures made from the held-out data")
    max_files: int | None = Field(None, ge=1, description="use at most this many clean files (after a seeded shuffle)")
    max_minutes: float = Field(60.0, gt=0, le=1200, description="clean speech kept in memory at most, minutes")
    max_noise_minutes: float = Field(30.0, gt=0, le=600, description="noise recordings kept in memory at most, minutes")
    split_seed: int = Field(0, description="seed of the held-out split and of the validation mixtures")

    @field_validator("snr", mode="before")
    @classmethod
    def _snr(cls, value: Any) -> Any:
        return parse_range(value, "snr")

    @field_validator("level_db", mode="before")
    @classmethod
    def _level(cls, value: Any) -> Any:
        return parse_range(value, "level_db")

    @field_validator("noise", "extra_speech", mode="before")
    @classmethod
    def _noise(cls, value: Any) -> Any:
        return split_names(value)

    @field_validator("speed_perturb")
    @classmethod
    def _speeds(cls, value: list[float]) -> list[float]:
        for factor in value:
            if not 0.5 <= factor <= 2.0 or factor == 1.0:
                raise ValueError(f"speed_perturb factors lie in 0.5…2.0 and differ from 1, got {factor:g}")
        return value

    @model_validator(mode="after")
    def _ranges(self) -> EnhancementDataConfig:
        for name, (low, high), limits in (("snr", self.snr, (-30, 60)), ("level_db", self.level_db, (-80, 0))):
            if low > high:
                raise ValueError(f"{name}: the low end ({low:g}) is above the high end ({high:g})")
            if low < limits[0] or high > limits[1]:
                raise ValueError(f"{name} must lie within {limits[0]}:{limits[1]} dB, got {low:g}:{high:g}")
        if not self.noise:
            raise ValueError("noise needs at least one of white, pink, babble or a folder")
        return self

    @property
    def segment_samples(self) -> int:
        return int(round(self.segment_seconds * self.sample_rate))


# --------------------------------------------------------------------------- clean speech


@dataclass
class Speech:
    """Clean utterances in memory: mono float32 waves (samples,) at one rate, with their ids and speakers.

    ``ids`` are file paths for folders and clip names for registered datasets; ``speakers[i]`` is "" when unknown.
    """

    waves: list[torch.Tensor]
    ids: list[str]
    speakers: list[str]
    source: str
    sample_rate: int
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.waves)

    def subset(self, indices: Sequence[int]) -> Speech:
        pick = lambda xs: [xs[i] for i in indices]  # noqa: E731
        return Speech(pick(self.waves), pick(self.ids), pick(self.speakers), self.source, self.sample_rate,
                      list(self.skipped))  # fmt: skip

    @property
    def seconds(self) -> float:
        return sum(w.shape[-1] for w in self.waves) / self.sample_rate

    def joined(self, other: Speech) -> Speech:
        """This speech followed by ``other`` (same rate)."""
        return Speech(self.waves + other.waves, self.ids + other.ids, self.speakers + other.speakers,
                      f"{self.source} + {other.source}", self.sample_rate, self.skipped + other.skipped)  # fmt: skip


def speaker_of(name: str) -> str:
    """The speaker named by a file stem (FSDD, VCTK, LibriSpeech conventions), or ""."""
    stem = Path(name).stem
    for pattern in SPEAKER_PATTERNS:
        if match := pattern.fullmatch(stem):
            return match["speaker"]
    return ""


def _seeded_order(n: int, seed: int) -> list[int]:
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return order


def _within_budget(lengths: Sequence[int], budget: int, max_files: int | None, seed: int) -> list[int]:
    """Indices (seeded order) whose lengths fit ``budget`` samples, at most ``max_files``; sorted."""
    chosen, total = [], 0
    for i in _seeded_order(len(lengths), seed):
        if max_files is not None and len(chosen) >= max_files:
            break
        if total + lengths[i] > budget and chosen:
            continue
        chosen.append(i)
        total += lengths[i]
    return sorted(chosen)


def _read_speech_file(path: Path, sample_rate: int) -> torch.Tensor:
    wave, _ = io.read_audio(path, sample_rate)
    if not bool(torch.isfinite(wave).all()):
        raise BadInputError("holds NaN or infinite samples")
    if io.is_silent(wave):
        raise BadInputError(f"silent ({io.rms_db(wave):.0f} dBFS)")
    return io.trim_silence(wave, sample_rate)


def read_speech_files(paths: Sequence[str | Path], sample_rate: int, source: str) -> Speech:
    """The given files as :class:`Speech` (unreadable ones skipped and listed; none readable: DataError)."""
    waves, ids, skipped = [], [], []
    for path in paths:
        try:
            waves.append(_read_speech_file(Path(path), sample_rate))
            ids.append(str(path))
        except (GenlabError, OSError, RuntimeError, ValueError) as e:
            skipped.append(f"{path}: {getattr(e, 'message', None) or e}")
    if skipped:
        log.warning("skipped %d clean speech file(s), e.g. %s", len(skipped), skipped[0])
    if not waves:
        raise DataError(
            f"none of the {len(paths)} clean speech file(s) of {source} could be used",
            f"they may be corrupt, empty or silent; first problem: {skipped[0] if skipped else 'none given'}",
        )
    return Speech(waves, ids, [speaker_of(i) for i in ids], source, sample_rate, skipped)


def _load_folder(root: Path, cfg: EnhancementDataConfig) -> Speech:
    files = audio_files(root)
    if not files:
        raise DataError(
            f"no audio files in {root}", f"put {', '.join(io.AUDIO_SUFFIXES)} files in it (sub-folders too)"
        )
    lengths, unreadable = [], []
    for path in files:
        try:
            info = io.audio_info(path)
            lengths.append(int(math.ceil(info.seconds * cfg.sample_rate)))
        except BadInputError as e:
            lengths.append(-1)
            unreadable.append(f"{path}: {e.message}")
    usable = [i for i, n in enumerate(lengths) if n > 0]
    keep = _within_budget([lengths[i] for i in usable], int(cfg.max_minutes * 60 * cfg.sample_rate),
                          cfg.max_files, cfg.split_seed)  # fmt: skip
    chosen = [usable[i] for i in keep]
    left = len(usable) - len(chosen)
    speech = read_speech_files([files[i] for i in chosen], cfg.sample_rate, str(root))
    speech.skipped = unreadable + speech.skipped
    if left:
        speech.skipped.append(f"{root}: {left} file(s) left out (max_files / the {cfg.max_minutes:g}-minute budget)")
    return speech


def _load_dataset(name: str, split: str | None, cfg: EnhancementDataConfig) -> Speech:
    spec = DATASETS.get(name)
    if spec.modality != "audio":
        raise DataError(f"{name} is a {spec.modality} dataset", "pick an audio dataset: genlab datasets audio")
    split = spec.check_split(split)
    clips = spec(split, data_dir=cfg.data_dir, sample_rate=cfg.sample_rate)
    keep = _within_budget([w.shape[-1] for w in clips.waves], int(cfg.max_minutes * 60 * cfg.sample_rate),
                          cfg.max_files, cfg.split_seed)  # fmt: skip
    speakers = [s or speaker_of(n) for s, n in zip(clips.speakers, clips.names, strict=True)]
    speech = Speech(clips.waves, list(clips.names), speakers, f"{name}:{split}", cfg.sample_rate, list(clips.skipped))
    return speech.subset(keep)


def load_speech(cfg: EnhancementDataConfig, source: str | None = None) -> Speech:
    """The clean speech of ``source`` (default ``cfg.source``) within the memory budget (module docstring)."""
    source = source or cfg.source
    name, split = parse_source(source)
    if name in DATASETS:
        return _load_dataset(name, split, cfg)
    root = Path(source).expanduser()
    if not root.is_dir():
        raise DataError(
            f"no folder or dataset '{source}'",
            "give a folder of clean speech recordings (WAV/FLAC, searched recursively) or a dataset: "
            + ", ".join(DATASETS.names(modality="audio")),
        )
    return _load_folder(root.resolve(), cfg)


def split_speech(speech: Speech, val_fraction: float, seed: int) -> tuple[list[int], list[int], dict[str, Any]]:
    """(train indices, held-out indices, split record): by speaker when every utterance names one and there are
    at least two, else by file; at least one speaker/file is held out when ``val_fraction`` > 0 and one is left."""
    speakers = sorted(set(speech.speakers))
    by_speaker = len(speakers) >= 2 and all(speech.speakers)
    units = speakers if by_speaker else list(range(len(speech)))
    n_val = 0 if val_fraction == 0 or len(units) < 2 else min(len(units) - 1, max(1, round(len(units) * val_fraction)))
    held = {units[i] for i in _seeded_order(len(units), seed)[:n_val]}
    key = (lambda i: speech.speakers[i]) if by_speaker else (lambda i: i)
    val = [i for i in range(len(speech)) if key(i) in held]
    train = [i for i in range(len(speech)) if key(i) not in held]
    record = {"method": "speaker" if by_speaker else "file", "val_fraction": val_fraction, "seed": seed,
              "n_val": len(val), "val_speakers": sorted(held) if by_speaker else []}  # fmt: skip
    return train, val, record


# --------------------------------------------------------------------------- mixtures


def speed_perturbed(speech: Speech, factor: float) -> Speech:
    """A copy of ``speech`` played ``factor`` times faster (resampled by 1/factor, kept at the same rate): pitch
    and formants move by ``factor``, the duration by 1/factor. Speed perturbation multiplies the voices a model
    learns from (Ko et al., "Audio augmentation for speech recognition", Interspeech 2015); the speakers keep
    their names, so babble still excludes the target's own voice."""
    orig = int(round(factor * 1000))
    waves = [io.resample(w, orig, 1000).float() for w in speech.waves]
    return Speech(waves, [f"{i}@speed{factor:g}" for i in speech.ids], list(speech.speakers),
                  f"{speech.source} ×{factor:g}", speech.sample_rate)  # fmt: skip


def _uniform(low: float, high: float, generator: torch.Generator | None) -> float:
    return low + (high - low) * float(torch.rand(1, generator=generator, dtype=torch.float64))


def speech_crop(wave: torch.Tensor, length: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """A random crop (length,) of an utterance; a shorter one is zero-padded at a random offset. Crops quieter
    than −70 dBFS are redrawn a few times."""
    for _ in range(CROP_TRIES):
        n = wave.shape[-1]
        if n >= length:
            start = int(torch.randint(0, n - length + 1, (1,), generator=generator))
            piece = wave[start : start + length]
        else:
            left = int(torch.randint(0, length - n + 1, (1,), generator=generator))
            piece = torch.nn.functional.pad(wave, (left, length - n - left))
        if io.rms_db(piece) > SILENT_CROP_DB:
            return piece
    return piece


def make_mixture(
    speech: Speech,
    clip: int,
    noises: NoiseSet,
    length: int,
    snr: tuple[float, float],
    level_db: tuple[float, float],
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """One ``(noisy, clean, facts)`` mixture of utterance ``clip`` (module docstring, steps 1–5); ``facts`` holds
    the drawn ``snr``, ``noise`` kind and ``clip``."""  # fmt: skip
    clean = speech_crop(speech.waves[clip], length, generator)
    level = _uniform(*level_db, generator)
    clean = clean * 10 ** ((level - io.rms_db(clean)) / 20)
    kind = noises.draw_kind(generator)
    noise = noises.draw(kind, length, clip, generator)
    snr_db = _uniform(*snr, generator)
    noisy = mix_at_snr(clean, noise, snr_db, generator)
    peak = float(noisy.abs().max())
    if peak > PEAK:
        noisy, clean = noisy * (PEAK / peak), clean * (PEAK / peak)
    return noisy.float(), clean.float(), {"snr": snr_db, "noise": noises.kind_name(kind), "clip": clip}


class MixtureDataset(Dataset):
    """``length`` random ``(noisy, clean)`` mixtures an epoch, made on the fly from ``speech`` and ``noises``."""

    def __init__(self, speech: Speech, noises: NoiseSet, segment_samples: int, snr: tuple[float, float],
                 level_db: tuple[float, float], length: int):  # fmt: skip
        self.speech, self.noises, self.segment_samples = speech, noises, segment_samples
        self.snr, self.level_db, self.length = snr, level_db, length
        self.weights = torch.tensor([float(max(w.shape[-1], segment_samples)) for w in speech.waves])

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        clip = int(torch.multinomial(self.weights, 1))
        noisy, clean, _ = make_mixture(self.speech, clip, self.noises, self.segment_samples, self.snr, self.level_db)
        return noisy, clean


class FixedMixtures(Dataset):
    """Mixtures made once with a seeded generator (the held-out utterances in turn): the same every epoch and run."""

    def __init__(self, speech: Speech, noises: NoiseSet, segment_samples: int, snr: tuple[float, float],
                 level_db: tuple[float, float], count: int, seed: int):  # fmt: skip
        gen = torch.Generator().manual_seed(seed)
        self.items = [make_mixture(speech, i % len(speech), noises, segment_samples, snr, level_db, gen)
                      for i in range(count)]  # fmt: skip

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        noisy, clean, _ = self.items[index]
        return noisy, clean


# --------------------------------------------------------------------------- loading a run's data


@dataclass
class EnhancementDataInfo(DataInfo):
    """What was loaded; written to the run (``data.json``) and into the model (evaluation reads it)."""

    source: str
    sample_rate: int
    segment_samples: int
    n_train: int = 0
    n_val: int = 0
    seconds: float = 0.0
    n_speakers: int = 0
    n_extra: int = 0  # of n_train, utterances from extra_speech
    n_perturbed: int = 0  # of n_train, speed-perturbed copies
    snr: list[float] = field(default_factory=list)
    noise: list[dict[str, Any]] = field(default_factory=list)
    split: dict[str, Any] = field(default_factory=dict)
    val_files: list[str] = field(default_factory=list)  # held-out utterances: paths, or clip names of a dataset
    skipped: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)


def babble_pool(split: Speech, fallback: Speech) -> tuple[Speech, bool]:
    """The utterances babble of ``split`` is made of: its own when it has at least four (three besides the
    target), else ``fallback`` (the training speech); and whether they are the split's own."""
    return (split, True) if len(split) >= 4 or split is fallback else (fallback, False)


def noise_set(names: list[str], pool: tuple[Speech, bool], folders: dict[str, Any]) -> NoiseSet:
    """The :class:`NoiseSet` of a split; babble from ``pool`` (excluding the target only when it is the split's own)."""
    pool_speech, own = pool
    return NoiseSet(names, pool_speech.waves, pool_speech.speakers, folders, exclude_target=own)


def load_enhancement_data(cfg: EnhancementDataConfig):
    """(train, val or None, info): mixture datasets of ``cfg`` (module docstring)."""
    names = check_noise_names(cfg.noise)
    speech = load_speech(cfg)
    train_idx, val_idx, split = split_speech(speech, cfg.val_fraction, cfg.split_seed)
    train_speech, val_speech = speech.subset(train_idx), speech.subset(val_idx)
    n_extra, seconds = 0, speech.seconds
    for source in cfg.extra_speech:
        extra = load_speech(cfg, source)
        train_speech, n_extra, seconds = train_speech.joined(extra), n_extra + len(extra), seconds + extra.seconds
    originals, n_perturbed = train_speech, 0
    for factor in cfg.speed_perturb:
        copy = speed_perturbed(originals, factor)
        train_speech, n_perturbed = train_speech.joined(copy), n_perturbed + len(copy)
    folders: dict[str, NoiseFolder] = {
        n: load_noise_folder(n, cfg.sample_rate, cfg.val_fraction or 0.1, cfg.max_noise_minutes)
        for n in names if n not in ("white", "pink", BABBLE)
    }  # fmt: skip
    if BABBLE in names and len(train_speech) < 2:
        raise DataError(
            f"babble noise needs at least two training utterances, {cfg.source} gives {len(train_speech)}",
            "give more clean files, or drop babble (--noise white --noise pink)",
        )
    train_noise = noise_set(names, (train_speech, True), {n: f.train for n, f in folders.items()})
    train = MixtureDataset(train_speech, train_noise, cfg.segment_samples, cfg.snr, cfg.level_db,
                           cfg.segments_per_epoch)  # fmt: skip
    val = None
    if len(val_speech) and cfg.val_mixtures:
        val_noise = noise_set(names, babble_pool(val_speech, train_speech),
                              {n: f.held_out for n, f in folders.items()})  # fmt: skip
        val = FixedMixtures(val_speech, val_noise, cfg.segment_samples, cfg.snr, cfg.level_db, cfg.val_mixtures,
                            cfg.split_seed)  # fmt: skip
    info = EnhancementDataInfo(
        source=cfg.source, sample_rate=cfg.sample_rate, segment_samples=cfg.segment_samples,
        n_train=len(train_speech), n_val=len(val_speech), seconds=round(seconds, 1),
        n_speakers=len({s for s in speech.speakers if s}), n_extra=n_extra, n_perturbed=n_perturbed,
        snr=list(cfg.snr),
        noise=[folders[n].to_dict() if n in folders else {"kind": n} for n in names], split=split,
        val_files=list(val_speech.ids),
        skipped=list(train_speech.skipped) + [s for f in folders.values() for s in f.skipped],
        config=cfg.to_dict(),
    )  # fmt: skip
    return train, val, info


def describe(info: EnhancementDataInfo) -> str:
    """One console line (two with skipped files) describing the loaded data."""
    noises = ", ".join(n["kind"] if n["kind"] != "folder" else Path(n["source"]).name for n in info.noise)
    held = f" ({info.split.get('method')} split)" if info.n_val else ""
    notes = [f"{info.n_extra} from extra_speech"] if info.n_extra else []
    notes += [f"{info.n_perturbed} speed-perturbed"] if info.n_perturbed else []
    extra = f" ({', '.join(notes)})" if notes else ""
    line = (
        f"speech {info.source}: {info.n_train} train{extra} / {info.n_val} held-out utterances{held}, "
        f"{info.seconds:.0f} s, "
        f"{info.sample_rate} Hz; {info.segment_samples / info.sample_rate:g} s mixtures at "
        f"{info.snr[0]:g}:{info.snr[1]:g} dB SNR with {noises}"
    )
    if info.skipped:
        line += f"\n[yellow]skipped {len(info.skipped)} file(s)[/], e.g. {info.skipped[0]}"
    return line
