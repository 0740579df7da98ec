"""Music benchmark: each composer trained for a fixed CPU budget on the chorales and on folk tunes, scored with the
music metrics against the held-out pieces (results/music.json).

    python -m benchmarks.music --models transformer lstm --datasets bach-chorales --budget 30 --threads 1
    python -m benchmarks.music --models markov music-vae --datasets bach-chorales folk --budget 30
    python -m benchmarks.music --quick                     # smoke check: tiny budgets, few pieces
    python -m benchmarks.music --docs docs/music.md        # rewrite the page's results table from the file

Data: music21's bundled corpus through ``builtin:bach-chorales`` and ``builtin:folk`` (Essen folk songs and
O'Neill's 1850), split by piece with seed 0. Each model trains with ``genlab.train("music", model, data,
max_minutes=budget)`` (``markov`` is counted, not trained), then ``genlab eval``'s metrics
(:mod:`genlab.music.evaluation`) score it: ``nll_per_note`` on the test pieces; ``pitch_class_overlap``,
``interval_overlap`` (and their KL), ``key_consistency``, groove and ``plagiarism_rate`` on ``--n`` pieces
generated unconditioned (seed 0, temperature 1) against the test pieces. ``train_minutes`` is the wall time of the
training call; ``notes_per_s`` the notes of ``--speed-pieces`` generated pieces over the seconds the sampling took.

Per-dataset settings (``DATASET_SETTINGS``, recorded in each row's ``overrides``): on the folk tunes the
language models draw the key of every unconditioned piece from the training pieces' own keys
(``model.key_prior=corpus``): the tunes cluster in a few keys (G, F, D and C major hold about 80 % of them) while
the transposition augmentation teaches a nearly flat key distribution, which the absolute pitch-class histogram
punishes. The chorales keep the defaults.

Reference row ``held-out``: the test pieces themselves scored as if generated, against the training and validation
pieces — what real music of the dataset gets. For chorale models the harmonisation check (``harmonize_*``
fields) gives each test chorale's soprano to ``genlab compose --harmonize`` and measures that the soprano comes back
note for note and the share of beats of the four-voice result in the chorale's key.
"""

from __future__ import annotations

import argparse
import importlib
import json
import time
from pathlib import Path
from typing import Any

import torch

import genlab
from benchmarks import common

MODULE = "benchmarks.music"
#: Per-dataset settings of each model (dotted overrides, applied before ``--set``); see the module docstring.
KEYS_FROM_CORPUS = ["model.key_prior=corpus"]
#: A faster folk transformer recipe was tried and dropped: batches of 8 rows, no dropout, learning rate 2e-3 made
#: 6,233 steps in 30 minutes (the default 2,607) but held-out NLL 3.38 against 3.32 nats per note
#: and interval overlap 0.823 against 0.839: 50k rows are about six passes over the tunes (each
#: in another key), where dropout or the lower rate may matter more than the extra steps.
DATASET_SETTINGS: dict[str, dict[str, list[str]]] = {
    "folk": {"markov": KEYS_FROM_CORPUS, "transformer": KEYS_FROM_CORPUS, "lstm": KEYS_FROM_CORPUS},
}
MODELS = ("markov", "transformer", "lstm", "music-vae")
DATASETS = ("bach-chorales", "folk")
MAIN_FIELDS = ("nll_per_note", "pitch_class_overlap", "scale_degree_overlap", "interval_overlap", "key_consistency",
               "plagiarism_rate")  # fmt: skip
EXTRA_FIELDS = ("nll_per_token", "pitch_class_kl", "scale_degree_kl", "interval_kl", "duration_kl", "duration_overlap",
                "groove_consistency", "groove_similarity", "longest_copy_notes", "longest_copy_bars")  # fmt: skip


def row_key(r: dict[str, Any]) -> tuple:
    return (r["model"], r["dataset"], r.get("budget_minutes"))


def _round(values: dict[str, Any], digits: int = 4) -> dict[str, Any]:
    return {k: round(float(v), digits) if isinstance(v, float) and v == v else v for k, v in values.items()}


def metric_fields(values: dict[str, float]) -> dict[str, Any]:
    """The row fields of an evaluation's metric values (missing ones None, NaN written as None)."""
    return {k: (None if values.get(k) is None or values[k] != values[k] else round(float(values[k]), 4))
            for k in (*MAIN_FIELDS, *EXTRA_FIELDS)}  # fmt: skip


