"""Everything of the toy modality: data, model, pipeline, metric and task."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from pydantic import Field
from torch import nn
from torch.utils.data import TensorDataset

from genlab.core.config import Config
from genlab.core.data import DatasetSpec, register_dataset
from genlab.core.errors import DataError
from genlab.core.evaluation import EvalContext, register_metric
from genlab.core.io import atomic_write_text
from genlab.core.model import GenerativeModel, ModelConfig, OptimizerSpec, register_model
from genlab.core.pipeline import Output, Pipeline, Request, register_pipeline
from genlab.core.registry import DATASETS, TASKS
from genlab.core.seeding import make_generator
from genlab.core.task import Task

TASK = "toy-numbers"
TRUE_MEAN, TRUE_STD = 3.0, 0.5


# --- data -----------------------------------------------------------------------
def toy_normal(n: int = 512, seed: int = 0) -> torch.Tensor:
    """``n`` draws of N(3, 0.5²)."""
    return TRUE_MEAN + TRUE_STD * torch.randn(n, 1, generator=torch.Generator().manual_seed(seed))


register_dataset(DatasetSpec("builtin:toy-normal", "toy", toy_normal, description="draws of N(3, 0.5²)"))


class ToyDataConfig(Config):
    source: str = "builtin:toy-normal"
    data_dir: str | None = None
    n: int = Field(512, ge=2, description="numbers to draw")


@dataclass
class ToyDataInfo:
    source: str
    n_train: int
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- model ----------------------------------------------------------------------
class ToyGaussianConfig(ModelConfig):
    lr: float = Field(0.05, gt=0, description="Adam learning rate")


@register_model("toy/gaussian")
class ToyGaussian(GenerativeModel):
    """A Gaussian with learned mean and log-std, fitted by maximum likelihood."""

    config_class = ToyGaussianConfig
    task = TASK
    description = "a 1-D Gaussian fitted by gradient descent (test-suite modality)"

    def __init__(self, config: ToyGaussianConfig):
        super().__init__(config)
        self.mean = nn.Parameter(torch.zeros(1))
        self.log_std = nn.Parameter(torch.zeros(1))

    def optimizer_groups(self) -> list[OptimizerSpec]:
        return [OptimizerSpec("model", list(self.parameters()), self.config.lr)]

    def training_losses(self, batch, group: str) -> dict[str, torch.Tensor]:
        (x,) = batch
        nll = self.log_std + 0.5 * ((x - self.mean) / self.log_std.exp()) ** 2
        return {"loss": nll.mean()}

    @torch.no_grad()
    def generate(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.mean + self.log_std.exp() * torch.randn(n, 1, generator=generator)


# --- pipeline and its output ----------------------------------------------------
class NumbersOutput(Output):
    """Numbers, saved as a one-column CSV."""

    formats = {"csv": "text/csv"}
    suffix = ".csv"

    def __init__(self, values: torch.Tensor):
        self.values = values.flatten().tolist()

    def encode(self, format: str | None = None) -> bytes:
        self.check_format(format)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["value"])
        writer.writerows([[f"{v:.6f}"] for v in self.values])
        return buffer.getvalue().encode()

    def save(self, path: str | Path) -> Path:
        atomic_write_text(path, self.encode().decode())
        return Path(path)


class ToySampling(Request):
    n: int = Field(8, ge=1, description="how many numbers")


@register_pipeline("toy/sample")
class ToySamplingPipeline(Pipeline):
    task = TASK
    verb = "sample"
    description = "draw numbers from a toy model"
    request_class = ToySampling
    output_class = NumbersOutput

    def run(self, request: ToySampling) -> NumbersOutput:
        return NumbersOutput(self.model.generate(request.n, make_generator(request.seed)))


class ToyShift(Request):
    source: Path = Field(description="CSV file of numbers (a `value` column)", json_schema_extra={"positional": True})
    offset: float = Field(description="amount added to every number", json_schema_extra={"positional": True})
    scale: float = Field(1.0, description="factor every number is multiplied by before the offset is added")


@register_pipeline("toy/shift")
class ToyShiftPipeline(Pipeline):
    """A file-to-file pipeline: ``genlab shift RUN numbers.csv 2.5 shifted.csv`` or ``… --model RUN``."""

    task = TASK
    verb = "shift"
    description = "scale and shift the numbers of a CSV file"
    request_class = ToyShift
    output_class = NumbersOutput
    positional_out = True

    def run(self, request: ToyShift) -> NumbersOutput:
        try:
            with open(request.source, newline="") as f:
                values = [float(row["value"]) for row in csv.DictReader(f)]
        except (OSError, KeyError, ValueError) as e:
            raise DataError(f"cannot read {request.source}: {e}", "give a CSV with a `value` column") from None
        return NumbersOutput(torch.tensor(values) * request.scale + request.offset)


# --- metric ---------------------------------------------------------------------
@register_metric("toy/mean_error", task=TASK, outputs=("mean_error",), needs=("samples",), default=True,
                 on_baselines=True, protocol=lambda ctx: {"mean_error": "|mean of samples - 3.0|"})  # fmt: skip
def mean_error(ctx: EvalContext) -> dict[str, float]:
    """Distance between the samples' mean and the data's true mean."""
    return {"mean_error": abs(float(ctx.samples.mean()) - TRUE_MEAN)}


class ToyEvalRequest(Config):
    n: int = Field(1000, ge=1, description="numbers to draw for evaluation")
    seed: int = Field(0, description="random seed of the draws")


# --- task -----------------------------------------------------------------------
class ToyTask(Task):
    name = TASK
    modality = "toy"
    description = "fit toy 1-D distributions"
    data_config_class = ToyDataConfig
    default_model = "gaussian"
    pipeline_class = ToySamplingPipeline
    cli_options = {"--n": "data.n"}

    def load_data(self, data_cfg: ToyDataConfig):
        if data_cfg.source not in DATASETS:
            raise DataError(f"unknown toy data '{data_cfg.source}'", "use builtin:toy-normal")
        x = DATASETS.get(data_cfg.source)(data_cfg.n)
        return TensorDataset(x), None, ToyDataInfo(data_cfg.source, len(x))

    eval_request_class = ToyEvalRequest

    def eval_context(self, model: GenerativeModel, request: ToyEvalRequest) -> EvalContext:
        return EvalContext(model, self, request, draw_samples=lambda ctx: ctx.model.generate(request.n))

    def eval_protocol(self, ctx: EvalContext) -> dict[str, Any]:
        return {"n_generated": ctx.request.n, "seed": ctx.request.seed}

    def eval_baselines(self, ctx: EvalContext, specs) -> dict[str, EvalContext]:
        return {"zero": ctx.derive("zero", samples=torch.zeros(ctx.request.n, 1))}

    def write_samples(self, model: GenerativeModel, stem: Path, seed: int) -> Path:
        return NumbersOutput(model.generate(16, make_generator(seed))).save(stem.with_suffix(".csv"))


TASKS.register(TASK)(ToyTask())
