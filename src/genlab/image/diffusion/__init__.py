"""Diffusion and flow-matching image generators (``image/ddpm``, ``image/flow``), samplers and editing.

Modules: ``models`` (the registered models), ``editing`` (SDEdit, RePaint) and ``pipelines``
(inpainting and image-to-image pipelines). The noise schedules and samplers they use are
modality-free and live in :mod:`genlab.nn.diffusion`; ``SAMPLERS``, ``Sampler`` and
``make_sampler`` are re-exported here.
"""

from genlab.image.diffusion import models  # noqa: F401  (registers image/ddpm and image/flow)
from genlab.image.diffusion.models import DDPM, RectifiedFlow
from genlab.image.diffusion.pipelines import Image2ImagePipeline, ImageInpaintingPipeline
from genlab.nn.diffusion.samplers import SAMPLERS, Sampler, make_sampler

__all__ = [
    "DDPM",
    "SAMPLERS",
    "Image2ImagePipeline",
    "ImageInpaintingPipeline",
    "RectifiedFlow",
    "Sampler",
    "make_sampler",
]
