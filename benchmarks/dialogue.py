"""Dialogue benchmark: FAQ retrieval (hits@1, MRR) of the chat bot's retrieval layer on the shipped example FAQs, and
generated replies (BLEU, distinct-2) on DailyDialog's test split.

    python -m benchmarks.dialogue                 # bm25, and embedding + hybrid when the encoders are installed
    python -m benchmarks.dialogue --quick         # bm25 only: seconds (writes dialogue-quick.json)
    python -m benchmarks.dialogue --part dailydialog                                       # the baselines: a minute
    python -m benchmarks.dialogue --part dailydialog --train transformer-seq2seq --budget 60   # + a trained model

Protocol. Each shipped FAQ (``builtin:faq-en``: 28 entries, ``builtin:faq-zh``: 16) is asked its held-out test
set (``src/genlab/text/data/faq-*-test.jsonl``): paraphrases written apart from the FAQ, in other words than its
own paraphrases (98 English, 32 Chinese), and out-of-scope questions (20 and 10) it should not answer.
``hits_at_1`` and ``mrr`` (:func:`genlab.text.dialogue.faq_retrieval_scores`) rank the entries by confidence.

Tuning never sees the test sets. The development set is the FAQ's own wordings, each asked of the FAQ without
that wording (leave one out: ``dev_hits_at_1``), with the out-of-scope questions of :data:`TUNING_OUT_OF_SCOPE`;
also ``dev_paraphrases_hits_at_1``, on paraphrases written apart from the FAQ and its test set (100 English, 48
Chinese: ``src/genlab/text/data/faq-*-dev.jsonl``).
The embedding and hybrid rows name their ``encoder`` (all-MiniLM-L6-v2 for English, the multilingual Universal
Sentence Encoder for Chinese: :data:`genlab.text.dialogue.retrieval.ENCODERS`) and its weights' sha256.
``dev_threshold`` is the confidence threshold that maximises Youden's J of answering there
(:func:`genlab.text.dialogue.evaluation.tune_threshold`); ``dev_threshold_pooled`` is the same over the
development sets of all datasets run with the same retriever and encoder, and the retrievers' default thresholds
(:mod:`genlab.text.dialogue.retrieval`) are these values. ``threshold`` is the default a row used; at it,
``answered_correct`` and ``answered_wrong`` are the shares of in-scope test questions answered with the right and
with a wrong entry, ``out_of_scope_refused`` the share of out-of-scope ones sent to the fallback.
``bleu`` and ``distinct_2`` belong to generative dialogue models: null in these rows.

DailyDialog (``--part dailydialog``; Li et al. 2017, the official splits as ConvLab-3 publishes them, read from
``--data-dir``/dialogue). Every test dialogue gives one (context → response) pair per turn after the first, the
context being the three turns before it joined by " | " (6,740 pairs). Replies are scored against the response that
followed, one reference each (:func:`genlab.text.dialogue.generation.response_scores`): ``bleu`` is sacreBLEU's
corpus BLEU (13a tokens), ``distinct_1``/``distinct_2`` the share of distinct word unigrams/bigrams over all replies
(Li et al. 2016), ``length_mean`` words per reply; ``reference_distinct_2`` and ``reference_length_mean`` are the
same for the human responses. ``n_in_train`` test pairs (about one in seven) also occur verbatim in the training
split (DailyDialog repeats some conversations across splits), which flatters retrieval: ``bleu_unseen`` scores only
the ``n_unseen`` pairs whose context no training pair has. Rows:

* ``bm25-nearest-context``: the response that followed the training context closest to the test context by BM25
  (:class:`genlab.text.dialogue.baselines.NearestContext`) — a retrieval chat bot over the training conversations;
* ``rules-faq-en``: the rule layer of the shipped ``builtin:faq-en`` (greetings, thanks, goodbyes, hand-off) answering
  the last turn, its fallback message otherwise — what ``genlab chat`` says without FAQ or model;
* ``--train transformer-seq2seq``: ``genlab train dialogue --data dailydialog`` for ``--budget`` CPU minutes (the
  11,118 training dialogues; validation on the official validation split), replies decoded as the chat decodes them
  (beam 4, no repeated trigram, at most ``--max-new-tokens``). Beam search decodes one context at a time, slow on a
  CPU, so the model replies to the first ``--max-test-pairs`` pairs (2,000 by default; ``test_pairs`` says which;
  ``seconds`` records the time taken) and the baselines are scored on those pairs too, beside their whole-test rows.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any, NamedTuple

from benchmarks import common

MODULE = "benchmarks.dialogue"
DATASETS = {"faq-en": "builtin:faq-en", "faq-zh": "builtin:faq-zh"}
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
#: --quick --part dailydialog: a smoke check of the code path, not a result.
QUICK_OVERRIDES = ["model.d_model=32", "model.n_encoder_layers=1", "model.n_decoder_layers=1", "data.vocab_size=300",
                   "data.max_pairs=2000"]  # fmt: skip

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
    return (r["model"], r["dataset"], r.get("budget_minutes"), r.get("test_pairs"), str(r.get("overrides")))


def row_order(r: dict[str, Any]) -> tuple:
    return (r["dataset"], r["model"], r.get("budget_minutes") or 0, str(r.get("test_pairs")), str(r.get("overrides")))


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
        from genlab.text.dialogue.retrieval import ENCODERS, encoder_for

        encoder = ENCODERS[encoder_for(faq.entries)]
        row["encoder"] = encoder.label
        row["encoder_sha256"] = encoder.weights_sha256()
    return row, dev, dev_outside


def faq_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The FAQ retrieval rows of every dataset and retriever asked for."""
    from genlab.text.dialogue import embedding_available, load_faq
    from genlab.text.dialogue.evaluation import tune_threshold
    from genlab.text.dialogue.retrieval import ENCODERS, encoder_for

    retrievers = args.retrievers or (["bm25"] if args.quick else ["bm25", "embedding", "hybrid"])
    rows, development = [], {}
    for dataset in args.datasets:
        encoder = encoder_for(load_faq(DATASETS[dataset]).entries)
        for name in retrievers:
            if name != "bm25" and not embedding_available(encoder):
                print(f"skip {name} on {dataset}: the sentence encoder {ENCODERS[encoder].package} is not installed")
                continue
            row, dev, dev_outside = evaluate(dataset, name)
            pooled = development.setdefault(pool_key(row), ([], [], []))
            pooled[0].extend(dev)
            pooled[1].extend(dev_outside)
            pooled[2].append(dataset)
            print(f"{name:9} {dataset}: hits@1 {row['hits_at_1']:.3f}  MRR {row['mrr']:.3f}  (n={row['n']}; "
                  f"dev hits@1 {row['dev_hits_at_1']:.3f}, dev threshold {row['dev_threshold']:.2f})")  # fmt: skip
            rows.append(row)
    for row in rows:  # the default thresholds come from the development sets of every dataset that shares them
        row["dev_threshold_pooled"] = tune_threshold(*development[pool_key(row)][:2])
    for (name, encoder), (dev, outside, datasets) in development.items():
        print(f"{name}{f' ({encoder})' if encoder else ''}: threshold tuned on the development sets "
              f"of {', '.join(datasets)}: {tune_threshold(dev, outside):.2f}")  # fmt: skip
    return rows


