"""Text-generation benchmark → ``benchmarks/results/text_generation.json``.

Rows:

* ``gpt`` on tiny Shakespeare with nanoGPT's CPU recipe (char-level; 4 layers, 4 heads, 128 dims,
  block 64, batch 12, 2000 iterations, dropout 0, lr 1e-3; nanoGPT's README reports val loss 1.88):
  validation loss over the whole validation split, wall time of the whole ``genlab.train`` call,
  training tokens/s and model FLOPs utilisation (MFU) against this machine's fp32 matmul peak, measured
  before and after the training run (best of several sizes and repetitions, :class:`common.MatmulPeak`);
  MFU is capped at 1 (``mfu_capped``) and ``peak_moved`` flags a peak that changed during the run.
* ``gpt-generation``: tokens/s generating 256 new tokens with and without the KV cache (the trained
  model, and GPTs of nanoGPT's CPU and shakespeare-char sizes with a 320-token block).
* ``ngram`` (Kneser-Ney) and ``char-rnn`` on the same split.
* ``gpt`` on ``builtin:tang-poems``: validation bits per character, form compliance, distinct-2 and
  memorization rate of generated 五言绝句 with rhyme.
* ``recipes``: candidate CPU recipes (:data:`RECIPES`) trained for ``--recipe-minutes`` each, with their learning
  curves; ``--curves PNG`` draws them against the n-gram lines.
* ``bpe``: sub-word models in English and Chinese (:data:`BPE_CORPORA`): Kneser-Ney n-grams and an LSTM trained for
  ``--recipe-minutes`` on the same BPE tokens, in bits per character.

Every score comes from ``genlab.evaluate`` (``val-loss`` and ``bpc`` over the whole validation
split, with its Kneser-Ney baseline as ``ngram<order>_bpc``; the poem metrics), the protocol
``genlab eval`` records. ``--quick`` runs every row with tiny budgets (a smoke check; its numbers
mean nothing) into ``text_generation_quick.json``. Timings taken while other processes load the
CPU are unreliable; the row records the threads used.

    python -m benchmarks.text_generation --runs-dir runs/bench-text
    python -m benchmarks.text_generation --rows generation --runs-dir runs/bench-text
    python -m benchmarks.text_generation --quick
    python -m benchmarks.text_generation --rows recipes --recipe-minutes 10 --threads 1 \
        --curves docs/images/lm-curves.png
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

import genlab
from benchmarks import common

MODULE = "benchmarks.text_generation"

NANOGPT = {"n_layer": 4, "n_head": 4, "n_embd": 128, "dropout": 0.0, "lr": 1e-3}
NANOGPT_REFERENCE = {"val_loss": 1.8857, "wall_s": 123.6, "ms_per_step": 54.8, "source": "ANCHORS.md"}
ROWS = ("gpt", "generation", "ngram", "char-rnn", "poems", "recipes", "bpe")


def model_overrides(values: dict) -> list[str]:
    return [f"model.{k}={v}" for k, v in values.items()]


def train(
    model: str,
    data: str,
    name: str,
    runs: Path,
    steps: int | None,
    minutes: float | None,
    extra: list[str],
    batch_size: int = 12,
    block_size: int = 64,
):
    """Train through the public API (the same path as the CLI); returns (result, wall seconds)."""
    shutil.rmtree(runs / "text-generation" / name, ignore_errors=True)  # a fresh run, never a resumed one
    with common.Stopwatch() as wall:
        res = genlab.train(
            "text-generation",
            model=model,
            data=data,
            name=name,
            runs_dir=runs,
            max_steps=steps,
            max_minutes=minutes,
            batch_size=batch_size,
            progress=False,
            overrides=[f"data.block_size={block_size}", "train.sample_every=0", "train.val_batches=20", *extra],
        )
    return res, wall.seconds


def scores(run_path: Path, metrics: tuple[str, ...] = ("val-loss", "bpc"), **options: Any) -> dict[str, Any]:
    """``genlab.evaluate`` of a run: its metrics rounded to 4 digits, each baseline's ``bpc`` as
    ``<baseline>_bpc`` (the Kneser-Ney baseline of a neural model) and the ``protocol``."""
    result = genlab.evaluate(run_path, list(metrics), **options)
    out: dict[str, Any] = {k: round(v, 4) for k, v in result["metrics"].items()}
    out |= {f"{name}_bpc": round(values["bpc"], 4) for name, values in result["baselines"].items()}
    return out | {"protocol": result["protocol"]}


def likelihood(run_path: Path) -> dict[str, float]:
    """``val_loss`` (nats/token) and ``bpc`` over the whole validation split, and the baseline's bpc."""
    return {k: v for k, v in scores(run_path).items() if k != "protocol"}


