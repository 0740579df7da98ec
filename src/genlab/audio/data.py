r"""Audio datasets: folders of sound files, the Free Spoken Digit Dataset, and spoken digits made offline.

Every loader returns :class:`AudioClips`: mono float32 waves in [-1, 1] at one sample rate, with labels,
class names, speakers and clip names. Unreadable, empty and silent files are skipped and listed in
``skipped`` ("path: reason"), never a crash; a source with no readable audio raises :class:`DataError`.

* :func:`load_audio_folder` — any folder of WAV/FLAC/OGG/MP3/AIFF files (searched recursively), labelled
  from file names (``7_theo_12.wav``: label ``7``, speaker ``theo``), one sub-folder per class (as image
  folders), a CSV (``file,label[,speaker]``; ``labels.csv``, or a Hugging Face style ``metadata.csv`` with
  ``file_name`` and ``label`` columns), or not at all.
* ``fsdd`` — the Free Spoken Digit Dataset (Z. Jackson et al., https://github.com/Jakobovski/free-spoken-digit-dataset,
  CC BY-SA 4.0): 3,000 recordings ``{digit}_{speaker}_{take}.wav`` of the digits 0–9, 6 English-speaking
  speakers × 50 takes, 8 kHz mono 16-bit. Official split: takes 0–4 of each digit and speaker are the test
  set (300 clips), takes 5–49 the training set (2,700). :func:`load_fsdd` reads
  ``data_root(data_dir)/fsdd/recordings/`` and downloads missing files one by one from the repository at a
  fixed commit, each checked against its sha256 in ``fsdd_manifest.json``.
* ``builtin:espeak-digits`` — :func:`espeak_digits`: the words "zero" … "nine" spoken by eSpeak NG
  (:mod:`genlab.audio.espeak`, GPL-3.0+, installed by the audio extra) with several voices, pitches and
  rates; no network and no recordings, deterministic. Whole voices are held out for the test split.

``fsdd_manifest.json`` (name → sha256 of the 3,000 recordings at commit ``FSDD_COMMIT``) was made from the
sha256 table of the project's shared copy (``../shared/data/fsdd/SOURCE.md``, whose files are verbatim
copies of that commit; all 3,000 hashes were checked with ``sha256sum``), run from the repository root::

    python - <<'EOF'
    import json, pathlib, re
    text = pathlib.Path("../shared/data/fsdd/SOURCE.md").read_text()
    commit = re.search(r"Commit: ([0-9a-f]{40})", text).group(1)
    rows = re.findall(r"^\| recordings/(\S+\.wav) \| \d+ \| ([0-9a-f]{64}) \|", text, re.M)
    url = f"https://raw.githubusercontent.com/Jakobovski/free-spoken-digit-dataset/{commit}/recordings/"
    manifest = {"commit": commit, "url": url, "files": dict(sorted(rows))}
    pathlib.Path("src/genlab/audio/fsdd_manifest.json").write_text(json.dumps(manifest, separators=(",", ":")) + "\n")
    EOF
"""

from __future__ import annotations

import contextlib
import csv as csv_module
import functools
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from genlab.audio import espeak, io
from genlab.core.console import console, info, is_rank_zero
from genlab.core.data import DatasetSpec, first_line, register_dataset
from genlab.core.download import DATA_DIR_ENV, DISABLE_ENV, data_root, download
from genlab.core.errors import BadInputError, DataError, GenlabError
from genlab.core.optional import require

log = logging.getLogger(__name__)

LabelSource = Literal["auto", "name", "folder", "csv", "none"]
DEFAULT_PATTERN = r"^(?P<label>[^_]+)_(?P<speaker>[^_]+)_(?P<take>\d+)$"
LABEL_FILES = ("labels.csv", "metadata.csv")  # looked for in the folder, in this order
FILE_COLUMNS = ("file", "file_name", "filename", "path")
LABEL_COLUMNS = ("label", "class", "category")
SPEAKER_COLUMNS = ("speaker", "speaker_id")
PROGRESS_MIN_FILES = 500  # show a progress bar when reading more files than this

DIGIT_CLASSES = [str(d) for d in range(10)]
DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]

