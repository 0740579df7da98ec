"""``genlab export RUN --format onnx --out DIR``: a run's model as ONNX graphs, each checked against PyTorch."""

from __future__ import annotations

from pathlib import Path

import typer

from genlab.core.console import console


def export_cmd(
    run: Path = typer.Argument(..., help="run directory (or its model/ folder)"),
    out: Path = typer.Option(..., "--out", help="folder for <graph>.onnx files and export.json"),
    format: str = typer.Option("onnx", "--format", help="export format (onnx)"),
    graph: list[str] = typer.Option([], "--graph", help="export only this graph (repeatable); default: all"),
    opset: int = typer.Option(18, "--opset", help="ONNX opset version"),
    check: bool = typer.Option(True, "--check/--no-check", help="compare each graph with PyTorch in onnxruntime"),
) -> None:
    """export a trained model (ONNX), with an onnxruntime parity check per graph"""
    import genlab

    reports = genlab.export(run, out, format=format, graphs=graph or None, opset=opset, check=check)
    for r in reports:
        shapes = ", ".join(f"{i['name']} {i['shape']}" for i in r.inputs)
        parity = "not checked" if r.max_abs_diff is None else f"max |diff| {r.max_abs_diff:.2e} (≤ {r.tolerance:g})"
        console.print(f"{r.name:14s} {out / r.file}  inputs: {shapes}  parity: {parity}")
    console.print(f"manifest: {out / 'export.json'}")


def register(app: typer.Typer) -> None:
    """Add ``export`` to ``app``."""
    app.command("export")(export_cmd)
