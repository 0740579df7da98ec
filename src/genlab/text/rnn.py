"""Char-RNN: an LSTM or GRU language model (Karpathy 2015, "The Unreasonable Effectiveness of RNNs").

Trained with truncated back-propagation through time on windows of ``block_size`` tokens;
at generation time the recurrent state carries the whole history, so the context is unbounded.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field
from torch import nn

from genlab.core.model import register_model
from genlab.text.base import TextLanguageModel, TextModelConfig


class CharRNNConfig(TextModelConfig):
    """Recurrent cell type and size."""

    cell: Literal["lstm", "gru"] = "lstm"
    n_layer: int = Field(2, ge=1, le=8)
    n_embd: int = Field(64, ge=4, le=4096, description="token embedding size")
    hidden_size: int = Field(256, ge=4, le=8192)
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="between recurrent layers and before the output")
    lr: float = Field(2e-3, gt=0)


@register_model("text/char-rnn")
class CharRNN(TextLanguageModel):
    """LSTM/GRU language model; works with character or BPE tokens."""

    config_class = CharRNNConfig
    description = "char-RNN (LSTM or GRU) language model"
    config: CharRNNConfig

    def __init__(self, config: CharRNNConfig):
        super().__init__(config)
        c = config
        self.embedding = nn.Embedding(max(c.vocab_size, 1), c.n_embd)
        rnn_cls = nn.LSTM if c.cell == "lstm" else nn.GRU
        self.rnn = rnn_cls(
            c.n_embd, c.hidden_size, c.n_layer, batch_first=True, dropout=c.dropout if c.n_layer > 1 else 0
        )
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.hidden_size, max(c.vocab_size, 1))

    @property
    def max_context(self) -> int | None:
        return None

    def logits(self, ids: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self.embedding(ids))
        return self.head(self.drop(out))

    @torch.no_grad()
    def sequence_nll(self, ids: torch.Tensor, batch_size: int = 32) -> tuple[float, int]:
        """NLL over windows of ``block_size + 1`` ids, each started from a zero state (as in training)."""
        return super().sequence_nll(ids, batch_size)

    def init_state(self, batch: int, use_cache: bool = True) -> Any:
        return None  # PyTorch RNNs start from zeros when given no state

    def step(self, ids: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        out, state = self.rnn(self.embedding(ids.to(self.device)), state)
        return self.head(out[:, -1]), state

    def reorder_state(self, state: Any, index: torch.Tensor) -> Any:
        if state is None:
            return None
        index = index.to(self.device)
        if isinstance(state, tuple):  # LSTM: (h, c), each (layers, B, H)
            return tuple(s.index_select(1, index) for s in state)
        return state.index_select(1, index)
