"""Helpers every benchmark shares: options, timing, hardware/version records and the results file.

Each ``python -m benchmarks.<task>`` writes ``benchmarks/results/<task>.json``::

    {"generated_at", "hardware", "versions", "results": [row, ...]}

where a row is flat: ``{"model", "dataset", "budget_minutes", "command", <metric>: value, ...}``.
A run adds its rows to those already in the file: a row replaces the earlier one with the same
key (:func:`merge_rows`), so a benchmark can be re-run piecewise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "benchmarks" / "results"
#: Fields every row starts with, in this order (see the module docstring).
ROW_HEAD = ("model", "dataset", "budget_minutes", "command")


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
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "src"], cwd=ROOT, capture_output=True, text=True)
    except OSError:
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def command_line(module: str, argv: Sequence[str] | None = None) -> str:
    """The command that ran benchmark ``module`` (``benchmarks.diffusion``) with ``argv`` (default: this
    process's arguments), as a user types it: ``python -m benchmarks.diffusion --quick``."""
    args = sys.argv[1:] if argv is None else argv
    return " ".join(shlex.quote(a) for a in ["python", "-m", module, *args])


def stamp(rows: list[dict[str, Any]], command: str) -> list[dict[str, Any]]:
    """Rows with the fields every row carries: :data:`ROW_HEAD` first (``command`` set), the commit that
    measured them (a row may carry its own), then the row's own fields, then the torch threads and CPU
    model that measured it (rows from several machines and commits can share a file)."""
    import torch

    machine = {"torch_threads": torch.get_num_threads(), "cpu": cpu_name()}
    commit = git_commit()
    out = []
    for row in rows:
        head = {k: row.get(k) for k in ROW_HEAD} | {"command": command, "commit": commit}
        out.append(head | row | {"command": command} | machine)
    return out


class Stopwatch:
    """Wall time of a ``with`` block: ``with Stopwatch() as watch: ...``, then ``watch.seconds``."""

    def __enter__(self) -> Stopwatch:
        self.start, self.seconds = time.perf_counter(), float("nan")
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def best_time(fn: Callable[[], Any], repeats: int, warmup: Callable[[], Any] | None = None) -> float:
    """Best wall time in seconds of ``fn()`` over ``repeats`` runs, after one warm-up call (``warmup()``,
    default ``fn()``): the best of a few runs is the least disturbed by other processes."""
    (warmup or fn)()
    best = float("inf")
    for _ in range(repeats):
        with Stopwatch() as watch:
            fn()
        best = min(best, watch.seconds)
    return best


#: Square matrix sizes of the matmul peak: small enough to take a second, large enough to reach the peak.
PEAK_SIZES = (512, 1024, 2048)
#: Start and end peaks further apart than this share of the larger one mean the machine changed speed.
PEAK_TOLERANCE = 0.15


def matmul_peak_gflops(
    sizes: Sequence[int] = PEAK_SIZES, repeats: int = 5, threads: int | None = None, dtype: str = "float32"
) -> float:
    """Measured throughput of square ``torch.mm`` on this machine (GFLOP/s) in ``dtype`` (float32 or
    bfloat16): the best over ``sizes``, each the best of ``repeats`` timed runs, at ``threads`` torch
    threads (default: the current setting).

    One timed product is at the mercy of the scheduler; the best of several is the least disturbed.
    """
    import torch

    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        best = 0.0
        for n in sizes:
            a, b = torch.randn(n, n, dtype=getattr(torch, dtype)), torch.randn(n, n, dtype=getattr(torch, dtype))
            best = max(best, 2 * n**3 / best_time(lambda a=a, b=b: torch.mm(a, b), repeats) / 1e9)
        return best
    finally:
        torch.set_num_threads(before)


class MatmulPeak:
    """The matmul peak at the start and at the end of a measurement.

    ``with MatmulPeak(threads) as peak: ...`` measures before and after the block; ``peak.gflops`` is
    the larger of the two (the machine's speed when undisturbed) and ``peak.moved`` says whether they
    differ by more than :data:`PEAK_TOLERANCE`: then the machine was busy or changed clock during the
    block, and its timings deserve less trust.
    """

    def __init__(
        self, threads: int | None = None, sizes: Sequence[int] = PEAK_SIZES, repeats: int = 5, dtype: str = "float32"
    ):
        self.threads, self.sizes, self.repeats, self.dtype = threads, sizes, repeats, dtype
        self.start = self.end = float("nan")

    def __enter__(self) -> MatmulPeak:
        self.start = matmul_peak_gflops(self.sizes, self.repeats, self.threads, self.dtype)
        return self

    def __exit__(self, *exc: object) -> None:
        self.end = matmul_peak_gflops(self.sizes, self.repeats, self.threads, self.dtype)

    @property
    def gflops(self) -> float:
        """The larger of the start and end peaks (the start alone while the block runs)."""
        return max(self.start, self.end) if self.end == self.end else self.start

    @property
    def moved(self) -> bool:
        """True when the start and end peaks differ by more than :data:`PEAK_TOLERANCE` of the larger."""
        return self.end == self.end and abs(self.start - self.end) > PEAK_TOLERANCE * self.gflops

    def fields(self) -> dict[str, Any]:
        """The row fields: ``matmul_peak_gflops`` (start, end and the one used) and ``peak_moved``."""
        return {
            "matmul_peak_dtype": self.dtype,
            "matmul_peak_gflops": round(self.gflops, 1),
            "matmul_peak_start_gflops": round(self.start, 1),
            "matmul_peak_end_gflops": round(self.end, 1),
            "peak_moved": self.moved,
        }


def mfu(achieved_flops_per_s: float, peak: MatmulPeak | float) -> dict[str, Any]:
    """Model FLOPs utilisation: achieved FLOP/s over the matmul peak (GFLOP/s, or a :class:`MatmulPeak`).

    Returns ``{"mfu", "mfu_capped", "model_gflops_per_s"}`` (plus the peak fields of a
    :class:`MatmulPeak`). A value above 1 cannot be true — the peak was measured while the machine
    was slower than during the step — so it is reported as 1.0 with ``mfu_capped: true``.
    """
    gflops = peak.gflops if isinstance(peak, MatmulPeak) else float(peak)
    ratio = achieved_flops_per_s / 1e9 / gflops
    out = {"model_gflops_per_s": round(achieved_flops_per_s / 1e9, 1), "mfu": round(min(ratio, 1.0), 3)}
    out["mfu_capped"] = ratio > 1.0
    return out | (peak.fields() if isinstance(peak, MatmulPeak) else {"matmul_peak_gflops": round(gflops, 1)})


def load_average() -> float | None:
    """The 1-minute load average of this machine (None where the OS has none): rows record it, since a
    timing taken while other processes run is slower by an unknown amount."""
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


# --------------------------------------------------------------------------- options


def add_common_arguments(parser: argparse.ArgumentParser, quick_help: str, runs: bool = True) -> None:
    """The options every benchmark takes: ``--quick``, ``--threads``, ``--out-dir`` (and ``--runs-dir``)."""
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (recorded in the results)")
    parser.add_argument("--out-dir", type=Path, default=None, help="folder of the results file (benchmarks/results)")
    if runs:
        parser.add_argument("--runs-dir", default=None, help="keep the trained runs here (default: a temporary folder)")


def set_threads(threads: int | None) -> None:
    """Use ``threads`` torch CPU threads when given (a busy 2-core machine measures better with 1)."""
    if threads:
        import torch

        torch.set_num_threads(threads)


@contextlib.contextmanager
def runs_folder(runs_dir: str | Path | None) -> Iterator[Path]:
    """``runs_dir`` when given (runs are kept), else a temporary folder removed afterwards."""
    if runs_dir:
        yield Path(runs_dir)
        return
    with tempfile.TemporaryDirectory(prefix="genlab-bench-") as tmp:
        yield Path(tmp)


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


def merge_rows(
    path: str | Path, new: list[dict[str, Any]], key: Callable[[dict[str, Any]], Hashable]
) -> list[dict[str, Any]]:
    """The rows of the results file ``path`` (none when it does not exist) whose ``key`` no row of
    ``new`` has, followed by ``new``: a re-measured row replaces its earlier self, others stay."""
    path = Path(path)
    old = json.loads(path.read_text(encoding="utf-8")).get("results", []) if path.is_file() else []
    redone = {key(r) for r in new}
    return [r for r in old if key(r) not in redone] + new


def results_path(name: str, out_dir: str | Path | None = None) -> Path:
    """``<out_dir>/<name>.json`` (default folder: ``benchmarks/results``)."""
    return Path(out_dir or RESULTS_DIR) / f"{name}.json"


def save_rows(
    name: str,
    rows: list[dict[str, Any]],
    module: str,
    argv: Sequence[str] | None,
    key: Callable[[dict[str, Any]], Hashable],
    out_dir: str | Path | None = None,
    order: Callable[[dict[str, Any]], Any] | None = None,
    **extra: Any,
) -> Path:
    """Add this run's ``rows`` to the results file ``<out_dir>/<name>.json``: each is stamped with the
    command (benchmark ``module`` run with ``argv``) and the machine, replaces the earlier row of the same
    ``key`` and, with ``order``, the file's rows are sorted by it. ``extra`` goes beside ``results``.
    Returns the file's path."""
    merged = merge_rows(results_path(name, out_dir), stamp(rows, command_line(module, argv)), key)
    return write_results(name, sorted(merged, key=order) if order else merged, out_dir, **extra)


def write_results(name: str, rows: list[dict[str, Any]], out_dir: str | Path | None = None, **extra: Any) -> Path:
    """Write ``<out_dir>/<name>.json`` in the shared format (``rows`` are all its rows); returns its path."""
    out = results_path(name, out_dir)
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


def markdown_table(
    rows: list[dict[str, Any]],
    lead: dict[str, Callable[[dict[str, Any]], Any]],
    columns: Sequence[str],
    float_format: str = ".3f",
) -> list[str]:
    """Lines of a Markdown table: the ``lead`` columns (header → cell of a row), then one column per key of
    ``columns`` (floats in ``float_format``, missing values as –)."""

    def cell(value: Any) -> str:
        return "–" if value is None else format(value, float_format) if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join([*lead, *columns]) + " |", "|---" * (len(lead) + len(columns)) + "|"]
    for r in rows:
        lines.append(
            "| " + " | ".join([*(str(f(r)) for f in lead.values()), *(cell(r.get(k)) for k in columns)]) + " |"
        )
    return lines


def replace_between(page: Path, start: str, end: str, lines: list[str]) -> None:
    """Rewrite the part of ``page`` between the marker lines ``start`` and ``end`` (kept) with ``lines``."""
    text = page.read_text(encoding="utf-8")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    page.write_text(f"{head}{start}\n" + "\n".join(lines) + f"\n{end}{tail}", encoding="utf-8")