def pool_key(row: dict[str, Any]) -> tuple[str, str | None]:
    """Rows whose development sets are pooled for a default threshold: one retriever with one encoder (each
    encoder's cosines have a scale of their own)."""
    return row["model"], row.get("encoder")


# --------------------------------------------------------------------------- DailyDialog replies


class Seen(NamedTuple):
    """What the training split holds: its contexts, and its (context, response) pairs."""

    contexts: set[str]
    pairs: set[tuple[str, str]]


def reply_row(name: str, replies: list[str], pairs: list, seen: Seen, test_pairs: str) -> dict[str, Any]:
    """The figures of one set of replies to ``pairs``, overall and on the pairs whose context training lacks."""
    from genlab.text.dialogue.generation import response_scores

    scores = response_scores(replies, [p.target for p in pairs])
    new = [i for i, p in enumerate(pairs) if p.source not in seen.contexts]
    unseen_bleu = response_scores([replies[i] for i in new], [pairs[i].target for i in new])["bleu"] if new else None
    human = response_scores([p.target for p in pairs], [p.target for p in pairs])
    openers = [i for i, p in enumerate(pairs) if " | " not in p.source][:3]  # replies to a conversation's first turn
    return {
        "model": name, "dataset": "dailydialog", "split": "test", "test_pairs": test_pairs, "n": len(pairs),
        "bleu": round(scores["bleu"], 2), "distinct_1": round(scores["distinct_1"], 4),
        "distinct_2": round(scores["distinct_2"], 4), "length_mean": round(scores["length_mean"], 2),
        "hits_at_1": None, "mrr": None, "bleu_unseen": None if unseen_bleu is None else round(unseen_bleu, 2),
        "n_unseen": len(new), "n_in_train": sum((p.source, p.target) in seen.pairs for p in pairs),
        "reference_distinct_2": round(human["distinct_2"], 4),
        "reference_length_mean": round(human["length_mean"], 2), "bleu_signature": scores["bleu_signature"],
        "examples": [{"context": pairs[i].source, "reply": replies[i], "reference": pairs[i].target} for i in openers],
    }  # fmt: skip


