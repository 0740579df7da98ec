"""Evaluation of speech enhancers: SI-SDR, its improvement, PESQ, STOI and SNR on seeded test mixtures.

The test set is made, not drawn: every clean utterance (cut to its first ``max_seconds`` and brought to
−25 dBFS RMS) is mixed with a noise of every kind at every input SNR of ``snrs`` (default 0 and 5 dB), with
a generator seeded by ``seed``, exactly as in training (:func:`~genlab.audio.signal_metrics.mix_at_snr`: the
noise scaled so that ``10·log10(P_speech / P_noise)`` over the utterance is the SNR; both scaled down together
if the mixture's peak would exceed 0.99). The model enhances each whole mixture at its own rate, in one pass
or averaging ``shifts`` shifted passes (:meth:`~genlab.audio.enhancement.unet.UNetMask.enhance`).

* Clean speech: ``ref`` (a folder, an audio file or a dataset such as ``fsdd:test``), else the utterances
  held out when the model was trained (recorded with the model), at most ``n`` of them.
* Noises: ``noise`` (white, pink, babble, folders), else those the model was trained with. A folder recorded
  at training contributes its held-out part (its ``test.txt`` recordings, or the end of each recording); a
  folder given here contributes its ``test.txt`` recordings when it has that list, else all of its recordings.
  Babble sums other utterances of the test set (none left with a single utterance: babble is then skipped,
  and the protocol says so).

Metrics, means over the mixtures (each reads the enhanced waves and the clean ones; all are also computed
for the baselines: the noisy input itself, spectral subtraction and the Wiener filter of :mod:`.baselines`):

* ``si_sdr`` — scale-invariant SDR in dB (Le Roux et al. 2019); ``si_sdr_improvement`` — its gain over the
  noisy input's SI-SDR (0 for the noisy input by definition);
* ``pesq`` — PESQ MOS-LQO (ITU-T P.862.2 wide band at 16 kHz, P.862 narrow band below), through ``pesq``;
* ``stoi`` — STOI (Taal et al. 2011) from 0 to 1, through ``pystoi``;
* ``snr`` — ``10·log10(‖s‖² / ‖s − ŝ‖²)`` in dB: unlike SI-SDR it also counts a wrong output level.

The protocol records the test set (sources, utterances, noises and their held-out files, SNRs, seed, cut),
the shifts, the metric settings and the baselines' parameters, so the numbers can be made again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from pydantic import Field, field_validator

from genlab.__about__ import __version__
from genlab.audio import io
from genlab.audio.enhancement import baselines as classical
from genlab.audio.enhancement.data import (
    PEAK,
    EnhancementDataConfig,
    Speech,
    load_speech,
    read_speech_files,
    split_names,
)
from genlab.audio.enhancement.noise import (
    BABBLE,
    SYNTHETIC,
    NoiseRecordings,
    NoiseSet,
    check_noise_names,
    load_noise_folder,
)
from genlab.audio.enhancement.unet import MAX_SHIFTS, TASK
from genlab.audio.loading import parse_source
from genlab.audio.signal_metrics import mix_at_snr, pesq_score, si_sdr, snr_db, stoi_score
from genlab.core.config import Config
from genlab.core.errors import BadInputError, DataError
from genlab.core.evaluation import EvalContext, register_metric, weights_field
from genlab.core.registry import DATASETS

TEST_LEVEL_DB = -25.0  # clean utterances are brought to this RMS level before mixing


class EnhancementEvalRequest(Config):
    """Options of ``genlab eval`` for speech enhancers (module docstring)."""

    ref: str | None = Field(
        None, description="clean speech to test on: a folder, an audio file or a dataset (fsdd:test) "
        "(default: the utterances held out when the model was trained)",
    )  # fmt: skip
    noise: list[str] | None = Field(
        None, description="noises: white, pink, babble or a folder of recordings; repeat for several "
        "(default: the model's training noises, folders by their held-out part)",
    )  # fmt: skip
    snrs: list[float] = Field(
        [0.0, 5.0], min_length=1, description="input SNRs of the test mixtures, dB; repeat for several"
    )
    n: int | None = Field(None, ge=1, description="test on at most this many clean utterances")
    max_seconds: float = Field(10.0, gt=0.5, le=600, description="each clean utterance is cut to its first max_seconds")
    data_dir: str | None = Field(None, description="folder of standard datasets")
    seed: int = Field(0, description="seed of the noises and of the choice of utterances")
    shifts: int = Field(
        1, ge=1, le=MAX_SHIFTS, description="test-time shifts: the model's output is the mean of this many passes "
        "over shifted copies of each mixture (UNetMask.enhance)",
    )  # fmt: skip

    @field_validator("noise", "snrs", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return split_names(value)

    @field_validator("snrs")
    @classmethod
    def _snr_range(cls, value: list[float]) -> list[float]:
        if any(not -30 <= v <= 60 for v in value):
            raise ValueError(f"test SNRs must lie within -30…60 dB, got {value}")
        return value


@dataclass
class Mixture:
    """One test mixture: noisy and clean waves (samples,) at the model's rate, and how it was made."""

    noisy: torch.Tensor
    clean: torch.Tensor
    snr: float
    noise: str
    utterance: str


