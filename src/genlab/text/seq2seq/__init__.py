"""Sequence-to-sequence text: an encoder–decoder transformer, the ``seq2seq`` and ``summarization`` tasks.

>>> pipe = genlab.load("runs/seq2seq/numbers")
>>> pipe("twelve", num_beams=4)
['12']

Modules: :mod:`.model` (``text/transformer-seq2seq``), :mod:`.data` (pairs from JSONL/CSV/TSV, SciTLDR),
:mod:`.task` (the two tasks), :mod:`.evaluation` (ROUGE, BLEU, exact match, baselines), :mod:`.pipelines`
(``genlab transform``, ``genlab summarize --model RUN``).
"""

from genlab.text.seq2seq import model, task  # noqa: F401  (registers the model, tasks, pipelines and metrics)
from genlab.text.seq2seq.data import Pair, PairSet, read_pairs
from genlab.text.seq2seq.model import Seq2SeqConfig, TransformerSeq2Seq
from genlab.text.seq2seq.pipelines import AbstractiveSummarizePipeline, TransformPipeline

__all__ = [
    "AbstractiveSummarizePipeline", "Pair", "PairSet", "Seq2SeqConfig", "TransformPipeline", "TransformerSeq2Seq",
    "read_pairs",
]  # fmt: skip
