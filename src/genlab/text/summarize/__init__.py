"""Extractive summarisation of English and Chinese documents, and the ``genlab summarize`` command.

>>> from genlab.text.summarize import summarize
>>> summarize(text, method="textrank", sentences=3)

Methods (:mod:`.methods`): ``lead``, ``textrank`` (Mihalcea & Tarau 2004), ``mmr`` (Carbonell &
Goldstein 1998) and ``oracle`` (greedy ROUGE against known references: an upper bound). Sentence
splitting: :mod:`.sentences`; input checks and the 1 MB limit: :mod:`.document`; abstractiveness and
length metrics: :mod:`.metrics`; ROUGE: :mod:`genlab.text.rouge`.
"""

from genlab.text.summarize.extractive import METHODS, Summary, extract, summarize, summarize_document
from genlab.text.summarize.pipeline import SummarizePipeline, SummaryOutput
from genlab.text.summarize.sentences import split_sentences

__all__ = [
    "METHODS", "Summary", "SummarizePipeline", "SummaryOutput", "extract", "split_sentences", "summarize",
    "summarize_document",
]  # fmt: skip
