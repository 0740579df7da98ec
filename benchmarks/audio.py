"""Audio benchmark: spoken-digit generation judged like the WaveGAN paper, and the judges themselves.

    python -m benchmarks.audio --quick                                        # smoke check, tiny budgets
    python -m benchmarks.audio --part generation --models specgan wavegan --budget 30 --threads 1
    python -m benchmarks.audio --part judges

Generation: each model trains class-conditionally (``genlab train audio-generation --conditional``) for
``--budget`` CPU minutes on the FSDD training split (takes 5–49; 1 s clips at 8 kHz), then
``genlab.evaluate`` draws ``--n`` clips (labels in turn) and scores them with the shipped judge
``fsdd-digits`` (a log-mel CNN trained by genlab on the same split, 99.67 % on the test split):
``label_accuracy`` (share of clips the judge hears as the asked digit), ``inception_score`` (exp E KL of
the judge's class probabilities against their mean) and ``frechet_distance`` (Gaussian fits of the
judge's 128-d features, generated vs the FSDD test takes 0–4). The same evaluation scores real training
clips (the floor of FD, the ceiling of accuracy) and Gaussian noise at speech level: the rows
``real-clips`` and ``noise``. ``rtf`` is the real-time factor of generation on the run's threads:
seconds spent per second of audio, generating 16 clips at once (best of 3).

Judges: the shipped classifiers' accuracy on the FSDD test split (``test_accuracy``).

Writes ``benchmarks/results/audio.json`` (``--quick``: ``audio-quick.json``); a row replaces the earlier
one of the same model, dataset, part and budget.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

import genlab
from benchmarks import common

MODULE = "benchmarks.audio"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def row_key(r: dict[str, Any]) -> tuple:
    return r["model"], r["dataset"], r.get("part"), r.get("budget_minutes"), str(r.get("overrides"))


def generation_rtf(model, clips: int = 16) -> float:
    """Seconds of compute per second of generated audio (best of 3, after a warm-up)."""
    seconds = common.best_time(lambda: model.generate(clips, seed=0), repeats=3, warmup=lambda: model.generate(2))
    return round(seconds / (clips * model.config.clip_samples / model.config.sample_rate), 4)


def generation_rows(args, runs_dir: Path) -> list[dict[str, Any]]:
    fsdd = SHARED / "fsdd"
    rows: list[dict[str, Any]] = []
    for i, model in enumerate(args.models):
        overrides = ["model.conditional=true", *args.overrides]
        if args.quick:
            overrides += ["model.model_size=4", "data.max_files=64"]
        with common.Stopwatch() as clock:
            res = genlab.train(
                "audio-generation", model=model, data="fsdd:train", name=f"{model}-{args.budget:g}m",
                runs_dir=runs_dir, max_minutes=args.budget, progress=False, overrides=overrides,
                data_options={"data_dir": str(fsdd)},
            )  # fmt: skip
        result = genlab.evaluate(res.run.path, "label_accuracy,is,fd", n=args.n, data_dir=str(fsdd),
                                 baselines=i == 0)  # fmt: skip
        m = result["metrics"]
        pipe = genlab.load(res.run.path)
        base = {"dataset": "fsdd", "part": "generation", "judge": result["protocol"].get("judge")}
        rows.append({
            "model": model, **base, "budget_minutes": args.budget, "train_minutes": round(clock.seconds / 60, 2),
            "steps": res.steps, "label_accuracy": m.get("label_accuracy"), "inception_score": m.get("is"),
            "frechet_distance": m.get("fd"), "n": args.n, "rtf": generation_rtf(pipe.model),
        })  # fmt: skip
        print(f"{model}: label accuracy {m.get('label_accuracy')}, IS {m.get('is')}, FD {m.get('fd')}", flush=True)
        for name, values in result.get("baselines", {}).items():
            rows.append({
                "model": {"real": "real-clips"}.get(name, name), **base, "budget_minutes": None,
                "label_accuracy": values.get("label_accuracy"), "inception_score": values.get("is"),
                "frechet_distance": values.get("fd"), "n": args.n,
            })  # fmt: skip
    return rows


def judge_rows(args) -> list[dict[str, Any]]:
    from genlab.audio.classifier.train import load_audio_classifier
    from genlab.audio.loading import AudioDataConfig, load_audio_data, stack_clips

    rows = []
    for name in ("fsdd-digits", "fsdd-speakers"):
        model = load_audio_classifier(name)
        field = model.provenance.raw.get("label_field", "label")
        cfg = AudioDataConfig.build({"source": "fsdd:test", "data_dir": str(SHARED / "fsdd"), "val_fraction": 0,
                                     "augment": False, "label_field": field})  # fmt: skip
        waves, labels = stack_clips(load_audio_data(cfg)[0])
        accuracy = float((model.probabilities(waves).argmax(1) == labels).float().mean())
        seconds = common.best_time(lambda m=model, w=waves: m.probabilities(w), repeats=3)
        rows.append({
            "model": f"mel-cnn ({name})", "dataset": "fsdd", "part": "judges", "budget_minutes": None,
            "test_accuracy": round(accuracy, 5), "n": len(waves), "classes": model.config.num_classes,
            "rtf": round(seconds / (len(waves) * model.config.clip_samples / model.config.sample_rate), 5),
            "train_minutes": round(model.provenance.raw.get("train_seconds", 0) / 60, 2),
        })  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0])
    common.add_common_arguments(p, "tiny budgets and data: a smoke check, not a result")
    p.add_argument("--part", choices=("generation", "judges", "all"), default="all")
    p.add_argument("--models", nargs="+", default=["specgan", "wavegan"], help="generation models")
    p.add_argument("--budget", type=float, default=30.0, help="training minutes per generation model")
    p.add_argument("--n", type=int, default=1000, help="generated clips scored per model")
    p.add_argument("--set", dest="overrides", action="append", default=[], help="config override for every run")
    args = p.parse_args(argv)
    if not (SHARED / "fsdd").is_dir():
        p.error(f"needs FSDD under {SHARED} (../shared/data beside the repository)")
    common.set_threads(args.threads)
    commit = common.git_commit()
    if args.quick:
        args.budget, args.n = 0.1, 40
    rows = []
    with common.runs_folder(args.runs_dir) as runs_dir:
        if args.part in ("judges", "all"):
            rows += judge_rows(args)
        if args.part in ("generation", "all"):
            rows += generation_rows(args, runs_dir)
    for r in rows:
        r |= {"threads": torch.get_num_threads(), "load_average": common.load_average(), "commit": commit}
        if r.get("budget_minutes"):
            r["overrides"] = list(args.overrides)
    name = "audio-quick" if args.quick else "audio"
    out = common.save_rows(name, rows, MODULE, argv, row_key, args.out_dir, quick=args.quick)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
