"""Music language models: the text modality's GPT and char-RNN over music tokens, one piece (or window) per row.

``music/transformer`` is the decoder-only transformer of :mod:`genlab.text.gpt` (pre-norm blocks of
:mod:`genlab.nn.transformer` with rotary positions, so attention depends on relative offsets as the Music
Transformer's relative attention does, Huang et al. 2019; KV-cache decoding). ``music/lstm`` is the LSTM of
:mod:`genlab.text.rnn` (the "LSTM baseline" of music language modelling, e.g. Eck & Schmidhuber 2002, Oore et al.
2018's Performance RNN).

A batch is a long tensor (B, L) of rows ``<bos> [conditioning] body… <eos> <pad>…`` made by the ``music`` task
(:class:`genlab.music.task.MusicSequences`); the loss is the cross-entropy of every next token up to and including
``<eos>``, padding left out. Every model of the ``music`` task (these, ``music/markov`` and ``music/music-vae``)
carries its :class:`~genlab.music.tokenizers.MusicTokenizer` as ``model.tokenizer`` (recorded in the config as
JSON, like the molecule and text tokenizers) and offers

* ``token_nll(ids (B, T)) -> (B,)``: summed negative log-likelihood in nats of ``ids[:, 1:]`` given what precedes
  each (``<pad>`` targets left out);
* ``sample_ids(n, max_tokens, generator, temperature, prefix_ids, constraints) -> list[list[int]]``: each row is
  the prefix followed by the sampled ids, up to (not including) ``<eos>``; ``constraints`` are logits processors
  (:mod:`genlab.music.decoding`) applied at every step before the temperature. Without a prefix, a model whose
  config sets ``key_prior="corpus"`` draws each row's ``Key`` token from the training pieces' keys
  (:class:`KeyPriorConfig`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from genlab.core.config import Config
from genlab.core.errors import BadInputError, ConfigError
from genlab.core.model import register_model
from genlab.text.base import PaddedRowsLanguageModel
from genlab.text.decoding import LogitsProcessor, SuppressTokens, Temperature, generate_until
from genlab.text.gpt import GPT, GPTConfig
from genlab.text.rnn import CharRNN, CharRNNConfig

TASK = "music"
SAMPLE_BATCH = 64  # pieces decoded together


def music_tokenizer_from_dict(data: dict[str, Any]):
    """Rebuild the :class:`~genlab.music.tokenizers.MusicTokenizer` recorded in a model config."""
    from genlab.music.tokenizers import tokenizer_from_dict

    if not data:
        raise ConfigError(
            "the model config holds no music tokenizer",
            "music models get their tokenizer from the training pieces; train through genlab",
        )
    return tokenizer_from_dict(data)


def check_sampling(n: int, max_tokens: int, temperature: float) -> None:
    """Refuse a negative count, no room for tokens, or a temperature ≤ 0 (BadInputError)."""
    if n < 0:
        raise BadInputError(f"cannot sample {n} pieces", "ask for a number ≥ 0")
    if max_tokens < 1:
        raise BadInputError(f"max_tokens must be at least 1, got {max_tokens}", "allow some tokens to be written")
    if temperature <= 0:
        raise BadInputError(f"temperature must be > 0, got {temperature}", "1.0 samples the model as trained")


def sampling_processors(tokenizer, constraints: Sequence[LogitsProcessor] | None, temperature: float) -> list:
    """``<pad>``/``<bos>`` never chosen, then the constraints (masks), then the temperature."""
    processors: list = [SuppressTokens([tokenizer.pad_id, tokenizer.bos_id]), *(constraints or ())]
    if temperature != 1.0:
        processors.append(Temperature(temperature))
    return processors


def prefix_tensor(tokenizer, n: int, prefix_ids: Sequence[int] | None) -> torch.Tensor:
    """(n, P) prompt: ``prefix_ids`` (default ``<bos>``) for every row; a prefix must start with ``<bos>``."""
    prefix = list(prefix_ids) if prefix_ids else [tokenizer.bos_id]
    if prefix[0] != tokenizer.bos_id:
        prefix = [tokenizer.bos_id, *prefix]
    return torch.tensor([prefix] * n, dtype=torch.long)


class KeyPriorConfig(Config):
    """How unconditioned sampling picks a piece's key (the ``Key`` token after ``<bos>``).

    Training on transposed copies (the data's ``transpose``) teaches the model a nearly flat key distribution,
    while a corpus's own pieces cluster in a few keys (the folk tunes: G, F, D and C major hold about 80 %). With
    ``corpus`` the key of each unconditioned piece is drawn from ``key_counts``, the training pieces' keys before
    transposition, and the model writes the rest of the piece in that key: transposition still teaches the
    intervals of every key, and the samples come in the corpus's keys."""

    key_prior: Literal["model", "corpus"] = Field(
        "model", description="unconditioned samples: the key token as the model samples it, or drawn from key_counts"
    )
    key_counts: dict[str, int] = Field(
        default_factory=dict, description="training pieces per key token, before transposition (set from the data)"
    )


class MusicLanguageModel(PaddedRowsLanguageModel):
    """Mixin placed before a :class:`genlab.text.base.TextLanguageModel`: the music task, the music tokenizer,
    the padded per-piece loss, ``token_nll`` and ``sample_ids``."""

    task: ClassVar[str] = TASK
    #: rows of up to 256 tokens (the task's default window) in batches of 16: about 4k tokens a step, so a CPU
    #: budget of minutes sees hundreds of steps (64 rows of 512 tokens took ~12 s a step on one thread)
    default_batch_size: ClassVar[int] = 16

    @property
    def tokenizer(self):
        """The music tokenizer recorded in the config (built once)."""
        if self._tokenizer is None:
            self._tokenizer = music_tokenizer_from_dict(self.config.tokenizer)
        return self._tokenizer

    @property
    def pad_id(self) -> int:
        return self.tokenizer.pad_id

    @torch.no_grad()
    def token_nll(self, ids: torch.Tensor) -> torch.Tensor:
        """Summed NLL in nats (B,) of ``ids[:, 1:]`` (B, T), each token given every earlier one of its row up to the
        model's context (longer rows are scored in overlapping windows: every token after the first window keeps
        at least half a context of history); ``<pad>`` targets count nothing."""
        ids = ids.long().to(self.device)
        pad = self.tokenizer.pad_id
        window = self.max_context
        if window is None or ids.shape[1] - 1 <= window:
            return _summed_ce(self.logits(ids[:, :-1]), ids[:, 1:], pad)
        total = torch.zeros(ids.shape[0], device=ids.device)
        stride = max(window // 2, 1)
        scored = 0  # targets ids[:, 1 : scored + 1] are counted
        start = 0
        while scored < ids.shape[1] - 1:
            chunk = ids[:, start : start + window + 1]
            logits = self.logits(chunk[:, :-1])
            first_new = scored - start  # targets of this chunk not counted yet
            total += _summed_ce(logits[:, first_new:], chunk[:, 1 + first_new :], pad)
            scored = start + chunk.shape[1] - 1
            start += stride
        return total

    @torch.no_grad()
    def sample_ids(
        self,
        n: int,
        max_tokens: int,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
        prefix_ids: Sequence[int] | None = None,
        constraints: Sequence[LogitsProcessor] | None = None,
    ) -> list[list[int]]:
        """``n`` token sequences: the prefix (default ``<bos>``) then up to ``max_tokens`` sampled ids, each row
        ending before its first ``<eos>``."""
        check_sampling(n, max_tokens, temperature)
        tok = self.tokenizer
        processors = sampling_processors(tok, constraints, temperature)
        keys = self.prior_keys(n, generator) if prefix_ids is None else None
        was = self.training
        out: list[list[int]] = []
        try:
            for start in range(0, n, SAMPLE_BATCH):
                prompt = prefix_tensor(tok, min(SAMPLE_BATCH, n - start), prefix_ids)
                if keys is not None:  # (b, 1) <bos> -> (b, 2) <bos> Key
                    prompt = torch.cat([prompt, keys[start : start + len(prompt), None]], 1)
                budget = max_tokens - (keys is not None and max_tokens > 1)  # a drawn key is one of the tokens
                rows = generate_until(self, prompt, budget, tok.eos_id, processors, generator=generator)
                out += [p.tolist() + r for p, r in zip(prompt, rows, strict=True)]
        finally:
            self.train(was)
        return out

    def prior_keys(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor | None:
        """(n,) ``Key`` token ids drawn from the config's ``key_counts`` when its ``key_prior`` is ``corpus``
        (None otherwise: the model samples the key itself)."""
        cfg = self.config
        if n < 1 or getattr(cfg, "key_prior", "model") != "corpus" or not getattr(cfg, "key_counts", None):
            return None
        tokens = sorted(cfg.key_counts)
        ids = torch.tensor([self.tokenizer.id_of(t) for t in tokens])
        weights = torch.tensor([float(cfg.key_counts[t]) for t in tokens])
        return ids[torch.multinomial(weights, n, replacement=True, generator=generator)]


def _summed_ce(logits: torch.Tensor, targets: torch.Tensor, pad: int) -> torch.Tensor:
    """(B, T, V) logits and (B, T) targets → (B,) summed cross-entropy, ``pad`` targets left out."""
    ce = F.cross_entropy(logits.transpose(1, 2).float(), targets, ignore_index=pad, reduction="none")
    return ce.sum(1)


class MusicTransformerConfig(GPTConfig, KeyPriorConfig):
    """A small decoder-only transformer for music tokens."""

    n_layer: int = Field(4, ge=1, le=96)
    n_head: int = Field(4, ge=1, le=128)
    n_embd: int = Field(128, ge=8, le=8192, description="width; must be a multiple of n_head")
    block_size: int = Field(512, ge=2, le=65536, description="context length in tokens (set from the data)")
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    lr: float = Field(1e-3, gt=0)
    lr_schedule: Literal["constant", "cosine"] = Field("cosine", description="learning rate over the run")
    warmup_steps: int = Field(100, ge=0, description="steps of linear learning-rate warm-up")


@register_model("music/transformer")
class MusicTransformer(MusicLanguageModel, GPT):
    """GPT decoder over music tokens (rotary positions, KV-cache sampling)."""

    config_class = MusicTransformerConfig
    description = "decoder-only transformer over REMI / melody tokens (rotary positions, KV cache)"


class MusicLSTMConfig(CharRNNConfig, KeyPriorConfig):
    """A multi-layer LSTM over music tokens."""

    cell: Literal["lstm", "gru"] = "lstm"
    n_layer: int = Field(2, ge=1, le=8)
    n_embd: int = Field(64, ge=4, le=4096, description="token embedding size")
    hidden_size: int = Field(256, ge=4, le=8192)
    block_size: int = Field(512, ge=2, le=65536, description="longest training row in tokens (set from the data)")
    dropout: float = Field(0.1, ge=0.0, lt=1.0, description="between recurrent layers and before the output")
    lr: float = Field(2e-3, gt=0)
    lr_schedule: Literal["constant", "cosine"] = Field("cosine", description="learning rate over the run")
    warmup_steps: int = Field(0, ge=0, description="steps of linear learning-rate warm-up")


@register_model("music/lstm")
class MusicLSTM(MusicLanguageModel, CharRNN):
    """LSTM language model over music tokens (the recurrent baseline)."""

    config_class = MusicLSTMConfig
    description = "LSTM language model over REMI / melody tokens (the recurrent baseline)"
