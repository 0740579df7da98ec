"""Evaluation of the recogniser: character error rate (``cer``) and, for phoneme models, phoneme error rate (``per``).

The utterances scored are, unless ``ref`` names others, the held-out ``test`` split of a built-in eSpeak corpus,
or the validation split held out of a folder when the model was trained (its seed and fraction are recorded with
the model, so the same utterances come back). Both rates are corpus-level: all edit distances over all reference
symbols (:func:`genlab.speech.ctc.error_rate`). ``cer`` compares characters of what the model writes — the
normalised text (character models) or its IPA string (phoneme models); ``per`` compares phoneme symbols.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from pydantic import Field

from genlab.__about__ import __version__
from genlab.core.config import Config
from genlab.core.evaluation import EvalContext, register_metric, weights_field
from genlab.speech import ctc
from genlab.speech.asr.model import SEPARATOR, TASK

TTS_TASK = "tts"  # genlab.speech.tts.base.TASK: synthesised speech is scored by the same metric


class ASREvalRequest(Config):
    """Options of ``genlab eval`` for recognisers."""

    ref: str | None = Field(None, description="transcribed speech to score: builtin:espeak-en:test, ljspeech or a "
                            "folder (default: the held-out split of the training data)")  # fmt: skip
    data_dir: str | None = Field(None, description="folder of standard datasets")
    n: int | None = Field(None, ge=1, description="score at most this many utterances (default: all)")
    beam_width: int = Field(1, ge=1, le=64, description="1: greedy decoding; more: CTC prefix beam search")
    seed: int = Field(0, description="seed of the choice of utterances when n is smaller than the set")


@dataclass
class Transcribed:
    """The utterances scored: waves at the model's rate, reference phonemes and characters, where they come from."""

    source: str
    split: str
    waves: list[torch.Tensor]
    phonemes: list[list[str]]
    chars: list[list[str]]

    def protocol(self) -> dict[str, Any]:
        return {"reference": self.source, "reference_split": self.split, "n_reference": len(self.waves)}


def load_reference(ctx: EvalContext) -> Transcribed:
    """The utterances to score (see the module docstring)."""
    from genlab.speech.asr.data import ASRDataConfig, held_out_data, load_asr_data

    request = ctx.request
    dataset, split, source = held_out_data(ctx.model, request, ASRDataConfig, load_asr_data)
    idx = list(range(len(dataset)))
    if request.n is not None and request.n < len(idx):
        idx = torch.randperm(len(idx), generator=torch.Generator().manual_seed(request.seed))[: request.n].tolist()
        split += f", {request.n} utterances (seed {request.seed})"
    return Transcribed(
        source, split, [dataset.waves[i].float() for i in idx],
        [dataset.phonemes[i].split(SEPARATOR) for i in idx], [dataset.chars[i].split(SEPARATOR) for i in idx],
    )  # fmt: skip


def model_context(task, model, request: ASREvalRequest) -> EvalContext:
    return EvalContext(model, task, request, load_reference=load_reference)


def model_protocol(ctx: EvalContext) -> dict[str, Any]:
    c, request = ctx.model.config, ctx.request
    decoder = "greedy" if request.beam_width == 1 else f"prefix beam search (width {request.beam_width})"
    protocol = {**ctx.reference.protocol(), "model": ctx.model.registry_name, "targets": c.targets,
                "language": c.language, "decoder": decoder}  # fmt: skip
    return protocol | weights_field(ctx.model) | {"seed": request.seed, "genlab_version": __version__}


def hypotheses(ctx: EvalContext) -> list[list[str]]:
    """The model's symbol lists for the reference waves, decoded once per context."""
    return ctx.cached("hypotheses", lambda: ctx.model.decode(ctx.reference.waves, ctx.request.beam_width))


def _phoneme_model(model) -> str | None:
    if model.task == TTS_TASK:
        return "per scores recognisers; a voice is scored by cer (characters of the IPA string for a phoneme --asr)"
    if getattr(model.config, "targets", None) == "phonemes":
        return None
    return "per needs a phoneme model (this one writes characters)"


@register_metric(
    "speech/cer", task=(TASK, TTS_TASK), outputs=("cer",), needs=("model", "reference"), default=True,
    on_baselines=True,
    protocol=lambda ctx: {"cer": "character edits / reference characters over the whole set; characters of the "
                          "normalised text, or of the IPA string for phoneme models"},
)  # fmt: skip
def character_error_rate(ctx: EvalContext) -> dict[str, float]:
    """Corpus-level character error rate of the transcripts (0 is perfect; can exceed 1): of the recogniser's
    transcripts of held-out speech (asr), or of the recogniser ``--asr`` on synthesised speech (tts)."""
    if ctx.model.task == TTS_TASK:
        from genlab.speech.tts.evaluation import error_rates

        return {"cer": error_rates(ctx)["cer"]}
    model, ref = ctx.model, ctx.reference
    targets = ref.phonemes if model.config.targets == "phonemes" else ref.chars
    references = [model.to_text(t) for t in targets]
    return {"cer": ctx_error_rate(references, [model.to_text(h) for h in hypotheses(ctx)])}


@register_metric(
    "speech/per", task=TASK, outputs=("per",), needs=("model", "reference"), default=True, applies=_phoneme_model,
    protocol=lambda ctx: {"per": "phoneme-symbol edits (stress marks, tones, word and clause boundaries included) "
                          "/ reference symbols over the whole set"},
)  # fmt: skip
def phoneme_error_rate(ctx: EvalContext) -> dict[str, float]:
    """Corpus-level phoneme error rate of a phoneme model."""
    return {"per": ctx_error_rate(ctx.reference.phonemes, hypotheses(ctx))}


def ctx_error_rate(references: list, hyps: list) -> float:
    return float(ctc.error_rate([list(r) for r in references], [list(h) for h in hyps]))