@dataclass
class TestSet:
    """The mixtures every context is scored on, with what the protocol records of them."""

    source: str
    sample_rate: int
    mixtures: list[Mixture]
    utterances: list[str]
    noises: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    input_si_sdr: list[float] = field(default_factory=list)  # of the noisy inputs, computed once

    def protocol(self) -> dict[str, Any]:
        out = {
            "reference": self.source, "n_utterances": len(self.utterances), "utterances": self.utterances,
            "n_mixtures": len(self.mixtures), "noises": self.noises, "sample_rate": self.sample_rate,
            "mixing": f"clean at {TEST_LEVEL_DB:g} dBFS RMS + noise scaled to the SNR over the utterance; "
            f"both scaled down together if the peak exceeds {PEAK}",
        }  # fmt: skip
        return out | ({"notes": self.notes} if self.notes else {})


# --------------------------------------------------------------------------- the test set


def _recorded(model) -> dict[str, Any]:
    return model.provenance.data or {}


def _reference_speech(ctx: EvalContext) -> tuple[Speech, str]:
    """The clean utterances (``ref`` or the held-out ones recorded with the model) and where they come from."""
    model, request = ctx.model, ctx.request
    rate = model.config.sample_rate
    data = _recorded(model)
    data_dir = request.data_dir or (data.get("config") or {}).get("data_dir")
    if request.ref:
        path = Path(request.ref).expanduser()
        if path.is_file():
            return read_speech_files([path], rate, request.ref), request.ref
        cfg = EnhancementDataConfig.build({"source": request.ref, "sample_rate": rate, "data_dir": data_dir,
                                           "max_minutes": 1200}, "eval")  # fmt: skip
        return load_speech(cfg), request.ref
    ids, source = data.get("val_files") or [], data.get("source")
    if not ids or not source:
        raise BadInputError(
            "no test speech: the model records no held-out utterances",
            "pass --ref with clean speech the model has not heard (a folder, a file or a dataset such as fsdd:test)",
        )
    name, _ = parse_source(source)
    if name in DATASETS:
        cfg = EnhancementDataConfig.build({"source": source, "sample_rate": rate, "data_dir": data_dir,
                                           "max_minutes": 1200}, "eval")  # fmt: skip
        speech = load_speech(cfg)
        wanted = set(ids)
        keep = [i for i, clip in enumerate(speech.ids) if clip in wanted]
        if not keep:
            raise DataError(f"none of the held-out clips of {source} were found again", "pass --ref")
        speech = speech.subset(keep)
    else:
        speech = read_speech_files(ids, rate, source)
    return speech, f"held-out utterances of {source} ({(data.get('split') or {}).get('method', '?')} split)"


def _test_noises(ctx: EvalContext) -> tuple[list[str], dict[str, NoiseRecordings], list[dict]]:
    """(noise names, folder recordings by name, protocol entries) of ``noise`` or of the model's training."""
    model, request = ctx.model, ctx.request
    rate = model.config.sample_rate
    folders: dict[str, NoiseRecordings] = {}
    entries: list[dict[str, Any]] = []
    if request.noise:
        names = check_noise_names(request.noise)
        for name in names:
            if name in (*SYNTHETIC, BABBLE):
                entries.append({"kind": name})
                continue
            loaded = load_noise_folder(name, rate, held_out_fraction=0.0)  # without test.txt: every recording, whole
            folders[name] = loaded.held_out
            part = "test.txt" if loaded.split == "test.txt" else "all recordings"
            entries.append({"kind": "folder", "source": name, "recordings": loaded.held_out.names, "part": part})
    else:
        recorded = _recorded(model).get("noise") or [{"kind": k} for k in ("white", "pink", BABBLE)]
        names = []
        for entry in recorded:
            if entry["kind"] != "folder":
                names.append(entry["kind"])
                entries.append({"kind": entry["kind"]})
                continue
            fraction = (_recorded(model).get("config") or {}).get("val_fraction") or 0.1
            loaded = load_noise_folder(entry["source"], rate, fraction)
            names.append(entry["source"])
            folders[entry["source"]] = loaded.held_out
            part = "test.txt" if loaded.split == "test.txt" else f"last {fraction:g} of each recording"
            entries.append({"kind": "folder", "source": entry["source"], "recordings": loaded.held_out.names,
                            "part": f"held out at training: {part}"})  # fmt: skip
    return names, folders, entries


