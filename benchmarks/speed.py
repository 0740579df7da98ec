"""Speed against peers, measured in one process: genlab and a peer doing the same work, interleaved.

    python -m benchmarks.speed --threads 1 --pairs 7 --data-dir DATA
    python -m benchmarks.speed --rows vae --threads 2
    python -m benchmarks.speed --quick

Rows (each peer is optional and skipped with a note when absent):

* ``gpt`` — a training step at nanoGPT's CPU recipe (char tiny Shakespeare, 4 layers, 4 heads,
  128 dims, block 64, batch 12, dropout 0, lr 1e-3), tokens/s. Peer: ``benchmarks/peers/nanogpt_recipe.py``,
  a plain-PyTorch reimplementation of that recipe (not nanoGPT's code). Both step on the same batches.
  ``mfu`` is genlab's step against the matmul peak.
* ``vae`` — a training step of the MLP VAE at Pythae's MNIST architecture (784-512-16, 829k parameters,
  batch 100, Adam 1e-4, Bernoulli/BCE reconstruction), images/s, on the same MNIST tensors.
  Peer: Pythae's ``VAE`` (``pip install pythae==0.1.2``).
* ``ddim`` — DDIM sampling, 25 steps, batch 64, 28×28×1, images/s. genlab's ``image/ddpm`` UNet set as
  close as it goes to the peer's (blocks 32/64/64, attention at the 14×14 level and in the middle, one
  residual block per level). Peer: diffusers' ``UNet2DModel`` + ``DDIMScheduler`` (the ``dev`` extra).

A training step is timed without data loading and without Lightning's loop: genlab's step is the
engine's (``GenerativeModule.training_step``: the model's ``training_losses``, ``zero_grad``,
``backward``, gradient clipping when set, the engine's fused Adam), the peer's the one its own
trainer takes. After a warm-up, ``--pairs`` measurements of each alternate (genlab, peer, genlab,
peer, …) at the same thread count, so a disturbance hits both; the row reports medians and
``ratio`` = genlab ÷ peer throughput. The fp32 matmul peak is measured at the start and at the end
(:class:`common.MatmulPeak`); ``peak_moved`` flags a machine whose speed changed during the run.
``load_average`` is the 1-minute load before the run began: trust a row only when it is low.

Writes ``benchmarks/results/speed.json`` (``--quick``: ``speed-quick.json``); a row replaces the
earlier one of the same model and thread count.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from benchmarks import common
from genlab.nn.precision import compute_precision, native_bf16

MODULE = "benchmarks.speed"
ROWS = ("gpt", "vae", "ddim")


@dataclass
class Contest:
    """One row's two contenders: ``genlab()`` and ``peer()`` each do ``units`` of work (tokens, images)."""

    model: str
    peer_name: str
    unit: str
    units: int
    genlab: Callable[[], Any]
    peer: Callable[[], Any] | None
    warmup: Callable[[], Any]
    fields: dict[str, Any] = field(default_factory=dict)
    flops_per_unit: float | None = None  # genlab's training FLOPs per unit, for MFU
    note: str | None = None  # why the peer is missing


def interleaved(contest: Contest, pairs: int) -> tuple[list[float], list[float]]:
    """Seconds of ``pairs`` genlab runs and ``pairs`` peer runs, taken alternately after the warm-up."""
    contest.warmup()
    ours, theirs = [], []
    for _ in range(pairs):
        for fn, times in ((contest.genlab, ours), (contest.peer, theirs)):
            if fn is None:
                continue
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return ours, theirs


def per_s(units: int, seconds: list[float]) -> dict[str, float]:
    """Median throughput and its range over the runs."""
    speeds = sorted(units / s for s in seconds)
    return {"median": statistics.median(speeds), "min": speeds[0], "max": speeds[-1]}


