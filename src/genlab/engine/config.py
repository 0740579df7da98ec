"""Configs of a training run: what to train (task, model, data) and how (train)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from genlab.core.config import Config
from genlab.engine.privacy import PrivacyConfig


class TrainConfig(Config):
    """How to train: budget, batch, devices, callbacks. With no budget given, 10 epochs."""

    batch_size: int = Field(64, ge=1)
    max_epochs: int | None = Field(None, ge=1)
    max_steps: int | None = Field(None, ge=1, description="training batches (iterations)")
    max_minutes: float | None = Field(None, gt=0, description="wall-clock budget over the whole run, resumes included")
    seed: int = 0
    device: str = Field("auto", description="auto, cpu, cuda, mps")
    devices: int = Field(1, ge=1, description="processes/devices; >1 trains data-parallel")
    num_nodes: int = Field(1, ge=1, description="machines, each running `devices` processes (torchrun or SLURM)")
    strategy: Literal["auto", "ddp", "ddp_spawn"] = "auto"
    precision: Literal["32", "16-mixed", "bf16-mixed"] = "32"
    grad_clip: float | None = Field(
        None, gt=0, description="clip the gradient norm of every optimizer group not trained with differential privacy"
    )
    ema_decay: float | None = Field(
        None,
        ge=0,
        lt=1,
        description="keep an EMA of weights; it is what gets exported (0: none, also for models "
        "that keep one by default)",
    )
    sample_every: int = Field(500, ge=0, description="write a sample grid every N steps (0: only at the end)")
    checkpoint_every: int = Field(500, ge=1, description="save a checkpoint (checkpoints/last.ckpt) every N steps")
    keep_checkpoints: int = Field(
        3, ge=1, description="checkpoints kept; a resume skips a damaged newest one for the one before"
    )
    log_every: int = Field(10, ge=1)
    val_batches: int = Field(20, ge=0, description="validation batches per epoch (0: no validation)")
    early_stop: int | None = Field(
        None, ge=1, description="stop after this many validations without a lower val_loss; the best is exported"
    )
    early_stop_delta: float = Field(0.0, ge=0, description="how much lower val_loss must be to count as better")
    num_workers: int = Field(0, ge=0)
    threads: int | None = Field(
        None, ge=1, description="torch CPU threads while training (None: torch's default, one per core)"
    )
    init_from: str | None = Field(
        None, description="start from the weights of this model folder or run (fine-tuning); a resume wins"
    )
    progress: bool = True
    logger: Literal["none", "tensorboard", "mlflow"] = Field(
        "none", description="also log to TensorBoard (RUN/tensorboard) or MLflow (RUN/mlruns or tracking_uri)"
    )
    tracking_uri: str | None = Field(None, description="MLflow tracking URI (default: a file store in RUN/mlruns)")
    dp: PrivacyConfig = Field(
        default_factory=PrivacyConfig,
        description="differentially private training (DP-SGD through Opacus); off unless dp.epsilon is set",
    )

    @model_validator(mode="after")
    def _default_budget(self) -> TrainConfig:
        if self.max_epochs is None and self.max_steps is None and self.max_minutes is None:
            object.__setattr__(self, "max_epochs", 10)
        return self


class RunConfig(Config):
    """Everything a run needs; written resolved to ``config.yaml``."""

    task: str
    name: str
    model: dict[str, Any] = Field(default_factory=dict, description="name + the model's config fields")
    data: dict[str, Any] = Field(default_factory=dict)
    train: TrainConfig = Field(default_factory=TrainConfig)
