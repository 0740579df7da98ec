"""Compression and export benchmark: size, one-thread latency and fidelity of each method against the PyTorch
original (results/compression.json).

    python -m benchmarks.compression --threads 1                       # ONNX rows and trained rows
    python -m benchmarks.compression --rows onnx --threads 1           # ONNX rows only (untrained weights)
    python -m benchmarks.compression --rows trained --runs-dir runs/bench-compress --threads 1
    python -m benchmarks.compression --quick          # smoke check: tiny models, few repeats

**ONNX rows** (``--rows onnx``; untrained weights: latency and parity depend on shapes, not values; the weights
are perturbed so that no output is trivially zero):

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

**Trained rows** (``--rows trained``): models trained here, then shrunk by ``genlab.compress`` exactly as
``genlab compress`` does, each result a run whose quality is measured by ``genlab eval``:

* ``gpt-6x384`` (nanoGPT's shakespeare-char size, 10.7 M parameters) and ``gpt-4x128`` (its CPU size) on tiny
  Shakespeare, ``int8-dynamic``: ``latency_ms`` per generated token (256 new tokens after "ROMEO:", batch 1, KV
  cache, genlab's own sampler; best of 3), ``tokens_per_s``, and ``perplexity`` over the validation split;
* ``dcgan`` (MNIST 32×32): ``int8-static`` (the layers int8 speeds up), ``int8-static-all`` (every layer),
  ``prune-0.5`` (magnitude) and ``prune-0.5-structured`` (channels), each pruned model fine-tuned
  ``--finetune-steps``; ``latency_ms`` of the decoder on 64 latents, ``fid`` on ``--eval-n`` samples;
* ``unet`` (the DDPM, MNIST 28×28, class-conditional): ``int8-static`` and ``int8-static-all``; ``latency_ms`` of
  the denoiser on 16 images, ``fid`` of ``--unet-eval-n`` samples at the model's default steps.

**Distillation rows** (``--rows distill``): progressive distillation (``genlab distill --steps 4``) of a
class-conditional DDPM trained ``--teacher-minutes`` on MNIST 28×28 (``--data-dir``; ``builtin:mnist-5k`` without
it), ``--distill-steps`` steps a round (32 → 16 → 8 → 4). Three rows, each sampled with DDIM at the model's
guidance scale from the same seeded noise and scored on the same ``--distill-eval-n`` test images with the
dataset's LeNet features (``benchmarks.diffusion``'s quality protocol): ``teacher-25-steps`` (the teacher as it
samples by default), ``teacher-4-steps`` (the teacher asked for 4 steps, what distillation must beat) and
``distill-4-steps`` (the student). Fields: ``steps``, ``fid``, ``kid``, ``fid_ratio`` (over the 25-step
teacher's), ``latency_ms`` (16 images, one call of ``generate``, best of 3), ``speedup``.

``size_mb`` is the weights file (a GAN's discriminator included), ``zip_mb`` that file deflated (what zeros from
pruning save), ``speedup`` the original's latency over this one on the same thread count, and ``<metric>_change``
the relative change of the quality metric.
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
    return (r.get("rows", "onnx"), r["model"], r["method"])


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


GPT_SIZES = {
    "gpt-6x384": {"n_layer": 6, "n_head": 6, "n_embd": 384},
    "gpt-4x128": {"n_layer": 4, "n_head": 4, "n_embd": 128},
}


def trained_rows(args: argparse.Namespace, runs: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    if "gpt" in args.models:
        for label, size in GPT_SIZES.items():
            rows += gpt_rows(label, size, args, runs)
    if "dcgan" in args.models:
        rows += image_rows("dcgan", args, runs)
    if "unet" in args.models:
        rows += image_rows("unet", args, runs)
    return rows


def gpt_rows(label: str, size: dict[str, int], args: argparse.Namespace, runs: Path) -> list[dict[str, Any]]:
    """A GPT trained on tiny Shakespeare, then int8-dynamic: per-token latency and perplexity."""
    import genlab
    from benchmarks.text_generation import decoding_speed
    from genlab.text.pipelines import TextGenerationPipeline

    size = {"n_layer": 1, "n_head": 2, "n_embd": 32} if args.quick else size
    minutes = 0.1 if args.quick else args.gpt_minutes * (1 if label == "gpt-6x384" else 0.5)
    trained = trained_run(runs, "text-generation", label) or genlab.train(
        "text-generation", "gpt", "builtin:tinyshakespeare", label, runs_dir=runs, max_minutes=minutes,
        progress=False, threads=args.threads, batch_size=12, data_options={"tokenizer": "char", "block_size": 128},
        model_options={**size, "dropout": 0.0, "lr": 1e-3},
    )  # fmt: skip
    result = compressed(trained.run.path, f"{label}-int8", quantize="int8-dynamic", metrics=["perplexity"],
                        threads=args.threads or 1)  # fmt: skip
    new = 16 if args.quick else 256
    speeds = {}
    for method, run in (("torch", trained.run.path), ("int8-dynamic", result.run.path)):
        pipe = TextGenerationPipeline(genlab.load(run).model)
        speeds[method] = decoding_speed(pipe, new, True)
    quality = result.report["quality"]["perplexity"]
    base = {"model": label, "dataset": "tinyshakespeare", "train_minutes": round(trained.minutes, 2),
            "steps": trained.steps, "new_tokens": new}  # fmt: skip
    return [
        base | {"method": "torch", "size_mb": result.report["original_size_mb"],
                "latency_ms": round(1000 / speeds["torch"], 3), "tokens_per_s": round(speeds["torch"], 1),
                "speedup": 1.0, "perplexity": round(quality["original"], 4), "perplexity_change": 0.0},
        base | {"method": "int8-dynamic", "size_mb": result.report["size_mb"],
                "latency_ms": round(1000 / speeds["int8-dynamic"], 3),
                "tokens_per_s": round(speeds["int8-dynamic"], 1),
                "speedup": round(speeds["int8-dynamic"] / speeds["torch"], 3),
                "perplexity": round(quality["compressed"], 4),
                "perplexity_change": round(quality["relative_change"], 5),
                "layers_int8": len(result.report["quantize"]["layers"])},
    ]  # fmt: skip


def trained_run(runs: Path, task: str, name: str) -> Any:
    """The finished run ``runs/<task>/<name>`` as a training result, or None: a re-run re-times the same models
    (training it again would change the original its compressed copies came from)."""
    import json
    from types import SimpleNamespace

    from genlab.core.runs import Run

    run = Run(Path(runs) / task / name)
    status = json.loads(run.status_path.read_text(encoding="utf-8")) if run.status_path.is_file() else {}
    if status.get("status") != "completed" or not (run.model_dir / "model.safetensors").is_file():
        return None
    return SimpleNamespace(run=run, minutes=float(status.get("minutes") or 0.0), steps=int(status.get("step") or 0))


def compressed(source: Path, out: str, **options: Any) -> Any:
    """``genlab.compress`` of ``source`` into ``out``, or the run already there (a re-run re-times, not re-trains)."""
    import json

    from genlab.compress.run import REPORT_NAME, CompressResult, compress
    from genlab.core.runs import Run

    done = source.parent / out / REPORT_NAME
    if done.is_file():
        return CompressResult(Run(done.parent), json.loads(done.read_text(encoding="utf-8")))
    return compress(source, out=out, **options)


IMAGE_METHODS = {
    "dcgan": [("int8-static", {"quantize": "int8-static"}), ("int8-static-all", {"quantize": "int8-static",
              "all_layers": True}), ("prune-0.5", {"prune": 0.5}), ("prune-0.5-structured", {"prune": 0.5,
              "prune_method": "structured"})],
    "unet": [("int8-static", {"quantize": "int8-static"}), ("int8-static-all", {"quantize": "int8-static",
             "all_layers": True})],
}  # fmt: skip


def image_rows(name: str, args: argparse.Namespace, runs: Path) -> list[dict[str, Any]]:
    """A DCGAN or DDPM trained on MNIST, then each method of IMAGE_METHODS: decoder/denoiser latency and FID."""
    import genlab
    from genlab.core.errors import BadInputError

    if name == "dcgan":
        model, data_opts, model_opts, minutes = "dcgan", {"image_size": 32}, {"latent_dim": 64}, args.gan_minutes
    else:
        model, data_opts, minutes = "ddpm", {"image_size": 28}, args.unet_minutes
        model_opts = {"conditional": True}
    if args.quick:
        data_opts |= {"max_images": 256}
        model_opts |= {"g_width": 8, "d_width": 8} if name == "dcgan" else {"base_channels": 8, "channel_mult": [1, 2],
                                                                            "attention_levels": []}  # fmt: skip
        minutes = 0.1
    trained = trained_run(runs, "image-generation", f"{name}-mnist") or genlab.train(
        "image-generation", model, "builtin:mnist-5k", f"{name}-mnist", runs_dir=runs, max_minutes=minutes,
        progress=False, threads=args.threads, data_options=data_opts, model_options=model_opts,
    )  # fmt: skip
    eval_n = 200 if args.quick else (args.eval_n if name == "dcgan" else args.unet_eval_n)
    original = genlab.load(trained.run.path).model
    inputs = _latency_inputs(name, original)
    rows, reference = [], None
    for method, options in IMAGE_METHODS[name]:
        try:
            result = compressed(trained.run.path, f"{name}-{method}", metrics=["fid"], eval_n=eval_n,
                                finetune_steps=20 if args.quick else args.finetune_steps, threads=args.threads or 1,
                              **options)  # fmt: skip
        except BadInputError as e:  # int8 speeds up no layer: recorded as such
            rows.append({"model": name, "method": method, "skipped": e.message})
            continue
        small = genlab.load(result.run.path).model
        run_graph = getattr(original, "decode" if name == "dcgan" else "unet")
        run_small = getattr(small, "decode" if name == "dcgan" else "unet")
        calls = 3 if args.quick else args.repeats
        with torch.no_grad():
            t_orig = common.best_time(lambda f=run_graph: f(*inputs), calls)
            t_new = common.best_time(lambda f=run_small: f(*inputs), calls)
            diff = float((run_graph(*inputs) - run_small(*inputs)).abs().max())
        fid = result.report["quality"]["fid"]
        if reference is None:
            reference = {"model": name, "method": "torch", "dataset": "mnist",
                         "train_minutes": round(trained.minutes, 2),
                         "steps": trained.steps, "size_mb": result.report["original_size_mb"],
                         "zip_mb": result.report["original_zip_mb"], "latency_ms": round(1000 * t_orig, 3),
                         "speedup": 1.0, "fid": round(fid["original"], 3), "fid_change": 0.0, "max_abs_diff": 0.0,
                         "latency_inputs": [list(x.shape) for x in inputs], "eval_n": eval_n}  # fmt: skip
            rows.append(reference)
        report = result.report
        rows.append({"model": name, "method": method, "dataset": "mnist", "size_mb": report["size_mb"],
                     "zip_mb": report["zip_mb"], "latency_ms": round(1000 * t_new, 3),
                     "speedup": round(t_orig / t_new, 3), "fid": round(fid["compressed"], 3),
                     "fid_change": round(fid["relative_change"], 4), "max_abs_diff": diff,
                     "latency_inputs": [list(x.shape) for x in inputs], "eval_n": eval_n,
                     "layers_int8": report.get("quantize", {}).get("layers"),
                     "layer_timings": report.get("quantize", {}).get("timings"),
                     "sparsity": report.get("prune", {}).get("sparsity"),
                     "finetune_steps": report.get("prune", {}).get("finetune_steps")})  # fmt: skip
    return rows


def distill_rows(args: argparse.Namespace, runs: Path) -> list[dict[str, Any]]:
    """A DDPM teacher at 25 and at 4 DDIM steps against its 4-step progressive distillation: FID and latency."""
    import genlab
    from genlab.compress.distill import distill, read_report
    from genlab.image.evaluation import generate, resolve_reference, sample_metrics
    from genlab.image.extractors import default_extractor, get_extractor

    data = "mnist" if args.data_dir else "builtin:mnist-5k"
    minutes, model_opts = args.teacher_minutes, {"conditional": True}
    name = f"ddpm-{data.split(':')[-1]}-{minutes:g}m"
    data_opts = {"image_size": 28, "data_dir": args.data_dir} if args.data_dir else {"image_size": 28}
    if args.quick:
        data, name, minutes, data_opts = "builtin:digits", "ddpm-digits-teacher", 0.1, {"image_size": 16}
        model_opts |= {"base_channels": 8, "channel_mult": [1, 2], "attention_levels": []}
    teacher = trained_run(runs, "image-generation", name) or genlab.train(
        "image-generation", "ddpm", data, name, runs_dir=runs, max_minutes=minutes, progress=False,
        threads=args.threads, data_options=data_opts, model_options=model_opts, overrides=["train.sample_every=0"],
    )  # fmt: skip
    student = runs / "image-generation" / f"{name}-distilled-4"
    done = (student / "distillation.json").is_file() and read_report(student)["report"]
    if not done:  # quality is measured below, on one protocol for all three rows
        distill(teacher.run.path, {}, steps=4, name=student.name, max_steps=5 if args.quick else args.distill_steps,
                options={"eval_n": 0}, progress=False, threads=args.threads)  # fmt: skip
    record = read_report(student)
    n = 64 if args.quick else args.distill_eval_n
    teacher_model, student_model = genlab.load(teacher.run.path).model, genlab.load(student).model
    cfg = teacher_model.config
    ref = resolve_reference(teacher_model, None, cfg.image_size, cfg.channels, n, args.data_dir, 0)
    extractor = get_extractor(default_extractor(ref.source, cfg.image_size, cfg.channels))
    rows, reference = [], None
    labels = torch.arange(16) % cfg.num_classes
    arms = [("teacher-25-steps", teacher_model, cfg.sample_steps), ("teacher-4-steps", teacher_model, 4),
            ("distill-4-steps", student_model, 4)]  # fmt: skip
    for method, model, steps in arms:
        options = {"sampler": "ddim", "steps": steps, "eta": 0.0}
        fake = generate(model, n, 0, **options)
        values = sample_metrics(ref.images, fake, ["fid", "kid"], extractor, 0)
        call = lambda m=model, o=options: m.generate(16, labels=labels, generator=torch.Generator().manual_seed(0), **o)  # noqa: E731
        with torch.no_grad():
            seconds = common.best_time(call, 3)
        reference = reference or {"fid": values["fid"], "seconds": seconds}
        rows.append({"model": "unet", "method": method, "dataset": ref.source, "steps": steps, "sampler": "ddim",
                     "guidance_scale": cfg.guidance_scale, "train_minutes": round(teacher.minutes, 2),
                     "train_steps": teacher.steps, "fid": round(values["fid"], 3), "kid": round(values["kid"], 3),
                     "fid_ratio": round(values["fid"] / reference["fid"], 4), "eval_n": n,
                     "reference": ref.source, "extractor": extractor.name, "latency_ms": round(1000 * seconds, 1),
                     "speedup": round(reference["seconds"] / seconds, 3)})  # fmt: skip
    rows[-1] |= {"rounds": record.get("rounds"), "distill_minutes": record.get("minutes"),
                 "distill_steps": record.get("steps")}  # fmt: skip
    return rows


def _latency_inputs(name: str, model: Any) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    if name == "dcgan":
        return (torch.randn(64, model.config.latent_dim, generator=g),)
    size = model.config.image_size
    return (torch.randn(16, 1, size, size, generator=g), torch.linspace(1, 999, 16), torch.arange(16) % 10)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0])
    common.add_common_arguments(p, "tiny models and few repeats: a smoke check, not a result")
    p.add_argument("--rows", nargs="+", default=["onnx", "trained"], choices=["onnx", "trained", "distill"])
    p.add_argument("--models", nargs="+", default=["dcgan", "gpt", "unet"], choices=["dcgan", "gpt", "unet"])
    p.add_argument("--repeats", type=int, default=50, help="timed calls per method (the best one is kept)")
    p.add_argument("--gpt-minutes", type=float, default=15.0, help="training budget of the 6×384 GPT (half for 4×128)")
    p.add_argument("--gan-minutes", type=float, default=5.0, help="training budget of the DCGAN")
    p.add_argument("--unet-minutes", type=float, default=10.0, help="training budget of the DDPM")
    p.add_argument("--finetune-steps", type=int, default=300, help="fine-tune steps after pruning")
    p.add_argument("--eval-n", type=int, default=2000, help="samples for the DCGAN's FID")
    p.add_argument("--unet-eval-n", type=int, default=500, help="samples for the DDPM's FID (25 denoiser calls each)")
    p.add_argument("--teacher-minutes", type=float, default=60.0, help="training budget of the teacher DDPM")
    p.add_argument("--distill-steps", type=int, default=500, help="distillation steps per halving round")
    p.add_argument("--distill-eval-n", type=int, default=1000, help="samples for the distillation rows' FID")
    p.add_argument("--data-dir", default=None, help="folder with mnist/ (default: builtin:mnist-5k)")
    args = p.parse_args(argv)
    common.set_threads(args.threads)
    threads = torch.get_num_threads()
    repeats = 3 if args.quick else args.repeats
    rows: list[dict[str, Any]] = []
    if "onnx" in args.rows:
        with tempfile.TemporaryDirectory() as tmp:
            for name in args.models:
                rows += [{"rows": "onnx", **r} for r in measure(name, args.quick, repeats, threads, Path(tmp))]
                print(rows[-2], rows[-1], sep="\n")
    if "trained" in args.rows:
        with common.runs_folder(args.runs_dir) as runs:
            for r in trained_rows(args, runs):
                print(r)
                rows.append({"rows": "trained", **r})
    if "distill" in args.rows:
        with common.runs_folder(args.runs_dir) as runs:
            for r in distill_rows(args, runs):
                print(r)
                rows.append({"rows": "distill", **r})
    commit = common.git_commit()
    for r in rows:
        r |= {"threads": threads, "load_average": common.load_average(), "commit": commit}
    out = common.save_rows("compression-quick" if args.quick else "compression", rows, MODULE, argv, row_key,
                           args.out_dir)  # fmt: skip
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
