"""The ``voice-conversion`` task and the ``voice`` verb: change who seems to speak, keep what is said.

Two models serve it:

* ``audio/world``, the classical method (:mod:`genlab.audio.world`): no network, a closed-form fit. It
  works without training — ``genlab voice in.wav out.wav --pitch +4 --formant 1.15`` or ``--gender female``
  use a model built on the spot — and, trained on recordings of several speakers
  (``genlab train voice-conversion --model world --data DIR``, files named LABEL_SPEAKER_TAKE.wav, class
  sub-folders or a CSV), it stores each speaker's log-F0 mean and spread, so ``genlab voice in.wav out.wav
  --model RUN --to-speaker theo`` moves the input's pitch to that speaker's.
* ``audio/vc-autoencoder`` (:mod:`genlab.audio.vc`), AutoVC-style: trained by self-reconstruction on
  fixed-length clips (``--clip-seconds``) of the same recordings, it re-speaks the whole spectrogram with the
  target speaker's embedding (``genlab voice in.wav out.wav --model RUN --to-speaker theo``); pitch, formant
  and gender options are WORLD's and are refused for it with a hint.

**Sample rate.** ``--sample-rate`` defaults to the data's own rate capped at 16 kHz: a registered dataset's
native rate (FSDD: 8 kHz, the rate of the shipped judges), else the rate of the folder's first audio file
(sorted); recordings are resampled to it. Both models record it in their config.

``genlab eval RUN`` converts held-out clips to every other training speaker and asks two judge classifiers
who speaks and what is said (:mod:`genlab.audio.voice_evaluation`).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from pydantic import Field, field_validator

from genlab.audio import voice_evaluation
from genlab.audio.loading import AudioDataConfig, AudioDataInfo, ClipDataset, describe_audio_data, load_audio_data
from genlab.audio.output import AudioOutput
from genlab.audio.vc import TASK, VCAutoencoder
from genlab.core.errors import BadInputError, ConfigError, DataError, GenlabError, unknown_name
from genlab.core.evaluation import EvalContext, MetricSpec
from genlab.core.model import GenerativeModel, ModelConfig, register_model
from genlab.core.pipeline import Pipeline, Request, register_pipeline
from genlab.core.registry import DATASETS, TASKS
from genlab.core.task import Task

#: the longest input the voice verb converts (WORLD analyses whole blocks; 30 minutes at 48 kHz is 330 MB)
MAX_SECONDS = 30 * 60
#: speaker names in file stems: SPEAKER_TAKE (VCTK: p225_003) or LABEL_SPEAKER_TAKE (FSDD: 7_theo_12)
SPEAKER_PATTERN = r"^(?:(?P<label>[^_]+)_)?(?P<speaker>[^_]+)_(?P<take>\d+)$"
#: the default rate follows the data up to this (Hz); higher-rate recordings are resampled down to it
MAX_DEFAULT_RATE = 16000
PREVIEW_SPEAKERS = 6  # the sample sheet of a neural run converts one clip to at most this many speakers


class VoiceDataConfig(AudioDataConfig):
    """Recordings of several speakers; a clip's class is its speaker."""

    sample_rate: int | None = Field(
        None, ge=1000, le=48000, description="recordings are resampled to this rate (Hz; default: the data's own "
        f"rate, at most {MAX_DEFAULT_RATE}: 8000 for FSDD)",
    )  # fmt: skip
    clip_seconds: float = Field(
        2.0, gt=0, le=60, description="length of the training clips of neural models (FSDD digits fit in 1 s)"
    )
    label_field: Literal["label", "speaker"] = Field("speaker", description="the speaker is the class")
    labels: Literal["auto", "name", "folder", "csv", "none"] = Field(
        "none", description="what is said does not matter here: speakers come from the names (or a CSV)"
    )
    pattern: str | None = Field(
        SPEAKER_PATTERN, description="regular expression over file stems with a speaker group (default: "
        "SPEAKER_TAKE as VCTK's p225_003.wav, or LABEL_SPEAKER_TAKE as FSDD's 7_theo_12.wav)",
    )  # fmt: skip
    val_fraction: float = Field(0.0, ge=0.0, lt=0.9, description="share of the clips held out for validation")


