"""Character generator benchmark: does a drawn character wear the features asked for, on combinations held out of
training? (results/characters.json)

    python -m benchmarks.characters --budget 30 --threads 1
    python -m benchmarks.characters --quick            # smoke check: 16 px, a few steps, a small classifier

Needs the LPC layers (``DATA_DIR/characters``, e.g. ``GENLAB_DATA_DIR=../shared/data``). The generator
(``character/cvae`` at 64 px) trains for ``--budget`` minutes on ``builtin:lpc-characters`` through
``genlab.train``. The judge is an attribute classifier (:mod:`genlab.image.characters.classifier`) trained on the
composed training characters and on other characters wearing the held-out pairs (the test split's rule drawn
with another seed): the judge is the measuring instrument, not the model under test, so it may see every
combination; only the generator never does. Its accuracy on the real test characters (every one wearing a
hair-style × torso and a hat × hair-colour pair never seen by the generator) is the ``real-test`` row: the ceiling
of what it can confirm. The generator then draws one character for every test image's attribute row (seed 0),
and the judge's per-attribute accuracy on those drawings is ``attribute_accuracy``; ``min_attribute_accuracy`` is
the worst attribute. Target: at least 0.9 on every attribute.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from benchmarks import common

MODULE = "benchmarks.characters"


def row_key(r: dict[str, Any]) -> tuple:
    return (r["model"], r.get("budget_minutes"), r.get("image_size"))


def main(argv: list[str] | None = None) -> None:
    import genlab
    from genlab.core.seeding import make_generator
    from genlab.image.characters.classifier import attribute_accuracy, train_attribute_classifier
    from genlab.image.characters.data import load_characters

    p = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0])
    common.add_common_arguments(p, "16 px, a few training seconds, a small judge: a smoke check, not a result")
    p.add_argument("--budget", type=float, default=30.0, help="training minutes of the generator")
    p.add_argument("--image-size", type=int, default=64, choices=(16, 32, 64))
    p.add_argument("--judge-epochs", type=int, default=10, help="passes of the attribute classifier over its data")
    p.add_argument("--data-dir", default=None, help="folder holding characters/ (default $GENLAB_DATA_DIR)")
    args = p.parse_args(argv)
    common.set_threads(args.threads)
    n_train = None
    if args.quick:
        args.budget, args.image_size, args.judge_epochs, n_train = 0.1, 16, 1, 100

    sizes = {"n_train": n_train} if n_train else {}
    t0 = time.perf_counter()
    train = load_characters("train", data_dir=args.data_dir, **sizes)
    test = load_characters("test", data_dir=args.data_dir)
    pairs = load_characters("test", data_dir=args.data_dir, seed=1, n_test=len(train.characters))  # other draws
    judge_data = replace(
        train, images=np.concatenate([train.images, pairs.images]), labels=np.concatenate([train.labels, pairs.labels]),
        characters=[*train.characters, *pairs.characters],
    )  # fmt: skip
    judge = train_attribute_classifier(judge_data, epochs=args.judge_epochs, seed=0)
    judge_minutes = (time.perf_counter() - t0) / 60
    real = attribute_accuracy(judge, test.images, test.labels, test.attributes)
    rows: list[dict[str, Any]] = [{
        "model": "real-test", "dataset": "lpc-characters", "budget_minutes": None, "image_size": 64,
        "attribute_accuracy": {k: round(v, 4) for k, v in real.items()},
        "min_attribute_accuracy": round(min(real.values()), 4), "images": len(test.labels),
        "judge_minutes": round(judge_minutes, 2),
        "note": "the judge on the real held-out test characters: the ceiling of what it can confirm",
    }]  # fmt: skip
    print(rows[-1])

    with common.runs_folder(args.runs_dir) as runs_dir:
        name = f"cvae-{args.image_size}px-{args.budget:g}m"
        t0 = time.perf_counter()
        result = genlab.train(
            "character", "cvae", "builtin:lpc-characters", name, runs_dir=runs_dir, max_minutes=args.budget,
            data_options={"image_size": args.image_size, **sizes, **({"data_dir": args.data_dir} if args.data_dir
                                                                      else {})},
            threads=args.threads, progress=False, seed=0, sample_every=0,
        )  # fmt: skip
        minutes = (time.perf_counter() - t0) / 60
        model = genlab.load(result.run.path).model
        labels = torch.as_tensor(test.labels, dtype=torch.long)
        columns = [test.attributes.index(a) for a in model.config.attributes]
        with torch.no_grad():
            drawn = torch.cat([
                model.generate(len(chunk), chunk[:, columns], generator=make_generator(i))
                for i, chunk in enumerate(labels.split(256))
            ])  # fmt: skip
        if drawn.shape[-1] != 64:  # the judge reads 64 px characters
            drawn = torch.nn.functional.interpolate(drawn, size=64, mode="nearest")
        acc = attribute_accuracy(judge, drawn, labels.numpy(), test.attributes)
        rows.append({
            "model": "cvae", "dataset": "lpc-characters", "budget_minutes": args.budget, "image_size": args.image_size,
            "attribute_accuracy": {k: round(v, 4) for k, v in acc.items()},
            "min_attribute_accuracy": round(min(acc.values()), 4), "images": len(labels),
            "train_minutes": round(minutes, 2), "steps": result.steps,
            "parameters": sum(p.numel() for p in model.parameters()),
        })  # fmt: skip
        print(rows[-1])
    commit = common.git_commit()
    for r in rows:
        r |= {"threads": torch.get_num_threads(), "load_average": common.load_average(), "commit": commit}
    out = common.save_rows("characters-quick" if args.quick else "characters", rows, MODULE, argv, row_key,
                           args.out_dir)  # fmt: skip
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
