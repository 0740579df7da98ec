"""Audio benchmark: spoken-digit generation judged like the WaveGAN paper, speech denoising, the vocoder
against Griffin-Lim, voice conversion, and the judges themselves.

    python -m benchmarks.audio --quick                                        # smoke check, tiny budgets
    python -m benchmarks.audio --part generation --models specgan wavegan --budget 30 --threads 1
    python -m benchmarks.audio --part denoise --budget 30 --threads 1
    python -m benchmarks.audio --part vocoder --budget 30 --threads 1
    python -m benchmarks.audio --part voice --budget 30 --threads 1
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

Denoise: ``unet-mask`` trains at 8 kHz on FSDD's training takes of four speakers (``--extra-speech``: and on
the LJ Speech and VCTK clips of ``speech/``, five more voices; the row's ``extra_speech`` names them), with
mixtures made on the fly (white, pink, babble and the real background recordings of
``speech/noise-speechcommands`` but the one its ``test.txt`` holds out, SNR −5…20 dB); two speakers are held
out whole. The test set is the held-out speakers' test takes (0–4: 100 clips), each mixed with every noise
(the held-out recording for the real noise) at 0 dB and at 5 dB (``input_snr_db``), scored by
``genlab.evaluate``: ``si_sdr_improvement_db``, ``si_sdr``, ``pesq`` (narrow band), ``stoi``, for the model
and for spectral subtraction, the Wiener filter and the noisy input itself. ``rtf``: seconds of compute per
second of audio enhancing a 10 s mixture in one call (best of 3). ``--shifts S`` scores the model with ``S``
test-time shifts (the mean of ``S`` passes over shifted copies, :meth:`genlab.audio.enhancement.UNetMask.enhance`;
the row's ``shifts``, its ``rtf`` measured so too). ``--seen-speakers`` also scores the model
on the test takes of the four training speakers (rows with ``speakers_seen``): recordings it never trained
on, of voices it did — the difference to the held-out rows is what unheard voices cost. ``train_commit`` is
the code that trained the model (a finished run asked again only evaluates, at the row's ``commit``).

Vocoder: ``vocos`` trains on ``speech/ljspeech-mini`` at 16 kHz (a seeded tenth of its clips held out) and
resynthesises the held-out clips from their mel spectrograms, beside fast Griffin-Lim (32 and 64
iterations) from the same mels (the mel projection undone by non-negative least squares): ``lsd``
(log-spectral distance, dB), ``mel_l1``, ``pesq`` (wide band), ``stoi``; then the same on the ``test.txt``
clips of ``speech/vctk-4spk-mini`` (four speakers the vocoder never heard). ``rtf`` as above, mel → wave of
10 s.

Voice: ``vc-autoencoder`` trains on the FSDD training takes and converts FSDD test clips to each other
speaker; ``target_speaker_accuracy`` and ``source_speaker_accuracy`` (by the shipped speaker judge
``fsdd-speakers``) and ``content_accuracy`` (the digit judge), beside WORLD conversion, the unconverted
source and the model's vocoder alone.

Judges: the shipped classifiers' accuracy on the FSDD test split (``test_accuracy``).

Writes ``benchmarks/results/audio.json`` (``--quick``: ``audio-quick.json``); a row replaces the earlier
one of the same model, dataset, part and budget.
"""

from __future__ import annotations

import argparse
import functools
import json
import tempfile
from pathlib import Path
from typing import Any

import torch

import genlab
from benchmarks import common
from genlab.audio.data import FSDD_NAME, FSDD_TEST_TAKES

MODULE = "benchmarks.audio"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
NOISE = SHARED / "speech" / "noise-speechcommands"
LJSPEECH, VCTK = SHARED / "speech" / "ljspeech-mini", SHARED / "speech" / "vctk-4spk-mini"
RTF_SECONDS = 10.0
VOICE_METRICS = ("target_speaker_accuracy", "source_speaker_accuracy", "content_accuracy")


def row_key(r: dict[str, Any]) -> tuple:
    return (r["model"], r["dataset"], r.get("part"), r.get("budget_minutes"), str(r.get("overrides")),
            r.get("input_snr_db"), r.get("noise"), str(r.get("extra_speech")),
            bool(r.get("speakers_seen")), r.get("shifts") or 1)  # fmt: skip


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
            "model": model, **base, **train_row(res, args), "label_accuracy": m.get("label_accuracy"),
            "inception_score": m.get("is"),
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


