"""Image restoration: super-resolution and denoising of photos (degradations, patch data, PSNR/SSIM with
the SR conventions, tiled inference, the restoration model base, tasks, pipelines and models)."""

from genlab.image.restoration import (  # noqa: F401  (registers the tasks, metrics, pipelines and models)
    dae,
    dncnn,
    evaluation,
    pipelines,
    task,
)
