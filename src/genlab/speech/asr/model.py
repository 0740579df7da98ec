"""``speech/ctc``: a small CTC recogniser — log-mel → strided convolutions → BiGRU → phoneme or character scores.

The wave (B, samples) at ``sample_rate`` becomes a log-mel spectrogram (:class:`~genlab.audio.features.MelSpectrogram`,
25 ms windows, 10 ms hops), normalised per utterance and mel band over its real frames (a recording's level and
channel say nothing of what is said). ``n_conv`` 1-D convolutions of stride 2 shorten time by ``2**n_conv``
(40 ms frames with the default 2), ``gru_layers`` bidirectional GRUs read the whole utterance, and a linear layer
gives log-probabilities over the vocabulary, whose ``<pad>`` (id 0) is the CTC blank. Trained with the CTC loss
(Graves et al. 2006) over phonemes of the front end or characters of the normalised text (``targets``); decoded
greedily or by prefix beam search (:mod:`genlab.speech.ctc`). While training, SpecAugment-style masks
(Park et al. 2019) hide one random band of up to ``freq_mask`` mel channels and one span of up to ``time_mask``
frames of each utterance (by default 10 of 80 bands and 0.2 s, milder than the paper's LibriSpeech policy for
these short utterances; 0 turns them off), so the recogniser leans on no single band or instant — it also has to
read synthetic speech that is smoother than its training audio.

References:
    A. Graves, S. Fernández, F. Gomez and J. Schmidhuber, "Connectionist Temporal Classification: Labelling
    Unsegmented Sequence Data with Recurrent Neural Networks", ICML 2006.
    D. S. Park et al., "SpecAugment: A Simple Data Augmentation Method for Automatic Speech Recognition",
    Interspeech 2019.
"""

from __future__ import annotations

import json
from typing import ClassVar, Literal

import torch
from pydantic import Field
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from genlab.audio.features import MelSpectrogram, spec_augment
from genlab.core.errors import BadInputError
from genlab.core.model import GenerativeModel, ModelConfig, OptimizerSpec, register_model
from genlab.speech import ctc
from genlab.speech.text import PhonemeVocabulary

TASK = "asr"
SEPARATOR = "\x1f"  # as genlab.speech.asr.data.SEPARATOR (kept here so inference never imports the data module)


class CTCConfig(ModelConfig):
    """Architecture and training recipe of the CTC recogniser; the rate and the symbols are set from the data."""

    sample_rate: int = Field(16000, ge=8000, le=48000, description="input sample rate (Hz); set from the data")
    language: Literal["en", "zh"] = Field("en", description="language of the transcripts; set from the data")
    targets: Literal["phonemes", "chars"] = Field(
        "phonemes", description="what the model writes: phonemes of the front end or characters of the normalised text"
    )
    symbols: list[str] = Field(default_factory=list, description="the target symbols, after the 5 specials; from data")
    n_mels: int = Field(80, ge=16, le=256, description="mel bands of the log-mel front end")
    win_ms: float = Field(25.0, gt=0, le=100, description="analysis window, ms (the FFT size is the next power of 2)")
    hop_ms: float = Field(10.0, gt=0, le=50, description="hop between frames, ms")
    conv_channels: int = Field(192, ge=4, le=1024, description="channels of the strided convolutions")
    n_conv: int = Field(2, ge=1, le=3, description="stride-2 convolutions: time is shortened by 2**n_conv")
    gru_hidden: int = Field(192, ge=4, le=1024, description="hidden units per direction of each BiGRU layer")
    gru_layers: int = Field(2, ge=1, le=4, description="BiGRU layers")
    dropout: float = Field(0.1, ge=0, lt=1)
    freq_mask: int = Field(10, ge=0, le=64, description="widest random mel band hidden while training (SpecAugment)")
    time_mask: int = Field(20, ge=0, le=200, description="longest random span of frames hidden while training")
    lr: float = Field(1e-3, gt=0, le=1, description="Adam learning rate (peak of the schedule)")
    schedule: Literal["constant", "cosine"] = Field("cosine", description="learning rate over the run")

    @property
    def win_length(self) -> int:
        return int(round(self.sample_rate * self.win_ms / 1000))

    @property
    def n_fft(self) -> int:
        return 1 << max(0, (self.win_length - 1).bit_length())

    @property
    def hop_length(self) -> int:
        return max(1, int(round(self.sample_rate * self.hop_ms / 1000)))