def score(model: Any, args) -> tuple[dict[str, Any], dict[str, float], dict[str, Any]]:
    """(the model's metric fields, the held-out baseline's values, the protocol) of ``genlab eval``'s music metrics."""
    from genlab.core.registry import TASKS

    t0 = time.perf_counter()
    options = {"n": args.n, "seed": 0, "max_tokens": args.max_tokens, "max_reference": args.max_reference}
    result = TASKS.get("music").evaluate(model, None, options)
    fields = metric_fields(result["metrics"]) | {"eval_seconds": round(time.perf_counter() - t0, 1)}
    return fields, result["baselines"].get("held_out", {}), result["protocol"]


def notes_per_s(model: Any, pieces: int, max_tokens: int) -> float:
    """Notes per second of unconditioned sampling: ``pieces`` pieces of up to ``max_tokens`` tokens, seed 0."""
    t0 = time.perf_counter()
    rows = model.sample_ids(pieces, max_tokens, generator=torch.Generator().manual_seed(0))
    seconds = time.perf_counter() - t0
    return sum(model.tokenizer.note_count(r) for r in rows) / max(seconds, 1e-9)


def harmonisation(model: Any, args) -> dict[str, Any]:
    """Give each test chorale's soprano (voice 0) to ``genlab compose --harmonize`` (in the chorale's key) and check
    the result: the share of chorales whose soprano comes back note for note, and the mean share of beats of the
    four-voice result whose notes all lie in the chorale's key."""
    from genlab.core.errors import GenlabError
    from genlab.music import evaluation, metrics
    from genlab.music.notes import Piece
    from genlab.music.pipelines import harmonize

    test = evaluation.load_splits(evaluation.recorded_data_config(model))["test"][: args.harmonize_pieces]
    kept, in_key, errors = [], [], []
    for chorale in test:
        soprano = Piece(chorale.voice(0), tempo=chorale.tempo, time_signature=chorale.time_signature, key=chorale.key)
        if not soprano.notes:
            continue
        key = metrics.piece_key(chorale)
        given = [(n.pitch, n.start, n.duration) for n in model.tokenizer.quantize(soprano).notes]
        try:
            (out,) = harmonize(model, soprano, 1, key=key, seed=0)
        except GenlabError as e:  # the harmonisation refused or could not keep the soprano
            kept.append(False)
            errors.append(str(e))
            continue
        kept.append([(n.pitch, n.start, n.duration) for n in out.voice(0)] == given)
        in_key.append(metrics.key_consistency(out, key=key))
    return {
        "harmonize_pieces": len(kept),
        "harmonize_soprano_kept": round(sum(kept) / len(kept), 4) if kept else None,
        "harmonize_beats_in_key": round(sum(in_key) / len(in_key), 4) if in_key else None,
        "harmonize_errors": len(errors),
        **({"harmonize_first_error": errors[0]} if errors else {}),
    }


MEDIA_BARS = 8


def write_media(piece: Any, folder: Path, name: str, title: str) -> dict[str, str]:
    """``piece`` as ``name.mid``, a rendered ``name.ogg`` (Vorbis: a tenth of the WAV's bytes, playable in the
    browser) and a piano roll ``name.png`` in ``folder``; the file names, for the row."""
    import soundfile as sf

    from genlab.music.io import write_midi
    from genlab.music.plots import piano_roll
    from genlab.music.render import render

    folder.mkdir(parents=True, exist_ok=True)
    write_midi(piece, folder / f"{name}.mid")
    sf.write(folder / f"{name}.ogg", render(piece, sample_rate=22050), 22050, format="OGG", subtype="VORBIS")
    piano_roll(piece, folder / f"{name}.png", title=title)
    return {"media": name, "media_renderer": "fluidsynth" if _fluidsynth() else "built-in synthesiser"}


def _fluidsynth() -> bool:
    from genlab.music.render import fluidsynth_available

    return fluidsynth_available()


def model_media(model: Any, args, model_name: str, dataset: str) -> dict[str, str]:
    """The first of the model's ``--media`` pieces: ``genlab compose RUN --bars 8 --seed 0`` (unconditioned)."""
    from genlab.music.pipelines import compose

    (piece,) = compose(model, 1, bars=MEDIA_BARS, seed=0)
    name = f"{model_name}-{dataset}-{args.budget:g}m"
    return write_media(piece, args.media, name, f"{model_name}, {dataset}, {args.budget:g} min (seed 0)")


