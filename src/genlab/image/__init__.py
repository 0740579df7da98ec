"""Image generation: data, models (VAE, GAN families), pipelines."""

from genlab.image import data, gan, pipelines, task, vae  # noqa: F401  (registers models, datasets, task)