class WorldConfig(ModelConfig):
    """WORLD voice conversion: the F0 estimator and, after a fit, the speakers it knows."""

    f0_method: Literal["harvest", "dio"] = Field(
        "harvest", description="F0 estimator: harvest (accurate) or dio + StoneMask (about 15× faster)"
    )
    speakers: list[str] = Field(default_factory=list, description="speakers whose log-F0 statistics were fitted")
    sample_rate: int = Field(16000, ge=1000, le=48000, description="rate the speakers' recordings were analysed at")


@register_model("audio/world")
class WorldVoice(GenerativeModel):
    """WORLD analysis → F0 and envelope transforms → WORLD synthesis; fitted per-speaker log-F0 statistics."""

    config_class = WorldConfig
    task: ClassVar[str] = TASK
    description: ClassVar[str] = "WORLD vocoder voice conversion: pitch, formants, gender presets, target speakers"
    fits_in_closed_form: ClassVar[bool] = True
    config: WorldConfig

    def __init__(self, config: WorldConfig):
        super().__init__(config)
        # (mean, std) of log F0 over each speaker's voiced frames; filled by fit()
        self.register_buffer("speaker_log_f0", torch.zeros(len(config.speakers), 2))

    def optimizer_groups(self):
        raise GenlabError(f"{self.registry_name} is fitted in closed form, not by gradient steps")

    def fit(self, train_dataset, val_dataset=None) -> dict[str, float]:
        """Log-F0 mean and standard deviation of each speaker, from WORLD analyses of their recordings."""
        from genlab.audio import world

        per_speaker: dict[int, list] = {}
        for wave, label in zip(train_dataset.waves, train_dataset.labels, strict=True):
            if label >= 0:
                analysis = world.analyze(wave, self.config.sample_rate, self.config.f0_method)
                per_speaker.setdefault(label, []).append(analysis)
        missing = [self.config.speakers[i] for i in range(len(self.config.speakers)) if i not in per_speaker]
        if missing:
            raise DataError(f"no recordings of {', '.join(missing)}", "every speaker needs some voiced recordings")
        for i, feats in per_speaker.items():
            stats = world.log_f0_stats(feats)
            if stats is None:
                raise DataError(f"no voiced frames in the recordings of {self.config.speakers[i]}")
            self.speaker_log_f0[i] = torch.tensor(stats)
        medians = self.speaker_log_f0[:, 0].exp()
        return {"speakers": float(len(per_speaker)), "median_f0_min": float(medians.min()),
                "median_f0_max": float(medians.max())}  # fmt: skip

    def speaker_stats(self, name: str) -> tuple[float, float]:
        """(mean, std) of a fitted speaker's log F0; an unknown name raises with suggestions."""
        if name not in self.config.speakers:
            raise unknown_name("speaker", name, self.config.speakers)
        mean, std = self.speaker_log_f0[self.config.speakers.index(name)].tolist()
        return mean, std

    def speaker_settings(self, to_speaker: str, pitch: float = 0.0, formant: float | None = None,
                         source: str | None = None):  # fmt: skip
        """The :class:`~genlab.audio.world.VoiceSettings` that move a voice to ``to_speaker``'s log-F0 (and formants
        by the pitch ratio, unless ``formant`` is given); ``source``, a fitted speaker, gives the input's statistics
        (else they are measured on the input)."""
        from genlab.audio import world

        if not self.config.speakers:
            raise BadInputError(
                "--to-speaker needs a run trained on recordings of speakers",
                "genlab train voice-conversion --model world --data DIR (files LABEL_SPEAKER_TAKE.wav)",
            )
        known = source if source in self.config.speakers else None
        return world.VoiceSettings(pitch=pitch, formant=formant or 1.0, target_log_f0=self.speaker_stats(to_speaker),
                                   source_log_f0=self.speaker_stats(known) if known else None,
                                   formant_auto=formant is None)  # fmt: skip

    def convert_clips(self, waves: torch.Tensor, targets: list[str], sources: list[str | None] = (),
                      generator: torch.Generator | None = None) -> torch.Tensor:  # fmt: skip
        """Clips (N, samples) at ``sample_rate`` moved to the log-F0 of ``targets`` (one name each); ``sources``
        (their speakers, when fitted) give the input statistics. WORLD draws nothing at random."""
        from genlab.audio import world

        sources = list(sources) or [None] * len(waves)
        out = [world.convert(w, self.config.sample_rate, self.speaker_settings(t, source=s), self.config.f0_method)
               for w, t, s in zip(waves, targets, sources, strict=True)]  # fmt: skip
        return torch.stack(out) if out else waves.clone()