def held_out_media(model: Any, args, dataset: str) -> dict[str, str]:
    """The first test piece's first 8 bars, for the held-out row."""
    from genlab.music import evaluation

    piece = evaluation.load_splits(evaluation.recorded_data_config(model))["test"][0].slice_bars(0, MEDIA_BARS)
    return write_media(piece, args.media, f"held-out-{dataset}", f"held-out test piece, {dataset}")


def model_rows(args, runs_dir: Path, model_name: str, dataset: str) -> list[dict[str, Any]]:
    """Train ``model_name`` on ``dataset`` for the budget and score it; the held-out row comes with it."""
    for module in ("task", "markov", "vae"):  # registered also where the installed metadata predates the modality
        importlib.import_module(f"genlab.music.{module}")

    name = f"{model_name}-{dataset}-{args.budget:g}m"
    if args.rescore:
        previous = args.previous.get((model_name, dataset, args.budget))
        if previous is None or not (runs_dir / "music" / name / "model").is_dir():
            raise SystemExit(f"--rescore: no row and no trained run of {name} in {args.out_dir} / {runs_dir}")
        model = genlab.load(runs_dir / "music" / name).model
        fields, held, protocol = score(model, args)
        kept = {k: previous[k] for k in ("train_minutes", "notes_per_s", "steps", "parameters") if k in previous}
        row = {"model": model_name, "dataset": dataset, "budget_minutes": args.budget, **fields, **kept,
               "n_samples": protocol["n_samples"], "max_tokens": protocol["max_tokens"],
               "reference": protocol["reference"], "overrides": list(args.overrides),
               "rescored": "metrics recomputed on the trained run; training figures from its first row"}  # fmt: skip
    else:
        t0 = time.perf_counter()
        overrides = [*DATASET_SETTINGS.get(dataset, {}).get(model_name, []), *args.overrides]
        result = genlab.train(
            "music", model_name, f"builtin:{dataset}", name, runs_dir=runs_dir, max_minutes=args.budget,
            data_options=dict(args.data_options), overrides=overrides, threads=args.threads,
            progress=False, seed=0, sample_every=0,
        )  # fmt: skip
        minutes = (time.perf_counter() - t0) / 60
        model = genlab.load(result.run.path).model
        fields, held, protocol = score(model, args)
        row = {
            "model": model_name, "dataset": dataset, "budget_minutes": args.budget, **fields,
            "train_minutes": round(minutes, 2),
            "notes_per_s": round(notes_per_s(model, args.speed_pieces, protocol["max_tokens"]), 1),
            "steps": result.steps, "parameters": sum(p.numel() for p in model.parameters()),
            "n_samples": protocol["n_samples"], "max_tokens": protocol["max_tokens"],
            "reference": protocol["reference"], "overrides": overrides,
        }  # fmt: skip
    if dataset == "bach-chorales" and not getattr(model, "phrase_model", False):  # a phrase VAE does not harmonise
        row |= harmonisation(model, args)
    if args.media:
        row |= model_media(model, args, model_name, dataset)
    rows = [row]
    if held:
        rows.append({
            "model": "held-out", "dataset": dataset, "budget_minutes": None, **metric_fields(held),
            "note": "the test pieces scored as if generated, against the training and validation pieces",
            "reference": "training and validation pieces",
            **(held_out_media(model, args, dataset) if args.media else {}),
        })  # fmt: skip
    return rows


TABLE_START, TABLE_END = ("<!-- results table: from benchmarks/results/music.json -->", "<!-- end of results table -->")
COLUMNS = ("nll_per_note", "pitch_class_overlap", "scale_degree_overlap", "interval_overlap", "key_consistency",
           "plagiarism_rate", "train_minutes", "notes_per_s")  # fmt: skip


MEDIA_START, MEDIA_END = ("<!-- media: from benchmarks/results/music.json -->", "<!-- end of media -->")


