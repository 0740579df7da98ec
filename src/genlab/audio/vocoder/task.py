"""The ``vocoder`` task: speech recordings in, models that turn log-mel spectrograms back into speech out.

``genlab train vocoder --data ../shared/data/speech/ljspeech-mini/wavs --max-minutes 30 --threads 1`` trains
``audio/vocos`` on random segments of the recordings (:class:`VocoderDataConfig`: any folder, ``fsdd`` or
``builtin:espeak-digits``; :class:`SegmentDataset`: ``segments_per_epoch`` crops drawn ∝ recording length; the
held-out recordings' centre segments for validation). ``genlab vocode in.wav out.wav --model RUN`` resynthesises
a recording through its mels (:mod:`.pipelines`); ``genlab eval RUN`` scores LSD, PESQ, STOI and mel L1 of the
held-out recordings beside Griffin-Lim from the same mels (:mod:`.evaluation`).

**Sample rate**: 16 kHz by default, the rate of wide-band speech (PESQ's wide-band mode, ASR corpora, most TTS
front ends at or above it): a folder at 22.05, 24 or 48 kHz is resampled down, which keeps the whole speech band
up to 8 kHz. FSDD is recorded at 8 kHz: train on it with ``--sample-rate 8000`` (at 16 kHz its upper half-band
would be empty and the model would learn to write silence there; the task says so when it loads FSDD).

The sample report of a run (``samples/*.png``) shows spectrograms of held-out recordings — original | the
model's resynthesis | Griffin-Lim (32 iterations) from the same mels — and ``samples/*.wav`` the first of them
as audio, the three versions one after the other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import Field
from torch.utils.data import Dataset

from genlab.audio.loading import (
    AudioDataConfig,
    AudioDataInfo,
    ClipDataset,
    describe_audio_data,
    load_audio_data,
    parse_source,
)
from genlab.audio.vocoder import evaluation
from genlab.audio.vocoder.base import TASK, Vocoder
from genlab.audio.vocoder.pipelines import VocodePipeline
from genlab.core.console import info
from genlab.core.errors import ConfigError
from genlab.core.evaluation import EvalContext
from genlab.core.registry import TASKS
from genlab.core.task import Task

PREVIEW = 3  # held-out recordings in the sample report
PREVIEW_SECONDS = 3.0  # each cut to this
GAP_SECONDS = 0.3  # silence between the versions in the sample WAV
NATIVE_RATES = {"fsdd": 8000}  # datasets recorded below the default rate


class VocoderDataConfig(AudioDataConfig):
    """Speech recordings and the training segments cut from them."""

    sample_rate: int = Field(
        16000, ge=8000, le=48000, description="recordings are resampled to this rate (Hz); FSDD is 8000"
    )
    clip_seconds: float = Field(
        0.5, ge=0.05, le=10, description="length of the training segments: random crops of the recordings, seconds"
    )
    labels: Literal["auto", "name", "folder", "csv", "none"] = Field(
        "none", description="what is said and who says it do not matter to a vocoder: no labels by default"
    )
    val_fraction: float = Field(0.1, ge=0.0, lt=0.9, description="share of the recordings held out for evaluation")
    segments_per_epoch: int = Field(
        2000, ge=1, le=1_000_000, description="random training segments that make one epoch (drawn ∝ recording length)"
    )
    mels_from: str | None = Field(
        None, description="a run of `genlab train tts`: train on its acoustic model's ground-truth-aligned mels of "
        "its own training recordings, paired with them (--data must name that corpus; start from a trained "
        "vocoder with --init-from): a vocoder fine-tuned to the mels it will be given",
    )  # fmt: skip


class SegmentDataset(Dataset):
    """``length`` random segments an epoch: a recording drawn with probability ∝ its length (every second of
    speech equally likely; a recording shorter than a segment counts as one segment), then a random crop (or
    offset) and gain of it, as :class:`~genlab.audio.loading.ClipDataset` augments."""

    def __init__(self, clips: ClipDataset, length: int):
        self.clips, self.length = clips, length
        self.weights = torch.tensor([float(max(w.shape[-1], clips.clip_samples)) for w in clips.waves])

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.clips[int(torch.multinomial(self.weights, 1))]


class AlignedSegmentDataset(Dataset):
    """Segments of (wave, log-mel) pairs whose mel was not analysed from the wave (an acoustic model's aligned
    mels, :mod:`genlab.speech.tts.aligned`): ``(wave (frames · hop,), mel (n_mels, frames + 1))``, frame ``f`` of
    the mel centred on sample ``f · hop`` of the wave (centred STFT frames). Training: ``length`` random crops an
    epoch, an utterance drawn ∝ its length; ``random=False``: each utterance's centre segment (validation).
    Utterances shorter than a segment are left out (counted in :attr:`skipped`)."""

    def __init__(self, pairs: list[tuple[torch.Tensor, torch.Tensor]], hop: int, frames: int, length: int | None = None,
                 random: bool = True):  # fmt: skip
        self.hop, self.frames, self.random = hop, frames, random
        self.pairs = [(w, m) for w, m in pairs if m.shape[-1] > frames and len(w) >= frames * hop]
        self.skipped = len(pairs) - len(self.pairs)
        self.length = length if random and length else len(self.pairs)
        self.weights = torch.tensor([float(m.shape[-1]) for _, m in self.pairs])

    def __len__(self) -> int:
        return self.length if self.pairs else 0

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        i = int(torch.multinomial(self.weights, 1)) if self.random else index
        wave, mel = self.pairs[i]
        last = min(mel.shape[-1] - 1 - self.frames, len(wave) // self.hop - self.frames)
        start = int(torch.randint(0, last + 1, ())) if self.random else last // 2
        segment = wave[start * self.hop : (start + self.frames) * self.hop]
        return segment.float(), mel[:, start : start + self.frames + 1].float()


class VocoderTask(Task):
    name = TASK
    modality = "audio"
    description = "turn log-mel spectrograms back into speech with neural vocoders trained on any speech folder"
    data_config_class = VocoderDataConfig
    default_model = "vocos"
    pipeline_class = VocodePipeline
    cli_options = {
        "--sample-rate": "data.sample_rate",
        "--clip-seconds": "data.clip_seconds",
        "--val-fraction": "data.val_fraction",
        "--max-files": "data.max_files",
        "--segments-per-epoch": "data.segments_per_epoch",
        "--n-mels": "model.n_mels",
        "--hop-length": "model.hop_length",
        "--dim": "model.dim",
        "--layers": "model.layers",
        "--lr": "model.lr",
        "--adversarial-weight": "model.adversarial_weight",
        "--mels-from": "data.mels_from",
    }
    eval_request_class = evaluation.VocoderEvalRequest

    def __init__(self):
        self._preview: list[tuple[torch.Tensor, torch.Tensor | None]] = []

    def load_data(self, data_cfg: VocoderDataConfig):
        if data_cfg.mels_from:
            return self._load_aligned(data_cfg)
        name, _ = parse_source(data_cfg.source)
        native = NATIVE_RATES.get(name)
        if native is not None and data_cfg.sample_rate > native:
            info(f"[yellow]{name} is recorded at {native} Hz: at {data_cfg.sample_rate} Hz the band above "
                 f"{native // 2} Hz is empty[/] (train with --sample-rate {native})")  # fmt: skip
        train, val, data_info = load_audio_data(data_cfg)
        source = val if val is not None else train
        limit = int(PREVIEW_SECONDS * data_cfg.sample_rate)
        self._preview = [(w[:limit], None) for w in source.waves[:PREVIEW]]
        return SegmentDataset(train, data_cfg.segments_per_epoch), val, data_info

    def fine_tune_values(self, values: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
        """A vocoder fine-tuned from another (``--init-from``) keeps its sizes and front end; options given win."""
        return {**base, **values}

    def _load_aligned(self, data_cfg: VocoderDataConfig):
        """Train/val segments of an acoustic model's aligned mels and their recordings (``data.mels_from``)."""
        from genlab.core.model import GenerativeModel
        from genlab.core.runs import resolve_model_dir

        acoustic = GenerativeModel.from_pretrained(resolve_model_dir(data_cfg.mels_from))
        provider = getattr(TASKS.get(acoustic.task), "aligned_mels", None)
        if provider is None:
            raise ConfigError(f"{data_cfg.mels_from} holds a {acoustic.registry_name} model, which gives no "
                              "aligned mels", "pass a run of `genlab train tts` to --mels-from")  # fmt: skip
        recorded = (acoustic.provenance.data or {}).get("config") or {}
        if recorded.get("source") and recorded["source"] != data_cfg.source:
            raise ConfigError(
                f"--mels-from makes mels of the corpus {acoustic.registry_name} was trained on, "
                f"{recorded['source']}, not {data_cfg.source}",
                f"pass --data {recorded['source']}",
            )
        mels = provider(acoustic, data_cfg.data_dir, data_cfg.max_files)
        front = mels.front_end
        frames = max(1, round(data_cfg.clip_seconds * front.sample_rate / front.hop_length))
        train = AlignedSegmentDataset(mels.train, front.hop_length, frames, data_cfg.segments_per_epoch)
        val = AlignedSegmentDataset(mels.val, front.hop_length, frames, random=False) if mels.val else None
        if not len(train):
            raise ConfigError(f"every utterance of {mels.source} is shorter than a {data_cfg.clip_seconds:g} s "
                              "segment", "train on shorter segments (--clip-seconds)")  # fmt: skip
        limit = int(PREVIEW_SECONDS * front.sample_rate)
        shown = mels.val or mels.train
        self._preview = [(w[:limit], m[:, : front.frames(len(w[:limit]))].float()) for w, m in shown[:PREVIEW]]
        skipped = [f"{d.skipped} utterance(s) shorter than a segment" for d in (train, val) if d and d.skipped]
        seconds = sum(len(w) for w, _ in mels.train + mels.val) / front.sample_rate
        info = AudioDataInfo(
            source=data_cfg.source, sample_rate=front.sample_rate, clip_samples=frames * front.hop_length,
            num_classes=0, class_names=[], speakers=[], n_train=len(train.pairs), n_val=len(val.pairs) if val else 0,
            seconds=round(seconds, 1), skipped=skipped,
            split={"method": f"the split of {data_cfg.mels_from}", **mels.description},
            config=data_cfg.to_dict() | {"front_end": front.front_end().to_dict()},
        )  # fmt: skip
        return train, val, info

    def fill_model_config(self, values: dict[str, Any], info: AudioDataInfo) -> dict[str, Any]:
        if "sample_rate" in values and values["sample_rate"] != info.sample_rate:
            raise ConfigError(
                f"model.sample_rate={values['sample_rate']} does not match the data ({info.sample_rate} Hz)",
                "set the rate on the data instead (--sample-rate) or drop the override",
            )
        front = (info.config or {}).get("front_end")  # aligned mels: the vocoder must analyse as they were made
        if front:
            clash = {k: (values[k], v) for k, v in front.items() if values.get(k) not in (None, v)}
            if clash:
                raise ConfigError(f"the aligned mels were made with another front end: {clash} (given, theirs)",
                                  "drop those model options")  # fmt: skip
            return {**values, **front}
        return {**values, "sample_rate": info.sample_rate}

    def write_samples(self, model: Vocoder, stem: Path, seed: int) -> Path:
        """Spectrograms of held-out recordings (original | vocoded | Griffin-Lim) and a WAV of the first one."""
        from genlab.audio.io import write_audio
        from genlab.audio.plots import save_spectrogram_grid

        stem.parent.mkdir(parents=True, exist_ok=True)
        if not self._preview:
            path = stem.with_suffix(".txt")
            path.write_text("no data loaded in this process to preview the vocoder on\n", encoding="utf-8")
            return path
        rate, c = model.sample_rate, model.config
        generator = torch.Generator().manual_seed(seed)
        waves, titles = [], []
        for wave, given in self._preview:  # given: an acoustic model's aligned mel (--mels-from), else None
            mel = model.mel(wave) if given is None else given
            waves += [wave, model.vocode(mel, len(wave)), c.griffin_lim(mel, 32, len(wave), generator)]
            titles += ["original", model.registry_name, "Griffin-Lim (32 iterations)"]
        gap = torch.zeros(int(GAP_SECONDS * rate))
        write_audio(stem.with_suffix(".wav"), torch.cat([waves[0], gap, waves[1], gap, waves[2]]), rate)
        return save_spectrogram_grid(waves, rate, stem.with_suffix(".png"), titles=titles, ncols=3,
                                     n_fft=c.n_fft, hop_length=c.hop_length, n_mels=c.n_mels)  # fmt: skip

    def eval_context(self, model: Vocoder, request) -> EvalContext:
        return evaluation.model_context(self, model, request)

    def eval_protocol(self, ctx: EvalContext) -> dict[str, Any]:
        return evaluation.model_protocol(ctx)

    def eval_baselines(self, ctx: EvalContext, specs) -> dict[str, EvalContext]:
        return evaluation.baselines(ctx)

    def describe_data(self, info: AudioDataInfo) -> str:
        return describe_audio_data(info)


TASKS.register(TASK)(VocoderTask())
