"""What every encoder–decoder of genlab shares: the ids, the config fields the tasks fill, generation, the loss.

Ids: the tokenizer's ``vocab_size`` text tokens come first, then three symbols the tokenizer lacks:
padding (``pad_id``), start of target (``bos_id``) and end of target (``eos_id``). Decoding feeds
``bos_id`` and stops at ``eos_id``. A model subclasses :class:`EncoderDecoderModel` and provides
:meth:`~EncoderDecoderModel.conditioned`: its decoder bound to encoded sources, with the incremental
interface (``init_state`` / ``step`` / ``reorder_state``) the decoders of :mod:`genlab.text.decoding` drive;
greedy, sampled and beam-search generation (:meth:`~EncoderDecoderModel.generate_ids`) then come from here.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from genlab.core.errors import BadInputError
from genlab.core.model import ModelConfig, OptimizerSpec
from genlab.core.seeding import make_generator
from genlab.text.base import TokenizedModel

SPECIAL_TOKENS = 3  # padding, start and end of target, after the tokenizer's ids


class EncoderDecoderConfig(ModelConfig):
    """Fields of every encoder–decoder: what the task fills from the data, lengths, loss and optimiser."""

    task: Literal["seq2seq", "summarization", "dialogue"] = Field(
        "seq2seq", description="the task served (set by training)"
    )
    vocab_size: int = Field(0, ge=0, description="text tokens of the tokenizer (set from the data)")
    tokenizer: dict[str, Any] = Field(default_factory=dict, description="the tokenizer, as JSON (set from the data)")
    max_source_length: int = Field(512, ge=1, le=65536, description="source tokens kept (longer ones are cut)")
    keep_source: Literal["start", "end"] = Field(
        "start", description="which end of a longer source is kept: its start (documents) or its end (conversations)"
    )
    max_target_length: int = Field(128, ge=1, le=65536, description="target tokens kept and generated at most")
    guidance: Literal["none", "textrank"] = Field(
        "none", description="the guidance sentence read before each source (set from the data: data.guidance)"
    )
    control_code: str = Field(
        "", description="code read first in every source: the main task's, of a model trained with a scaffold task"
    )
    label_smoothing: float = Field(0.1, ge=0.0, lt=1.0, description="ε of label-smoothed cross-entropy")
    lr: float = Field(5e-4, gt=0, description="Adam learning rate")
    betas: tuple[float, float] = Field((0.9, 0.98), description="Adam betas")
    weight_decay: float = Field(0.0, ge=0, description="Adam weight decay")
    schedule: Literal["constant", "cosine"] = Field("cosine", description="learning rate over the run")
    warmup_steps: int = Field(0, ge=0, description="steps of linear learning-rate warm-up at the start (0: none)")


class EncoderDecoderModel(TokenizedModel):
    """Base of the sequence-to-sequence models: ids, source encoding to ids, generation, one optimiser.

    A subclass implements :meth:`conditioned` (and its training losses); an instance serves the task
    recorded in its config (``config.task``), one of the class's ``tasks``.
    """

    config_class = EncoderDecoderConfig
    task: ClassVar[str] = "seq2seq"
    #: Tasks this model trains for; an instance serves the one recorded in its config.
    tasks: ClassVar[tuple[str, ...]] = ("seq2seq", "summarization", "dialogue")
    config: EncoderDecoderConfig

    def __init__(self, config: EncoderDecoderConfig):
        super().__init__(config)
        self.task = config.task  # the instance's task (seq2seq, summarization, dialogue) shadows the class default

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

    @property
    def n_ids(self) -> int:
        """Size of the id space: text tokens and the three special symbols."""
        return self.config.vocab_size + SPECIAL_TOKENS

    def source_ids(self, texts: list[str]) -> torch.Tensor:
        """Token ids (B, S) of source texts (led by their guidance sentence, then the main task's control code, when
        the model reads them), cut to ``max_source_length`` (at the end ``keep_source`` does not keep), right-padded
        with ``pad_id``."""
        from genlab.text.data import encode_lenient
        from genlab.text.seq2seq.data import coded_source, cut_source, guided_source, textrank_guide

        c = self.config
        if c.guidance == "textrank":
            texts = [guided_source(t, textrank_guide(t)) if t.strip() else t for t in texts]
        if c.control_code:
            texts = [coded_source(t, c.control_code) if t.strip() else t for t in texts]
        rows = [cut_source(encode_lenient(self.tokenizer, t), c.max_source_length, c.keep_source) for t in texts]
        empty = [i for i, r in enumerate(rows) if not r]
        if empty:
            raise BadInputError(f"source {empty[0] + 1} encodes to no tokens", "give a non-empty source text")
        return pad_rows(rows, self.pad_id)

    def decode_text(self, ids: list[int]) -> str:
        """Text of generated ids (the special symbols left out)."""
        return self.tokenizer.decode([i for i in ids if i < self.config.vocab_size])

    # --- training -----------------------------------------------------------------------
    def optimizer_groups(self) -> list[OptimizerSpec]:
        c = self.config
        return [
            OptimizerSpec("model", list(self.parameters()), c.lr, c.betas, c.weight_decay, schedule=c.schedule,
                          warmup_steps=c.warmup_steps)
        ]  # fmt: skip

    def pairs_batch(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """A ``(source ids (B, S), target ids (B, T + 2))`` batch on the model's device, columns that are
        padding in every row dropped (the targets framed as ``bos … eos``)."""
        src, tgt = (t.to(self.device) for t in batch)
        return trim(src, self.pad_id), trim(tgt, self.pad_id)

    # --- generation -----------------------------------------------------------------------
    def conditioned(self, src: torch.Tensor) -> Any:
        """The decoder bound to the encoded sources ``src`` (B, S): an object with ``init_state(batch,
        use_cache)``, ``step(ids (B, T), state) -> (logits (B, V + 3), state)`` and ``reorder_state``."""
        raise NotImplementedError

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
        from genlab.text.decoding import SamplingConfig, beam_search, generate_until

        limit = min(max_new_tokens or self.config.max_target_length, self.config.max_target_length)
        max_new = limit + 1  # room for the end symbol
        if min_new_tokens > limit:
            raise BadInputError(f"the minimum length {min_new_tokens} is above the maximum {limit}")
        self.eval()
        sampling = SamplingConfig(temperature, top_k, top_p)
        processors = self._processors(no_repeat_ngram, min_new_tokens) + sampling.processors()
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

    def _processors(self, no_repeat_ngram: int, min_new_tokens: int) -> list:
        """Logits processors of every strategy: no padding/start symbol, no repeated n-gram, a minimum length."""
        from genlab.text.decoding import MinNewTokens, NoRepeatNGram, SuppressTokens

        processors: list = [SuppressTokens([self.pad_id, self.bos_id])]
        if no_repeat_ngram:
            processors.append(NoRepeatNGram(no_repeat_ngram, skip=1))
        if min_new_tokens:
            processors.append(MinNewTokens(min_new_tokens, self.eos_id, prompt_length=1))
        return processors

    def generate(self, sources: list[str], **options: Any) -> list[str]:
        """Target texts of ``sources`` (options of :meth:`generate_ids`)."""
        if not sources:
            return []
        return [self.decode_text(ids) for ids in self.generate_ids(self.source_ids(sources), **options)]


def encoder_decoder_problem(model: Any) -> str | None:
    """None for an :class:`EncoderDecoderModel`, else why a pipeline or metric of text pairs cannot use it."""
    if isinstance(model, EncoderDecoderModel):
        return None
    return f"{getattr(model, 'registry_name', type(model).__name__)} is not a sequence-to-sequence model"


def source_rows(batch: int, n_sources: int, device: torch.device) -> torch.Tensor:
    """Which encoded source each of ``batch`` decoded rows reads: row i the i-th source, or all the only one
    (beams or samples of one source)."""
    if batch == n_sources:
        return torch.arange(batch, device=device)
    if n_sources == 1:
        return torch.zeros(batch, dtype=torch.long, device=device)
    raise BadInputError(f"cannot decode {batch} targets for {n_sources} sources")


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
    = (1 - ε) · NLL + ε · mean_v(-log p_v)``. Log-probabilities are valid logits (their softmax is p).
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
