"""Decoding as composable pieces: logits processors, sampling/greedy, beam search, stop sequences.

A logits processor is any callable ``(ids (B, T), logits (B, V)) -> logits (B, V)``; a list of
them is applied in order before each choice. Sampling draws from a seeded ``torch.Generator``
so a seed reproduces a text exactly. Models are driven through their incremental interface
(``init_state`` / ``step`` / ``reorder_state``, see :mod:`genlab.text.base`); an encoder–decoder
is driven the same way through its decoder bound to an encoded source (start symbol as the prompt,
an end-of-sequence id to stop at: :func:`generate_until`, or ``is_finished`` of :func:`beam_search`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from genlab.core.devices import cpu_threads
from genlab.core.errors import BadInputError

LogitsProcessor = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class Temperature:
    """Divide logits by ``t`` (> 0): below 1 sharpens the distribution, above 1 flattens it."""

    def __init__(self, t: float):
        if t <= 0:
            raise BadInputError(f"temperature must be > 0, got {t}", "use --temperature 0 for greedy decoding")
        self.t = t

    def __call__(self, ids: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        return logits / self.t


class TopK:
    """Keep the ``k`` highest logits of each row (Fan et al. 2018)."""

    def __init__(self, k: int):
        if k < 1:
            raise BadInputError(f"top-k must be at least 1, got {k}")
        self.k = k

    def __call__(self, ids: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        if self.k >= logits.shape[-1]:
            return logits
        kth = torch.topk(logits, self.k, dim=-1).values[:, -1:]
        return logits.masked_fill(logits < kth, float("-inf"))


class TopP:
    """Nucleus filtering (Holtzman et al. 2020): keep the fewest top tokens whose probability reaches ``p``."""

    def __init__(self, p: float):
        if not 0 < p <= 1:
            raise BadInputError(f"top-p must be in (0, 1], got {p}")
        self.p = p

    def __call__(self, ids: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = sorted_logits.softmax(-1)
        mass_before = probs.cumsum(-1) - probs  # probability of the tokens ranked above each one
        drop_sorted = mass_before >= self.p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        return logits.masked_fill(drop, float("-inf"))


class RepetitionPenalty:
    """Penalise tokens already in the sequence (Keskar et al. 2019, CTRL): divide positive logits, multiply negative."""

    def __init__(self, penalty: float):
        if penalty <= 0:
            raise BadInputError(f"repetition penalty must be > 0, got {penalty}", "1.0 means no penalty")
        self.penalty = penalty

    def __call__(self, ids: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        if ids.shape[1] == 0:
            return logits
        seen = logits.gather(-1, ids)
        seen = torch.where(seen > 0, seen / self.penalty, seen * self.penalty)
        return logits.scatter(-1, ids, seen)


class NoRepeatNGram:
    """Forbid any token that would repeat an n-gram already in the sequence (Paulus et al. 2018, "A Deep
    Reinforced Model for Abstractive Summarization"): for each row, the tokens that followed earlier
    occurrences of its last ``n - 1`` tokens get logit -inf. ``skip``: leading ids not checked (a prompt)."""

    def __init__(self, n: int, skip: int = 0):
        if n < 1:
            raise BadInputError(f"no-repeat n-gram size must be at least 1, got {n}")
        self.n, self.skip = n, skip

    def __call__(self, ids: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        n = self.n
        rows = ids[:, self.skip :].tolist()
        banned_rows, banned_tokens = [], []
        for r, seq in enumerate(rows):
            if len(seq) < n - 1:
                continue
            tail = tuple(seq[len(seq) - n + 1 :]) if n > 1 else ()
            for i in range(len(seq) - n + 1):
                if tuple(seq[i : i + n - 1]) == tail:
                    banned_rows.append(r), banned_tokens.append(seq[i + n - 1])
        if not banned_rows:
            return logits
        logits = logits.clone()
        logits[banned_rows, banned_tokens] = float("-inf")
        return logits


class MinNewTokens:
    """Forbid the end-of-sequence ids ``eos`` until ``min_new`` tokens follow the first ``prompt_length`` ids."""

    def __init__(self, min_new: int, eos: int | Sequence[int], prompt_length: int):
        self.min_new, self.prompt_length = min_new, prompt_length
        self.eos = [eos] if isinstance(eos, int) else list(eos)

    def __call__(self, ids: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        if ids.shape[1] - self.prompt_length >= self.min_new:
            return logits
        logits = logits.clone()
        logits[:, self.eos] = float("-inf")
        return logits


class SuppressTokens:
    """Never choose the ids ``tokens`` (padding or start symbols a model must not emit)."""

    def __init__(self, tokens: Sequence[int]):
        self.tokens = list(tokens)

    def __call__(self, ids: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        logits = logits.clone()
        logits[:, self.tokens] = float("-inf")
        return logits


@dataclass
class SamplingConfig:
    """Which filters to apply; ``temperature == 0`` means greedy (argmax)."""

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    repetition_penalty: float = 1.0

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def processors(self) -> list[LogitsProcessor]:
        """The processors in their standard order: repetition penalty, temperature, top-k, top-p."""
        out: list[LogitsProcessor] = []
        if self.temperature < 0:
            raise BadInputError(f"temperature must be ≥ 0, got {self.temperature}", "0 is greedy decoding")
        if self.repetition_penalty != 1.0:
            out.append(RepetitionPenalty(self.repetition_penalty))
        if not self.greedy and self.temperature != 1.0:
            out.append(Temperature(self.temperature))
        if self.top_k is not None:
            out.append(TopK(self.top_k))
        if self.top_p is not None and self.top_p < 1.0:
            out.append(TopP(self.top_p))
        return out


def apply_processors(processors: Sequence[LogitsProcessor], ids: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Run ``processors`` in order on float32 logits."""
    logits = logits.float()
    for proc in processors:
        logits = proc(ids, logits)
    return logits


def choose(
    logits: torch.Tensor, greedy: bool, generator: torch.Generator | Sequence[torch.Generator] | None
) -> torch.Tensor:
    """Pick one token per row: argmax, or a draw from softmax(logits) with ``generator`` — or with one generator
    per row (a list), so that a row drawn in a batch is the row drawn alone with its generator."""
    if greedy:
        return logits.argmax(-1)
    probs = logits.softmax(-1).cpu()
    if not math.isfinite(float(probs.sum())):  # every logit masked (-inf), or a NaN from the model
        raise BadInputError(
            "the next-token distribution is undefined (every token filtered out, or the model gave NaN)",
            "loosen the filters (top-k/top-p/constraints) or check the checkpoint",
        )
    # The exponential race: argmax(p / q) with q ~ Exp(1) is a draw from p. It is the algorithm (and
    # random stream) of torch.multinomial(probs, 1), minus that function's separate checks, which cost
    # as much as the draw at one token per step.
    if isinstance(generator, (list, tuple)):
        race = torch.cat(
            [torch.empty_like(probs[i : i + 1]).exponential_(1, generator=g) for i, g in enumerate(generator)]
        )
    else:
        race = torch.empty_like(probs).exponential_(1, generator=generator)
    return torch.div(probs, race, out=race).argmax(-1).to(logits.device)


def crop_prompt(model, ids: torch.Tensor) -> torch.Tensor:
    """Keep the last ``max_context`` ids of a prompt (B, T)."""
    limit = model.max_context
    return ids[:, -limit:] if limit and ids.shape[1] > limit else ids


@torch.inference_mode()
def sample_tokens(
    model,
    prompt: torch.Tensor,
    max_new_tokens: int,
    processors: Sequence[LogitsProcessor] = (),
    greedy: bool = False,
    generator: torch.Generator | Sequence[torch.Generator] | None = None,
    use_cache: bool = True,
) -> Iterator[torch.Tensor]:
    """Yield the next token of every row, (B,), up to ``max_new_tokens`` times (stop by breaking out).
    ``generator`` may be a list of one generator per row (see :func:`choose`).

    ``prompt`` (B, T) must hold at least one id per row. The processors see the whole sequence
    (prompt + generated so far); the model sees at most its context length.
    """
    if prompt.ndim != 2 or prompt.shape[1] == 0:
        raise BadInputError("the prompt is empty", "give a prompt of at least one character")
    if max_new_tokens < 1:
        raise BadInputError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
    model.eval()
    with cpu_threads(decode_threads(model, use_cache)):
        yield from _sample_loop(model, prompt, max_new_tokens, processors, greedy, generator, use_cache)


#: Below this size a cached single-token step is faster on one CPU thread than on several
#: (measured: 0.8M and 10.6M-parameter GPTs decode 1.25x-2x faster on 1 of 2 threads).
SINGLE_THREAD_DECODE_MAX_PARAMS = 50_000_000


def decode_threads(model, use_cache: bool) -> int | None:
    """Torch threads for incremental decoding: 1 for small cached models on CPU, else unchanged."""
    if not (use_cache and isinstance(model, torch.nn.Module)):
        return None
    small = sum(p.numel() for p in model.parameters()) < SINGLE_THREAD_DECODE_MAX_PARAMS
    on_cpu = all(p.device.type == "cpu" for p in model.parameters())
    return 1 if small and on_cpu else None


def _sample_loop(model, prompt, max_new_tokens, processors, greedy, generator, use_cache) -> Iterator[torch.Tensor]:
    state = model.init_state(prompt.shape[0], use_cache)
    logits, state = model.step(crop_prompt(model, prompt), state)
    seq = prompt.to(logits.device)
    for i in range(max_new_tokens):
        token = choose(apply_processors(processors, seq, logits), greedy, generator)
        seq = torch.cat([seq, token[:, None]], dim=1)
        yield token
        if i + 1 < max_new_tokens:
            logits, state = model.step(token[:, None], state)


@torch.inference_mode()
def beam_search(
    model,
    prompt: torch.Tensor,
    num_beams: int,
    max_new_tokens: int,
    processors: Sequence[LogitsProcessor] = (),
    is_finished: Callable[[list[int]], bool] | None = None,
    length_penalty: float = 0.0,
    early_stop: bool = True,
) -> list[tuple[list[int], float]]:
    """Beam search for the most probable continuation of one prompt (1, T).

    Returns up to ``num_beams`` (new ids, score) pairs, best first; the score is the summed
    log-probability divided by ``length ** length_penalty``. A hypothesis for which
    ``is_finished(new_ids)`` holds (a stop sequence appeared) stops growing. The search ends as soon as no
    live beam can still beat the ``num_beams`` best finished ones — exactly, whatever the length penalty:
    a sum of log-probabilities only falls as a sequence grows, so the best a live beam can reach is its
    score now divided by the most favourable length it can still have (``early_stop=False`` searches to
    ``max_new_tokens``, for checks).
    """
    if prompt.shape[0] != 1:
        raise BadInputError("beam search takes one prompt at a time")
    if num_beams < 1:
        raise BadInputError(f"--beam must be at least 1, got {num_beams}")
    model.eval()
    state = model.init_state(1, use_cache=True)
    logits, state = model.step(crop_prompt(model, prompt), state)
    seqs = prompt.to(logits.device)  # (K, T)
    scores = torch.zeros(1, device=logits.device)
    n_prompt = prompt.shape[1]
    finished: list[tuple[list[int], float]] = []
    norm = lambda s, n: s / (n**length_penalty)  # noqa: E731
    for t in range(max_new_tokens):
        logp = F.log_softmax(apply_processors(processors, seqs, logits), dim=-1)  # (K, V)
        cand = (scores[:, None] + logp).flatten()
        top = torch.topk(cand, min(2 * num_beams, cand.numel()))
        vocab = logp.shape[1]
        keep_rows, keep_tokens, keep_scores = [], [], []
        for score, flat in zip(top.values.tolist(), top.indices.tolist(), strict=True):
            if score == float("-inf"):
                break
            row, token = divmod(flat, vocab)
            new = seqs[row, n_prompt:].tolist() + [token]
            if (is_finished and is_finished(new)) or t + 1 == max_new_tokens:
                finished.append((new, norm(score, len(new))))
            else:
                keep_rows.append(row), keep_tokens.append(token), keep_scores.append(score)
            if len(keep_rows) == num_beams:
                break
        if not keep_rows:
            break
        if early_stop and len(finished) >= num_beams:
            worst_kept = sorted(s for _, s in finished)[-num_beams]
            # live lengths can still reach t + 2 … max_new_tokens; a score ≤ 0 is best over the largest
            # length ** length_penalty among them
            length = max_new_tokens if length_penalty >= 0 else t + 2
            if norm(max(keep_scores), length) <= worst_kept:
                break  # no live beam can still beat the finished ones
        index = torch.tensor(keep_rows, device=seqs.device)
        tokens = torch.tensor(keep_tokens, device=seqs.device)
        seqs = torch.cat([seqs.index_select(0, index), tokens[:, None]], dim=1)
        scores = torch.tensor(keep_scores, device=seqs.device)
        state = model.reorder_state(state, index)
        logits, state = model.step(tokens[:, None], state)
    finished.sort(key=lambda pair: pair[1], reverse=True)
    return finished[:num_beams]


def generate_until(
    model,
    prompt: torch.Tensor,
    max_new_tokens: int,
    eos: int,
    processors: Sequence[LogitsProcessor] = (),
    greedy: bool = False,
    generator: torch.Generator | None = None,
    use_cache: bool = True,
) -> list[list[int]]:
    """New ids of every row of ``prompt`` (B, T), each ending at its first ``eos`` (left out) or after
    ``max_new_tokens``; stops as soon as every row has ended. Greedy or sampled as :func:`sample_tokens`."""
    rows: list[list[int]] = [[] for _ in range(prompt.shape[0])]
    done = [False] * len(rows)
    for tokens in sample_tokens(model, prompt, max_new_tokens, processors, greedy, generator, use_cache):
        for i, t in enumerate(tokens.tolist()):
            if not done[i]:
                done[i] = t == eos
                if not done[i]:
                    rows[i].append(t)
        if all(done):
            break
    return rows
