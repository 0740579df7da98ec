"""Interpolated modified Kneser–Ney n-gram language model (Chen & Goodman 1998), fitted by counting.

The trivial baseline every text benchmark reports beside the neural models. Counts are kept
as sorted integer codes (an n-gram ``w1..wk`` is ``sum(wi * V**(k-i))``), so a context's
continuations are one contiguous slice found by binary search; the tables are stored as
safetensors buffers and the config records their sizes, so loading never unpickles.

    p_k(w | h) = max(c(h w) - D(c), 0) / c(h) + γ(h) · p_{k-1}(w | h'),
    γ(h) = (D1 N1(h•) + D2 N2(h•) + D3+ N3+(h•)) / c(h)

where ``c`` is the raw count at the highest order and the continuation count N1+(•h w) below
it, ``h'`` drops the oldest token of ``h``, and the recursion ends in the uniform distribution.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from pydantic import Field

from genlab.core.errors import ConfigError
from genlab.core.model import register_model
from genlab.text.base import TextLanguageModel, TextModelConfig


class NGramConfig(TextModelConfig):
    """Order of the model; ``table_sizes`` is filled by fitting."""

    order: int = Field(5, ge=1, le=12, description="n: tokens per n-gram (context = n - 1 tokens)")
    table_sizes: list[int] = Field(default_factory=list, description="distinct k-grams per order (set by fitting)")


def _discounts(counts: np.ndarray) -> np.ndarray:
    """Modified KN discounts D1, D2, D3+ from the count-of-counts n1..n4 (Chen & Goodman 1998, eq. 26)."""
    n = [int((counts == r).sum()) for r in (1, 2, 3, 4)]
    if min(n) == 0:
        return np.full(3, 0.75)  # too little data for the estimate: the classic absolute discount
    y = n[0] / (n[0] + 2 * n[1])
    d = np.array([1 - 2 * y * n[1] / n[0], 2 - 3 * y * n[2] / n[1], 3 - 4 * y * n[3] / n[2]])
    return np.clip(d, 0.05, np.array([1.0, 2.0, 3.0]))


class _Order:
    """One order's counts grouped by context: context codes, slice bounds, totals and γ numerators."""

    def __init__(self, codes: np.ndarray, counts: np.ndarray, discounts: np.ndarray, vocab: int):
        self.codes, self.counts, self.d = codes, counts.astype(np.float64), discounts
        self.words = codes % vocab
        ctx = codes // vocab
        self.ctx, start = np.unique(ctx, return_index=True)
        self.start = start
        self.end = np.append(start[1:], len(codes))
        self.disc = self.d[np.minimum(counts, 3) - 1]  # discount of every k-gram
        self.total = np.add.reduceat(self.counts, start) if len(codes) else np.zeros(0)
        self.gamma_num = np.add.reduceat(self.disc, start) if len(codes) else np.zeros(0)


