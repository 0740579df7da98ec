"""The ``speak`` pipeline: text in, speech out — ``genlab speak "…" --out fox.wav``.

Text is checked and cut into sentences (:func:`genlab.speech.text.split_sentences`; a long sentence is cut again at
commas, then spaces), each sentence into runs of one language (:func:`genlab.speech.text.script_runs`). Each run is
turned into ids by the acoustic model's front end, into log-mels by the model (``speed``; ``pitch`` and ``energy``
for the non-autoregressive model), and into a wave by the vocoder: the model's recorded vocoder (``--vocoder`` at
training), another vocoder run given with ``--vocoder RUN``, or Griffin-Lim (``--vocoder griffin-lim``, no
training). Sentences are synthesised one after the other and written as they come (a pause between them, a longer
one between paragraphs), so a 10,000-word ``--file`` streams in bounded memory.

**The default voice.** With no ``--model``, ``genlab speak`` uses the run ``voice-en`` (or ``voice-zh`` with
``--lang zh``) of the ``tts`` task in the runs folder (``./runs`` or ``$GENLAB_RUNS_DIR``), with the ``vocoder`` run
of the same name when there is one (else the vocoder recorded with the model, else Griffin-Lim): a voice trained by
genlab with the commands in docs/tts.md (``make voices``). Mixed English and Mandarin text is spoken part by part,
each with its language's default voice; with ``--model``, parts in another language than the model's are left out
with a warning naming them (a model speaks the language it was trained on).

Empty text, emoji-only text and text in another script raise :class:`~genlab.core.errors.BadInputError` with a hint.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import Field

from genlab.audio.output import AudioOutput
from genlab.audio.vocoder.frontend import MelFrontEnd
from genlab.core.errors import BadInputError, GenlabError
from genlab.core.pipeline import Pipeline, Request, register_pipeline
from genlab.speech import text as frontend
from genlab.speech.tts.base import TASK, AcousticModel, NothingToSpeak

SENTENCE_PAUSE = 0.25  # seconds of silence after each sentence
PARAGRAPH_PAUSE = 0.6  # after each paragraph (a blank line in the text)
MAX_FILE_BYTES = 50_000_000  # a --file larger than this is refused (50 MB of text: days of speech)
GRIFFIN_LIM = "griffin-lim"


class SpeakRequest(Request):
    """Options of ``genlab speak``."""

    text: str | None = Field(
        None, description="what to say (English or Mandarin; or --file)", json_schema_extra={"positional": True}
    )
    file: str | None = Field(None, description="a UTF-8 text file to read aloud, any length (streamed)",
                             json_schema_extra={"file": "text"})  # fmt: skip
    lang: Literal["en", "zh"] | None = Field(
        None, description="language of the default voice (without --model): en or zh (default: the text's first)"
    )
    speed: float = Field(1.0, ge=0.25, le=4.0, description="speaking rate: 2 is twice as fast")
    pitch: float = Field(0.0, ge=-12, le=12, description="pitch shift in semitones (fastspeech models)")
    energy: float = Field(0.0, ge=-3, le=3, description="loudness shift in the model's energy units (fastspeech)")
    speaker: str | None = Field(None, description="speaker name of a multi-speaker model (default: the first)")
    vocoder: str | None = Field(
        None, description="a vocoder run, or griffin-lim (default: the vocoder recorded with the model, else "
        "griffin-lim)", json_schema_extra={"server": False},
    )  # fmt: skip
    griffin_lim_iters: int = Field(32, ge=1, le=500, description="iterations of Griffin-Lim")
    seed: int | None = Field(None, description="seed of the model's and Griffin-Lim's randomness")


def default_voice(language: str) -> Path:
    """The run of the default voice of ``language`` (``voice-en`` / ``voice-zh`` of the ``tts`` task)."""
    from genlab.core.runs import runs_root

    return runs_root() / TASK / f"voice-{language}"


def load_voice(language: str) -> AcousticModel:
    """The default voice of ``language``, or BadInputError with the command that trains it."""
    from genlab.core.model import GenerativeModel
    from genlab.core.runs import resolve_model_dir

    path = default_voice(language)
    try:
        model = GenerativeModel.from_pretrained(resolve_model_dir(path))
    except GenlabError:
        corpus = f"builtin:espeak-{language}"
        raise BadInputError(
            f"no default {'English' if language == 'en' else 'Mandarin'} voice at {path}",
            f"train it once (offline, about 30 min): genlab train tts --model fastspeech --data {corpus} "
            f"--max-minutes 30 --name voice-{language}  (or `make voices`); or pass --model RUN",
        ) from None
    if not isinstance(model, AcousticModel):
        raise BadInputError(f"{path} holds a {model.registry_name} model, not a voice", "retrain the default voice")
    return model


def default_vocoder(language: str) -> str | None:
    """The vocoder of the default voice of ``language`` (the ``vocoder`` run ``voice-LANG``), None when absent."""
    from genlab.core.runs import runs_root

    path = runs_root() / "vocoder" / f"voice-{language}"
    return str(path) if (path / "model" / "config.json").is_file() else None


def load_vocoder(spec: str | None, model: AcousticModel):
    """The vocoder named by ``spec`` (a run), else the one recorded with ``model``; None for ``griffin-lim`` or
    none at all. Checked to invert ``model``'s mels."""
    spec = spec or model.config.vocoder
    if spec is None or spec == GRIFFIN_LIM:
        return None
    return open_vocoder(spec, model.front_end, f"the mels of {model.registry_name}")