def train_time(run_path: Path) -> float:
    """Seconds of the training loop (last ``time_s`` in metrics.csv)."""
    with open(run_path / "metrics.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return float(rows[-1]["time_s"]) if rows else float("nan")


def gpt_row(runs: Path, quick: bool) -> tuple[dict, Path]:
    """nanoGPT's CPU recipe trained and scored; ``model_flops_per_s`` (training FLOPs per token,
    :meth:`GPT.flops_per_token`, times tokens/s) is turned into MFU by the caller, which knows the peak."""
    steps = 20 if quick else 2000
    res, wall = train("gpt", "builtin:tinyshakespeare", "gpt-nanogpt", runs, steps, None, model_overrides(NANOGPT))
    pipe = genlab.load(res.run.path)
    loop_s = train_time(res.run.path)
    tokens_per_s = res.steps * 12 * 64 / loop_s
    flops = pipe.model.flops_per_token(64) * tokens_per_s
    row = {
        "model": "gpt",
        "dataset": "builtin:tinyshakespeare",
        "budget_minutes": None,
        "recipe": "nanoGPT CPU: 4 layers, 4 heads, 128 dims, block 64, batch 12, dropout 0, lr 1e-3",
        "steps": res.steps,
        "params": pipe.model.num_parameters(),
        **likelihood(res.run.path),
        "wall_s": round(wall, 1),
        "train_loop_s": round(loop_s, 1),
        "ms_per_step": round(1000 * loop_s / max(res.steps, 1), 1),
        "tokens_per_s": round(tokens_per_s),
        "model_flops_per_s": flops,
        "nanogpt_reference": NANOGPT_REFERENCE,
        "sample": pipe("ROMEO:", max_new_tokens=200, temperature=0.8, top_p=0.9, seed=1)[0],
    }
    return row, res.run.path


GENERATION_REPEATS = 3


def generation_rows(run_path: Path | None, quick: bool) -> list[dict]:
    """256 new tokens, batch 1, with and without the KV cache: the trained model (block 64) and a block-256 GPT."""
    from genlab.text.gpt import GPT, GPTConfig
    from genlab.text.pipelines import TextGenerationPipeline
    from genlab.text.tokenizers import CharTokenizer

    new = 32 if quick else 256
    models = {}
    if run_path is not None:
        models["gpt (block 64, trained)"] = genlab.load(run_path).model
    tok = CharTokenizer([chr(i) for i in range(32, 127)])
    sizes = {
        "gpt (nanoGPT CPU size, block 320, random weights)": NANOGPT,
        "gpt (nanoGPT shakespeare-char size: 6 layers, 6 heads, 384 dims, block 320, random weights)": {
            **NANOGPT,
            "n_layer": 6,
            "n_head": 6,
            "n_embd": 384,
        },
    }
    for label, size in sizes.items():
        torch.manual_seed(0)
        config = GPTConfig(vocab_size=tok.vocab_size, block_size=320, tokenizer=tok.to_dict(), **size)
        models[label] = GPT(config).eval()
    rows = []
    for label, model in models.items():
        pipe = TextGenerationPipeline(model)
        speeds = {cache: decoding_speed(pipe, new, cache) for cache in (True, False)}
        rows.append(
            {
                "model": "gpt-generation",
                "dataset": label,
                "budget_minutes": None,
                "new_tokens": new,
                "tokens_per_s_kv_cache": round(speeds[True], 1),
                "tokens_per_s_recompute": round(speeds[False], 1),
                "kv_cache_speedup": round(speeds[True] / speeds[False], 2),
                "timing": f"best of {GENERATION_REPEATS} runs each, after a warm-up",
            }
        )
    return rows


def decoding_speed(pipe, new: int, use_cache: bool) -> float:
    """Tokens/s of ``pipe`` generating ``new`` tokens after "ROMEO:", best of a few runs after a short warm-up
    (one run is at the mercy of the scheduler)."""
    seconds = common.best_time(
        lambda: pipe("ROMEO:", new, seed=0, temperature=0.8, top_k=200, use_cache=use_cache),
        GENERATION_REPEATS,
        warmup=lambda: pipe("ROMEO:", 8, seed=0, use_cache=use_cache),
    )
    return new / seconds


def ngram_rows(runs: Path, quick: bool) -> list[dict]:
    rows = []
    for order in (3, 5) if quick else (3, 5, 7):
        res, wall = train("ngram", "builtin:tinyshakespeare", f"ngram{order}", runs, 1, None, [f"model.order={order}"])
        rows.append(
            {
                "model": f"ngram (Kneser-Ney, order {order})",
                "dataset": "builtin:tinyshakespeare",
                "budget_minutes": None,
                **likelihood(res.run.path),
                "wall_s": round(wall, 1),
            }
        )
    return rows


def char_rnn_row(runs: Path, quick: bool) -> dict:
    steps, minutes = (20, None) if quick else (2000, 2.5)
    extra = ["model.cell=lstm", "model.n_layer=2", "model.hidden_size=256", "model.lr=2e-3"]
    res, wall = train("char-rnn", "builtin:tinyshakespeare", "char-rnn", runs, steps, minutes, extra)
    pipe = genlab.load(res.run.path)
    return {
        "model": "char-rnn (LSTM 2x256)",
        "dataset": "builtin:tinyshakespeare",
        "budget_minutes": minutes,
        "steps": res.steps,
        **likelihood(res.run.path),
        "wall_s": round(wall, 1),
        "sample": pipe("ROMEO:", max_new_tokens=200, temperature=0.8, seed=1)[0],
    }


#: Candidate CPU recipes for tiny Shakespeare (``--rows recipes``): each is trained for ``--recipe-minutes`` with a
#: cosine learning rate over the clock after a short linear warm-up, larger batches and a longer context than the
#: nanoGPT CPU row (label -> model, batch size, block size, model fields).
RECIPES: dict[str, tuple[str, int, int, dict[str, Any]]] = {
    "char-rnn (LSTM 2x384, block 128, batch 32, cosine)": ("char-rnn", 32, 128, {
        "cell": "lstm", "n_layer": 2, "hidden_size": 384, "n_embd": 128, "dropout": 0.1, "lr": 2e-3,
        "lr_schedule": "cosine", "warmup_steps": 100}),
    "gpt (4x192, block 128, batch 32, cosine)": ("gpt", 32, 128, {
        "n_layer": 4, "n_head": 4, "n_embd": 192, "dropout": 0.0, "lr": 2e-3, "lr_schedule": "cosine",
        "warmup_steps": 100}),
}  # fmt: skip


def recipe_rows(runs: Path, quick: bool, minutes: float) -> list[dict]:
    """Every recipe of :data:`RECIPES` trained for ``minutes`` and scored on the whole validation split; ``curve``
    holds the validation loss the run logged as it trained (``train.val_batches`` batches each time, against
    training minutes) for the learning-curve figure."""
    rows = []
    for i, (label, (model, batch, block, fields)) in enumerate(RECIPES.items()):
        steps, budget = (10, None) if quick else (None, minutes)
        res, wall = train(model, "builtin:tinyshakespeare", f"recipe-{i}-{model}", runs, steps, budget,
                          model_overrides(fields), batch_size=batch, block_size=block)  # fmt: skip
        rows.append({
            "model": label, "dataset": "builtin:tinyshakespeare", "budget_minutes": budget, "steps": res.steps,
            **likelihood(res.run.path), "wall_s": round(wall, 1), "curve": validation_curve(res.run.path),
            "params": parameter_count(res.run.path),
        })  # fmt: skip
    return rows


#: Sub-word rows (``--rows bpe``): per corpus, the BPE vocabulary size, the Kneser–Ney orders fitted on its tokens,
#: and a neural model trained for ``--recipe-minutes`` (the char recipe's LSTM; a block of 64 BPE tokens spans about
#: as many characters as the char recipe's 128). Scored in bits per character, which compares across tokenizers.
BPE_CORPORA: dict[str, tuple[int, tuple[int, ...]]] = {
    "builtin:tinyshakespeare": (1024, (2, 3, 4)),
    "builtin:tang-poems": (2048, (2, 3, 4)),
}
BPE_LSTM = RECIPES["char-rnn (LSTM 2x384, block 128, batch 32, cosine)"][3]  # the char recipe's LSTM fields


def bpe_rows(runs: Path, quick: bool, minutes: float) -> list[dict]:
    """Per corpus of :data:`BPE_CORPORA`: Kneser–Ney n-grams and an LSTM on the same BPE tokens and split."""
    rows = []
    for data, (vocab, orders) in BPE_CORPORA.items():
        slug = data.replace("builtin:", "")
        tokens = ["data.tokenizer=bpe", f"data.vocab_size={vocab}"]
        for order in orders[:1] if quick else orders:
            res, wall = train(
                "ngram", data, f"bpe-{slug}-ngram{order}", runs, 1, None, [*tokens, f"model.order={order}"]
            )
            rows.append({"model": f"ngram (Kneser-Ney, order {order})", "dataset": data, "tokenizer": f"bpe {vocab}",
                         "budget_minutes": None, **likelihood(res.run.path), "wall_s": round(wall, 1)})  # fmt: skip
        steps, budget = (10, None) if quick else (None, minutes)
        res, wall = train("char-rnn", data, f"bpe-{slug}-lstm", runs, steps, budget,
                          [*tokens, *model_overrides(BPE_LSTM)], batch_size=32, block_size=64)  # fmt: skip
        rows.append({
            "model": "lstm (2x384, block 64, batch 32, cosine)", "dataset": data, "tokenizer": f"bpe {vocab}",
            "budget_minutes": budget, "steps": res.steps, **likelihood(res.run.path), "wall_s": round(wall, 1),
            "params": parameter_count(res.run.path),
        })  # fmt: skip
    return rows


def parameter_count(run_path: Path) -> int:
    """Parameters of a run's exported model."""
    return sum(p.numel() for p in genlab.load(run_path).model.parameters())


def validation_curve(run_path: Path) -> list[list[float]]:
    """``[minutes, val_loss]`` of every validation a run logged (metrics.csv)."""
    with open(run_path / "metrics.csv", encoding="utf-8") as f:
        logged = [r for r in csv.DictReader(f) if r.get("val_loss")]
    return [[round(float(r["time_s"]) / 60, 3), round(float(r["val_loss"]), 4)] for r in logged]


def plot_curves(rows: list[dict], out_png: Path) -> Path | None:
    """Validation loss against training minutes of the rows with a ``curve``, beside the n-gram rows' lines."""
    from genlab.core.html import figure

    curves = [r for r in rows if r.get("curve")]
    if not curves:
        return None
    fig = figure(7, 4)
    ax = fig.subplots()
    for r in curves:
        xs, ys = zip(*r["curve"], strict=True)
        ax.plot(xs, ys, marker="o", ms=3, lw=1, label=f"{r['model']} (whole split at the end: {r['val_loss']:.3f})")
    for r in rows:
        if r["model"].startswith("ngram") and r.get("val_loss"):
            ax.axhline(r["val_loss"], ls="--", lw=0.8, color="grey")
            ax.text(0.01, r["val_loss"], r["model"], transform=ax.get_yaxis_transform(), fontsize=7, color="grey",
                    va="bottom")  # fmt: skip
    ax.set_xlabel("training minutes (one thread)")
    ax.set_ylabel("validation loss (nats per character)")
    ax.set_title("tiny Shakespeare: language models against Kneser-Ney n-grams")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, format="png")
    return out_png


