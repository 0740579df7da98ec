"""What every acoustic model of the ``tts`` task shares: its config, the batch it trains on and the API.

An acoustic model turns a sequence of phoneme (or character) ids into a log-mel spectrogram that a vocoder
(:mod:`genlab.audio.vocoder`) or Griffin-Lim turns into a wave. Its config derives from :class:`AcousticConfig`,
which holds the mel front end (:class:`~genlab.audio.vocoder.frontend.MelFrontEnd`, the analysis of the training
mels, so a vocoder can check it inverts the same mels), the symbol vocabulary, the speakers and the per-band mel
statistics the model normalises with.

**Batch** (:class:`~genlab.speech.tts.data.TTSDataset`, padded to fixed sizes so the default collate stacks it):
``(ids (B, L) long, id_lengths (B,), mels (B, n_mels, F), mel_lengths (B,), speakers (B,), f0 (B, F))``. Ids
are padded with 0 (``<pad>``) and framed by ``<bos>``/``<eos>`` (ids 1 and 2); mels are padded with
``ln(log_floor)`` (silence); ``f0`` is the fundamental frequency of each mel frame in Hz (0: unvoiced or
padding; WORLD's DIO + StoneMask at the mel hop). :func:`trim_batch` cuts a batch to its longest sequence and
frame count.

**API** (:class:`AcousticModel`): :meth:`~AcousticModel.encode_text` (text → ids, through the front end of
:mod:`genlab.speech.text`), :meth:`~AcousticModel.infer` (ids → log-mels (n_mels, frames), the subclass's), and
:meth:`~AcousticModel.synthesize_mel` (text → log-mels). :meth:`~AcousticModel.normalize` /
:meth:`~AcousticModel.denormalize` map log-mels to per-band zero mean and unit variance and back.
"""

from __future__ import annotations

import json
import math
from typing import Any, ClassVar, Literal

import torch
from pydantic import Field, model_validator

from genlab.audio.vocoder.frontend import MelFrontEnd
from genlab.core.errors import BadInputError
from genlab.core.model import GenerativeModel, ModelConfig, OptimizerSpec
from genlab.speech.text import PhonemeVocabulary

TASK = "tts"


class NothingToSpeak(BadInputError):
    """A sentence with no symbol to speak (punctuation only): a reader skips it, a caller is told."""


class AcousticConfig(ModelConfig, MelFrontEnd):
    """The front end (:class:`MelFrontEnd`'s fields), vocabulary, speakers and optimiser of an acoustic model;
    ``symbols``, ``language``, ``speakers``, ``mel_mean``/``mel_std`` and the front end are set from the data."""

    language: Literal["en", "zh"] = Field("en", description="language of the text; set from the data")
    symbol_mode: Literal["phoneme", "character"] = Field(
        "phoneme", description="phonemes of eSpeak NG, or characters of the normalised text (no eSpeak NG)"
    )
    symbols: list[str] = Field(default_factory=list, description="the input symbols after the 5 specials; from data")
    speakers: list[str] = Field(default_factory=list, description="speaker names (empty: one speaker); from data")
    speaker_dim: int = Field(64, ge=1, le=512, description="speaker embedding size (multi-speaker data only)")
    mel_mean: list[float] = Field(default_factory=list, description="per-band mean of the training log-mels")
    mel_std: list[float] = Field(default_factory=list, description="per-band standard deviation of the log-mels")
    lr: float = Field(1e-3, gt=0, le=1, description="Adam learning rate (peak of the schedule)")
    schedule: Literal["constant", "cosine"] = Field("cosine", description="learning rate over the run")
    vocoder: str | None = Field(
        None, description="run or model directory of the vocoder `genlab speak` uses by default (None: Griffin-Lim)"
    )

    @model_validator(mode="after")
    def _stats(self) -> AcousticConfig:
        for name in ("mel_mean", "mel_std"):
            values = getattr(self, name)
            if values and len(values) != self.n_mels:
                raise ValueError(f"{name} has {len(values)} values for {self.n_mels} mel bands")
        if any(s <= 0 for s in self.mel_std):
            raise ValueError("mel_std values must be positive")
        return self

    @property
    def n_speakers(self) -> int:
        return max(1, len(self.speakers))

    @property
    def pad_value(self) -> float:
        """The log-mel of silence (``ln(log_floor)``), the value mels are padded with."""
        return math.log(self.log_floor)


def trim_batch(batch: Any) -> tuple[torch.Tensor, ...]:
    """``(ids, id_lengths, mels, mel_lengths, speakers, f0)`` cut to the batch's longest id sequence and mel."""
    ids, id_lengths, mels, mel_lengths, speakers, f0 = batch
    id_lengths, mel_lengths = torch.as_tensor(id_lengths).long(), torch.as_tensor(mel_lengths).long()
    frames = int(mel_lengths.max())
    ids = ids[:, : int(id_lengths.max())].long()
    return ids, id_lengths, mels[..., :frames].float(), mel_lengths, torch.as_tensor(speakers).long(), \
        f0[:, :frames].float()  # fmt: skip


def length_mask(lengths: torch.Tensor, size: int | None = None) -> torch.Tensor:
    """(B, size) bool: True at positions ``< lengths[b]``."""
    size = int(lengths.max()) if size is None else size
    return torch.arange(size, device=lengths.device)[None, :] < lengths[:, None]