def wave_rtf(fn, sample_rate: int, seconds: float = RTF_SECONDS) -> float:
    """Seconds of compute per second of audio of ``fn(wave)`` on ``seconds`` of speech-level noise (best of 3)."""
    wave = torch.randn(int(seconds * sample_rate), generator=torch.Generator().manual_seed(0)) * 0.05
    return round(common.best_time(lambda: fn(wave), repeats=3) / seconds, 4)


def train_row(res, args, rtf: float | None = None) -> dict[str, Any]:
    """Budget, minutes and steps of a training run (the run's own totals: a finished run asked again resumes to
    find its budget spent, and only evaluates), and the model's ``rtf`` when given."""
    row = {"budget_minutes": args.budget, "train_minutes": round(res.minutes, 2), "steps": res.steps}
    commit = json.loads(res.run.env_path.read_text()).get("git_commit")
    if commit:  # the code that trained; the row's "commit" is the code that evaluated
        row["train_commit"] = commit[:7]
    return row | ({"rtf": rtf} if rtf is not None else {})


def scored(result: dict[str, Any], model: str, fields: dict[str, Any]):
    """(name, metrics, row fields) of the evaluated model — ``fields``, its training fields — then of each
    baseline."""
    yield model, result["metrics"], fields
    for name, metrics in result.get("baselines", {}).items():
        yield name, metrics, {"budget_minutes": None}


def fsdd_recordings(folder: Path) -> list[tuple[Path, str, int]]:
    """(path, speaker, take) of every FSDD recording under ``folder/recordings``, sorted by name."""
    found = ((p, FSDD_NAME.fullmatch(p.stem)) for p in sorted((folder / "recordings").glob("*.wav")))
    return [(p, m["speaker"], int(m["take"])) for p, m in found if m]


def test_takes_of(speakers: list[str], folder: Path, runs_dir: Path) -> Path:
    """A folder (under ``runs_dir``) of links to the FSDD test takes (0–4) of ``speakers``."""
    out = Path(tempfile.mkdtemp(prefix="fsdd-test-takes-", dir=runs_dir))
    for path, speaker, take in fsdd_recordings(folder):
        if speaker in speakers and take < FSDD_TEST_TAKES:
            (out / path.name).symlink_to(path)
    return out


def fsdd_speakers(folder: Path) -> list[str]:
    """The speakers named by the FSDD recordings' file names, sorted."""
    return sorted({speaker for _, speaker, _ in fsdd_recordings(folder)})


def denoise_training_compute(res, model) -> dict[str, Any]:
    """What the denoiser's training made of the CPU: ``train_gflop_per_step`` — FLOPs of one training step
    (forward and backward, batch and segment of the run; counted by torch's ``FlopCounterMode``: convolutions
    and matrix products, not the STFTs, the elementwise work or the optimizer) — and, over the run's steps and
    minutes, the achieved ``model_gflops_per_s`` and ``mfu`` against the matmul peak measured now at the same
    threads: how close the training came to what this CPU can do."""
    from torch.utils.flop_counter import FlopCounterMode

    cfg = common.run_config(res.run.path)
    rate, batch = int(cfg["data"]["sample_rate"]), int(cfg["train"]["batch_size"])
    gen = torch.Generator().manual_seed(0)
    noisy, clean = (torch.randn(batch, int(round(cfg["data"]["segment_seconds"] * rate)), generator=gen) * 0.05
                    for _ in range(2))  # fmt: skip
    model.train()
    with FlopCounterMode(display=False) as counter:
        model.training_losses((noisy, clean))["loss"].backward()
    model.zero_grad(set_to_none=True)
    model.eval()
    flops = counter.get_total_flops()
    achieved = flops * res.steps / max(res.minutes * 60, 1e-9)
    return {"train_gflop_per_step": round(flops / 1e9, 2)} | common.mfu(achieved, common.matmul_peak_gflops())


