"""The model card (``README.md``) written beside every exported model."""

from __future__ import annotations

from typing import Any

import yaml

from genlab.__about__ import __version__


def model_card(
    resolved: Any,
    data_info: Any,
    metrics: dict[str, str],
    steps: int,
    minutes: float,
    command: str,
    privacy: dict[str, Any] | None = None,
) -> str:
    """Markdown card: task, model, data, training budget, differential privacy (when trained with it),
    measured metrics, reproduce command."""
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
            *(privacy_section(privacy) if privacy else []),
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


def privacy_section(p: dict[str, Any]) -> list[str]:
    """The card's "Differential privacy" section from a run's privacy record (``PrivateTraining.summary``)."""
    from genlab.engine.privacy import ACCOUNTANTS

    return [
        "## Differential privacy",
        f"- guarantee: (ε = {p['epsilon']:.4g}, δ = {p['delta']:g})-differential privacy with respect to adding or "
        f"removing one of the {p['dataset_size']} training examples (target ε = {p['target_epsilon']:g})",
        "- mechanism: DP-SGD (Abadi et al. 2016) through Opacus: Poisson sampling, per-example gradients "
        "clipped, Gaussian noise on their sum",
        f"- noise multiplier σ: {p['noise_multiplier']:.4g}, clipping norm C: {p['max_grad_norm']:g} "
        f"(noise standard deviation σ·C = {p['noise_multiplier'] * p['max_grad_norm']:.4g})",
        f"- sampling rate q: {p['sample_rate']:.4g} (expected batch size {p['expected_batch_size']}), "
        f"steps accounted: {p['steps']} of {p['planned_steps']} planned",
        f"- accountant: {p['accountant']}, {ACCOUNTANTS.get(p['accountant'], '')}",
        f"- privatised optimizer groups: {', '.join(p['groups'])}",
        "- covers the weights and everything generated from them; not what the task computed from the data "
        "outside the gradient steps (normalisation statistics, category lists), nor the validation losses",
        "",
    ]
