"""``music/markov``: the n-gram (Markov-chain) baseline over music tokens, fitted by counting.

The text modality's interpolated modified Kneser–Ney model (:class:`genlab.text.ngram.KneserNeyLM`, Chen &
Goodman 1998) over the music tokenizer's ids: a Markov chain of order n - 1 whose probabilities are smoothed by
interpolating every order down to the uniform distribution. The order is chosen on the validation pieces: every
n in 1..``max_order`` is counted on the training token stream and the one with the lowest validation NLL per token
is kept (with no validation pieces, ``max_order`` is kept). Fitting is closed form (``fits_in_closed_form``): the
trainer calls :meth:`MusicMarkov.fit` once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from pydantic import Field, model_validator

from genlab.core.model import register_model
from genlab.music.models import KeyPriorConfig, MusicLanguageModel
from genlab.text.ngram import KneserNeyLM, NGramConfig

#: Log-probability taken from a token never seen after the previous one when sampling (e^-50: never drawn while
#: a seen token is allowed).
UNSEEN_PENALTY = 50.0


class MusicMarkovConfig(NGramConfig, KeyPriorConfig):
    """Largest order tried; ``order`` is the one fitting chose (set by fitting)."""

    order: int = Field(3, ge=1, le=12, description="n of the fitted model (chosen on validation NLL by fitting)")
    max_order: int = Field(6, ge=1, le=12, description="orders 1..max_order are tried; the best on validation wins")
    block_size: int = Field(512, ge=2, le=65536, description="longest training row in tokens (set from the data)")

    @model_validator(mode="after")
    def _order_within_max(self) -> MusicMarkovConfig:
        if self.order > self.max_order:
            object.__setattr__(self, "max_order", self.order)
        return self


@register_model("music/markov")
class MusicMarkov(MusicLanguageModel, KneserNeyLM):
    """Kneser–Ney smoothed n-gram over music tokens, order chosen on validation NLL (counted, not trained)."""

    config_class = MusicMarkovConfig
    description = "Markov-chain (Kneser-Ney n-gram) baseline over music tokens, order chosen on validation"
    config: MusicMarkovConfig

    def fit(self, train_dataset: Any, val_dataset: Any | None = None) -> dict[str, float]:
        """Count every order 1..max_order on ``train_dataset.tokens``, keep the best on ``val_dataset.tokens``."""
        has_val = val_dataset is not None and len(val_dataset.tokens) > 1
        best_order, best_loss, losses = self.config.max_order, float("inf"), {}
        if has_val:
            for order in range(1, self.config.max_order + 1):
                trial = type(self)(self.config.model_copy(update={"order": order, "table_sizes": []}))
                loss = trial._fit_order(train_dataset, val_dataset)["val_loss"]
                losses[order] = loss
                if loss < best_loss:
                    best_order, best_loss = order, loss
        metrics = self._fit_order(train_dataset, val_dataset if has_val else None, best_order)
        metrics["order"] = float(best_order)
        metrics.update({f"val_loss_order_{k}": v for k, v in losses.items()})
        return metrics

    def _fit_order(self, train_dataset: Any, val_dataset: Any | None, order: int | None = None) -> dict[str, float]:
        """Count the n-grams of ``order`` (default: the config's) into this model's buffers."""
        old = self.config.order
        order = order or old
        for k in range(order + 1, old + 1):  # tables of orders the model no longer has
            for name in (f"codes_{k}", f"counts_{k}"):
                if hasattr(self, name):
                    delattr(self, name)
        for k in range(old + 1, order + 1):
            self.register_buffer(f"codes_{k}", torch.zeros(0, dtype=torch.long))
            self.register_buffer(f"counts_{k}", torch.zeros(0, dtype=torch.long))
        self.discounts = torch.full((order, 3), 0.75, dtype=torch.float64)
        self.config.order = order
        return KneserNeyLM.fit(self, train_dataset, val_dataset)

    def step(self, ids: torch.Tensor, state: list[list[int]]) -> tuple[torch.Tensor, list[list[int]]]:
        """Next-token log-probabilities for sampling: the smoothed distribution restricted to the tokens seen after
        the previous token in training. Smoothing gives every token some mass (right for scoring), but a sampled
        token never seen in that place (a pitch after a pitch, a bar line inside a note) breaks the token grammar
        the decoder reads; the restriction keeps a sample to transitions the data has."""
        logp, state = KneserNeyLM.step(self, ids, state)
        if self.config.order < 2:
            return logp, state
        bigrams = self._tables()[1]
        for b, history in enumerate(state):
            if not history:
                continue
            i = np.searchsorted(bigrams.ctx, history[-1])
            if i < len(bigrams.ctx) and bigrams.ctx[i] == history[-1]:
                allowed = torch.from_numpy(bigrams.words[bigrams.start[i] : bigrams.end[i]])
                row = logp[b] - UNSEEN_PENALTY  # finite, so a constraint that masks every seen token still samples
                row[allowed] = logp[b, allowed]
                logp[b] = row - torch.logsumexp(row, 0)
        return logp, state

    def logits(self, ids: torch.Tensor) -> torch.Tensor:
        """Log-probabilities (B, T, V) of the next token at every position."""
        return KneserNeyLM.logits(self, ids.cpu())

    @torch.no_grad()
    def token_nll(self, ids: torch.Tensor) -> torch.Tensor:
        """Summed NLL in nats (B,) of each row's ids after the first, ``<pad>`` left out (each token given up to
        ``order - 1`` earlier ones of its row)."""
        pad = self.tokenizer.pad_id
        out = []
        for row in ids.long().cpu().tolist():
            row = [t for t in row if t != pad]
            out.append(self.sequence_nll(row)[0] if len(row) > 1 else 0.0)
        return torch.tensor(out, dtype=torch.float32)