FSDD_REPO = "https://github.com/Jakobovski/free-spoken-digit-dataset"
FSDD_LICENSE = "CC BY-SA 4.0"
FSDD_SAMPLE_RATE = 8000
FSDD_TEST_TAKES = 5  # takes 0..4 of each digit and speaker are the official test set
FSDD_NAME = re.compile(r"^(?P<digit>\d)_(?P<speaker>[a-z]+)_(?P<take>\d+)$")
FSDD_MANIFEST = Path(__file__).with_name("fsdd_manifest.json")
FSDD_DOWNLOAD_REPORT = 250  # a progress line after this many downloaded recordings

ESPEAK_VOICES = ("en", "en-us", "en+f2", "en+m3", "en-us+f3", "en-gb-scotland", "en+f4", "en-us+m2")
ESPEAK_TEST_VOICES = ("en+f4", "en-us+m2")  # held out: test clips are spoken by voices training never hears
ESPEAK_PITCHES = (35, 50, 65)
ESPEAK_RATES = (140, 175, 220)


@dataclass
class AudioClips:
    """A labelled set of clips in memory: mono float32 waves (each of shape (samples,)) at ``sample_rate``.

    ``labels[i]`` indexes ``classes`` (-1: unlabelled); ``speakers[i]`` is "" when unknown; ``names[i]`` is
    the file stem or a synthetic id; ``skipped`` lists "path: reason" for each file that could not be used.
    """

    waves: list[torch.Tensor]
    labels: list[int]
    classes: list[str]
    speakers: list[str]
    names: list[str]
    sample_rate: int
    source: str
    skipped: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        sizes = {len(self.waves), len(self.labels), len(self.speakers), len(self.names)}
        if len(sizes) != 1:
            raise ValueError(f"waves, labels, speakers and names differ in length: {sorted(sizes)}")

    def __len__(self) -> int:
        return len(self.waves)

    def subset(self, indices: Iterable[int]) -> AudioClips:
        """The clips at ``indices`` (in that order), with the same classes, rate, source and skipped list."""
        idx = [int(i) for i in indices]
        pick = lambda xs: [xs[i] for i in idx]  # noqa: E731
        return AudioClips(
            pick(self.waves), pick(self.labels), list(self.classes), pick(self.speakers), pick(self.names),
            self.sample_rate, self.source, list(self.skipped),
        )  # fmt: skip

    @property
    def seconds(self) -> float:
        """Total duration of the clips in seconds."""
        return sum(w.shape[-1] for w in self.waves) / self.sample_rate

    def describe(self) -> str:
        """One line: source, clip count, classes, speakers, rate, duration (and how many files were skipped)."""
        labels = f"{len(self.classes)} classes" if self.classes else "unlabelled"
        speakers = len({s for s in self.speakers if s})
        line = f"{self.source}: {len(self)} clips, {labels}, {speakers} speakers, {self.sample_rate} Hz, "
        line += f"{self.seconds:.0f} s"
        return line + (f"; skipped {len(self.skipped)} file(s), e.g. {self.skipped[0]}" if self.skipped else "")


# --------------------------------------------------------------------------- reading many files


def _class_order(names: Iterable[str]) -> list[str]:
    """Class names sorted numerically when all are integers ("2" before "10"), else alphabetically."""
    unique = set(names)
    if unique and all(re.fullmatch(r"-?\d+", n) for n in unique):
        return sorted(unique, key=int)
    return sorted(unique)


def _read_clip(path: Path, sample_rate: int, trim: bool) -> torch.Tensor:
    """One file as a mono wave at ``sample_rate``; raises :class:`BadInputError` with a short reason."""
    try:
        wave, _ = io.read_audio(path, sample_rate)
    except BadInputError as e:
        raise BadInputError(e.message.replace(f"{path} ", "", 1)) from None
    if not bool(torch.isfinite(wave).all()):
        raise BadInputError("holds NaN or infinite samples")
    if io.is_silent(wave):
        raise BadInputError(f"silent ({io.rms_db(wave):.0f} dBFS)")
    return io.trim_silence(wave, sample_rate) if trim else wave


def _read_clips(
    paths: Sequence[Path], sample_rate: int, trim: bool, desc: str
) -> tuple[list[torch.Tensor], list[int], list[str]]:
    """Read ``paths``; returns the waves, the indices of the paths they came from, and "path: reason" skips."""
    require("soundfile", "audio", "reading audio files")  # up front: a missing package is not a bad file
    waves: list[torch.Tensor] = []
    kept: list[int] = []
    skipped: list[str] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    quiet = len(paths) <= PROGRESS_MIN_FILES or not is_rank_zero()
    with Progress(*columns, console=console, disable=quiet, transient=True) as progress:
        task = progress.add_task(desc, total=len(paths))
        for i, path in enumerate(paths):
            try:
                waves.append(_read_clip(path, sample_rate, trim))
                kept.append(i)
            except (GenlabError, OSError, RuntimeError, ValueError) as e:  # decoders raise all of these
                skipped.append(f"{path}: {getattr(e, 'message', None) or e}")
            progress.advance(task)
    if skipped:
        log.warning("skipped %d audio file(s), e.g. %s", len(skipped), skipped[0])
    return waves, kept, skipped


