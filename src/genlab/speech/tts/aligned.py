"""Ground-truth-aligned mels: an acoustic model's own mels of its training recordings, frame for frame in step
with them — what ``genlab train vocoder --mels-from TTS_RUN`` fine-tunes a vocoder on.

A vocoder trained on mels analysed from recordings meets, at synthesis time, the acoustic model's mels instead:
smoother, with small errors of their own. Shen et al. 2018 trained Tacotron 2's WaveNet vocoder on the
acoustic model's teacher-forced predictions of the training set, aligned with the recordings, and Kong et al.
2020 fine-tuned HiFi-GAN the same way; both report the vocoder's quality rising on the acoustic model's output.
Here the pairs are made once, before training: the run's model is loaded, its recorded training data is read
again (same files, split and vocabulary), and :meth:`~genlab.speech.tts.base.AcousticModel.aligned_mels` gives,
for each utterance, the model's log-mels with the durations (FastSpeech: monotonic search on the recording;
Tacotron 2: teacher forcing) the recording has — as many frames as the recording's own mel.

References:
    J. Shen et al., "Natural TTS Synthesis by Conditioning WaveNet on Mel Spectrogram Predictions", ICASSP 2018.
    J. Kong, J. Kim and J. Bae, "HiFi-GAN: Generative Adversarial Networks for Efficient and High Fidelity Speech
    Synthesis", NeurIPS 2020.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils.data import default_collate

from genlab.audio.vocoder.frontend import MelFrontEnd
from genlab.core.console import info
from genlab.core.errors import BadInputError
from genlab.speech.asr.data import recorded_data_options
from genlab.speech.tts.base import AcousticModel
from genlab.speech.tts.data import TTSDataConfig, TTSDataset, load_tts_data

BATCH = 16  # utterances of similar length per teacher-forced pass


@dataclass
class AlignedMels:
    """Pairs ``(wave (samples,), log-mel (n_mels, samples // hop + 1))`` of the training and validation
    utterances, the mel front end they share and what they were made from."""

    front_end: MelFrontEnd
    train: list[tuple[torch.Tensor, torch.Tensor]]
    val: list[tuple[torch.Tensor, torch.Tensor]]
    source: str
    description: dict[str, Any] = field(default_factory=dict)


def aligned_mels(model: AcousticModel, data_dir: str | None = None, max_files: int | None = None) -> AlignedMels:
    """The ground-truth-aligned mels of ``model`` on its recorded training data (module docstring); ``data_dir``
    where its dataset lives now, ``max_files`` at most that many utterances."""
    options = recorded_data_options(model, TTSDataConfig, data_dir)
    if not options.get("source"):
        raise BadInputError(f"the {model.registry_name} model records no training data to make aligned mels of",
                            "pass a run of `genlab train tts` (its data.json names the corpus)")  # fmt: skip
    options |= {"max_files": max_files} if max_files else {}
    cfg = TTSDataConfig.build(options, where="data")
    train, val, _ = load_tts_data(cfg, vocabulary=model.vocabulary, keep_waves=True)
    info(f"making {model.registry_name}'s aligned mels of {len(train) + len(val or [])} utterances of {cfg.source}")
    pairs = [_pairs(model, dataset) if dataset is not None else [] for dataset in (train, val)]
    return AlignedMels(model.front_end, pairs[0], pairs[1], cfg.source,
                       {"acoustic_model": model.registry_name, "corpus": cfg.source, "n_train": len(pairs[0]),
                        "n_val": len(pairs[1])})  # fmt: skip


def _pairs(model: AcousticModel, dataset: TTSDataset) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(trimmed wave, aligned log-mel in float16) of every utterance of ``dataset``, in its order."""
    order = sorted(range(len(dataset)), key=lambda i: dataset.mels[i].shape[-1])  # little padding per batch
    out: list[Any] = [None] * len(dataset)
    with torch.no_grad():
        for start in range(0, len(order), BATCH):
            idx = order[start : start + BATCH]
            batch = default_collate([dataset[i] for i in idx])
            for i, mel in zip(idx, model.aligned_mels(batch), strict=True):
                if mel.shape[-1] != dataset.mels[i].shape[-1]:
                    raise RuntimeError(f"aligned mel of {mel.shape[-1]} frames for a recording of "
                                       f"{dataset.mels[i].shape[-1]}")  # fmt: skip
                out[i] = (dataset.waves[i], mel.to(torch.float16))
    return out
