"""ONNX export with a parity check: ``genlab export RUN --format onnx --out DIR``.

Each graph a model declares (:class:`~genlab.core.export.ExportGraph`) is traced with ``torch.onnx.export``
(the dynamo exporter, opset 18 by default) with its free axes left symbolic, written atomically to
``DIR/<graph>.onnx``, then loaded in onnxruntime and run twice against PyTorch: on the graph's example inputs and
on the same inputs with another batch size (rows repeated along the ``batch`` axes), so a batch size frozen into
the file is caught. ``max_abs_diff`` is the largest difference over every output; above the graph's tolerance
(1e-4 for fp32 graphs) the export fails with the numbers. ``DIR/export.json`` lists the graphs with their inputs,
outputs (names, shapes with symbolic axes, dtypes), the parity figures, the opset and the versions used.

onnx, onnxscript and onnxruntime come with the ``export`` extra.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genlab.core.errors import BadInputError, GenlabError, unknown_name
from genlab.core.export import ExportGraph
from genlab.core.optional import require

MANIFEST = "export.json"
DEFAULT_OPSET = 18
OTHER_BATCH = (0, 1, 0)  # rows of the second parity run: the batch size changes from the example's


@dataclass
class GraphReport:
    """What was written for one graph and how closely onnxruntime follows PyTorch on it."""

    name: str
    file: str
    description: str
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    max_abs_diff: float | None
    tolerance: float
    export_seconds: float

    @property
    def ok(self) -> bool:
        return self.max_abs_diff is not None and self.max_abs_diff <= self.tolerance


def _spec(name: str, tensor: torch.Tensor, axes: dict[int, str]) -> dict[str, Any]:
    shape = [axes.get(i, int(n)) for i, n in enumerate(tensor.shape)]
    return {"name": name, "shape": shape, "dtype": str(tensor.dtype).removeprefix("torch.")}


def _as_tuple(out: Any) -> tuple[torch.Tensor, ...]:
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def _rebatched(graph: ExportGraph) -> tuple[torch.Tensor, ...]:
    """The example inputs with rows 0, 1, 0 along each ``batch`` axis (a batch size the trace did not see)."""
    out = []
    for name, x in zip(graph.input_names, graph.inputs, strict=True):
        axis = next((a for a, sym in graph.dynamic_axes.get(name, {}).items() if sym == "batch"), None)
        out.append(x if axis is None else x.index_select(axis, torch.tensor(OTHER_BATCH[: x.shape[axis] + 1])))
    return tuple(out)


class OnnxGraphRunner:
    """One exported graph in onnxruntime: ``runner(name=array, …) -> {output name: array}``."""

    def __init__(self, path: str | Path, threads: int | None = None):
        ort = require("onnxruntime", "export", "running exported models")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = options.inter_op_num_threads = int(threads)
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]

    def __call__(self, **inputs: Any) -> dict[str, np.ndarray]:
        missing = [n for n in self.input_names if n not in inputs]
        if missing:
            raise BadInputError(f"missing inputs: {', '.join(missing)}", "inputs: " + ", ".join(self.input_names))
        feed = {n: np.asarray(inputs[n].numpy() if torch.is_tensor(inputs[n]) else inputs[n]) for n in self.input_names}
        return dict(zip(self.output_names, self.session.run(None, feed), strict=True))


def parity(graph: ExportGraph, runner: OnnxGraphRunner, inputs: tuple[torch.Tensor, ...]) -> float:
    """Largest absolute difference between PyTorch and onnxruntime over every output, on ``inputs``."""
    with torch.no_grad():
        expected = _as_tuple(graph.module(*inputs))
    got = runner(**dict(zip(graph.input_names, inputs, strict=True)))
    worst = 0.0
    for name, want in zip(graph.output_names, expected, strict=True):
        have = got[name]
        if tuple(have.shape) != tuple(want.shape):
            return float("inf")  # a shape frozen into the graph
        worst = max(worst, float(np.abs(have.astype(np.float64) - want.double().numpy()).max(initial=0.0)))
    return worst


def dynamic_shapes(graph: ExportGraph) -> tuple:
    """``torch.export`` dynamic shapes from the graph's named free axes (one ``Dim`` per name, shared by every
    input that uses it), laid out as the module's ``forward`` takes its inputs."""
    import inspect

    dims: dict[str, Any] = {}
    specs = []
    for name in graph.input_names:
        axes = graph.dynamic_axes.get(name, {})
        specs.append({a: dims.setdefault(sym, torch.export.Dim(sym)) for a, sym in axes.items()} or None)
    params = inspect.signature(graph.module.forward).parameters.values()
    variadic = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params)
    return (tuple(specs),) if variadic else tuple(specs)


