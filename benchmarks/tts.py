"""Text-to-speech benchmark: intelligibility, distortion and speed of genlab's voices on held-out sentences.

    python -m benchmarks.tts --quick                                                  # smoke check, tiny budgets
    python -m benchmarks.tts --language en --models fastspeech tacotron2 --minutes 45 --threads 1 \\
        --data-dir DATA --runs-dir RUNS                                               # trains what RUNS lacks
    python -m benchmarks.tts --language zh --models fastspeech --minutes 30 --threads 1 --data-dir DATA --runs-dir RUNS

For one language, on the built-in eSpeak NG corpus (``builtin:espeak-en`` / ``builtin:espeak-zh``; 2,850 / 2,786
training sentences, the fixed 5 % ``test`` split held out):

1. the recogniser ``asr-LANG`` (``genlab train asr --model ctc``, ``--asr-minutes``; English: character targets,
   Mandarin: phoneme targets with tones, whose ``cer`` is over the characters of the IPA string);
2. the vocoder ``vocos-LANG`` (``genlab train vocoder --model vocos`` on the training sentences' WAVs only,
   ``--vocoder-minutes``) — and, with ``--wavenet RUN``, a WaveNet vocoder run scored on ``--wavenet-n`` sentences
   (it generates sample by sample);
3. each acoustic model ``tts-LANG-MODEL`` (``genlab train tts``, ``--minutes``); a run already in ``--runs-dir``
   is reused, not retrained (its training minutes are read from the run).

With ``--aligned-vocoder-minutes M``, ``vocos-LANG`` is also fine-tuned for M minutes on each acoustic model's
ground-truth-aligned mels of its training sentences (``genlab train vocoder --mels-from``) and scored as the vocoder
``vocos-aligned``; ``--set model.KEY=VALUE`` trains the acoustic models with that override (their runs and rows say
so); ``--skip-scored`` leaves out the systems whose rows the results file already holds.

Then ``genlab.evaluate`` scores ``--n`` held-out sentences (seeded) for every acoustic model × vocoder (Griffin-Lim
and Vocos), with the ``reference`` recordings as baseline: ``cer`` (the recogniser on the speech), ``mcd_db`` and
``f0_rmse_hz`` against the reference (DTW), ``rtf`` on one thread (acoustic model + vocoder, and apart). eSpeak NG
*is* the reference voice of these corpora, so the ``espeak`` row is the ``reference`` row. A ``reference (vocoded)``
row per vocoder scores that vocoder on the reference mels themselves (copy synthesis): the part of a system's
``cer`` the vocoder and the mel representation account for, whatever the acoustic model. Tacotron rows add the
held-out attention ``diagonality``; the alignment plot, spectrograms and WAVs of two held-out sentences per system
go to ``docs/benchmarks/tts/``.

Rows: ``model`` (``reference``, ``espeak``, ``fastspeech``, ``tacotron2``), ``language``, ``vocoder``, ``cer``,
``mcd_db``, ``f0_rmse_hz``, ``rtf``, ``train_minutes``; ``benchmarks/results/tts.json`` (``--quick``:
``tts-quick.json``); the table in ``docs/benchmarks/tts.md`` is rendered from it (``--render-only``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from benchmarks import common

NAME = "tts"
PAGE = common.ROOT / "docs" / "benchmarks" / "tts.md"
MEDIA = common.ROOT / "docs" / "benchmarks" / "tts"
START, END = "<!-- tts-table:start -->", "<!-- tts-table:end -->"
KEY = ("model", "language", "vocoder", "dataset", "budget_minutes", "overrides")
ALIGNED = "vocos-aligned"  # the Vocos vocoder fine-tuned on an acoustic model's aligned mels
VOCODED = "reference (vocoded)"  # the row of a vocoder run on the reference mels (copy synthesis)
COLUMNS = ("cer", "mcd_db", "f0_rmse_hz", "vde", "rtf", "rtf_acoustic", "rtf_vocoder", "diagonality", "train_minutes",
           "n_sentences")  # fmt: skip


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tts", description=__doc__.split("\n\n")[0])
    common.add_common_arguments(parser, "tiny corpus and budgets: checks the benchmark runs end to end")
    parser.add_argument("--language", choices=("en", "zh"), default="en")
    parser.add_argument("--models", nargs="+", default=["fastspeech"], choices=("fastspeech", "tacotron2"))
    parser.add_argument("--minutes", type=float, default=30.0, help="training minutes of each acoustic model")
    parser.add_argument("--asr-minutes", type=float, default=20.0, help="training minutes of the recogniser")
    parser.add_argument("--vocoder-minutes", type=float, default=20.0, help="training minutes of the Vocos vocoder")
    parser.add_argument("--wavenet", default=None, help="a trained WaveNet vocoder run to score as well")
    parser.add_argument("--wavenet-n", type=int, default=4, help="sentences the WaveNet vocoder speaks")
    parser.add_argument("--batch-size", type=int, default=16, help="batch size of the acoustic models")
    parser.add_argument("--n", type=int, default=50, help="held-out sentences scored (seeded choice)")
    parser.add_argument("--data-dir", default=None, help="folder of the built-in corpora (default: genlab's)")
    parser.add_argument("--no-vocos", action="store_true", help="score Griffin-Lim only")
    parser.add_argument("--vocos", default=None, help="a trained Vocos run to use instead of vocos-LANG (another "
                        "language's vocoder, say)")  # fmt: skip
    parser.add_argument("--finetune-data", default=None, help="a folder of one real speaker (../shared/data/speech/"
                        "ljspeech-mini): fine-tune each model on it and score its held-out clips")  # fmt: skip
    parser.add_argument("--finetune-minutes", type=float, default=10.0, help="minutes of fine-tuning")
    parser.add_argument("--aligned-vocoder-minutes", type=float, default=0.0, help="also fine-tune the Vocos "
                        "vocoder this long on each acoustic model's aligned mels (--mels-from); scored")  # fmt: skip
    parser.add_argument("--skip-scored", action="store_true", help="do not score again the systems whose rows the "
                        "results file (--out-dir) holds: an extended run scores only what is new")  # fmt: skip
    parser.add_argument("--only-finetune", action="store_true", help="skip the corpus rows (the models exist)")
    parser.add_argument("--render-only", action="store_true", help="only rewrite the table of docs/benchmarks/tts.md")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="config override of the acoustic models (model.postnet_layers=5)")  # fmt: skip
    return parser.parse_args(argv)


def _trained(runs: Path, task: str, name: str, train: dict[str, Any]) -> tuple[Path, float]:
    """The run ``runs/task/name``: reused when finished, else trained with ``train`` (genlab.train's arguments);
    returns its path and training minutes."""
    import genlab

    path = runs / task / name
    if not (path / "model" / "config.json").is_file():
        genlab.train(task, name=name, runs_dir=runs, progress=False, **train)
    status = json.loads((path / "status.json").read_text(encoding="utf-8")) if (path / "status.json").is_file() else {}
    minutes = status.get("minutes")
    return path, round(float(minutes), 1) if minutes is not None else None


def _row(model: str, language: str, vocoder: str, result: dict[str, Any], **extra: Any) -> dict[str, Any]:
    metrics = result.get("metrics", result)
    row = {"model": model, "language": language, "vocoder": vocoder}
    row |= {k: (round(v, 4) if isinstance(v, float) else v) for k, v in metrics.items() if k in COLUMNS}
    return row | extra


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    import genlab

    lang, quick = args.language, args.quick
    corpus = f"builtin:espeak-{lang}"
    n_sentences = 60 if quick else None
    data = {"data_dir": args.data_dir, "n_sentences": n_sentences}
    minutes = 0.3 if quick else args.minutes
    dataset = f"{corpus} (test split)"
    common.set_threads(args.threads)
    rows: list[dict[str, Any]] = []
    with common.runs_folder(args.runs_dir) as runs:
        asr, _ = _trained(runs, "asr", f"asr-{lang}", {
            "model": "ctc", "data": corpus, "max_minutes": 0.3 if quick else args.asr_minutes, "threads": args.threads,
            "data_options": data, "model_options": {"targets": "chars" if lang == "en" else "phonemes"}})  # fmt: skip
        vocoders: dict[str, str | None] = {"griffin-lim": "griffin-lim"}
        if args.vocos:
            vocoders[f"vocos ({Path(args.vocos).name})"] = args.vocos
        elif not args.no_vocos:
            folder = _vocoder_folder(lang, args.data_dir, runs)
            vocos, _ = _trained(runs, "vocoder", f"vocos-{lang}", {
                "model": "vocos", "data": str(folder), "max_minutes": 0.3 if quick else args.vocoder_minutes,
                "threads": args.threads})  # fmt: skip
            vocoders["vocos"] = str(vocos)
        for model in args.models:
            tts, train_minutes = _trained(runs, "tts", f"tts-{lang}-{model}{_suffix(args)}", {
                "model": model, "data": corpus, "max_minutes": minutes, "threads": args.threads,
                "batch_size": args.batch_size, "grad_clip": 1.0, "data_options": data,
                "overrides": args.overrides})  # fmt: skip
            extra = {
                "dataset": dataset,
                "budget_minutes": None if quick else args.minutes,
                "train_minutes": train_minutes,
                **({"overrides": args.overrides} if args.overrides else {}),
            }
            diag = _diagonality(tts, args) if model == "tacotron2" and not args.only_finetune else None
            voices = dict(vocoders)
            base = args.vocos or vocoders.get("vocos")
            if args.aligned_vocoder_minutes and base and not args.only_finetune:
                tuned, _ = _trained(runs, "vocoder", f"vocos-{lang}-{model}{_suffix(args)}-aligned", {
                    "model": "vocos", "data": corpus, "max_minutes": 0.3 if quick else args.aligned_vocoder_minutes,
                    "threads": args.threads, "init_from": base,
                    "data_options": {"mels_from": str(tts), "data_dir": args.data_dir}})  # fmt: skip
                voices[ALIGNED] = str(tuned)
            done = _scored(args) if args.skip_scored else set()
            for name, vocoder in voices.items() if not args.only_finetune else ():
                if (model, lang, name, extra["budget_minutes"], tuple(args.overrides)) in done:
                    continue
                first = not any(r["model"] == "reference" for r in rows)
                vocoded = not any(r["model"] == VOCODED and r["vocoder"] == name for r in rows)
                result = genlab.evaluate(tts, ["cer", "mcd", "f0_rmse", "rtf"], save=False, asr=str(asr),
                                         vocoder=vocoder, n=args.n, data_dir=args.data_dir,
                                         baselines=first or vocoded)  # fmt: skip
                if first:  # the reference recordings, once: the recogniser's floor
                    ref = result["baselines"]["reference"]
                    rows.append(_row("reference", lang, "–", {"cer": ref["cer"]}, dataset=dataset,
                                     budget_minutes=None, n_sentences=args.n))  # fmt: skip
                    rows.append({**rows[-1], "model": "espeak", "note": "the corpus is eSpeak NG: same recordings"})
                if vocoded:  # each vocoder on the reference mels, once: what a perfect acoustic model would give
                    rows.append(_row(VOCODED, lang, name, result["baselines"]["vocoded"], dataset=dataset,
                                     budget_minutes=None, n_sentences=args.n))  # fmt: skip
                note = {"note": f"Vocos fine-tuned {args.aligned_vocoder_minutes:g} min on the model's aligned mels "
                        "(genlab train vocoder --mels-from)"} if name == ALIGNED else {}  # fmt: skip
                rows.append(_row(model, lang, name, result, diagonality=diag, n_sentences=args.n, **extra, **note))
                _media(tts, vocoder, "-".join([lang, model, *args.overrides, name]), args)
            if args.finetune_data:
                rows += _finetuned(runs, tts, model, vocoders, asr, args)
            if args.wavenet:
                result = genlab.evaluate(tts, ["cer", "mcd", "f0_rmse", "rtf"], save=False, asr=str(asr),
                                         vocoder=args.wavenet, n=args.wavenet_n, data_dir=args.data_dir,
                                         baselines=False)  # fmt: skip
                rows.append(_row(model, lang, "wavenet", result, n_sentences=args.wavenet_n, **extra))
    return rows


def _finetuned(runs: Path, base: Path, model: str, vocoders: dict[str, str | None], asr: Path,
               args: argparse.Namespace) -> list[dict[str, Any]]:  # fmt: skip
    """The base voice and its copy fine-tuned on a real speaker (``--finetune-data``, a folder in the layout of
    ``../shared/data/speech``: ``metadata.csv`` + ``wavs/`` + ``test.txt``), both scored on the held-out clips of
    ``test.txt``, beside the recordings themselves and eSpeak NG reading them."""
    import genlab

    folder = Path(args.finetune_data)
    train, test = _split_folder(folder, runs / f"finetune-{folder.name}")
    tuned, minutes = _trained(runs, "tts", f"tts-{args.language}-{model}-{folder.name}", {
        "model": model, "data": str(train), "max_minutes": 0.3 if args.quick else args.finetune_minutes,
        "threads": args.threads, "batch_size": 8, "grad_clip": 1.0, "init_from": str(base),
        "data_options": {"val_fraction": 0.0}})  # fmt: skip
    n_test = len([line for line in (test / "metadata.csv").read_text(encoding="utf-8").splitlines() if line])
    scored = {"dataset": f"{folder.name} (test.txt)", "n_sentences": min(n_test, args.n)}
    budget = None if args.quick else args.finetune_minutes
    rows: list[dict[str, Any]] = []
    for name, vocoder in vocoders.items():
        options = {"save": False, "asr": str(asr), "vocoder": vocoder, "ref": str(test), "n": args.n}
        result = genlab.evaluate(tuned, ["cer", "mcd", "f0_rmse", "rtf"], baselines=not rows, **options)
        if not rows:
            ref, espeak = result["baselines"]["reference"], result["baselines"]["espeak"]
            rows.append(_row("reference", args.language, "–", {"cer": ref["cer"]}, budget_minutes=None, **scored))
            rows.append(_row("espeak", args.language, "–", espeak, budget_minutes=None, **scored))
        before = genlab.evaluate(base, ["cer", "mcd", "f0_rmse", "rtf"], baselines=False, **options)
        rows.append(_row(model, args.language, name, before, budget_minutes=None,
                         note="the eSpeak-trained voice before fine-tuning", **scored))  # fmt: skip
        rows.append(_row(f"{model} fine-tuned", args.language, name, result, budget_minutes=budget,
                         train_minutes=minutes, **scored))  # fmt: skip
        _media(tuned, vocoder, f"{args.language}-{model}-finetuned-{name}", args)
    return rows


def _split_folder(folder: Path, out: Path) -> tuple[Path, Path]:
    """``out/train`` and ``out/test``: links to the clips of ``folder`` outside and inside its ``test.txt``, each
    with its own ``metadata.csv``."""
    held_out = set((folder / "test.txt").read_text(encoding="utf-8").split())
    lines = [line for line in (folder / "metadata.csv").read_text(encoding="utf-8").splitlines() if line.strip()]
    for part, keep in (("train", lambda i: i not in held_out), ("test", lambda i: i in held_out)):
        (out / part / "wavs").mkdir(parents=True, exist_ok=True)
        chosen = [line for line in lines if keep(line.split("|", 1)[0])]
        for line in chosen:
            clip = line.split("|", 1)[0]
            link = out / part / "wavs" / f"{clip}.wav"
            if not link.exists():
                link.symlink_to((folder / "wavs" / f"{clip}.wav").resolve())
        (out / part / "metadata.csv").write_text("\n".join(chosen) + "\n", encoding="utf-8")
    return out / "train", out / "test"


def _scored(args: argparse.Namespace) -> set[tuple]:
    """(model, language, vocoder, budget, overrides) of the systems the results file already holds."""
    path = common.results_path(f"{NAME}-quick" if args.quick else NAME, args.out_dir)
    rows = json.loads(path.read_text(encoding="utf-8"))["results"] if path.is_file() else []
    return {(r["model"], r["language"], r["vocoder"], r.get("budget_minutes"), tuple(r.get("overrides") or ()))
            for r in rows}  # fmt: skip


def _suffix(args: argparse.Namespace) -> str:
    """Run-name suffix of acoustic models trained with ``--set`` overrides (so they do not reuse the plain run)."""
    return "".join(f"-{o.split('.')[-1].replace('=', '')}" for o in args.overrides)


def _vocoder_folder(lang: str, data_dir: str | None, runs: Path) -> Path:
    """A folder of links to the corpus's training-split WAVs (the vocoder never hears a test sentence)."""
    from genlab.speech.corpus import load_corpus

    rows = load_corpus(lang, "train", data_dir)
    folder = runs / f"vocoder-data-{lang}"
    folder.mkdir(parents=True, exist_ok=True)
    for row in rows:
        link = folder / Path(row.wav).name
        if not link.exists():
            link.symlink_to(Path(row.wav).resolve())
    return folder


def _diagonality(tts: Path, args: argparse.Namespace) -> float | None:
    """Mean attention diagonality of the Tacotron on held-out sentences (teacher forced), and the alignment plot."""
    import torch

    from genlab.core.model import GenerativeModel
    from genlab.speech.tts.data import TTSDataConfig, load_tts_data
    from genlab.speech.tts.plots import save_alignment_plot
    from genlab.speech.tts.tacotron2 import diagonality

    model = GenerativeModel.from_pretrained(tts / "model")
    cfg = TTSDataConfig.build({"source": f"builtin:espeak-{args.language}", "data_dir": args.data_dir,
                               "n_sentences": 60 if args.quick else None}, where="bench")  # fmt: skip
    test = load_tts_data(cfg, "test", model.vocabulary)[0]
    n = min(len(test), 16)
    batch = [torch.stack([torch.as_tensor(test[i][k]) for i in range(n)]) for k in range(6)]
    with torch.no_grad():
        attn = model.alignment(*batch[:5])
    score = float(diagonality(attn, batch[1], batch[3], r=model.config.r))
    MEDIA.mkdir(parents=True, exist_ok=True)
    steps = [(int(batch[3][i]) + model.config.r - 1) // model.config.r for i in range(2)]
    save_alignment_plot([attn[i, : steps[i], : int(batch[1][i])] for i in range(2)],
                        MEDIA / f"alignment-{args.language}.png", [test.texts[i][:40] for i in range(2)])  # fmt: skip
    return round(score, 4)


def _media(tts: Path, vocoder: str | None, stem: str, args: argparse.Namespace) -> None:
    """Two held-out sentences spoken by the system: a WAV each and their spectrograms."""
    if args.quick:
        return
    import genlab
    from genlab.audio.plots import save_spectrogram_grid
    from genlab.speech.corpus import load_corpus

    texts = [r.text for r in load_corpus(args.language, "test", args.data_dir)[:2]]
    pipe = genlab.load(tts)
    MEDIA.mkdir(parents=True, exist_ok=True)
    waves = []
    for k, text in enumerate(texts):
        out = pipe(text, vocoder=vocoder, seed=0)
        out.save(MEDIA / f"{stem}-{k}.wav")
        waves.append(out.wave)
    save_spectrogram_grid(waves, out.sample_rate, MEDIA / f"{stem}.png", [t[:40] for t in texts], ncols=2)


def render(rows: list[dict[str, Any]]) -> None:
    lead = {"model": _label, "language": lambda r: r["language"], "data": lambda r: r["dataset"],
            "vocoder": lambda r: r["vocoder"]}  # fmt: skip
    lines = common.markdown_table(rows, lead, COLUMNS)
    common.replace_between(PAGE, START, END, lines)


def _label(row: dict[str, Any]) -> str:
    """The model column: the model, and the overrides it was trained with."""
    return row["model"] + (f" ({', '.join(row['overrides'])})" if row.get("overrides") else "")


def row_key(row: dict[str, Any]) -> tuple:
    """What makes a row the same measurement again (a re-run replaces it)."""
    return tuple(tuple(v) if isinstance(v := row.get(k), list) else v for k in KEY)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    name = f"{NAME}-quick" if args.quick else NAME
    if not args.render_only:
        rows = run(args)
        common.save_rows(name, rows, "benchmarks.tts", argv, key=row_key,
                         out_dir=args.out_dir)  # fmt: skip
    path = common.results_path(name, args.out_dir)
    if not args.quick and path.is_file() and PAGE.is_file():
        render(json.loads(path.read_text(encoding="utf-8"))["results"])


if __name__ == "__main__":
    main()
