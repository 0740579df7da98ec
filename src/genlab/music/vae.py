"""``music/music-vae``: a recurrent variational autoencoder of 2–4-bar phrases (after MusicVAE, Roberts et al. 2018,
"A Hierarchical Latent Vector Model for Learning Long-Term Structure in Music", ICML).

What is built (the flat model of the paper's 2-bar experiments, over REMI / melody tokens instead of its 90-class
one-hot events):

* Encoder: token embeddings → a two-layer bidirectional LSTM over the phrase's tokens ``<bos> … <eos>``; the last
  states of both directions → the mean μ and log-variance log σ² of q(z | x), ``latent_dim`` dimensions.
* Decoder: an LSTM whose initial states are ``tanh(W z + b)`` and whose input at every step is the previous token's
  embedding concatenated with z; teacher-forced in training. Word dropout (Bowman et al. 2016) replaces a fraction
  of the teacher-forced inputs by ``<pad>`` so the decoder must read z. The paper's hierarchical "conductor"
  (one embedding per bar feeding a bottom decoder) is not built: it matters for 16-bar sequences, and the phrases
  here are ``phrase_bars`` (2–4) bars.

Loss per phrase (batch mean): ``reconstruction + β(step) · max(KL − free_bits, 0)``: the reconstruction is the summed
token cross-entropy (nats), β rises linearly from 0 to ``beta`` over ``kl_warmup_steps`` (KL annealing, Bowman et al.
2016), and the KL is not penalised below ``free_bits`` nats (the paper's free bits τ, Kingma et al. 2016), which
with the annealing keeps the posterior from collapsing. The reported ``kl`` is the true KL.

Uses: :meth:`MusicVAE.encode` pieces to latents, :meth:`MusicVAE.decode` latents to pieces, :meth:`MusicVAE.interpolate`
two phrases along the great circle between their latents (spherical interpolation, as the paper), and
:meth:`MusicVAE.attribute_vector` — the mean latent of phrases with an attribute minus that of phrases without it
(the paper's attribute vectors, §5.3), e.g. :func:`note_density` above or below its median.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from genlab.core.errors import BadInputError
from genlab.core.model import GenerativeModel, ModelConfig, OptimizerSpec, register_model
from genlab.music.models import TASK, check_sampling, music_tokenizer_from_dict, prefix_tensor, sampling_processors
from genlab.music.notes import Piece
from genlab.text.decoding import LogitsProcessor, generate_until


class MusicVAEConfig(ModelConfig):
    """Sizes of the phrase VAE and the weights of its loss terms."""

    vocab_size: int = Field(0, ge=0, description="number of token ids (set from the tokenizer)")
    tokenizer: dict[str, Any] = Field(default_factory=dict, description="the tokenizer, as JSON (set from the data)")
    phrase_bars: int = Field(2, ge=1, le=8, description="bars per phrase (MusicVAE: 2; 2–4 here)")
    max_length: int = Field(256, ge=3, le=8192, description="most tokens of a phrase, <bos>/<eos> included (from data)")
    latent_dim: int = Field(64, ge=1, le=1024, description="size of the latent code z")
    embedding_dim: int = Field(64, ge=4, le=1024, description="token embedding size")
    encoder_hidden: int = Field(256, ge=4, le=4096, description="hidden size of each direction of the encoder LSTM")
    encoder_layers: int = Field(2, ge=1, le=4, description="layers of the bidirectional encoder LSTM")
    decoder_hidden: int = Field(256, ge=4, le=4096, description="hidden size of the decoder LSTM")
    decoder_layers: int = Field(2, ge=1, le=4, description="layers of the decoder LSTM")
    beta: float = Field(0.2, ge=0, description="final weight of the KL term (MusicVAE 2-bar: 0.2)")
    kl_warmup_steps: int = Field(2000, ge=0, description="training steps over which β rises linearly from 0")
    free_bits: float = Field(16.0, ge=0, description="nats of KL per phrase that are not penalised")
    word_dropout: float = Field(0.1, ge=0, lt=1, description="fraction of teacher-forced inputs replaced by <pad>")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate")
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = Field(0.0, ge=0)
    lr_schedule: Literal["constant", "cosine"] = Field("constant", description="learning rate over the run")
    warmup_steps: int = Field(0, ge=0, description="steps of linear learning-rate warm-up")


@register_model("music/music-vae")
class MusicVAE(GenerativeModel):
    """Bidirectional-LSTM encoder → Gaussian latent → LSTM decoder over the tokens of 2–4-bar phrases."""

    config_class: ClassVar[type[MusicVAEConfig]] = MusicVAEConfig
    task: ClassVar[str] = TASK
    description: ClassVar[str] = "MusicVAE-style recurrent VAE of 2-4-bar phrases (interpolation, attribute vectors)"
    #: the task cuts the training pieces into phrases of ``phrase_bars`` bars for this model
    phrase_model: ClassVar[bool] = True
    config: MusicVAEConfig

    def __init__(self, config: MusicVAEConfig):
        super().__init__(config)
        c = config
        v = max(c.vocab_size, 4)
        self.embedding = nn.Embedding(v, c.embedding_dim)
        self.encoder = nn.LSTM(c.embedding_dim, c.encoder_hidden, c.encoder_layers, batch_first=True,
                               bidirectional=True)  # fmt: skip
        self.to_posterior = nn.Linear(2 * c.encoder_hidden, 2 * c.latent_dim)  # -> [μ, log σ²]
        self.to_state = nn.Linear(c.latent_dim, 2 * c.decoder_layers * c.decoder_hidden)  # -> (h0, c0)
        self.decoder = nn.LSTM(c.embedding_dim + c.latent_dim, c.decoder_hidden, c.decoder_layers, batch_first=True)
        self.head = nn.Linear(c.decoder_hidden, v)
        self.register_buffer("step_count", torch.zeros((), dtype=torch.long))
        self._tokenizer = None

    # --- helpers ------------------------------------------------------------------------
    @property
    def tokenizer(self):
        """The music tokenizer recorded in the config (built once)."""
        if self._tokenizer is None:
            self._tokenizer = music_tokenizer_from_dict(self.config.tokenizer)
        return self._tokenizer

    @property
    def device(self) -> torch.device:
        return next(itertools.chain(self.parameters(), self.buffers())).device

    def phrase_ids(self, pieces: Sequence[Piece]) -> torch.Tensor:
        """(N, T) padded ids of the first ``phrase_bars`` bars of each piece (cut to ``max_length`` tokens)."""
        tok, rows = self.tokenizer, []
        for p in pieces:
            phrase = p.slice_bars(0, self.config.phrase_bars)
            if not phrase.notes:
                raise BadInputError(f"{p.title or 'a piece'} has no notes in its first {self.config.phrase_bars} bars",
                                    "give phrases that hold notes")  # fmt: skip
            ids = tok.encode(phrase)
            if len(ids) > self.config.max_length:
                ids = ids[: self.config.max_length - 1] + [tok.eos_id]
            rows.append(ids)
        width = max(len(r) for r in rows)
        return torch.tensor([r + [tok.pad_id] * (width - len(r)) for r in rows], dtype=torch.long)

    # --- networks -------------------------------------------------------------------------
    def encode_ids(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance, each (B, latent_dim), of (B, T) padded ids."""
        ids = ids.long().to(self.device)
        lengths = (ids != self.tokenizer.pad_id).sum(1).clamp_min(1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(self.embedding(ids), lengths, batch_first=True, enforce_sorted=False)
        _, (h, _) = self.encoder(packed)  # h: (layers * 2, B, H); the last layer's two directions come last
        mu, logvar = self.to_posterior(torch.cat([h[-2], h[-1]], dim=1)).chunk(2, dim=1)
        return mu, logvar.clamp(-12, 8)

    def initial_state(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Decoder LSTM states (h0, c0), each (layers, B, H), from z (B, latent_dim)."""
        c = self.config
        states = torch.tanh(self.to_state(z)).view(len(z), 2, c.decoder_layers, c.decoder_hidden)
        return states[:, 0].transpose(0, 1).contiguous(), states[:, 1].transpose(0, 1).contiguous()

    def decoder_logits(self, z: torch.Tensor, inputs: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        """Next-token logits (B, T, V) from z (B, D) and input ids (B, T), and the LSTM state after them."""
        x = torch.cat([self.embedding(inputs), z.unsqueeze(1).expand(-1, inputs.shape[1], -1)], dim=2)
        out, state = self.decoder(x, self.initial_state(z) if state is None else state)
        return self.head(out), state

    # --- training -------------------------------------------------------------------------
    def optimizer_groups(self) -> list[OptimizerSpec]:
        c = self.config
        return [OptimizerSpec("vae", list(self.parameters()), c.lr, c.betas, c.weight_decay, schedule=c.lr_schedule,
                              warmup_steps=c.warmup_steps)]  # fmt: skip

    def kl_weight(self) -> float:
        """β at the current training step (linear warm-up)."""
        c = self.config
        if c.kl_warmup_steps == 0:
            return c.beta
        return c.beta * min(1.0, float(self.step_count) / c.kl_warmup_steps)

    def _terms(self, ids: torch.Tensor, sample: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-row reconstruction NLL (B,), KL (B,), and the logits/targets of the teacher-forced pass."""
        c, pad = self.config, self.tokenizer.pad_id
        mu, logvar = self.encode_ids(ids)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu) if sample else mu  # reparameterisation
        inputs, targets = ids[:, :-1], ids[:, 1:]
        if self.training and c.word_dropout > 0:
            drop = torch.rand(inputs.shape, device=inputs.device) < c.word_dropout
            inputs = inputs.masked_fill(drop & (inputs != self.tokenizer.bos_id), pad)
        logits, _ = self.decoder_logits(z, inputs)
        ce = F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=pad, reduction="none").sum(1)
        kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp())).sum(1)
        return ce, kl, logits, targets

    def training_losses(self, batch: Any, group: str = "vae") -> dict[str, torch.Tensor]:
        """``loss`` = reconstruction + β·max(KL − free_bits, 0); also ``reconstruction``, ``kl`` and
        ``token_accuracy``, batch means."""
        ids = batch.long().to(self.device)
        ce, kl, logits, targets = self._terms(ids, sample=True)
        reconstruction, kl_mean = ce.mean(), kl.mean()
        loss = reconstruction + self.kl_weight() * (kl_mean - self.config.free_bits).clamp_min(0)
        if self.training:
            self.step_count += 1
        real = targets != self.tokenizer.pad_id
        accuracy = ((logits.argmax(-1) == targets) & real).sum() / real.sum().clamp_min(1)
        return {"loss": loss, "reconstruction": reconstruction, "kl": kl_mean, "token_accuracy": accuracy.detach()}

    def validation_losses(self, batch: Any) -> dict[str, torch.Tensor]:
        return self.training_losses(batch, "vae")

    @torch.no_grad()
    def token_nll(self, ids: torch.Tensor) -> torch.Tensor:
        """The negative ELBO per row (B,) in nats — an upper bound on the NLL of ``ids[:, 1:]`` — with z at the
        posterior mean: reconstruction NLL + KL(q(z | x) ‖ N(0, I))."""
        ce, kl, _, _ = self._terms(ids.long().to(self.device), sample=False)
        return (ce + kl).float()

    # --- latents and pieces -------------------------------------------------------------------
    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` latents from the prior N(0, I), (n, latent_dim), drawn on the CPU with ``generator``."""
        return torch.randn(n, self.config.latent_dim, generator=generator)

    @torch.no_grad()
    def encode(self, pieces: Sequence[Piece]) -> torch.Tensor:
        """Posterior means (N, latent_dim) of the first ``phrase_bars`` bars of each piece."""
        if not pieces:
            return torch.zeros(0, self.config.latent_dim)
        was = self.training
        self.eval()
        try:
            return self.encode_ids(self.phrase_ids(pieces))[0].cpu()
        finally:
            self.train(was)

    @torch.no_grad()
    def decode_ids(
        self,
        z: torch.Tensor,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
        prefix_ids: Sequence[int] | None = None,
        constraints: Sequence[LogitsProcessor] | None = None,
        greedy: bool = False,
    ) -> list[list[int]]:
        """One phrase per latent (B, latent_dim): the prefix (default ``<bos>``) and the decoded ids, each row ending
        before ``<eos>`` or at ``max_length`` tokens. Greedy, or sampled at ``temperature`` with ``generator``."""
        tok = self.tokenizer
        processors = sampling_processors(tok, constraints, 1.0 if greedy else temperature)
        prompt = prefix_tensor(tok, len(z), prefix_ids)
        limit = max(self.config.max_length - prompt.shape[1], 1)
        was = self.training
        try:
            bound = LatentConditioned(self, z.to(self.device, self.head.weight.dtype))
            rows = generate_until(bound, prompt, limit, tok.eos_id, processors, greedy=greedy, generator=generator)
        finally:
            self.train(was)
        return [prompt[0].tolist() + r for r in rows]

    def decode(self, z: torch.Tensor, temperature: float = 1.0, generator: torch.Generator | None = None,
               greedy: bool = False, constraints: Sequence[LogitsProcessor] | None = None) -> list[Piece]:  # fmt: skip
        """Pieces decoded from latents z (B, latent_dim) (greedy, or sampled at ``temperature``)."""
        rows = self.decode_ids(z, temperature, generator, constraints=constraints, greedy=greedy)
        return [self.tokenizer.decode(r) for r in rows]

    def interpolate(self, a: Piece, b: Piece, steps: int = 5, temperature: float = 1.0,
                    generator: torch.Generator | None = None, greedy: bool = True,
                    constraints: Sequence[LogitsProcessor] | None = None) -> list[Piece]:  # fmt: skip
        """``steps`` phrases (≥ 2, the ends included) decoded along the great circle from ``a``'s latent to
        ``b``'s (spherical interpolation, Shoemake 1985, as in MusicVAE)."""
        if steps < 2:
            raise BadInputError(f"an interpolation needs at least 2 steps, got {steps}", "ask for --steps 2 or more")
        za, zb = self.encode([a, b])
        z = torch.stack([slerp(za, zb, t) for t in torch.linspace(0, 1, steps).tolist()])
        return self.decode(z, temperature, generator, greedy=greedy, constraints=constraints)

    def attribute_vector(self, with_attribute: Sequence[Piece], without_attribute: Sequence[Piece]) -> torch.Tensor:
        """Mean latent of the phrases with an attribute minus that of those without (latent_dim,)."""
        if not with_attribute or not without_attribute:
            raise BadInputError("an attribute vector needs phrases with and without the attribute", "give both")
        return self.encode(with_attribute).mean(0) - self.encode(without_attribute).mean(0)

    def attribute_vector_by(self, pieces: Sequence[Piece], attribute: Callable[[Piece], float]) -> torch.Tensor:
        """Attribute vector of a numeric attribute (e.g. :func:`note_density`): phrases above its median minus those
        at or below it."""
        values = [attribute(p.slice_bars(0, self.config.phrase_bars)) for p in pieces]
        median = sorted(values)[len(values) // 2] if values else 0.0
        high = [p for p, v in zip(pieces, values, strict=True) if v > median]
        low = [p for p, v in zip(pieces, values, strict=True) if v <= median]
        return self.attribute_vector(high, low)

    # --- the music task's sampling interface ----------------------------------------------------------
    @torch.no_grad()
    def sample_ids(
        self,
        n: int,
        max_tokens: int,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
        prefix_ids: Sequence[int] | None = None,
        constraints: Sequence[LogitsProcessor] | None = None,
        phrases: int | None = None,
    ) -> list[list[int]]:
        """``n`` sequences of phrases decoded from prior latents (a new z per phrase), each phrase prompted by
        ``prefix_ids`` (default ``<bos>``; the conditioning) and constrained by ``constraints``; phrases are chained
        until ``max_tokens`` new ids are written, or ``phrases`` of them when given (then cut to ``max_tokens``)."""
        check_sampling(n, max_tokens, temperature)
        prefix = prefix_tensor(self.tokenizer, 1, prefix_ids)[0].tolist()
        start = len(prefix)
        rows = [list(prefix) for _ in range(n)]
        done = 0
        while phrases is None or done < phrases:
            active = [i for i, r in enumerate(rows) if phrases is not None or len(r) - start < max_tokens]
            if not active:
                break
            new = self.decode_ids(self.sample_latent(len(active), generator), temperature, generator, prefix,
                                  constraints)  # fmt: skip
            grew = False
            for i, row in zip(active, new, strict=True):
                rows[i] += row[start:]
                grew |= len(row) > start
            done += 1
            if not grew:
                break
        return [r[: start + max_tokens] for r in rows]


class LatentConditioned(nn.Module):
    """The decoder of a :class:`MusicVAE` bound to latents z, with the incremental interface the decoders of
    :mod:`genlab.text.decoding` drive (``init_state`` / ``step`` / ``reorder_state``); the state is the LSTM's."""

    def __init__(self, vae: MusicVAE, z: torch.Tensor):
        super().__init__()
        self.vae, self.z = vae, z

    @property
    def max_context(self) -> None:
        return None  # the recurrent state holds the whole phrase so far

    def init_state(self, batch: int, use_cache: bool = True) -> dict[str, Any]:
        if batch != len(self.z):
            raise BadInputError(f"{batch} rows to decode from {len(self.z)} latents")
        return {"z": self.z, "lstm": None}

    def step(self, ids: torch.Tensor, state: dict[str, Any]) -> tuple[torch.Tensor, dict[str, Any]]:
        logits, lstm = self.vae.decoder_logits(state["z"], ids.to(self.z.device), state["lstm"])
        return logits[:, -1], {"z": state["z"], "lstm": lstm}

    def reorder_state(self, state: dict[str, Any], index: torch.Tensor) -> dict[str, Any]:
        index = index.to(self.z.device)
        lstm = None if state["lstm"] is None else tuple(s.index_select(1, index) for s in state["lstm"])
        return {"z": state["z"].index_select(0, index), "lstm": lstm}


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation between vectors ``a`` and ``b`` at ``t`` in [0, 1] (linear when they are parallel)."""
    cos = float(torch.dot(a, b) / (a.norm() * b.norm()).clamp_min(1e-12))
    omega = math.acos(max(-1.0, min(1.0, cos)))
    if omega < 1e-6:
        return (1 - t) * a + t * b
    return (math.sin((1 - t) * omega) * a + math.sin(t * omega) * b) / math.sin(omega)


def note_density(piece: Piece) -> float:
    """Notes per bar of ``piece`` (an attribute for :meth:`MusicVAE.attribute_vector_by`)."""
    return len(piece.notes) / max(piece.n_bars, 1)
