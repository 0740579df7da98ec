"""Experiment tracking: a run's losses, config, samples and model card also go to TensorBoard or MLflow.

``genlab train … --logger tensorboard`` writes event files under ``RUN/tensorboard/`` (``tensorboard --logdir
runs``); ``--logger mlflow`` logs to an MLflow tracking store — ``RUN/mlruns`` (a local file store) unless
``--tracking-uri`` names another (``http://host:5000``). Lightning's own loggers
(``TensorBoardLogger``, ``MLFlowLogger``) write the metrics and the config; genlab adds what its runs have beyond
numbers: each sample grid as an image (PNG) or its file (WAV, MIDI, text, CSV) as it is written, and at the end
the model card, ``env.json`` and the final samples. The run folder stays the record either way (``metrics.csv``,
samples, checkpoints); the tracker is a view of it. A resumed run continues the same MLflow run (its id is kept
in ``RUN/tracking.json``) and appends to the same TensorBoard folder.

TensorBoard and MLflow come with the ``track`` extra.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import lightning as L

from genlab.core.errors import BadInputError
from genlab.core.optional import require
from genlab.core.runs import Run

TRACKING_FILE = "tracking.json"


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"lr": 1e-3}}`` -> ``{"train.lr": 1e-3}`` (lists and None as text)."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out |= flatten(value, f"{name}.")
        else:
            out[name] = value if isinstance(value, (int, float, str, bool)) else str(value)
    return out


class Tracker(L.Callback):
    """Mirrors a run to TensorBoard or MLflow (see the module docstring). ``kind``: ``tensorboard`` or ``mlflow``."""

    def __init__(self, run: Run, kind: str, config: dict[str, Any], every: int, tracking_uri: str | None = None):
        self.run, self.kind, self.config, self.every, self.uri = run, kind, config, every, tracking_uri
        self.logger: Any = None
        self.seen: set[Path] = set()

    # --- the backend ---------------------------------------------------------------
    def _open(self) -> None:
        if self.kind == "tensorboard":
            require("tensorboard", "track", "--logger tensorboard")
            from lightning.pytorch.loggers import TensorBoardLogger

            self.logger = TensorBoardLogger(save_dir=str(self.run.path), name="tensorboard", version="")
            return
        require("mlflow", "track", "--logger mlflow")
        from lightning.pytorch.loggers import MLFlowLogger

        saved = self._saved()
        uri = self.uri or saved.get("tracking_uri") or (self.run.path / "mlruns").resolve().as_uri()
        if uri.startswith("file:"):
            # MLflow 3 keeps its file store working but refuses it unless asked (it favours a database server);
            # a local folder per run is what a laptop user wants, and SQLite needs the full mlflow package
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        run_id = saved.get("run_id") if saved.get("tracking_uri") == uri else None
        hint = "check --tracking-uri (http://host:5000, file:///path/mlruns), or drop --logger"
        try:
            self.logger = MLFlowLogger(experiment_name=self.run.task, run_name=self.run.name, tracking_uri=uri,
                                       run_id=run_id)  # fmt: skip
            _ = self.logger.experiment  # connects now: a bad URI fails before training, not at the first log
        except Exception as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else ""
            raise BadInputError(f"cannot log to MLflow at {uri}: {type(e).__name__}: {first}", hint) from None
        (self.run.path / TRACKING_FILE).write_text(
            json.dumps({"logger": "mlflow", "tracking_uri": uri, "run_id": self.logger.run_id}) + "\n", encoding="utf-8"
        )

    def _saved(self) -> dict[str, Any]:
        path = self.run.path / TRACKING_FILE
        try:
            return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        except (OSError, json.JSONDecodeError):
            return {}

    def _new_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """The params to log: all of them, except on an MLflow run continued after a resume, whose logged params
        cannot change — there a changed setting (a longer budget) is recorded as the tag ``resumed.<key>``."""
        if self.kind != "mlflow":
            return params
        client, run_id = self.logger.experiment, self.logger.run_id
        logged = client.get_run(run_id).data.params
        for key, value in params.items():
            if key in logged and logged[key] != str(value):
                client.set_tag(run_id, f"resumed.{key}", str(value))
        return {k: v for k, v in params.items() if k not in logged}

    # --- what is logged --------------------------------------------------------------
    def log_metrics(self, values: dict[str, float], step: int) -> None:
        if self.logger is not None and values:
            self.logger.log_metrics({k: float(v) for k, v in values.items()}, step=step)

    def log_file(self, path: Path, step: int, folder: str | None = None) -> None:
        """A sample or a card: an image for TensorBoard / an artifact for MLflow (PNG shown as an image in both)."""
        if self.logger is None or not path.is_file():
            return
        if self.kind == "mlflow":
            self.logger.experiment.log_artifact(self.logger.run_id, str(path), artifact_path=folder or path.parent.name)
            return
        writer = self.logger.experiment
        tag = f"{folder or path.parent.name}/{path.stem}"
        if path.suffix == ".png":
            import numpy as np
            from PIL import Image

            with Image.open(path) as im:
                writer.add_image(tag, np.asarray(im.convert("RGB")), step, dataformats="HWC")
        elif path.suffix in (".txt", ".md", ".json", ".smi", ".csv"):
            writer.add_text(tag, "    " + path.read_text(encoding="utf-8")[:20_000].replace("\n", "\n    "), step)
        elif path.suffix == ".wav":
            import soundfile as sf

            audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
            writer.add_audio(tag, audio.mean(axis=1), step, sample_rate=rate)

    def _new_samples(self, step: int) -> None:
        for path in sorted(self.run.samples_dir.glob("*")):
            if path not in self.seen and path.is_file():
                self.seen.add(path)
                self.log_file(path, step)

    # --- Lightning hooks ---------------------------------------------------------------
    def on_train_start(self, trainer, module) -> None:
        if trainer.is_global_zero:
            self._open()
            self.logger.log_hyperparams(self._new_params(flatten(self.config)))
            self.seen = set(self.run.samples_dir.glob("*"))  # a resumed run's earlier samples were logged then

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if self.logger is None:
            return
        if module.iteration % self.every == 0 and module.last_losses:
            self.log_metrics({f"train/{k}": v for k, v in module.last_losses.items()}, module.iteration)
        self._new_samples(module.iteration)  # after the sample writer: a grid written at this step

    def on_validation_epoch_end(self, trainer, module) -> None:
        vals = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val_")}
        if not trainer.sanity_checking:
            self.log_metrics(vals, module.iteration)

    def finish(self, step: int) -> None:
        """After the model is exported: the final samples, the model card and the environment; then close."""
        if self.logger is None:
            return
        self._new_samples(step)
        self.log_file(self.run.model_dir / "README.md", step, "model")
        self.log_file(self.run.env_path, step, "run")
        self.logger.finalize("success")
        self.logger = None
