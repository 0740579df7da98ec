"""``genlab compress RUN --quantize … --prune …``: a compressed copy of a trained run, and its report.

The result is a normal run beside the original (``runs/<task>/<out>``): ``model/`` (int8 weights where quantised,
loaded without unpickling like any model), ``config.yaml``, status, and ``compression.json`` — what was done
(layers, sparsity, fine-tune steps) and the report: per export graph the weights' size, one-thread latency and the
largest output difference from the original on the same inputs, and the task's quality metrics (``genlab eval``)
of both models with their change. Pruning fine-tunes through the normal trainer (``train.init_from`` = the pruned
weights, the masks held by a callback), so the fine-tune resumes and stops like any training run.
"""

from __future__ import annotations

import copy
import io
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genlab.core.checkpoint import WEIGHTS_NAME, read_meta
from genlab.core.console import info
from genlab.core.devices import best_time, cpu_threads
from genlab.core.errors import BadInputError
from genlab.core.io import atomic_write_json
from genlab.core.runs import Run, now_iso, resolve_model_dir

REPORT_NAME = "compression.json"
#: config.json fields a save writes itself; the others (training data, steps, privacy) carry over to the copy
OWN_META = ("model", "class_name", "task", "config", "genlab_version", "weights_sha256", "quantization")


@dataclass
class CompressResult:
    run: Run
    report: dict[str, Any]


def compress(
    source: str | Path,
    *,
    quantize: str | None = None,
    prune: float | None = None,
    prune_method: str = "magnitude",
    finetune_steps: int = 200,
    out: str | None = None,
    calibration: int = 256,
    all_layers: bool = False,
    metrics: list[str] | None = None,
    eval_n: int = 1000,
    evaluate: bool = True,
    repeats: int = 20,
    threads: int = 1,
) -> CompressResult:
    """Compress the run ``source``; see the module docstring. ``metrics`` None: the task's defaults."""
    from genlab.compress.prune import TYPES, MaskCallback, apply_masks, prune_masks, sparsity
    from genlab.compress.quantize import inference_layers
    from genlab.compress.quantize import quantize as quantize_model
    from genlab.core.config import load_file
    from genlab.core.model import GenerativeModel

    if quantize is None and prune is None:
        raise BadInputError("nothing to do", "give --quantize int8-dynamic|int8-static and/or --prune FRACTION")
    src = Run(Path(source))
    model_dir = resolve_model_dir(source)
    if not src.config_path.is_file():
        raise BadInputError(f"{source} is not a training run", "pass runs/<task>/<name> (it needs its config.yaml)")
    original = GenerativeModel.from_pretrained(model_dir)
    if getattr(original, "quantization", None):
        raise BadInputError(f"{source} is already int8", "compress the float run it came from")
    config = load_file(src.config_path)
    name = out or _default_name(src.path.name, quantize, prune, prune_method)
    dst = Run(src.path.parent / name)
    if dst.path.resolve() == src.path.resolve():
        raise BadInputError("--out names the original run", "pick another name")
    if (dst.path / REPORT_NAME).is_file():
        raise BadInputError(f"{dst.path} exists already", "pass another --out, or delete that run first")
    done: dict[str, Any] = {"source": str(src.path), "started": now_iso()}

    model = copy.deepcopy(original)
    if prune is not None:
        layers = inference_layers(model, TYPES)
        masks = prune_masks(model, layers, prune, prune_method)
        apply_masks(model, masks)
        start = dst.path / "pruned-start"
        if not (dst.path / "model").is_dir() or not (dst.checkpoints_dir / "last.ckpt").is_file():
            model.save_pretrained(start)
        model = _finetune(config, name, src, start, MaskCallback(masks), finetune_steps)
        apply_masks(model, masks)  # EMA weights or not, the pruned entries are zero
        done |= {"prune": {"method": prune_method, "amount": prune, "layers": len(layers),
                           "sparsity": round(sparsity(model, masks), 4), "finetune_steps": finetune_steps}}  # fmt: skip
    if quantize is not None:
        chosen = quantize_model(model, quantize, calibration=calibration, all_layers=all_layers)
        done["quantize"] = {"scheme": quantize, **chosen}
    if prune is None:
        dst = Run.create(src.path.parents[1], src.path.parent.name, name)
        shutil.copyfile(src.config_path, dst.config_path)
        for extra in ("data.json", "env.json"):
            if (src.path / extra).is_file():
                shutil.copyfile(src.path / extra, dst.path / extra)
    card = f"# {name}\n\nA compressed copy of `{src.path.name}` ({_methods(done)}); see compression.json.\n"
    kept = {k: v for k, v in read_meta(model_dir).items() if k not in OWN_META}  # training data, steps, privacy
    kept["compression"] = {k: v for k, v in done.items() if k != "started"}
    model.save_pretrained(dst.model_dir, card=card, extra=kept)
    shutil.rmtree(dst.path / "pruned-start", ignore_errors=True)
    compressed = GenerativeModel.from_pretrained(dst.model_dir)  # what users will load
    report = done | {"method": _methods(done), "graphs": measure_graphs(original, compressed, repeats, threads)}
    report |= _files(model_dir, dst.model_dir)
    if evaluate:
        report["quality"] = _quality(src.path, dst.path, metrics, eval_n)
    report["finished"] = now_iso()
    atomic_write_json(dst.path / REPORT_NAME, report)
    dst.set_status("completed", compressed_from=str(src.path), method=report["method"])
    info(f"compressed {src.path.name} → {dst.path} ({report['method']})")
    return CompressResult(dst, report)


