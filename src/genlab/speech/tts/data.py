"""Speech with transcripts for the acoustic models: ids, log-mels and F0 per utterance.

Sources are those of the recogniser (:mod:`genlab.speech.asr.data`): ``builtin:espeak-en`` / ``builtin:espeak-zh``
(their ``train`` split; ``test`` stays held out for the benchmark), ``ljspeech`` (a local copy) and any folder of
WAV files with transcripts (``metadata.csv`` ``id|text|normalized``, a CSV ``file,text``, or a ``.txt`` beside each
WAV). A missing, empty or unreadable transcript or WAV is skipped and counted, never fatal.

Each utterance becomes

* ``ids``: its symbols (eSpeak NG phonemes with stress, tones and word/clause boundaries, or the characters of the
  normalised text with ``--symbols character``) framed by ``<bos>``/``<eos>``, through a
  :class:`~genlab.speech.text.PhonemeVocabulary` built from the training rows (it travels with the model);
* ``mel``: the log-mel spectrogram of the wave under :class:`~genlab.audio.vocoder.frontend.MelFrontEnd` at the
  data's rate (80 bands, 1024-point FFT, 256-sample hop at 16 kHz: the defaults of ``genlab train vocoder``, so a
  vocoder trained on the same recordings inverts these mels), after leading and trailing silence is trimmed
  (frames more than ``trim_db`` below the loudest frame, keeping ``trim_margin`` frames);
* ``f0``: its fundamental frequency per mel frame (WORLD's DIO + StoneMask; zeros without ``pyworld``).

``speakers="prefix"`` names each utterance's speaker by its file name up to the first ``_`` (VCTK: ``p225_003``).
"""

from __future__ import annotations

import math
import random
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from pydantic import Field
from torch.utils.data import Dataset

from genlab.audio.vocoder.frontend import MelFrontEnd
from genlab.core.data import DataInfo
from genlab.core.errors import DataError, GenlabError
from genlab.speech import text as frontend
from genlab.speech.asr.data import ASRDataConfig, _phonemize, read_utterances, source_utterances


class TTSDataConfig(ASRDataConfig):
    """Where the transcribed speech comes from and how it becomes ids, mels and F0."""

    symbols: Literal["phoneme", "character"] = Field(
        "phoneme", description="model input: eSpeak NG phonemes, or characters of the normalised text"
    )
    speakers: Literal["one", "prefix"] = Field(
        "one", description="one: a single voice; prefix: the file name up to its first '_' names the speaker (VCTK)"
    )
    trim_db: float = Field(40.0, ge=0, le=120, description="silence trimmed at both ends: frames this far below "
                           "the loudest (0: no trimming)")  # fmt: skip
    trim_margin: int = Field(3, ge=0, le=100, description="frames of silence kept at each end after trimming")


@dataclass
class TTSDataInfo(DataInfo):
    """What was loaded; written to the run (``data.json``) and used to fill the model config."""

    source: str
    language: str
    sample_rate: int
    symbol_mode: str = "phoneme"
    n_train: int = 0
    n_val: int = 0
    seconds: float = 0.0
    symbols: list[str] = field(default_factory=list)
    speakers: list[str] = field(default_factory=list)
    mel_mean: list[float] = field(default_factory=list)
    mel_std: list[float] = field(default_factory=list)
    f0_mean: float | None = None
    f0_std: float | None = None
    front_end: dict[str, Any] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    split: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)


