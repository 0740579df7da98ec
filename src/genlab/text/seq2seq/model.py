"""``text/transformer-seq2seq``: an encoder–decoder transformer (Vaswani et al. 2017) for text pairs.

The encoder is a bidirectional :class:`~genlab.nn.transformer.Transformer` over the source, the decoder a
:class:`~genlab.nn.transformer.TransformerDecoder` (causal self-attention, cross-attention, MLP) over the
target; both use rotary positions. One embedding matrix serves the source tokens, the target tokens and
the output projection (three-way weight tying, Press & Wolf 2017). Training minimises label-smoothed
cross-entropy (Szegedy et al. 2016): ``(1 - ε) · NLL + ε · mean over the vocabulary of -log p``, with
ε = ``label_smoothing``; padding positions are left out.

Ids: the tokenizer's ``vocab_size`` text tokens come first, then three symbols the tokenizer lacks:
padding (``pad_id``), start of target (``bos_id``) and end of target (``eos_id``). Decoding feeds
``bos_id`` and stops at ``eos_id``; the decoders of :mod:`genlab.text.decoding` drive the decoder through
:class:`SourceConditioned`, which binds it to the encoded sources.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from genlab.core.errors import BadInputError
from genlab.core.model import ModelConfig, OptimizerSpec, register_model
from genlab.core.seeding import make_generator
from genlab.nn.transformer import DecoderCache, Transformer, TransformerDecoder
from genlab.text.base import TokenizedModel

SPECIAL_TOKENS = 3  # padding, start and end of target, after the tokenizer's ids


class Seq2SeqConfig(ModelConfig):
    """Size, regularisation, lengths and optimiser of an encoder–decoder; the task fills the tokenizer."""

    task: Literal["seq2seq", "summarization", "dialogue"] = Field(
        "seq2seq", description="the task served (set by training)"
    )
    vocab_size: int = Field(0, ge=0, description="text tokens of the tokenizer (set from the data)")
    tokenizer: dict[str, Any] = Field(default_factory=dict, description="the tokenizer, as JSON (set from the data)")
    d_model: int = Field(256, ge=8, le=8192, description="width; a multiple of n_head")
    n_head: int = Field(4, ge=1, le=128, description="attention heads")
    n_encoder_layers: int = Field(3, ge=1, le=64, description="encoder blocks")
    n_decoder_layers: int = Field(3, ge=1, le=64, description="decoder blocks")
    mlp_ratio: float = Field(4.0, gt=0, description="MLP width over d_model")
    dropout: float = Field(0.1, ge=0.0, lt=1.0, description="dropout on embeddings, attention and residuals")
    bias: bool = Field(False, description="biases in Linear and LayerNorm layers")
    label_smoothing: float = Field(0.1, ge=0.0, lt=1.0, description="ε of label-smoothed cross-entropy")
    max_source_length: int = Field(512, ge=1, le=65536, description="source tokens kept (longer ones are cut)")
    keep_source: Literal["start", "end"] = Field(
        "start", description="which end of a longer source is kept: its start (documents) or its end (conversations)"
    )
    max_target_length: int = Field(128, ge=1, le=65536, description="target tokens kept and generated at most")
    lr: float = Field(5e-4, gt=0, description="Adam learning rate")
    betas: tuple[float, float] = Field((0.9, 0.98), description="Adam betas")
    weight_decay: float = Field(0.0, ge=0, description="Adam weight decay")
    schedule: Literal["constant", "cosine"] = Field("cosine", description="learning rate over the run")
    warmup_steps: int = Field(0, ge=0, description="steps of linear learning-rate warm-up at the start (0: none)")


@dataclass
class _RecomputeState:
    """Decoding without a cache: the target ids so far and the source, re-run at every step."""

    ids: torch.Tensor  # (B, T)
    memory: torch.Tensor  # (B, S, C)
    mask: torch.Tensor  # (B, 1, 1, S)


@register_model("text/transformer-seq2seq")
class TransformerSeq2Seq(TokenizedModel):
    """Encoder–decoder transformer: rotary positions, cross-attention, tied embeddings, label smoothing."""

    config_class = Seq2SeqConfig
    task: ClassVar[str] = "seq2seq"
    #: Tasks this model trains for; an instance serves the one recorded in its config.
    tasks: ClassVar[tuple[str, ...]] = ("seq2seq", "summarization", "dialogue")
    description = "encoder-decoder transformer (rotary, cross-attention, tied embeddings, label smoothing, beam search)"
    config: Seq2SeqConfig

    def __init__(self, config: Seq2SeqConfig):
        super().__init__(config)
        self.task = config.task  # the instance's task (seq2seq, summarization, dialogue) shadows the class default
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

    # --- ids and tokenizer ---------------------------------------------------------
    @property
    def pad_id(self) -> int:
        return self.config.vocab_size

    @property
    def bos_id(self) -> int:
        return self.config.vocab_size + 1

    @property
    def eos_id(self) -> int:
        return self.config.vocab_size + 2

    def source_ids(self, texts: list[str]) -> torch.Tensor:
        """Token ids (B, S) of source texts, cut to ``max_source_length`` (at the end ``keep_source`` does not
        keep), right-padded with ``pad_id``."""
        from genlab.text.data import encode_lenient
        from genlab.text.seq2seq.data import cut_source

        c = self.config
        rows = [cut_source(encode_lenient(self.tokenizer, t), c.max_source_length, c.keep_source) for t in texts]
        empty = [i for i, r in enumerate(rows) if not r]
        if empty:
            raise BadInputError(f"source {empty[0] + 1} encodes to no tokens", "give a non-empty source text")
        return pad_rows(rows, self.pad_id)

    def decode_text(self, ids: list[int]) -> str:
        """Text of generated ids (the special symbols left out)."""
        return self.tokenizer.decode([i for i in ids if i < self.config.vocab_size])

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
    def optimizer_groups(self) -> list[OptimizerSpec]:
        c = self.config
        return [
            OptimizerSpec("model", list(self.parameters()), c.lr, c.betas, c.weight_decay, schedule=c.schedule,
                          warmup_steps=c.warmup_steps)
        ]  # fmt: skip

    def training_losses(self, batch: Any, group: str) -> dict[str, torch.Tensor]:
        """Label-smoothed cross-entropy (``loss``) and plain NLL per target token (``nll``) of a batch
        ``(source ids (B, S), target ids (B, T + 2))``, the targets framed as ``bos … eos`` and both padded."""
        src, tgt = (t.to(self.device) for t in batch)
        src, tgt = trim(src, self.pad_id), trim(tgt, self.pad_id)
        logits = self.logits(src, tgt[:, :-1])
        loss, nll = smoothed_cross_entropy(logits, tgt[:, 1:], self.config.label_smoothing, self.pad_id)
        return {"loss": loss, "nll": nll}

    # --- generation -----------------------------------------------------------------------
    def conditioned(self, src: torch.Tensor) -> SourceConditioned:
        """The decoder bound to the encoded sources ``src`` (B, S): the interface of :mod:`genlab.text.decoding`."""
        memory, mask = self.encode(src.to(self.device))
        return SourceConditioned(self, memory, mask)

    @torch.inference_mode()
    def generate_ids(
        self,
        src: torch.Tensor,
        *,
        num_beams: int = 1,
        temperature: float = 0.0,
        top_k: int | None = None,
        top_p: float | None = None,
        length_penalty: float = 1.0,
        no_repeat_ngram: int = 0,
        min_new_tokens: int = 0,
        max_new_tokens: int | None = None,
        seed: int | None = None,
        use_cache: bool = True,
    ) -> list[list[int]]:
        """Target ids (without ``bos``/``eos``) for every source row of ``src`` (B, S).

        ``num_beams > 1``: beam search, scores divided by ``length ** length_penalty`` (Wu et al. 2016);
        else greedy (``temperature == 0``) or sampling (``top_k``/``top_p`` filters, seeded). Every strategy
        can forbid repeated n-grams and end no sooner than ``min_new_tokens`` tokens; none produces
        more than ``max_new_tokens`` (default and cap: ``max_target_length``) tokens.
        """
        from genlab.text.decoding import (
            MinNewTokens,
            NoRepeatNGram,
            SamplingConfig,
            SuppressTokens,
            beam_search,
            generate_until,
        )

        limit = min(max_new_tokens or self.config.max_target_length, self.config.max_target_length)
        max_new = limit + 1  # room for the end symbol
        if min_new_tokens > limit:
            raise BadInputError(f"the minimum length {min_new_tokens} is above the maximum {limit}")
        self.eval()
        processors: list = [SuppressTokens([self.pad_id, self.bos_id])]
        if no_repeat_ngram:
            processors.append(NoRepeatNGram(no_repeat_ngram, skip=1))
        if min_new_tokens:
            processors.append(MinNewTokens(min_new_tokens, self.eos_id, prompt_length=1))
        sampling = SamplingConfig(temperature, top_k, top_p)
        processors += sampling.processors()
        if num_beams > 1:
            out = []
            for row in src:
                decoder = self.conditioned(row[None])
                bos = torch.tensor([[self.bos_id]])
                hyps = beam_search(
                    decoder, bos, num_beams, max_new, processors, lambda new: new[-1] == self.eos_id, length_penalty
                )
                best = hyps[0][0] if hyps else []
                out.append((best[:-1] if best and best[-1] == self.eos_id else best)[:limit])
            return out
        bos = torch.full((src.shape[0], 1), self.bos_id, dtype=torch.long)
        rows = generate_until(
            self.conditioned(src), bos, max_new, self.eos_id, processors, sampling.greedy, make_generator(seed),
            use_cache,
        )  # fmt: skip
        return [r[:limit] for r in rows]

    def generate(self, sources: list[str], **options: Any) -> list[str]:
        """Target texts of ``sources`` (options of :meth:`generate_ids`)."""
        if not sources:
            return []
        return [self.decode_text(ids) for ids in self.generate_ids(self.source_ids(sources), **options)]


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

    def _rows(self, batch: int) -> torch.Tensor:
        if batch == self.memory.shape[0]:
            return torch.arange(batch, device=self.memory.device)
        if self.memory.shape[0] == 1:
            return torch.zeros(batch, dtype=torch.long, device=self.memory.device)
        raise BadInputError(f"cannot decode {batch} targets for {self.memory.shape[0]} sources")

    def init_state(self, batch: int, use_cache: bool = True) -> DecoderCache | _RecomputeState:
        rows = self._rows(batch)
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


def pad_rows(rows: list[list[int]], pad: int, length: int | None = None) -> torch.Tensor:
    """Id lists as a (B, length) long tensor, right-padded with ``pad`` (length: the longest row)."""
    length = length or max(len(r) for r in rows)
    out = torch.full((len(rows), length), pad, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.tensor(r[:length], dtype=torch.long)
    return out


def trim(ids: torch.Tensor, pad: int) -> torch.Tensor:
    """Drop the columns that are padding in every row (batches are padded to the data's maximum length)."""
    real = (ids != pad).any(0).nonzero()
    return ids[:, : int(real[-1]) + 1] if len(real) else ids[:, :1]


def smoothed_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, epsilon: float, ignore: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Label-smoothed cross-entropy and plain NLL, means over the target positions that are not ``ignore``.

    ``logits`` (B, T, V), ``target`` (B, T). With ``q = (1 - ε) · onehot + ε / V`` (Szegedy et al. 2016,
    "Rethinking the Inception Architecture", section 7) the loss is ``-Σ_v q_v log p_v
    = (1 - ε) · NLL + ε · mean_v(-log p_v)``.
    """
    logp = F.log_softmax(logits.float(), dim=-1)
    keep = target != ignore
    safe = target.masked_fill(~keep, 0)
    nll = -logp.gather(-1, safe[..., None]).squeeze(-1)
    uniform = -logp.mean(-1)
    count = keep.sum().clamp(min=1)
    nll_mean = (nll * keep).sum() / count
    smooth_mean = (uniform * keep).sum() / count
    return (1 - epsilon) * nll_mean + epsilon * smooth_mean, nll_mean
