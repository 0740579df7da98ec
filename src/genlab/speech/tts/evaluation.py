"""Evaluation of text-to-speech: intelligibility (``cer``), mel-cepstral distortion (``mcd``), F0 RMSE
(``f0_rmse``) and real-time factor (``rtf``) on held-out sentences.

The sentences are, unless ``ref`` names others, the held-out ``test`` split of a built-in eSpeak corpus, or the
validation split held out of a folder when the model was trained (same files, seed and fraction). Each is spoken by
the model (acoustic model + the vocoder: ``--vocoder RUN``, the one recorded with the model, or Griffin-Lim) and
compared with the reference recording:

* ``cer``: the recogniser ``--asr RUN`` (a ``speech/ctc`` run, :mod:`genlab.speech.asr`) transcribes
  the synthesised speech; the error rate is corpus-level, over the characters of the normalised text (character
  recognisers) or of its phonemes' IPA string (phoneme recognisers, e.g. for Mandarin), exactly as
  ``genlab eval ASR_RUN`` scores the reference audio — that number is the floor these are read against;
* ``mcd`` (dB) and ``f0_rmse`` (Hz; with the voicing decision error): :mod:`genlab.speech.metrics`, after dynamic
  time warping of the synthesised and reference mel-cepstra;
* ``rtf``: seconds of computing per second of speech on one CPU thread (``torch.set_num_threads(1)`` while timing),
  for the whole system and for its acoustic model and vocoder apart.

Baselines (``--baselines``, on by default): ``reference`` — the reference recordings themselves (their ``cer`` is
the recogniser's floor) —, ``vocoded`` — the system's vocoder (or Griffin-Lim) run on the reference mels, copy
synthesis: what a perfect acoustic model would reach with that vocoder — and ``espeak`` — eSpeak NG reading the
same sentences (for the built-in corpora, whose references are eSpeak NG, the two coincide and only
``reference`` is given).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch
from pydantic import Field

from genlab.__about__ import __version__
from genlab.core.config import Config
from genlab.core.devices import cpu_threads
from genlab.core.errors import BadInputError
from genlab.core.evaluation import EvalContext, register_metric, weights_field
from genlab.speech.tts.base import TASK


class TTSEvalRequest(Config):
    """Options of ``genlab eval`` for acoustic models."""

    ref: str | None = Field(None, description="transcribed speech to compare with: builtin:espeak-en:test, a "
                            "folder, ljspeech (default: the held-out split of the training data)")  # fmt: skip
    data_dir: str | None = Field(None, description="folder of standard datasets")
    n: int | None = Field(50, ge=1, description="score at most this many sentences (None: all)")
    asr: str | None = Field(None, description="the speech/ctc recogniser run that transcribes for cer/per")
    vocoder: str | None = Field(None, description="a vocoder run, or griffin-lim (default: the model's recorded "
                                "vocoder, else griffin-lim)")  # fmt: skip
    beam_width: int = Field(1, ge=1, le=64, description="decoding of the recogniser: 1 greedy, more beam search")
    speed: float = Field(1.0, ge=0.25, le=4.0, description="speaking rate the voice is scored at (2: twice as fast)")
    baselines: bool = Field(True, description="also score the reference recordings and eSpeak NG")
    seed: int = Field(0, description="seed of the choice of sentences and of the synthesis")


@dataclass
class References:
    """The held-out sentences: texts, reference log-mels and F0 (model front end), where they come from."""

    source: str
    split: str
    language: str
    texts: list[str]
    mels: list[torch.Tensor]
    f0: list[torch.Tensor]
    waves: list[torch.Tensor]
    builtin: bool

    def protocol(self) -> dict[str, Any]:
        return {"reference": self.source, "reference_split": self.split, "n_reference": len(self.texts)}


@dataclass
class Spoken:
    """Speech of the sentences by one system: waves at the model's rate and timings (one thread)."""

    system: str
    waves: list[torch.Tensor]
    seconds_acoustic: float = 0.0
    seconds_vocoder: float = 0.0