class TTSDataset(Dataset):
    """Utterances as ``(ids (max_ids,), n_ids, mel (n_mels, max_frames), n_frames, speaker, f0 (max_frames,))``,
    padded to the dataset's longest (ids with 0, mels with ``pad_value``, F0 with 0) so the default collate stacks
    them; :func:`genlab.speech.tts.base.trim_batch` cuts a batch back to its longest."""

    def __init__(self, ids: list[torch.Tensor], mels: list[torch.Tensor], f0: list[torch.Tensor],
                 speakers: list[int], pad_value: float, texts: list[str] | None = None):  # fmt: skip
        self.ids, self.f0, self.speakers = ids, f0, speakers
        self.mels = [m.to(torch.float16) for m in mels]  # half the memory; log-mels need no more precision
        self.texts = texts or [""] * len(ids)
        self.waves: list[torch.Tensor] = []  # the trimmed waves, when loaded with keep_waves (evaluation)
        self.pad_value = pad_value
        self.max_ids = max((len(i) for i in ids), default=1)
        self.max_frames = max((m.shape[-1] for m in mels), default=1)
        self.n_mels = mels[0].shape[0] if mels else 1

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def lengths(self) -> list[int]:
        """Mel frames of each utterance (the trainer batches utterances of similar length together)."""
        return [m.shape[-1] for m in self.mels]

    def __getitem__(self, i: int):
        ids = torch.zeros(self.max_ids, dtype=torch.long)
        ids[: len(self.ids[i])] = self.ids[i]
        n = self.mels[i].shape[-1]
        mel = torch.full((self.n_mels, self.max_frames), self.pad_value)
        mel[:, :n] = self.mels[i].float()
        f0 = torch.zeros(self.max_frames)
        f0[:n] = self.f0[i]
        return ids, len(self.ids[i]), mel, n, self.speakers[i], f0


