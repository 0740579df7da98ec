"""Pipelines: the one inference contract.

A pipeline is registered under a name (``image/sample``, ``text/generate``) for one
task and one verb (the CLI command: ``genlab sample``, ``genlab generate``). It
declares its options as a pydantic :class:`Request` (defaults, limits and help
text on every field) and returns a typed :class:`Output` that can ``.save(path)``
and ``.encode(format)``. The CLI, the REST API and the studio are generated from
these declarations; none of them imports a modality package.

>>> pipe = genlab.load("runs/image-generation/my-cgan")      # the task's default pipeline
>>> out = pipe.run(pipe.request(n=16, label=3, seed=0))       # an Output
>>> out.save("threes.png")
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from genlab.core.config import Config
from genlab.core.errors import BadInputError
from genlab.core.model import GenerativeModel
from genlab.core.registry import PIPELINES
from genlab.core.runs import resolve_model_dir


class Request(Config):
    """Options of one pipeline call. Subclasses add fields with ``Field(default, description=…, ge=…)``.

    A field's ``json_schema_extra={"flag": "--guidance"}`` names its command-line flag when that
    differs from the field name (``guidance_scale``); ``{"cli": False}`` keeps a field off the CLI
    (tensors passed from Python); ``{"positional": True}`` makes a single-valued field a positional
    argument after RUN (``genlab upscale RUN IMAGE``), in declaration order, required when the field
    has no default. The REST API and Python callers pass it by name like any other field.

    Two more keys describe a field to the REST API and the studio (:mod:`genlab.serve`):
    ``{"file": KIND}`` marks a field whose value is a file the pipeline reads (KIND: ``image``, ``audio``,
    ``music``, ``table``, ``text`` or ``graph``): the server takes an upload there, checks its type by content
    and passes a temporary copy; ``{"file": KIND, "names": True}`` also accepts plain names (``builtin:NAME``,
    ``left``) in place of a file. ``{"server": False}`` keeps a field (a local folder, a SoundFont path) off the
    API: the server uses its default.
    """

    seed: int | None = Field(None, description="random seed: the same seed gives the same output")


class Output:
    """A pipeline's result. Subclasses set ``formats`` (format → media type; the first is the default)
    and ``suffix`` (of the default file name) and implement :meth:`save` and :meth:`encode`."""

    formats: ClassVar[dict[str, str]] = {}
    suffix: ClassVar[str] = ""

    def save(self, path: str | Path) -> Path:
        """Write the output to ``path`` (the file type follows the suffix); returns what was written."""
        raise NotImplementedError

    def encode(self, format: str | None = None) -> bytes:
        """The output as bytes in ``format`` (one of :attr:`formats`; None: the first)."""
        raise NotImplementedError

    def text(self) -> str | None:
        """What a terminal shows instead of writing a file (text outputs), or None."""
        return None

    def check_format(self, format: str | None) -> str:
        """``format`` or the default one; an unknown format raises with the valid ones."""
        if format is None:
            return next(iter(self.formats))
        if format not in self.formats:
            raise BadInputError(
                f"{type(self).__name__} cannot be encoded as '{format}'", f"formats: {', '.join(self.formats)}"
            )
        return format


def register_pipeline(name: str):
    """Class decorator: register a pipeline under ``name`` (``<modality>/<verb>``)."""

    def deco(cls: type[Pipeline]) -> type[Pipeline]:
        cls.name = name
        return PIPELINES.register(name)(cls)

    return deco


class Pipeline:
    """Holds a loaded model and turns a :class:`Request` into an :class:`Output`.

    Subclasses set ``task``, ``verb``, ``request_class`` and ``description``, implement :meth:`run`,
    and may refuse models they cannot serve in :meth:`unsupported` (a VAE-only reconstruction).
    Pipelines that produce output piece by piece set ``streams`` and implement :meth:`stream_request`.
    Pipelines that turn an input file into an output file set ``positional_out`` (and usually declare
    the input as a positional request field): ``genlab denoise noisy.png clean.png --model RUN``.
    """

    name: ClassVar[str] = ""
    task: ClassVar[str] = ""
    verb: ClassVar[str] = ""
    description: ClassVar[str] = ""
    request_class: ClassVar[type[Request]] = Request
    output_class: ClassVar[type[Output]] = Output
    streams: ClassVar[bool] = False
    #: The command takes an optional ``OUT`` argument after the positional request fields, the same as
    #: ``--out`` (giving both is a usage error). An optional positional field before it must then be
    #: given whenever OUT is, since arguments are filled in order.
    positional_out: ClassVar[bool] = False
    #: A registered model (``audio/world``) built with its default config when the command is given no run:
    #: a method that works untrained (training may still add to it). ``genlab VERB ARGS`` then runs it.
    builtin_model: ClassVar[str] = ""
    #: The pipeline needs no model at all (anonymising a table): ``genlab VERB ARGS`` runs it with ``model=None``.
    model_free: ClassVar[bool] = False
    #: False for a batch job (a study that trains models for minutes): offered on the command line and in Python,
    #: not over HTTP, where every request has a time limit.
    served: ClassVar[bool] = True

    def __init__(self, model: GenerativeModel | None):
        if model is None:
            if not self.model_free:
                raise BadInputError(f"`genlab {self.verb}` needs a model", f"give one: genlab {self.verb} RUN …")
            self.model = None
            return
        reason = self.unsupported(model)
        if reason:
            raise BadInputError(reason, self.hint_for(model))
        self.model = model.eval()

    #: What a model of the right task needs for this pipeline, said when :meth:`model_problem` finds it missing.
    model_hint: ClassVar[str] = ""

    @classmethod
    def model_problem(cls, model: GenerativeModel) -> str | None:
        """Why a model of this pipeline's task cannot be served (a GAN has no encoder); None when it can."""
        return None

    @classmethod
    def unsupported(cls, model: GenerativeModel) -> str | None:
        """Why this pipeline cannot serve ``model`` (None when it can): another task, or :meth:`model_problem`."""
        if cls.task and model.task != cls.task:
            return f"`genlab {cls.verb}` does not apply to {model.task} models ({model.registry_name})"
        return cls.model_problem(model)

    @classmethod
    def hint_for(cls, model: GenerativeModel) -> str:
        """What to do instead: :attr:`model_hint` for a model of the right task, else the verbs that apply."""
        if cls.model_hint and model.task == cls.task:
            return cls.model_hint
        verbs = [p.verb for p in pipelines_for(model) if p is not cls]
        if not verbs:
            return "see `genlab models` for what each model can do"
        return f"this is a {model.task} model; use " + " or ".join(f"`genlab {v}`" for v in verbs)

    @classmethod
    def without_run(cls) -> Pipeline:
        """This pipeline over its :attr:`builtin_model`, built with the default config (no trained weights),
        or with no model at all when :attr:`model_free`."""
        from genlab.core.registry import MODELS

        if cls.model_free:
            return cls(None)
        if not cls.builtin_model:
            raise BadInputError(f"`genlab {cls.verb}` needs a trained model", f"give one: genlab {cls.verb} RUN …")
        model_cls = MODELS.get(cls.builtin_model)
        return cls(model_cls(model_cls.config_class.build({}, where=cls.builtin_model)))

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str = "cpu") -> Pipeline:
        """Load from a run directory or a model directory."""
        return cls(GenerativeModel.from_pretrained(resolve_model_dir(path), map_location=device))

    def default_filename(self, request: Request) -> str:
        """File name of the output when the user gives no ``--out``."""
        return f"{self.verb}-seed{request.seed}{self.output_class.suffix}"

    def request(self, **options: Any) -> Request:
        """Validate ``options`` into this pipeline's request (None values mean the defaults)."""
        return self.request_class.build({k: v for k, v in options.items() if v is not None}, where=self.verb)

    def run(self, request: Request) -> Output:
        """Carry out ``request``."""
        raise NotImplementedError

    def __call__(self, **options: Any) -> Any:
        """``pipe(**options)``: ``run`` with the request built from ``options`` (pipelines may offer a richer call)."""
        return self.run(self.request(**options))

    def batch_key(self, request: Request) -> Any | None:
        """What requests must share to be answered by one :meth:`run_batch` call (the server's dynamic
        batching); None when ``request`` cannot be batched with others (the default)."""
        return None

    def run_batch(self, requests: list[Request]) -> list[Output]:
        """Outputs of several requests with the same :meth:`batch_key`, each the same as ``run`` gives it alone;
        pipelines that batch override this to share one model call."""
        return [self.run(r) for r in requests]

    def stream_request(self, request: Request) -> Iterator[tuple[int, str]]:
        """Yield ``(sample index, piece)`` as the output is produced (only when :attr:`streams`)."""
        raise NotImplementedError

    @property
    def meta(self) -> dict:
        """``config.json`` of the loaded model (data, steps, versions); empty for a model-free pipeline."""
        return self.model.provenance.raw if self.model is not None else {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model.registry_name})"