def load_reference(ctx: EvalContext) -> References:
    """The sentences to score (module docstring)."""
    from genlab.speech.asr.data import held_out_data
    from genlab.speech.tts.data import TTSDataConfig, load_tts_data

    model, request = ctx.model, ctx.request

    def load(cfg: TTSDataConfig, split: str | None = None):
        return load_tts_data(cfg, split, model.vocabulary, keep_waves=True)

    dataset, split, source = held_out_data(model, request, TTSDataConfig, load)
    idx = list(range(len(dataset)))
    if request.n is not None and request.n < len(idx):
        idx = sorted(torch.randperm(len(idx), generator=torch.Generator().manual_seed(request.seed))[: request.n])
        split += f", {request.n} sentences (seed {request.seed})"
    return References(source, split, model.config.language, [dataset.texts[int(i)] for i in idx],
                      [dataset.mels[int(i)].float() for i in idx], [dataset.f0[int(i)] for i in idx],
                      [dataset.waves[int(i)] for i in idx], source.startswith("builtin:"))  # fmt: skip


def speak_references(ctx: EvalContext) -> Spoken:
    """The model's speech of the reference sentences, timed on one thread."""
    model, request, ref = ctx.model, ctx.request, ctx.reference
    vocode, name = _vocoder(ctx)
    generator = torch.Generator().manual_seed(request.seed)
    spoken = Spoken(f"{model.registry_name} + {name}", [])
    with cpu_threads(1), torch.no_grad():
        ids = model.encode_texts(ref.texts)
        for sentence_ids in ids:
            torch.manual_seed(int(torch.randint(0, 2**31 - 1, (), generator=generator)))
            start = time.perf_counter()
            mel = model.infer(sentence_ids, speed=request.speed)
            middle = time.perf_counter()
            wave = vocode(mel, generator)
            spoken.seconds_acoustic += middle - start
            spoken.seconds_vocoder += time.perf_counter() - middle
            spoken.waves.append(wave.clamp(-1, 1))
    return spoken


def espeak_speech(ctx: EvalContext) -> Spoken:
    """eSpeak NG reading the reference sentences at the built-in corpus's voice and rate, at the model's rate."""
    from genlab.audio import espeak
    from genlab.audio.io import resample
    from genlab.speech import text as frontend
    from genlab.speech.corpus import RECIPES

    recipe, rate = RECIPES[ctx.model.config.language], ctx.model.sample_rate
    spoken = Spoken(f"espeak ({recipe['voice']}, {recipe['rate_wpm']} words/min)", [])
    with cpu_threads(1):
        for text in ctx.reference.texts:
            start = time.perf_counter()
            normalized = frontend.normalize(text, ctx.model.config.language)
            wave, native = espeak.synthesize(normalized, recipe["voice"], recipe["rate_wpm"], recipe["pitch"])
            spoken.seconds_vocoder += time.perf_counter() - start
            spoken.waves.append(resample(wave, native, rate))
    return spoken


def _vocoder(ctx: EvalContext):
    """``(vocode(mel, generator) -> wave, name)``: the request's vocoder, or Griffin-Lim, for the context's model
    (the vocoder loaded once per evaluation)."""
    from genlab.speech.tts.pipelines import GRIFFIN_LIM, SpeakRequest, load_vocoder

    model = ctx.model
    vocoder = ctx.cached("vocoder", lambda: load_vocoder(ctx.request.vocoder, model))
    if vocoder is not None:
        return (lambda mel, generator: vocoder.vocode(mel[None])[0]), vocoder.registry_name
    iters = SpeakRequest.model_fields["griffin_lim_iters"].default
    return (lambda mel, generator: model.front_end.griffin_lim(mel[None], n_iter=iters, generator=generator)[0],
            GRIFFIN_LIM)  # fmt: skip


def vocoded_speech(ctx: EvalContext) -> Spoken:
    """The system's vocoder on the reference mels themselves (copy synthesis): what a perfect acoustic model
    would give with this vocoder, timed on one thread."""
    vocode, name = _vocoder(ctx)
    generator = torch.Generator().manual_seed(ctx.request.seed)
    spoken = Spoken(f"{name} on the reference mels", [])
    with cpu_threads(1), torch.no_grad():
        for mel in ctx.reference.mels:
            start = time.perf_counter()
            wave = vocode(mel, generator)
            spoken.seconds_vocoder += time.perf_counter() - start
            spoken.waves.append(wave.clamp(-1, 1))
    return spoken