def trim_silence(wave: torch.Tensor, front: MelFrontEnd, trim_db: float, margin: int) -> torch.Tensor:
    """``wave`` without the frames at its ends more than ``trim_db`` dB below its loudest frame (RMS over hops),
    ``margin`` frames of the silence kept."""
    hop = front.hop_length
    if trim_db <= 0 or len(wave) < 4 * hop:
        return wave
    frames = wave[: len(wave) // hop * hop].reshape(-1, hop)
    level = 10 * torch.log10(frames.pow(2).mean(-1) + 1e-12)
    loud = torch.nonzero(level > level.max() - trim_db).flatten()
    start = max(0, int(loud[0]) - margin) * hop
    end = min(len(wave), (int(loud[-1]) + 1 + margin) * hop)
    return wave[start:end]


def utterance_features(wave: torch.Tensor, front: MelFrontEnd, analysis=None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(log-mel (n_mels, frames), f0 (frames,))`` of a mono wave under ``front``."""
    analysis = analysis or front.mel_spectrogram()
    with torch.no_grad():
        mel = analysis(wave.float()[None])[0]
    try:
        from genlab.audio.world import f0_track

        f0 = f0_track(wave, front.sample_rate, front.hop_length, mel.shape[-1])
    except GenlabError:  # pyworld is not installed: no pitch targets
        f0 = torch.zeros(mel.shape[-1])
    return mel, f0


def _speaker(name: str, mode: str) -> str:
    return name.split("_", 1)[0] if mode == "prefix" else ""


def load_tts_data(cfg: TTSDataConfig, split: str | None = None, vocabulary: frontend.PhonemeVocabulary | None = None,
                  keep_waves: bool = False):  # fmt: skip
    """``(train, val or None, info)``. With ``split`` (a built-in corpus's ``test``), that split alone as train;
    ``vocabulary``: encode with it (a trained model's) instead of building one from the rows; ``keep_waves``: the
    datasets also hold the trimmed waves (``waves``, for evaluation)."""
    rows, skipped, language = source_utterances(cfg, split)
    if cfg.max_files is not None and len(rows) > cfg.max_files:
        rows = random.Random(cfg.split_seed).sample(rows, cfg.max_files)
    if cfg.symbols == "phoneme":
        rows = _phonemize(rows, language)
        if not all(r.phonemes for r in rows):
            raise DataError("phonemes need eSpeak NG, which is not installed here",
                            "pip install 'genlab[audio]', or train on characters: --symbols character")  # fmt: skip
    waves, rows, unreadable = read_utterances(rows, language, cfg.sample_rate, cfg.max_seconds)
    skipped += unreadable
    if not rows:
        raise DataError(f"no usable utterances in {cfg.source} ({len(skipped)} skipped)", "; ".join(skipped[:3]))
    symbols = [list(r.phonemes) if cfg.symbols == "phoneme" else frontend.characters(r.text, language) for r in rows]
    if vocabulary is None:
        vocabulary = frontend.PhonemeVocabulary.build(symbols, cfg.symbols)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unknown symbols are counted in vocabulary.unknown and reported below
        ids = [torch.tensor(vocabulary.encode(s, add_bos_eos=True), dtype=torch.long) for s in symbols]
    if vocabulary.unknown:
        skipped.append(f"{sum(vocabulary.unknown.values())} symbols not in the model's vocabulary, read as <unk>: "
                       + ", ".join(f"{s!r}×{n}" for s, n in vocabulary.unknown.most_common(8)))  # fmt: skip
    front = MelFrontEnd(sample_rate=cfg.sample_rate)
    analysis = front.mel_spectrogram()
    mels, f0s, seconds = [], [], 0.0
    for k, wave in enumerate(waves):
        waves[k] = wave = trim_silence(wave, front, cfg.trim_db, cfg.trim_margin)
        seconds += len(wave) / cfg.sample_rate
        mel, f0 = utterance_features(wave, front, analysis)
        mels.append(mel)
        f0s.append(f0)
    names = sorted({_speaker(r.wav.stem, cfg.speakers) for r in rows}) if cfg.speakers == "prefix" else []
    speakers = [names.index(_speaker(r.wav.stem, cfg.speakers)) if names else 0 for r in rows]
    order = list(range(len(rows)))
    random.Random(cfg.split_seed).shuffle(order)
    n_val = int(round(len(rows) * cfg.val_fraction)) if split is None and len(rows) > 1 else 0
    val_idx, train_idx = sorted(order[:n_val]), sorted(order[n_val:])

    def pick(idx: list[int]) -> TTSDataset:
        dataset = TTSDataset(
            [ids[i] for i in idx],
            [mels[i] for i in idx],
            [f0s[i] for i in idx],
            [speakers[i] for i in idx],
            math.log(front.log_floor),
            [rows[i].text for i in idx],
        )
        dataset.waves = [waves[i] for i in idx] if keep_waves else []
        return dataset

    train = pick(train_idx)
    frames = torch.cat([mels[i] for i in train_idx], dim=-1)
    voiced = torch.cat([f0s[i] for i in train_idx])
    voiced = voiced[voiced > 0].log()
    info = TTSDataInfo(
        source=cfg.source, language=language, sample_rate=cfg.sample_rate, symbol_mode=cfg.symbols,
        n_train=len(train_idx), n_val=n_val, seconds=round(seconds, 2),
        symbols=vocabulary.symbols[len(frontend.SPECIALS) :], speakers=names,
        mel_mean=[round(float(v), 5) for v in frames.mean(-1)],
        mel_std=[round(float(v), 5) for v in frames.std(-1).clamp_min(1e-3)],
        f0_mean=round(float(voiced.mean()), 5) if voiced.numel() > 1 else None,
        f0_std=round(float(voiced.std().clamp_min(1e-3)), 5) if voiced.numel() > 1 else None,
        front_end=front.front_end().to_dict(), skipped=skipped,
        split={"val_fraction": cfg.val_fraction, "seed": cfg.split_seed, "n_val": n_val}, config=cfg.to_dict(),
    )  # fmt: skip
    return train, (pick(val_idx) if val_idx else None), info


def describe_tts_data(info: TTSDataInfo) -> str:
    skipped = f", {len(info.skipped)} skipped" if info.skipped else ""
    speakers = f", {len(info.speakers)} speakers" if info.speakers else ""
    return (f"{info.source}: {info.n_train} training + {info.n_val} validation utterances, {info.seconds / 60:.1f} "
            f"min at {info.sample_rate} Hz ({info.language}, {len(info.symbols)} {info.symbol_mode} symbols"
            f"{speakers}){skipped}")  # fmt: skip