class VoiceRequest(Request):
    """Options of ``genlab voice``."""

    audio: str = Field(
        description="the recording to convert (WAV, FLAC, OGG)", json_schema_extra={"file": "audio", "positional": True}
    )
    pitch: float = Field(0.0, ge=-24, le=24, description="pitch shift in semitones (+12: an octave up; WORLD only)")
    formant: float | None = Field(
        None, ge=0.5, le=2.0, description="formant scaling (>1: a shorter vocal tract, e.g. 1.15 toward a female "
        "voice; default 1, or chosen by --gender / --to-speaker; WORLD only)",
    )  # fmt: skip
    gender: Literal["female", "male"] | None = Field(
        None, description="preset: reach a typical female (210 Hz) or male (120 Hz) pitch, formants to match "
        "(WORLD only)",
    )  # fmt: skip
    to_speaker: str | None = Field(
        None, description="a speaker the run was trained on: WORLD moves the pitch to theirs, a neural run "
        "re-speaks the recording in their voice",
    )  # fmt: skip
    f0_method: Literal["harvest", "dio"] | None = Field(
        None, description="F0 estimator (default: the model's; WORLD only)"
    )

    @field_validator("audio", mode="before")
    @classmethod
    def _path(cls, value: Any) -> Any:
        return str(value) if isinstance(value, Path) else value


@register_pipeline("audio/voice")
class VoicePipeline(Pipeline):
    """``pipe("in.wav", pitch=4)`` or ``pipe("in.wav", to_speaker="theo")`` → :class:`AudioOutput` at the input's
    sample rate and length."""

    task = TASK
    verb = "voice"
    description = "change a recording's voice: pitch, formants, gender presets or a trained target speaker"
    request_class = VoiceRequest
    output_class = AudioOutput
    positional_out = True
    builtin_model = "audio/world"
    model: WorldVoice | VCAutoencoder

    @classmethod
    def model_problem(cls, model: GenerativeModel) -> str | None:
        if isinstance(model, (WorldVoice, VCAutoencoder)):
            return None
        return f"{model.registry_name} has no voice conversion"

    def default_filename(self, request: VoiceRequest) -> str:
        return f"{Path(request.audio).stem}-voice.wav"

    def run(self, request: VoiceRequest) -> AudioOutput:
        from genlab.audio.io import audio_info, read_audio

        info = audio_info(request.audio)
        if info.seconds > MAX_SECONDS:
            raise BadInputError(
                f"{request.audio} lasts {info.seconds / 60:.0f} minutes; voice conversion takes up to "
                f"{MAX_SECONDS // 60}", "split it first, e.g. sox in.wav part.wav trim 0 1800 : newfile : restart",
            )  # fmt: skip
        if isinstance(self.model, VCAutoencoder):
            self._check_neural_request(request)
            wave, rate = read_audio(request.audio)
            out = self._convert_neural(wave, rate, request)
        else:
            if request.gender and request.to_speaker:
                raise BadInputError("--gender and --to-speaker both set the pitch", "give one of them")
            wave, rate = read_audio(request.audio)
            out = self._convert_world(wave, rate, request)
        done = {k: v for k, v in request.to_dict().items() if v is not None and k not in ("audio", "seed")}
        return AudioOutput(out, rate, {"source": request.audio, "model": self.model.registry_name, **done})

    def _convert_world(self, wave: torch.Tensor, rate: int, request: VoiceRequest) -> torch.Tensor:
        from genlab.audio import world

        if request.to_speaker is not None:
            settings = self.model.speaker_settings(request.to_speaker, request.pitch, request.formant)
        elif request.gender is not None:
            settings = world.gender_settings(request.gender, request.pitch, request.formant)
        else:
            settings = world.VoiceSettings(pitch=request.pitch, formant=request.formant or 1.0)
        return world.convert(wave, rate, settings, f0_method=request.f0_method or self.model.config.f0_method)

    def _check_neural_request(self, request: VoiceRequest) -> None:
        """A neural run re-speaks with a target speaker; WORLD's pitch/formant/gender options do not apply."""
        speakers = ", ".join(self.model.config.speakers)
        options = {"--pitch": request.pitch != 0, "--formant": request.formant, "--gender": request.gender,
                   "--f0-method": request.f0_method}  # fmt: skip
        worldly = [flag for flag, given in options.items() if given]
        if worldly:
            raise BadInputError(
                f"{' and '.join(worldly)} {'is a WORLD option' if len(worldly) == 1 else 'are WORLD options'}; "
                f"{self.model.registry_name} converts to a trained speaker",
                f"convert first (--to-speaker, one of {speakers}), then change the result with WORLD: "
                f"genlab voice converted.wav out.wav {' '.join(worldly)} …",
            )
        if request.to_speaker is None:
            raise BadInputError(f"{self.model.registry_name} needs a target speaker",
                                f"give --to-speaker, one of {speakers}")  # fmt: skip

    def _convert_neural(self, wave: torch.Tensor, rate: int, request: VoiceRequest) -> torch.Tensor:
        """``wave`` at ``rate`` → the model's rate → converted → back to ``rate`` and the input's length."""
        from genlab.audio.io import fit_length, is_silent, resample
        from genlab.core.seeding import make_generator

        model_rate = self.model.config.sample_rate
        self.model.speaker_index(request.to_speaker)  # an unknown speaker fails before any work
        if wave.numel() == 0:
            raise BadInputError("the audio is empty", "pass a recording with speech in it")
        if is_silent(wave):
            warnings.warn(f"{request.audio} is silent: it comes back unchanged", stacklevel=2)
            return wave.clone()
        x = resample(wave, rate, model_rate).float()
        seed = 0 if request.seed is None else request.seed  # Griffin-Lim's random phase: the same output every time
        y = self.model.convert(x, request.to_speaker, make_generator(seed))
        return fit_length(resample(y, model_rate, rate).float(), len(wave)).clamp(-1, 1)

    def __call__(self, audio: str | Path, **options: Any) -> AudioOutput:
        return self.run(self.request(audio=str(audio), **options))


