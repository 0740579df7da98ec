"""Helpers every benchmark script shares: hardware/version records and the results file format.

Each ``benchmarks/<task>.py`` writes ``benchmarks/results/<task>.json``::

    {"generated_at", "hardware", "versions", "results": [row, ...]}

where a row is flat: ``{"model", "dataset", "budget_minutes", "command", <metric>: value, ...}``.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def cpu_name() -> str:
    """The CPU model of this machine (``model name`` in /proc/cpuinfo where there is one).

    Benchmarks that merge new rows into an older results file stamp each row with it, so a
    row measured on another machine keeps its hardware.
    """
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware() -> dict[str, Any]:
    """CPU model, core count, memory and accelerator of this machine."""
    import torch

    cpu = cpu_name()
    mem_gib = None
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        mem_gib = round(pages * size / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "memory_gib": mem_gib,
        "gpu": gpu,
        "platform": platform.platform(),
    }


def versions() -> dict[str, str]:
    """Versions of Python, genlab and the main libraries."""
    import lightning
    import numpy
    import torch

    import genlab

    return {
        "python": sys.version.split()[0],
        "genlab": genlab.__version__,
        "torch": torch.__version__,
        "lightning": lightning.__version__,
        "numpy": numpy.__version__,
        "commit": git_commit(),
    }


def git_commit() -> str | None:
    """The repository's commit (``+dirty`` with uncommitted changes under src/), None outside a git checkout.

    Time-budgeted rows depend on how fast the engine was, so a row names the code that made it.
    """
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "src"], cwd=root, capture_output=True, text=True)
    except OSError:
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def command_line() -> str:
    """The command that ran this benchmark, as a user would type it."""
    return " ".join(shlex.quote(a) for a in ["python", *sys.argv])


def matmul_peak_gflops(n: int = 1024, repeats: int = 10) -> float:
    """Measured fp32 ``torch.mm`` throughput of this machine (GFLOP/s, best of ``repeats``)."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def run_config(run: str | Path) -> dict[str, Any]:
    """The resolved ``config.yaml`` of a training run (sections ``model``, ``data``, ``train``)."""
    import yaml

    return yaml.safe_load((Path(run) / "config.yaml").read_text(encoding="utf-8"))


def training_images_per_s(result: Any) -> float:
    """Images/s of a finished ``genlab.train`` result: steps × batch size over its training minutes."""
    batch = int(run_config(result.run.path)["train"]["batch_size"])
    return result.steps * batch / max(result.minutes * 60, 1e-9)


def idx_datasets_on_disk(names: list[str], data_dir: str | None) -> list[str]:
    """Those of ``names`` (``mnist``, ``fashion-mnist``) whose IDX test file is under ``data_dir``."""
    from genlab.core.download import data_root

    return [d for d in names if (data_root(data_dir) / d / "t10k-images-idx3-ubyte.gz").is_file()]


def write_results(name: str, rows: list[dict[str, Any]], out_dir: str | Path | None = None, **extra: Any) -> Path:
    """Write ``<out_dir>/<name>.json`` in the shared format; returns its path."""
    out = Path(out_dir or RESULTS_DIR) / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "hardware": hardware(),
        "versions": versions(),
        **extra,
        "results": rows,
    }
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(out)
    return out
