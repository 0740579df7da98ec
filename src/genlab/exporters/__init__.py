"""Exporting trained models out of PyTorch: :func:`export_onnx` writes a model's graphs
(:meth:`~genlab.core.model.GenerativeModel.export_graphs`) as ONNX files and checks each against PyTorch with
onnxruntime. Guide: docs/export.md."""

from genlab.exporters.onnx import GraphReport, OnnxGraphRunner, export_onnx, load_manifest
from genlab.exporters.runtime import backend_model, cached_export, onnx_twin

__all__ = [
    "GraphReport",
    "OnnxGraphRunner",
    "backend_model",
    "cached_export",
    "export_onnx",
    "load_manifest",
    "onnx_twin",
]
