"""Thread policy benchmark → ``benchmarks/results/threads.json``: training steps per second of genlab's small models
at 1 thread and at every core, on an otherwise idle machine and beside one busy neighbour (another process
keeping one core busy, as a second run or a tuning worker would), to choose ``--threads`` by measurement.

    python -m benchmarks.threads
    python -m benchmarks.threads --quick          # smoke check: few steps

Models: ``dcgan`` (MNIST-5k at 32×32, batch 64), ``gpt`` (nanoGPT's CPU recipe: 4 layers × 128, block 64, batch
12, tiny Shakespeare) and ``vae`` (the MLP VAE, MNIST-5k, batch 128). Each measurement is a ``genlab.train`` of
``--steps`` steps with ``train.threads`` set; the rate is steps over the training loop's wall time, best of
``--repeats``. The neighbour is a separate process running float32 matrix products on one thread.

Rows: ``model``, ``threads``, ``neighbour`` (``idle`` or ``busy``), ``steps_per_s``, ``cores``, ``relative``
(steps/s over the same model's 1-thread rate in the same condition).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time
from typing import Any

from benchmarks import common

MODULE = "benchmarks.threads"
MODELS = {
    "dcgan": ("image-generation", "dcgan", "builtin:mnist-5k", {"data.image_size": 32, "train.batch_size": 64}),
    "gpt": ("text-generation", "gpt", "builtin:tinyshakespeare", {"model.n_layer": 4, "model.n_head": 4,
            "model.n_embd": 128, "data.block_size": 64, "train.batch_size": 12, "model.dropout": 0.0}),
    "vae": ("image-generation", "vae", "builtin:mnist-5k", {"train.batch_size": 128}),
}  # fmt: skip


def row_key(r: dict[str, Any]) -> tuple:
    return (r["model"], r["threads"], r["neighbour"])


def _spin(stop: Any) -> None:
    import torch

    torch.set_num_threads(1)
    a = torch.randn(512, 512)
    while not stop.is_set():
        a = (a @ a).tanh()


def steps_per_s(name: str, threads: int, steps: int, runs, repeats: int) -> float:
    import genlab

    task, model, data, options = MODELS[name]
    best = 0.0
    for i in range(repeats):
        sets = [f"{k}={v}" for k, v in options.items()] + ["train.sample_every=0", "train.val_batches=0"]
        began = time.perf_counter()
        result = genlab.train(task, model, data, f"{name}-t{threads}-{i}-{time.time_ns()}", runs_dir=runs,
                              max_steps=steps, threads=threads, progress=False, overrides=sets)  # fmt: skip
        wall = time.perf_counter() - began
        best = max(best, result.steps / max(result.minutes * 60, 1e-9) if result.minutes else result.steps / wall)
    return best


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0])
    common.add_common_arguments(p, "few steps: a smoke check, not a result")
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args(argv)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    steps, repeats = (10, 1) if args.quick else (args.steps, args.repeats)
    rows: list[dict[str, Any]] = []
    with common.runs_folder(args.runs_dir) as runs:
        for neighbour in ("idle", "busy"):
            stop = mp.Event()
            spinner = mp.Process(target=_spin, args=(stop,), daemon=True) if neighbour == "busy" else None
            if spinner:
                spinner.start()
            try:
                for name in args.models:
                    base = None
                    for threads in sorted({1, cores}):
                        rate = steps_per_s(name, threads, steps, runs, repeats)
                        base = base or rate
                        rows.append({"model": name, "threads": threads, "neighbour": neighbour, "cores": cores,
                                     "steps": steps, "steps_per_s": round(rate, 3),
                                     "relative": round(rate / base, 3)})  # fmt: skip
                        print(rows[-1])
            finally:
                if spinner:
                    stop.set()
                    spinner.join(5)
    commit = common.git_commit()
    for r in rows:
        r |= {"load_average": common.load_average(), "commit": commit}
    out = common.save_rows("threads-quick" if args.quick else "threads", rows, MODULE, argv, row_key, args.out_dir)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