class AcousticModel(GenerativeModel):
    """Base of the acoustic models (module docstring): vocabulary, normalisation, text → ids → log-mels."""

    task: ClassVar[str] = TASK
    config: AcousticConfig

    def __init__(self, config: AcousticConfig):
        super().__init__(config)
        self.vocabulary = PhonemeVocabulary(config.symbols, config.symbol_mode)
        n = config.n_mels
        mean = torch.tensor(config.mel_mean or [0.0] * n, dtype=torch.float32)
        std = torch.tensor(config.mel_std or [1.0] * n, dtype=torch.float32)
        self.register_buffer("mel_mean", mean.view(n, 1), persistent=False)
        self.register_buffer("mel_std", std.view(n, 1), persistent=False)

    # --- front end ------------------------------------------------------------
    @property
    def front_end(self) -> MelFrontEnd:
        """The mel analysis of the training data (as :attr:`genlab.audio.vocoder.base.Vocoder.front_end`)."""
        return self.config.front_end()

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    def normalize(self, mel: torch.Tensor) -> torch.Tensor:
        """Log-mels (..., n_mels, frames) → per-band zero mean, unit variance (training statistics)."""
        return (mel - self.mel_mean) / self.mel_std

    def denormalize(self, mel: torch.Tensor) -> torch.Tensor:
        return mel * self.mel_std + self.mel_mean

    def encode_texts(self, texts: list[str]) -> list[torch.Tensor]:
        """Ids (L,) of each sentence, framed by ``<bos>``/``<eos>``: phonemes through one loaded eSpeak NG (released
        afterwards, so the caller may synthesise with it) or characters. Unknown symbols become ``<unk>``
        (reported); a sentence with nothing to speak raises BadInputError."""
        if self.config.symbol_mode == "character":
            symbols = [self.vocabulary.symbolize(t, self.config.language) for t in texts]
        else:
            from genlab.speech.text import Phonemizer

            with Phonemizer() as g2p:
                symbols = [self.vocabulary.symbolize(t, self.config.language, g2p=g2p) for t in texts]
        out = []
        for text, sym in zip(texts, symbols, strict=True):
            if not [s for s in sym if s.strip() and s not in ",.?!;:"]:
                raise NothingToSpeak(f"nothing to speak in {text!r}", "give a sentence with words in it")
            out.append(torch.tensor(self.vocabulary.encode(sym, add_bos_eos=True), dtype=torch.long))
        return out

    def encode_text(self, text: str) -> torch.Tensor:
        """Ids (L,) of one sentence (see :meth:`encode_texts`)."""
        return self.encode_texts([text])[0]

    # --- the subclass's part --------------------------------------------------
    def infer(self, ids: torch.Tensor, speaker: int = 0, speed: float = 1.0, **controls: float) -> torch.Tensor:
        """Log-mels (n_mels, frames) of ids (L,) — denormalised, ready for a vocoder. ``speed`` > 1 speaks
        faster; ``controls`` are model-specific (``pitch``, ``energy`` shifts of the non-autoregressive model)."""
        raise NotImplementedError

    def aligned_mels(self, batch: Any) -> list[torch.Tensor]:
        """The model's own log-mels (n_mels, frames_i) of a training batch, denormalised, frame for frame in step
        with the batch's recorded mels: teacher forced, with the durations (or attention) the recordings give
        ("ground-truth-aligned" mels, on which Shen et al. 2018 trained their WaveNet vocoder). A vocoder
        fine-tuned on them learns to turn this model's mels, not only recorded ones, into speech."""
        raise NotImplementedError(f"{self.registry_name} gives no ground-truth-aligned mels")

    @torch.no_grad()
    def synthesize_mel(self, text: str, speaker: int | str = 0, speed: float = 1.0, **controls: float) -> torch.Tensor:
        """Log-mels (n_mels, frames) of one sentence of text."""
        if isinstance(speaker, str):
            if speaker not in self.config.speakers:
                known = ", ".join(self.config.speakers) or "(one speaker)"
                raise BadInputError(f"unknown speaker {speaker!r}", f"this model knows: {known}")
            speaker = self.config.speakers.index(speaker)
        if not 0 <= speaker < self.config.n_speakers:
            raise BadInputError(f"speaker {speaker} is out of range", f"0..{self.config.n_speakers - 1}")
        if not 0.25 <= speed <= 4.0:
            raise BadInputError(f"speed {speed} is out of range", "use 0.25 … 4 (1 = as trained)")
        was_training = self.training
        self.eval()
        try:
            return self.infer(self.encode_text(text), speaker=speaker, speed=speed, **controls)
        finally:
            self.train(was_training)

    # --- model contract -------------------------------------------------------
    def optimizer_groups(self) -> list[OptimizerSpec]:
        return [OptimizerSpec("acoustic", list(self.parameters()), lr=self.config.lr, schedule=self.config.schedule)]

    def extra_files(self) -> dict[str, str]:
        """The vocabulary beside the weights (``vocabulary.json``, the format of ``PhonemeVocabulary.save``)."""
        return {"vocabulary.json": json.dumps(self.vocabulary.to_dict(), ensure_ascii=False, indent=1) + "\n"}
