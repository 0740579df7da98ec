"""The run's environment record, ``env.json``: versions, hardware, seed, device and git commit.

Written when a training run starts, so a result can be traced to the code and machine that made it. A resumed
run keeps that record and appends the resuming process's own to its ``resumes`` list: the commit at the top is
always the one the run started with.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

from genlab.__about__ import __version__
from genlab.core.io import atomic_write_json
from genlab.core.runs import Run, now_iso


def write_env(run: Run, seed: int, device: str, resumed: bool = False) -> None:
    """Write ``env.json``: versions, seed, device, git commit of the genlab source; when ``resumed``, the run's
    first record stays and this one joins its ``resumes`` (an unreadable record is replaced)."""
    import lightning
    import numpy
    import torch

    env = {
        "created": now_iso(),
        "genlab": __version__,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "lightning": lightning.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "seed": seed,
        "device": device,
        "git_commit": git_commit(),
        "command": " ".join(sys.argv),
    }
    if resumed:
        try:
            first = json.loads(run.env_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            first = None
        if isinstance(first, dict):
            env = first | {"resumes": [*first.get("resumes", []), env]}
    atomic_write_json(run.env_path, env)


def git_commit() -> str | None:
    """Commit of the genlab source tree, when it is a git checkout."""
    src = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(
            ["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None
