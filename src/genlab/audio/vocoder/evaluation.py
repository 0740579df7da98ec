"""Evaluation of vocoders: copy synthesis of held-out speech, scored against the originals, beside Griffin-Lim.

Each test recording ``x`` (mono, at the vocoder's rate, cut to its first ``max_seconds``) is analysed with the
vocoder's own front end and resynthesised, ``x̂ = vocode(mel(x))`` at ``x``'s length (whole). The baselines
invert the same mels with no training: fast Griffin-Lim (Perraudin et al. 2013) after undoing the mel projection
(:meth:`~genlab.audio.vocoder.frontend.MelFrontEnd.griffin_lim`), with each number of iterations of
``griffin_lim_iters`` (32 and 64 by default) from a random phase seeded by ``seed``.

* Test recordings: ``ref`` (an audio file, a folder or a dataset such as ``fsdd:test``), else the validation split
  held out when the model was trained (found again from the data config recorded with the model); at most ``n``
  of them, a seeded choice.

Metrics, means over the recordings (each compares ``x̂`` with ``x``; all are computed for the baselines too):

* ``lsd`` — log-spectral distance in dB, ``mean_t sqrt(mean_k (10 log10 P(t,k) − 10 log10 P̂(t,k))²)`` on the
  power spectrogram (512-point FFT, 128-sample hop; powers floored at 1e-10)
  (:func:`~genlab.audio.signal_metrics.log_spectral_distance`); 0 for identical waves, lower is better;
* ``mel_l1`` — mean absolute difference of the vocoder's log-mels (natural log), ``mean |mel(x̂) − mel(x)|``:
  how well the output reproduces the features it was given;
* ``vocoder_pesq`` — PESQ MOS-LQO (ITU-T P.862.2 wide band at 16 kHz and above, P.862 narrow band below; other
  rates resampled), through ``pesq``;
* ``vocoder_stoi`` — STOI (Taal et al. 2011), 0 to 1, through ``pystoi``.

PESQ and STOI are registered as ``audio/vocoder_pesq`` and ``audio/vocoder_stoi``: registry names are unique and
``audio/pesq`` / ``audio/stoi`` belong to the ``audio-denoising`` task, whose metrics read a context of noisy
mixtures (``reference.mixtures[i].clean``), not the recordings of this one. A recording PESQ or STOI cannot score
(too short, no speech found) is left out of that metric and counted in the protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from pydantic import Field, field_validator

from genlab.__about__ import __version__
from genlab.audio.signal_metrics import log_spectral_distance, pesq_score, stoi_score
from genlab.audio.vocoder.base import TASK
from genlab.core.config import Config
from genlab.core.errors import BadInputError
from genlab.core.evaluation import EvalContext, register_metric, weights_field

LSD_FFT, LSD_HOP = 512, 128


class VocoderEvalRequest(Config):
    """Options of ``genlab eval`` for vocoders (module docstring)."""

    ref: str | None = Field(
        None, description="speech to resynthesise: an audio file, a folder or a dataset (fsdd:test) "
        "(default: the recordings held out when the model was trained)",
    )  # fmt: skip
    n: int | None = Field(None, ge=1, description="test on at most this many recordings (a seeded choice)")
    max_seconds: float = Field(10.0, gt=0.5, le=600, description="each recording is cut to its first max_seconds")
    griffin_lim_iters: list[int] = Field(
        [32, 64], min_length=1, description="Griffin-Lim baselines: iterations of each; repeat for several"
    )
    data_dir: str | None = Field(None, description="folder of standard datasets")
    seed: int = Field(0, description="seed of the choice of recordings and of Griffin-Lim's initial phase")

    @field_validator("griffin_lim_iters", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        """``"32,64"`` (or a list of such strings, as a repeated CLI option gives) → [32, 64]."""
        if isinstance(value, (str, int)):
            value = [value]
        if isinstance(value, (list, tuple)):
            return [part.strip() for v in value for part in str(v).split(",") if part.strip()]
        return value

    @field_validator("griffin_lim_iters")
    @classmethod
    def _iterations(cls, value: list[int]) -> list[int]:
        if any(not 1 <= v <= 1000 for v in value):
            raise ValueError(f"Griffin-Lim iterations must lie within 1…1000, got {value}")
        return sorted(set(value))


@dataclass
class TestSet:
    """The recordings every context is scored on (mono, at the vocoder's rate) and where they come from."""

    source: str
    sample_rate: int
    waves: list[torch.Tensor]
    names: list[str]

    def protocol(self) -> dict[str, Any]:
        seconds = sum(w.shape[-1] for w in self.waves) / self.sample_rate
        return {"reference": self.source, "n_recordings": len(self.waves), "recordings": self.names,
                "seconds": round(seconds, 2), "sample_rate": self.sample_rate}  # fmt: skip


# --------------------------------------------------------------------------- the test set


def _data_config(model, source: str, data_dir: str | None):
    from genlab.audio.vocoder.task import VocoderDataConfig

    return VocoderDataConfig.build({"source": source, "sample_rate": model.sample_rate, "data_dir": data_dir,
                                    "val_fraction": 0.0, "augment": False}, "eval")  # fmt: skip


def _given_recordings(ctx: EvalContext) -> tuple[list[torch.Tensor], list[str], str]:
    from genlab.audio.io import read_audio
    from genlab.audio.loading import load_clips

    model, request = ctx.model, ctx.request
    path = Path(request.ref).expanduser()
    if path.is_file():
        wave, _ = read_audio(path, model.sample_rate)
        return [wave], [path.name], request.ref
    clips = load_clips(_data_config(model, request.ref, request.data_dir))
    return list(clips.waves), list(clips.names), request.ref


def _held_out_recordings(ctx: EvalContext) -> tuple[list[torch.Tensor], list[str], str]:
    from genlab.audio.loading import load_audio_data
    from genlab.audio.vocoder.task import VocoderDataConfig

    model, request = ctx.model, ctx.request
    data = model.provenance.data or {}
    recorded = dict(data.get("config") or {})
    if not recorded or not (data.get("split") or {}).get("n_val"):
        raise BadInputError(
            "no test speech: the model records no held-out recordings",
            "pass --ref with speech the model has not heard (an audio file, a folder or a dataset such as fsdd:test)",
        )
    if request.data_dir:
        recorded["data_dir"] = request.data_dir
    recorded["sample_rate"] = model.sample_rate
    _, val, _ = load_audio_data(VocoderDataConfig.build(recorded, "eval"))  # the same seeded split as in training
    waves = list(val.waves)
    split = data["split"]
    source = (f"validation split of {recorded['source']} ({len(waves)} recordings; seeded split, fraction "
              f"{split.get('val_fraction')}, seed {split.get('seed')})")  # fmt: skip
    return waves, [f"val[{i}]" for i in range(len(waves))], source


def load_test_set(ctx: EvalContext) -> TestSet:
    """The test recordings of the module docstring, cut to ``max_seconds``."""
    request = ctx.request
    waves, names, source = (_given_recordings if request.ref else _held_out_recordings)(ctx)
    if request.n is not None and request.n < len(waves):
        gen = torch.Generator().manual_seed(request.seed)
        keep = sorted(torch.randperm(len(waves), generator=gen)[: request.n].tolist())
        waves, names = [waves[i] for i in keep], [names[i] for i in keep]
    limit = int(request.max_seconds * ctx.model.sample_rate)
    return TestSet(source, ctx.model.sample_rate, [w[:limit].float() for w in waves], names)


def resynthesised(ctx: EvalContext) -> list[torch.Tensor]:
    """The model's copy synthesis of every test recording (whole, at its length)."""
    return [ctx.model.resynthesize(w) for w in ctx.reference.waves]


def model_context(task, model, request: VocoderEvalRequest) -> EvalContext:
    return EvalContext(model, task, request, draw_samples=resynthesised, load_reference=load_test_set)


def model_protocol(ctx: EvalContext) -> dict[str, Any]:
    request, model = ctx.request, ctx.model
    protocol = {
        **ctx.reference.protocol(), "max_seconds": request.max_seconds, "seed": request.seed,
        "model": model.registry_name, "front_end": model.config.contract(),
        "synthesis": "copy synthesis: vocode(mel(x)) at x's length, whole",
    }  # fmt: skip
    protocol |= weights_field(model)
    return protocol | {"genlab_version": __version__}


def baselines(ctx: EvalContext) -> dict[str, EvalContext]:
    """Griffin-Lim from the same mels with each number of iterations of ``griffin_lim_iters``."""
    model, test = ctx.model, ctx.reference
    out = {}
    for iters in ctx.request.griffin_lim_iters:
        gen = torch.Generator().manual_seed(ctx.request.seed)
        samples = [model.config.griffin_lim(model.mel(w), iters, w.shape[-1], gen) for w in test.waves]
        setting = (f"fast Griffin-Lim (momentum 0.99), {iters} iterations from a random phase (seed "
                   f"{ctx.request.seed}), magnitudes from the mels by 10 projected-gradient NNLS steps")  # fmt: skip
        out[f"griffin_lim_{iters}"] = ctx.derive(f"griffin_lim_{iters}", samples=samples,
                                                 protocol={f"baseline_griffin_lim_{iters}": setting})  # fmt: skip
    return out


# --------------------------------------------------------------------------- metrics


def _pairs(ctx: EvalContext):
    return zip(ctx.samples, ctx.reference.waves, strict=True)


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 4)


