"""What the super-resolution models share: the task name and the upscaling factor.

A super-resolution model maps a low-resolution image (B, C, h, w) to (B, C, h·scale, w·scale). It is
trained on pairs made by :func:`~genlab.image.restoration.degrade.downscale`: a clean patch shrunk
``scale`` times with the antialiased bicubic kernel (MATLAB's ``imresize``, the degradation behind the
published Set5/Set14 figures) is the input, the patch itself the target.

Models: ``image/bicubic-sr`` (:mod:`~genlab.image.restoration.bicubic`, the baseline),
``image/espcn`` (:mod:`~genlab.image.restoration.espcn`), ``image/srresnet`` and ``image/srgan``
(:mod:`~genlab.image.restoration.srresnet`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from genlab.image.restoration.base import RestorationConfig

TASK = "super-resolution"


class SRConfig(RestorationConfig):
    """A restoration config with the upscaling factor (read by ``RestorationModel.output_scale``)."""

    scale: Literal[2, 3, 4] = Field(3, description="upscaling factor; set from the data")
