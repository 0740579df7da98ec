"""The ``audio-denoising`` task: clean speech + noises in, speech enhancers out.

``genlab train audio-denoising --data DIR --noise white --noise babble --noise NOISE_DIR --snr -5:20
--max-minutes 30 --threads 1`` trains ``audio/unet-mask`` on mixtures made on the fly (:mod:`.data`);
``genlab denoise-audio noisy.wav clean.wav --model RUN`` enhances a recording of any length (:mod:`.pipelines`);
``genlab eval RUN`` scores SI-SDR, its improvement, PESQ, STOI and SNR on seeded test mixtures of the held-out
speech, beside the noisy input, spectral subtraction and a Wiener filter (:mod:`.evaluation`).

The sample report of a run (``samples/*.png``) shows spectrograms of held-out mixtures — noisy | enhanced |
clean — and ``samples/*.wav`` the first of them as audio, the three versions one after the other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from genlab.audio.enhancement import evaluation
from genlab.audio.enhancement.data import EnhancementDataConfig, EnhancementDataInfo, describe, load_enhancement_data
from genlab.audio.enhancement.pipelines import AudioDenoisingPipeline
from genlab.audio.enhancement.unet import TASK
from genlab.core.errors import ConfigError
from genlab.core.evaluation import EvalContext
from genlab.core.model import GenerativeModel
from genlab.core.registry import TASKS
from genlab.core.task import Task

PREVIEW = 3  # mixtures in the sample report
GAP_SECONDS = 0.3  # silence between noisy, enhanced and clean in the sample WAV


class AudioDenoisingTask(Task):
    name = TASK
    modality = "audio"
    description = "remove noise from speech with models trained on clean speech mixed with noises on the fly"
    data_config_class = EnhancementDataConfig
    default_model = "unet-mask"
    pipeline_class = AudioDenoisingPipeline
    cli_options = {
        "--sample-rate": "data.sample_rate",
        "--segment-seconds": "data.segment_seconds",
        "--snr": "data.snr",
        "--noise": "data.noise",
        "--extra-speech": "data.extra_speech",
        "--val-fraction": "data.val_fraction",
        "--max-files": "data.max_files",
        "--base-channels": "model.base_channels",
        "--lr": "model.lr",
    }
    eval_request_class = evaluation.EnhancementEvalRequest

    def __init__(self):
        self._preview: list[tuple[torch.Tensor, torch.Tensor, dict[str, Any]]] = []
        self._preview_rate = 0

    def load_data(self, data_cfg: EnhancementDataConfig):
        train, val, info = load_enhancement_data(data_cfg)
        state = torch.random.get_rng_state()
        if val is not None:
            self._preview = val.items[:PREVIEW]
        else:  # no held-out speech: preview training draws, without shifting the training draws
            self._preview = [(*train[i], {"snr": float("nan"), "noise": "?"}) for i in range(min(PREVIEW, len(train)))]
        torch.random.set_rng_state(state)
        self._preview_rate = info.sample_rate
        return train, val, info

    def fill_model_config(self, values: dict[str, Any], info: EnhancementDataInfo) -> dict[str, Any]:
        if "sample_rate" in values and values["sample_rate"] != info.sample_rate:
            raise ConfigError(
                f"model.sample_rate={values['sample_rate']} does not match the data ({info.sample_rate} Hz)",
                "set the rate on the data instead (--sample-rate) or drop the override",
            )
        return {**values, "sample_rate": info.sample_rate}

    def write_samples(self, model: GenerativeModel, stem: Path, seed: int) -> Path:
        """Spectrograms of held-out mixtures (noisy | enhanced | clean) and a WAV of the first one."""
        from genlab.audio.io import write_audio
        from genlab.audio.plots import save_spectrogram_grid

        stem.parent.mkdir(parents=True, exist_ok=True)
        if not self._preview:
            path = stem.with_suffix(".txt")
            path.write_text("no data loaded in this process to preview enhancements on\n", encoding="utf-8")
            return path
        rate = self._preview_rate
        waves, titles = [], []
        for noisy, clean, facts in self._preview:
            waves += [noisy, model.enhance(noisy), clean]
            titles += [f"noisy ({facts['noise']}, {facts['snr']:.1f} dB)", "enhanced", "clean"]
        gap = torch.zeros(int(GAP_SECONDS * rate))
        write_audio(stem.with_suffix(".wav"), torch.cat([waves[0], gap, waves[1], gap, waves[2]]), rate)
        c = model.config
        return save_spectrogram_grid(waves, rate, stem.with_suffix(".png"), titles=titles, ncols=3, n_fft=c.n_fft,
                                     hop_length=c.hop_length, n_mels=None)  # fmt: skip

    def eval_context(self, model: GenerativeModel, request) -> EvalContext:
        return evaluation.model_context(self, model, request)

    def eval_protocol(self, ctx: EvalContext) -> dict[str, Any]:
        return evaluation.model_protocol(ctx)

    def eval_baselines(self, ctx: EvalContext, specs) -> dict[str, EvalContext]:
        return evaluation.baselines(ctx)

    def describe_data(self, info: EnhancementDataInfo) -> str:
        return describe(info)


TASKS.register(TASK)(AudioDenoisingTask())
