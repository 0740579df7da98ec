"""Tasks tie a modality's data, models, samples and pipeline together.

A task (``image-generation``, later ``text-generation``, …) is registered in
:data:`~genlab.core.registry.TASKS`; the engine, CLI and API stay generic and ask
the task for everything modality-specific.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from torch.utils.data import Dataset

from genlab.core.config import Config
from genlab.core.evaluation import EvalContext, MetricSpec, evaluate_model
from genlab.core.model import GenerativeModel
from genlab.core.registry import MODELS


class Task:
    """Base class; subclasses fill the class attributes and override the hooks."""

    name: ClassVar[str] = ""
    modality: ClassVar[str] = ""
    description: ClassVar[str] = ""
    data_config_class: ClassVar[type[Config]] = Config
    default_model: ClassVar[str] = ""
    pipeline_class: ClassVar[type] = object
    #: CLI options a task adds to ``genlab train`` → dotted config key they set.
    cli_options: ClassVar[dict[str, str]] = {}
    #: A name gathering the task's commands (``synth``: ``genlab synth fit DATA``, ``genlab synth sample RUN``, …);
    #: empty: the task is reached through ``genlab train`` and the verbs alone.
    command_group: ClassVar[str] = ""

    #: Registry prefix of this task's models (default: the modality's, ``image/``); a task whose models live under
    #: their own prefix (``character/``, ``anomaly/``) sets it.
    model_prefix: ClassVar[str | None] = None

    @property
    def _prefix(self) -> str:
        return self.model_prefix or f"{self.modality}/"

    def model_names(self) -> list[str]:
        """Short names (``dcgan``) of the models registered for this task."""
        prefix = self._prefix
        return [n[len(prefix) :] for n in MODELS.names(prefix) if MODELS.get(n).task == self.name]

    def option_field(self, dotted: str):
        """The pydantic field behind a task option (``data.image_size``, ``model.latent_dim``): its type and help
        come from the data config or from the first of this task's models that has the field."""
        from pydantic.fields import FieldInfo

        section, name = dotted.split(".", 1)
        classes = (
            [self.data_config_class]
            if section == "data"
            else [MODELS.get(f"{self.modality}/{m}").config_class for m in self.model_names()]
        )
        for cls in classes:
            if name in cls.model_fields:
                return cls.model_fields[name]
        return FieldInfo(annotation=str, default=None, description=dotted)

    def evaluates_files(self) -> bool:
        """True when this task can evaluate folders of outputs (``genlab eval --fake A --real B``)."""
        return type(self).evaluate_files is not Task.evaluate_files

    def model_class(self, short_name: str) -> type[GenerativeModel]:
        """The model class for a short (``dcgan``) or full (``image/dcgan``) name."""
        from genlab.core.errors import unknown_name

        full = short_name if "/" in short_name else f"{self._prefix}{short_name}"
        if full not in MODELS or MODELS.get(full).task != self.name:
            raise unknown_name(f"{self.name} model", short_name, self.model_names())
        return MODELS.get(full)

    def load_data(self, data_cfg: Config) -> tuple[Dataset, Dataset | None, Any]:
        """Return (train, val or None, info with ``to_dict()``)."""
        raise NotImplementedError

    def fill_model_config(self, values: dict[str, Any], info: Any) -> dict[str, Any]:
        """Complete model config values with what the data decides (sizes, classes)."""
        return values

    def fine_tune_values(self, values: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
        """The model options of a run fine-tuned from a model with config ``base`` (``train.init_from``); by
        default the options as given (the data fills the rest, and the sizes must match the base's)."""
        return values

    def check_model_fits_data(self, model_cls: type[GenerativeModel], info: Any) -> None:
        """Raise a ConfigError when this data cannot train ``model_cls`` (e.g. conditional without labels)."""

    def after_training(
        self, model: GenerativeModel, val_data: Dataset | None, info: Any, train_data: Dataset | None = None
    ) -> str:
        """Last step of a completed run before its export (e.g. sampling options chosen on ``val_data``, a prior
        fitted to ``train_data``, which is None for differentially private runs); may change ``model``'s config and
        buffers; returns markdown for the model card ("" when there is nothing to add)."""
        return ""

    def tune_sampling(self, run: Path, options: dict[str, Any], data_dir: str | None) -> dict[str, Any]:
        """Choose a run's sampling defaults on its validation split and save them in its model (``genlab
        tune-guidance``); tasks whose models have such defaults implement it."""
        from genlab.core.errors import BadInputError

        raise BadInputError(f"{self.name} runs have no sampling options to tune",
                            "tune-guidance takes image/ddpm and image/flow runs")  # fmt: skip

    def write_samples(self, model: GenerativeModel, stem: Path, seed: int) -> Path:
        """Write a sample artefact (grid PNG, text, WAV) at ``stem`` + suffix; return its path."""
        raise NotImplementedError

    def evaluate(self, model: GenerativeModel, metrics: list[str] | None, options: dict[str, Any]) -> dict[str, Any]:
        """Evaluate a loaded model; returns ``{"metrics": {name: value}, "baselines": {...}, "protocol": {...}}``.

        ``metrics`` None means the task's default set; ``options`` holds what the user passed
        (``n``, ``seed``, ``ref``, ``data_dir``, ``extractor``, …; absent keys mean defaults).
        Runs the generic loop :func:`genlab.core.evaluation.evaluate_model` over the hooks below.
        """
        return evaluate_model(model, metrics, options)

    # ----------------------------------------------------------------- evaluation hooks
    #: The task's eval options (``n``, ``seed``, …): defaults and help on every field; ``genlab eval`` renders them.
    eval_request_class: ClassVar[type[Config]] = Config

    def eval_context(self, model: GenerativeModel, request: Config) -> EvalContext:
        """The context the metrics read (how samples are drawn, which reference data)."""
        return EvalContext(model, self, request)

    def eval_protocol(self, ctx: EvalContext) -> dict[str, Any]:
        """Protocol fields every result of this task has (sample counts, reference, seed, version)."""
        return {}

    def eval_baselines(self, ctx: EvalContext, specs: list[MetricSpec]) -> dict[str, EvalContext]:
        """Baseline name → context (``ctx.derive`` with samples or model swapped) scored by ``specs``."""
        return {}

    def evaluate_files(
        self, fake: str | Path, real: str | Path, metrics: list[str] | str | None, options: dict[str, Any]
    ) -> dict[str, Any]:
        """Compare generated files (a folder) with real ones: ``{"metrics", "protocol"}``."""
        from genlab.core.errors import BadInputError

        raise BadInputError(f"task '{self.name}' cannot evaluate folders", "evaluate a trained model instead")

    def describe_data(self, info: Any) -> str:
        """One line for the console describing the loaded data."""
        return str(info)