def load_test_set(ctx: EvalContext) -> TestSet:
    """The seeded test mixtures of the module docstring."""
    model, request = ctx.model, ctx.request
    rate = model.config.sample_rate
    speech, source = _reference_speech(ctx)
    gen = torch.Generator().manual_seed(request.seed)
    if request.n is not None and request.n < len(speech):
        speech = speech.subset(sorted(torch.randperm(len(speech), generator=gen)[: request.n].tolist()))
    limit = int(request.max_seconds * rate)
    waves = [w[:limit] for w in speech.waves]
    waves = [w * 10 ** ((TEST_LEVEL_DB - io.rms_db(w)) / 20) for w in waves]
    names, folders, entries = _test_noises(ctx)
    notes = []
    if BABBLE in names and len(waves) < 2:
        names = [n for n in names if n != BABBLE]
        entries = [e for e in entries if e["kind"] != BABBLE]
        notes.append("babble skipped: it needs at least two test utterances")
    if not names:
        raise BadInputError("no noise left to test with", "pass --noise white (or pink, or a folder)")
    noises = NoiseSet(names, waves, speech.speakers, folders)
    mixtures = []
    for i, clean in enumerate(waves):
        for kind in names:
            for snr in request.snrs:
                noisy = mix_at_snr(clean, noises.draw(kind, clean.shape[-1], i, gen), snr, gen)
                peak = float(noisy.abs().max())
                scale = PEAK / peak if peak > PEAK else 1.0
                mixtures.append(Mixture((noisy * scale).float(), (clean * scale).float(), snr,
                                        noises.kind_name(kind), Path(speech.ids[i]).name))  # fmt: skip
    test = TestSet(source, rate, mixtures, [Path(i).name for i in speech.ids], entries, notes)
    test.input_si_sdr = [si_sdr(m.noisy, m.clean) for m in mixtures]
    return test


def enhanced(ctx: EvalContext) -> list[torch.Tensor]:
    """The model's enhancement of every test mixture (whole, at the model's rate)."""
    shifts = ctx.request.shifts
    return [ctx.model.enhance(m.noisy, shifts=shifts) for m in ctx.reference.mixtures]


def model_context(task, model, request: EnhancementEvalRequest) -> EvalContext:
    return EvalContext(model, task, request, draw_samples=enhanced, load_reference=load_test_set)


def model_protocol(ctx: EvalContext) -> dict[str, Any]:
    request = ctx.request
    protocol = {
        **ctx.reference.protocol(), "snrs": list(request.snrs), "seed": request.seed,
        "max_seconds": request.max_seconds, "model": ctx.model.registry_name, "shifts": request.shifts,
    }  # fmt: skip
    protocol |= weights_field(ctx.model)
    return protocol | {"genlab_version": __version__}


BASELINE_SETTINGS = {
    "spectral_subtraction": "power subtraction, alpha 2, floor beta 0.01, noise PSD of the quietest 10% of frames, "
    "32 ms Hann window, 8 ms hop",
    "wiener": "decision-directed a-priori SNR, a 0.98, xi floor -25 dB, noise PSD of the quietest 10% of frames, "
    "32 ms Hann window, 8 ms hop",
}


def baselines(ctx: EvalContext) -> dict[str, EvalContext]:
    """The noisy input itself, spectral subtraction and the Wiener filter, on the same mixtures."""
    test = ctx.reference
    out = {"noisy_input": ctx.derive("noisy_input", samples=[m.noisy for m in test.mixtures],
                                     protocol={"baseline_noisy_input": "the mixture, unprocessed"})}  # fmt: skip
    for name, fn in classical.BASELINES.items():
        samples = [fn(m.noisy, test.sample_rate) for m in test.mixtures]
        out[name] = ctx.derive(name, samples=samples, protocol={f"baseline_{name}": BASELINE_SETTINGS[name]})
    return out


# --------------------------------------------------------------------------- metrics


def _pairs(ctx: EvalContext):
    return zip(ctx.samples, ctx.reference.mixtures, strict=True)


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 4)


