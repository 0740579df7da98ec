"""Base class and config shared by language models (n-gram, char-RNN, GPT).

Conventions: a training batch is a long tensor (B, T + 1) of token ids (a window of the
token stream); the model predicts ids ``[:, 1:]`` from ``[:, :-1]``. For generation every
model offers the same incremental interface, which the decoders in
:mod:`genlab.text.decoding` drive:

* ``init_state(batch, use_cache)`` → an opaque state,
* ``step(ids (B, T), state)`` → (next-token logits (B, V), state): feed T new tokens,
* ``reorder_state(state, index)`` → the state of the selected batch rows (beam search).
"""

from __future__ import annotations

import itertools
import math
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from genlab.core.model import GenerativeModel, ModelConfig, OptimizerSpec
from genlab.text.tokenizers import TextTokenizer, tokenizer_from_dict

TOKENIZER_FILE = "tokenizer.json"


class TextModelConfig(ModelConfig):
    """Fields every language model has; the task fills vocab_size, block_size and tokenizer from the data."""

    vocab_size: int = Field(0, ge=0, description="number of token ids (set from the tokenizer)")
    block_size: int = Field(128, ge=2, le=65536, description="context length in tokens")
    tokenizer: dict[str, Any] = Field(default_factory=dict, description="the tokenizer, as JSON (set from the data)")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate")
    betas: tuple[float, float] = (0.9, 0.99)
    weight_decay: float = Field(0.0, ge=0)
    lr_schedule: Literal["constant", "cosine"] = Field("constant", description="learning rate over the run")
    warmup_steps: int = Field(0, ge=0, description="steps of linear learning-rate warm-up")


class TokenizedModel(GenerativeModel):
    """A model whose config records its tokenizer (``config.tokenizer``, JSON): the tokenizer built once, the
    model's device, and ``tokenizer.json`` exported with the weights for BPE tokenizers."""

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        self._tokenizer: TextTokenizer | None = None

    @property
    def tokenizer(self) -> TextTokenizer:
        """The tokenizer recorded in the config (built once)."""
        if self._tokenizer is None:
            self._tokenizer = tokenizer_from_dict(self.config.tokenizer)
        return self._tokenizer

    @property
    def device(self) -> torch.device:
        """Device of the first parameter or buffer (found lazily: this runs at every decoding step)."""
        first = next(itertools.chain(self.parameters(), self.buffers()), None)
        return first.device if first is not None else torch.device("cpu")

    def extra_files(self) -> dict[str, str]:
        """``tokenizer.json`` for BPE tokenizers (readable by Hugging Face tools), exported with the weights."""
        if self.config.tokenizer.get("type") != "bpe":
            return {}
        import json

        return {TOKENIZER_FILE: json.dumps(self.config.tokenizer["json"], ensure_ascii=False)}


class TextLanguageModel(TokenizedModel):
    """An autoregressive language model over token ids with an incremental ``step`` for decoding."""

    task: ClassVar[str] = "text-generation"
    config: TextModelConfig

    @property
    def max_context(self) -> int | None:
        """Most tokens the model conditions on (None: unbounded, e.g. an RNN)."""
        return self.config.block_size

    # --- training -------------------------------------------------------------
    def logits(self, ids: torch.Tensor) -> torch.Tensor:
        """Next-token logits at every position: (B, T) → (B, T, V)."""
        raise NotImplementedError

    def optimizer_groups(self) -> list[OptimizerSpec]:
        """One Adam group; the learning rate warms up linearly for ``warmup_steps``, then follows ``lr_schedule``
        over the run (a cosine follows the clock when only ``--max-minutes`` bounds the run)."""
        c = self.config
        return [OptimizerSpec("model", list(self.parameters()), c.lr, c.betas, c.weight_decay,
                              schedule=c.lr_schedule, warmup_steps=c.warmup_steps)]  # fmt: skip

    def training_losses(self, batch: torch.Tensor, group: str) -> dict[str, torch.Tensor]:
        """Mean cross-entropy (nats per token) of predicting ``batch[:, 1:]`` from ``batch[:, :-1]``."""
        batch = batch.to(self.device)
        logits = self.logits(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
        return {"loss": loss}

    @torch.no_grad()
    def sequence_nll(self, ids: torch.Tensor, batch_size: int = 32) -> tuple[float, int]:
        """Total negative log-likelihood (nats) of a 1-D id stream and the number of tokens predicted.

        The stream is cut into non-overlapping windows of ``block_size + 1`` ids (the last one
        shorter); every id after the first of its window is predicted from the ids before it
        in the window — the protocol of nanoGPT's ``estimate_loss``, over the whole stream.
        """
        window = (self.max_context or self.config.block_size) + 1
        starts = list(range(0, max(len(ids) - 1, 1), window - 1))
        total, count = 0.0, 0
        full = [s for s in starts if s + window <= len(ids)]
        for i in range(0, len(full), batch_size):
            batch = torch.stack([ids[s : s + window] for s in full[i : i + batch_size]]).to(self.device)
            logits = self.logits(batch[:, :-1])
            total += float(F.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten(), reduction="sum"))
            count += batch[:, 1:].numel()
        rest = [s for s in starts if s + window > len(ids) and len(ids) - s >= 2]
        for s in rest:
            tail = ids[s:].unsqueeze(0).to(self.device)
            logits = self.logits(tail[:, :-1])
            total += float(F.cross_entropy(logits.flatten(0, 1), tail[:, 1:].flatten(), reduction="sum"))
            count += tail.shape[1] - 1
        return total, count

    # --- generation -------------------------------------------------------------
    def init_state(self, batch: int, use_cache: bool = True) -> Any:
        """A fresh decoding state for ``batch`` sequences."""
        raise NotImplementedError

    def step(self, ids: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        """Feed new ids (B, T); return next-token logits (B, V) and the updated state."""
        raise NotImplementedError

    def reorder_state(self, state: Any, index: torch.Tensor) -> Any:
        """Keep batch rows ``index`` of ``state`` (in that order)."""
        raise NotImplementedError

    # --- checkpoint ---------------------------------------------------------------


def bits_per_token(nll_nats: float, count: int) -> float:
    """Convert a total NLL in nats over ``count`` tokens to bits per token."""
    return nll_nats / max(count, 1) / math.log(2)


class PaddedRowsLanguageModel:
    """Mixin placed before a :class:`TextLanguageModel` whose data are one sequence per row, padded with
    ``pad_id`` (molecules, music): padding is left out of the loss."""

    @property
    def pad_id(self) -> int:
        raise NotImplementedError

    def training_losses(self, batch: torch.Tensor, group: str) -> dict[str, torch.Tensor]:
        """Mean cross-entropy (nats per token) of ``batch[:, 1:]`` given ``batch[:, :-1]``, ``<pad>`` targets left
        out; ``batch`` (B, L) holds one sequence per row."""
        batch = batch.to(self.device)
        logits = self.logits(batch[:, :-1])  # (B, L-1, V)
        loss = F.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten(), ignore_index=self.pad_id)
        return {"loss": loss}