def docs_media(rows: list[dict[str, Any]], page: Path, folder: str = "music") -> None:
    """Rewrite ``page``'s list of each row's 8-bar piece (piano roll, audio player, MIDI link) between its media
    markers; the files are expected in ``folder`` beside the page (copied there from ``--media``)."""
    lines = []
    for r in rows:
        if not r.get("media"):
            continue
        name, label = (
            r["media"],
            f"{r['model']}, {r['dataset']}" + (f", {r['budget_minutes']:g} min" if r.get("budget_minutes") else ""),
        )
        lines += [f"**{label}** ({r.get('media_renderer', 'rendered')}): "
                  f"[MIDI]({folder}/{name}.mid) · [audio]({folder}/{name}.ogg)", "",
                  f'<audio controls src="{folder}/{name}.ogg"></audio>', "",
                  f"![{label}]({folder}/{name}.png)", ""]  # fmt: skip
    common.replace_between(page, MEDIA_START, MEDIA_END, lines)


def docs_table(results: Path, page: Path) -> None:
    """Rewrite the results table of ``page`` (between its markers) from the results file, and its media list
    when the page has media markers."""
    rows = json.loads(results.read_text(encoding="utf-8"))["results"]
    order = {m: i for i, m in enumerate(("held-out", *MODELS))}
    rows = sorted(rows, key=lambda r: (r["dataset"], order.get(r["model"], 99), r.get("budget_minutes") or 0))
    lead = {"dataset": lambda r: r["dataset"], "model": lambda r: r["model"],
            "budget (min)": lambda r: r.get("budget_minutes") or "–"}  # fmt: skip
    lines = common.markdown_table(rows, lead, COLUMNS)
    common.replace_between(page, TABLE_START, TABLE_END, lines)
    if MEDIA_START in page.read_text(encoding="utf-8"):
        docs_media(rows, page)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0])
    common.add_common_arguments(p, "tiny budgets and piece counts on the chorales: a smoke check, not a result")
    p.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    p.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    p.add_argument("--budget", type=float, default=30.0, help="training minutes of each model")
    p.add_argument("--n", type=int, default=100, help="pieces generated for the sample metrics")
    p.add_argument("--max-tokens", type=int, default=None, help="tokens per generated piece (default: the context)")
    p.add_argument("--max-reference", type=int, default=500, help="reference pieces of the distribution metrics")
    p.add_argument("--speed-pieces", type=int, default=16, help="pieces generated to time notes_per_s")
    p.add_argument("--harmonize-pieces", type=int, default=30, help="test chorales harmonised for the check")
    p.add_argument("--set", dest="overrides", action="append", default=[], help="config override for every run")
    p.add_argument(
        "--media",
        type=Path,
        default=None,
        help="write an 8-bar piece of every model (MIDI, Ogg audio, piano roll) into this folder",
    )
    p.add_argument(
        "--rescore",
        action="store_true",
        help="score the runs already trained in --runs-dir again (after a metric changed), keeping the "
        "training figures of their rows in --out-dir's results file",
    )
    p.add_argument("--docs", type=Path, default=None, help="only rewrite this page's results table from the file")
    args = p.parse_args(argv)
    if args.docs:
        docs_table(common.results_path("music", args.out_dir), args.docs)
        return
    common.set_threads(args.threads)
    args.data_options = {}
    args.previous = {}
    if args.rescore:
        if not args.runs_dir:
            raise SystemExit("--rescore needs the --runs-dir the models were trained in")
        path = common.results_path("music", args.out_dir)
        args.previous = {row_key(r): r for r in json.loads(path.read_text(encoding="utf-8"))["results"]}
    if args.quick:
        args.budget, args.n, args.max_tokens, args.speed_pieces, args.harmonize_pieces = 0.1, 4, 128, 2, 2
        args.max_reference, args.datasets, args.data_options = 20, ["bach-chorales"], {"max_files": 60}
    rows: list[dict[str, Any]] = []
    with common.runs_folder(args.runs_dir) as runs_dir:
        for dataset in args.datasets:
            for model_name in args.models:
                new = model_rows(args, runs_dir, model_name, dataset)
                rows = [r for r in rows if row_key(r) not in {row_key(n) for n in new}] + new
                print({k: new[0].get(k) for k in ("model", "dataset", *MAIN_FIELDS, "train_minutes", "notes_per_s")})
    commit = common.git_commit()
    for r in rows:
        r |= {"threads": torch.get_num_threads(), "load_average": common.load_average(), "commit": commit}
    name = "music-quick" if args.quick else "music"
    out = common.save_rows(name, rows, MODULE, argv, row_key, args.out_dir)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
