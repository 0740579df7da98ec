"""Compression and export benchmark: size, one-thread latency and fidelity of each method against the PyTorch
original (results/compression.json). Methods measured so far: ``onnx`` (the graph exported by ``genlab export``,
run by onnxruntime); quantisation, pruning and distillation rows will join them.

    python -m benchmarks.compression --threads 1
    python -m benchmarks.compression --quick          # smoke check: tiny models, few repeats

Models (default sizes, untrained weights: latency and parity depend on shapes, not values; the weights are
perturbed so that no output is trivially zero):

* ``dcgan`` — the DCGAN decoder, 32×32 greyscale, a batch of 64 latents;
* ``gpt`` — the GPT's KV-cache ``decoder_step`` (4 layers × 128, character vocabulary of 65), one new token of one
  sequence after 128 cached positions: one step of generation;
* ``unet`` — the DDPM denoiser, 28×28 greyscale, class-conditional, a batch of 16.

The ``torch`` row runs the same graph in PyTorch: for the GPT that is the exported, stateless form of the step
(``GPT.forward_past``), not the hand-fused one-token path genlab's own sampler uses with its in-place cache.

Each row: ``model``, ``method`` (``torch`` or ``onnx``), ``size_mb`` (for torch the fp32 parameters the graph
reads; for onnx the .onnx file, weights included), ``latency_ms`` (the best of ``--repeats`` calls after a warm-up,
on ``--threads`` threads), ``speedup`` (torch latency / this one) and ``max_abs_diff`` (largest absolute difference
of the outputs from torch's on the same inputs).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import torch

from benchmarks import common

MODULE = "benchmarks.compression"


def row_key(r: dict[str, Any]) -> tuple:
    return (r["model"], r["method"])


def build(name: str, quick: bool) -> tuple[Any, str, tuple[torch.Tensor, ...]]:
    """(model, graph name, benchmark inputs) of one benchmark model."""
    import genlab.image  # noqa: F401  (registers the models)
    import genlab.text  # noqa: F401
    from genlab.core.registry import MODELS

    g = torch.Generator().manual_seed(0)
    if name == "dcgan":
        cls = MODELS.get("image/dcgan")
        config = {"image_size": 32, "latent_dim": 64} | ({"g_width": 8, "d_width": 8} if quick else {})
        model = cls(cls.config_class.build(config)).eval()
        return model, "decoder", (torch.randn(64, 64, generator=g),)
    if name == "gpt":
        cls = MODELS.get("text/gpt")
        config = {"vocab_size": 65, "block_size": 256} | ({"n_layer": 1, "n_embd": 32, "n_head": 2} if quick else {})
        model = cls(cls.config_class.build(config)).eval()
        c = model.config
        past = torch.randn(c.n_layer, 1, c.n_head, 128, c.n_embd // c.n_head, generator=g)
        return model, "decoder_step", (torch.randint(65, (1, 1), generator=g), past, past.clone())
    if name == "unet":
        cls = MODELS.get("image/ddpm")
        config = {"image_size": 28, "conditional": True, "num_classes": 10}
        config |= {"base_channels": 8, "channel_mult": [1, 2], "attention_levels": []} if quick else {}
        model = cls(cls.config_class.build(config)).eval()
        with torch.no_grad():
            for p in model.parameters():  # the output convolution starts at zero: give every weight a value
                p.add_(0.02 * torch.randn(p.shape, generator=g))
        x = torch.randn(16, 1, 28, 28, generator=g)
        return model, "denoiser", (x, torch.linspace(1, 999, 16), torch.arange(16) % 11)
    raise ValueError(name)


def measure(name: str, quick: bool, repeats: int, threads: int, folder: Path) -> list[dict[str, Any]]:
    from genlab.exporters import OnnxGraphRunner, export_onnx

    model, graph_name, inputs = build(name, quick)
    graph = model.export_graphs()[graph_name]
    (report,) = export_onnx(model, folder / name, graphs=[graph_name])
    runner = OnnxGraphRunner(folder / name / report.file, threads=threads)
    feed = dict(zip(graph.input_names, inputs, strict=True))
    with torch.no_grad():
        torch_s = common.best_time(lambda: graph.module(*inputs), repeats, warmup=lambda: graph.module(*inputs))
        expected = graph.module(*inputs)
    onnx_s = common.best_time(lambda: runner(**feed), repeats, warmup=lambda: runner(**feed))
    expected = expected if isinstance(expected, tuple) else (expected,)
    got = list(runner(**feed).values())
    diff = max(float((torch.from_numpy(b) - a).abs().max()) for a, b in zip(expected, got, strict=True))
    torch_mb = used_parameters_mb(graph.module, inputs, model)
    onnx_mb = (folder / name / report.file).stat().st_size / 2**20
    base = {"model": name, "graph": graph_name, "input_shapes": [list(x.shape) for x in inputs]}
    return [
        base | {"method": "torch", "size_mb": round(torch_mb, 3), "latency_ms": round(1000 * torch_s, 3),
                "speedup": 1.0, "max_abs_diff": 0.0},
        base | {"method": "onnx", "size_mb": round(onnx_mb, 3), "latency_ms": round(1000 * onnx_s, 3),
                "speedup": round(torch_s / onnx_s, 3), "max_abs_diff": diff},
    ]  # fmt: skip


def used_parameters_mb(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...], model: torch.nn.Module) -> float:
    """MB of the model's parameters the graph reads (those its outputs have a gradient for): a GAN's decoder
    without its discriminator."""
    params = [p for p in model.parameters() if p.requires_grad]
    with torch.enable_grad():
        outputs = module(*inputs)
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        total = sum(o.float().sum() for o in outputs if o.is_floating_point())
        grads = torch.autograd.grad(total, params, allow_unused=True)
    return sum(p.numel() * p.element_size() for p, g in zip(params, grads, strict=True) if g is not None) / 2**20


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0])
    common.add_common_arguments(p, "tiny models and few repeats: a smoke check, not a result", runs=False)
    p.add_argument("--models", nargs="+", default=["dcgan", "gpt", "unet"], choices=["dcgan", "gpt", "unet"])
    p.add_argument("--repeats", type=int, default=50, help="timed calls per method (the best one is kept)")
    args = p.parse_args(argv)
    common.set_threads(args.threads)
    threads = torch.get_num_threads()
    repeats = 3 if args.quick else args.repeats
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            rows += measure(name, args.quick, repeats, threads, Path(tmp))
            print(rows[-2], rows[-1], sep="\n")
    commit = common.git_commit()
    for r in rows:
        r |= {"threads": threads, "load_average": common.load_average(), "commit": commit}
    out = common.save_rows("compression-quick" if args.quick else "compression", rows, MODULE, argv, row_key,
                           args.out_dir)  # fmt: skip
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