def pipelines_for(model: GenerativeModel) -> list[type[Pipeline]]:
    """Registered pipelines that can serve ``model``, in name order."""
    out = []
    for _, cls in PIPELINES.items():
        if cls.unsupported(model) is None:
            out.append(cls)
    return out


def pipeline_for(model: GenerativeModel, verb: str, candidates: list[type[Pipeline]] | None = None) -> type[Pipeline]:
    """The pipeline answering ``verb`` for ``model``; a verb that does not fit raises with the verbs that do.

    ``candidates``: pipelines to try first (those already imported); every registered one is looked at
    only when none of them fits.
    """
    for cls in candidates or ():
        if cls.verb == verb and cls.unsupported(model) is None:
            return cls
    candidates = [cls for _, cls in PIPELINES.items() if cls.verb == verb]
    if not candidates:
        verbs = sorted({cls.verb for _, cls in PIPELINES.items()})
        from genlab.core.errors import unknown_name

        raise unknown_name("command", verb, verbs)
    reasons = []
    for cls in candidates:
        reason = cls.unsupported(model)
        if reason is None:
            return cls
        reasons.append((cls, reason))
    same_task = [(c, r) for c, r in reasons if c.task == model.task]
    cls, reason = (same_task or reasons)[0]
    raise BadInputError(reason, cls.hint_for(model))