def measure(contest: Contest, pairs: int) -> dict[str, Any]:
    """The row of one contest: medians, ratio and the settings."""
    ours, theirs = interleaved(contest, pairs)
    g = per_s(contest.units, ours)
    row: dict[str, Any] = {
        "model": contest.model,
        "dataset": contest.fields.pop("dataset", None),
        "budget_minutes": None,
        "peer": contest.peer_name,
        "threads": torch.get_num_threads(),
        "unit": contest.unit,
        "ratio": None,
        "genlab_per_s": round(g["median"], 1),
        "peer_per_s": None,
        "genlab_per_s_range": [round(g["min"], 1), round(g["max"], 1)],
        "pairs": pairs,
        "units_per_measurement": contest.units,
    }
    if theirs:
        p = per_s(contest.units, theirs)
        pair_ratios = sorted(t / o for o, t in zip(ours, theirs, strict=True))  # genlab ÷ peer per pair
        row |= {
            "ratio": round(g["median"] / p["median"], 3),
            "peer_per_s": round(p["median"], 1),
            "peer_per_s_range": [round(p["min"], 1), round(p["max"], 1)],
            "pair_ratio_range": [round(pair_ratios[0], 3), round(pair_ratios[-1], 3)],
        }
    else:
        row["peer_missing"] = contest.note
    if contest.flops_per_unit:
        row["flops_per_unit"] = contest.flops_per_unit
    shown = f"ratio {row['ratio']}" if theirs else contest.note
    print(f"{contest.model:>5}: genlab {row['genlab_per_s']} {contest.unit}/s, peer {row['peer_per_s']} ({shown})")
    return row | contest.fields