def _scored(ctx: EvalContext, name: str, score) -> float:
    """Mean of ``score(estimate, original, rate)`` over the recordings it can score; the others are left out and
    counted in ``ctx.cache[name + "_skipped"]``."""
    rate, values, skipped = ctx.reference.sample_rate, [], 0
    for est, ref in _pairs(ctx):
        try:
            values.append(score(est, ref, rate))
        except BadInputError:
            skipped += 1
    if not values:
        others = ",".join(k for k in ("lsd", "mel_l1", "vocoder_pesq", "vocoder_stoi") if k != name)
        raise BadInputError(
            f"{name} could score none of the {skipped} recordings (too short or no speech found; STOI needs about "
            "0.4 s of speech, PESQ a quarter of a second)",
            f"test on longer speech recordings (--ref, --max-seconds), or leave it out: --metrics {others}",
        )
    ctx.cache[f"{name}_skipped"] = skipped
    return _mean(values)


def _skipped(ctx: EvalContext, name: str) -> dict[str, Any]:
    count = ctx.cache.get(f"{name}_skipped")
    return {f"{name}_skipped_recordings": count} if count else {}


@register_metric(
    "audio/lsd",
    task=TASK,
    outputs=("lsd",),
    needs=("samples", "reference"),
    default=True,
    on_baselines=True,
    protocol=lambda ctx: {
        "lsd": f"log-spectral distance of the power spectrogram, dB ({LSD_FFT}-point FFT, "
        f"{LSD_HOP}-sample hop, periodic Hann, powers floored at 1e-10)"
    },  # fmt: skip
)
def lsd_metric(ctx: EvalContext) -> dict[str, float]:
    """Log-spectral distance of the resynthesised speech to the original (dB, mean over recordings; lower is better)."""
    return {"lsd": _mean([log_spectral_distance(est, ref, LSD_FFT, LSD_HOP) for est, ref in _pairs(ctx)])}