# --------------------------------------------------------------------------- audio folders


def _scan(root: Path) -> list[Path]:
    """Audio files under ``root`` (recursive, sorted, hidden files and folders ignored)."""
    return [
        path
        for path in sorted(root.rglob("*"))
        if path.suffix.lower() in io.AUDIO_SUFFIXES
        and not any(part.startswith(".") for part in path.relative_to(root).parts)
        and path.is_file()
    ]


def _read_label_csv(path: Path, required: bool) -> dict[str, tuple[str, str]] | None:
    """``file -> (label, speaker)`` from a CSV with columns file,label[,speaker] (comma, semicolon, tab or |
    separated; a header naming them is optional). A file that is not such a table raises DataError when
    ``required``; otherwise (a ``metadata.csv`` found in the folder) it must have the header, or None is returned
    (a metadata.csv of transcripts is not a label table)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read the label file {path}: {e}", "save it as UTF-8 text") from None
    try:
        dialect = csv_module.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv_module.Error:
        dialect = csv_module.excel
    rows = [r for r in csv_module.reader(text.splitlines(), dialect) if any(c.strip() for c in r)]
    head = [c.strip().lower() for c in rows[0]] if rows else []
    if any(c in FILE_COLUMNS for c in head):
        find = lambda names: next((head.index(n) for n in names if n in head), None)  # noqa: E731
        file_col, label_col, speaker_col = find(FILE_COLUMNS), find(LABEL_COLUMNS), find(SPEAKER_COLUMNS)
        rows = rows[1:]
    elif required:
        file_col, label_col, speaker_col = 0, 1, 2
    else:
        return None
    if label_col is None or not rows or any(len(r) <= max(file_col, label_col) for r in rows):
        if not required:
            return None
        raise DataError(
            f"{path} is not a label table (expected columns file,label[,speaker])",
            "write one line per clip, e.g. 'file,label' then 'dog_1.wav,dog' (paths relative to the audio folder)",
        )
    speaker = lambda r: r[speaker_col].strip() if speaker_col is not None and speaker_col < len(r) else ""  # noqa: E731
    return {r[file_col].strip().replace("\\", "/"): (r[label_col].strip(), speaker(r)) for r in rows}


def _find_labels(root: Path, csv: str | Path | None) -> tuple[Path, dict[str, tuple[str, str]]] | None:
    """The label table given as ``csv``, or found in ``root`` (labels.csv, or a metadata.csv with labels)."""
    if csv is not None:
        path = Path(csv).expanduser()
        if not path.is_file():
            raise DataError(f"no label file at {path}", "pass the path of a CSV with columns file,label[,speaker]")
        return path, _read_label_csv(path, required=True)
    for name in LABEL_FILES:
        table = _read_label_csv(root / name, required=name == "labels.csv") if (root / name).is_file() else None
        if table is not None:
            return root / name, table
    return None


def _choose_labels(root: Path, files: list[Path], table, regex: re.Pattern) -> str:
    """What ``labels="auto"`` means for this folder: csv, folder, name or none."""
    if table is not None:
        return "csv"
    tops = {f.relative_to(root).parts[0] for f in files if len(f.relative_to(root).parts) > 1}
    if len(tops) >= 2:
        return "folder"
    return "name" if all(regex.fullmatch(f.stem) for f in files) else "none"


def _label_files(
    root: Path, files: list[Path], mode: str, regex: re.Pattern, table: tuple[Path, dict] | None
) -> tuple[list[tuple[Path, str | None, str]], list[str]]:
    """(path, label name or None, speaker) for each file that ``mode`` can use, and "path: reason" for the rest."""
    usable, skipped = [], []
    for path in files:
        rel = path.relative_to(root)
        match = regex.fullmatch(path.stem)
        speaker = (match.groupdict().get("speaker") or "") if match else ""
        if mode == "name":
            if not match:
                skipped.append(f"{path}: the name does not match the pattern {regex.pattern}")
                continue
            usable.append((path, match["label"], speaker))
        elif mode == "folder":
            if len(rel.parts) < 2:
                skipped.append(f"{path}: not in a class sub-folder")
                continue
            usable.append((path, rel.parts[0], speaker))
        elif mode == "csv":
            source, rows = table
            row = next((rows[k] for k in (rel.as_posix(), path.name, path.stem) if k in rows), None)
            if row is None:
                skipped.append(f"{path}: not listed in {source.name}")
                continue
            usable.append((path, row[0] or None, row[1] or speaker))
        else:
            usable.append((path, None, speaker))
    return usable, skipped


def _evenly(items: list, count: int | None) -> list:
    """``count`` items spread evenly over the sorted list (so every class keeps some), or all of them."""
    if count is None or count >= len(items):
        return items
    return [items[int(i)] for i in np.linspace(0, len(items) - 1, count).round()]


def load_audio_folder(
    folder: str | Path,
    sample_rate: int,
    labels: LabelSource = "auto",
    csv: str | Path | None = None,
    pattern: str = DEFAULT_PATTERN,
    max_files: int | None = None,
    trim: bool = True,
) -> AudioClips:
    """Read every audio file under ``folder`` (suffixes ``io.AUDIO_SUFFIXES``, recursive, sorted) as mono
    float32 at ``sample_rate`` (stereo is mixed down, other rates resampled).

    ``labels``: ``"name"`` — from the file stem with the regex ``pattern`` (groups ``label`` and optionally
    ``speaker``; the default reads FSDD-style ``7_theo_12``); ``"folder"`` — the first-level sub-folder is
    the class; ``"csv"`` — from ``csv`` or the folder's ``labels.csv``/``metadata.csv`` (columns
    file,label[,speaker], files relative to ``folder``); ``"none"``; ``"auto"`` — csv when a table is given
    or found, else folder when at least two sub-folders hold audio, else name when ``pattern`` matches every
    file, else none. ``max_files``: use at most this many files, spread evenly over the sorted list.
    ``trim``: cut leading and trailing silence. Files that cannot be used are listed in ``skipped``.
    """
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise DataError(f"no folder at {root}", "pass a folder of audio files (WAV, FLAC, OGG)")
    if sample_rate <= 0:
        raise BadInputError(f"sample_rate must be positive, got {sample_rate}", "e.g. 16000")
    if labels not in ("auto", "name", "folder", "csv", "none"):
        raise BadInputError(f"unknown label source '{labels}'", "use auto, name, folder, csv or none")
    try:
        regex = re.compile(pattern)
    except re.error as e:
        raise BadInputError(f"invalid file name pattern {pattern!r}: {e}", "use a Python regular expression") from None
    if labels in ("name", "auto") and "label" not in regex.groupindex:
        raise BadInputError(f"the pattern {pattern!r} has no (?P<label>...) group", f"e.g. {DEFAULT_PATTERN}")
    files = _scan(root)
    if not files:
        raise DataError(
            f"no audio files in {root}",
            f"put {', '.join(io.AUDIO_SUFFIXES)} files in it (sub-folders are searched too)",
        )
    if csv is not None and labels not in ("auto", "csv"):
        raise BadInputError(f"a label file was given but labels='{labels}'", "use labels='csv' (or 'auto')")
    table = _find_labels(root, csv) if labels in ("auto", "csv") else None
    mode = _choose_labels(root, files, table, regex) if labels == "auto" else labels
    if mode == "csv" and table is None:
        raise DataError(f"no label table in {root}", "add labels.csv (columns file,label[,speaker]) or pass csv=PATH")
    usable, skipped = _label_files(root, files, mode, regex, table)
    usable = _evenly(usable, max_files)
    waves, kept, unreadable = _read_clips([u[0] for u in usable], sample_rate, trim, f"reading audio from {root}")
    skipped += unreadable
    if not waves:
        raise DataError(
            f"none of the {len(files)} audio file(s) in {root} could be used",
            f"they may be corrupt, empty or silent; first problem: {skipped[0] if skipped else 'unknown'}",
        )
    label_names = [usable[i][1] for i in kept]
    classes = _class_order(n for n in label_names if n is not None)
    index = {name: i for i, name in enumerate(classes)}
    return AudioClips(
        waves,
        [index[n] if n is not None else -1 for n in label_names],
        classes,
        [usable[i][2] for i in kept],
        [usable[i][0].stem for i in kept],
        sample_rate,
        str(root),
        skipped,
    )


# --------------------------------------------------------------------------- Free Spoken Digit Dataset


def parse_fsdd_name(name: str) -> tuple[int, str, int]:
    """``"7_theo_12.wav"`` (or the stem) → ``(digit, speaker, take)``; other names raise :class:`DataError`."""
    match = FSDD_NAME.fullmatch(Path(name).stem if name.endswith(".wav") else name)
    if match is None:
        raise DataError(f"'{name}' is not an FSDD recording name", "FSDD names are {digit}_{speaker}_{take}.wav")
    return int(match["digit"]), match["speaker"], int(match["take"])


def fsdd_split(name: str) -> Literal["train", "test"]:
    """The official split of an FSDD recording: takes 0–4 of each digit and speaker are test, 5–49 train."""
    return "test" if parse_fsdd_name(name)[2] < FSDD_TEST_TAKES else "train"


@functools.cache
def fsdd_manifest() -> dict:
    """The shipped manifest: ``{"commit", "url", "files": {file name: sha256}}`` of the 3,000 recordings."""
    return json.loads(FSDD_MANIFEST.read_text())


def fsdd_names(split: str = "all") -> list[str]:
    """File names of the recordings in ``split`` ("train", "test" or "all"), sorted."""
    names = sorted(fsdd_manifest()["files"])
    return names if split == "all" else [n for n in names if fsdd_split(n) == split]


def _fsdd_folder(data_dir: str | Path | None) -> Path:
    """Where the recordings are: ``root/fsdd/recordings``, or ``data_dir`` naming the fsdd or recordings folder."""
    root = data_root(data_dir)
    for folder in (root / "fsdd" / "recordings", root / "recordings", root):
        if folder.is_dir() and any(folder.glob("[0-9]_*_*.wav")):
            return folder
    if root.name == "recordings":
        return root
    return root / "recordings" if root.name == "fsdd" else root / "fsdd" / "recordings"


@contextlib.contextmanager
def _quiet_console() -> Iterator[None]:
    """Silence the per-file progress bars of :func:`download` (thousands of small files)."""
    quiet, console.quiet = console.quiet, True
    try:
        yield
    finally:
        console.quiet = quiet


def _fetch_fsdd(missing: list[str], folder: Path, split: str, allow_download: bool) -> None:
    """Download the ``missing`` recordings into ``folder``, each verified against the manifest's sha256."""
    manifest = fsdd_manifest()
    url = manifest["url"]
    refused = "" if allow_download else "downloading is off"
    if not refused and not url.startswith("file:") and os.environ.get(DISABLE_ENV, "").strip() not in ("", "0"):
        refused = f"downloads are disabled ({DISABLE_ENV} is set)"
    if refused:
        raise DataError(
            f"fsdd: {len(missing)} of the {len(fsdd_names(split))} {split} recordings are missing from {folder} "
            f"(e.g. {missing[0]}) and {refused}",
            f"copy the recordings/ folder of {FSDD_REPO} (commit {manifest['commit'][:7]}) to {folder}/, or keep "
            f"your copy elsewhere and pass --data-dir DIR (or set {DATA_DIR_ENV}=DIR) with the files in "
            f"DIR/fsdd/recordings/; with network access, allow downloading (data.download=true)",
        )
    info(f"fsdd: downloading {len(missing)} recordings into {folder} (each checked against its sha256)")
    for start in range(0, len(missing), FSDD_DOWNLOAD_REPORT):
        with _quiet_console():
            for name in missing[start : start + FSDD_DOWNLOAD_REPORT]:
                download(url + name, folder / name, manifest["files"][name], f"fsdd {name}")
        info(f"fsdd: {min(start + FSDD_DOWNLOAD_REPORT, len(missing))}/{len(missing)} recordings downloaded")


