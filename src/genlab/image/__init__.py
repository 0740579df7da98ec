"""Image generation: data, models (VAE, GAN, diffusion, flow, Gaussian/GMM baselines), pipelines, evaluation."""

from genlab.image import (  # noqa: F401  (registers models, datasets, metrics, task)
    baselines,
    classifier,
    data,
    datasets,
    diffusion,
    evaluation_metrics,
    gan,
    pipelines,
    task,
    vae,
)
