"""VAE likelihood benchmark: importance-weighted test NLL on binarized MNIST, beside Pythae's table.

Each model in ``--models`` (Bernoulli decoders) is trained on MNIST (``builtin:mnist-5k`` when the
full set is absent from ``--data-dir``) for ``--budget`` CPU-minutes and scored on the test split:
``nll`` with ``--k`` importance samples per image (Burda et al. 2016; k=1 is the ELBO), each test
image binarized by sampling its pixels with their intensities as probabilities (seeded), and
``recon`` (reconstruction MSE/PSNR/SSIM of the grey-level images). The published reference:
Pythae's reproduction on binarized MNIST (Chadebec et al. 2022), VAE 89.8, IWAE 86.8, VAMP 85.8
nats — trained far longer than a CPU budget allows, so read it as the bar, not as a like-for-like row.

Writes ``benchmarks/results/vae_likelihood.json`` (``--quick``: ``vae_likelihood_quick.json``).

    python -m benchmarks.vae_likelihood --data-dir ../shared/data --budget 10 --k 1000 --threads 1
    python -m benchmarks.vae_likelihood --quick
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import genlab
from benchmarks import common

MODULE = "benchmarks.vae_likelihood"

#: Test NLL in nats on binarized MNIST, Pythae's reproduction (Chadebec et al. 2022, NeurIPS Datasets & Benchmarks).
PUBLISHED = {"vae": 89.8, "iwae": 86.8, "vamp": 85.8}


def dataset(data_dir: str | None) -> str:
    """MNIST when its test file is in ``data_dir``, else the offline 5k subset shipped with genlab."""
    return (common.idx_datasets_on_disk(["mnist"], data_dir) or ["builtin:mnist-5k"])[0]


def row_key(r: dict[str, Any]) -> tuple:
    """Rows of the same model, data, budget and protocol (k, test images) replace each other."""
    return r["model"], r["dataset"], r["budget_minutes"], r.get("k"), r.get("test_images")


def bench(model: str, args, runs_dir: Path) -> dict[str, Any]:
    """Train ``model`` for ``args.budget`` minutes and score it with ``genlab.evaluate`` (``nll``, ``recon``)."""
    data = dataset(args.data_dir)
    overrides = [f"data.data_dir={args.data_dir}"] if args.data_dir else []
    name = f"{model}-{data.replace('builtin:', '')}-nll-{args.budget:g}m"
    kw = {"runs_dir": runs_dir, "progress": False, "overrides": overrides}
    res = genlab.train("image-generation", model=model, data=data, name=name, max_minutes=args.budget, **kw)
    model_config = common.run_config(res.run.path)["model"]
    with common.Stopwatch() as evaluation:
        result = genlab.evaluate(res.run.path, ["nll", "recon"], k=args.k, n=args.n, seed=0, data_dir=args.data_dir)
    p, m = result["protocol"], result["metrics"]
    return {
        "model": model,
        "dataset": data,
        "budget_minutes": args.budget,
        "steps": res.steps,
        "images_per_s_training": round(common.training_images_per_s(res), 1),
        "latent_dim": model_config["latent_dim"],
        "likelihood": model_config["likelihood"],
        "nll_nats": round(m["nll_nats"], 3),
        **{k: round(v, 5) for k, v in m.items() if k != "nll_nats"},
        "k": p["nll_importance_samples"],
        "test_images": p["nll_images"],
        "binarization": p["nll_binarization"],
        "reference": p.get("reference"),
        "eval_seconds": round(evaluation.seconds, 1),
        "published_nats": PUBLISHED,
    }


def main(argv: list[str] | None = None) -> None:
    """Command line: train and score each model, merge the rows into the results file."""
    p = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0])
    common.add_common_arguments(p, "tiny budget, k and n: a smoke check, not a result")
    p.add_argument("--data-dir", default=None, help="folder with mnist/ (default $GENLAB_DATA_DIR)")
    p.add_argument("--models", nargs="+", default=["vae"], help="VAE models with a Bernoulli decoder")
    p.add_argument("--budget", type=float, default=10.0, help="training minutes per model")
    p.add_argument("--k", type=int, default=1000, help="importance samples per test image")
    p.add_argument("--n", type=int, default=10_000, help="test images scored")
    args = p.parse_args(argv)
    common.set_threads(args.threads)
    if args.quick:
        args.budget, args.k, args.n = 0.1, 5, 200
    rows = []
    with common.runs_folder(args.runs_dir) as runs_dir:
        for model in args.models:
            rows.append(bench(model, args, runs_dir))
            r = rows[-1]
            bar = f"Pythae VAE {PUBLISHED['vae']}, IWAE {PUBLISHED['iwae']}"
            print(f"{model}: NLL {r['nll_nats']:.2f} nats (k={r['k']}, {r['test_images']} images; {bar})", flush=True)
    name = "vae_likelihood_quick" if args.quick else "vae_likelihood"
    out = common.save_rows(name, rows, MODULE, argv, row_key, args.out_dir, quick=args.quick)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
