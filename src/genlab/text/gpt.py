"""GPT: a decoder-only transformer language model (Radford et al. 2018/2019), sized by config.

Pre-norm blocks from :mod:`genlab.nn.transformer` with rotary positions and PyTorch's
scaled-dot-product attention; the output projection shares its weight with the token
embedding (Press & Wolf 2017), which saves ``vocab_size * n_embd`` parameters and helps
small models. Generation keeps a KV cache so each new token costs one position's compute.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from genlab.core.export import Bound, ExportGraph
from genlab.core.model import register_model
from genlab.nn.transformer import KVCache, Transformer
from genlab.text.base import TextLanguageModel, TextModelConfig


class GPTConfig(TextModelConfig):
    """Size and regularisation of a GPT; the defaults are nanoGPT's CPU Shakespeare recipe."""

    n_layer: int = Field(4, ge=1, le=96)
    n_head: int = Field(4, ge=1, le=128)
    n_embd: int = Field(128, ge=8, le=8192, description="width; must be a multiple of n_head")
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    bias: bool = Field(False, description="biases in Linear and LayerNorm layers")
    mlp_ratio: float = Field(4.0, gt=0)


@dataclass
class _RecomputeState:
    """Decoding without a cache: the ids so far, re-run through the model at every step."""

    ids: torch.Tensor  # (B, T)


@register_model("text/gpt")
class GPT(TextLanguageModel):
    """Decoder-only transformer: rotary positions, SDPA attention, tied embeddings, KV-cache generation."""

    config_class = GPTConfig
    description = "GPT decoder (pre-norm, rotary, SDPA, weight tying, KV cache)"
    config: GPTConfig

    def __init__(self, config: GPTConfig):
        super().__init__(config)
        c = config
        self.tok_emb = nn.Embedding(max(c.vocab_size, 1), c.n_embd)
        self.drop = nn.Dropout(c.dropout)
        self.transformer = Transformer(c.n_layer, c.n_embd, c.n_head, c.mlp_ratio, c.dropout, c.bias, causal=True)
        self.head = nn.Linear(c.n_embd, max(c.vocab_size, 1), bias=False)
        self.head.weight = self.tok_emb.weight  # weight tying
        self.apply(self._init_weights)
        # GPT-2: scale residual projections by 1/sqrt(2 * n_layer) so the residual stream's variance stays put.
        for name, p in self.named_parameters():
            if name.endswith("proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * c.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)

    def num_parameters(self) -> int:
        """Trainable parameters (the tied embedding counted once)."""
        return sum(p.numel() for p in self.parameters())

    def flops_per_token(self, context: int | None = None) -> float:
        """Training FLOPs per token at ``context`` tokens (default ``block_size``): ``6N + 12 L C T``.

        6N counts the matmuls with the N weights (2 FLOPs per multiply-add, forward plus a backward
        twice as costly; Kaplan et al. 2020, section 2.1); ``12 L C T`` adds attention's two
        T-long products per layer (Chowdhery et al. 2022, PaLM, appendix B). Embedding lookups cost
        no FLOPs, but the tied output projection does, so N includes the shared embedding.
        """
        c = self.config
        t = context or c.block_size
        return 6 * self.num_parameters() + 12 * c.n_layer * c.n_embd * t

    def features(self, ids: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """(B, T) ids → (B, T, C) final hidden states (functional embedding: a decoding step is overhead-bound)."""
        x = torch.embedding(self.tok_emb.weight, ids)
        return self.transformer(self.drop(x) if self.training else x, cache)

    def logits(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.shape[1] > self.config.block_size:
            raise ValueError(f"sequence of {ids.shape[1]} tokens is longer than block_size {self.config.block_size}")
        return self.head(self.features(ids))

    # --- incremental decoding -----------------------------------------------------
    def init_state(self, batch: int, use_cache: bool = True) -> KVCache | _RecomputeState:
        if not use_cache:
            return _RecomputeState(torch.zeros(batch, 0, dtype=torch.long, device=self.device))
        return self.transformer.new_cache(batch, self.config.block_size, self.tok_emb.weight)

    def step(self, ids: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        ids = ids.to(self.tok_emb.weight.device)
        if isinstance(state, _RecomputeState):
            state = _RecomputeState(torch.cat([state.ids, ids], dim=1))
            context = state.ids[:, -self.config.block_size :]
            return F.linear(self.features(context)[:, -1], self.head.weight), state
        h = self.features(ids[:, -self.config.block_size :], state)
        return F.linear(h[:, -1], self.head.weight), state

    def forward_past(
        self, ids: torch.Tensor, past_keys: torch.Tensor, past_values: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Logits (B, T, V) of ``ids`` (B, T) after P past positions given as keys/values (L, B, H, P, D), and the
        keys/values of all P + T positions: incremental decoding with the cache passed in and out (for export)."""
        h, keys, values = self.transformer.forward_past(torch.embedding(self.tok_emb.weight, ids), past_keys,
                                                        past_values)  # fmt: skip
        return self.head(h), keys, values

    def all_logits(self, ids: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, V) at every position of ``ids`` (B, T), computed as :meth:`forward_past` after no past
        (the form an exporter traces: no cache object, no branch on the length)."""
        c = self.config
        empty = self.tok_emb.weight.new_zeros((c.n_layer, ids.shape[0], c.n_head, 0, c.n_embd // c.n_head))
        return self.forward_past(ids, empty, empty)[0]

    def export_graphs(self) -> dict[str, ExportGraph]:
        """``logits``: ids (B, T) -> logits (B, T, V); ``decoder_step``: ids (B, T) with past keys/values
        (L, B, H, P, D) -> logits and the keys/values of all P + T positions (P may be 0: the prompt), the
        incremental decoder a runtime loops over. Batch, T and P are free (T + P ≤ block_size)."""
        c = self.config
        g = torch.Generator().manual_seed(0)
        ids = torch.randint(max(c.vocab_size, 1), (2, 4), generator=g)
        past = torch.randn(c.n_layer, 2, c.n_head, 3, c.n_embd // c.n_head, generator=g)
        logits = ExportGraph(Bound(self, "all_logits"), (ids,), ["ids"], ["logits"],
                             {"ids": {0: "batch", 1: "tokens"}, "logits": {0: "batch", 1: "tokens"}},
                             "token ids -> next-token logits at every position")  # fmt: skip
        cache = {1: "batch", 3: "past"}
        step = ExportGraph(
            Bound(self, "forward_past"), (ids, past, past.clone()), ["ids", "past_keys", "past_values"],
            ["logits", "keys", "values"],
            {"ids": {0: "batch", 1: "tokens"}, "past_keys": cache, "past_values": cache,
             "logits": {0: "batch", 1: "tokens"}, "keys": {1: "batch", 3: "total"}, "values": {1: "batch", 3: "total"}},
            "token ids after past keys/values -> logits and the keys/values of every position",
        )  # fmt: skip
        return {"logits": logits, "decoder_step": step}

    def reorder_state(self, state: Any, index: torch.Tensor) -> Any:
        index = index.to(self.device)
        if isinstance(state, _RecomputeState):
            return _RecomputeState(state.ids.index_select(0, index))
        state.reorder(index)
        return state