def _write(graph: ExportGraph, path: Path, opset: int) -> None:
    """Trace ``graph`` to ONNX at ``path`` (through a temporary file in the same folder, then renamed)."""
    require("onnx", "export", "genlab export")
    require("onnxscript", "export", "genlab export")
    import logging
    import warnings

    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=path.parent)
    os.close(fd)
    graph.module.eval()
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    try:
        quiet.setLevel(logging.ERROR)  # the exporter's notes on operators of packages genlab does not use
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracing notes (renamed axes, deprecations) are not the user's concern
            # weights inside the file (one self-contained .onnx; the 2 GB protobuf limit is far above these models)
            torch.onnx.export(graph.module, graph.inputs, tmp, input_names=graph.input_names,
                              output_names=graph.output_names, dynamic_shapes=dynamic_shapes(graph),
                              opset_version=opset, dynamo=True, verbose=False, external_data=False)  # fmt: skip
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except Exception as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, GenlabError):
            raise
        first = str(e).splitlines()[0] if str(e) else ""
        hint = "report it with the model's config.json; the PyTorch model itself is unaffected"
        raise GenlabError(f"ONNX export of '{path.stem}' failed: {type(e).__name__}: {first}", hint) from e
    finally:
        quiet.setLevel(level)
        Path(tmp).unlink(missing_ok=True)


def export_onnx(
    model: torch.nn.Module,
    out: str | Path,
    graphs: list[str] | None = None,
    opset: int = DEFAULT_OPSET,
    check: bool = True,
) -> list[GraphReport]:
    """Write ``model``'s graphs (all, or the named ``graphs``) as ``out/<graph>.onnx`` with ``out/export.json``;
    with ``check`` each is compared with PyTorch in onnxruntime and a graph beyond its tolerance raises
    :class:`GenlabError` (its file and the manifest are kept, with the figures, for inspection)."""
    if not 7 <= int(opset) <= 23:
        raise BadInputError(f"opset {opset} is out of range", "give an ONNX opset between 7 and 23 (default 18)")
    available = model.export_graphs()
    chosen = list(graphs) if graphs else list(available)
    for name in chosen:
        if name not in available:
            raise unknown_name("graph", name, list(available))
    folder = Path(out)
    if folder.suffix == ".onnx":
        raise BadInputError(f"{folder} looks like a file", "give a folder: each graph is written as <graph>.onnx in it")
    folder.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    reports = []
    try:
        for name in chosen:
            graph = available[name]
            path = folder / f"{name}.onnx"
            began = time.perf_counter()
            _write(graph, path, opset)
            seconds = time.perf_counter() - began
            diff = None
            if check:
                runner = OnnxGraphRunner(path)
                diff = max(parity(graph, runner, graph.inputs), parity(graph, runner, _rebatched(graph)))
            with torch.no_grad():
                outputs = _as_tuple(graph.module(*graph.inputs))
            reports.append(GraphReport(
                name, path.name, graph.description,
                [_spec(n, x, graph.dynamic_axes.get(n, {})) for n, x in zip(graph.input_names, graph.inputs,
                                                                            strict=True)],
                [_spec(n, y, graph.dynamic_axes.get(n, {})) for n, y in zip(graph.output_names, outputs, strict=True)],
                diff, graph.tolerance, round(seconds, 2),
            ))  # fmt: skip
    finally:
        model.train(was_training)
    _write_manifest(model, folder, reports, opset)
    bad = [r for r in reports if check and not r.ok]
    if bad:
        worst = ", ".join(f"{r.name}: {r.max_abs_diff:.3g} > {r.tolerance:g}" for r in bad)
        raise GenlabError(f"the exported graph differs from PyTorch ({worst})",
                          f"the files are kept in {folder} for inspection; try another --opset")  # fmt: skip
    return reports


def _write_manifest(model: torch.nn.Module, folder: Path, reports: list[GraphReport], opset: int) -> None:
    import onnx
    import onnxruntime

    from genlab import __version__

    manifest = {
        "model": getattr(model, "registry_name", type(model).__name__),
        "weights_sha256": getattr(getattr(model, "provenance", None), "raw", {}).get("weights_sha256"),
        "format": "onnx",
        "opset": opset,
        "versions": {
            "genlab": __version__,
            "torch": torch.__version__,
            "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__,
        },  # fmt: skip
        "graphs": {r.name: {k: v for k, v in asdict(r).items() if k != "name"} for r in reports},
    }
    tmp = folder / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, folder / MANIFEST)


def load_manifest(folder: str | Path) -> dict[str, Any]:
    """``export.json`` of an export folder."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise BadInputError(f"no {MANIFEST} in {folder}", "export a run first: genlab export RUN --out FOLDER")
    return json.loads(path.read_text(encoding="utf-8"))
