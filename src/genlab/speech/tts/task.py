"""The ``tts`` task: transcribed speech in, an acoustic model (text → log-mels) out.

``genlab train tts --model fastspeech --data builtin:espeak-en --max-minutes 30`` trains ``speech/fastspeech``
(or ``--model tacotron2``) through the engine on the data of :mod:`genlab.speech.tts.data`; ``genlab speak`` reads
text aloud (:mod:`.pipelines`); ``genlab eval RUN --metrics cer,mcd,f0_rmse,rtf --asr ASR_RUN`` scores held-out
sentences (:mod:`.evaluation`).

The model config takes from the data what it must agree with: the symbols, the language, the speakers, the mel
front end (the rate's defaults, those of ``genlab train vocoder``) and the per-band mel statistics (and the log-F0
statistics of models that predict pitch). ``--vocoder RUN`` records the vocoder ``genlab speak`` uses by default
and checks, before training, that it inverts these mels. With ``--init-from RUN`` (fine-tuning a voice on a few
minutes of another speaker) the base model's vocabulary, statistics and sizes are kept.

The sample report of a run (``samples/``) holds two held-out sentences spoken by the model (Griffin-Lim, or the
recorded vocoder), a spectrogram grid (reference | synthesised) and, for attention models, their alignments.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from genlab.audio.vocoder.frontend import MelFrontEnd
from genlab.core.errors import BadInputError
from genlab.core.evaluation import EvalContext
from genlab.core.model import GenerativeModel
from genlab.core.registry import TASKS
from genlab.core.task import Task
from genlab.speech.tts import evaluation
from genlab.speech.tts.base import TASK
from genlab.speech.tts.data import TTSDataConfig, TTSDataInfo, describe_tts_data, load_tts_data
from genlab.speech.tts.pipelines import SpeakPipeline, Voice, load_vocoder, open_vocoder

PREVIEW = 2  # held-out sentences in the sample report
#: config fields a fine-tuned model keeps from its base (``--init-from``), whatever the new data says
FROM_DATA = ("language", "symbol_mode", "symbols", "speakers", "mel_mean", "mel_std", "f0_mean", "f0_std")


class TTSTask(Task):
    name = TASK
    modality = "speech"
    description = "train an acoustic model (text → mel spectrogram) for text-to-speech: FastSpeech or Tacotron 2"
    data_config_class = TTSDataConfig
    default_model = "fastspeech"
    pipeline_class = SpeakPipeline
    cli_options = {"--sample-rate": "data.sample_rate", "--symbols": "data.symbols", "--speakers": "data.speakers",
                   "--val-fraction": "data.val_fraction", "--lr": "model.lr", "--vocoder": "model.vocoder"}  # fmt: skip
    eval_request_class = evaluation.TTSEvalRequest

    def __init__(self):
        self._preview: tuple[list[str], list[torch.Tensor], list[torch.Tensor]] | None = None
        self._model_fields: set[str] = set()

    def load_data(self, data_cfg: TTSDataConfig):
        train, val, info = load_tts_data(data_cfg)
        shown = val if val is not None else train
        idx = range(min(PREVIEW, len(shown)))
        self._preview = ([shown.texts[i] for i in idx], [shown.mels[i].float() for i in idx],
                         [shown.ids[i] for i in idx])  # fmt: skip
        return train, val, info

    def aligned_mels(self, model: GenerativeModel, data_dir: str | None = None, max_files: int | None = None):
        """The acoustic ``model``'s ground-truth-aligned mels of its training recordings, paired with them
        (:mod:`genlab.speech.tts.aligned`): what ``genlab train vocoder --mels-from RUN`` fine-tunes on."""
        from genlab.speech.tts.aligned import aligned_mels
        from genlab.speech.tts.base import AcousticModel

        if not isinstance(model, AcousticModel):
            raise BadInputError(f"a {model.registry_name} model gives no aligned mels", "pass a tts run")
        return aligned_mels(model, data_dir, max_files)

    def check_model_fits_data(self, model_cls: type[GenerativeModel], info: TTSDataInfo) -> None:
        self._model_fields = set(model_cls.config_class.model_fields)

    def fine_tune_values(self, values: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
        """Fine-tuning keeps the base model's sizes, vocabulary, speakers and statistics; options given win."""
        return {**base, **values}

    def fill_model_config(self, values: dict[str, Any], info: TTSDataInfo) -> dict[str, Any]:
        if not info.symbols:
            raise BadInputError(f"{info.source} gives no symbols to train on", "check the transcripts")
        data = {"language": info.language, "symbol_mode": info.symbol_mode, "symbols": info.symbols,
                "speakers": info.speakers, "mel_mean": info.mel_mean, "mel_std": info.mel_std,
                "f0_mean": info.f0_mean, "f0_std": info.f0_std}  # fmt: skip
        fine_tuning = bool(values.get("symbols"))  # set from a base model (fine_tune_values)
        filled = dict(values)
        for key, value in data.items():
            if key in self._model_fields and value is not None and not (fine_tuning and key in FROM_DATA):
                filled[key] = value
        front = dict(info.front_end)
        if fine_tuning and any(filled.get(k) != v for k, v in front.items() if k in filled):
            raise BadInputError(
                f"the base model was trained on other mels than this data gives ({front['sample_rate']} Hz)",
                f"train with --sample-rate {filled.get('sample_rate')} to match it",
            )
        filled |= front
        if filled.get("vocoder"):  # checked now, not after an hour of training
            open_vocoder(filled["vocoder"], MelFrontEnd(**front), "the mels of this data")
        return filled

    def write_samples(self, model: GenerativeModel, stem: Path, seed: int) -> Path:
        """Two held-out sentences spoken by the model: a WAV, a spectrogram grid and (attention models) the
        alignments."""
        from genlab.audio.io import write_audio
        from genlab.audio.plots import save_spectrogram_grid

        stem.parent.mkdir(parents=True, exist_ok=True)
        if self._preview is None:
            path = stem.with_suffix(".txt")
            path.write_text("no data loaded in this process to speak\n", encoding="utf-8")
            return path
        texts, ref_mels, ids = self._preview
        front = model.front_end
        request = SpeakPipeline.request_class.build({"seed": seed}, where="samples")
        voice = Voice(model, load_vocoder(None, model), request)
        gap = torch.zeros(int(0.3 * front.sample_rate))
        waves, grid, titles, alignments = [], [], [], []
        was_training = model.training
        model.eval()
        try:
            for text, ref, sentence_ids in zip(texts, ref_mels, ids, strict=True):
                wave = voice.speak(text)
                waves += [wave, gap]
                grid += [front.griffin_lim(ref[None], generator=torch.Generator().manual_seed(seed))[0], wave]
                titles += [f"reference (Griffin-Lim): {text[:30]}", f"{model.registry_name}: {text[:30]}"]
                if hasattr(model, "alignment"):
                    mel = ref[None]
                    lengths = torch.tensor([len(sentence_ids)]), torch.tensor([mel.shape[-1]])
                    speakers = torch.zeros(1, dtype=torch.long)
                    alignments.append(model.alignment(sentence_ids[None], lengths[0], mel, lengths[1], speakers)[0])
        finally:
            model.train(was_training)
        save_spectrogram_grid(grid, front.sample_rate, stem.with_suffix(".png"), titles, ncols=2)
        if alignments:
            from genlab.speech.tts.plots import save_alignment_plot

            save_alignment_plot(alignments, stem.with_name(stem.name + "-alignment.png"), [t[:30] for t in texts])
        return write_audio(stem.with_suffix(".wav"), torch.cat(waves), front.sample_rate)

    def eval_context(self, model: GenerativeModel, request) -> EvalContext:
        return evaluation.model_context(self, model, request)

    def eval_protocol(self, ctx: EvalContext) -> dict[str, Any]:
        return evaluation.model_protocol(ctx)

    def eval_baselines(self, ctx: EvalContext, specs) -> dict[str, EvalContext]:
        return evaluation.baseline_contexts(ctx)

    def describe_data(self, info: TTSDataInfo) -> str:
        return describe_tts_data(info)


TASKS.register(TTSTask.name)(TTSTask())