def denoise_test(args, res, ref: Path, noises: list[str], fields: dict[str, Any], model_fields: dict[str, Any],
                 baselines: bool = True):  # fmt: skip
    """Rows of the model (and of the baselines) on the test takes in ``ref`` at every SNR, all noises together
    (the headline), then each alone; ``fields`` go into every row, ``model_fields`` into the model's."""
    rows = []
    for snr in args.snrs:
        for noise in ("all", *noises):
            chosen = noises if noise == "all" else [noise]
            result = genlab.evaluate(res.run.path, "si_sdr,si_sdr_improvement,pesq,stoi,snr", ref=str(ref),
                                     noise=chosen, snrs=[snr], n=args.n_test, shifts=args.shifts)  # fmt: skip
            if not baselines:
                result.pop("baselines", None)
            base = {"dataset": "fsdd", "part": "denoise", "input_snr_db": snr, "noise": Path(noise).name,
                    **fields, "n_mixtures": result["protocol"].get("n_mixtures")}  # fmt: skip
            for name, m, row_fields in scored(result, "unet-mask", model_fields):
                rows.append({"model": name, **base, "si_sdr_improvement_db": m.get("si_sdr_improvement"),
                             "si_sdr": m.get("si_sdr"), "pesq": m.get("pesq"), "stoi": m.get("stoi"),
                             "snr_db": m.get("snr"), **row_fields})  # fmt: skip
                print(f"denoise {snr:g} dB {Path(noise).name} {name} ({', '.join(fields['test_speakers'])}): "
                      f"SI-SDRi {m.get('si_sdr_improvement')}, PESQ {m.get('pesq')}, STOI {m.get('stoi')}",
                      flush=True)  # fmt: skip
    return rows


def denoise_rows(args, runs_dir: Path) -> list[dict[str, Any]]:
    fsdd = SHARED / "fsdd"
    noises = ["white", "pink", "babble", str(NOISE)]
    extra = [str(LJSPEECH / "wavs"), str(VCTK / "wavs")] if args.extra_speech else []
    data = {"data_dir": str(fsdd), "sample_rate": 8000, "noise": noises, "val_fraction": 0.34, "extra_speech": extra}
    overrides = list(args.overrides) + (["model.base_channels=4", "data.max_files=64"] if args.quick else [])
    res = genlab.train("audio-denoising", model="unet-mask", data="fsdd:train", name=f"unet-mask-{args.budget:g}m",
                       runs_dir=runs_dir, max_minutes=args.budget, progress=False, overrides=overrides,
                       data_options=data)  # fmt: skip
    held = json.loads((res.run.path / "data.json").read_text())["split"]["val_speakers"]
    pipe = genlab.load(res.run.path)
    enhance = functools.partial(pipe.model.enhance, shifts=args.shifts)
    model_fields = train_row(res, args, wave_rtf(enhance, pipe.model.sample_rate)) | {"shifts": args.shifts}
    model_fields |= denoise_training_compute(res, pipe.model)
    extra_field = {"extra_speech": [Path(e).parent.name for e in extra]} if extra else {}
    rows = denoise_test(args, res, test_takes_of(held, fsdd, runs_dir), noises, {"test_speakers": held, **extra_field},
                        model_fields)  # fmt: skip
    if args.seen_speakers:  # recordings never trained on, of the voices trained on: how much is the voices' share
        seen = [s for s in fsdd_speakers(fsdd) if s not in held]
        fields = {"test_speakers": seen, "speakers_seen": True, **extra_field}
        rows += denoise_test(
            args, res, test_takes_of(seen, fsdd, runs_dir), noises, fields, model_fields, baselines=False
        )
    return rows


def vocoder_rows(args, runs_dir: Path) -> list[dict[str, Any]]:
    overrides = list(args.overrides) + (["model.dim=16", "model.layers=1"] if args.quick else [])
    res = genlab.train("vocoder", model="vocos", data=str(LJSPEECH / "wavs"), name=f"vocos-{args.budget:g}m",
                       runs_dir=runs_dir, max_minutes=args.budget, progress=False, overrides=overrides)  # fmt: skip
    pipe = genlab.load(res.run.path)
    model = pipe.model
    rtf = wave_rtf(lambda w: model.vocode(model.mel(w)), model.sample_rate)
    rows = []
    for dataset in ("ljspeech-mini", "vctk-4spk-mini"):
        options = {"ref": str(test_list_folder(VCTK, runs_dir))} if dataset.startswith("vctk") else {}
        result = genlab.evaluate(res.run.path, "lsd,mel_l1,vocoder_pesq,vocoder_stoi", n=args.n_test, **options)
        base = {"dataset": dataset, "part": "vocoder", "n": result["protocol"].get("n_recordings")}
        for name, m, fields in scored(result, "vocos", train_row(res, args, rtf)):
            rows.append({"model": name.replace("_", "-"), **base, "lsd": m.get("lsd"), "mel_l1": m.get("mel_l1"),
                         "pesq": m.get("vocoder_pesq"), "stoi": m.get("vocoder_stoi"), **fields})  # fmt: skip
            print(f"vocoder {dataset} {name}: LSD {m.get('lsd')}, PESQ {m.get('vocoder_pesq')}", flush=True)
    return rows


