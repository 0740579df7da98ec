"""Device auto-selection: cuda, then mps, then cpu."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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