def baseline_contexts(ctx: EvalContext) -> dict[str, EvalContext]:
    """``reference`` (the recordings), ``vocoded`` (the system's vocoder on the reference mels) and, unless the
    recordings are eSpeak NG already, ``espeak``."""
    if not ctx.request.baselines:
        return {}
    ref = ctx.reference
    recordings = Spoken("reference recordings", ref.waves)
    out = {"reference": ctx.derive("reference", samples=recordings, keep=("asr",),
                                   protocol={"baseline_reference": "the reference recordings"})}  # fmt: skip
    vocoded = vocoded_speech(ctx)
    out["vocoded"] = ctx.derive("vocoded", samples=vocoded, keep=("asr",),
                                protocol={"baseline_vocoded": f"copy synthesis: {vocoded.system}"})  # fmt: skip
    if not ref.builtin:
        out["espeak"] = ctx.derive("espeak", samples=espeak_speech(ctx), keep=("asr",),
                                   protocol={"baseline_espeak": "eSpeak NG reading the same sentences"})  # fmt: skip
    return out


def model_context(task, model, request: TTSEvalRequest) -> EvalContext:
    return EvalContext(model, task, request, draw_samples=speak_references, load_reference=load_reference)


def model_protocol(ctx: EvalContext) -> dict[str, Any]:
    c = ctx.model.config
    protocol = {**ctx.reference.protocol(), "model": ctx.model.registry_name, "language": c.language,
                "system": ctx.samples.system, "front_end": c.front_end().describe(), "speed": ctx.request.speed,
                "seed": ctx.request.seed}  # fmt: skip
    return protocol | weights_field(ctx.model) | {"genlab_version": __version__}


# ----------------------------------------------------------------------------- metrics


def recognizer(ctx: EvalContext):
    """The ``--asr`` recogniser, loaded once per evaluation."""
    from genlab.core.model import GenerativeModel
    from genlab.core.runs import resolve_model_dir
    from genlab.speech.asr.model import CTCRecognizer

    def load():
        if not ctx.request.asr:
            raise BadInputError(
                "cer and per need a recogniser to transcribe the speech",
                "pass --asr RUN (a run of `genlab train asr`), or ask for --metrics mcd,f0_rmse,rtf",
            )
        model = GenerativeModel.from_pretrained(resolve_model_dir(ctx.request.asr))
        if not isinstance(model, CTCRecognizer):
            raise BadInputError(f"{ctx.request.asr} holds a {model.registry_name} model, not a recogniser",
                                "pass a run of `genlab train asr`")  # fmt: skip
        if model.config.language != ctx.model.config.language:
            raise BadInputError(
                f"the recogniser reads {model.config.language}, the voice speaks {ctx.model.config.language}",
                "pass a recogniser of the voice's language",
            )
        return model

    return ctx.cached("asr", load)


def error_rates(ctx: EvalContext) -> dict[str, float | None]:
    """``cer`` (and ``per`` for phoneme recognisers, else None) of the recogniser on the context's speech."""
    from genlab.audio.io import resample
    from genlab.speech import ctc
    from genlab.speech import text as frontend

    asr = recognizer(ctx)

    def compute():
        rate = ctx.model.sample_rate
        waves = [resample(w, rate, asr.config.sample_rate) if rate != asr.config.sample_rate else w
                 for w in ctx.samples.waves]  # fmt: skip
        hyps = asr.decode(waves, ctx.request.beam_width)
        language = asr.config.language
        if asr.config.targets == "phonemes":
            with frontend.Phonemizer() as g2p:
                refs = [g2p(t, language) for t in ctx.reference.texts]
        else:
            refs = [frontend.characters(t, language) for t in ctx.reference.texts]
        cer = ctc.error_rate([list(asr.to_text(r)) for r in refs], [list(asr.to_text(h)) for h in hyps])
        per = ctc.error_rate(refs, hyps) if asr.config.targets == "phonemes" else None
        return {"cer": float(cer), "per": None if per is None else float(per)}

    return ctx.cached("error_rates", compute)


