"""``genlab distill TEACHER_RUN``: knowledge distillation of a trained run into a smaller or faster student run.

A student is a model of the teacher's registered class with a smaller config (``--student-config small.yaml``
and ``--set model.x=…`` merged over the teacher's model config); it trains on the teacher run's data and the
result is a normal run (``runs/<task>/<name>``, default name ``<teacher>-distilled``) that ``genlab sample``,
``genlab eval`` and :func:`genlab.load` use unchanged, plus ``distillation.json``: the method, the teacher run,
the student config, the steps and a report of size, one-thread latency and the task's quality metric for the
teacher and the student.

Methods are looked up by the teacher's registered model name (:data:`METHODS`): the GAN generators
(:mod:`genlab.compress.distill_methods`, Aguinaldo et al. 2019), the GPT (Hinton et al. 2015 soft targets) and
DDPM step distillation (:mod:`genlab.compress.distill_diffusion`, Salimans & Ho 2022).

Training goes through genlab's engine, so checkpoints, resuming with the same ``--name``, ``--max-minutes``, the
progress bar, sample grids and Ctrl-C behave as in ``genlab train``. The engine builds the model of a run from
the task's registry; a student must instead be built with its frozen teacher, so :func:`train_student` passes
the engine a class made for the run (:func:`student_class`: the student's registered class with a method's mixin
that overrides ``optimizer_groups``/``training_losses`` and holds the teacher outside the module tree, so that
checkpoints and the exported ``model/`` hold the student's weights alone), through the engine's ``model_class``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
import yaml
from pydantic import Field

from genlab.core import config as cfgmod
from genlab.core.config import Config
from genlab.core.devices import best_time
from genlab.core.errors import BadInputError, CheckpointError, ConfigError
from genlab.core.io import atomic_write_json
from genlab.core.model import GenerativeModel
from genlab.core.runs import Run, now_iso

REPORT_NAME = "distillation.json"


class DistillConfig(Config):
    """Options of a distillation method (``--set distill.<field>=…``); each method reads the ones it names."""

    alpha: float = Field(0.5, ge=0, le=1, description="GPT: weight of the soft-target loss (1 - alpha: data CE)")
    temperature: float = Field(2.0, gt=0, description="GPT: softmax temperature of the soft targets")
    feature_weight: float = Field(
        0.0, ge=0, description="GAN: weight of an L1 loss on the teacher discriminator's features (0: pixels only)"
    )
    steps: int | None = Field(None, ge=1, description="diffusion: sampling steps of the distilled student")
    teacher_steps: int | None = Field(
        None, ge=2, description="diffusion: DDIM steps of the first round's student (default: the smallest "
        "steps·2^k at least the teacher's sample_steps)"
    )  # fmt: skip
    eval_n: int = Field(1000, ge=0, description="samples for the image quality metric (FID); 0: no quality metric")
    latency_repeats: int = Field(5, ge=1, description="timed calls per latency measurement (the best is kept)")


# --------------------------------------------------------------------------- methods


class DistillMethod:
    """A way to distil the models named in ``models``: the student's mixin, how to train, what to measure."""

    name: ClassVar[str] = ""
    models: ClassVar[tuple[str, ...]] = ()
    citation: ClassVar[str] = ""
    #: the mixin placed before the student's registered class (:func:`student_class`)
    mixin: ClassVar[type] = object
    #: the task metric compared in the report (lower is better for all of them)
    quality_metric: ClassVar[str] = ""

    def check(self, teacher: GenerativeModel, student_values: dict[str, Any], options: DistillConfig) -> None:
        """Raise a :class:`ConfigError` when this student cannot learn from ``teacher`` (before data loads)."""

    def student_values(self, teacher: GenerativeModel, values: dict[str, Any], options: DistillConfig) -> dict:
        """The student's model config values (the teacher's, with the user's changes merged in)."""
        return values

    def train(self, job: DistillJob) -> Any:
        """Train the student run of ``job``; returns the engine's ``TrainResult``."""
        return train_student(job.cfg, student_class(job.teacher, self, job.options, job.teacher_run), job.runs_dir)

    def extra_record(self, job: DistillJob) -> dict[str, Any]:
        """Fields of ``distillation.json`` particular to the method."""
        return {}

    # --- the report ---------------------------------------------------------------
    def inference_parameters(self, model: GenerativeModel) -> list[torch.nn.Parameter]:
        """The parameters inference reads (a GAN's generator, not its discriminator)."""
        return list(model.parameters())

    def latency(self, model: GenerativeModel, options: DistillConfig) -> tuple[Callable[[], Any], str]:
        """A call of the inference graph to time, and what it is."""
        raise NotImplementedError

    def quality(self, run: Path, options: DistillConfig) -> dict[str, Any]:
        """``{"metric", "value", "protocol"}`` of the run's model, or {} when not measured."""
        raise NotImplementedError