def test_list_folder(root: Path, runs_dir: Path) -> Path:
    """A folder (under ``runs_dir``) of links to the recordings a speech folder's ``test.txt`` holds out."""
    out = Path(tempfile.mkdtemp(prefix=f"{root.name}-test-", dir=runs_dir))
    for name in (root / "test.txt").read_text().split():
        (out / f"{name}.wav").symlink_to(root / "wavs" / f"{name}.wav")
    return out


def voice_rows(args, runs_dir: Path) -> list[dict[str, Any]]:
    fsdd = SHARED / "fsdd"
    overrides = ["data.clip_seconds=1", *args.overrides] + (
        ["model.channels=8", "data.max_files=64"] if args.quick else []
    )
    res = genlab.train("voice-conversion", model="vc-autoencoder", data="fsdd:train", runs_dir=runs_dir,
                       name=f"vc-autoencoder-{args.budget:g}m", max_minutes=args.budget, progress=False,
                       overrides=overrides, data_options={"data_dir": str(fsdd)})  # fmt: skip
    result = genlab.evaluate(res.run.path, ",".join(VOICE_METRICS), n=args.n_test, data_dir=str(fsdd))
    base = {"dataset": "fsdd", "part": "voice", "n_conversions": result["protocol"].get("n_conversions")}
    rows = []
    for name, m, fields in scored(result, "vc-autoencoder", train_row(res, args)):
        rows.append({"model": name, **base, **{k: m.get(k) for k in VOICE_METRICS}, **fields})
        print(f"voice {name}: {rows[-1]}", flush=True)
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
    p.add_argument("--part", choices=("generation", "denoise", "vocoder", "voice", "judges", "all"), default="all")
    p.add_argument("--models", nargs="+", default=["specgan", "wavegan"], help="generation models")
    p.add_argument("--budget", type=float, default=30.0, help="training minutes per model")
    p.add_argument("--n", type=int, default=1000, help="generated clips scored per model")
    p.add_argument("--n-test", type=int, default=None, help="test utterances of denoise/vocoder/voice (default all)")
    p.add_argument("--snrs", type=float, nargs="+", default=[0.0, 5.0], help="input SNRs of the denoising test, dB")
    p.add_argument(
        "--extra-speech",
        action="store_true",
        help="denoise: train on the LJ Speech and VCTK clips too (more voices; the test is unchanged)",
    )
    p.add_argument(
        "--seen-speakers",
        action="store_true",
        help="denoise: also score the model on the test takes of its training speakers (rows with speakers_seen)",
    )
    p.add_argument("--shifts", type=int, default=1, help="denoise: test-time shifts of the model (1: one pass)")
    p.add_argument("--set", dest="overrides", action="append", default=[], help="config override for every run")
    args = p.parse_args(argv)
    if not (SHARED / "fsdd").is_dir():
        p.error(f"needs FSDD under {SHARED} (../shared/data beside the repository)")
    common.set_threads(args.threads)
    commit = common.git_commit()
    if args.quick:
        args.budget, args.n, args.n_test = 0.1, 40, 6
    rows = []
    with common.runs_folder(args.runs_dir) as runs_dir:
        if args.part in ("judges", "all"):
            rows += judge_rows(args)
        if args.part in ("generation", "all"):
            rows += generation_rows(args, runs_dir)
        if args.part in ("denoise", "all"):
            rows += denoise_rows(args, runs_dir)
        if args.part in ("vocoder", "all"):
            rows += vocoder_rows(args, runs_dir)
        if args.part in ("voice", "all"):
            rows += voice_rows(args, runs_dir)
    for r in rows:
        r |= {"threads": torch.get_num_threads(), "load_average": common.load_average(), "commit": commit}
        if r.get("budget_minutes"):
            r["overrides"] = list(args.overrides)
    name = "audio-quick" if args.quick else "audio"
    out = common.save_rows(name, rows, MODULE, argv, row_key, args.out_dir, quick=args.quick)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
