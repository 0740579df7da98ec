"""Dialogue benchmark: FAQ retrieval (hits@1, MRR) of the chat bot's retrieval layer on the shipped example FAQs.

    python -m benchmarks.dialogue                 # bm25, and embedding + hybrid when the sentence encoder is installed
    python -m benchmarks.dialogue --quick         # bm25 only: seconds (writes dialogue-quick.json)

Protocol. Each shipped FAQ (``builtin:faq-en``: 28 entries, ``builtin:faq-zh``: 16) is asked its held-out test
set (``src/genlab/text/data/faq-*-test.jsonl``): paraphrases written apart from the FAQ, in other words than its
own paraphrases (98 English, 32 Chinese), and out-of-scope questions (20 and 10) it should not answer.
``hits_at_1`` and ``mrr`` (:func:`genlab.text.dialogue.faq_retrieval_scores`) rank the entries by confidence.

Tuning never sees the test sets. The development set is the FAQ's own wordings, each asked of the FAQ without
that wording (leave one out: ``dev_hits_at_1``), with the out-of-scope questions of :data:`TUNING_OUT_OF_SCOPE`;
for the English FAQ also ``dev_paraphrases_hits_at_1``, on 100 paraphrases written apart from the FAQ and its
test set (``src/genlab/text/data/faq-en-dev.jsonl``).
``dev_threshold`` is the confidence threshold that maximises Youden's J of answering there
(:func:`genlab.text.dialogue.evaluation.tune_threshold`); ``dev_threshold_pooled`` is the same over the
development sets of all datasets run, and the retrievers' default thresholds (:mod:`genlab.text.dialogue.retrieval`)
are these values. ``threshold`` is the default a row used; at it, ``answered_correct`` and ``answered_wrong`` are
the shares of in-scope test questions answered with the right and with a wrong entry, ``out_of_scope_refused``
the share of out-of-scope ones sent to the fallback.
``bleu`` and ``distinct_2`` belong to generative dialogue models (none yet): null in these rows.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from benchmarks import common

MODULE = "benchmarks.dialogue"
DATASETS = {"faq-en": "builtin:faq-en", "faq-zh": "builtin:faq-zh"}

#: Out-of-scope questions for tuning the threshold (the test sets hold other ones).
TUNING_OUT_OF_SCOPE = {
    "faq-en": [
        "what is the best smartphone this year?", "how tall is Mount Everest?", "can you help me with my homework?",
        "what's the time in Tokyo?", "do you like music?", "who wrote Hamlet?", "how do I cook rice?",
        "will it rain this weekend?", "what is machine learning?", "sing me a song", "how far is the moon?",
        "what should I name my dog?", "is coffee bad for you?", "do you sell cars?", "what's the news today?",
        "how many legs does a spider have?", "what is your opinion on politics?", "book me a flight to Paris",
        "which team will win the league?", "are you a robot?",
    ],
    "faq-zh": [
        "今天是星期几？", "上海到北京多远？", "你喜欢什么音乐？", "怎么做红烧肉？", "这周末会下雨吗？",
        "帮我订一张机票", "什么是人工智能？", "你是机器人吗？", "哪个球队会赢？", "月亮离地球多远？",
    ],
}  # fmt: skip


def row_key(r: dict[str, Any]) -> tuple:
    return (r["model"], r["dataset"])


def evaluate(dataset: str, retriever_name: str) -> tuple[dict[str, Any], list, list]:
    """One row (test hits@1/MRR, the answering shares at the default threshold, the development figures), and
    the development confidences: (confidence, right?) of the held-out wordings, and those of out-of-scope ones."""
    from genlab.text.dialogue import build_retriever, faq_retrieval_scores, load_faq, load_test_pairs
    from genlab.text.dialogue.evaluation import (
        confidences,
        leave_one_out_confidences,
        threshold_scores,
        tune_threshold,
    )
    from genlab.text.dialogue.faq import BUILTIN_DEV
    from genlab.text.dialogue.retrieval import forget_embeddings

    faq = load_faq(DATASETS[dataset])
    pairs = load_test_pairs(DATASETS[dataset])
    retriever = build_retriever(retriever_name, faq.entries)
    retriever.scores("a first message")  # warm-up, so the timing below is of answering alone
    forget_embeddings()  # each query is encoded again: earlier rows must not time cache lookups
    start = time.perf_counter()
    scores = faq_retrieval_scores(faq, pairs, retriever)
    ms_per_query = (time.perf_counter() - start) * 1000 / scores["n"]
    inside, outside = confidences(faq, pairs, retriever)
    at_default = threshold_scores(inside, outside, retriever.default_threshold)
    dev = leave_one_out_confidences(faq, retriever_name)
    dev_paraphrases = BUILTIN_DEV.get(DATASETS[dataset])  # None: this FAQ has no such set
    paraphrase_hits = dev_paraphrases and faq_retrieval_scores(faq, load_test_pairs(dev_paraphrases), retriever)
    _, dev_outside = confidences(faq, [(q, None) for q in TUNING_OUT_OF_SCOPE[dataset]], retriever)
    row = {
        "model": retriever_name,
        "dataset": dataset,
        "budget_minutes": None,
        "hits_at_1": round(scores["hits_at_1"], 4),
        "mrr": round(scores["mrr"], 4),
        "n": scores["n"],
        "bleu": None,
        "distinct_2": None,
        "threshold": retriever.default_threshold,
        **{k: round(v, 4) for k, v in at_default.items()},
        "n_out_of_scope": len(outside),
        "dev_hits_at_1": round(sum(ok for _, ok in dev) / len(dev), 4),
        "dev_n": len(dev),
        "dev_threshold": tune_threshold(dev, dev_outside),
        "dev_paraphrases_hits_at_1": round(paraphrase_hits["hits_at_1"], 4) if paraphrase_hits else None,
        "ms_per_query": round(ms_per_query, 2),
        "load_average": common.load_average(),  # other processes slow the timing down by an unknown amount
    }
    if retriever_name != "bm25":
        from genlab.text.metrics import EMBEDDING_MODEL, EMBEDDING_PACKAGE, _sentence_encoder

        row["encoder"] = f"{EMBEDDING_MODEL} ({EMBEDDING_PACKAGE})"
        row["encoder_sha256"] = _sentence_encoder()[1]
    return row, dev, dev_outside


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0])
    common.add_common_arguments(p, "bm25 only (seconds): a smoke check", runs=False)
    p.add_argument("--datasets", nargs="+", choices=list(DATASETS), default=list(DATASETS))
    p.add_argument("--retrievers", nargs="+", choices=["bm25", "embedding", "hybrid"], default=None)
    args = p.parse_args(argv)
    common.set_threads(args.threads)
    from genlab.text.dialogue import embedding_available
    from genlab.text.dialogue.evaluation import tune_threshold

    retrievers = args.retrievers or (["bm25"] if args.quick else ["bm25", "embedding", "hybrid"])
    rows, development = [], {}
    for dataset in args.datasets:
        for name in retrievers:
            if name != "bm25" and (dataset == "faq-zh" or not embedding_available()):
                why = "English-only encoder" if dataset == "faq-zh" else "sentence encoder not installed"
                print(f"skip {name} on {dataset}: {why}")
                continue
            row, dev, dev_outside = evaluate(dataset, name)
            pooled = development.setdefault(name, ([], []))
            pooled[0].extend(dev)
            pooled[1].extend(dev_outside)
            print(f"{name:9} {dataset}: hits@1 {row['hits_at_1']:.3f}  MRR {row['mrr']:.3f}  (n={row['n']}; "
                  f"dev hits@1 {row['dev_hits_at_1']:.3f}, dev threshold {row['dev_threshold']:.2f})")  # fmt: skip
            rows.append(row)
    for row in rows:  # the default thresholds come from the development sets of every dataset together
        row["dev_threshold_pooled"] = tune_threshold(*development[row["model"]])
    for name, (dev, outside) in development.items():
        print(f"{name}: threshold tuned on the development sets of {', '.join(args.datasets)}: "
              f"{tune_threshold(dev, outside):.2f}")  # fmt: skip
    name = "dialogue-quick" if args.quick else "dialogue"
    out = common.save_rows(name, rows, MODULE, argv, row_key, args.out_dir, order=row_key)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