METHODS: dict[str, DistillMethod] = {}


def register_method(cls: type[DistillMethod]) -> type[DistillMethod]:
    """Class decorator: the method distils every model in ``cls.models``."""
    for name in cls.models:
        METHODS[name] = cls()
    return cls


def _load_methods() -> None:
    from genlab.compress import distill_diffusion, distill_methods  # noqa: F401  (register the methods)


def method_for(model_name: str) -> DistillMethod:
    """The method that distils ``model_name`` (``image/dcgan``); a clear error naming the supported ones."""
    _load_methods()
    if model_name not in METHODS:
        supported = ", ".join(f"{n} ({m.name})" for n, m in sorted(METHODS.items()))
        raise BadInputError(f"no distillation method for {model_name} models", f"supported: {supported}")
    return METHODS[model_name]


# --------------------------------------------------------------------------- students


class StudentMixin:
    """What every student class has: the frozen teacher (outside the module tree: not in ``state_dict``, moved to
    the student's device with it) and the distillation record saved in ``config.json``."""

    _distill_teacher: ClassVar[GenerativeModel]
    _distill_options: ClassVar[DistillConfig]
    _distill_record: ClassVar[dict[str, Any]]

    def __init__(self, config):
        super().__init__(config)
        teacher = type(self)._distill_teacher.eval()
        teacher.requires_grad_(False)
        self.__dict__["teacher"] = teacher  # a plain attribute: nn.Module would register it as a child
        self.__dict__["distill"] = type(self)._distill_options

    def _apply(self, fn, recurse: bool = True):
        super()._apply(fn, recurse)
        self.teacher._apply(fn, recurse)  # .to(device) moves the teacher with the student
        return self

    def save_pretrained(self, directory, card=None, extra=None):
        """The student's checkpoint, with ``distillation`` (method, teacher) in its ``config.json``."""
        return super().save_pretrained(directory, card, {**(extra or {}), "distillation": self._distill_record})


def student_class(
    teacher: GenerativeModel, method: DistillMethod, options: DistillConfig, teacher_run: Path, **attrs: Any
) -> type:
    """A class for the engine to build: the teacher's registered class (its name, config and registry name) with
    ``method.mixin`` first, bound to the frozen ``teacher``; ``attrs`` become class attributes."""
    base = type(teacher)
    record = {"method": method.name, "teacher": str(teacher_run)}
    namespace = {"__module__": base.__module__, "__qualname__": base.__qualname__, "_distill_teacher": teacher,
                 "_distill_options": options, "_distill_record": record, **attrs}  # fmt: skip
    return type(base.__name__, (method.mixin, base), namespace)


# --------------------------------------------------------------------------- runs


@dataclass
class DistillJob:
    """Everything a method needs to train one student run."""

    teacher_run: Path
    teacher: GenerativeModel
    cfg: Any  # the student's RunConfig
    options: DistillConfig
    runs_dir: Path
    method: DistillMethod
    details: dict[str, Any] = field(default_factory=dict)  # what the method adds (diffusion: rounds)

    @property
    def run(self) -> Run:
        return Run(self.runs_dir / self.cfg.task / self.cfg.name)


@dataclass
class DistillResult:
    """A distillation call: the engine's result for the student run and the report written beside it."""

    run: Run
    status: str
    steps: int
    minutes: float
    files: dict[str, Path]
    report: dict[str, Any] | None
    signal: str | None = None


def teacher_run(path: str | Path) -> tuple[Path, dict[str, Any], GenerativeModel]:
    """(run directory, its resolved ``config.yaml``, its exported model) of a teacher run."""
    path = Path(path)
    if path.name == "model" and (path.parent / "config.yaml").is_file():
        path = path.parent
    if not (path / "config.yaml").is_file():
        hint = "pass a run directory, runs/<task>/<name> (see `genlab runs`)"
        raise CheckpointError(f"{path} is not a training run (no config.yaml)", hint)
    if not (path / "model" / "config.json").is_file():
        raise CheckpointError(
            f"teacher run {path} has no exported model",
            "finish its training first (re-run its genlab train command; model/ is written when it ends)",
        )
    values = yaml.safe_load((path / "config.yaml").read_text(encoding="utf-8")) or {}
    return path, values, GenerativeModel.from_pretrained(path / "model")


