"""Exporting trained models out of PyTorch: :func:`export_onnx` writes a model's graphs
(:meth:`~genlab.core.model.GenerativeModel.export_graphs`) as ONNX files and checks each against PyTorch with
onnxruntime. Guide: docs/export.md."""

from genlab.exporters.onnx import GraphReport, OnnxGraphRunner, export_onnx, load_manifest

__all__ = ["GraphReport", "OnnxGraphRunner", "export_onnx", "load_manifest"]
