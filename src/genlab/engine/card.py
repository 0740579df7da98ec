"""The model card (``README.md``) written beside every exported model."""

from __future__ import annotations

from typing import Any

import yaml

from genlab.__about__ import __version__


def model_card(resolved: Any, data_info: Any, metrics: dict[str, str], steps: int, minutes: float, command: str) -> str:
    """Markdown card: task, model, data, training budget, measured metrics, reproduce command."""
    cfg = resolved.to_dict()
    d = data_info.to_dict()
    metric_lines = [f"| {k} | {v} |" for k, v in metrics.items() if k not in ("step", "epoch", "time_s")]
    data_lines = [f"- {k}: {v}" for k, v in d.items() if k not in ("skipped", "split")]
    split = d.get("split", {})
    return "\n".join(
        [
            f"# {cfg['task']} / {cfg['model']['name']} — {cfg['name']}",
            "",
            f"Trained by genlab {__version__}. Load it with `genlab.load(path)` or "
            f"`genlab sample {cfg['name']} …` from the run directory.",
            "",
            "## Data",
            *data_lines,
            f"- split: {split}",
            f"- unreadable files skipped: {len(d.get('skipped', []))}",
            "",
            "## Training budget",
            f"- steps (batches): {steps}",
            f"- wall time this invocation: {minutes:.1f} min",
            f"- batch size: {cfg['train']['batch_size']}, seed: {cfg['train']['seed']}",
            "",
            "## Measured metrics (last logged values)",
            "| metric | value |",
            "|---|---|",
            *(metric_lines or ["| (none logged) | |"]),
            "",
            "## Model config",
            "```yaml",
            yaml.safe_dump(cfg["model"], sort_keys=False).rstrip(),
            "```",
            "",
            "## Reproduce",
            "```",
            command,
            "```",
            "",
        ]
    )
