"""``text/gru-attention``: the recurrent encoder–decoder with global attention (Luong et al. 2015).

Encoder: the shared token embedding, then a bidirectional GRU over the source (:class:`BidirectionalGRU`:
padding is never read), ``hidden_size / 2`` units per direction: its outputs h_i have ``hidden_size`` features.
Bridge: the decoder starts from ``tanh(W [h→_n; h←_1])``, the encoder's final states of each layer (both directions).
Decoder: a GRU over the target input ids, run over the whole target in one call when training (no input
feeding, so the attention cannot change the GRU's inputs). Attention after the GRU (Luong et al. 2015,
"Effective Approaches to Attention-based Neural Machine Translation", global attention): weights a_t =
softmax over the source of score(s_t, h_i), padding masked, context c_t = Σ_i a_t,i h_i, attentional state
h̃_t = tanh(W_c [c_t; s_t]), logits = W_o h̃_t + b. Scores (``attention``): ``dot`` s·h, ``general`` s·W_a h,
``additive`` v·tanh(W h + U s) (Bahdanau et al. 2015). With ``tie_embeddings`` h̃_t has ``embedding_size``
features and W_o is the embedding matrix (Press & Wolf 2017); source and target share the embedding (one
vocabulary). Training minimises label-smoothed cross-entropy (:func:`~.base.smoothed_cross_entropy`).

:class:`RecurrentSeq2Seq` holds what the pointer-generator (:mod:`.pointer`) shares: encoder, bridge,
decoder with optional coverage, incremental decoding (:class:`RecurrentConditioned`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
from pydantic import Field
from torch import nn

from genlab.core.model import register_model
from genlab.text.seq2seq.base import EncoderDecoderConfig, EncoderDecoderModel, smoothed_cross_entropy, source_rows

AttentionKind = Literal["additive", "general", "dot"]
ADDITIVE_CHUNK = 1 << 20  # elements of additive attention's hidden layer computed at once


class RecurrentSeq2SeqConfig(EncoderDecoderConfig):
    """Sizes (small enough for CPU summarization), attention score, dropout and tying of the GRU encoder–decoder."""

    embedding_size: int = Field(128, ge=4, le=4096, description="token embedding size (shared by source and target)")
    hidden_size: int = Field(
        256, ge=4, le=8192, multiple_of=2, description="decoder GRU units; each encoder direction has half"
    )
    n_layers: int = Field(1, ge=1, le=8, description="GRU layers of the encoder and of the decoder")
    attention: AttentionKind = Field(
        "general", description="attention score: additive (Bahdanau), general (s·W h) or dot (s·h), Luong 2015"
    )
    attention_size: int = Field(128, ge=1, le=8192, description="hidden units of the additive attention score")
    dropout: float = Field(0.1, ge=0.0, lt=1.0, description="dropout on embeddings, encoder outputs, readout")
    tie_embeddings: bool = Field(
        True, description="output projection = embedding matrix (the attentional state then has embedding_size)"
    )
    lr: float = Field(1e-3, gt=0, description="Adam learning rate")
    betas: tuple[float, float] = Field((0.9, 0.999), description="Adam betas")


@dataclass
class Memory:
    """Encoded sources: encoder outputs (B, S, H), their attention keys (B, S, K), mask (B, S), ids (B, S)."""

    states: torch.Tensor
    keys: torch.Tensor
    mask: torch.Tensor
    src: torch.Tensor

    def select(self, rows: torch.Tensor) -> Memory:
        """The sources of batch rows ``rows``."""
        return Memory(*(t.index_select(0, rows) for t in (self.states, self.keys, self.mask, self.src)))


@dataclass
class DecoderOutput:
    """The decoder over T target input ids: GRU states s (B, T, H), contexts c (B, T, H), attention (B, T, S),
    embedded inputs x (B, T, E), the final GRU state (L, B, H), the coverage after the last position (B, S)
    and the coverage loss Σ_i min(a_t,i, c_t,i) of each position (B, T) (both None without coverage)."""

    states: torch.Tensor
    context: torch.Tensor
    weights: torch.Tensor
    inputs: torch.Tensor
    hidden: torch.Tensor
    coverage: torch.Tensor | None = None
    coverage_loss: torch.Tensor | None = None


class GlobalAttention(nn.Module):
    """Attention of decoder states over encoder outputs, padding masked (Luong et al. 2015, global).

    Scores: ``dot`` s·h, ``general`` s·W_a h, ``additive`` v·tanh(W h + U s + b) with a hidden layer of
    ``attention_size`` units, which with ``coverage`` gets the coverage feature w_c·c_i inside the tanh
    (See et al. 2017, eq. 11). The key of each h (h, W_a h or W h) is computed once per source (:meth:`keys`).
    """

    def __init__(self, kind: AttentionKind, size: int, attention_size: int, coverage: bool = False):
        super().__init__()
        if coverage and kind != "additive":
            raise ValueError("the coverage feature enters additive attention only")
        self.kind = kind
        if kind == "general":
            self.key = nn.Linear(size, size, bias=False)
        elif kind == "additive":
            self.key = nn.Linear(size, attention_size, bias=False)
            self.query = nn.Linear(size, attention_size)
            self.v = nn.Linear(attention_size, 1, bias=False)
            self.cover = nn.Parameter(torch.zeros(attention_size)) if coverage else None  # w_c

    def keys(self, states: torch.Tensor) -> torch.Tensor:
        """Keys (B, S, K) of encoder outputs (B, S, H)."""
        return states if self.kind == "dot" else self.key(states)

    def forward(
        self, queries: torch.Tensor, memory: Memory, coverage: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Weights (B, T, S) and contexts (B, T, H) of decoder states ``queries`` (B, T, H); ``coverage``
        (B, T, S): the attention summed over the earlier positions of each query."""
        if self.kind == "additive":
            scores = self._additive_scores(self.query(queries), memory.keys, coverage)
        else:
            scores = queries @ memory.keys.transpose(1, 2)  # (B, T, H) x (B, H, S) -> (B, T, S)
        scores = scores.masked_fill(~memory.mask[:, None, :], float("-inf"))
        weights = scores.softmax(-1)
        return weights, weights @ memory.states

    def _additive_scores(
        self, queries: torch.Tensor, keys: torch.Tensor, coverage: torch.Tensor | None
    ) -> torch.Tensor:
        """v·tanh(k_i + q_t [+ w_c c_t,i]) (B, T, S), a few target positions at a time: the hidden layer
        (B, T, S, A) is the largest tensor of the model, and smaller pieces stay in the CPU's caches."""
        batch, length, width = keys.shape
        step = max(1, ADDITIVE_CHUNK // (batch * length * width))
        pieces = []
        for t in range(0, queries.shape[1], step):
            hidden = keys[:, None] + queries[:, t : t + step, None]  # (B, t, S, A)
            if coverage is not None:
                hidden = hidden + coverage[:, t : t + step, :, None] * self.cover
            pieces.append(self.v(torch.tanh(hidden)).squeeze(-1))
        return torch.cat(pieces, 1) if len(pieces) > 1 else pieces[0]


class BidirectionalGRU(nn.Module):
    """A stack of bidirectional GRU layers over right-padded sequences that never reads the padding.

    The backward direction runs a forward GRU over each sequence reversed within its own length (the
    padding stays at the end), so its state at a real position has seen only the real tokens after it;
    the forward direction's padding comes after every real position. Unlike a packed sequence this keeps
    the GRU's input a plain tensor, whose backward pass on a CPU is linear in the length (a packed one
    re-fills a gradient of the whole input at every time step).
    """

    def __init__(self, input_size: int, size: int, layers: int, dropout: float):
        super().__init__()
        sizes = [input_size] + [2 * size] * (layers - 1)
        self.forward_layers = nn.ModuleList(nn.GRU(n, size, batch_first=True) for n in sizes)
        self.backward_layers = nn.ModuleList(nn.GRU(n, size, batch_first=True) for n in sizes)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs (B, S, E) with each row's length (B,) → outputs (B, S, 2·size), the forward and backward
        states side by side, and each layer's final states (L, B, 2·size): the forward one after the last
        real token, the backward one after the first."""
        positions = torch.arange(x.shape[1], device=x.device)[None]  # (1, S)
        last = (lengths - 1)[:, None]  # (B, 1)
        reverse = torch.where(positions <= last, last - positions, positions)  # (B, S): its own inverse
        finals = []
        for i, (forward, backward) in enumerate(zip(self.forward_layers, self.backward_layers, strict=True)):
            if i:
                x = self.drop(x)
            ahead, _ = forward(x)
            behind, _ = backward(_gather_time(x, reverse))
            behind = _gather_time(behind, reverse)
            final_ahead = _gather_time(ahead, last).squeeze(1)  # (B, size)
            finals.append(torch.cat([final_ahead, behind[:, 0]], -1))
            x = torch.cat([ahead, behind], -1)
        return x, torch.stack(finals)


def _gather_time(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Rows of ``x`` (B, S, C) at time steps ``index`` (B, S') of each batch row: (B, S', C)."""
    return x.gather(1, index[..., None].expand(-1, -1, x.shape[-1]))


class RecurrentSeq2Seq(EncoderDecoderModel):
    """Bidirectional GRU encoder, bridge, GRU decoder with global attention, Luong readout; subclasses choose
    what :meth:`scores` returns from the decoder's output (vocabulary logits here, a copy mixture in the
    pointer-generator) and whether the attention keeps a coverage vector."""

    config_class = RecurrentSeq2SeqConfig
    tasks: ClassVar[tuple[str, ...]] = ("seq2seq", "summarization", "dialogue")
    config: RecurrentSeq2SeqConfig

    def __init__(self, config: RecurrentSeq2SeqConfig):
        super().__init__(config)
        c = config
        self.embedding = nn.Embedding(self.n_ids, c.embedding_size)
        gru_dropout = c.dropout if c.n_layers > 1 else 0.0
        self.encoder = BidirectionalGRU(c.embedding_size, c.hidden_size // 2, c.n_layers, c.dropout)
        self.bridge = nn.Linear(c.hidden_size, c.hidden_size)
        self.decoder = nn.GRU(c.embedding_size, c.hidden_size, c.n_layers, batch_first=True, dropout=gru_dropout)
        self.attention = GlobalAttention(c.attention, c.hidden_size, c.attention_size, coverage=self.uses_coverage)
        readout = c.embedding_size if c.tie_embeddings else c.hidden_size
        self.combine = nn.Linear(2 * c.hidden_size, readout, bias=False)  # W_c of h̃ = tanh(W_c [c; s])
        self.out = nn.Linear(readout, self.n_ids)
        if c.tie_embeddings:
            self.out.weight = self.embedding.weight
        self.drop = nn.Dropout(c.dropout)
        # small embeddings: with tying they are also the output weights, and N(0, 1) would start peaked
        nn.init.normal_(self.embedding.weight, std=0.1)

    @property
    def uses_coverage(self) -> bool:
        """Whether the attention keeps a coverage vector (the pointer-generator's ``coverage``)."""
        return False

    # --- encoder --------------------------------------------------------------------
    def encode(self, src: torch.Tensor) -> tuple[Memory, torch.Tensor]:
        """Source ids (B, S) → the encoded sources and the decoder's initial state (L, B, H)."""
        if src.shape[1] > self.config.max_source_length:
            raise ValueError(f"source of {src.shape[1]} tokens is longer than max_source_length")
        mask = src != self.pad_id
        mask[:, 0] |= ~mask.any(1)  # a source of no tokens (an empty text) reads one padding symbol
        states, final = self.encoder(self.drop(self.embedding(src)), mask.sum(1))  # (B, S, H), (L, B, H)
        hidden = torch.tanh(self.bridge(final))
        states = self.drop(states)
        return Memory(states, self.attention.keys(states), mask, src), hidden

    # --- decoder --------------------------------------------------------------------
    def decode(
        self, ids: torch.Tensor, memory: Memory, hidden: torch.Tensor, coverage: torch.Tensor | None = None
    ) -> DecoderOutput:
        """Run the decoder over target input ids (B, T) from GRU state ``hidden`` (L, B, H) and, with
        coverage, the attention summed so far (B, S). The GRU runs over all T ids at once; with coverage
        the attention goes position by position, each seeing the attention of the positions before."""
        inputs = self.drop(self.embedding(ids))
        states, hidden = self.decoder(inputs, hidden.contiguous())  # (B, T, H), (L, B, H)
        if coverage is None:
            weights, context = self.attention(states, memory)
            return DecoderOutput(states, context, weights, inputs, hidden)
        weights, losses = [], []
        for t in range(ids.shape[1]):
            a, _ = self.attention(states[:, t : t + 1], memory, coverage[:, None])  # (B, 1, S)
            a = a[:, 0]
            losses.append(torch.minimum(a, coverage).sum(-1))  # See et al. 2017, eq. 12
            coverage = coverage + a
            weights.append(a)
        weights_t = torch.stack(weights, 1)  # (B, T, S)
        context = weights_t @ memory.states
        return DecoderOutput(states, context, weights_t, inputs, hidden, coverage, torch.stack(losses, 1))

    def initial_coverage(self, memory: Memory) -> torch.Tensor | None:
        """Zero coverage (B, S) when the attention keeps one, else None."""
        return memory.mask.new_zeros(memory.mask.shape, dtype=memory.states.dtype) if self.uses_coverage else None

    def readout(self, out: DecoderOutput) -> torch.Tensor:
        """Vocabulary logits (B, T, V + 3) from the attentional state h̃ = tanh(W_c [c; s]) (Luong et al. 2015)."""
        attentional = torch.tanh(self.combine(torch.cat([out.context, out.states], -1)))
        return self.out(self.drop(attentional))

    def scores(self, out: DecoderOutput, memory: Memory) -> torch.Tensor:
        """What decoding chooses from, (B, T, V + 3): the vocabulary logits (the pointer-generator: log P)."""
        return self.readout(out)

    def teacher_forced(self, src: torch.Tensor, tgt_in: torch.Tensor) -> tuple[torch.Tensor, DecoderOutput]:
        """Scores (B, T, V + 3) of every target input position (B, T) given the sources (B, S), and the decoder
        output they come from."""
        memory, hidden = self.encode(src)
        out = self.decode(tgt_in, memory, hidden, self.initial_coverage(memory))
        return self.scores(out, memory), out

    def logits(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Next-token scores (B, T, V + 3) of the target input ids (B, T) given the source ids (B, S)."""
        return self.teacher_forced(src, tgt_in)[0]

    # --- training ----------------------------------------------------------------------
    def training_losses(self, batch: Any, group: str) -> dict[str, torch.Tensor]:
        """Label-smoothed cross-entropy (``loss``) and plain NLL per target token (``nll``) of a batch
        ``(source ids (B, S), target ids (B, T + 2))``, the targets framed as ``bos … eos`` and both padded."""
        src, tgt = self.pairs_batch(batch)
        scores, _ = self.teacher_forced(src, tgt[:, :-1])
        loss, nll = smoothed_cross_entropy(scores, tgt[:, 1:], self.config.label_smoothing, self.pad_id)
        return {"loss": loss, "nll": nll}

    # --- generation ----------------------------------------------------------------------
    def conditioned(self, src: torch.Tensor) -> RecurrentConditioned:
        """The decoder bound to the encoded sources ``src`` (B, S): the interface of :mod:`genlab.text.decoding`."""
        memory, hidden = self.encode(src.to(self.device))
        return RecurrentConditioned(self, memory, hidden)


@register_model("text/gru-attention")
class GRUAttentionSeq2Seq(RecurrentSeq2Seq):
    """Bidirectional-GRU encoder, GRU decoder with global attention (Luong et al. 2015), tied embeddings."""

    description = "GRU encoder-decoder with global attention (additive/general/dot, Luong 2015), beam search"


@dataclass
class RecurrentState:
    """Decoding state of each row: the GRU state (L, B, H), the row's encoded source and its coverage (B, S)."""

    hidden: torch.Tensor
    memory: Memory
    coverage: torch.Tensor | None


class RecurrentConditioned(nn.Module):
    """The decoder of a :class:`RecurrentSeq2Seq` bound to encoded sources, with the incremental interface of
    :mod:`genlab.text.decoding` (``init_state`` / ``step`` / ``reorder_state``). The GRU state carries the whole
    target so far, so every step feeds only the new ids (``use_cache`` changes nothing). One source can be
    decoded as several rows (beams, samples)."""

    max_context = None  # the recurrent state holds the whole target so far

    def __init__(self, model: RecurrentSeq2Seq, memory: Memory, hidden: torch.Tensor):
        super().__init__()
        self.model = model
        self.memory, self.hidden = memory, hidden

    def init_state(self, batch: int, use_cache: bool = True) -> RecurrentState:
        rows = source_rows(batch, self.memory.src.shape[0], self.memory.src.device)
        memory = self.memory.select(rows)
        return RecurrentState(self.hidden.index_select(1, rows), memory, self.model.initial_coverage(memory))

    def step(self, ids: torch.Tensor, state: RecurrentState) -> tuple[torch.Tensor, RecurrentState]:
        m = self.model
        out = m.decode(ids.to(state.hidden.device), state.memory, state.hidden, state.coverage)
        return m.scores(out, state.memory)[:, -1], RecurrentState(out.hidden, state.memory, out.coverage)

    def reorder_state(self, state: RecurrentState, index: torch.Tensor) -> RecurrentState:
        index = index.to(state.hidden.device)
        coverage = None if state.coverage is None else state.coverage.index_select(0, index)
        return RecurrentState(state.hidden.index_select(1, index), state.memory.select(index), coverage)


__all__ = [
    "BidirectionalGRU", "DecoderOutput", "GRUAttentionSeq2Seq", "GlobalAttention", "Memory", "RecurrentConditioned",
    "RecurrentSeq2Seq", "RecurrentSeq2SeqConfig", "RecurrentState",
]  # fmt: skip