def student_run_config(
    teacher_values: dict[str, Any],
    student_values: dict[str, Any],
    name: str,
    overrides: list[str],
    train_options: dict[str, Any],
):
    """The student's RunConfig: the teacher's task and data, the student's model, a fresh train section (the
    teacher's batch size and seed unless given) with ``train_options``; ``model.*``/``train.*`` overrides last."""
    from genlab.engine.config import RunConfig

    old_train = teacher_values.get("train") or {}
    train = {k: old_train[k] for k in ("batch_size", "seed") if k in old_train}
    train |= {k: v for k, v in train_options.items() if v is not None}
    values = {"task": teacher_values["task"], "name": name, "model": student_values,
              "data": dict(teacher_values.get("data") or {}), "train": train}  # fmt: skip
    values = cfgmod.apply_overrides(values, overrides)
    return RunConfig.build(values)


def split_overrides(overrides: list[str] | tuple[str, ...]) -> tuple[list[str], dict[str, Any]]:
    """``--set`` items for the run (``model.*``, ``train.*``, ``data.*``) and the ``distill.*`` options."""
    run, options = [], {}
    for item in overrides:
        parts, value = cfgmod.parse_override(item)
        if parts[0] == "distill":
            cfgmod.set_dotted(options, ".".join(parts[1:]), value)
        elif parts[0] in ("model", "train", "data"):
            run.append(item)
        else:
            raise ConfigError(f"unknown override section '{parts[0]}' in '{item}'",
                              "overrides start with model., train., data. or distill.")  # fmt: skip
    return run, options


def distill(
    teacher: str | Path,
    student_config: str | Path | dict[str, Any] | None = None,
    *,
    steps: int | None = None,
    name: str | None = None,
    runs_dir: str | Path | None = None,
    max_minutes: float | None = None,
    max_steps: int | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    options: dict[str, Any] | None = None,
    **train_options: Any,
) -> DistillResult:
    """Distil the model of run ``teacher`` into a student run; returns the result with its report.

    ``student_config``: a YAML/JSON file or a dict of model fields merged over the teacher's model config
    (``{"g_width": 16}``, ``{"n_layer": 2, "n_embd": 64}``); ``steps``: the sampling steps of a distilled
    diffusion model; ``options``: :class:`DistillConfig` fields; ``overrides``: ``--set`` items (``model.*``,
    ``train.*``, ``data.*``, ``distill.*``); other keywords set ``train.*`` fields (``threads=1``,
    ``batch_size=32``, ``progress=False``). ``runs_dir`` defaults to the teacher run's root, ``name`` to
    ``<teacher>-distilled``; the same name resumes.
    """
    from genlab.api import _check_name

    path, teacher_values, teacher_model = teacher_run(teacher)
    method = method_for(teacher_model.registry_name)
    run_overrides, option_values = split_overrides(overrides)
    option_values = {**option_values, **(options or {})} | ({"steps": steps} if steps is not None else {})
    opts = DistillConfig.build(option_values, where="distill")
    changes = student_config if isinstance(student_config, dict) else _read_student_config(student_config)
    values = {**dict(teacher_values.get("model") or {}), **changes}
    model_values = {k: v for k, v in cfgmod.apply_overrides({"model": values}, run_overrides)["model"].items()}
    short = str(model_values.pop("name", teacher_model.registry_name.split("/", 1)[1]))
    if short not in (teacher_model.registry_name, teacher_model.registry_name.split("/", 1)[1]):
        raise ConfigError(f"the student's model must be its teacher's, {teacher_model.registry_name}, not '{short}'",
                          "drop model.name: a student changes the sizes of its teacher's model")  # fmt: skip
    short = teacher_model.registry_name.split("/", 1)[1]
    type(teacher_model).config_class.build(model_values, where="model")  # unknown keys: the config's error
    method.check(teacher_model, model_values, opts)
    model_values = method.student_values(teacher_model, model_values, opts)
    name = name or f"{path.name}-distilled"
    _check_name(name)
    root = Path(runs_dir) if runs_dir is not None else path.parents[1]
    train_options |= {"max_minutes": max_minutes, "max_steps": max_steps}
    cfg = student_run_config(teacher_values, {"name": short, **model_values}, name,
                             [o for o in run_overrides if not o.startswith("model.")], train_options)  # fmt: skip
    job = DistillJob(path, teacher_model, cfg, opts, root, method)
    if job.run.path.resolve() == path.resolve():
        raise BadInputError(f"the student run would overwrite its teacher {path}", "choose another --name")
    check_resume(job)
    if not (job.run.path / REPORT_NAME).is_file():  # the teacher on record before training: resumes are checked
        job.run.path.mkdir(parents=True, exist_ok=True)
        atomic_write_json(job.run.path / REPORT_NAME, _record(job, None))
    started = time.monotonic()
    result = method.train(job)
    report = None
    if result.status == "completed":
        report = write_report(job, result, time.monotonic() - started)
    return DistillResult(result.run, result.status, result.steps, result.minutes, result.files, report,
                         getattr(result, "signal", None))  # fmt: skip