def open_vocoder(spec: str, front: MelFrontEnd, what: str):
    """The vocoder run or model folder ``spec``, checked to invert mels of the front end ``front`` (``what``
    names them in the error)."""
    from genlab.audio.vocoder.base import Vocoder
    from genlab.core.model import GenerativeModel
    from genlab.core.runs import resolve_model_dir

    try:
        vocoder = GenerativeModel.from_pretrained(resolve_model_dir(spec))
    except GenlabError as e:
        e.hint = f"{e.hint}; or --vocoder griffin-lim (no training)".lstrip("; ")
        raise
    if not isinstance(vocoder, Vocoder):
        raise BadInputError(f"{spec} holds a {vocoder.registry_name} model, not a vocoder",
                            "pass a run of `genlab train vocoder`, or --vocoder griffin-lim")  # fmt: skip
    vocoder.front_end.check_matches(front, what)  # the vocoder checks the mels it is given
    return vocoder.eval()


def read_paragraphs(path: str | Path) -> Iterator[str]:
    """Paragraphs (runs of lines between blank lines) of a UTF-8 text file, read line by line."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"no text file at {path}", "pass a UTF-8 .txt file with --file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise BadInputError(f"{path} is larger than {MAX_FILE_BYTES // 1_000_000} MB", "split it into parts")
    try:
        with path.open(encoding="utf-8") as f:
            lines: list[str] = []
            for line in f:
                if line.strip():
                    lines.append(line.strip())
                elif lines:
                    yield " ".join(lines)
                    lines = []
            if lines:
                yield " ".join(lines)
    except UnicodeDecodeError as e:
        raise BadInputError(f"{path} is not UTF-8 text ({e.reason} at byte {e.start})", "save it as UTF-8") from None


class Voice:
    """An acoustic model with its vocoder: sentences → waves at the model's rate."""

    def __init__(self, model: AcousticModel, vocoder, request: SpeakRequest):
        self.model, self.vocoder, self.request = model, vocoder, request
        self.generator = torch.Generator().manual_seed(request.seed or 0)
        controls = {k: v for k, v in (("pitch", request.pitch), ("energy", request.energy)) if v}
        self.controls = controls
        self.speaker = request.speaker if request.speaker is not None else 0

    @property
    def sample_rate(self) -> int:
        return self.model.sample_rate

    def method(self) -> str:
        vocoder = self.vocoder.registry_name if self.vocoder is not None else \
            f"griffin-lim ({self.request.griffin_lim_iters} iterations)"  # fmt: skip
        return f"{self.model.registry_name} + {vocoder}"

    @torch.no_grad()
    def speak(self, sentence: str) -> torch.Tensor:
        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (), generator=self.generator)))  # dropout, sampling
        mel = self.model.synthesize_mel(sentence, speaker=self.speaker, speed=self.request.speed, **self.controls)
        if self.vocoder is not None:
            wave = self.vocoder.vocode(mel[None])[0]
        else:
            wave = self.model.front_end.griffin_lim(mel[None], n_iter=self.request.griffin_lim_iters,
                                                      generator=self.generator)[0]  # fmt: skip
        return wave.clamp(-1, 1)


