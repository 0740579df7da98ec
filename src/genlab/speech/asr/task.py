"""The ``asr`` task: transcribed speech in, a small CTC recogniser out.

``genlab train asr --model ctc --data builtin:espeak-en --max-minutes 20`` trains ``speech/ctc`` through the
engine; ``genlab transcribe speech.wav --model RUN`` transcribes; ``genlab eval RUN --metrics cer`` scores it on
the held-out split. It is the yardstick of text-to-speech intelligibility, not a general-purpose recogniser.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genlab.core.errors import BadInputError
from genlab.core.evaluation import EvalContext
from genlab.core.model import GenerativeModel
from genlab.core.registry import TASKS
from genlab.core.task import Task
from genlab.speech.asr import evaluation
from genlab.speech.asr.data import ASRDataConfig, ASRDataInfo, describe_asr_data, load_asr_data
from genlab.speech.asr.model import TASK
from genlab.speech.asr.pipelines import TranscribePipeline

PREVIEW = 4  # utterances transcribed into the run's samples


class ASRTask(Task):
    name = TASK
    modality = "speech"
    description = "train a small CTC speech recogniser (phonemes or characters) to score synthesised speech"
    data_config_class = ASRDataConfig
    default_model = "ctc"
    pipeline_class = TranscribePipeline
    cli_options = {"--sample-rate": "data.sample_rate", "--val-fraction": "data.val_fraction", "--lr": "model.lr",
                   "--targets": "model.targets"}  # fmt: skip
    eval_request_class = evaluation.ASREvalRequest

    def __init__(self):
        self._preview = None

    def load_data(self, data_cfg: ASRDataConfig):
        train, val, info = load_asr_data(data_cfg)
        shown = val if val is not None else train
        n = min(PREVIEW, len(shown))
        self._preview = [shown.waves[i].float() for i in range(n)], [shown.phonemes[i] for i in range(n)], \
            [shown.chars[i] for i in range(n)]  # fmt: skip
        return train, val, info

    def fill_model_config(self, values: dict[str, Any], info: ASRDataInfo) -> dict[str, Any]:
        targets = values.get("targets", "phonemes")
        symbols = info.phoneme_symbols if targets == "phonemes" else info.char_symbols
        if not symbols:
            raise BadInputError(
                f"{info.source} gives no {targets} to train on",
                "phonemes need eSpeak NG (pip install 'genlab[audio]'); or --set model.targets=chars",
            )
        return {**values, "sample_rate": info.sample_rate, "language": info.language, "symbols": symbols}

    def write_samples(self, model: GenerativeModel, stem: Path, seed: int) -> Path:
        """Transcripts of a few held-out utterances beside their references."""
        from genlab.speech.asr.model import SEPARATOR

        path = stem.with_suffix(".txt")
        path.parent.mkdir(parents=True, exist_ok=True)
        if self._preview is None:
            path.write_text("no data loaded in this process to transcribe\n", encoding="utf-8")
            return path
        waves, phonemes, chars = self._preview
        refs = phonemes if model.config.targets == "phonemes" else chars
        lines = []
        for ref, hyp in zip(refs, model.decode(waves), strict=True):
            lines += [f"ref: {model.to_text(ref.split(SEPARATOR))}", f"hyp: {model.to_text(hyp)}", ""]
        path.write_text("\n".join(lines), encoding="utf-8")
        return path

    def eval_context(self, model: GenerativeModel, request) -> EvalContext:
        return evaluation.model_context(self, model, request)

    def eval_protocol(self, ctx: EvalContext) -> dict[str, Any]:
        return evaluation.model_protocol(ctx)

    def describe_data(self, info: ASRDataInfo) -> str:
        return describe_asr_data(info)


TASKS.register(ASRTask.name)(ASRTask())