def _distances(ctx: EvalContext) -> dict[str, float]:
    """MCD and F0 RMSE of the context's speech against the references (module docstring), once per context."""
    import numpy as np

    from genlab.audio.world import f0_track
    from genlab.speech.metrics import MCD_SCALE, aligned_frames, f0_rmse

    def compute():
        front = ctx.model.front_end
        analysis = front.mel_spectrogram()
        mcd, pairs_a, pairs_b, voicing = [], [], [], []
        for wave, ref_mel, ref_f0 in zip(ctx.samples.waves, ctx.reference.mels, ctx.reference.f0, strict=True):
            with torch.no_grad():
                mel = analysis(wave.float()[None])[0]
            distances, i, j = aligned_frames(mel, ref_mel)
            mcd.append(MCD_SCALE * float(distances.mean()))
            f0 = f0_track(wave, front.sample_rate, front.hop_length, mel.shape[-1])
            a, b = f0.numpy()[i], ref_f0.numpy()[j]
            pairs_a.append(a)
            pairs_b.append(b)
            voicing.append(f0_rmse(f0, ref_f0, i, j)[1])
        a, b = np.concatenate(pairs_a), np.concatenate(pairs_b)
        both = (a > 0) & (b > 0)
        rmse = float(np.sqrt(np.mean((a[both] - b[both]) ** 2))) if both.any() else float("nan")
        return {"mcd_db": float(np.mean(mcd)), "f0_rmse_hz": rmse, "vde": float(np.mean(voicing))}

    return ctx.cached("distances", compute)


@register_metric(
    "speech/mcd", task=TASK, outputs=("mcd_db",), needs=("samples", "reference"), default=True, on_baselines=True,
    protocol=lambda ctx: {"mcd_db": "mel-cepstral distortion (dB) after DTW: cepstrum c1..c24 of the ln mel "
                          "amplitudes of the model's front end, silent ends left out (genlab.speech.metrics)"},
)  # fmt: skip
def mel_cepstral_distortion(ctx: EvalContext) -> dict[str, float]:
    """Mel-cepstral distortion (dB) of the synthesised speech against the reference recordings, after DTW."""
    return {"mcd_db": _distances(ctx)["mcd_db"]}


@register_metric(
    "speech/f0_rmse", task=TASK, outputs=("f0_rmse_hz", "vde"), needs=("samples", "reference"), default=True,
    on_baselines=True,
    protocol=lambda ctx: {"f0_rmse_hz": "RMS F0 difference (Hz) over DTW-paired frames voiced in both (WORLD DIO + "
                          "StoneMask at the mel hop); vde: share of paired frames with different voicing"},
)  # fmt: skip
def f0_error(ctx: EvalContext) -> dict[str, float]:
    """F0 RMSE (Hz) over DTW-paired voiced frames, and the voicing decision error."""
    d = _distances(ctx)
    return {"f0_rmse_hz": d["f0_rmse_hz"], "vde": d["vde"]}


@register_metric(
    "speech/rtf", task=TASK, outputs=("rtf", "rtf_acoustic", "rtf_vocoder"), needs=("samples",), default=True,
    protocol=lambda ctx: {"rtf": "seconds of computing per second of speech, one CPU thread (torch), acoustic "
                          "model and vocoder together and apart"},
)  # fmt: skip
def real_time_factor(ctx: EvalContext) -> dict[str, float]:
    """Real-time factor on one CPU thread: seconds of synthesis per second of speech (< 1: faster than real time)."""
    spoken, rate = ctx.samples, ctx.model.sample_rate
    audio = sum(len(w) for w in spoken.waves) / rate
    if audio <= 0:
        raise BadInputError("the model produced no audio to time")
    return {"rtf": (spoken.seconds_acoustic + spoken.seconds_vocoder) / audio,
            "rtf_acoustic": spoken.seconds_acoustic / audio, "rtf_vocoder": spoken.seconds_vocoder / audio}  # fmt: skip