@register_model("text/ngram")
class KneserNeyLM(TextLanguageModel):
    """Interpolated modified Kneser–Ney n-gram model over the tokenizer's ids (fitted in closed form)."""

    config_class = NGramConfig
    description = "Kneser-Ney n-gram baseline (counted, not trained)"
    fits_in_closed_form = True
    config: NGramConfig

    def __init__(self, config: NGramConfig):
        super().__init__(config)
        sizes = config.table_sizes or [0] * config.order
        for k, size in enumerate(sizes, start=1):
            self.register_buffer(f"codes_{k}", torch.zeros(size, dtype=torch.long))
            self.register_buffer(f"counts_{k}", torch.zeros(size, dtype=torch.long))
        self.register_buffer("discounts", torch.full((config.order, 3), 0.75, dtype=torch.float64))
        self._orders: list[_Order] | None = None

    @property
    def max_context(self) -> int | None:
        return self.config.order - 1

    # --- fitting ----------------------------------------------------------------
    def fit(self, train_dataset: Any, val_dataset: Any | None = None) -> dict[str, float]:
        """Count the training token stream (``train_dataset.tokens``); report validation loss."""
        tokens = np.asarray(train_dataset.tokens, dtype=np.int64)
        v, n = self.config.vocab_size, self.config.order
        if float(v) ** n >= 2.0**62:
            raise ConfigError(f"order {n} with {v} tokens overflows the 64-bit n-gram codes", "lower model.order")
        codes = [self._codes(tokens, k) for k in range(1, n + 1)]
        tables: list[tuple[np.ndarray, np.ndarray]] = []
        for k in range(1, n + 1):
            if k == n:
                table = np.unique(codes[k - 1], return_counts=True)
            else:  # continuation counts: distinct left extensions of each k-gram
                longer = np.unique(codes[k])
                table = np.unique(longer % v**k, return_counts=True)
            tables.append(table)
        for k, (c, cnt) in enumerate(tables, start=1):
            setattr(self, f"codes_{k}", torch.from_numpy(c.astype(np.int64)))
            setattr(self, f"counts_{k}", torch.from_numpy(cnt.astype(np.int64)))
            self.discounts[k - 1] = torch.from_numpy(_discounts(cnt))
        self.config.table_sizes = [len(c) for c, _ in tables]
        self._orders = None
        metrics = {"train_tokens": float(len(tokens)), "ngrams": float(sum(self.config.table_sizes))}
        if val_dataset is not None and len(val_dataset.tokens) > 1:
            nll, count = self.sequence_nll(val_dataset.tokens)
            metrics["val_loss"] = nll / count
        return metrics

    def _codes(self, tokens: np.ndarray, k: int) -> np.ndarray:
        """Codes of every k-gram in the stream, (len - k + 1,)."""
        if len(tokens) < k:
            return np.zeros(0, dtype=np.int64)
        windows = np.lib.stride_tricks.sliding_window_view(tokens, k)
        powers = self.config.vocab_size ** np.arange(k - 1, -1, -1, dtype=np.int64)
        return windows @ powers

    def _tables(self) -> list[_Order]:
        if self._orders is None:
            v = self.config.vocab_size
            self._orders = [
                _Order(
                    getattr(self, f"codes_{k}").cpu().numpy(),
                    getattr(self, f"counts_{k}").cpu().numpy(),
                    self.discounts[k - 1].cpu().numpy(),
                    v,
                )
                for k in range(1, self.config.order + 1)
            ]
        return self._orders

    # --- probabilities ------------------------------------------------------------
    def distribution(self, history: list[int]) -> np.ndarray:
        """p(· | history) over the vocabulary, (V,) float64 summing to 1."""
        v = self.config.vocab_size
        p = np.full(v, 1.0 / v)
        for k, order in enumerate(self._tables(), start=1):
            if k - 1 > len(history):
                break
            ctx = 0
            for t in history[len(history) - (k - 1) :] if k > 1 else []:
                ctx = ctx * v + t
            i = np.searchsorted(order.ctx, ctx)
            if i >= len(order.ctx) or order.ctx[i] != ctx:
                continue  # unseen context: all mass goes to the lower order
            s, e, total = order.start[i], order.end[i], order.total[i]
            lower = p
            p = lower * (order.gamma_num[i] / total)
            np.add.at(p, order.words[s:e], np.maximum(order.counts[s:e] - order.disc[s:e], 0.0) / total)
        return p

    @torch.no_grad()
    def sequence_nll(self, ids: Any, batch_size: int = 0) -> tuple[float, int]:
        """Total NLL (nats) of every id after the first in a 1-D stream, each given up to n-1 previous ids."""
        tokens = np.asarray(ids.cpu() if isinstance(ids, torch.Tensor) else ids, dtype=np.int64)
        v = self.config.vocab_size
        targets = tokens[1:]
        p = np.full(len(targets), 1.0 / v)
        for k, order in enumerate(self._tables(), start=1):
            if len(order.ctx) == 0 or len(tokens) < k:
                continue
            grams = self._codes(tokens, k)  # gram j ends at token j + k - 1, i.e. target index j + k - 2
            pos = np.arange(len(grams)) + k - 2
            keep = pos >= 0
            grams, pos = grams[keep], pos[keep]
            ctx = grams // v
            i = np.clip(np.searchsorted(order.ctx, ctx), 0, len(order.ctx) - 1)
            seen = order.ctx[i] == ctx
            j = np.clip(np.searchsorted(order.codes, grams), 0, len(order.codes) - 1)
            found = seen & (order.codes[j] == grams)
            total = np.where(seen, order.total[i], 1.0)
            own = np.where(found, np.maximum(order.counts[j] - order.disc[j], 0.0), 0.0) / total
            mixed = own + np.where(seen, order.gamma_num[i] / total, 1.0) * p[pos]
            p[pos] = np.where(seen, mixed, p[pos])
        return float(-np.log(np.maximum(p, 1e-300)).sum()), int(len(targets))

    def logits(self, ids: torch.Tensor) -> torch.Tensor:
        """Log-probabilities (B, T, V) of the next token at every position (slow; for tests and checks)."""
        rows = []
        for row in ids.tolist():
            rows.append([np.log(self.distribution(row[: t + 1])) for t in range(len(row))])
        return torch.tensor(np.array(rows), dtype=torch.float32)

    # --- incremental decoding -------------------------------------------------------
    def init_state(self, batch: int, use_cache: bool = True) -> list[list[int]]:
        return [[] for _ in range(batch)]

    def step(self, ids: torch.Tensor, state: list[list[int]]) -> tuple[torch.Tensor, list[list[int]]]:
        keep = self.config.order - 1
        state = [(hist + row)[-keep:] if keep else [] for hist, row in zip(state, ids.tolist(), strict=True)]
        probs = np.stack([self.distribution(h) for h in state])
        return torch.from_numpy(np.log(np.maximum(probs, 1e-300))).float(), state

    def reorder_state(self, state: list[list[int]], index: torch.Tensor) -> list[list[int]]:
        return [list(state[i]) for i in index.tolist()]
