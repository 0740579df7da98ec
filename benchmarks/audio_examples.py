"""Listening examples for the audio benchmark page, made from the benchmark's own runs with genlab's pipelines.

    python -m benchmarks.audio_examples --generation RUN --denoise RUN --vocoder RUN --voice RUN --out docs/audio

Each part writes short WAVs and one spectrogram figure (``<part>.png``) into ``--out``:

* generation: one clip of each digit 0–9 (seed 0) of a class-conditional audio-generation run;
* denoise: three test takes (digits 4, 2, 7) of a speaker the run held out, joined into one phrase and mixed at
  0 dB with the real background recording the noise folder's ``test.txt`` holds out — noisy, enhanced,
  spectral subtraction, clean;
* vocoder: the first VCTK test clip (its first 3 s; a speaker the LJ Speech-trained vocoder never heard) —
  original, the trained vocoder, Griffin-Lim 32;
* voice: an FSDD test take converted to another speaker by the run, and by WORLD's ``--gender`` preset.

Nothing here is scored: the numbers are in ``benchmarks/results/audio.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

import genlab
from genlab.audio import io
from genlab.audio.enhancement.baselines import spectral_subtraction
from genlab.audio.plots import save_spectrogram_grid
from genlab.audio.signal_metrics import mix_at_snr
from genlab.audio.voice import VoicePipeline

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
FSDD = SHARED / "fsdd" / "recordings"
NOISE = SHARED / "speech" / "noise-speechcommands"
VCTK = SHARED / "speech" / "vctk-4spk-mini"


def save(out: Path, name: str, waves: dict[str, torch.Tensor], rate: int, ncols: int = 4) -> None:
    """``<name>-<key>.wav`` for each wave and ``<name>.png`` with their spectrograms."""
    for key, wave in waves.items():
        io.write_audio(out / f"{name}-{key}.wav", wave.clamp(-1, 1), rate)
    save_spectrogram_grid(list(waves.values()), rate, out / f"{name}.png", titles=list(waves), ncols=ncols,
                          n_fft=256 if rate <= 8000 else 512, hop_length=64 if rate <= 8000 else 128)  # fmt: skip
    print(f"wrote {name}: {', '.join(waves)}", flush=True)


def generation(run: Path, out: Path) -> None:
    pipe = genlab.load(run)
    clips = {str(d): pipe(n=1, label=str(d), seed=0).waves[0] for d in range(10)}
    save(out, f"generated-{pipe.model.registry_name.split('/')[-1]}", clips, pipe.model.config.sample_rate, ncols=5)


def denoise(run: Path, out: Path) -> None:
    pipe = genlab.load(run)
    rate = pipe.model.sample_rate
    speaker = json.loads((run / "data.json").read_text())["split"]["val_speakers"][0]
    gap = torch.zeros(int(0.15 * rate))
    clean = torch.cat([torch.cat([io.read_audio(FSDD / f"{d}_{speaker}_0.wav", rate)[0], gap]) for d in (4, 2, 7)])
    clean = io.normalize_rms(clean, -25.0)
    held_out = (NOISE / "test.txt").read_text().split()[0]
    noise, _ = io.read_audio(NOISE / "wavs" / f"{held_out}.wav", rate)
    noisy = mix_at_snr(clean, noise, 0.0, torch.Generator().manual_seed(0))
    enhanced = pipe(noisy, sample_rate=rate).wave
    waves = {"noisy": noisy, "enhanced": enhanced, "spectral-subtraction": spectral_subtraction(noisy, rate),
             "clean": clean}  # fmt: skip
    save(out, "denoise", waves, rate)


def vocoder(run: Path, out: Path) -> None:
    pipe = genlab.load(run)
    rate = pipe.model.sample_rate
    name = (VCTK / "test.txt").read_text().split()[0]
    original, _ = io.read_audio(VCTK / "wavs" / f"{name}.wav", rate, max_seconds=3.0)
    waves = {"original": original, "vocos": pipe(original, sample_rate=rate).wave,
             "griffin-lim-32": pipe(original, sample_rate=rate, griffin_lim=True, seed=0).wave}  # fmt: skip
    save(out, "vocoder", waves, rate, ncols=3)


def voice(run: Path, out: Path) -> None:
    pipe = genlab.load(run)
    source, target = "jackson", "theo"
    path = FSDD / f"3_{source}_0.wav"
    rate = pipe.model.config.sample_rate
    waves = {f"source-{source}": io.read_audio(path, rate)[0], f"to-{target}": pipe(path, to_speaker=target).wave,
             "world-female": VoicePipeline.without_run()(path, gender="female").wave}  # fmt: skip
    save(out, "voice", waves, rate, ncols=3)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.audio_examples", description=__doc__.split("\n\n")[0])
    for part in ("generation", "denoise", "vocoder", "voice"):
        p.add_argument(f"--{part}", type=Path, help=f"the {part} run")
    p.add_argument("--out", type=Path, default=Path("docs/audio"), help="folder of the WAVs and figures")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    for part, fn in (("generation", generation), ("denoise", denoise), ("vocoder", vocoder), ("voice", voice)):
        if getattr(args, part):
            fn(getattr(args, part), args.out)


if __name__ == "__main__":
    main()