POEM_METRICS = ("val-loss", "bpc", "form-compliance", "distinct", "memorization")


def poem_row(runs: Path, quick: bool) -> dict:
    """The poem model: genlab.evaluate's poem metrics on 20 五言绝句, and acrostic compliance on 5."""
    from genlab.text.poems import form_compliance, get_form

    steps, minutes = (20, None) if quick else (3000, 2.5)
    res, wall = train("gpt", "builtin:tang-poems", "tang-gpt", runs, steps, minutes, model_overrides(NANOGPT))
    measured = scores(res.run.path, POEM_METRICS, n=20, seed=0)
    protocol = measured.pop("protocol")
    pipe = genlab.load(res.run.path)
    poems = pipe.poem("wuyan-jueju", n=20, rhyme=True, seed=0)  # the poems genlab.evaluate scored
    acrostic = pipe.poem("wuyan-jueju", n=5, acrostic="春夏秋冬", rhyme=True, seed=0)
    return {
        "model": "gpt",
        "dataset": "builtin:tang-poems",
        "budget_minutes": minutes,
        "steps": res.steps,
        **{k: v for k, v in measured.items() if k != "distinct_1"},
        "wall_s": round(wall, 1),
        "acrostic_compliance": form_compliance(acrostic, get_form("wuyan-jueju"), "春夏秋冬", rhyme=True),
        "protocol": f"{protocol['n_samples']} {protocol['samples']}, seed {protocol['seed']}; "
        f"distinct-2 on {protocol['distinct_units']}",
        "samples": poems[:3] + acrostic[:2],
    }


