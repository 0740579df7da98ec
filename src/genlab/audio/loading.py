"""From a data config to training sets: labelled clips of a fixed length, split into train and validation.

Every audio task trains on :class:`ClipDataset` items ``(wave (samples,), label)``: mono float32 at the
config's ``sample_rate``, cut or padded to ``clip_seconds``. ``source`` is a registered dataset (``fsdd``,
``fsdd:test``, ``builtin:espeak-digits``) or a folder of audio files (labels from the file names, class
sub-folders or a CSV; :func:`genlab.audio.data.load_audio_folder`). A seeded ``val_fraction`` of the clips
is held out for validation; the loader records the split so evaluation can find the same clips again.

Training clips are augmented (``augment``): a random crop of longer clips, a random offset of shorter ones
inside the padded window, and a random gain of ±``gain_db`` — the level of a recording says nothing of
what it says.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from pydantic import Field
from torch.utils.data import Dataset

from genlab.core.config import Config
from genlab.core.data import DataInfo, parse_source  # noqa: F401  (re-exported for the audio tasks)
from genlab.core.errors import ConfigError, DataError
from genlab.core.registry import DATASETS

BUILTIN = "builtin:espeak-digits"


class AudioDataConfig(Config):
    """Where the clips come from and how they are cut."""

    source: str = Field(
        BUILTIN,
        min_length=1,
        description="a dataset (fsdd, fsdd:test, builtin:espeak-digits) or a folder of WAV/FLAC/OGG files",
    )
    data_dir: str | None = Field(None, description="folder of standard datasets (or of this dataset's files)")
    sample_rate: int = Field(8000, ge=1000, le=48000, description="clips are resampled to this rate (Hz)")
    clip_seconds: float = Field(1.0, gt=0, le=60, description="every clip is cut or zero-padded to this length")
    labels: Literal["auto", "name", "folder", "csv", "none"] = Field(
        "auto", description="where labels come from in a folder: file names, class sub-folders, a CSV, or none"
    )
    labels_csv: str | None = Field(None, description="CSV with columns file,label[,speaker] (with labels=csv)")
    pattern: str | None = Field(
        None, description="regular expression over file stems with groups label and speaker "
        "(default: LABEL_SPEAKER_TAKE, as FSDD's 7_theo_12.wav)",
    )  # fmt: skip
    label_field: Literal["label", "speaker"] = Field(
        "label", description="what a clip's class is: its label (the digit) or its speaker"
    )
    val_fraction: float = Field(0.1, ge=0.0, lt=0.9, description="share of the clips held out for validation")
    max_files: int | None = Field(None, ge=1, description="use at most this many clips (after a seeded shuffle)")
    augment: bool = Field(True, description="random crops/offsets and gains of the training clips")
    gain_db: float = Field(6.0, ge=0, le=40, description="largest random gain change of a training clip, dB")
    split_seed: int = Field(0, description="seed of the shuffle behind the split")


@dataclass
class AudioDataInfo(DataInfo):
    """What was loaded; written to the run (``data.json``) and used to fill the model config."""

    source: str
    sample_rate: int
    clip_samples: int
    num_classes: int
    class_names: list[str] = field(default_factory=list)
    speakers: list[str] = field(default_factory=list)
    n_train: int = 0
    n_val: int = 0
    seconds: float = 0.0
    skipped: list[str] = field(default_factory=list)
    split: dict[str, Any] = field(default_factory=dict)
    #: the data config the clips were loaded with (to load the same validation clips again)
    config: dict[str, Any] = field(default_factory=dict)


class ClipDataset(Dataset):
    """Clips as fixed-length items ``(wave (clip_samples,), label)``; with ``augment``, random crops,
    offsets and gains (seeded by the data loader's worker seeds through :mod:`random`)."""

    def __init__(self, waves: list[torch.Tensor], labels: list[int], clip_samples: int, augment: bool = False,
                 gain_db: float = 0.0):  # fmt: skip
        self.waves, self.labels = waves, labels
        self.clip_samples, self.augment, self.gain_db = clip_samples, augment, gain_db

    def __len__(self) -> int:
        return len(self.waves)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        wave, n = self.waves[i], self.clip_samples
        if len(wave) > n:
            start = random.randint(0, len(wave) - n) if self.augment else (len(wave) - n) // 2
            out = wave[start : start + n]
        else:
            left = random.randint(0, n - len(wave)) if self.augment else (n - len(wave)) // 2
            out = torch.nn.functional.pad(wave, (left, n - len(wave) - left))
        if self.augment and self.gain_db:
            out = out * 10 ** (random.uniform(-self.gain_db, self.gain_db) / 20)
        return out.clamp(-1, 1), self.labels[i]


def load_clips(cfg: AudioDataConfig, split: str | None = None):
    """The :class:`~genlab.audio.data.AudioClips` of ``cfg.source`` (``split`` overrides the one in the name)."""
    from genlab.audio.data import load_audio_folder

    name, named_split = parse_source(cfg.source)
    if name in DATASETS:
        spec = DATASETS.get(name)
        if spec.modality != "audio":
            raise DataError(f"{name} is a {spec.modality} dataset", "pick an audio dataset: genlab datasets audio")
        return spec(spec.check_split(split or named_split), data_dir=cfg.data_dir, sample_rate=cfg.sample_rate)
    extra = {"pattern": cfg.pattern} if cfg.pattern else {}
    return load_audio_folder(cfg.source, cfg.sample_rate, labels=cfg.labels, csv=cfg.labels_csv, **extra)


#: data options that say how clips were found and labelled: evaluation reloads a model's data with them
LABELLING_OPTIONS = ("labels", "labels_csv", "label_field", "data_dir", "pattern")


def recorded_data_options(model, data_dir: str | None = None) -> dict[str, Any]:
    """Data-config values that reload the clips ``model`` was trained on as they were labelled, at the model's
    sample rate and clip length, without augmentation (``data_dir`` replaces the recorded one when given)."""
    options = dict(model.provenance.data.get("config") or {})
    values = {k: v for k, v in options.items() if k in LABELLING_OPTIONS}
    values |= {"sample_rate": model.config.sample_rate, "augment": False,
               "clip_seconds": model.config.clip_samples / model.config.sample_rate}  # fmt: skip
    if data_dir:
        values["data_dir"] = data_dir
    return values


def class_labels(clips, label_field: str) -> tuple[list[int], list[str]]:
    """Per-clip class indices and class names: the clips' labels, or their speakers (sorted)."""
    if label_field == "label":
        return list(clips.labels), list(clips.classes)
    names = sorted({s for s in clips.speakers if s})
    if not names:
        raise DataError(f"{clips.source} records no speakers", "name files like DIGIT_SPEAKER_TAKE.wav, or use a CSV")
    index = {s: i for i, s in enumerate(names)}
    return [index.get(s, -1) for s in clips.speakers], names


def load_audio_data(cfg: AudioDataConfig, split: str | None = None):
    """Load ``cfg.source`` and split it (seeded) into train and validation sets (None when val_fraction is 0).

    Returns ``(train, val, info)``: two :class:`ClipDataset` and an :class:`AudioDataInfo`.
    """
    clips = load_clips(cfg, split)
    labels, class_names = class_labels(clips, cfg.label_field)
    order = list(range(len(clips)))
    random.Random(cfg.split_seed).shuffle(order)
    if cfg.max_files is not None:
        order = order[: cfg.max_files]
    n = len(order)
    if n == 0:
        raise DataError(f"{cfg.source} gave no clips", "check the folder or dataset name")
    n_val = 0 if cfg.val_fraction == 0 or n < 2 else min(n - 1, max(1, round(n * cfg.val_fraction)))
    clip_samples = int(round(cfg.clip_seconds * cfg.sample_rate))
    waves = [clips.waves[i] for i in order]
    ys = [labels[i] for i in order]
    train = ClipDataset(waves[n_val:], ys[n_val:], clip_samples, augment=cfg.augment, gain_db=cfg.gain_db)
    val = ClipDataset(waves[:n_val], ys[:n_val], clip_samples) if n_val else None
    info = AudioDataInfo(
        source=cfg.source,
        sample_rate=cfg.sample_rate,
        clip_samples=clip_samples,
        num_classes=len(class_names) if any(y >= 0 for y in ys) else 0,
        class_names=class_names,
        speakers=sorted({s for s in clips.speakers if s}),
        n_train=n - n_val,
        n_val=n_val,
        seconds=round(sum(len(w) for w in waves) / cfg.sample_rate, 1),
        skipped=list(clips.skipped),
        split={"method": "random", "val_fraction": cfg.val_fraction, "seed": cfg.split_seed, "n_val": n_val},
        config=cfg.to_dict(),
    )
    return train, val, info


def describe_audio_data(info: AudioDataInfo) -> str:
    """One console line (two with skipped files) describing loaded audio data."""
    labels = f"{info.num_classes} classes" if info.num_classes else "unlabelled"
    line = (
        f"data {info.source}: {info.n_train} train / {info.n_val} val clips ({info.seconds:.0f} s), "
        f"{info.sample_rate} Hz, {info.clip_samples / info.sample_rate:g} s clips, {labels}"
    )
    if info.skipped:
        line += f"\n[yellow]skipped {len(info.skipped)} unreadable file(s)[/], e.g. {info.skipped[0]}"
    return line


def stack_clips(dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """All items of a :class:`~genlab.audio.loading.ClipDataset` as (N, samples) clips and (N,) labels."""
    items = [dataset[i] for i in range(len(dataset))]
    if not items:
        return torch.empty(0), torch.empty(0, dtype=torch.long)
    return torch.stack([w for w, _ in items]), torch.tensor([y for _, y in items], dtype=torch.long)


def fill_audio_config(values: dict[str, Any], info: AudioDataInfo, extra: dict[str, Any]) -> dict[str, Any]:
    """Model config ``values`` with the data's ``sample_rate`` and ``clip_samples`` (and ``extra``) filled in;
    an explicit model value that differs from the data is refused (it is set on the data)."""
    from_data = {"sample_rate": info.sample_rate, "clip_samples": info.clip_samples}
    for key, value in from_data.items():
        if key in values and values[key] != value:
            flag = "--sample-rate" if key == "sample_rate" else "--clip-seconds"
            raise ConfigError(f"model.{key}={values[key]} does not match the data ({key}={value})",
                              f"set it on the data instead ({flag}) or drop the override")  # fmt: skip
    return {**values, **from_data, **extra}
