"""Text-generation benchmark → ``benchmarks/results/text_generation.json``.

Rows:

* ``gpt`` on tiny Shakespeare with nanoGPT's CPU recipe (char-level; 4 layers, 4 heads, 128 dims,
  block 64, batch 12, 2000 iterations, dropout 0, lr 1e-3; nanoGPT's README reports val loss 1.88):
  validation loss over the whole validation split, wall time of the whole ``genlab.train`` call,
  training tokens/s and model FLOPs utilisation against this machine's measured fp32 matmul peak.
* ``gpt-generation``: tokens/s generating 256 new tokens with and without the KV cache (the trained
  model, and GPTs of nanoGPT's CPU and shakespeare-char sizes with a 320-token block).
* ``ngram`` (Kneser-Ney) and ``char-rnn`` on the same split.
* ``gpt`` on ``builtin:tang-poems``: validation bits per character, form compliance, distinct-2 and
  memorization rate of generated 五言绝句 with rhyme.

``--quick`` runs every row with tiny budgets (a smoke check; its numbers mean nothing).
Timings taken while other processes load the CPU are unreliable; the row records the threads used.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import common  # noqa: E402
import torch  # noqa: E402

import genlab  # noqa: E402
from genlab.text.data import TextDataConfig, encode_lenient, load_raw, split_corpus  # noqa: E402
from genlab.text.metrics import distinct_n, memorization_rate  # noqa: E402

NANOGPT = {"n_layer": 4, "n_head": 4, "n_embd": 128, "dropout": 0.0, "lr": 1e-3}
NANOGPT_REFERENCE = {"val_loss": 1.8857, "wall_s": 123.6, "ms_per_step": 54.8, "source": "ANCHORS.md"}
ROWS = ("gpt", "generation", "ngram", "char-rnn", "poems")


def model_overrides(values: dict) -> list[str]:
    return [f"model.{k}={v}" for k, v in values.items()]


def train(model: str, data: str, name: str, runs: Path, steps: int, minutes: float | None, extra: list[str]):
    """Train through the public API (the same path as the CLI); returns (result, wall seconds)."""
    shutil.rmtree(runs / "text-generation" / name, ignore_errors=True)  # a fresh run, never a resumed one
    t0 = time.perf_counter()
    res = genlab.train(
        "text-generation",
        model=model,
        data=data,
        name=name,
        runs_dir=runs,
        max_steps=steps,
        max_minutes=minutes,
        batch_size=12,
        progress=False,
        overrides=["data.block_size=64", "train.sample_every=0", "train.val_batches=20", *extra],
    )
    return res, time.perf_counter() - t0


def val_loss(run_path: Path) -> tuple[float, float, object]:
    """(val loss in nats/token, val bpc) over the whole validation split, and the loaded model."""
    pipe = genlab.load(run_path)
    model = pipe.model
    cfg = TextDataConfig.build(model.provenance.data["data_config"])
    train_text, val_text, _ = split_corpus(load_raw(cfg), cfg)
    ids = torch.tensor(encode_lenient(model.tokenizer, val_text))
    nll, count = model.sequence_nll(ids)
    chars = len(model.tokenizer.decode(ids.tolist()))
    return nll / count, nll / chars / math.log(2), pipe


def train_time(run_path: Path) -> float:
    """Seconds of the training loop (last ``time_s`` in metrics.csv)."""
    with open(run_path / "metrics.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return float(rows[-1]["time_s"]) if rows else float("nan")


def gpt_row(runs: Path, quick: bool, peak: float) -> tuple[dict, Path]:
    steps = 20 if quick else 2000
    res, wall = train("gpt", "builtin:tinyshakespeare", "gpt-nanogpt", runs, steps, None, model_overrides(NANOGPT))
    loss, bpc, pipe = val_loss(res.run.path)
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
        "val_loss": round(loss, 4),
        "bpc": round(bpc, 4),
        "wall_s": round(wall, 1),
        "train_loop_s": round(loop_s, 1),
        "ms_per_step": round(1000 * loop_s / max(res.steps, 1), 1),
        "tokens_per_s": round(tokens_per_s),
        "model_gflops_per_s": round(flops / 1e9, 1),
        "mfu": round(flops / 1e9 / peak, 3),
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
        speeds = {}
        for cache in (True, False):
            pipe("ROMEO:", 8, seed=0, use_cache=cache)  # warm-up
            best = float("inf")
            for _ in range(GENERATION_REPEATS):  # best of a few: one run is at the mercy of the scheduler
                t0 = time.perf_counter()
                pipe("ROMEO:", new, seed=0, temperature=0.8, top_k=200, use_cache=cache)
                best = min(best, time.perf_counter() - t0)
            speeds[cache] = new / best
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


def ngram_rows(runs: Path, quick: bool) -> list[dict]:
    rows = []
    for order in (3, 5) if quick else (3, 5, 7):
        res, wall = train("ngram", "builtin:tinyshakespeare", f"ngram{order}", runs, 1, None, [f"model.order={order}"])
        loss, bpc, _ = val_loss(res.run.path)
        rows.append(
            {
                "model": f"ngram (Kneser-Ney, order {order})",
                "dataset": "builtin:tinyshakespeare",
                "budget_minutes": None,
                "val_loss": round(loss, 4),
                "bpc": round(bpc, 4),
                "wall_s": round(wall, 1),
            }
        )
    return rows


def char_rnn_row(runs: Path, quick: bool) -> dict:
    steps, minutes = (20, None) if quick else (2000, 2.5)
    extra = ["model.cell=lstm", "model.n_layer=2", "model.hidden_size=256", "model.lr=2e-3"]
    res, wall = train("char-rnn", "builtin:tinyshakespeare", "char-rnn", runs, steps, minutes, extra)
    loss, bpc, pipe = val_loss(res.run.path)
    return {
        "model": "char-rnn (LSTM 2x256)",
        "dataset": "builtin:tinyshakespeare",
        "budget_minutes": minutes,
        "steps": res.steps,
        "val_loss": round(loss, 4),
        "bpc": round(bpc, 4),
        "wall_s": round(wall, 1),
        "sample": pipe("ROMEO:", max_new_tokens=200, temperature=0.8, seed=1)[0],
    }


def poem_row(runs: Path, quick: bool) -> dict:
    from genlab.text.poems import form_compliance, get_form

    steps, minutes = (20, None) if quick else (3000, 2.5)
    res, wall = train("gpt", "builtin:tang-poems", "tang-gpt", runs, steps, minutes, model_overrides(NANOGPT))
    loss, bpc, pipe = val_loss(res.run.path)
    model = pipe.model
    cfg = TextDataConfig.build(model.provenance.data["data_config"])
    train_text, _, _ = split_corpus(load_raw(cfg), cfg)
    poems = pipe.poem("wuyan-jueju", n=20, rhyme=True, seed=0)
    acrostic = pipe.poem("wuyan-jueju", n=5, acrostic="春夏秋冬", rhyme=True, seed=0)
    units = [[ch for ch in p if ch not in "，。"] for p in poems]
    return {
        "model": "gpt",
        "dataset": "builtin:tang-poems",
        "budget_minutes": minutes,
        "steps": res.steps,
        "val_loss": round(loss, 4),
        "bpc": round(bpc, 4),
        "wall_s": round(wall, 1),
        "form_compliance": form_compliance(poems, get_form("wuyan-jueju"), rhyme=True),
        "acrostic_compliance": form_compliance(acrostic, get_form("wuyan-jueju"), "春夏秋冬", rhyme=True),
        "distinct_2": round(distinct_n(units, 2), 4),
        "memorization_8": round(memorization_rate(poems, train_text, 8), 4),
        "protocol": "20 五言绝句 with rhyme, temperature 0.8, repetition penalty 1.1, seed 0; distinct-2 on characters",
        "samples": poems[:3] + acrostic[:2],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny budgets: a smoke check, not a measurement")
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated subset of {', '.join(ROWS)}")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--out-dir", default=None, help="where to write text_generation.json")
    parser.add_argument("--runs-dir", default=None, help="keep the trained runs here (default: a temporary folder)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    wanted = {r.strip() for r in args.rows.split(",") if r.strip()}
    peak = common.matmul_peak_gflops()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="genlab-bench-text-") as tmp:
        runs = Path(args.runs_dir or tmp)
        gpt_run = None
        if "gpt" in wanted:
            row, gpt_run = gpt_row(runs, args.quick, peak)
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
    command = common.command_line()
    for row in rows:
        row |= {"command": command, "quick": args.quick, "torch_threads": torch.get_num_threads()}
        row["cpu"] = common.cpu_name()
        row |= {"matmul_peak_gflops": round(peak, 1), "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    out_dir = Path(args.out_dir) if args.out_dir else common.RESULTS_DIR
    out = common.write_results("text_generation", kept_rows(out_dir, wanted, args.quick) + rows, out_dir=out_dir)
    print(f"wrote {out}")


def generation_in_fresh_process(runs: Path, args) -> list[dict]:
    """Measure generation in a new process, as ``genlab generate`` runs: decoding right after training in the
    same process was measured 1.5x slower (allocator and thread-pool state left by the training loop)."""
    import subprocess

    with tempfile.TemporaryDirectory(prefix="genlab-bench-gen-") as out:
        cmd = [sys.executable, __file__, "--rows", "generation", "--runs-dir", str(runs), "--out-dir", out]
        cmd += ["--quick"] if args.quick else []
        cmd += ["--threads", str(args.threads)] if args.threads else []
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        rows = json.loads((Path(out) / "text_generation.json").read_text(encoding="utf-8"))["results"]
    return [{k: v for k, v in r.items() if k not in ("command", "measured_at")} for r in rows]


def kept_rows(out_dir: Path, wanted: set[str], quick: bool) -> list[dict]:
    """Rows of an earlier run of the same mode that this run does not redo (``--rows`` re-measures a subset)."""
    path = out_dir / "text_generation.json"
    if not path.is_file():
        return []
    old = json.loads(path.read_text(encoding="utf-8")).get("results", [])
    return [r for r in old if r.get("row") and r["row"] not in wanted and r.get("quick") == quick]


if __name__ == "__main__":
    main()