def check_resume(job: DistillJob) -> None:
    """An existing student run resumes only with the same teacher and the same student model config."""
    run = job.run
    if not run.config_path.is_file():
        return
    old = yaml.safe_load(run.config_path.read_text(encoding="utf-8")) or {}
    old_model = old.get("model") or {}
    changed = sorted(k for k, v in job.cfg.model.items() if k in old_model and old_model[k] != v)
    record = run.path / REPORT_NAME
    old_teacher = json.loads(record.read_text(encoding="utf-8"))["teacher"]["run"] if record.is_file() else None
    if old_teacher is not None and Path(old_teacher).resolve() != job.teacher_run.resolve():
        changed.insert(0, f"teacher (was {old_teacher})")
    if changed:
        raise BadInputError(
            f"run {run.path} exists and distils with other settings: {', '.join(changed)}",
            "choose another --name for a new student, or delete the old run directory",
        )


def _read_student_config(path: str | Path | None) -> dict[str, Any]:
    """Model fields from a ``--student-config`` file: a mapping of model fields, or one under ``model:``."""
    if path is None:
        return {}
    values = cfgmod.load_file(path)
    return dict(values["model"]) if isinstance(values.get("model"), dict) else values


# --------------------------------------------------------------------------- engine


def train_student(cfg, model_cls: type, runs_dir: str | Path | None):
    """Train run ``cfg`` with the engine, its model built from ``model_cls`` (a :func:`student_class`)."""
    from genlab.engine.trainer import train

    return train(cfg, runs_dir, model_class=model_cls)


# --------------------------------------------------------------------------- report


def parameters_mb(params: list[torch.nn.Parameter]) -> float:
    """MiB of the parameters stored as float32 (shared parameters counted once)."""
    unique = {id(p): p for p in params}
    return sum(p.numel() for p in unique.values()) * 4 / 2**20


def write_report(job: DistillJob, result: Any, seconds: float) -> dict[str, Any]:
    """Measure teacher and student and write ``distillation.json`` into the student run; returns the record."""
    from genlab.core.console import info

    method, opts = job.method, job.options
    student = GenerativeModel.from_pretrained(job.run.model_dir)
    teacher = job.teacher
    models = {"teacher": teacher, "student": student}
    sizes = {who: parameters_mb(method.inference_parameters(m)) for who, m in models.items()}
    latency = {}
    for who, model in models.items():
        call, what = method.latency(model, opts)
        latency[who] = 1000 * best_time(call, opts.latency_repeats, threads=1)
    info(f"measuring {method.quality_metric} of the teacher and the student")
    quality = {who: method.quality(run, opts) for who, run in (("teacher", job.teacher_run), ("student", job.run.path))}
    report: dict[str, Any] = {
        "size_mb": {k: round(v, 4) for k, v in sizes.items()},
        "size_ratio": round(sizes["student"] / sizes["teacher"], 4) if sizes["teacher"] else None,
        "latency_ms": {k: round(v, 3) for k, v in latency.items()},
        "latency_of": what,
        "threads": 1,
        "speedup": round(latency["teacher"] / latency["student"], 3) if latency["student"] else None,
        "quality": _quality_record(method.quality_metric, quality),
    }
    record = _record(job, report, student.config.to_dict())
    record |= {"steps": result.steps, "minutes": round(result.minutes, 3), "total_minutes": round(seconds / 60, 3)}
    atomic_write_json(job.run.path / REPORT_NAME, record)
    return record


def _record(job: DistillJob, report: dict[str, Any] | None, student_config: dict | None = None) -> dict[str, Any]:
    """The ``distillation.json`` record; ``report`` None until the student is trained and measured."""
    t = job.teacher
    return {
        "method": job.method.name,
        "citation": job.method.citation,
        "teacher": {"run": str(job.teacher_run), "model": t.registry_name, "config": t.config.to_dict()},
        "student": {"run": str(job.run.path), "config": student_config or dict(job.cfg.model)},
        "options": job.options.to_dict(),
        **job.method.extra_record(job),
        "report": report,
        "written": now_iso(),
    }


def _quality_record(metric: str, quality: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    if not all(quality.values()):
        return None
    teacher, student = quality["teacher"]["value"], quality["student"]["value"]
    return {
        "metric": metric,
        "teacher": teacher,
        "student": student,
        "change": student - teacher,
        "ratio": student / teacher if teacher else None,
        **({"others": {who: q["others"] for who, q in quality.items()}} if "others" in quality["student"] else {}),
        "protocol": quality["student"].get("protocol", {}),
    }


def read_report(run: str | Path) -> dict[str, Any]:
    """The ``distillation.json`` of a student run."""
    path = Path(run) / REPORT_NAME
    if not path.is_file():
        raise CheckpointError(f"{run} has no {REPORT_NAME}", "it is written when `genlab distill` completes")
    return json.loads(path.read_text(encoding="utf-8"))