def native_rate(cfg: VoiceDataConfig) -> int:
    """The rate recordings of ``cfg.source`` are read at when ``sample_rate`` is not given: the dataset's own rate
    (a registered dataset's, else the first audio file's in the folder), at most :data:`MAX_DEFAULT_RATE`."""
    from genlab.audio.io import AUDIO_SUFFIXES, audio_info
    from genlab.audio.loading import parse_source

    name, _ = parse_source(cfg.source)
    rate = None
    if name in DATASETS:
        rate = DATASETS.get(name).extras.get("sample_rate")
    elif Path(cfg.source).is_dir():
        first = next((p for p in sorted(Path(cfg.source).rglob("*")) if p.suffix.lower() in AUDIO_SUFFIXES), None)
        rate = audio_info(first).sample_rate if first is not None else None
    return min(int(rate or MAX_DEFAULT_RATE), MAX_DEFAULT_RATE)


class VoiceConversionTask(Task):
    name = TASK
    modality = "audio"
    description = "convert voices: WORLD pitch/formant transforms or an AutoVC-style network, fitted to the speakers"
    data_config_class = VoiceDataConfig
    default_model = "world"
    pipeline_class = VoicePipeline
    cli_options = {
        "--sample-rate": "data.sample_rate",
        "--clip-seconds": "data.clip_seconds",
        "--val-fraction": "data.val_fraction",
        "--f0-method": "model.f0_method",
        "--bottleneck-channels": "model.bottleneck_channels",
        "--downsample": "model.downsample",
        "--lr": "model.lr",
    }
    eval_request_class = voice_evaluation.VoiceEvalRequest

    def __init__(self):
        self._preview: tuple[torch.Tensor, str] | None = None  # a clip of this process's data and its speaker

    def load_data(self, data_cfg: VoiceDataConfig):
        from genlab.audio.io import fit_length

        if data_cfg.sample_rate is None:
            data_cfg = data_cfg.model_copy(update={"sample_rate": native_rate(data_cfg)})
        train, val, info = load_audio_data(data_cfg)
        if info.num_classes < 1 or not info.class_names:
            raise DataError(f"{info.source} names no speakers", "name files LABEL_SPEAKER_TAKE.wav or use a CSV")
        train, val = _with_speakers(train), _with_speakers(val) if val is not None else None
        if len(train) == 0:
            raise DataError(f"no training recording of {info.source} names its speaker",
                            "name files LABEL_SPEAKER_TAKE.wav or SPEAKER_TAKE.wav, or use a CSV")  # fmt: skip
        shown = val if val is not None and len(val) else train
        self._preview = (fit_length(shown.waves[0], shown.clip_samples), info.class_names[shown.labels[0]])
        return train, val, info

    def check_model_fits_data(self, model_cls: type[GenerativeModel], info: AudioDataInfo) -> None:
        if issubclass(model_cls, VCAutoencoder) and info.num_classes < 2:
            raise ConfigError(
                f"{model_cls.registry_name} converts between speakers, but {info.source} has only "
                f"{', '.join(info.class_names) or 'no speaker'}",
                "train it on recordings of at least two speakers (files LABEL_SPEAKER_TAKE.wav or SPEAKER_TAKE.wav)",
            )

    def fill_model_config(self, values: dict[str, Any], info: AudioDataInfo) -> dict[str, Any]:
        return {**values, "speakers": list(info.class_names), "sample_rate": info.sample_rate}

    def write_samples(self, model: GenerativeModel, stem: Path, seed: int) -> Path:
        """WORLD: a table of the fitted speakers' geometric-mean F0 (exp of the mean log F0) and log-F0 spread.
        A neural model: a spectrogram sheet (and a WAV) of one held-out clip converted to each speaker."""
        if isinstance(model, VCAutoencoder):
            return self._conversion_sheet(model, stem, seed)
        path = stem.with_suffix(".txt")
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = ["speaker  f0_geometric_mean_hz  log_f0_std"]
        for name, (mean, std) in zip(model.config.speakers, model.speaker_log_f0.tolist(), strict=True):
            lines.append(f"{name}  {torch.tensor(mean).exp():.1f}  {std:.3f}")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def _conversion_sheet(self, model: VCAutoencoder, stem: Path, seed: int) -> Path:
        from genlab.audio.io import write_audio
        from genlab.audio.plots import save_spectrogram_grid
        from genlab.core.seeding import make_generator

        stem.parent.mkdir(parents=True, exist_ok=True)
        if self._preview is None:
            path = stem.with_suffix(".txt")
            path.write_text("no data loaded in this process to preview conversions on\n", encoding="utf-8")
            return path
        wave, speaker = self._preview
        targets = model.config.speakers[:PREVIEW_SPEAKERS]
        converted = model.convert(wave.expand(len(targets), -1), targets, make_generator(seed))
        waves, titles = [wave, *converted], [f"source ({speaker})", *(f"→ {t}" for t in targets)]
        rate = model.config.sample_rate
        gap = torch.zeros(rate // 4)
        write_audio(stem.with_suffix(".wav"), torch.cat([x for w in waves for x in (w, gap)]), rate)
        c = model.config
        return save_spectrogram_grid(waves, rate, stem.with_suffix(".png"), titles=titles, ncols=4, n_fft=c.n_fft,
                                     hop_length=c.hop_length, n_mels=c.n_mels)  # fmt: skip

    # Evaluation: held-out clips converted to every other speaker, judged by a speaker and a content classifier,
    # beside the unconverted clips and WORLD; see genlab.audio.voice_evaluation.
    def eval_context(self, model: GenerativeModel, request) -> EvalContext:
        return voice_evaluation.model_context(self, model, request)

    def eval_protocol(self, ctx: EvalContext) -> dict[str, Any]:
        return voice_evaluation.model_protocol(ctx)

    def eval_baselines(self, ctx: EvalContext, specs: list[MetricSpec]) -> dict[str, EvalContext]:
        return voice_evaluation.baseline_contexts(ctx)

    def describe_data(self, info: AudioDataInfo) -> str:
        return describe_audio_data(info)


def _with_speakers(dataset: ClipDataset) -> ClipDataset:
    """``dataset`` without the clips whose speaker is unknown (label −1)."""
    keep = [i for i, y in enumerate(dataset.labels) if y >= 0]
    if len(keep) == len(dataset.labels):
        return dataset
    return ClipDataset([dataset.waves[i] for i in keep], [dataset.labels[i] for i in keep], dataset.clip_samples,
                       augment=dataset.augment, gain_db=dataset.gain_db)  # fmt: skip


TASKS.register(VoiceConversionTask.name)(VoiceConversionTask())
