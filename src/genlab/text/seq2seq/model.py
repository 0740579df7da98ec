"""``text/transformer-seq2seq``: an encoder–decoder transformer (Vaswani et al. 2017) for text pairs.

The encoder is a bidirectional :class:`~genlab.nn.transformer.Transformer` over the source, the decoder a
:class:`~genlab.nn.transformer.TransformerDecoder` (causal self-attention, cross-attention, MLP) over the
target; both use rotary positions. One embedding matrix serves the source tokens, the target tokens and
the output projection (three-way weight tying, Press & Wolf 2017). Training minimises label-smoothed
cross-entropy (Szegedy et al. 2016): ``(1 - ε) · NLL + ε · mean over the vocabulary of -log p``, with
ε = ``label_smoothing``; padding positions are left out.

Ids, generation and the optimiser come from :class:`~genlab.text.seq2seq.base.EncoderDecoderModel`; the
decoders of :mod:`genlab.text.decoding` drive the decoder through :class:`SourceConditioned`, which binds
it to the encoded sources.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from genlab.core.model import register_model
from genlab.nn.transformer import DecoderCache, Transformer, TransformerDecoder
from genlab.text.seq2seq.base import (
    SPECIAL_TOKENS,
    EncoderDecoderConfig,
    EncoderDecoderModel,
    pad_rows,
    smoothed_cross_entropy,
    source_rows,
    trim,
)

__all__ = ["Seq2SeqConfig", "SourceConditioned", "TransformerSeq2Seq", "pad_rows", "smoothed_cross_entropy", "trim"]


class Seq2SeqConfig(EncoderDecoderConfig):
    """Size and regularisation of the encoder–decoder transformer; the task fills the tokenizer and lengths."""

    d_model: int = Field(256, ge=8, le=8192, description="width; a multiple of n_head")
    n_head: int = Field(4, ge=1, le=128, description="attention heads")
    n_encoder_layers: int = Field(3, ge=1, le=64, description="encoder blocks")
    n_decoder_layers: int = Field(3, ge=1, le=64, description="decoder blocks")
    mlp_ratio: float = Field(4.0, gt=0, description="MLP width over d_model")
    dropout: float = Field(0.1, ge=0.0, lt=1.0, description="dropout on embeddings, attention and residuals")
    bias: bool = Field(False, description="biases in Linear and LayerNorm layers")


@dataclass
class _RecomputeState:
    """Decoding without a cache: the target ids so far and the source, re-run at every step."""

    ids: torch.Tensor  # (B, T)
    memory: torch.Tensor  # (B, S, C)
    mask: torch.Tensor  # (B, 1, 1, S)


@register_model("text/transformer-seq2seq")
class TransformerSeq2Seq(EncoderDecoderModel):
    """Encoder–decoder transformer: rotary positions, cross-attention, tied embeddings, label smoothing."""

    config_class = Seq2SeqConfig
    description = "encoder-decoder transformer (rotary, cross-attention, tied embeddings, label smoothing, beam search)"
    config: Seq2SeqConfig

    def __init__(self, config: Seq2SeqConfig):
        super().__init__(config)
        c = config
        self.tok_emb = nn.Embedding(c.vocab_size + SPECIAL_TOKENS, c.d_model)
        self.drop = nn.Dropout(c.dropout)
        self.encoder = Transformer(
            c.n_encoder_layers, c.d_model, c.n_head, c.mlp_ratio, c.dropout, c.bias, causal=False
        )
        self.decoder = TransformerDecoder(c.n_decoder_layers, c.d_model, c.n_head, c.mlp_ratio, c.dropout, c.bias)
        self.head = nn.Linear(c.d_model, c.vocab_size + SPECIAL_TOKENS, bias=False)
        self.head.weight = self.tok_emb.weight  # one matrix: source and target embeddings, output projection
        self.apply(self._init_weights)
        depth = c.n_encoder_layers + c.n_decoder_layers
        for name, p in self.named_parameters():  # GPT-2: residual projections scaled down with depth
            if name.endswith("proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * depth))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)

    # --- forward --------------------------------------------------------------------
    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.tok_emb(ids)
        return self.drop(x) if self.training else x

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Source ids (B, S) → encoder output (B, S, C) and its padding mask (B, 1, 1, S)."""
        if src.shape[1] > self.config.max_source_length:
            raise ValueError(f"source of {src.shape[1]} tokens is longer than max_source_length")
        mask = (src != self.pad_id)[:, None, None, :]
        return self.encoder(self.embed(src), attn_mask=mask), mask

    def logits(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Next-token logits (B, T, V + 3) of the target input ids (B, T) given the source ids (B, S)."""
        memory, mask = self.encode(src)
        return self.head(self.decoder(self.embed(tgt_in), memory, mask))

    # --- training ---------------------------------------------------------------------
    def training_losses(self, batch: Any, group: str) -> dict[str, torch.Tensor]:
        """Label-smoothed cross-entropy (``loss``) and plain NLL per target token (``nll``) of a batch
        ``(source ids (B, S), target ids (B, T + 2))``, the targets framed as ``bos … eos`` and both padded."""
        src, tgt = self.pairs_batch(batch)
        logits = self.logits(src, tgt[:, :-1])
        loss, nll = smoothed_cross_entropy(logits, tgt[:, 1:], self.config.label_smoothing, self.pad_id)
        return {"loss": loss, "nll": nll}

    # --- generation -----------------------------------------------------------------------
    def conditioned(self, src: torch.Tensor) -> SourceConditioned:
        """The decoder bound to the encoded sources ``src`` (B, S): the interface of :mod:`genlab.text.decoding`."""
        memory, mask = self.encode(src.to(self.device))
        return SourceConditioned(self, memory, mask)


class SourceConditioned(nn.Module):
    """The decoder of a :class:`TransformerSeq2Seq` bound to encoded sources, with the incremental interface
    the decoders of :mod:`genlab.text.decoding` drive (``init_state`` / ``step`` / ``reorder_state``).

    A state is a :class:`~genlab.nn.transformer.DecoderCache` (self-attention keys/values grow per step,
    the sources' cross-attention keys/values are computed once), or without a cache the ids so far,
    re-decoded at every step. One source can be decoded as several rows (beams, samples).
    """

    def __init__(self, model: TransformerSeq2Seq, memory: torch.Tensor, mask: torch.Tensor):
        super().__init__()
        self.model = model
        self.memory, self.mask = memory, mask

    @property
    def max_context(self) -> int:
        """Target positions: the start symbol, ``max_target_length`` tokens and the end symbol."""
        return self.model.config.max_target_length + 2

    def init_state(self, batch: int, use_cache: bool = True) -> DecoderCache | _RecomputeState:
        rows = source_rows(batch, self.memory.shape[0], self.memory.device)
        if use_cache:
            return self.model.decoder.new_cache(self.memory, self.mask, self.max_context, batch)
        empty = torch.zeros(batch, 0, dtype=torch.long, device=self.memory.device)
        return _RecomputeState(empty, self.memory.index_select(0, rows), self.mask.index_select(0, rows))

    def step(self, ids: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        m = self.model
        ids = ids.to(self.memory.device)
        if isinstance(state, _RecomputeState):
            state = _RecomputeState(torch.cat([state.ids, ids], dim=1), state.memory, state.mask)
            h = m.decoder(m.embed(state.ids), state.memory, state.mask)
        else:
            h = m.decoder(m.embed(ids), cache=state)
        return F.linear(h[:, -1], m.head.weight), state

    def reorder_state(self, state: Any, index: torch.Tensor) -> Any:
        index = index.to(self.memory.device)
        if isinstance(state, _RecomputeState):
            return _RecomputeState(*(t.index_select(0, index) for t in (state.ids, state.memory, state.mask)))
        state.reorder(index)
        return state
