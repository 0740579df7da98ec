"""Compute precision for inference: ``"32"`` (float32) or ``"bf16"`` (bfloat16 autocast).

On CPUs with native bfloat16 (AVX-512 BF16, AMX) and on recent GPUs, convolutions and matrix
products run about twice as fast in bfloat16. Under :func:`compute_precision` the network runs
in bfloat16 while everything outside it (a sampler's update, the noise schedule) stays float32, so
the rounding error does not accumulate over the steps. Training has its own switch
(``--precision bf16-mixed``, Lightning's mixed precision).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Literal

import torch

from genlab.core.errors import BadInputError

Precision = Literal["32", "bf16"]
PRECISIONS: tuple[str, ...] = ("32", "bf16")


def native_bf16(device: torch.device | str) -> bool:
    """True when ``device`` computes in bfloat16 natively (CPU: AVX-512 BF16 or AMX through oneDNN)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def check_precision(precision: str | None, device: torch.device | str) -> str:
    """``precision`` validated (None → ``"32"``); warns when bf16 would be emulated (slower, not faster)."""
    chosen = precision or "32"
    if chosen not in PRECISIONS:
        raise BadInputError(f"unknown precision '{chosen}'", f"choose one of: {', '.join(PRECISIONS)}")
    if chosen == "bf16" and not native_bf16(device):
        warnings.warn(
            f"this {torch.device(device).type} has no native bfloat16 (AVX-512 BF16 or AMX): bf16 runs emulated, "
            "slower than float32",
            stacklevel=2,
        )
    return chosen


@contextlib.contextmanager
def compute_precision(precision: str | None, device: torch.device | str) -> Iterator[None]:
    """Run the block's network calls at ``precision`` (bf16: autocast); a no-op for ``"32"``/None."""
    if precision in (None, "32"):
        yield
        return
    with torch.autocast(torch.device(device).type, dtype=torch.bfloat16):
        yield
