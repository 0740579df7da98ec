"""Summarization benchmark: extractive methods on SciTLDR-A dev, scored with ROUGE against the TLDRs.

    python -m benchmarks.summarization            # SciTLDR-A dev (../shared/data/summarization or --data-dir)
    python -m benchmarks.summarization --quick    # a tiny built-in set: a smoke check, not a result

Each of the 619 dev papers' abstract sentences (SciTLDR's ``source``, as split by its authors) is summarised
by one sentence: ``lead-1`` (the first sentence), ``textrank`` and ``mmr`` (λ = 0.7) over TF-IDF similarity
and, when the optional encoder is installed, over MiniLM sentence embeddings (``textrank-embedding``,
``mmr-embedding``), and ``oracle`` (the sentence with the best mean ROUGE against the paper's own references:
the upper bound of any one-sentence extract). ROUGE-1/2/L are F1 in 0–100 (rouge-score's tokenisation with
Porter stemming, :mod:`genlab.text.rouge`), each item scored against the best of its 1–4 reference TLDRs (the
reference with the highest ROUGE-1, as SciTLDR's evaluation script picks it), averaged over the items.
``novel_bigram_ratio`` is the share of summary bigrams absent from the abstract (0 for any extract); the file
also records it for the reference TLDRs. No method trains: ``train_minutes`` is null.

``--train MODEL --budget 60`` also trains an abstractive model (transformer-seq2seq, gru-attention or
pointer-generator; ``genlab train summarization --data scitldr``: the 1,992 training papers, first TLDR as
target, dev as validation; ``--set`` overrides, e.g. ``data.augment=principal-sentence``) for ``--budget``
CPU minutes and summarises every dev abstract with beam search (``--beam``, no repeated trigram, at most
``--max-new-tokens``); its row records ``train_minutes``, ``steps``, the overrides and the decoding options.
``--set data.guidance=textrank`` trains a guided model (GSum, Dou et al. 2021): it reads every abstract led by
the abstract's TextRank sentence, in training and when it summarises; ``--set data.scaffold_field=title`` also
trains on the papers' titles as a scaffold task marked by control codes (CATTS: Cachola et al. 2020).

Writes ``benchmarks/results/summarization.json`` (``--quick``: ``summarization-quick.json``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from benchmarks import common

MODULE = "benchmarks.summarization"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
#: Row name → (method, sentence similarity); the embedding rows need the optional MiniLM encoder.
METHODS = {
    "lead-1": ("lead", "tfidf"), "textrank": ("textrank", "tfidf"), "mmr": ("mmr", "tfidf"),
    "oracle": ("oracle", "tfidf"), "textrank-embedding": ("textrank", "embedding"),
    "mmr-embedding": ("mmr", "embedding"),
}  # fmt: skip
SENTENCES = 1
TRAINABLE = ["transformer-seq2seq", "gru-attention", "pointer-generator"]

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
    """Rows of one model, data, budget and overrides replace each other; ``variant`` names code that has changed
    since a row was measured (the row kept beside the current one)."""
    return (
        r["model"],
        r["dataset"],
        r.get("split"),
        r.get("budget_minutes"),
        str(r.get("overrides")),
        r.get("variant"),
    )


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
    from genlab.text.metrics import embedding_available
    from genlab.text.summarize import extract

    rows = []
    for name, (method, similarity) in METHODS.items():
        if similarity == "embedding" and not embedding_available():
            print(f"skip {name}: the sentence encoder is not installed (genlab[text-embed])")
            continue
        start = time.perf_counter()
        summaries = [
            extract(it.source, method, k=SENTENCES, language="en", mmr_lambda=mmr_lambda,
                    references=it.targets if method == "oracle" else None, similarity=similarity).text
            for it in items
        ]  # fmt: skip
        seconds = time.perf_counter() - start
        row = {"dataset": dataset, "split": split, "budget_minutes": None, **score(name, summaries, items)}
        row |= {"n_items": len(items), "sentences": SENTENCES, "seconds": round(seconds, 2)}
        if method in ("textrank", "mmr"):
            row["similarity"] = similarity
        if method == "mmr":
            row["mmr_lambda"] = mmr_lambda
        rows.append(row)
        print({k: row[k] for k in ("model", "rouge1", "rouge2", "rougeL", "novel_bigram_ratio", "seconds")})
    return rows


def trained_row(args: argparse.Namespace, items: list[Any], dataset: str, split: str, runs_dir: Path) -> dict:
    """Train ``args.train`` on the SciTLDR training papers for ``args.budget`` minutes, then summarise ``items``."""
    import genlab

    options = {"data_dir": args.data_dir} if not args.quick else {"source": str(quick_pairs(runs_dir))}
    res = genlab.train("summarization", args.train, "scitldr" if not args.quick else options.pop("source"),
                       f"{args.train}-{args.budget:g}m", runs_dir=runs_dir, max_minutes=args.budget,
                       progress=False, threads=args.threads, overrides=list(args.overrides),
                       data_options=options)  # fmt: skip
    model = genlab.load(res.run.path).model
    decode = {"num_beams": args.beam, "no_repeat_ngram": 3, "max_new_tokens": args.max_new_tokens}
    start = time.perf_counter()
    summaries = model.generate([it.document for it in items], **decode)
    seconds = time.perf_counter() - start
    row = {"dataset": dataset, "split": split, "budget_minutes": args.budget, **score(args.train, summaries, items)}
    row |= {"train_minutes": round(res.minutes, 2), "steps": res.steps, "n_items": len(items), **decode,
            "seconds": round(seconds, 2), "overrides": list(args.overrides), "example": summaries[0]}  # fmt: skip
    print({k: row[k] for k in ("model", "rouge1", "rouge2", "rougeL", "novel_bigram_ratio", "train_minutes")})
    return row


def quick_pairs(folder: Path) -> Path:
    """The --quick items as a JSONL pairs file (first reference as target)."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "quick-pairs.jsonl"
    lines = [json.dumps({"source": " ".join(it["source"]), "target": it["target"][0]}) for it in QUICK_ITEMS * 4]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0])
    common.add_common_arguments(p, "three built-in items: a smoke check, not a result")
    p.add_argument("--data-dir", default=str(SHARED), help="folder holding summarization/{split}.jsonl")
    p.add_argument("--split", default="dev", choices=["train", "dev", "test"], help="SciTLDR-A split to score")
    p.add_argument("--mmr-lambda", type=float, default=0.7, help="MMR's weight of relevance against redundancy")
    p.add_argument("--train", choices=TRAINABLE, help="also train this abstractive model and score it")
    p.add_argument("--budget", type=float, default=60.0, help="training minutes of --train")
    p.add_argument("--beam", type=int, default=4, help="beam width of the trained model's summaries")
    p.add_argument("--max-new-tokens", type=int, default=48, help="tokens generated at most per summary")
    p.add_argument("--set", dest="overrides", action="append", default=[], help="config override of --train")
    args = p.parse_args(argv)
    common.set_threads(args.threads)
    items, dataset, split, skipped = load_items(args)
    if args.quick:
        args.budget, args.max_new_tokens = 0.05, 8
        args.overrides += ["model.d_model=32", "model.n_encoder_layers=1", "model.n_decoder_layers=1",
                           "data.vocab_size=300"]  # fmt: skip
    rows = [r | {"skipped_lines": skipped} for r in measure(items, dataset, split, args.mmr_lambda)]
    if args.train:
        with common.runs_folder(args.runs_dir) as runs_dir:
            rows.append(trained_row(args, items, dataset, split, runs_dir) | {"skipped_lines": skipped})
    commit = common.git_commit()
    for r in rows:
        r |= {"threads": args.threads, "load_average": common.load_average(), "commit": commit}
    name = "summarization-quick" if args.quick else "summarization"
    extra = {
        "rouge_scale": "F1 in 0-100; best of each item's references (the one with the highest ROUGE-1)",
        "reference_summaries": reference_stats(items),
    }
    out = common.save_rows(name, rows, MODULE, argv, row_key, args.out_dir, **extra)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