def profile(contest: Contest, top: int = 8) -> list[dict[str, Any]]:
    """Where the time of one genlab call and one peer call goes: the ``top`` operators by self CPU time
    (torch profiler), each with its share of the call, after the warm-up."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    contest.warmup()
    rows = []
    for who, fn in (("genlab", contest.genlab), ("peer", contest.peer)):
        if fn is None:
            continue
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            fn()
        events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
        total = sum(e.self_cpu_time_total for e in events)
        ops = [
            {"op": e.key, "share": round(e.self_cpu_time_total / total, 3), "ms": round(e.self_cpu_time_total / 1e3, 1),
             "calls": e.count}
            for e in events[:top]
        ]  # fmt: skip
        rows.append({"model": contest.model, "who": who, "total_ms": round(total / 1e3, 1), "ops": ops})
        print(
            f"{contest.model:>5} {who}: {total / 1e3:.0f} ms; "
            + ", ".join(f"{o['op']} {o['share']:.0%}" for o in ops[:4])
        )
    return rows


def engine_step(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer, batch: Any, grad_clip: float | None, precision: str = "32"
) -> float:
    """The engine's training step for a one-group model, without Lightning's loop around it; returns the loss.
    ``precision`` ``"bf16"`` is what ``--precision bf16-mixed`` does: the forward under bfloat16 autocast,
    float32 weights, gradients and optimizer."""
    with compute_precision(precision, "cpu"):
        losses = model.training_losses(batch, model.optimizer_groups()[0].name)
    optimizer.zero_grad(set_to_none=True)
    losses["loss"].backward()
    if grad_clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return float(losses["loss"].detach())


def training_fidelity(
    build: Callable[[], tuple[torch.nn.Module, torch.optim.Optimizer]],
    batches: list[Any],
    grad_clip: float | None,
    steps: int,
) -> dict[str, float]:
    """The mean training loss of the last tenth of ``steps`` steps at float32 and at bf16, from the same
    initial weights on the same batches: what bfloat16 costs (or not) in what the model learns."""  # fmt: skip
    out = {}
    for precision in ("32", "bf16"):
        model, optimizer = build()
        losses = [engine_step(model, optimizer, batches[i % len(batches)], grad_clip, precision) for i in range(steps)]
        tail = losses[-max(1, steps // 10) :]
        out[f"loss_{'fp32' if precision == '32' else precision}"] = round(sum(tail) / len(tail), 4)
    out["fidelity_steps"] = steps
    return out


def cycle(fn: Callable[[Any], Any], batches: list[Any]) -> Callable[[], None]:
    """A call that runs ``fn`` on every batch in turn."""

    def run() -> None:
        for b in batches:
            fn(b)

    return run


# --------------------------------------------------------------------------- gpt


def gpt_contest(steps: int, precision: str = "32", fidelity_steps: int = 0) -> Contest:
    """genlab's GPT and the recipe's reference GPT, stepping on the same tiny-Shakespeare batches."""
    from benchmarks.peers import nanogpt_recipe
    from genlab.engine.module import make_optimizer
    from genlab.text.datasets import SHIPPED
    from genlab.text.gpt import GPT, GPTConfig
    from genlab.text.tokenizers import CharTokenizer

    text = (SHIPPED / "tinyshakespeare.txt").read_text(encoding="utf-8")
    tok = CharTokenizer(sorted(set(text)))
    data = torch.tensor([tok.index[ch] for ch in text], dtype=torch.long)
    gen = torch.Generator().manual_seed(0)
    block, batch = 64, 12
    starts = torch.randint(len(data) - block - 1, (steps, batch), generator=gen)
    batches = [torch.stack([data[s : s + block + 1] for s in row.tolist()]) for row in starts]  # (B, T + 1)

    config = GPTConfig(vocab_size=tok.vocab_size, block_size=block, tokenizer=tok.to_dict(), dropout=0.0, lr=1e-3)

    def build():
        torch.manual_seed(0)
        model = GPT(config).train()
        return model, make_optimizer(model.optimizer_groups()[0])

    ours, our_opt = build()
    ref = nanogpt_recipe.RecipeGPT(nanogpt_recipe.RecipeConfig(vocab_size=tok.vocab_size, block_size=block)).train()
    ref_opt = nanogpt_recipe.adamw(ref)

    def genlab_step(b):
        return engine_step(ours, our_opt, b, grad_clip=1.0, precision=precision)

    def peer_step(b):
        return nanogpt_recipe.train_step(ref, ref_opt, b[:, :-1], b[:, 1:])

    fidelity = training_fidelity(build, batches, 1.0, fidelity_steps) if fidelity_steps else {}

    def warmup():
        cycle(genlab_step, batches[:5])()
        cycle(peer_step, batches[:5])()

    return Contest(
        model="gpt",
        peer_name="nanoGPT recipe, reimplemented in plain PyTorch (benchmarks/peers/nanogpt_recipe.py)",
        unit="tokens",
        units=steps * batch * block,
        genlab=cycle(genlab_step, batches),
        peer=cycle(peer_step, batches),
        warmup=warmup,
        flops_per_unit=ours.flops_per_token(block),
        fields={
            "dataset": "builtin:tinyshakespeare",
            "recipe": "4 layers, 4 heads, 128 dims, block 64, batch 12, dropout 0, lr 1e-3, grad clip 1; "
            "genlab: rotary positions, fused Adam (its defaults); peer: learned positions, AdamW (wd 0.1 on 2-D)",
            "genlab_params": ours.num_parameters(),
            "peer_params": ref.num_parameters(non_embedding=False),
            "timed": "training steps (forward, backward, clip, optimizer) on pre-built batches; no data "
            "loading, no Lightning loop",
        }
        | fidelity,
    )


# --------------------------------------------------------------------------- vae


def mnist_images(n: int, data_dir: str | None) -> tuple[torch.Tensor, str]:
    """The first ``n`` MNIST training images (n, 1, 28, 28) in [0, 1], or random ones when MNIST is not on disk."""
    from genlab.core.download import data_root
    from genlab.image.datasets import read_idx

    path = data_root(data_dir) / "mnist" / "train-images-idx3-ubyte.gz"
    if path.is_file():
        images = torch.from_numpy(read_idx(path)[:n].copy()).float().div(255).unsqueeze(1)
        return images, "mnist"
    print(f"{path} not found: the vae row times random images (the speed is the same)")
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0)), "random 28×28 images"


def vae_contest(steps: int, data_dir: str | None, precision: str = "32", fidelity_steps: int = 0) -> Contest:
    """genlab's MLP VAE at Pythae's default MNIST architecture and Pythae's VAE, on the same tensors."""
    from benchmarks.peers import pythae_vae
    from genlab.engine.module import make_optimizer
    from genlab.image.vae import VAE, VAEConfig

    batch = 100
    images01, dataset = mnist_images(steps * batch, data_dir)
    batches01 = list(images01.split(batch))
    batches = [(x * 2 - 1, torch.zeros(len(x), dtype=torch.long)) for x in batches01]  # genlab: [-1, 1], labels

    config = VAEConfig(image_size=28, channels=1, latent_dim=16, hidden_dims=[512], likelihood="bernoulli", lr=1e-4)

    def build():
        torch.manual_seed(0)
        model = VAE(config).train()
        return model, make_optimizer(model.optimizer_groups()[0])

    ours, our_opt = build()

    def genlab_step(b):
        return engine_step(ours, our_opt, b, grad_clip=None, precision=precision)

    fidelity = training_fidelity(build, batches, None, fidelity_steps) if fidelity_steps else {}

    try:
        peer_model, peer_opt = pythae_vae.build(latent_dim=16, reconstruction_loss="bce", lr=1e-4)
    except ImportError:
        peer_model = None

    def peer_step(x):
        return pythae_vae.train_step(peer_model, peer_opt, x, len(images01))

    def warmup():
        cycle(genlab_step, batches[:10])()
        if peer_model is not None:
            cycle(peer_step, batches01[:10])()

    return Contest(
        model="vae",
        peer_name="Pythae VAE (default MLP encoder/decoder)",
        unit="images",
        units=steps * batch,
        genlab=cycle(genlab_step, batches),
        peer=cycle(peer_step, batches01) if peer_model is not None else None,
        warmup=warmup,
        note=None if peer_model is not None else "pythae not installed (pip install pythae==0.1.2): no peer",
        fields={
            "dataset": dataset,
            "recipe": "MLP 784-512-(16, 16) / 16-512-784, batch 100, Adam lr 1e-4, Bernoulli likelihood (BCE)",
            "genlab_params": sum(p.numel() for p in ours.parameters()),
            "peer_params": sum(p.numel() for p in peer_model.parameters()) if peer_model is not None else None,
            "timed": "training steps (loss, backward, optimizer) on pre-built batches; no data loading, "
            "no Lightning loop (genlab) or Pythae trainer loop",
        }
        | fidelity,
    )