def load_fsdd(
    split: str = "train", data_dir: str | None = None, download: bool = True, sample_rate: int = FSDD_SAMPLE_RATE
) -> AudioClips:
    """Free Spoken Digit Dataset: 3,000 recordings of the digits 0–9 by 6 speakers (2,700 train / 300 test).

    Reads ``data_root(data_dir)/fsdd/recordings/*.wav`` (``data_dir`` may also name the fsdd or the
    recordings folder); missing files are downloaded when ``download`` is true. Local files are trusted
    (not hashed); unreadable ones are listed in ``skipped``. Classes "0"…"9", speakers from the file names.
    """
    split = FSDD.check_split(split)
    folder = _fsdd_folder(data_dir)
    wanted = fsdd_names(split)
    missing = [n for n in wanted if not (folder / n).is_file()]
    if missing:
        _fetch_fsdd(missing, folder, split, download)
    waves, kept, skipped = _read_clips([folder / n for n in wanted], sample_rate, False, f"reading fsdd {split}")
    if not waves:
        raise DataError(f"fsdd: none of the {split} recordings in {folder} could be read", f"e.g. {skipped[0]}")
    parsed = [parse_fsdd_name(wanted[i]) for i in kept]
    return AudioClips(
        waves,
        [digit for digit, _, _ in parsed],
        list(DIGIT_CLASSES),
        [speaker for _, speaker, _ in parsed],
        [Path(wanted[i]).stem for i in kept],
        sample_rate,
        f"fsdd:{split}",
        skipped,
    )