@register_metric(
    "audio/mel_l1",
    task=TASK,
    outputs=("mel_l1",),
    needs=("samples", "reference", "model"),
    default=True,
    on_baselines=True,
    protocol=lambda ctx: {"mel_l1": "mean |ln-mel(x̂) − ln-mel(x)| with the vocoder's front end"},
)
def mel_l1_metric(ctx: EvalContext) -> dict[str, float]:
    """Mean absolute difference of the log-mels of resynthesised and original speech (lower is better)."""
    mel = ctx.model.mel
    return {"mel_l1": _mean([float((mel(est) - mel(ref)).abs().mean()) for est, ref in _pairs(ctx)])}


def _pesq_protocol(ctx: EvalContext) -> dict[str, Any]:
    rate = ctx.reference.sample_rate
    mode = "wide band (ITU-T P.862.2) at 16 kHz" if rate >= 16000 else "narrow band (ITU-T P.862) at 8 kHz"
    return {"vocoder_pesq": f"PESQ MOS-LQO, {mode}, pesq package; other rates resampled"} | _skipped(
        ctx, "vocoder_pesq"
    )


@register_metric(
    "audio/vocoder_pesq",
    task=TASK,
    outputs=("vocoder_pesq",),
    needs=("samples", "reference"),
    default=True,
    on_baselines=True,
    protocol=_pesq_protocol,
)
def pesq_metric(ctx: EvalContext) -> dict[str, float]:
    """PESQ of the resynthesised speech against the original (MOS-LQO, about 1 to 4.6; mean over recordings)."""
    return {"vocoder_pesq": _scored(ctx, "vocoder_pesq", pesq_score)}


@register_metric(
    "audio/vocoder_stoi",
    task=TASK,
    outputs=("vocoder_stoi",),
    needs=("samples", "reference"),
    default=True,
    on_baselines=True,
    protocol=lambda ctx: (
        {"vocoder_stoi": "STOI (Taal et al. 2011), pystoi, 0 to 1"} | _skipped(ctx, "vocoder_stoi")
    ),  # fmt: skip
)
def stoi_metric(ctx: EvalContext) -> dict[str, float]:
    """STOI of the resynthesised speech against the original (0 to 1; mean over recordings)."""
    return {"vocoder_stoi": _scored(ctx, "vocoder_stoi", stoi_score)}