def _si_sdr(ctx: EvalContext) -> list[float]:
    return ctx.cached("si_sdr_values", lambda: [si_sdr(est, m.clean) for est, m in _pairs(ctx)])


@register_metric(
    "audio/si_sdr",
    task=TASK,
    outputs=("si_sdr",),
    needs=("samples", "reference"),
    default=True,
    on_baselines=True,
    protocol=lambda ctx: {"si_sdr": "zero-mean SI-SDR (Le Roux et al. 2019), dB"},
)
def si_sdr_metric(ctx: EvalContext) -> dict[str, float]:
    """Scale-invariant SDR of the enhanced speech (dB, mean over the test mixtures; higher is better)."""
    return {"si_sdr": _mean(_si_sdr(ctx))}


@register_metric(
    "audio/si_sdr_improvement",
    task=TASK,
    outputs=("si_sdr_improvement",),
    needs=("samples", "reference"),
    default=True,
    on_baselines=True,
    protocol=lambda ctx: {"si_sdr_improvement": "SI-SDR of the output minus that of the noisy input"},
)
def si_sdr_improvement(ctx: EvalContext) -> dict[str, float]:
    """SI-SDR gained over the noisy input (dB, mean over the test mixtures; 0 for the input itself)."""
    gains = [out - before for out, before in zip(_si_sdr(ctx), ctx.reference.input_si_sdr, strict=True)]
    return {"si_sdr_improvement": _mean(gains)}


def _scored(ctx: EvalContext, name: str, score) -> float:
    """Mean of ``score(estimate, clean, rate)`` over the mixtures it can score; the others (PESQ finds no
    utterance, too little speech for STOI) are left out and counted in ``ctx.cache[name + "_skipped"]``."""
    rate, values, skipped = ctx.reference.sample_rate, [], 0
    for est, m in _pairs(ctx):
        try:
            values.append(score(est, m.clean, rate))
        except BadInputError:
            skipped += 1
    if not values:
        raise BadInputError(
            f"{name.upper()} could score none of the {skipped} test mixtures (too short or no speech found)",
            "test on longer utterances (--ref, --max-seconds)",
        )
    ctx.cache[f"{name}_skipped"] = skipped
    return _mean(values)


def _skipped(ctx: EvalContext, name: str) -> dict[str, Any]:
    """The count of mixtures a metric left out, when any (recorded for the model's context)."""
    count = ctx.cache.get(f"{name}_skipped")
    return {f"{name}_skipped_mixtures": count} if count else {}


def _pesq_protocol(ctx: EvalContext) -> dict[str, Any]:
    rate = ctx.reference.sample_rate
    mode = "wide band (ITU-T P.862.2) at 16 kHz" if rate >= 16000 else "narrow band (ITU-T P.862) at 8 kHz"
    return {"pesq": f"{mode}, pesq package; other rates resampled; mixtures it cannot score left out"} | _skipped(
        ctx, "pesq"
    )


@register_metric(
    "audio/pesq",
    task=TASK,
    outputs=("pesq",),
    needs=("samples", "reference"),
    default=True,
    on_baselines=True,
    protocol=_pesq_protocol,
)
def pesq_metric(ctx: EvalContext) -> dict[str, float]:
    """PESQ of the enhanced speech (MOS-LQO, about 1 to 4.6; mean over the test mixtures)."""
    return {"pesq": _scored(ctx, "pesq", pesq_score)}


@register_metric(
    "audio/stoi",
    task=TASK,
    outputs=("stoi",),
    needs=("samples", "reference"),
    default=True,
    on_baselines=True,
    protocol=lambda ctx: (
        {"stoi": "STOI (Taal et al. 2011), pystoi, 0 to 1; mixtures with under 0.4 s of speech left out"}
        | _skipped(ctx, "stoi")
    ),  # fmt: skip
)
def stoi_metric(ctx: EvalContext) -> dict[str, float]:
    """STOI intelligibility of the enhanced speech (0 to 1; mean over the test mixtures)."""
    return {"stoi": _scored(ctx, "stoi", stoi_score)}


@register_metric(
    "audio/snr",
    task=TASK,
    outputs=("snr",),
    needs=("samples", "reference"),
    default=True,
    on_baselines=True,
    protocol=lambda ctx: {"snr": "10·log10(‖s‖² / ‖s − ŝ‖²), dB"},
)
def snr_metric(ctx: EvalContext) -> dict[str, float]:
    """SNR of the enhanced speech against the clean speech (dB, mean over the test mixtures)."""
    return {"snr": _mean([snr_db(est, m.clean) for est, m in _pairs(ctx)])}
