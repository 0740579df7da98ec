"""Images: generation (VAE, GAN, diffusion, flow, Gaussian/GMM baselines), classification and restoration
(super-resolution, denoising): data, models, pipelines, evaluation."""

from genlab.image import (  # noqa: F401  (registers models, datasets, metrics, task)
    anomaly,
    augment,
    baselines,
    characters,
    classifier,
    data,
    datasets,
    diffusion,
    evaluation_metrics,
    explain,
    gan,
    inpainting,
    pipelines,
    restoration,
    style,
    task,
    translation,
    vae,
)
