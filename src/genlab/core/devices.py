"""Device auto-selection: cuda, then mps, then cpu."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

from genlab.core.errors import BadInputError


def available_devices() -> list[str]:
    """Accelerators present on this machine, best first (always ends with ``cpu``)."""
    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    return [*found, "cpu"]


def select_device(name: str = "auto") -> torch.device:
    """Resolve ``auto``/``cpu``/``cuda``/``cuda:1``/``mps`` to a device that exists here."""
    if name == "auto":
        return torch.device(available_devices()[0])
    kind = name.split(":")[0]
    if kind not in available_devices():
        raise BadInputError(
            f"device '{name}' is not available on this machine", f"available: {', '.join(available_devices())}"
        )
    return torch.device(name)


def cpu_has_bf16() -> bool:
    """True when this CPU computes bfloat16 in hardware (x86 AVX-512 BF16 or AMX, Arm BF16). Without it, torch
    emulates bfloat16 matmuls in float32 and adds conversions: bf16 training only gets slower."""
    flags: set[str] = set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    flags |= set(line.split(":", 1)[1].split())
    except OSError:
        pass
    if flags:
        return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})
    try:  # no /proc/cpuinfo (macOS, Windows): torch's own check
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def check_precision_for(device: str, precision: str) -> None:
    """Refuse bfloat16 training on a CPU without bfloat16 instructions (it would be slower than float32)."""
    if precision.startswith("bf16") and select_device(device).type == "cpu" and not cpu_has_bf16():
        raise BadInputError(
            "this CPU has no bfloat16 instructions (AVX-512 BF16, AMX or Arm BF16): bf16 would run emulated, slower",
            "train with --precision 32 (the default) here; use bf16-mixed on recent GPUs or CPUs that have them",
        )


def lightning_accelerator(name: str = "auto") -> str:
    """Map a genlab device name to a Lightning accelerator name (cuda → gpu)."""
    kind = select_device(name).type
    return "gpu" if kind == "cuda" else kind


@contextmanager
def cpu_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads (None: leave the count alone), then restore it.

    Single-token decoding steps of a cached transformer are so small that spreading them over
    threads costs more in synchronisation than it saves: one thread is faster there.
    """
    if n is None or n == torch.get_num_threads():
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def best_time(fn: Callable[[], Any], repeats: int, threads: int | None = None) -> float:
    """The fastest of ``repeats`` calls of ``fn`` after one warm-up call, in seconds, on ``threads`` torch threads
    (None: as set); gradients off."""
    with cpu_threads(threads), torch.no_grad():
        fn()
        best = float("inf")
        for _ in range(repeats):
            began = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - began)
    return best


@contextmanager
def flush_denormals() -> Iterator[None]:
    """Run the block with subnormal floats (below 1.2e-38) flushed to zero on the CPU, then restore
    torch's default.

    Weights whose gradient is always zero, such as the first layer's weights of MNIST's black
    border pixels, keep an Adam moment that decays by β₁ every step and turns subnormal after
    about 800 steps; the CPU computes slowly on subnormals, and an MLP VAE on MNIST spent most of
    its step on them (``python -m benchmarks.vae_likelihood`` measures the throughput). Values that small
    are zero to any model.
    """
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)
