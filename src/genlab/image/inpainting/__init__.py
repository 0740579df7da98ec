"""Image inpainting: fill holes (boxes, free-form strokes) in photos with a gated-convolution U-Net
(``image/unet-inpaint``, Yu et al. 2019), trained on clean photos masked on the fly (task
``inpainting``), evaluated on seeded holes against biharmonic inpainting (``image/psnr_hole``,
``image/ssim_whole``), and served by ``genlab inpaint-image PHOTO MASK OUT --model RUN``."""

from genlab.image.inpainting import (  # noqa: F401  (registers the model, task, metrics and pipeline)
    evaluation,
    model,
    pipelines,
    task,
)
from genlab.image.inpainting.model import TASK, InpaintConfig, UNetInpaint
from genlab.image.inpainting.pipelines import InpaintingPipeline
from genlab.image.inpainting.task import InpaintingDataConfig, InpaintingTask

__all__ = [
    "TASK",
    "InpaintConfig",
    "InpaintingDataConfig",
    "InpaintingPipeline",
    "InpaintingTask",
    "UNetInpaint",
]