# --------------------------------------------------------------------------- spoken digits made by eSpeak NG


def espeak_digits(
    split: str = "train",
    sample_rate: int = 8000,
    voices: Sequence[str] = ESPEAK_VOICES,
    pitches: Sequence[int] = ESPEAK_PITCHES,
    rates: Sequence[int] = ESPEAK_RATES,
    test_voices: Sequence[str] = ESPEAK_TEST_VOICES,
) -> AudioClips:
    """The ten English digit words spoken by eSpeak NG, offline: one clip per digit, voice, pitch and rate.

    ``voices`` are eSpeak NG voices (``language[+variant]``); those in ``test_voices`` make the "test" split
    and the others "train", so the splits share no voice (speakers = voice names). ``pitches`` (0–100) and
    ``rates`` (words per minute) vary each voice. Every clip is trimmed of silence, resampled to
    ``sample_rate`` and peak-normalised to 0.95. The defaults give 540 train / 180 test clips.
    """
    split = ESPEAK_DIGITS.check_split(split)
    chosen = [v for v in voices if (v in test_voices) == (split == "test")]
    if not chosen:
        raise DataError(
            f"builtin:espeak-digits: no voice left for the {split} split",
            f"test uses the voices in test_voices ({', '.join(test_voices)}), train the other voices",
        )
    waves, labels, speakers, names = [], [], [], []
    for voice in chosen:
        for pitch in pitches:
            for rate in rates:
                for digit, word in enumerate(DIGIT_WORDS):
                    wave, native = espeak.synthesize(word, voice, rate_wpm=rate, pitch=pitch)
                    wave = io.resample(io.trim_silence(wave, native), native, sample_rate)
                    waves.append(io.normalize_peak(wave, 0.95))
                    labels.append(digit)
                    speakers.append(voice)
                    names.append(f"{digit}_{voice}_p{pitch}_r{rate}")
    return AudioClips(
        waves, labels, list(DIGIT_CLASSES), speakers, names, sample_rate, f"builtin:espeak-digits:{split}"
    )


