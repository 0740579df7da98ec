"""Text generation pipeline: continue a prompt (sampling, greedy or beam search), stream, write poems."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import Field, field_validator

from genlab.core.errors import BadInputError
from genlab.core.io import atomic_write_text
from genlab.core.pipeline import Output, Pipeline, Request, register_pipeline
from genlab.core.seeding import make_generator
from genlab.text.decoding import SamplingConfig, beam_search, sample_tokens

TASK = "text-generation"
POEM_FORM_NAMES = Literal["wuyan-jueju", "qiyan-jueju", "wuyan-lushi", "qiyan-lushi"]


class TextOutput(Output):
    """Generated texts. ``prompt`` is shown before each text on a terminal and in a ``.txt`` file;
    ``headers`` numbers the texts when there are several."""

    formats = {"txt": "text/plain; charset=utf-8", "json": "application/json"}
    suffix = ".txt"

    def __init__(self, texts: list[str], prompt: str = "", headers: bool = True):
        self.texts, self.prompt, self.headers = list(texts), prompt, headers

    def text(self) -> str:
        parts = []
        for i, t in enumerate(self.texts):
            if self.headers and len(self.texts) > 1:
                parts.append(f"--- sample {i + 1} ---\n")
            parts.append(f"{self.prompt}{t}\n")
        return "".join(parts)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        atomic_write_text(path, self.encode("json" if path.suffix == ".json" else "txt").decode("utf-8"))
        return path

    def encode(self, format: str | None = None) -> bytes:
        if self.check_format(format) == "json":
            return json.dumps({"prompt": self.prompt, "texts": self.texts}, ensure_ascii=False).encode("utf-8")
        return self.text().encode("utf-8")


class TextContinuation(Request):
    """Options of ``genlab generate``."""

    prompt: str = Field("", description="text to continue (default: a line break)")
    max_new_tokens: int = Field(200, ge=1, description="tokens to generate")
    temperature: float = Field(1.0, ge=0, description="sampling temperature; 0 = greedy")
    top_k: int | None = Field(None, ge=1, description="sample among the k most likely tokens")
    top_p: float | None = Field(None, gt=0, le=1, description="nucleus sampling: smallest set with this probability")
    repetition_penalty: float = Field(1.0, gt=0, description="> 1 discourages repeating tokens")
    num_beams: int = Field(
        1, ge=1, description="beam width (> 1: beam search, no streaming)", json_schema_extra={"flag": "--beam"}
    )
    stop: list[str] = Field([], description=r"stop sequence (repeatable; escapes like \n work)")
    n: int = Field(1, ge=1, description="number of texts (with --beam: the n best beams)")

    @field_validator("stop")
    @classmethod
    def _unescape(cls, stop: list[str]) -> list[str]:
        return [unescape(s) for s in stop]


def unescape(text: str) -> str:
    r"""Turn ``\n``, ``\t`` and ``\\`` typed on a command line into the characters."""
    return text.encode("latin-1", "backslashreplace").decode("unicode_escape") if "\\" in text else text


def find_stop(text: str, stop: Sequence[str]) -> int | None:
    """Index where the earliest stop sequence starts in ``text``, or None."""
    hits = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    return min(hits) if hits else None


@register_pipeline("text/generate")
class TextGenerationPipeline(Pipeline):
    """``pipe("ROMEO:", max_new_tokens=200, temperature=0.8, seed=0)`` → list of continuations (prompt excluded)."""

    task = TASK
    verb = "generate"
    description = "continue a prompt with a language model; tokens stream to stdout as they are generated"
    request_class = TextContinuation
    output_class = TextOutput
    streams = True

    def run(self, request: TextContinuation) -> TextOutput:
        options = request.model_dump(exclude={"prompt", "max_new_tokens"})
        return TextOutput(self(request.prompt, request.max_new_tokens, **options), request.prompt)

    def stream_request(self, request: TextContinuation) -> Iterator[tuple[int, str]]:
        """Each text as the terminal shows it: the prompt, the continuation as it is sampled, a line break.
        Beam search yields each finished beam whole; sample i uses seed ``seed + i``."""
        if request.num_beams > 1:
            for i, text in enumerate(self.run(request).texts):
                yield i, f"{request.prompt}{text}\n"
            return
        sampling = request.model_dump(include={"temperature", "top_k", "top_p", "repetition_penalty", "stop"})
        for i in range(request.n):
            yield i, request.prompt
            seed = None if request.seed is None else request.seed + i
            for piece in self.stream(request.prompt, request.max_new_tokens, seed=seed, **sampling):
                yield i, piece
            yield i, "\n"

    def default_filename(self, request: TextContinuation) -> str:
        return f"generate-seed{request.seed}.txt"

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
        return self._sample(torch.tensor([ids] * n), max_new_tokens, cfg, make_generator(seed), stop, use_cache)

    def _sample(self, prompt_ids: torch.Tensor, max_new_tokens: int, cfg: SamplingConfig, generator: Any,
                stop: Sequence[str], use_cache: bool = True) -> list[str]:  # fmt: skip
        """The continuation of every row of ``prompt_ids`` (B, T), each cut before its first stop sequence."""
        tok = self.model.tokenizer
        n = prompt_ids.shape[0]
        rows: list[list[int]] = [[] for _ in range(n)]
        done = [False] * n
        steps = sample_tokens(
            self.model, prompt_ids, max_new_tokens, cfg.processors(), cfg.greedy, generator, use_cache
        )
        for tokens in steps:
            for i, t in enumerate(tokens.tolist()):
                if not done[i]:
                    rows[i].append(t)
                    done[i] = bool(stop) and find_stop(tok.decode(rows[i]), stop) is not None
            if all(done):
                break
        return [_cut(tok.decode(r), stop) for r in rows]

    def batch_key(self, request: TextContinuation):
        """Single sampled texts batch with others of the same prompt length and sampling options (each row keeps
        its own seed's random stream, so a text is the same in a batch as alone); beams and ``n`` > 1 do not."""
        if request.num_beams > 1 or request.n != 1:
            return None
        ids = self.encode_prompt(request.prompt)
        options = request.model_dump(include={"max_new_tokens", "temperature", "top_k", "top_p", "repetition_penalty"})
        return (len(ids), tuple(sorted(options.items())), tuple(request.stop))

    def run_batch(self, requests: list[TextContinuation]) -> list[TextOutput]:
        """One sampling loop over the prompts of ``requests`` (same :meth:`batch_key`), one generator per row."""
        if len(requests) == 1:
            return [self.run(requests[0])]
        first = requests[0]
        cfg = SamplingConfig(first.temperature, first.top_k, first.top_p, first.repetition_penalty)
        prompt_ids = torch.tensor([self.encode_prompt(r.prompt) for r in requests])
        generators = [make_generator(r.seed) for r in requests]
        texts = self._sample(prompt_ids, first.max_new_tokens, cfg, generators, first.stop)
        return [TextOutput([t], r.prompt) for t, r in zip(texts, requests, strict=True)]

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


class PoemRequest(Request):
    """Options of ``genlab poem``."""

    form: POEM_FORM_NAMES = Field("wuyan-jueju", description="the poem's form")
    acrostic: str | None = Field(None, description="藏头诗: the first character of every line")
    rhyme: bool = Field(False, description="the even lines end in one rhyme group")
    n: int = Field(1, ge=1, description="number of poems")
    temperature: float = Field(0.8, gt=0, description="sampling temperature")
    top_k: int | None = Field(None, ge=1, description="sample among the k most likely characters")


@register_pipeline("text/poem")
class PoemPipeline(Pipeline):
    """Chinese classical poems whose form (and acrostic/rhyme) holds by construction."""

    task = TASK
    verb = "poem"
    description = "write Chinese classical poems whose form (and acrostic/rhyme) holds by construction"
    request_class = PoemRequest
    output_class = TextOutput

    model_hint = "train a character-level model on poems (--tokenizer char, builtin:tang-poems)"

    @classmethod
    def model_problem(cls, model) -> str | None:
        if model.config.tokenizer.get("type") != "char":
            return f"`genlab poem` needs a character-level model; {model.registry_name} uses a subword tokenizer"
        return None

    def run(self, request: PoemRequest) -> TextOutput:
        from genlab.text.poems import get_form, split_lines

        width = get_form(request.form).chars_per_line
        texts = TextGenerationPipeline(self.model).poem(**request.model_dump())
        couplets = []
        for text in texts:
            lines = split_lines(text, width)
            couplets.append("\n".join(a + b for a, b in zip(lines[::2], lines[1::2], strict=True)) + "\n")
        return TextOutput(couplets, headers=False)

    def default_filename(self, request: PoemRequest) -> str:
        return f"poem-seed{request.seed}.txt"


def _cut(text: str, stop: Sequence[str]) -> str:
    cut = find_stop(text, stop)
    return text if cut is None else text[:cut]
