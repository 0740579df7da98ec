"""The ``summarize`` verb: extractive summaries of a text file, with no model.

``genlab summarize report.txt`` prints a 3-sentence TextRank summary; ``genlab summarize report.txt
summary.txt --method mmr --max-words 60`` writes one. The pipeline belongs to the ``summarization``
task; being model-free it runs without a run. Given a run (``genlab summarize paper.txt --model RUN``),
the verb is answered by the trained abstractive summarizer instead
(:class:`genlab.text.seq2seq.pipelines.AbstractiveSummarizePipeline`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field

from genlab.core.io import atomic_write_text
from genlab.core.pipeline import Output, Pipeline, Request, register_pipeline
from genlab.text.summarize.extractive import DEFAULT_MMR_LAMBDA, Summary

TASK = "summarization"


class SummarizeRequest(Request):
    """Options of ``genlab summarize``."""

    document: str = Field(
        ...,
        description="the text file to summarise (- reads standard input)",
        json_schema_extra={"file": "text", "positional": True},
    )
    method: Literal["lead", "textrank", "mmr"] = Field(
        "textrank", description="lead: first sentences; textrank: most central; mmr: relevant and non-redundant"
    )
    sentences: int | None = Field(None, ge=1, le=10_000, description="sentences in the summary (default 3)")
    max_words: int | None = Field(
        None, ge=1, le=1_000_000, description="at most this many words instead (Chinese: characters)"
    )
    language: Literal["auto", "en", "zh"] = Field("auto", description="the document's language (auto: detected)")
    mmr_lambda: float = Field(
        DEFAULT_MMR_LAMBDA, ge=0, le=1, description="mmr: weight of relevance against redundancy (1: relevance only)"
    )
    similarity: Literal["tfidf", "embedding"] = Field(
        "tfidf",
        description="textrank/mmr sentence similarity: tfidf, or embedding (English; offline MiniLM, "
        "needs genlab[text-embed])",
    )
    encoding: str = Field("utf-8", description="text encoding of the file (gb18030, latin-1, …)")
    seed: int | None = Field(
        None, description="unused: the methods are deterministic", json_schema_extra={"cli": False}
    )


def summary_filename(document: str) -> str:
    """``report-summary.txt`` for ``report.txt``; ``document-summary.txt`` for standard input (``-``)."""
    return f"{'document' if document == '-' else Path(document).stem}-summary.txt"


class SummaryOutput(Output):
    """An extractive summary: printed on a terminal, saved as ``.txt`` (or ``.json`` with the sentence indices)."""

    formats = {"txt": "text/plain; charset=utf-8", "json": "application/json"}
    suffix = ".txt"

    def __init__(self, summary: Summary):
        self.summary = summary

    def text(self) -> str:
        return self.summary.text + "\n"

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        if path.is_dir():
            path = path / f"summary{self.suffix}"
        atomic_write_text(path, self.encode("json" if path.suffix.lower() == ".json" else "txt").decode("utf-8"))
        return path

    def encode(self, format: str | None = None) -> bytes:
        if self.check_format(format) == "json":
            return json.dumps(self.summary.to_dict(), ensure_ascii=False, indent=2).encode("utf-8")
        return self.text().encode("utf-8")


@register_pipeline("text/summarize")
class SummarizePipeline(Pipeline):
    """Extractive summarisation (lead, TextRank, MMR) of an English or Chinese text file; needs no model."""

    task: ClassVar[str] = TASK
    verb: ClassVar[str] = "summarize"
    description: ClassVar[str] = "summarise a text file by extracting its key sentences (lead, TextRank, MMR)"
    request_class = SummarizeRequest
    output_class = SummaryOutput
    positional_out = True
    model_free = True

    @classmethod
    def model_problem(cls, model) -> str | None:
        return "the extractive methods use no model"

    model_hint = (
        "leave out the run for an extractive summary (genlab summarize FILE --method textrank), or give a run "
        "trained with `genlab train summarization`"
    )

    def default_filename(self, request: SummarizeRequest) -> str:
        return summary_filename(request.document)

    def run(self, request: SummarizeRequest) -> SummaryOutput:
        from genlab.text.summarize.document import read_document
        from genlab.text.summarize.extractive import summarize_document

        text, cut = read_document(request.document, request.encoding)
        name = "standard input" if request.document == "-" else request.document
        summary = summarize_document(
            text, request.method, request.sentences, request.max_words, request.language, request.mmr_lambda,
            name=name, cut=cut, similarity=request.similarity,
        )  # fmt: skip
        return SummaryOutput(summary)
