"""The Python API: the same verbs as the CLI.

``genlab.train(...)`` imports the training engine lazily, so ``genlab.load``
and sampling start with torch and safetensors only.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from genlab.core import config as cfgmod
from genlab.core.errors import BadInputError
from genlab.core.model import GenerativeModel
from genlab.core.pipeline import Pipeline
from genlab.core.registry import MODELS, TASKS
from genlab.core.runs import resolve_model_dir


def build_run_config(
    task: str,
    model: str | None = None,
    data: str | None = None,
    name: str | None = None,
    config: str | Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    options: dict[str, Any] | None = None,
):
    """Merge (lowest first) defaults, a YAML/JSON file, named options and ``--set`` overrides.

    ``options`` maps dotted keys (``data.data_dir``, ``train.seed``) to typed values, set as they are
    (a folder named ``2024`` stays the string "2024"); only ``overrides`` are parsed as YAML scalars.
    """
    from genlab.engine.config import RunConfig

    task_obj = TASKS.get(task)
    values: dict[str, Any] = cfgmod.load_file(config) if config else {}
    values.setdefault("model", {})
    values.setdefault("data", {})
    values.setdefault("train", {})
    if model:
        values["model"]["name"] = model
    values["model"].setdefault("name", task_obj.default_model)
    if data:
        values["data"]["source"] = data
    for key, value in (options or {}).items():
        if value is not None:
            cfgmod.set_dotted(values, key, value)
    values = cfgmod.apply_overrides(values, list(overrides))
    values["task"] = task_obj.name
    values["name"] = name or values.get("name") or _default_name(str(values["model"]["name"]))
    _check_name(values["name"])
    return RunConfig.build(values)


def _default_name(model: str) -> str:
    return f"{model}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def _check_name(name: str) -> None:
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise BadInputError(f"invalid run name '{name}'", "use letters, digits, '-' and '_' (no slashes)")


def train(
    task: str,
    model: str | None = None,
    data: str | None = None,
    name: str | None = None,
    *,
    max_minutes: float | None = None,
    epochs: int | None = None,
    max_steps: int | None = None,
    runs_dir: str | Path | None = None,
    config: str | Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    data_options: dict[str, Any] | None = None,
    model_options: dict[str, Any] | None = None,
    **train_options: Any,
):
    """Train a model; returns a ``TrainResult`` (run directory, status, steps, files).

    Example: ``genlab.train("image-generation", model="dcgan", data="builtin:mnist-5k", max_minutes=5,
    data_options={"image_size": 32}, model_options={"latent_dim": 64}, batch_size=128)``.
    ``data_options``/``model_options`` set fields of the task's data config and of the model's config;
    extra keyword arguments set ``train.*`` fields (``batch_size=128``, ``seed=1``, ``ema_decay=0.999``,
    ``dp={"epsilon": 1.0, "delta": 1e-5}`` for differentially private training);
    ``overrides`` are ``--set``-style dotted strings, applied last.
    """
    from genlab.engine.trainer import train as engine_train

    options = {"train.max_minutes": max_minutes, "train.max_epochs": epochs, "train.max_steps": max_steps}
    options |= {f"train.{k}": v for k, v in train_options.items()}
    options |= {f"data.{k}": v for k, v in (data_options or {}).items()}
    options |= {f"model.{k}": v for k, v in (model_options or {}).items()}
    cfg = build_run_config(task, model, data, name, config, overrides, options)
    return engine_train(cfg, runs_dir=runs_dir)


def load(path: str | Path, device: str = "cpu") -> Pipeline:
    """Load a trained model (run directory or model directory) as its task's pipeline."""
    model = GenerativeModel.from_pretrained(resolve_model_dir(path), map_location=device)
    if model.task not in TASKS.names():
        raise BadInputError(
            f"{path} holds a {model.registry_name} model, which has no pipeline ({model.task})",
            f"load it with GenerativeModel.from_pretrained('{path}') to use it as a module",
        )
    return TASKS.get(model.task).pipeline_class(model)


def export(
    path: str | Path,
    out: str | Path,
    format: str = "onnx",
    graphs: list[str] | None = None,
    opset: int = 18,
    check: bool = True,
) -> list[Any]:
    """Export the model of a run (or model directory) to ``out/<graph>.onnx`` + ``out/export.json``, each graph
    checked against PyTorch in onnxruntime; returns the per-graph reports (:mod:`genlab.exporters`)."""
    if format != "onnx":
        raise BadInputError(f"unknown export format '{format}'", "formats: onnx")
    from genlab.exporters import export_onnx

    model = GenerativeModel.from_pretrained(resolve_model_dir(path), map_location="cpu")
    return export_onnx(model, out, graphs=graphs, opset=opset, check=check)


def tune_guidance(path: str | Path, data_dir: str | None = None, **options: Any) -> dict[str, Any]:
    """Choose the sampling defaults of a run (diffusion/flow: guidance scale and steps) on its validation split and
    save them in its model; returns the sweep's record. ``options``: guidance, steps, n, metric, max_minutes,
    tolerance, seed (the run's task decides which it takes)."""
    from genlab.core.checkpoint import read_meta

    task = TASKS.get(read_meta(resolve_model_dir(path))["task"])
    return task.tune_sampling(Path(path), {k: v for k, v in options.items() if v is not None}, data_dir)


def generate(path: str | Path, **kwargs: Any):
    """Shortcut: ``load(path)(**kwargs)``."""
    return load(path)(**kwargs)


def evaluate(
    path: str | Path,
    metrics: list[str] | str | None = None,
    *,
    device: str = "cpu",
    save: bool = True,
    **options: Any,
) -> dict[str, Any]:
    """Evaluate a trained model with its task's metrics; returns ``{"metrics", "baselines", "protocol"}``.

    ``metrics`` is a list or a comma-separated string (None: the task's defaults); ``options``
    go to the task (``n=10000``, ``seed=0``, ``ref="mnist:test"``, ``data_dir=...``, ...).
    When ``path`` is a run directory and ``save`` is true the result is written to its ``eval.json``.
    """
    from genlab.core.io import atomic_write_json
    from genlab.core.runs import Run

    if isinstance(metrics, str):
        metrics = [m.strip() for m in metrics.split(",") if m.strip()]
    pipe = load(path, device=device)
    result = TASKS.get(pipe.model.task).evaluate(
        pipe.model, metrics, {k: v for k, v in options.items() if v is not None}
    )
    run = Run(Path(path))
    if save and run.config_path.is_file():
        atomic_write_json(run.eval_path, result)
    return result


def list_models(task: str | None = None) -> list[dict[str, str]]:
    """Registered models: ``[{"name", "task", "description"}]``, optionally for one task. A model class that
    trains for several tasks (``tasks``, e.g. the encoder–decoders) lists those registered, comma-separated."""
    rows = []
    for name, cls in MODELS.items():
        served = tuple(t for t in getattr(cls, "tasks", ()) if t in TASKS) or (cls.task,)
        if task is None or task in served:
            doc = cls.description or (cls.__doc__ or "").strip().splitlines()[0]
            rows.append({"name": name, "task": ", ".join(served), "description": doc})
    return rows
