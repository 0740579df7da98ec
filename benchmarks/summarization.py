"""Summarization benchmark: extractive methods on SciTLDR-A dev, scored with ROUGE against the TLDRs.

    python -m benchmarks.summarization            # SciTLDR-A dev (../shared/data/summarization or --data-dir)
    python -m benchmarks.summarization --quick    # a tiny built-in set: a smoke check, not a result

Each of the 619 dev papers' abstract sentences (SciTLDR's ``source``, as split by its authors) is
summarised by one sentence: ``lead-1`` (the first sentence), ``textrank`` and ``mmr`` (λ = 0.7), and
``oracle`` (the sentence with the best mean ROUGE against the paper's own references: the upper bound
of any one-sentence extract). ROUGE-1/2/L are F1 in 0–100 (rouge-score's tokenisation with Porter
stemming, :mod:`genlab.text.rouge`), each item scored against the best of its 1–4 reference TLDRs
(the reference with the highest ROUGE-1, as SciTLDR's evaluation script picks it), averaged over the
items. ``novel_bigram_ratio`` is the share of summary bigrams absent from the abstract (0 for any
extract); the file also records it for the reference TLDRs. No method trains: ``train_minutes`` is
null. Writes ``benchmarks/results/summarization.json`` (``--quick``: ``summarization-quick.json``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from benchmarks import common

MODULE = "benchmarks.summarization"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
METHODS = {"lead-1": "lead", "textrank": "textrank", "mmr": "mmr", "oracle": "oracle"}
SENTENCES = 1

#: The --quick set: short made-up abstracts with made-up one-line summaries (no data files needed).
QUICK_ITEMS = [
    {
        "source": [
            "Training large language models is expensive.",
            "We propose a pruning method that removes attention heads during training.",
            "Pruned models keep their accuracy while training twice as fast.",
            "Code is available online.",
        ],
        "target": ["A pruning method removes attention heads during training and halves the training time."],
    },
    {
        "source": [
            "Graph neural networks struggle on very large graphs.",
            "Sampling neighbours reduces memory but adds variance.",
            "We introduce a variance-reduced sampler for graph neural networks.",
            "It matches full-batch accuracy on three large graphs.",
        ],
        "target": ["A variance-reduced neighbour sampler for large graph neural networks.",
                   "Sampling with less variance lets graph networks scale."],
    },
    {
        "source": [
            "Speech enhancement removes noise from recordings.",
            "Most methods need paired clean and noisy speech.",
            "We train a denoiser from noisy speech alone by predicting one noisy copy from another.",
        ],
        "target": ["A speech denoiser trained on noisy recordings only."],
    },
]  # fmt: skip


def row_key(r: dict[str, Any]) -> tuple:
    return (r["model"], r["dataset"], r.get("split"))


def load_items(args: argparse.Namespace) -> tuple[list[Any], str, str, int]:
    """The items to summarise, the dataset name, the split and the count of skipped lines."""
    from genlab.text.datasets import SummarizationItem, load_scitldr

    if args.quick:
        return [SummarizationItem(it["source"], it["target"]) for it in QUICK_ITEMS], "builtin-quick", "all", 0
    items = load_scitldr(args.split, args.data_dir, download=False)
    return list(items), "scitldr-a", args.split, len(items.skipped)


def score(name: str, summaries: list[str], items: list[Any]) -> dict[str, Any]:
    """The row fields of one method's summaries: ROUGE (0–100), novel bigrams, lengths."""
    from genlab.text.rouge import corpus_rouge
    from genlab.text.summarize.metrics import length_stats, mean_novel_ngram_ratio

    rouge = corpus_rouge(summaries, [it.targets for it in items], language="en", select="rouge1")
    novel = mean_novel_ngram_ratio(summaries, [it.document for it in items], 2, language="en")
    lengths = length_stats(summaries, [it.document for it in items], language="en")
    return {
        "model": name, "rouge1": round(100 * rouge["rouge1"], 2), "rouge2": round(100 * rouge["rouge2"], 2),
        "rougeL": round(100 * rouge["rougeL"], 2), "novel_bigram_ratio": None if novel is None else round(novel, 4),
        "train_minutes": None, "summary_words_mean": round(lengths["length_mean"], 1),
        "compression": round(lengths["compression"], 3),
    }  # fmt: skip


def reference_stats(items: list[Any]) -> dict[str, Any]:
    """How abstractive and how long the reference summaries themselves are (every reference counted)."""
    from genlab.text.summarize.metrics import length_stats, mean_novel_ngram_ratio

    refs = [t for it in items for t in it.targets]
    docs = [it.document for it in items for _ in it.targets]
    novel = mean_novel_ngram_ratio(refs, docs, 2, language="en")
    return {
        "references": len(refs),
        "novel_bigram_ratio": None if novel is None else round(novel, 4),
        "words_mean": round(length_stats(refs, language="en")["length_mean"], 1),
    }


def measure(items: list[Any], dataset: str, split: str, mmr_lambda: float = 0.7) -> list[dict[str, Any]]:
    """One row per method: one-sentence summaries of every item, scored against its references."""
    from genlab.text.summarize import extract

    rows = []
    for name, method in METHODS.items():
        start = time.perf_counter()
        summaries = [
            extract(it.source, method, k=SENTENCES, language="en", mmr_lambda=mmr_lambda,
                    references=it.targets if method == "oracle" else None).text
            for it in items
        ]  # fmt: skip
        seconds = time.perf_counter() - start
        row = {"dataset": dataset, "split": split, "budget_minutes": None, **score(name, summaries, items)}
        row |= {"n_items": len(items), "sentences": SENTENCES, "seconds": round(seconds, 2)}
        if method == "mmr":
            row["mmr_lambda"] = mmr_lambda
        rows.append(row)
        print({k: row[k] for k in ("model", "rouge1", "rouge2", "rougeL", "novel_bigram_ratio", "seconds")})
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0])
    common.add_common_arguments(p, "three built-in items: a smoke check, not a result", runs=False)
    p.add_argument("--data-dir", default=str(SHARED), help="folder holding summarization/{split}.jsonl")
    p.add_argument("--split", default="dev", choices=["train", "dev", "test"], help="SciTLDR-A split to score")
    p.add_argument("--mmr-lambda", type=float, default=0.7, help="MMR's weight of relevance against redundancy")
    args = p.parse_args(argv)
    common.set_threads(args.threads)
    items, dataset, split, skipped = load_items(args)
    rows = [r | {"skipped_lines": skipped} for r in measure(items, dataset, split, args.mmr_lambda)]
    name = "summarization-quick" if args.quick else "summarization"
    extra = {
        "rouge_scale": "F1 in 0-100; best of each item's references (the one with the highest ROUGE-1)",
        "reference_summaries": reference_stats(items),
    }
    out = common.save_rows(name, rows, MODULE, argv, row_key, args.out_dir, **extra)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