def baseline_rows(train: list, pairs: list, seen: Seen, test_pairs: str) -> list[dict[str, Any]]:
    """The retrieval and rule rows over ``pairs``."""
    from genlab.text.dialogue.baselines import NearestContext, rule_replies

    rows = []
    with common.Stopwatch() as watch:
        nearest = NearestContext(train)
    makers = {
        "bm25-nearest-context": lambda: [nearest(p.source) for p in pairs],
        "rules-faq-en": lambda: rule_replies([p.source for p in pairs], "builtin:faq-en"),
    }
    for name, make in makers.items():
        start = time.perf_counter()
        replies = make()
        row = reply_row(name, replies, pairs, seen, test_pairs)
        row |= {"budget_minutes": None, "train_minutes": None, "seconds": round(time.perf_counter() - start, 2)}
        if name.startswith("bm25"):
            row |= {"n_train_pairs": len(train), "index_seconds": round(watch.seconds, 2)}
        rows.append(row)
        print({k: row[k] for k in ("model", "test_pairs", "bleu", "bleu_unseen", "distinct_2", "length_mean")})
    return rows


def trained_row(args: argparse.Namespace, pairs: list, seen: Seen, test_pairs: str, runs_dir: Path) -> dict:
    """Train ``args.train`` on DailyDialog for ``args.budget`` minutes, then reply to ``pairs`` as the chat does."""
    import genlab

    res = genlab.train("dialogue", args.train, "dailydialog", f"{args.train}-{args.budget:g}m", runs_dir=runs_dir,
                       max_minutes=args.budget, progress=False, threads=args.threads, overrides=list(args.overrides),
                       data_options={"data_dir": args.data_dir})  # fmt: skip
    model = genlab.load(res.run.path).model
    decode = {
        "num_beams": args.beam,
        "no_repeat_ngram": 3,
        "length_penalty": 1.0,
        "max_new_tokens": args.max_new_tokens,
    }
    start, replies = time.perf_counter(), []
    for i in range(0, len(pairs), 32):
        replies += model.generate([p.source for p in pairs[i : i + 32]], **decode)
    seconds = time.perf_counter() - start
    row = reply_row(args.train, [r.strip() for r in replies], pairs, seen, test_pairs)
    row |= {"budget_minutes": args.budget, "train_minutes": round(res.minutes, 2), "steps": res.steps, **decode,
            "seconds": round(seconds, 2), "overrides": list(args.overrides)}  # fmt: skip
    print({k: row[k] for k in ("model", "test_pairs", "bleu", "distinct_2", "train_minutes", "steps")})
    return row


def dailydialog_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Baseline rows over the whole test split and, with ``--train``, the model's row and the baselines over the
    first ``--max-test-pairs`` pairs (``--quick``: 100 pairs, a model trained for 12 seconds)."""
    from genlab.text.dialogue.dailydialog import dailydialog_pairs

    if args.quick:
        args.budget, args.max_test_pairs, args.overrides = 0.2, 100, [*args.overrides, *QUICK_OVERRIDES]
    train = dailydialog_pairs("train", args.data_dir).pairs
    test = dailydialog_pairs("test", args.data_dir).pairs
    seen = Seen({p.source for p in train}, {(p.source, p.target) for p in train})
    limit = min(args.max_test_pairs, len(test))
    subsets = [] if args.quick else [(test, f"all {len(test)}")]
    if (args.train or args.quick) and (args.quick or limit < len(test)):  # the model's pairs, when not all of them
        subsets.append((test[:limit], f"first {limit} of {len(test)}"))
    rows = [row for pairs, label in subsets for row in baseline_rows(train, pairs, seen, label)]
    if args.train:
        with common.runs_folder(args.runs_dir) as runs_dir:
            rows.append(trained_row(args, test[:limit], seen, subsets[-1][1], runs_dir))
    commit = common.git_commit()
    for r in rows:
        r |= {"threads": args.threads, "load_average": common.load_average(), "commit": commit}
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0])
    common.add_common_arguments(p, "a smoke check: bm25 only; --part dailydialog: 100 pairs (--train: a tiny model)")
    p.add_argument(
        "--part", choices=["faq", "dailydialog"], default="faq", help="FAQ retrieval, or DailyDialog replies"
    )
    p.add_argument("--datasets", nargs="+", choices=list(DATASETS), default=list(DATASETS))
    p.add_argument("--retrievers", nargs="+", choices=["bm25", "embedding", "hybrid"], default=None)
    p.add_argument("--data-dir", default=str(SHARED), help="dailydialog: the folder holding dialogue/*.jsonl")
    p.add_argument("--train", choices=["transformer-seq2seq"], help="dailydialog: also train this model, score it")
    p.add_argument("--budget", type=float, default=60.0, help="training minutes of --train")
    p.add_argument("--beam", type=int, default=4, help="beam width of the trained model's replies")
    p.add_argument("--max-new-tokens", type=int, default=40, help="tokens generated at most per reply")
    p.add_argument("--max-test-pairs", type=int, default=2000, help="the trained model replies to the first N pairs")
    p.add_argument("--set", dest="overrides", action="append", default=[], help="config override of --train")
    args = p.parse_args(argv)
    common.set_threads(args.threads)
    rows = faq_rows(args) if args.part == "faq" else dailydialog_rows(args)
    name = "dialogue-quick" if args.quick else "dialogue"
    out = common.save_rows(name, rows, MODULE, argv, row_key, args.out_dir, order=row_order)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