@register_pipeline("speech/speak")
class SpeakPipeline(Pipeline):
    """``pipe("text")`` / ``pipe(text="…", speed=1.0)`` → :class:`~genlab.audio.output.AudioOutput` (the waveform and
    its sample rate; module docstring). Without a model (``genlab speak "…"``) the default voices speak."""

    task = TASK
    verb = "speak"
    description = "read text aloud (English or Mandarin) with a trained voice; long text is streamed"
    request_class = SpeakRequest
    output_class = AudioOutput
    model_free = True  # no --model: the default voices (runs/tts/voice-en, voice-zh)

    @classmethod
    def model_problem(cls, model) -> str | None:
        return None if isinstance(model, AcousticModel) else f"{model.registry_name} is not an acoustic model"

    def default_filename(self, request: SpeakRequest) -> str:
        stem = Path(request.file).stem if request.file else "speech"
        return f"{stem}-seed{request.seed or 0}.wav"

    def run(self, request: SpeakRequest) -> AudioOutput:
        return self(**request.to_dict())

    def __call__(self, text: str | None = None, **options: Any) -> AudioOutput:
        request = self.request(text=text, **options)
        if (request.text is None) == (request.file is None):
            raise BadInputError("give the text to speak or --file, not both" if request.text else "nothing to speak",
                                'genlab speak "Hello there." --out hello.wav, or --file chapter.txt')  # fmt: skip
        if request.text is not None:
            frontend.script_runs(request.text)  # empty, emoji-only or foreign-script text fails here, before writing
            paragraphs: Any = lambda: [request.text]  # noqa: E731
        else:
            next(iter(read_paragraphs(request.file)), None)  # a missing or undecodable file fails now
            paragraphs = lambda: read_paragraphs(request.file)  # noqa: E731  (read again by each pass)
        voices: dict[str, Voice] = {}
        if self.model is not None:
            voices[self.model.config.language] = Voice(self.model, load_vocoder(request.vocoder, self.model), request)
            rate = self.model.sample_rate
        else:
            first = request.lang or (frontend.script_runs(request.text)[0][0] if request.text else "en")
            model = load_voice(first)
            voices[first] = Voice(model, load_vocoder(request.vocoder or default_vocoder(first), model), request)
            rate = model.sample_rate
        info: dict[str, Any] = {"sample_rate": rate, "voices": {k: v.method() for k, v in voices.items()},
                                "speed": request.speed, "sentences": 0, "skipped": []}  # fmt: skip

        def voice_for(language: str) -> Voice | None:
            if language not in voices and self.model is None:
                try:
                    model = load_voice(language)
                    vocoder = load_vocoder(request.vocoder or default_vocoder(language), model)
                    voices[language] = Voice(model, vocoder, request)
                    info["voices"][language] = voices[language].method()
                except BadInputError as e:
                    voices[language] = None  # type: ignore[assignment]
                    warnings.warn(f"{e.message}: its parts are left out", stacklevel=3)
            return voices.get(language)

        def blocks() -> Iterator[torch.Tensor]:
            from genlab.audio.io import resample

            spoken = 0
            for paragraph in paragraphs():
                runs = _runs(paragraph)
                if not runs and paragraph.strip():
                    info["skipped"].append(f"{paragraph.strip()[:40]!r}: nothing English or Mandarin to speak")
                for sentence in frontend.split_sentences(paragraph) if runs else []:
                    for language, part in _runs(sentence):
                        voice = voice_for(language)
                        if voice is None:
                            _skip(info, part, language)
                            continue
                        try:
                            wave = voice.speak(part)
                        except NothingToSpeak as e:  # nothing speakable in this part (punctuation only)
                            info["skipped"].append(f"{part[:40]!r}: {e.message}")
                            continue
                        if voice.sample_rate != rate:
                            wave = resample(wave, voice.sample_rate, rate)
                        spoken += 1
                        info["sentences"] = spoken
                        yield wave
                    yield torch.zeros(int(SENTENCE_PAUSE * rate))
                yield torch.zeros(int((PARAGRAPH_PAUSE - SENTENCE_PAUSE) * rate))
            if not spoken:
                raise BadInputError("nothing in the text could be spoken: " + "; ".join(info["skipped"][:3]),
                                    "give English or Mandarin text with words in it")  # fmt: skip

        if request.text is not None:  # short text: synthesise now, so errors come before a file is written
            return AudioOutput(torch.cat(list(blocks())), rate, info)
        output = AudioOutput(None, rate, blocks=blocks)
        output.info = info  # the same dict: the counts grow as the blocks are made
        return output


def _runs(text: str) -> list[tuple[str, str]]:
    """Script runs of ``text``; none (not an error) for a paragraph with nothing to speak (emoji, dashes)."""
    try:
        return frontend.script_runs(text)
    except BadInputError:
        return []


def _skip(info: dict, part: str, language: str) -> None:
    name = {"en": "English", "zh": "Mandarin"}[language]
    note = f"{part.strip()[:40]!r}: {name}, which this voice does not speak"
    if note not in info["skipped"]:
        info["skipped"].append(note)
        warnings.warn(f"left out {note}", stacklevel=4)
