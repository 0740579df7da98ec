"""Recipe study for the unconditional image generators → ``benchmarks/results/image_recipes.json``.

Each named recipe of :data:`RECIPES` is a model plus config overrides; it is trained on MNIST for ``--budget``
wall-clock minutes and scored with the protocol of ``benchmarks/image_generation.py`` (n generated vs n test images,
LeNet features, seed 0). The rows say which change moved FID, so a model default can be changed with evidence
(docs/evaluation.md, "Recipes for the unconditional generators"). Rows are keyed by recipe, budget and commit.

    python -m benchmarks.image_recipes --data-dir ../shared/data --recipes dcgan-ema dcgan-sn-hinge-ema --budget 10
    python -m benchmarks.image_recipes --quick
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import genlab
from benchmarks import common

MODULE = "benchmarks.image_recipes"

#: The DCGAN recipe of Miyato et al. (2018, "standard CNN" rows): hinge loss, spectral norm in D (no BatchNorm),
#: Adam β = (0, 0.9); with an EMA of the weights.
SN_HINGE = ["model.loss=hinge", "model.spectral_norm=true", "model.betas=[0.0,0.9]", "train.ema_decay=0.999"]
#: name -> (model, overrides). Overrides are given explicitly (not left to defaults) so rows stay comparable when
#: the defaults change.
RECIPES: dict[str, tuple[str, list[str]]] = {
    "dcgan-paper": ("dcgan", ["model.loss=non-saturating", "model.spectral_norm=false", "model.betas=[0.5,0.999]",
                              "train.ema_decay=0"]),
    "dcgan-ema": ("dcgan", ["model.loss=non-saturating", "model.spectral_norm=false", "model.betas=[0.5,0.999]",
                            "train.ema_decay=0.999"]),
    "dcgan-ema-width64": ("dcgan", ["model.loss=non-saturating", "model.spectral_norm=false",
                                    "model.betas=[0.5,0.999]", "train.ema_decay=0.999", "model.g_width=64",
                                    "model.d_width=64"]),
    "dcgan-ema-width64-nearest": ("dcgan", ["model.loss=non-saturating", "model.spectral_norm=false",
                                            "model.betas=[0.5,0.999]", "train.ema_decay=0.999", "model.g_width=64",
                                            "model.d_width=64", "model.upsample=nearest"]),
    "dcgan-sn-hinge-ema": ("dcgan", SN_HINGE),
    "dcgan-sn-hinge-ema-ttur": ("dcgan", [*SN_HINGE, "model.lr_d=4e-4", "model.lr_g=1e-4"]),
    "dcgan-sn-hinge-ema-g64": ("dcgan", [*SN_HINGE, "model.g_width=64"]),
}  # fmt: skip


def measure(recipe: str, budget: float, n: int, data_dir: str | None, runs: Path, quick: bool) -> dict[str, Any]:
    """Train one recipe on MNIST (the offline 5k subset with ``--quick``) and score it."""
    model, overrides = RECIPES[recipe]
    data = "builtin:mnist-5k" if quick else "mnist"
    extra = [f"data.data_dir={data_dir}"] if data_dir else []
    res = genlab.train("image-generation", model=model, data=data, name=f"{recipe}-{budget:g}m", runs_dir=runs,
                       max_minutes=budget, progress=False, overrides=[*extra, *overrides])  # fmt: skip
    result = genlab.evaluate(res.run.path, ["fid", "kid", "precision", "recall"], n=n, seed=0, data_dir=data_dir)
    return {
        "recipe": recipe, "model": model, "overrides": overrides, "dataset": data, "budget_minutes": budget,
        "steps": res.steps, **{k: round(v, 3) for k, v in result["metrics"].items() if isinstance(v, float)},
        "n_generated": result["protocol"].get("n_generated"), "extractor": result["protocol"].get("extractor"),
    }  # fmt: skip


def row_key(r: dict[str, Any]) -> tuple:
    """A recipe measured again at another commit adds a row (the spread between them is the noise)."""
    return r["recipe"], r["dataset"], r["budget_minutes"], r.get("commit")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0])
    common.add_common_arguments(p, "one recipe for a few seconds on the offline 5k subset (a smoke check)")
    p.add_argument("--data-dir", default=None, help="folder with mnist/ (default $GENLAB_DATA_DIR)")
    p.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    p.add_argument("--budget", type=float, default=10.0, help="training minutes per recipe")
    p.add_argument("--n", type=int, default=10_000, help="generated and reference samples")
    args = p.parse_args(argv)
    common.set_threads(args.threads)
    recipes, budget, n = (args.recipes[:1], 0.05, 200) if args.quick else (args.recipes, args.budget, args.n)
    rows = []
    with common.runs_folder(args.runs_dir) as runs:
        for recipe in recipes:
            rows.append(measure(recipe, budget, n, args.data_dir, runs, args.quick))
            print({k: rows[-1][k] for k in ("recipe", "steps", "fid", "kid", "precision", "recall")}, flush=True)
    name = "image_recipes_quick" if args.quick else "image_recipes"
    print(f"wrote {common.save_rows(name, rows, MODULE, argv, row_key, args.out_dir)}")


if __name__ == "__main__":
    main()
