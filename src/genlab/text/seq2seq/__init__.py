"""Sequence-to-sequence text: encoder–decoder models, the ``seq2seq`` and ``summarization`` tasks.

>>> pipe = genlab.load("runs/seq2seq/numbers")
>>> pipe("twelve", num_beams=4)
['12']

Modules: :mod:`.base` (ids, generation and loss every encoder–decoder shares), :mod:`.model`
(``text/transformer-seq2seq``), :mod:`.recurrent` (``text/gru-attention``), :mod:`.pointer`
(``text/pointer-generator``), :mod:`.data` (pairs from JSONL/CSV/TSV, SciTLDR), :mod:`.task` (the two tasks),
:mod:`.evaluation` (ROUGE, BLEU, exact match, baselines), :mod:`.pipelines` (``genlab transform``,
``genlab summarize --model RUN``).
"""

from genlab.text.seq2seq import model, pointer, recurrent, task  # noqa: F401  (registers the models, tasks, pipelines, metrics)
from genlab.text.seq2seq.base import EncoderDecoderConfig, EncoderDecoderModel
from genlab.text.seq2seq.data import Pair, PairSet, read_pairs
from genlab.text.seq2seq.model import Seq2SeqConfig, TransformerSeq2Seq
from genlab.text.seq2seq.pipelines import AbstractiveSummarizePipeline, TransformPipeline
from genlab.text.seq2seq.pointer import PointerGenerator, PointerGeneratorConfig
from genlab.text.seq2seq.recurrent import GRUAttentionSeq2Seq, RecurrentSeq2SeqConfig

__all__ = [
    "AbstractiveSummarizePipeline", "EncoderDecoderConfig", "EncoderDecoderModel", "GRUAttentionSeq2Seq", "Pair",
    "PairSet", "PointerGenerator", "PointerGeneratorConfig", "RecurrentSeq2SeqConfig", "Seq2SeqConfig",
    "TransformPipeline", "TransformerSeq2Seq", "read_pairs",
]  # fmt: skip
