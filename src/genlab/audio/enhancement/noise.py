"""Noises for speech enhancement: white, pink, babble, and recordings from a folder.

A noise is named in the data config's ``noise`` list and drawn as a mono wave of a given length:

* ``white`` — white Gaussian noise (flat power spectrum).
* ``pink`` — 1/f noise: white Gaussian noise filtered in the frequency domain by ``|H(f)| = f^(−1/2)``
  (DC removed), so its power spectral density falls as 1/f, i.e. by 10·log10(2) ≈ 3.01 dB per octave. The
  filter is applied to the whole drawn segment at once (an FFT of the segment, scaled, inverse FFT), which
  makes the spectrum exact rather than the few-pole approximations of real-time generators.
* ``babble`` — the sum of 3 to 6 *other* utterances of the clean speech set (other speakers when the
  speakers are known), each a random crop brought to the same RMS level: the cocktail-party noise of
  speech-enhancement corpora, made from the data itself.
* a folder path — recordings (WAV/FLAC/…, searched recursively), each level-normalised to −25 dBFS RMS
  when loaded, drawn as random crops (a recording shorter than the crop is tiled). Held out for evaluation:
  the recordings listed in the folder's ``test.txt`` (one file stem per line, the convention of the project's
  shared ``noise-speechcommands``), else the last ``held_out_fraction`` of every recording (a split in time).

Every draw returns a wave of (about, for white noise) unit RMS; silent crops of recordings are redrawn, then
replaced by white noise, so mixing at an SNR (:func:`genlab.audio.signal_metrics.mix_at_snr`) never divides by zero.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from genlab.audio import io
from genlab.core.errors import BadInputError, DataError, GenlabError

log = logging.getLogger(__name__)

SYNTHETIC = ("white", "pink")
BABBLE = "babble"
NOISE_LEVEL_DB = -25.0  # recordings are brought to this RMS level when loaded
BABBLE_TALKERS = (3, 6)  # babble sums this many other utterances (inclusive range)
SILENT_RMS = 1e-5  # a drawn crop quieter than this (−100 dBFS) is redrawn
TRIES = 10
HELD_OUT_LIST = "test.txt"


def _randint(low: int, high: int, generator: torch.Generator | None) -> int:
    """An integer uniform in [low, high] from ``generator`` (torch's global generator when None)."""
    return int(torch.randint(low, high + 1, (1,), generator=generator))


def unit_rms(wave: torch.Tensor) -> torch.Tensor:
    """``wave`` scaled to RMS 1 (returned unchanged when silent)."""
    rms = float(wave.double().pow(2).mean().sqrt()) if wave.numel() else 0.0
    return wave if rms < 1e-12 else wave / rms


def white_noise(length: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """White Gaussian noise (length,), unit variance."""
    return torch.randn(length, generator=generator)


def pink_noise(length: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Pink (1/f) noise (length,) of unit RMS: white noise filtered by ``f^(−1/2)`` in the frequency domain."""
    white = torch.randn(length, generator=generator, dtype=torch.float64)
    spectrum = torch.fft.rfft(white)
    bins = torch.arange(spectrum.shape[0], dtype=torch.float64)
    gain = torch.where(bins > 0, bins.clamp_min(1).rsqrt(), torch.zeros_like(bins))  # no DC
    pink = torch.fft.irfft(spectrum * gain, n=length)
    return unit_rms(pink).float()


def crop(wave: torch.Tensor, length: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """A random crop of ``length`` samples of ``wave``; a shorter wave is tiled from a random offset."""
    n = wave.shape[-1]
    if n >= length:
        start = _randint(0, n - length, generator)
        return wave[start : start + length]
    start = _randint(0, n - 1, generator)
    return wave[(start + torch.arange(length)) % n]


def babble(
    waves: Sequence[torch.Tensor],
    speakers: Sequence[str],
    exclude: int,
    length: int,
    generator: torch.Generator | None = None,
    talkers: tuple[int, int] = BABBLE_TALKERS,
) -> tuple[torch.Tensor, list[int]]:
    """Babble (length,) of unit RMS: the sum of ``talkers`` (a random count in that inclusive range, at most the
    utterances available) random crops of utterances of ``waves`` other than ``exclude`` — of other speakers
    than its own when speakers are known and there are any — each at unit RMS. Returns it and the indices
    of the utterances used. Fewer than one other utterance raises :class:`DataError`."""
    own = speakers[exclude] if 0 <= exclude < len(speakers) else ""
    others = [i for i in range(len(waves)) if i != exclude]
    if own:
        other_speakers = [i for i in others if speakers[i] != own]
        others = other_speakers or others
    if not others:
        raise DataError(
            "babble noise needs other utterances than the target, and there are none",
            "give more clean files, or drop babble from the noises",
        )
    count = min(_randint(*talkers, generator), len(others))
    picks = torch.randperm(len(others), generator=generator)[:count].tolist()
    chosen = [others[i] for i in picks]
    total = torch.zeros(length)
    for i in chosen:
        total += unit_rms(_audible_crop(waves[i], length, generator))
    return unit_rms(total), chosen


def _audible_crop(wave: torch.Tensor, length: int, generator: torch.Generator | None) -> torch.Tensor:
    """A random crop that is not silent when one can be found in a few tries."""
    for _ in range(TRIES):
        piece = crop(wave, length, generator)
        if float(piece.pow(2).mean().sqrt()) > SILENT_RMS:
            return piece
    return piece


# --------------------------------------------------------------------------- noise recordings


@dataclass
class NoiseRecordings:
    """Level-normalised noise recordings (mono, one rate) drawn as random crops, weighted by their length."""

    source: str
    waves: list[torch.Tensor]
    names: list[str]

    def __post_init__(self) -> None:
        if not self.waves:
            raise DataError(f"no noise recordings in {self.source}", "give a folder of noise WAV/FLAC files")
        self.weights = torch.tensor([float(w.shape[-1]) for w in self.waves])

    def draw(self, length: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """A crop (length,) of unit RMS of a recording chosen with probability ∝ its length; white noise when
        every try lands on silence (logged)."""
        for _ in range(TRIES):
            wave = self.waves[int(torch.multinomial(self.weights, 1, generator=generator))]
            piece = crop(wave, length, generator)
            if float(piece.pow(2).mean().sqrt()) > SILENT_RMS:
                return unit_rms(piece)
        log.warning("noise recordings of %s gave silent crops %d times: white noise used instead", self.source, TRIES)
        return white_noise(length, generator)


@dataclass
class NoiseFolder:
    """A folder of noise recordings split into training and held-out parts (module docstring)."""

    source: str
    train: NoiseRecordings
    held_out: NoiseRecordings
    split: str  # "test.txt" or "time"
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "folder", "source": self.source, "split": self.split, "train": list(self.train.names),
            "held_out": list(self.held_out.names), "skipped": list(self.skipped),
        }  # fmt: skip


def audio_files(root: Path) -> list[Path]:
    """Audio files under ``root`` (recursive, sorted; hidden files and folders ignored)."""
    return [
        p
        for p in sorted(root.rglob("*"))
        if p.suffix.lower() in io.AUDIO_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
        and p.is_file()
    ]


def read_held_out_list(root: Path) -> set[str] | None:
    """The stems listed in ``root/test.txt`` (one per line, ``#`` comments), or None without such a file."""
    path = root / HELD_OUT_LIST
    if not path.is_file():
        return None
    lines = path.read_text(encoding="utf-8").splitlines()
    return {Path(line.split("#", 1)[0].strip()).stem for line in lines if line.split("#", 1)[0].strip()}


def load_noise_folder(
    folder: str | Path, sample_rate: int, held_out_fraction: float = 0.1, max_minutes: float = 30.0
) -> NoiseFolder:
    """Read the noise recordings of ``folder`` at ``sample_rate`` (mono), level-normalised to −25 dBFS RMS,
    and split them: the stems in ``test.txt`` are held out, else the last ``held_out_fraction`` of each.

    At most ``max_minutes`` of noise are read (files in sorted order; the rest are skipped and listed), which
    bounds memory: 30 minutes at 16 kHz are 115 MB of float32. Unreadable and silent files are skipped.
    """
    root = Path(folder).expanduser().resolve()
    if not root.is_dir():
        raise DataError(
            f"no noise folder at {root}", "pass a folder of noise recordings (WAV, FLAC), or white/pink/babble"
        )
    files = audio_files(root)
    if not files:
        raise DataError(f"no audio files in the noise folder {root}", f"put {', '.join(io.AUDIO_SUFFIXES)} files in it")
    listed = read_held_out_list(root)
    budget = int(max_minutes * 60 * sample_rate)
    waves, names, skipped = [], [], []
    for path in files:
        if budget <= 0:
            skipped.append(f"{path}: over the {max_minutes:g}-minute noise budget")
            continue
        try:
            wave, _ = io.read_audio(path, sample_rate)
        except (GenlabError, OSError, RuntimeError, ValueError) as e:
            skipped.append(f"{path}: {getattr(e, 'message', None) or e}")
            continue
        if io.is_silent(wave):
            skipped.append(f"{path}: silent")
            continue
        wave = wave[:budget]
        budget -= wave.shape[-1]
        waves.append(wave * 10 ** ((NOISE_LEVEL_DB - io.rms_db(wave)) / 20))
        names.append(path.stem)
    if not waves:
        raise DataError(f"none of the noise files in {root} could be used", f"first problem: {skipped[0]}")
    if listed:
        train = [(w, n) for w, n in zip(waves, names, strict=True) if n not in listed]
        held = [(w, n) for w, n in zip(waves, names, strict=True) if n in listed]
        if not held or not train:
            which = "none" if not held else "all"
            raise DataError(
                f"{root / HELD_OUT_LIST} holds out {which} of the readable noise recordings",
                "list some (not all) file stems in test.txt, or delete it to hold out the end of every recording",
            )
        split = HELD_OUT_LIST
    else:
        train, held = [], []
        for w, n in zip(waves, names, strict=True):
            cut = w.shape[-1] - int(round(w.shape[-1] * held_out_fraction))
            train.append((w[:cut] if cut > 0 else w, n))
            held.append((w[cut:] if cut < w.shape[-1] else w, n))
        split = "time"
    return NoiseFolder(
        str(root), NoiseRecordings(str(root), [w for w, _ in train], [n for _, n in train]),
        NoiseRecordings(str(root), [w for w, _ in held], [n for _, n in held]), split, skipped,
    )  # fmt: skip


# --------------------------------------------------------------------------- the noise list of a config


def check_noise_names(names: Sequence[str]) -> list[str]:
    """``names`` with each entry checked: white, pink, babble or an existing folder (BadInputError otherwise)."""
    out = []
    for name in names:
        name = str(name).strip()
        if not name:
            continue
        if name not in (*SYNTHETIC, BABBLE) and not Path(name).expanduser().is_dir():
            raise BadInputError(
                f"unknown noise '{name}': not white, pink, babble or a folder",
                "give white, pink, babble or the path of a folder of noise recordings (repeat --noise for several)",
            )
        out.append(name)
    if not out:
        raise BadInputError("no noise given", "e.g. --noise white --noise babble, or --noise DIR")
    return out


class NoiseSet:
    """The noises of a data config for one split: draws one noise kind uniformly, then a noise of that kind.

    ``speech``/``speakers`` are the utterances babble is made of; with ``exclude_target`` they are the split's own
    and the target utterance (the ``target`` index given to :meth:`draw`) is left out. Folders are loaded by the
    caller (:func:`load_noise_folder`) and passed as ``folders`` (name → the recordings of this split).
    """

    def __init__(self, names: Sequence[str], speech: Sequence[torch.Tensor], speakers: Sequence[str],
                 folders: dict[str, NoiseRecordings], exclude_target: bool = True):  # fmt: skip
        self.names = list(names)
        self.speech, self.speakers, self.folders = speech, speakers, folders
        self.exclude_target = exclude_target

    def kind_name(self, kind: str) -> str:
        """``white``, ``pink``, ``babble`` or the folder's name (for reports)."""
        return kind if kind in (*SYNTHETIC, BABBLE) else Path(kind).name

    def draw_kind(self, generator: torch.Generator | None = None) -> str:
        return self.names[_randint(0, len(self.names) - 1, generator)]

    def draw(self, kind: str, length: int, target: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """A noise (length,) of unit RMS of ``kind``; ``target`` is the index of the clean utterance (babble
        leaves it out)."""
        if kind == "white":
            return white_noise(length, generator)
        if kind == "pink":
            return pink_noise(length, generator)
        if kind == BABBLE:
            return babble(self.speech, self.speakers, target if self.exclude_target else -1, length, generator)[0]
        return self.folders[kind].draw(length, generator)
