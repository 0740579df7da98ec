"""``text/pointer-generator``: copy words from the source or generate them, with coverage (See et al. 2017).

See, Liu & Manning 2017, "Get To The Point: Summarization with Pointer-Generator Networks". The encoder and
decoder are those of ``text/gru-attention`` (:mod:`.recurrent`; additive attention by default). At every
target position t a generation gate p_gen = σ(w_c·c_t + w_s·s_t + w_x·x_t + b) (context, decoder state,
decoder input embedding) mixes the vocabulary distribution with the attention, copied onto the source's
token ids (eq. 9):

    P(w) = p_gen · P_vocab(w) + (1 − p_gen) · Σ_{i: src_i = w} a_t,i

genlab's BPE tokenizer is byte-level, so any text encodes without unknown tokens and every source token
already has an id in the shared vocabulary: copying scatters the attention onto those ids, and no
extended per-source vocabulary of out-of-vocabulary words is needed (See et al. needed one for their
word vocabulary). Coverage (``coverage``, eq. 10-12): c_t = Σ_{t' < t} a_t' enters the attention score
v·tanh(W h_i + U s_t + w_c c_t,i + b), and the loss adds ``coverage_weight`` · Σ_i min(a_t,i, c_t,i)
per target token, penalising attention to positions already attended (repetition). The attention then
goes position by position; the GRU still runs over the whole target in one call.

Loss: the NLL of the mixture, label-smoothed over the mixture when ``label_smoothing`` > 0, plus the
coverage loss; ``training_losses`` reports ``loss``, ``nll`` and ``coverage``. For decoding, ``step``
returns log P as its "logits": their softmax is P itself, so greedy, sampling and beam search are exact.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn

from genlab.core.model import register_model
from genlab.text.seq2seq.base import smoothed_cross_entropy
from genlab.text.seq2seq.recurrent import (
    AttentionKind,
    DecoderOutput,
    Memory,
    RecurrentSeq2Seq,
    RecurrentSeq2SeqConfig,
)


class PointerGeneratorConfig(RecurrentSeq2SeqConfig):
    """The GRU encoder–decoder's fields, plus coverage; additive attention and no label smoothing by default."""

    attention: AttentionKind = Field(
        "additive", description="attention score: additive (Bahdanau; needed by coverage), general or dot"
    )
    coverage: bool = Field(True, description="coverage vector in the attention and coverage loss (See et al. 2017)")
    coverage_weight: float = Field(1.0, ge=0.0, description="weight λ of the coverage loss")
    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0, description="ε of label smoothing over the final mixture")

    @model_validator(mode="after")
    def _coverage_needs_additive_attention(self) -> PointerGeneratorConfig:
        if self.coverage and self.attention != "additive":
            raise ValueError(
                f"coverage enters the additive attention score; set attention=additive or coverage=false "
                f"(got attention={self.attention})"
            )
        return self


class Mixture(NamedTuple):
    """The final distribution of every position: log P (B, T, V + 3), p_gen (B, T), copy distribution (B, T, V + 3)."""

    logp: torch.Tensor
    p_gen: torch.Tensor
    copy: torch.Tensor


@register_model("text/pointer-generator")
class PointerGenerator(RecurrentSeq2Seq):
    """Pointer-generator network with coverage (See et al. 2017) over a GRU encoder–decoder."""

    config_class = PointerGeneratorConfig
    description = "pointer-generator (copy from the source, coverage; See et al. 2017) GRU encoder-decoder"
    config: PointerGeneratorConfig

    def __init__(self, config: PointerGeneratorConfig):
        super().__init__(config)
        c = config
        self.gate = nn.Linear(2 * c.hidden_size + c.embedding_size, 1)  # p_gen from [c_t; s_t; x_t]

    @property
    def uses_coverage(self) -> bool:
        return self.config.coverage

    def mixture(self, out: DecoderOutput, memory: Memory) -> Mixture:
        """The final distribution P = p_gen · P_vocab + (1 − p_gen) · copy, computed in log space."""
        vocab_logp = F.log_softmax(self.readout(out).float(), dim=-1)  # (B, T, V + 3)
        gate = self.gate(torch.cat([out.context, out.states, out.inputs], -1)).squeeze(-1).float()  # (B, T)
        weights = out.weights.float()
        index = memory.src[:, None, :].expand(-1, weights.shape[1], -1)  # (B, T, S): the id at each position
        copy = vocab_logp.new_zeros(vocab_logp.shape).scatter_add_(2, index, weights)
        # log of the copy distribution, -inf where nothing is copied (the clamp keeps its gradient finite)
        copy_logp = torch.where(copy > 0, copy.clamp_min(torch.finfo(copy.dtype).tiny).log(), float("-inf"))
        logp = torch.logaddexp(
            F.logsigmoid(gate)[..., None] + vocab_logp, F.logsigmoid(-gate)[..., None] + copy_logp
        )  # log σ(g) = log p_gen, log σ(-g) = log(1 - p_gen)
        return Mixture(logp, torch.sigmoid(gate), copy)

    def scores(self, out: DecoderOutput, memory: Memory) -> torch.Tensor:
        """log P (B, T, V + 3) of the final mixture: logits whose softmax is P."""
        return self.mixture(out, memory).logp

    def training_losses(self, batch: Any, group: str) -> dict[str, torch.Tensor]:
        """NLL of the mixture (``nll``), label-smoothed over the mixture if asked, plus ``coverage_weight`` ×
        the coverage loss (``coverage``, mean over target tokens; 0 without coverage): ``loss``."""
        src, tgt = self.pairs_batch(batch)
        logp, out = self.teacher_forced(src, tgt[:, :-1])
        target = tgt[:, 1:]
        loss, nll = smoothed_cross_entropy(logp, target, self.config.label_smoothing, self.pad_id)
        if out.coverage_loss is None:
            coverage = loss.new_zeros(())
        else:
            keep = target != self.pad_id
            coverage = (out.coverage_loss * keep).sum() / keep.sum().clamp(min=1)
        return {"loss": loss + self.config.coverage_weight * coverage, "nll": nll, "coverage": coverage}


__all__ = ["Mixture", "PointerGenerator", "PointerGeneratorConfig"]