def _default_name(source: str, quantize: str | None, prune: float | None, method: str) -> str:
    parts = [source]
    if prune is not None:
        parts.append(f"{'pruned' if method == 'magnitude' else 'chpruned'}{round(100 * prune)}")
    if quantize is not None:
        parts.append(quantize.replace("int8-", "int8"))
    return "-".join(parts)


def _methods(done: dict[str, Any]) -> str:
    parts = []
    if "prune" in done:
        p = done["prune"]
        parts.append(f"prune-{p['amount']:g}" + ("" if p["method"] == "magnitude" else "-structured"))
    if "quantize" in done:
        parts.append(done["quantize"]["scheme"])
    return "+".join(parts)


def _finetune(config: dict, name: str, src: Run, start: Path, keep_masks: Any, steps: int) -> Any:
    """Fine-tune the pruned weights ``start`` on the original run's data and settings for ``steps`` steps."""
    import genlab
    from genlab.core.model import GenerativeModel
    from genlab.engine.trainer import extra_callbacks

    overrides = ["train.max_minutes=null", "train.max_epochs=null", f"train.init_from={start}"]
    with extra_callbacks(keep_masks):
        result = genlab.train(config["task"], None, None, name, runs_dir=src.path.parents[1], config=src.config_path,
                              max_steps=steps, overrides=overrides)  # fmt: skip
    if result.status != "completed":
        raise BadInputError(f"the fine-tune of {name} was {result.status}", "run the same command again to resume it")
    return GenerativeModel.from_pretrained(result.run.model_dir)


def measure_graphs(original, compressed, repeats: int, threads: int) -> list[dict[str, Any]]:
    """Per export graph of the original: the compressed model's latency on one thread, speed-up, and largest output
    difference on the graph's example inputs. A model without graphs gives an empty list."""
    try:
        graphs, twins = original.export_graphs(), compressed.export_graphs()
    except BadInputError:
        return []
    rows = []
    with cpu_threads(threads), torch.no_grad():
        for name, graph in graphs.items():
            twin = twins[name]
            a_out, b_out = graph.module(*graph.inputs), twin.module(*graph.inputs)
            a_out = a_out if isinstance(a_out, tuple) else (a_out,)
            b_out = b_out if isinstance(b_out, tuple) else (b_out,)
            diff = max(float((a.float() - b.float()).abs().max()) for a, b in zip(a_out, b_out, strict=True))
            t_a = best_time(lambda g=graph: g.module(*g.inputs), repeats)
            t_b = best_time(lambda g=twin, x=graph.inputs: g.module(*x), repeats)
            rows.append({"graph": name, "input_shapes": [list(x.shape) for x in graph.inputs],
                         "latency_ms": round(1000 * t_b, 3), "original_latency_ms": round(1000 * t_a, 3),
                         "speedup": round(t_a / t_b, 3), "max_abs_diff": diff})  # fmt: skip
    return rows


def _files(original: Path, compressed: Path) -> dict[str, Any]:
    """Weights-file sizes (MB) of both, and zipped (deflate): what a download of the model costs."""

    def zipped(path: Path) -> float:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.write(path, path.name)
        return buf.tell() / 2**20

    a, b = original / WEIGHTS_NAME, compressed / WEIGHTS_NAME
    return {
        "original_size_mb": round(a.stat().st_size / 2**20, 3),
        "size_mb": round(b.stat().st_size / 2**20, 3),
        "original_zip_mb": round(zipped(a), 3),
        "zip_mb": round(zipped(b), 3),
    }


_ORIGINAL_QUALITY: dict[tuple, dict[str, Any]] = {}  # one evaluation of an original serves all its copies


def _quality(original: Path, compressed: Path, metrics: list[str] | None, n: int) -> dict[str, Any]:
    """The task's metrics of both models (same samples drawn, same seed) and the change, relative where possible.
    The original's metrics are computed once per process for the same weights, metrics and sample count."""
    import genlab

    key = (str(original.resolve()), read_meta(resolve_model_dir(original)).get("weights_sha256"),
           tuple(metrics or ()), n)  # fmt: skip
    if key not in _ORIGINAL_QUALITY:
        _ORIGINAL_QUALITY[key] = genlab.evaluate(original, metrics, n=n, save=False)["metrics"]
    a = _ORIGINAL_QUALITY[key]
    b = genlab.evaluate(compressed, metrics, n=n, save=False)["metrics"]
    out = {}
    for key, value in a.items():
        if isinstance(value, (int, float)) and isinstance(b.get(key), (int, float)):
            change = (b[key] - value) / abs(value) if value else None
            out[key] = {"original": value, "compressed": b[key], "relative_change": change}
    return out
