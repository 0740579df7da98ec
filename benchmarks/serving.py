"""Serving benchmark: a bounded local load test of ``genlab serve`` (results/serving.json).

    python -m benchmarks.serving                       # DCGAN 64-image batches and GPT 100-token texts
    python -m benchmarks.serving --clients 1 8 32 100 --seconds 6
    python -m benchmarks.serving --quick               # smoke check: one model, two client counts, 2 s each
    python -m benchmarks.serving --docs docs/serving.md  # rewrite the guide's results table from the file

Two models are served from a temporary runs folder: a DCGAN (``image/dcgan``, 32×32 greyscale, the default
widths) asked for 64 images per request, and a GPT (``text/gpt``, the default 4 layers × 128 wide, a character
vocabulary from tiny Shakespeare) asked for 100 new tokens per request after the prompt ``ROMEO:``. Their weights
are untrained (the GPT after one step): serving speed does not depend on the weights' values, only on the shapes.

For each model and each batching setting (``batching`` true: ``--max-batch 32 --max-wait-ms 10``, the defaults;
false: ``--max-batch 1``) one server process is started on 127.0.0.1 (``genlab serve``, ``--max-queue 256``);
then for each client count C, C concurrent clients (asyncio + httpx, one connection each) send requests back to
back for ``--seconds`` seconds, each request with its own seed. A row per (model, batching, clients):
``requests`` (answered within the window), ``errors`` (any status other than 200, or a failed connection),
``throughput_rps`` (answered requests per second), ``p50_ms`` / ``p95_ms`` / ``p99_ms`` (latency of the answered
requests, as the client saw it) and ``peak_rss_mb`` (the server process's peak resident memory after that
window, from /proc: VmHWM). The load generator shares the machine with the server.

``--bound`` adds, per model, what batching can gain at most with the server's thread setting: the pipeline's own
time per request (no HTTP, no encoding) answering one request alone (``pipe.run``) against answering 32 at once
(``pipe.run_batch``), as a row with ``measure: "model time per request"``, ``single_ms``, ``batched_ms`` and
``bound`` (their ratio): the load test's batched-over-unbatched throughput cannot exceed it by much, since
the rest of a request's work (HTTP, PNG or JSON encoding) is not batched.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import common

MODULE = "benchmarks.serving"
MODELS = ("dcgan", "gpt")
REQUESTS = {
    "dcgan": {"n": 64},
    "gpt": {"prompt": "ROMEO:", "max_new_tokens": 100, "temperature": 0.8},
}


def row_key(r: dict[str, Any]) -> tuple:
    return (r["model"], r.get("batching"), r.get("clients"), r.get("measure"))


def model_bound(root: Path, model: str, threads: int | None, batch: int = 32) -> dict[str, Any]:
    """Pipeline time per request alone and in a batch of ``batch`` requests (ms), and their ratio."""
    import torch

    import genlab

    if threads:
        torch.set_num_threads(threads)
    folder = root / ("image-generation" if model == "dcgan" else "text-generation") / model
    pipe = genlab.load(folder)
    requests = [pipe.request_class(**REQUESTS[model], seed=i) for i in range(batch)]

    def per_request(call, reqs, repeats):
        call(reqs)  # warm-up
        t0 = time.perf_counter()
        for _ in range(repeats):
            call(reqs)
        return (time.perf_counter() - t0) / repeats / len(reqs) * 1000

    single = per_request(lambda reqs: [pipe.run(r) for r in reqs], requests[:8], 3)
    batched = per_request(pipe.run_batch, requests, 3)
    return {"model": model, "dataset": None, "budget_minutes": None, "clients": None, "batching": None,
            "measure": "model time per request", "request": REQUESTS[model], "batch": batch,
            "single_ms": round(single, 2), "batched_ms": round(batched, 2), "bound": round(single / batched, 2),
            "torch_threads": torch.get_num_threads()}  # fmt: skip


def prepare_runs(root: Path) -> None:
    """The served runs: an untrained DCGAN and a GPT after one training step (for its tokenizer)."""
    import genlab
    from genlab.core.registry import MODELS as REGISTRY

    cls = REGISTRY.get("image/dcgan")
    model = cls(cls.config_class.build({"image_size": 32, "channels": 1}, where="image/dcgan"))
    model.save_pretrained(root / "image-generation" / "dcgan" / "model")
    genlab.train("text-generation", "gpt", "builtin:tinyshakespeare", "gpt", runs_dir=root, max_steps=1,
                 progress=False, sample_every=0)  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(root: Path, model: str, batching: bool, threads: int | None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    folder = root / ("image-generation" if model == "dcgan" else "text-generation") / model
    args = [sys.executable, "-m", "genlab", "serve", str(folder), "--port", str(port), "--max-queue", "256",
            "--max-batch", "32" if batching else "1", "--max-wait-ms", "10", "--log-level", "warning"]  # fmt: skip
    if threads:
        args += ["--threads", str(threads)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    import httpx

    for _ in range(600):
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                httpx.get(f"{url}/v1/models", timeout=60)  # loads the model
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}: {' '.join(args)}")
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not become ready in 120 s")


def peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


async def load(url: str, model: str, clients: int, seconds: float) -> tuple[list[float], int]:
    """Latencies (s) of the requests answered in the window, and the errors."""
    import httpx

    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    body = REQUESTS[model]

    async def client(i: int) -> None:
        nonlocal errors
        seed = i * 100_000
        async with httpx.AsyncClient(timeout=120) as http:
            while time.perf_counter() < deadline:
                seed += 1
                t0 = time.perf_counter()
                try:
                    r = await http.post(f"{url}/v1/models/{model}/generate", json={**body, "seed": seed})
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - t0)
                else:
                    errors += 1

    await asyncio.gather(*(client(i) for i in range(clients)))
    return latencies, errors


def measure(root: Path, model: str, batching: bool, client_counts: list[int], seconds: float,
            threads: int | None) -> list[dict[str, Any]]:  # fmt: skip
    proc, url = start_server(root, model, batching, threads)
    rows = []
    try:
        for clients in client_counts:
            t0 = time.perf_counter()
            latencies, errors = asyncio.run(load(url, model, clients, seconds))
            wall = time.perf_counter() - t0
            ms = np.asarray(latencies) * 1000
            rows.append({
                "model": model, "dataset": None, "budget_minutes": None, "clients": clients, "batching": batching,
                "requests": len(latencies), "errors": errors,
                "throughput_rps": round(len(latencies) / wall, 2),
                "p50_ms": round(float(np.percentile(ms, 50)), 1) if len(ms) else None,
                "p95_ms": round(float(np.percentile(ms, 95)), 1) if len(ms) else None,
                "p99_ms": round(float(np.percentile(ms, 99)), 1) if len(ms) else None,
                "peak_rss_mb": peak_rss_mb(proc.pid), "seconds": round(wall, 2), "request": REQUESTS[model],
                "server_threads": threads,
            })  # fmt: skip
            print({k: rows[-1][k] for k in ("model", "batching", "clients", "requests", "errors", "throughput_rps",
                                            "p50_ms", "p99_ms", "peak_rss_mb")})  # fmt: skip
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    return rows


TABLE_START, TABLE_END = (
    "<!-- results table: from benchmarks/results/serving.json -->",
    "<!-- end of results table -->",
)
COLUMNS = ("requests", "errors", "throughput_rps", "p50_ms", "p95_ms", "p99_ms", "peak_rss_mb")


def docs_table(results: Path, page: Path) -> None:
    """Rewrite the results table of ``page`` (between its markers) from the results file."""
    import json

    rows = json.loads(results.read_text(encoding="utf-8"))["results"]
    rows = sorted(
        (r for r in rows if not r.get("measure")), key=lambda r: (r["model"], r["clients"], not r["batching"])
    )
    lead = {"model": lambda r: r["model"], "clients": lambda r: r["clients"],
            "batching": lambda r: "yes" if r["batching"] else "no"}  # fmt: skip
    lines = common.markdown_table(rows, lead, COLUMNS, float_format="g")
    common.replace_between(page, TABLE_START, TABLE_END, lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0])
    common.add_common_arguments(p, "one model, 1 and 8 clients, 2 s each: a smoke check, not a result", runs=False)
    p.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    p.add_argument("--clients", nargs="+", type=int, default=[1, 8, 32, 100])
    p.add_argument("--seconds", type=float, default=6.0, help="length of each load window")
    p.add_argument("--docs", type=Path, default=None, help="only rewrite this page's results table from the file")
    p.add_argument("--bound", action="store_true", help="also time each model in-process, alone and in a batch")
    p.add_argument("--only-bound", action="store_true", help="only the in-process timings, no load test")
    args = p.parse_args(argv)
    if args.docs:
        docs_table(common.results_path("serving", args.out_dir), args.docs)
        return
    if args.quick:
        args.models, args.clients, args.seconds = ["dcgan"], [1, 8], 2.0
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="genlab-serving-") as tmp:
        root = Path(tmp) / "runs"
        prepare_runs(root)
        for model in args.models:
            if args.bound or args.only_bound:
                rows.append(model_bound(root, model, args.threads))
                print(rows[-1], flush=True)
            for batching in (True, False) if not args.only_bound else ():
                rows += measure(root, model, batching, args.clients, args.seconds, args.threads)
    commit = common.git_commit()
    for r in rows:
        r |= {"load_average": common.load_average(), "commit": commit}
    out = common.save_rows("serving-quick" if args.quick else "serving", rows, MODULE, argv, row_key, args.out_dir)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