# --------------------------------------------------------------------------- ddim


def ddim_contest(batch: int, steps: int, precision: str = "32", fidelity: bool = False) -> Contest:
    """genlab's DDIM sampling and diffusers' DDIM loop with UNets of the same layout."""
    from benchmarks.peers import diffusers_ddim
    from genlab.image.diffusion.models import DDPM, DDPMConfig

    torch.manual_seed(0)
    config = DDPMConfig(image_size=28, channels=1, base_channels=32, channel_mult=(1, 2, 2), num_res_blocks=1,
                        attention_levels=(1,), attention_head_dim=8, sampler="ddim", eta=0.0)  # fmt: skip
    ours = DDPM(config).eval()
    try:
        unet, scheduler = diffusers_ddim.build()
    except ImportError:
        unet = scheduler = None

    @torch.no_grad()
    def genlab_sample(k: int = steps, at: str = precision) -> torch.Tensor:
        return ours.generate(batch, generator=torch.Generator().manual_seed(0), sampler="ddim", steps=k, precision=at)

    deviation = sampling_deviation(ours, genlab_sample) if fidelity else {}

    def peer_sample(k: int = steps) -> None:
        diffusers_ddim.sample(unet, scheduler, batch, k, generator=torch.Generator().manual_seed(0))

    def warmup():
        genlab_sample(3)
        if unet is not None:
            peer_sample(3)

    return Contest(
        model="ddim",
        peer_name="diffusers UNet2DModel + DDIMScheduler",
        unit="images",
        units=batch,
        genlab=genlab_sample,
        peer=peer_sample if unet is not None else None,
        warmup=warmup,
        note=None if unet is not None else "diffusers not installed (the dev extra): no peer",
        fields={
            "dataset": "untrained (speed does not depend on the weights)",
            "recipe": f"{steps} DDIM steps (eta 0, clipped), batch {batch}, 28×28×1; blocks 32/64/64, attention at "
            "14×14 and in the middle (heads of 8 channels, diffusers' default), 1 residual block per level",
            "genlab_params": sum(p.numel() for p in ours.parameters()),
            "peer_params": sum(p.numel() for p in unet.parameters()) if unet is not None else None,
            "timed": "the whole sampling loop of one batch",
        }
        | deviation,
    )


def sampling_deviation(model: torch.nn.Module, sample: Callable[..., torch.Tensor]) -> dict[str, Any]:
    """How far bf16 samples lie from float32 ones drawn from the same noise, on a copy of ``model`` whose
    zero-initialised output layer gets random weights (untrained, the output would not depend on the rest)."""
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1 and not p.any():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.02)
        fp32, bf16 = sample(at="32"), sample(at="bf16")
    model.load_state_dict(saved)
    diff = (fp32 - bf16).abs()
    return {
        "bf16_mean_abs_diff": round(float(diff.mean()), 5),  # images in [-1, 1]
        "bf16_p99_abs_diff": round(float(diff.flatten().quantile(0.99)), 4),
        "fidelity_weights": "untrained UNet, output layer randomised",
    }


