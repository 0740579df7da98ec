"""The ``voice-conversion`` task and the ``voice`` verb: change who seems to speak, keep what is said.

``audio/world`` is the classical method (:mod:`genlab.audio.world`): no network, a closed-form fit. It
works without training — ``genlab voice in.wav out.wav --pitch +4 --formant 1.15`` or ``--gender female``
use a model built on the spot — and, trained on recordings of several speakers
(``genlab train voice-conversion --model world --data DIR``, files named LABEL_SPEAKER_TAKE.wav, class
sub-folders or a CSV), it stores each speaker's log-F0 mean and spread, so ``genlab voice in.wav out.wav
--model RUN --to-speaker theo`` moves the input's pitch to that speaker's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from pydantic import Field, field_validator

from genlab.audio.loading import AudioDataConfig, AudioDataInfo, describe_audio_data, load_audio_data
from genlab.audio.output import AudioOutput
from genlab.core.errors import BadInputError, DataError, GenlabError, unknown_name
from genlab.core.model import GenerativeModel, ModelConfig, register_model
from genlab.core.pipeline import Pipeline, Request, register_pipeline
from genlab.core.registry import TASKS
from genlab.core.task import Task

TASK = "voice-conversion"
#: the longest input the voice verb converts (WORLD analyses whole blocks; 30 minutes at 48 kHz is 330 MB)
MAX_SECONDS = 30 * 60
#: speaker names in file stems: SPEAKER_TAKE (VCTK: p225_003) or LABEL_SPEAKER_TAKE (FSDD: 7_theo_12)
SPEAKER_PATTERN = r"^(?:(?P<label>[^_]+)_)?(?P<speaker>[^_]+)_(?P<take>\d+)$"


class VoiceDataConfig(AudioDataConfig):
    """Recordings of several speakers; a clip's class is its speaker."""

    sample_rate: int = Field(16000, ge=1000, le=48000, description="recordings are resampled to this rate (Hz)")
    clip_seconds: float = Field(4.0, gt=0, le=60, description="length of the training clips (neural models)")
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
        if name not in self.config.speakers:
            raise unknown_name("speaker", name, self.config.speakers)
        mean, std = self.speaker_log_f0[self.config.speakers.index(name)].tolist()
        return mean, std


class VoiceRequest(Request):
    """Options of ``genlab voice``."""

    audio: str = Field(description="the recording to convert (WAV, FLAC, OGG)", json_schema_extra={"positional": True})
    pitch: float = Field(0.0, ge=-24, le=24, description="pitch shift in semitones (+12: an octave up)")
    formant: float | None = Field(
        None, ge=0.5, le=2.0, description="formant scaling (>1: a shorter vocal tract, e.g. 1.15 toward a female "
        "voice; default 1, or chosen by --gender / --to-speaker)",
    )  # fmt: skip
    gender: Literal["female", "male"] | None = Field(
        None, description="preset: reach a typical female (210 Hz) or male (120 Hz) pitch, formants to match"
    )
    to_speaker: str | None = Field(None, description="a speaker the run was trained on: move the pitch to theirs")
    f0_method: Literal["harvest", "dio"] | None = Field(None, description="F0 estimator (default: the model's)")

    @field_validator("audio", mode="before")
    @classmethod
    def _path(cls, value: Any) -> Any:
        return str(value) if isinstance(value, Path) else value


@register_pipeline("audio/voice")
class VoicePipeline(Pipeline):
    """``pipe("in.wav", pitch=4)`` → :class:`AudioOutput` at the input's sample rate."""

    task = TASK
    verb = "voice"
    description = "change a recording's voice: pitch, formants, gender presets or a trained target speaker"
    request_class = VoiceRequest
    output_class = AudioOutput
    positional_out = True
    builtin_model = "audio/world"
    model: WorldVoice

    @classmethod
    def model_problem(cls, model: GenerativeModel) -> str | None:
        return None if isinstance(model, WorldVoice) else f"{model.registry_name} has no WORLD conversion"

    def default_filename(self, request: VoiceRequest) -> str:
        return f"{Path(request.audio).stem}-voice.wav"

    def run(self, request: VoiceRequest) -> AudioOutput:
        from genlab.audio import world
        from genlab.audio.io import audio_info, read_audio

        if request.gender and request.to_speaker:
            raise BadInputError("--gender and --to-speaker both set the pitch", "give one of them")
        info = audio_info(request.audio)
        if info.seconds > MAX_SECONDS:
            raise BadInputError(
                f"{request.audio} lasts {info.seconds / 60:.0f} minutes; voice conversion takes up to "
                f"{MAX_SECONDS // 60}", "split it first, e.g. sox in.wav part.wav trim 0 1800 : newfile : restart",
            )  # fmt: skip
        wave, rate = read_audio(request.audio)
        if request.to_speaker is not None:
            if not self.model.config.speakers:
                raise BadInputError(
                    "--to-speaker needs a run trained on recordings of speakers",
                    "genlab train voice-conversion --model world --data DIR (files LABEL_SPEAKER_TAKE.wav)",
                )
            settings = world.VoiceSettings(pitch=request.pitch, formant=request.formant or 1.0,
                                           target_log_f0=self.model.speaker_stats(request.to_speaker),
                                           formant_auto=request.formant is None)  # fmt: skip
        elif request.gender is not None:
            settings = world.gender_settings(request.gender, request.pitch, request.formant)
        else:
            settings = world.VoiceSettings(pitch=request.pitch, formant=request.formant or 1.0)
        method = request.f0_method or self.model.config.f0_method
        out = world.convert(wave, rate, settings, f0_method=method)
        done = {k: v for k, v in request.to_dict().items() if v is not None and k not in ("audio", "seed")}
        return AudioOutput(out, rate, {"source": request.audio, **done})

    def __call__(self, audio: str | Path, **options: Any) -> AudioOutput:
        return self.run(self.request(audio=str(audio), **options))


class VoiceConversionTask(Task):
    name = TASK
    modality = "audio"
    description = "convert voices: WORLD pitch/formant transforms fitted to the speakers of a recording folder"
    data_config_class = VoiceDataConfig
    default_model = "world"
    pipeline_class = VoicePipeline
    cli_options = {"--sample-rate": "data.sample_rate", "--f0-method": "model.f0_method"}

    def load_data(self, data_cfg: VoiceDataConfig):
        train, val, info = load_audio_data(data_cfg)
        if info.num_classes < 1 or not info.class_names:
            raise DataError(f"{info.source} names no speakers", "name files LABEL_SPEAKER_TAKE.wav or use a CSV")
        return train, val, info

    def fill_model_config(self, values: dict[str, Any], info: AudioDataInfo) -> dict[str, Any]:
        return {**values, "speakers": list(info.class_names), "sample_rate": info.sample_rate}

    def write_samples(self, model: GenerativeModel, stem: Path, seed: int) -> Path:
        """A table of the fitted speakers' geometric-mean F0 (exp of the mean log F0) and log-F0 spread."""
        path = stem.with_suffix(".txt")
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = ["speaker  f0_geometric_mean_hz  log_f0_std"]
        for name, (mean, std) in zip(model.config.speakers, model.speaker_log_f0.tolist(), strict=True):
            lines.append(f"{name}  {torch.tensor(mean).exp():.1f}  {std:.3f}")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def describe_data(self, info: AudioDataInfo) -> str:
        return describe_audio_data(info)


TASKS.register(VoiceConversionTask.name)(VoiceConversionTask())
