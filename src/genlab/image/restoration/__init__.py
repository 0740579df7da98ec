"""Image restoration: super-resolution (bicubic baseline, ESPCN, SRResNet, SRGAN) and denoising (DnCNN, a
denoising autoencoder) of photos: degradations, patch data, PSNR/SSIM with the SR conventions, tiled
inference, the restoration model base, tasks and pipelines."""

from genlab.image.restoration import (  # noqa: F401  (registers the tasks, metrics, pipelines and models)
    bicubic,
    dae,
    dncnn,
    espcn,
    evaluation,
    pipelines,
    srresnet,
    task,
)