# --------------------------------------------------------------------------- main


def contests(
    wanted: set[str], quick: bool, data_dir: str | None, precision: str, fidelity_checks: bool = True
) -> list[Callable[[], Contest]]:
    """Builders of the chosen rows' contests, in :data:`ROWS` order. At bf16 the rows also measure what
    bfloat16 changes: training losses (gpt, vae) and sample deviation (ddim) against float32."""
    check = precision != "32" and fidelity_checks
    fidelity = (20 if quick else 300) if check else 0
    builders = {
        "gpt": lambda: gpt_contest(3 if quick else 25, precision, fidelity),
        "vae": lambda: vae_contest(5 if quick else 100, data_dir, precision, fidelity),
        "ddim": lambda: ddim_contest(8 if quick else 64, 5 if quick else 25, precision, check),
    }
    return [builders[r] for r in ROWS if r in wanted]


def row_key(r: dict[str, Any]) -> tuple:
    """A row is one model at one thread count and one precision."""
    return (r.get("model"), r.get("threads"), r.get("precision", "32"))


def main(argv: list[str] | None = None) -> None:
    """Command line: measure the chosen rows and merge them into the results file."""
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0])
    common.add_common_arguments(parser, "tiny work and 2 pairs: a smoke check, not a measurement", runs=False)
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated subset of {', '.join(ROWS)}")
    parser.add_argument("--pairs", type=int, default=7, help="interleaved genlab/peer measurements per row")
    parser.add_argument("--data-dir", default=None, help="folder holding mnist/ (default: genlab's data folder)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="instead of timing: profile one genlab and one peer call per row (→ speed-profile.json)",
    )
    parser.add_argument(
        "--precision",
        choices=("32", "bf16"),
        default="32",
        help="genlab's precision (training: bf16-mixed autocast; sampling: the UNet in bf16); the peers stay fp32",
    )
    args = parser.parse_args(argv)
    wanted = {r.strip() for r in args.rows.split(",") if r.strip()}
    if wanted - set(ROWS):
        parser.error(f"unknown rows {sorted(wanted - set(ROWS))}; choose from {', '.join(ROWS)}")
    load = common.load_average()  # before this process adds its own load
    common.set_threads(args.threads)
    if args.profile:
        builders = contests(wanted, args.quick, args.data_dir, args.precision, fidelity_checks=False)
        rows = [r for build in builders for r in profile(build())]
        for row in rows:
            row |= {"threads": torch.get_num_threads(), "precision": args.precision, "load_average": load}
            row["commit"] = common.git_commit()
        key = lambda r: (r.get("model"), r.get("who"), r.get("threads"), r.get("precision"))  # noqa: E731
        path = common.save_rows("speed-profile", rows, MODULE, argv, key, args.out_dir, order=key)
        print(f"wrote {path}")
        return
    pairs = 2 if args.quick else args.pairs
    rows = []
    # MFU is against the peak of the precision genlab computes in
    with common.MatmulPeak(args.threads, dtype="bfloat16" if args.precision == "bf16" else "float32") as peak:
        for build in contests(wanted, args.quick, args.data_dir, args.precision):
            rows.append(measure(build(), pairs) | {"precision": args.precision, "peer_precision": "32"})
    measured_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    commit = common.git_commit()  # rows of several runs share the file: each names its code
    for row in rows:
        flops = row.pop("flops_per_unit", None)
        fields = common.mfu(flops * row["genlab_per_s"], peak) if flops else {"mfu": None} | peak.fields()
        row |= fields | {"load_average": load, "quick": args.quick, "measured_at": measured_at, "commit": commit}
        row["native_bf16"] = native_bf16("cpu")
        if flops:
            print(f"{row['model']:>5}: mfu {row['mfu']} (peak {row['matmul_peak_gflops']} GFLOP/s)")
    if peak.moved:
        print(f"warning: the matmul peak moved from {peak.start:.0f} to {peak.end:.0f} GFLOP/s during the run")
    name = "speed-quick" if args.quick else "speed"
    path = common.save_rows(name, rows, MODULE, argv, row_key, args.out_dir, order=lambda r: row_key(r))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