def row_key(r: dict[str, Any]) -> tuple:
    """Rows of one ``--rows`` group replace that group's earlier rows (``--rows`` re-measures a subset); recipe rows
    are told apart by model and budget, sub-word rows by corpus and model."""
    if r.get("row") == "recipes":
        return r.get("row"), r.get("model"), r.get("budget_minutes")
    return (r.get("row"), r.get("dataset"), r.get("model")) if r.get("row") == "bpe" else (r.get("row"),)


def main(argv: list[str] | None = None) -> None:
    """Command line: measure the chosen rows and merge them into the results file."""
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0])
    common.add_common_arguments(parser, "tiny budgets: a smoke check, not a measurement")
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated subset of {', '.join(ROWS)}")
    parser.add_argument("--recipe-minutes", type=float, default=10.0, help="training minutes of each recipe row")
    parser.add_argument("--curves", type=Path, default=None,
                        help="the learning-curve figure of the recipe rows and n-gram lines, as this PNG")  # fmt: skip
    args = parser.parse_args(argv)
    common.set_threads(args.threads)
    wanted = {r.strip() for r in args.rows.split(",") if r.strip()}
    load = common.load_average()  # before this process adds its own load
    rows: list[dict] = []
    with common.runs_folder(args.runs_dir) as runs:
        gpt_run = None
        if "gpt" in wanted:
            with common.MatmulPeak(args.threads) as peak:
                row, gpt_run = gpt_row(runs, args.quick)
            row |= common.mfu(row.pop("model_flops_per_s"), peak) | {"load_average": load}
            rows.append(row | {"row": "gpt"})
        earlier = runs / "text-generation" / "gpt-nanogpt"
        if gpt_run is None and args.runs_dir and (earlier / "model").is_dir():
            gpt_run = earlier  # re-measure generation with the model a previous run trained
        if "generation" in wanted and "gpt" in wanted:
            rows += generation_in_fresh_process(runs, args)
        elif "generation" in wanted:
            rows += [r | {"row": "generation"} for r in generation_rows(gpt_run, args.quick)]
        if "ngram" in wanted:
            rows += [r | {"row": "ngram"} for r in ngram_rows(runs, args.quick)]
        if "char-rnn" in wanted:
            rows.append(char_rnn_row(runs, args.quick) | {"row": "char-rnn"})
        if "poems" in wanted:
            rows.append(poem_row(runs, args.quick) | {"row": "poems"})
        if "recipes" in wanted:
            rows += [r | {"row": "recipes"} for r in recipe_rows(runs, args.quick, args.recipe_minutes)]
        if "bpe" in wanted:
            rows += [r | {"row": "bpe"} for r in bpe_rows(runs, args.quick, args.recipe_minutes)]
    measured_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    rows = [r | {"quick": args.quick, "measured_at": measured_at} for r in rows]
    out = common.save_rows(results_name(args.quick), rows, MODULE, argv, row_key, args.out_dir)
    print(f"wrote {out}")
    if args.curves is not None:
        every = json.loads(out.read_text(encoding="utf-8"))["results"]  # n-gram lines of earlier runs too
        print(f"wrote {plot_curves(every, args.curves)}")


def results_name(quick: bool) -> str:
    """Smoke runs write beside the results, never over them."""
    return "text_generation_quick" if quick else "text_generation"


def generation_in_fresh_process(runs: Path, args) -> list[dict]:
    """Measure generation in a new process, as ``genlab generate`` runs: decoding right after training in the
    same process was measured 1.5x slower (allocator and thread-pool state left by the training loop)."""
    with tempfile.TemporaryDirectory(prefix="genlab-bench-gen-") as out:
        cmd = [sys.executable, "-m", MODULE, "--rows", "generation", "--runs-dir", str(runs), "--out-dir", out]
        cmd += ["--quick"] if args.quick else []
        cmd += ["--threads", str(args.threads)] if args.threads else []
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=common.ROOT)
        rows = json.loads(common.results_path(results_name(args.quick), out).read_text(encoding="utf-8"))["results"]
    return [{k: v for k, v in r.items() if k not in ("command", "measured_at")} for r in rows]


if __name__ == "__main__":
    main()
