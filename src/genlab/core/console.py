"""The console genlab prints to, and rank-awareness for multi-process runs."""

from __future__ import annotations

import os

from rich.console import Console

console = Console(highlight=False, emoji=False)  # no emoji codes: "fsdd:train:" is a dataset, not 🚋


def global_rank() -> int:
    """This process's rank in a distributed run (0 when not distributed)."""
    for var in ("RANK", "LOCAL_RANK", "SLURM_PROCID"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return 0


def is_rank_zero() -> bool:
    return global_rank() == 0


def info(message: str) -> None:
    """Print ``message`` on rank 0 only, unbroken: the terminal wraps long lines itself, so paths in them stay
    whole (a console that is not a terminal would otherwise break lines at 80 columns)."""
    if is_rank_zero():
        console.print(message, soft_wrap=True)
