"""The ``image-generation`` task: image data in, image generators out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from genlab.core.errors import ConfigError
from genlab.core.evaluation import EvalContext, MetricSpec
from genlab.core.model import GenerativeModel
from genlab.core.registry import TASKS
from genlab.core.seeding import make_generator
from genlab.core.task import Task
from genlab.image import evaluation
from genlab.image.data import (
    ImageDataConfig,
    ImageDataInfo,
    describe_image_data,
    fill_from_data,
    load_image_data,
)
from genlab.image.evaluation import ImageEvalRequest
from genlab.image.io import save_grid
from genlab.image.pipelines import ImageGenerationPipeline


class ImageGenerationTask(Task):
    name = "image-generation"
    modality = "image"
    description = "train image generators (VAE, GAN, diffusion families) on image folders or standard datasets"
    data_config_class = ImageDataConfig
    default_model = "dcgan"
    pipeline_class = ImageGenerationPipeline
    cli_options = {
        "--image-size": "data.image_size",
        "--channels": "data.channels",
        "--val-fraction": "data.val_fraction",
        "--max-images": "data.max_images",
        "--hflip": "data.hflip",
        "--latent-dim": "model.latent_dim",
    }

    def load_data(self, data_cfg: ImageDataConfig):
        return load_image_data(data_cfg)

    def fill_model_config(self, values: dict[str, Any], info: ImageDataInfo) -> dict[str, Any]:
        return fill_from_data(values, {"num_classes": info.num_classes}, info)

    def check_model_fits_data(self, model_cls: type[GenerativeModel], info: ImageDataInfo) -> None:
        if getattr(model_cls, "conditional", False) and info.num_classes < 2:
            raise ConfigError(
                f"{model_cls.registry_name} is conditional but {info.source} has no labels",
                "use labelled data (class sub-folders, builtin:mnist-5k, mnist, …) or an unconditional model",
            )

    def after_training(self, model: GenerativeModel, val_data, info: ImageDataInfo, train_data=None) -> str:
        """Diffusion and flow models: guidance scale and sampler steps chosen on the validation split; VAEs
        with ``prior=gmm``: the mixture their samples come from, fitted to the training images' codes."""
        if getattr(model.config, "prior", None) == "gmm":
            return _fit_vae_prior(model, train_data)
        if not hasattr(model.config, "tune_minutes"):
            return ""
        from genlab.image.diffusion.tuning import after_training

        return after_training(model, None if val_data is None else val_data.images, info.source)

    def tune_sampling(self, run: Path, options: dict[str, Any], data_dir: str | None) -> dict[str, Any]:
        from genlab.image.diffusion.tuning import GuidanceSweep, tune_run

        return tune_run(run, GuidanceSweep.build(options, where="tune-guidance"), data_dir=data_dir)

    def write_samples(self, model: GenerativeModel, stem: Path, seed: int) -> Path:
        g = make_generator(seed)
        if model.conditional:
            k = min(model.config.num_classes, 10)
            labels = torch.arange(k).repeat_interleave(10)  # one row per class
            images, nrow = model.generate(len(labels), labels=labels, generator=g), 10
        else:
            images, nrow = model.generate(64, generator=g), 8
        scale = 2 if model.config.image_size <= 32 else 1
        return save_grid(images, stem.with_suffix(".png"), nrow=nrow, scale=scale)

    # Evaluation: sample metrics (FID, KID, IS, precision/recall, density/coverage) with floor and Gaussian/GMM
    # baselines, label_accuracy for conditional models, nll/recon for VAEs; see genlab.image.evaluation.
    eval_request_class = ImageEvalRequest

    def eval_context(self, model: GenerativeModel, request: ImageEvalRequest) -> EvalContext:
        return evaluation.model_context(self, model, request)

    def eval_protocol(self, ctx: EvalContext) -> dict[str, Any]:
        return evaluation.model_protocol(ctx)

    def eval_baselines(self, ctx: EvalContext, specs: list[MetricSpec]) -> dict[str, EvalContext]:
        return evaluation.baseline_contexts(ctx)

    def evaluate_files(
        self, fake: str | Path, real: str | Path, metrics: list[str] | str | None, options: dict[str, Any]
    ) -> dict[str, Any]:
        """Compare a folder of generated images with a folder of real ones (:func:`evaluate_folders`)."""
        return evaluation.evaluate_folders(fake, real, metrics, **options)

    def describe_data(self, info: ImageDataInfo) -> str:
        return describe_image_data(info)


TASKS.register(ImageGenerationTask.name)(ImageGenerationTask())


def _fit_vae_prior(model: Any, train_data) -> str:
    """Fit a VAE's ``gmm`` prior on its training images; the model card says what was fitted (or why not)."""
    if train_data is None:  # a differentially private run: the codes of its training images are not covered
        return ("## Prior\n\nSamples use N(0, I): a `gmm` prior is fitted to the training images' codes, which the "
                "run's differential-privacy guarantee does not cover.\n")  # fmt: skip
    from genlab.image.baselines import dataset_images

    images = dataset_images(train_data, model.config.prior_fit_images).float()
    was_training = model.training
    model.eval()
    try:
        fit = model.fit_prior(images)
    finally:
        model.train(was_training)
    return (
        "## Prior\n\n"
        f"Samples draw their latents from a {fit['components']}-component Gaussian mixture fitted by EM to the "
        f"posterior means of {fit['images']:,} training images (mean log-likelihood {fit['log_likelihood']:.2f} "
        f"nats per code{'' if fit['converged'] else '; EM stopped before converging'}), not from N(0, I) "
        "(ex-post density estimation, Ghosh et al. 2020). Likelihoods (nll) are the trained model's, under N(0, I).\n"
    )