def _espeak_digits_dataset(
    split: str = "train", data_dir: str | None = None, download: bool = True, sample_rate: int = 8000
) -> AudioClips:
    """``builtin:espeak-digits`` with the default voices, pitches and rates (``data_dir`` and ``download``
    are accepted for the common loader signature and unused)."""
    return espeak_digits(split, sample_rate)


# Registered audio datasets take (split, data_dir, download, sample_rate) and return AudioClips.
FSDD = register_dataset(
    DatasetSpec(
        "fsdd", "audio", load_fsdd, ("train", "test", "all"), first_line(load_fsdd.__doc__), FSDD_LICENSE,
        {"sample_rate": FSDD_SAMPLE_RATE},
    )
)  # fmt: skip
ESPEAK_DIGITS = register_dataset(
    DatasetSpec(
        "builtin:espeak-digits", "audio", _espeak_digits_dataset, ("train", "test"),
        f"English digit words 'zero'…'nine' spoken offline by eSpeak NG ({len(ESPEAK_VOICES)} voices, "
        f"{len(ESPEAK_TEST_VOICES)} held out for test, × {len(ESPEAK_PITCHES)} pitches × {len(ESPEAK_RATES)} rates)",
        "generated by eSpeak NG (GPL-3.0+), no recordings",
        {"sample_rate": 8000},
    )
)  # fmt: skip
