"""Text generation pipeline: continue a prompt (sampling, greedy or beam search), stream, write poems."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch

from genlab.core.errors import BadInputError
from genlab.core.pipeline import Pipeline
from genlab.core.seeding import make_generator
from genlab.text.decoding import SamplingConfig, beam_search, sample_tokens


def find_stop(text: str, stop: Sequence[str]) -> int | None:
    """Index where the earliest stop sequence starts in ``text``, or None."""
    hits = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    return min(hits) if hits else None


class TextGenerationPipeline(Pipeline):
    """``pipe("ROMEO:", max_new_tokens=200, temperature=0.8, seed=0)`` → list of continuations (prompt excluded)."""

    task = "text-generation"

    def encode_prompt(self, prompt: str) -> list[int]:
        """Ids of ``prompt``; an empty prompt starts at a line break (else a space, else token 0)."""
        tok = self.model.tokenizer
        if not prompt:
            for start in ("\n", " "):
                try:
                    return tok.encode(start)
                except BadInputError:  # a character vocabulary without it
                    continue
            return [0]
        ids = tok.encode(prompt)
        if not ids:
            raise BadInputError("the prompt encodes to no tokens", "give a non-empty prompt")
        return ids

    def __call__(
        self,
        prompt: str = "",
        max_new_tokens: int = 200,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        repetition_penalty: float = 1.0,
        num_beams: int = 1,
        stop: Sequence[str] = (),
        seed: int | None = None,
        n: int = 1,
        use_cache: bool = True,
    ) -> list[str]:
        """Generate ``n`` continuations of ``prompt``; each ends before the first stop sequence."""
        if n < 1:
            raise BadInputError(f"--n must be at least 1, got {n}")
        cfg = SamplingConfig(temperature, top_k, top_p, repetition_penalty)
        ids = self.encode_prompt(prompt)
        tok = self.model.tokenizer
        if num_beams > 1:
            if n > num_beams:
                raise BadInputError(f"beam search returns at most --beam {num_beams} texts, asked for {n}")
            finished = (lambda new: find_stop(tok.decode(new), stop) is not None) if stop else None
            hyps = beam_search(self.model, torch.tensor([ids]), num_beams, max_new_tokens, cfg.processors(), finished)
            return [_cut(tok.decode(new), stop) for new, _ in hyps[:n]]
        prompt_ids = torch.tensor([ids] * n)
        rows: list[list[int]] = [[] for _ in range(n)]
        done = [False] * n
        gen = make_generator(seed)
        steps = sample_tokens(self.model, prompt_ids, max_new_tokens, cfg.processors(), cfg.greedy, gen, use_cache)
        for tokens in steps:
            for i, t in enumerate(tokens.tolist()):
                if not done[i]:
                    rows[i].append(t)
                    done[i] = bool(stop) and find_stop(tok.decode(rows[i]), stop) is not None
            if all(done):
                break
        return [_cut(tok.decode(r), stop) for r in rows]

    def stream(
        self,
        prompt: str = "",
        max_new_tokens: int = 200,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        repetition_penalty: float = 1.0,
        stop: Sequence[str] = (),
        seed: int | None = None,
    ) -> Iterator[str]:
        """Yield the continuation of ``prompt`` piece by piece as tokens are sampled.

        Text that could be the start of a stop sequence is held back until it is known not to be.
        """
        cfg = SamplingConfig(temperature, top_k, top_p, repetition_penalty)
        ids = torch.tensor([self.encode_prompt(prompt)])
        hold = max((len(s) for s in stop), default=1) - 1
        decoder, emitted = self.model.tokenizer.stream(), 0
        for token in sample_tokens(self.model, ids, max_new_tokens, cfg.processors(), cfg.greedy, make_generator(seed)):
            decoder.push(int(token[0]))
            text = decoder.text
            cut = find_stop(text, stop)
            if cut is not None:
                yield text[emitted:cut]
                return
            safe = len(text.rstrip("\ufffd")) - hold
            if safe > emitted:
                yield text[emitted:safe]
                emitted = safe
        yield decoder.text[emitted:]

    def poem(
        self,
        form: str = "wuyan-jueju",
        n: int = 1,
        acrostic: str | None = None,
        rhyme: bool = False,
        seed: int | None = None,
        temperature: float = 0.8,
        top_k: int | None = None,
        top_p: float | None = None,
    ) -> list[str]:
        """``n`` Chinese classical poems of ``form``; form, acrostic and rhyme hold on every one."""
        from genlab.text.poems import generate_poems

        if n < 1:
            raise BadInputError(f"--n must be at least 1, got {n}")
        return generate_poems(self.model, form, n, acrostic, rhyme, seed, temperature, top_k, top_p)


def _cut(text: str, stop: Sequence[str]) -> str:
    cut = find_stop(text, stop)
    return text if cut is None else text[:cut]
