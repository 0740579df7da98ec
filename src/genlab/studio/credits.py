"""Credits of the data the served models were trained on, for the studio's About tab.

A run's model card (``config.json``'s ``data``) or its ``config.yaml`` names its data source (``builtin:digits``,
a folder). The credit of a registered dataset is its description, license and the ``attribution`` its spec's
extras carry (the game-character layers require one); a data source may add more text
(an attribution its license asks for) with :func:`register_credits`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from genlab.core.runs import list_runs

#: Extra credit text per data source name (``builtin:digits``) or prefix ending in ``:`` (``game:``).
CREDIT_HOOKS: dict[str, Callable[[str], str]] = {}


def register_credits(source: str, credits: Callable[[str], str]) -> None:
    """Add ``credits(source_name) -> text`` for a data source name, or for every name starting with ``source``
    when it ends in ``:`` (``register_credits("game:", fn)``)."""
    CREDIT_HOOKS[source] = credits


def extra_credits(source: str) -> str:
    """The text the hooks give for ``source`` (empty when none applies)."""
    parts = [hook(source) for key, hook in CREDIT_HOOKS.items() if key == source or (key.endswith(":") and
             source.startswith(key))]  # fmt: skip
    return "\n".join(p for p in parts if p)


def _dataset_credit(source: str) -> str:
    from genlab.core.data import parse_source
    from genlab.core.registry import DATASETS

    try:
        name, _ = parse_source(source)
        spec = DATASETS.get(name)
    except Exception:  # a folder or file of the user's own: nothing registered to credit
        return ""
    extras = getattr(spec, "extras", None) or {}
    bits = [getattr(spec, "description", ""), f"license: {spec.license}" if getattr(spec, "license", "") else "",
            f"attribution: {extras['attribution']}" if extras.get("attribution") else ""]  # fmt: skip
    return " — ".join(b for b in bits if b)


def data_source(meta: dict[str, Any]) -> str:
    """The data source a model's ``config.json`` or a run's config names ('' when none)."""
    data = meta.get("data")
    if isinstance(data, dict):
        data = data.get("source") or data.get("name") or data.get("path")
    return str(data) if data else ""


def run_sources(root: str | Path | None) -> list[str]:
    """The data sources named by the runs under ``root`` (sorted, each once)."""
    import yaml

    found = set()
    for run in list_runs(root):
        try:
            config = yaml.safe_load(run.config_path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            continue
        source = data_source(config) if isinstance(config, dict) else ""
        if source:
            found.add(source)
    return sorted(found)


def credits_text(sources: list[str]) -> str:
    """Markdown: one item per data source with its registered description, license and hook text."""
    if not sources:
        return "No trained model names its data yet."
    lines = []
    for source in sources:
        credit = " ".join(t for t in (_dataset_credit(source), extra_credits(source)) if t)
        lines.append(f"* **{source}**" + (f": {credit}" if credit else " (your own data)"))
    return "\n".join(lines)
