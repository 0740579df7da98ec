"""Inference with sequence-to-sequence models: ``genlab transform`` and ``genlab summarize --model RUN``.

``genlab transform RUN "source text" --beam 4`` prints the model's target for one source (or one per
line of ``--input FILE``); ``genlab summarize paper.txt --model RUN --beam 4 --max-words 40`` summarises a
text file with a model trained for summarization (without ``--model`` the extractive methods of
:mod:`genlab.text.summarize` answer). Decoding: greedy, sampling or beam search with a length penalty,
a no-repeat n-gram size and minimum/maximum lengths (:meth:`.EncoderDecoderModel.generate_ids`, shared by every
encoder–decoder: the transformer, the GRU with attention, the pointer-generator).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from genlab.core.errors import BadInputError
from genlab.core.pipeline import Pipeline, Request, register_pipeline
from genlab.text.language import cut_to_units, detect_language
from genlab.text.pipelines import TextOutput
from genlab.text.summarize.pipeline import summary_filename

log = logging.getLogger(__name__)
BEAM_FLAG = {"flag": "--beam"}


class DecodingOptions(Request):
    """Decoding options shared by the seq2seq verbs."""

    num_beams: int = Field(
        4, ge=1, le=64, description="beam width (1: greedy or sampling)", json_schema_extra=BEAM_FLAG
    )
    length_penalty: float = Field(1.0, ge=0, description="beam scores divided by length ** this (> 0 favours longer)")
    no_repeat_ngram: int = Field(0, ge=0, description="forbid repeating any n-gram of this size (0: allowed)")
    min_tokens: int = Field(0, ge=0, description="generate at least this many tokens")
    max_new_tokens: int | None = Field(
        None, ge=1, description="generate at most this many tokens (default: the model's)"
    )
    temperature: float = Field(0.0, ge=0, description="with --beam 1: sampling temperature (0: greedy)")
    top_k: int | None = Field(None, ge=1, description="with sampling: keep the k most likely tokens")
    top_p: float | None = Field(None, gt=0, le=1, description="with sampling: nucleus probability mass")

    def decoding(self) -> dict:
        """Keyword arguments of :meth:`~genlab.text.seq2seq.base.EncoderDecoderModel.generate_ids`."""
        return {
            "num_beams": self.num_beams, "length_penalty": self.length_penalty,
            "no_repeat_ngram": self.no_repeat_ngram, "min_new_tokens": self.min_tokens,
            "max_new_tokens": self.max_new_tokens, "temperature": self.temperature, "top_k": self.top_k,
            "top_p": self.top_p, "seed": self.seed,
        }  # fmt: skip


class TransformRequest(DecodingOptions):
    """Options of ``genlab transform``."""

    source: str = Field(
        "", description="the source text (or give --input FILE)", json_schema_extra={"positional": True}
    )
    input: Path | None = Field(
        None, description="a text file: one source per line, one output line each", json_schema_extra={"file": "text"}
    )


def _check_model(model) -> str | None:
    from genlab.text.seq2seq.base import encoder_decoder_problem

    return encoder_decoder_problem(model)


@register_pipeline("text/transform")
class TransformPipeline(Pipeline):
    """``pipe("twelve")`` → the target text of a source, with a model trained by ``genlab train seq2seq``."""

    task: ClassVar[str] = "seq2seq"
    verb: ClassVar[str] = "transform"
    description: ClassVar[str] = "turn a source text into its target with a sequence-to-sequence model"
    request_class = TransformRequest
    output_class = TextOutput

    @classmethod
    def model_problem(cls, model) -> str | None:
        return _check_model(model)

    def __call__(self, sources: str | list[str], **options) -> list[str]:
        """Targets of ``sources`` (one text or a list); options of :meth:`DecodingOptions.decoding`."""
        texts = [sources] if isinstance(sources, str) else list(sources)
        return self.model.generate(texts, **options)

    def run(self, request: TransformRequest) -> TextOutput:
        sources = _sources(request)
        return TextOutput(self(sources, **request.decoding()), headers=False)

    def default_filename(self, request: TransformRequest) -> str:
        return "transform.txt"


def _sources(request: TransformRequest) -> list[str]:
    if request.input is not None:
        if request.source:
            raise BadInputError("give the source text or --input FILE, not both")
        from genlab.text.data import read_text_file

        sources = [line.strip() for line in read_text_file(Path(request.input)).splitlines() if line.strip()]
        if not sources:
            raise BadInputError(f"{request.input} holds no source line", "put one source text per line")
        return sources
    if not request.source.strip():
        raise BadInputError("no source text", 'give it: genlab transform RUN "source text" (or --input FILE)')
    return [request.source]


class AbstractiveSummarizeRequest(DecodingOptions):
    """Options of ``genlab summarize --model RUN``."""

    document: str = Field(
        ...,
        description="the text file to summarise (- reads standard input)",
        json_schema_extra={"file": "text", "positional": True},
    )
    max_words: int | None = Field(
        None, ge=1, le=100_000, description="cut the summary to this many words (Chinese: characters)"
    )
    no_repeat_ngram: int = Field(3, ge=0, description="forbid repeating any n-gram of this size (0: allowed)")
    encoding: str = Field("utf-8", description="text encoding of the file (gb18030, latin-1, …)")


@register_pipeline("text/summarize-abstractive")
class AbstractiveSummarizePipeline(Pipeline):
    """Abstractive summaries of a text file by a model trained with ``genlab train summarization``."""

    task: ClassVar[str] = "summarization"
    verb: ClassVar[str] = "summarize"
    description: ClassVar[str] = "summarise a text file with a trained summarization model (beam search)"
    request_class = AbstractiveSummarizeRequest
    output_class = TextOutput
    positional_out = True

    @classmethod
    def model_problem(cls, model) -> str | None:
        return _check_model(model)

    def default_filename(self, request: AbstractiveSummarizeRequest) -> str:
        return summary_filename(request.document)

    def __call__(self, text: str, max_words: int | None = None, **options) -> str:
        """The summary of ``text`` (options of :meth:`DecodingOptions.decoding`)."""
        text = " ".join(text.split())
        if not text:
            raise BadInputError("the document is empty", "give a file with some text in it")
        n_tokens = len(self.model.tokenizer.encode(text)) if self.model.tokenizer.kind == "bpe" else len(text)
        limit = self.model.config.max_source_length
        if n_tokens > limit:
            log.warning("the document has %d tokens; the model reads the first %d", n_tokens, limit)
        summary = self.model.generate([text], **options)[0].strip()
        return cut_words(summary, max_words) if max_words else summary

    def run(self, request: AbstractiveSummarizeRequest) -> TextOutput:
        from genlab.text.summarize.document import read_document

        text, cut = read_document(request.document, request.encoding)
        if cut:
            log.warning("%s is over 1 MB: only its beginning is read", request.document)
        return TextOutput([self(text, request.max_words, **request.decoding())], headers=False)


def cut_words(text: str, max_words: int) -> str:
    """The first ``max_words`` length units of ``text``: words, or characters for Chinese (the units of the
    extractive summaries' ``--max-words``, :func:`genlab.text.language.cut_to_units`)."""
    return cut_to_units(text, max_words, detect_language(text))