@register_model("speech/ctc")
class CTCRecognizer(GenerativeModel):
    """Log-mel → stride-2 convolutions → BiGRU → per-frame log-probabilities over the vocabulary + blank."""

    config_class = CTCConfig
    task: ClassVar[str] = TASK
    description: ClassVar[str] = "small CTC recogniser (log-mel, conv + BiGRU) of phonemes or characters"
    config: CTCConfig

    def __init__(self, config: CTCConfig):
        super().__init__(config)
        c = config
        self.vocabulary = PhonemeVocabulary(c.symbols, "phoneme" if c.targets == "phonemes" else "character")
        self.mel = MelSpectrogram(c.sample_rate, n_fft=c.n_fft, hop_length=c.hop_length, n_mels=c.n_mels,
                                  win_length=c.win_length)  # fmt: skip
        convs, width = [], c.n_mels
        for _ in range(c.n_conv):
            convs += [nn.Conv1d(width, c.conv_channels, 5, stride=2, padding=2), nn.GELU()]
            width = c.conv_channels
        self.conv = nn.Sequential(*convs)
        self.gru = nn.GRU(width, c.gru_hidden, c.gru_layers, batch_first=True, bidirectional=True,
                          dropout=c.dropout if c.gru_layers > 1 else 0.0)  # fmt: skip
        self.dropout = nn.Dropout(c.dropout)
        self.head = nn.Linear(2 * c.gru_hidden, len(self.vocabulary))

    # --- lengths --------------------------------------------------------------
    def frame_lengths(self, samples: torch.Tensor) -> torch.Tensor:
        """Output frames (B,) of waves of ``samples`` (B,) samples: mel frames, then each conv halves (rounding up)."""
        n = 1 + samples.long() // self.config.hop_length
        for _ in range(self.config.n_conv):
            n = (n - 1) // 2 + 1  # kernel 5, padding 2, stride 2
        return n

    def _features(self, waves: torch.Tensor, samples: torch.Tensor) -> torch.Tensor:
        """Normalised log-mel (B, n_mels, frames), zero outside each utterance's frames."""
        spec = self.mel(waves)  # (B, samples) -> (B, n_mels, frames)
        frames = 1 + samples.long() // self.config.hop_length
        mask = (torch.arange(spec.shape[-1], device=spec.device)[None, :] < frames[:, None]).unsqueeze(1)
        count = frames.clamp_min(1)[:, None, None].to(spec.dtype)
        mean = (spec * mask).sum(-1, keepdim=True) / count
        var = (((spec - mean) * mask) ** 2).sum(-1, keepdim=True) / count
        spec = (spec - mean) / (var + 1e-5).sqrt()
        if self.training and (self.config.freq_mask or self.config.time_mask):
            spec = spec_augment(spec, self.config.freq_mask, self.config.time_mask, frames)  # fill 0: the mean
        return spec * mask

    def forward(self, waves: torch.Tensor, samples: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probabilities (B, T, vocabulary) and valid frames (B,) of waves (B, samples) at ``sample_rate``
        (``samples``: each wave's length; padding beyond it is ignored)."""
        if waves.dim() != 2:
            raise BadInputError(f"speech/ctc takes waves (B, samples), got shape {tuple(waves.shape)}")
        if samples is None:
            samples = torch.full((waves.shape[0],), waves.shape[1], dtype=torch.long)
        samples = samples.to(waves.device).long()
        waves = waves[:, : int(samples.max())]  # cut the batch to its longest utterance
        h = self.conv(self._features(waves, samples)).transpose(1, 2)  # (B, n_mels, N) -> (B, T, channels)
        lengths = self.frame_lengths(samples).clamp(1, h.shape[1])
        packed = pack_padded_sequence(h, lengths.cpu(), batch_first=True, enforce_sorted=False)
        h, _ = pad_packed_sequence(self.gru(packed)[0], batch_first=True, total_length=h.shape[1])
        return self.head(self.dropout(h)).log_softmax(-1), lengths

    # --- model contract -------------------------------------------------------
    def optimizer_groups(self) -> list[OptimizerSpec]:
        return [OptimizerSpec("recognizer", list(self.parameters()), lr=self.config.lr, schedule=self.config.schedule)]

    def encode_targets(self, phonemes: list[str], chars: list[str]) -> list[list[int]]:
        """Target ids of a batch's joined symbol strings (phonemes or characters, as ``targets`` says)."""
        joined = phonemes if self.config.targets == "phonemes" else chars
        if any(not j for j in joined):
            raise BadInputError(
                "an utterance has no phonemes: they come from eSpeak NG, which is not installed here",
                "install it (pip install 'genlab[audio]') or train on characters: --set model.targets=chars",
            )
        return [[i for i in self.vocabulary.encode(j.split(SEPARATOR)) if i != 0] for j in joined]

    def training_losses(self, batch, group: str = "recognizer") -> dict[str, torch.Tensor]:
        """CTC loss (nats per target symbol, averaged over the batch) of ``(waves, samples, phonemes, chars)``."""
        waves, samples, phonemes, chars = batch
        log_probs, lengths = self(waves, torch.as_tensor(samples))
        targets = self.encode_targets(list(phonemes), list(chars))
        return {"loss": ctc.ctc_loss(log_probs, targets, lengths)}

    def extra_files(self) -> dict[str, str]:
        """The vocabulary beside the weights (``vocabulary.json``, the format of ``PhonemeVocabulary.save``)."""
        return {"vocabulary.json": json.dumps(self.vocabulary.to_dict(), ensure_ascii=False, indent=1) + "\n"}

    # --- inference ------------------------------------------------------------
    @torch.no_grad()
    def decode(self, waves: list[torch.Tensor], beam_width: int = 1, batch_size: int = 16) -> list[list[str]]:
        """Symbol lists of waves (each (samples,) at ``sample_rate``), read in length-sorted batches; greedy with
        ``beam_width`` 1, prefix beam search otherwise."""
        was_training = self.training
        self.eval()
        out: list[list[str]] = [[] for _ in waves]
        order = sorted(range(len(waves)), key=lambda i: len(waves[i]))
        try:
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                samples = torch.tensor([len(waves[i]) for i in idx])
                batch = torch.zeros(len(idx), int(samples.max()))
                for row, i in enumerate(idx):
                    batch[row, : len(waves[i])] = waves[i]
                log_probs, lengths = self(batch, samples)
                for row, i in enumerate(idx):
                    scores = log_probs[row, : int(lengths[row])]
                    ids = (ctc.greedy_decode(scores)[0] if beam_width <= 1
                           else ctc.prefix_beam_search(scores, beam_width, prune=-12.0)[0][0])  # fmt: skip
                    out[i] = self.vocabulary.decode(ids)
        finally:
            self.train(was_training)
        return out

    def to_text(self, symbols: list[str]) -> str:
        """The text a symbol list reads as: the IPA string of phonemes, or the characters joined."""
        from genlab.speech.text import to_ipa

        return to_ipa(symbols) if self.config.targets == "phonemes" else "".join(symbols)
