"""What the denoising models share: the noise level they are trained for.

Denoisers here remove additive white Gaussian noise (:func:`~genlab.image.restoration.degrade.add_noise`,
σ on the 0–255 scale, not clipped). A model is trained either for one noise level σ (the σ-specific
DnCNN-S of Zhang et al. 2017) or blindly, on a σ drawn per patch from [σ, σ_max] (their DnCNN-B,
trained on [0, 55]), so one network serves every level in the range.

References:
    K. Zhang, W. Zuo, Y. Chen, D. Meng and L. Zhang, "Beyond a Gaussian Denoiser: Residual Learning of
    Deep CNN for Image Denoising", IEEE Transactions on Image Processing 26(7), 2017.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from genlab.image.restoration.base import RestorationConfig

TASK = "denoising"


class DenoiseConfig(RestorationConfig):
    """A restoration config with the Gaussian noise level the model is trained for (0–255 scale)."""

    sigma: float = Field(
        25.0,
        ge=0,
        le=255,
        description="standard deviation of the Gaussian noise the model is trained for, on the 0–255 scale "
        "(the lower end of the range when sigma_max is set); set from the data",
    )
    sigma_max: float | None = Field(
        None,
        ge=0,
        le=255,
        description="blind training: σ drawn uniformly per patch from [sigma, sigma_max] (0–255 scale); "
        "None trains for the fixed sigma; set from the data",
    )

    @model_validator(mode="after")
    def _range_is_ordered(self) -> Self:
        if self.sigma_max is not None and self.sigma_max < self.sigma:
            raise ValueError(f"sigma_max ({self.sigma_max}) must be at least sigma ({self.sigma})")
        return self
