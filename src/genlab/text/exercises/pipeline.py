"""The ``exercises`` verb: a practice sheet of checked questions, with no model needed.

``genlab exercises --topic fractions --level 3 --n 20 --seed 0 --out sheet.md`` writes a markdown worksheet
(questions, then an answer key with worked steps); ``--out sheet.json`` the items with their measured
features; ``--out sheet.txt`` plain text; with no ``--out`` the sheet is printed. ``--lang zh`` writes the
instructions and steps in Chinese. ``genlab exercises --topic vocabulary --model RUN`` also draws cloze
sentences from what a trained text model (any run that ``genlab generate`` serves) writes.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from genlab.core.console import info
from genlab.core.errors import ConfigError
from genlab.core.io import atomic_write_text
from genlab.core.pipeline import Output, Pipeline, Request, register_pipeline
from genlab.text.exercises.sheet import LEVELS, Sheet, make_sheet
from genlab.text.pipelines import TASK

TOPIC_NAMES = Literal["arithmetic", "fractions", "equations", "vocabulary"]
MAX_QUESTIONS = 200
LEVEL_HINT = "give --level 1 (easiest) to 5 (hardest); docs/exercises.md tables what each level asks for"


class ExercisesRequest(Request):
    """Options of ``genlab exercises``."""

    topic: TOPIC_NAMES = Field(
        "arithmetic", description="arithmetic, fractions, equations (linear, and 2×2 systems) or vocabulary (cloze)"
    )
    level: int = Field(1, ge=1, le=5, description="difficulty from 1 (easiest) to 5 (hardest); see docs/exercises.md")
    n: int = Field(20, ge=1, le=MAX_QUESTIONS, description=f"number of questions (1–{MAX_QUESTIONS})")
    lang: Literal["en", "zh"] = Field("en", description="language of the instructions and worked steps")
    answers: bool = Field(True, description="add the answer key with worked steps")
    model_tokens: int = Field(
        2000, ge=100, le=20_000, description="vocabulary with --model: tokens the model writes to take sentences from"
    )
    seed: int | None = Field(None, description="random seed: the same seed gives the same sheet (default: a new one)")

    @classmethod
    def build(cls, values: dict[str, Any] | None = None, where: str = "") -> ExercisesRequest:
        """As :meth:`Config.build`, with a hint that says what the levels are when ``level`` is out of range."""
        try:
            return super().build(values, where)
        except ConfigError as e:
            if "level_range" in e.message or "there is no level" in e.message:
                e.hint = LEVEL_HINT
            raise

    @field_validator("level", mode="before")
    @classmethod
    def _level_in_range(cls, level: Any) -> Any:
        if isinstance(level, int) and not isinstance(level, bool) and level not in LEVELS:
            raise PydanticCustomError(
                "level_range", "there is no level {level}: levels run from 1 (easiest) to 5 (hardest)", {"level": level}
            )
        return level


class WorksheetOutput(Output):
    """A worksheet: ``.md`` (the default), ``.txt`` or ``.json`` (items with their measured features)."""

    formats = {"md": "text/markdown; charset=utf-8", "txt": "text/plain; charset=utf-8", "json": "application/json"}
    suffix = ".md"

    def __init__(self, sheet: Sheet, answers: bool = True):
        self.sheet, self.answers = sheet, answers

    def text(self) -> str:
        from genlab.text.exercises.render import plain_text

        return plain_text(self.sheet, self.answers)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        if path.is_dir():
            path = path / f"exercises{self.suffix}"
        fmt = path.suffix.lower().lstrip(".")
        atomic_write_text(path, self.encode(fmt if fmt in self.formats else "md").decode("utf-8"))
        return path

    def encode(self, format: str | None = None) -> bytes:
        from genlab.text.exercises import render

        fmt = self.check_format(format)
        if fmt == "json":
            return render.to_json(self.sheet, self.answers).encode("utf-8")
        if fmt == "txt":
            return self.text().encode("utf-8")
        return render.markdown(self.sheet, self.answers).encode("utf-8")


@register_pipeline("text/exercises")
class ExercisesPipeline(Pipeline):
    """Practice sheets whose every answer is recomputed and whose every item is checked against its level."""

    task: ClassVar[str] = TASK
    verb: ClassVar[str] = "exercises"
    description: ClassVar[str] = (
        "write a practice sheet (arithmetic, fractions, equations, vocabulary) at levels 1–5, every answer checked"
    )
    request_class = ExercisesRequest
    output_class = WorksheetOutput
    model_free = True
    model_hint = "leave out the run, or give a text-generation run to draw vocabulary sentences from"

    def default_filename(self, request: ExercisesRequest) -> str:
        seed = "" if request.seed is None else f"-seed{request.seed}"
        return f"exercises-{request.topic}-level{request.level}{seed}.md"

    def run(self, request: ExercisesRequest) -> WorksheetOutput:
        seed = request.seed if request.seed is not None else random.SystemRandom().randrange(2**31)
        options: dict[str, Any] = {}
        if self.model is not None:
            if request.topic == "vocabulary":
                from genlab.text.exercises.vocabulary import model_sentences

                options["sentences"] = model_sentences(self.model, seed, request.model_tokens)
                info(f"the model wrote {len(options['sentences'])} sentences to draw cloze items from")
            else:
                info(f"[yellow]the model is used for vocabulary only; {request.topic} needs none[/]")
        sheet = make_sheet(request.topic, request.level, request.n, seed, request.lang, **options)
        from_model = sum(item.source == "model" for item in sheet.items)
        if options:
            info(f"{from_model} of {len(sheet.items)} cloze sentences are the model's, the rest the corpus's")
        return WorksheetOutput(sheet, request.answers)

    def __call__(self, topic: str = "arithmetic", level: int = 1, n: int = 20, seed: int | None = None,
                 **options: Any) -> Sheet:  # fmt: skip
        """The :class:`~genlab.text.exercises.sheet.Sheet` of the options of :class:`ExercisesRequest`."""
        return self.run(self.request(topic=topic, level=level, n=n, seed=seed, **options)).sheet
