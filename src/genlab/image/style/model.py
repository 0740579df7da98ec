"""What the style-transfer models share: the feature network, the loss weights and the stored style.

A style model (:class:`StyleModel`) keeps its style image with it — the pixels, resized as the data
config says (``--style``, longest side ``style_size``), as a buffer saved in ``model.safetensors`` — so
a run stylises with nothing but the run. A fresh model reads the image again from ``style_image``
the first time it needs it and checks it against ``style_digest``; a loaded one has it already.

The feature network (:mod:`~genlab.image.style.features`) is not part of the model's weights: it is
fixed (VGG-19's published weights, or seeded random filters), rebuilt from the config when needed,
and only needed for the losses (training a fast-style network, running the Gatys optimisation) —
never to apply a trained fast-style network.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
from pydantic import Field, model_validator

from genlab.core.errors import DataError
from genlab.core.model import GenerativeModel, ModelConfig
from genlab.image.restoration.degrade import quantize
from genlab.image.style.features import FeatureNet, feature_network, resolve_features
from genlab.image.style.images import longest_side_shape, pixel_digest, read_image, resize
from genlab.image.style.loss import PerceptualLoss

TASK = "style-transfer"


class StyleConfig(ModelConfig):
    """The feature network, the loss weights and the style image of a style-transfer model."""

    features: Literal["auto", "vgg19", "random"] = Field(
        "auto",
        description="network defining content and style: vgg19 (torchvision's ImageNet weights, supplied by the "
        "user), random (seeded random multi-scale filters, the offline stand-in) or auto (vgg19 when its weights "
        "are found, else random); resolved when the run is set up",
    )
    vgg_weights: str | None = Field(
        None,
        description="path of torchvision's vgg19-dcbb9e9d.pth (default: DATA_DIR/vgg19/vgg19-dcbb9e9d.pth with "
        "DATA_DIR from --data-dir or $GENLAB_DATA_DIR)",
    )
    vgg_sha256: str | None = Field(
        None, description="full sha256 of the VGG-19 file the run was set up with; set when features are resolved"
    )
    feature_seed: int = Field(0, description="seed of the random feature network's filters")
    content_weight: float = Field(1.0, ge=0, description="weight of the content loss (relative error at one layer)")
    style_weight: float = Field(
        300.0, ge=0, description="weight of the style loss (relative error of the Gram matrices, mean over layers)"
    )
    tv_weight: float = Field(50.0, ge=0, description="weight of the total-variation smoothness loss")
    style_image: str | None = Field(
        None, description="the style image (a file or builtin:NAME); set from the data's --style"
    )
    style_digest: str | None = Field(
        None, description="sha256 of the style's stored 8-bit pixels; set from the data, checked when re-read"
    )
    style_height: int = Field(0, ge=0, description="height of the stored style image; set from the data")
    style_width: int = Field(0, ge=0, description="width of the stored style image; set from the data")

    @model_validator(mode="after")
    def _style_shape(self) -> StyleConfig:
        if self.style_image and not (self.style_height and self.style_width):
            raise ValueError("style_height and style_width must be set with style_image (they come from the data)")
        if (self.style_height > 0) != (self.style_width > 0):
            raise ValueError("style_height and style_width are set together")
        return self


class StyleModel(GenerativeModel):
    """Base of the style-transfer models: the stored style, the feature network and the perceptual loss."""

    config: StyleConfig
    task: ClassVar[str] = TASK
    #: how the model stylises: "fast" (a trained network) or "gatys" (optimisation per image)
    method: ClassVar[str] = ""

    def __init__(self, config: StyleConfig):
        super().__init__(config)
        if self.has_style_slot:
            self.register_buffer("style", torch.zeros(1, 3, config.style_height, config.style_width))
            self.register_buffer("style_ready", torch.zeros((), dtype=torch.uint8))
        self.__dict__["_loss"] = None  # (device, PerceptualLoss): kept out of the module tree and the weights

    @property
    def device(self) -> torch.device:
        """Where the model's weights (or its stored style) live; the CPU for a model without either."""
        for t in (*self.parameters(), *self.buffers()):
            return t.device
        return torch.device("cpu")

    @property
    def has_style_slot(self) -> bool:
        return bool(self.config.style_height and self.config.style_width)

    # --- the style image ---------------------------------------------------------
    def style_pixels(self) -> torch.Tensor | None:
        """The stored style (3, h, w) in [0, 1], read from ``style_image`` the first time; None without one."""
        if not self.has_style_slot:
            return None
        if not bool(self.style_ready):
            image = quantize(resize(read_image(self.config.style_image), tuple(self.style.shape[-2:])))
            digest = self.config.style_digest
            if digest and pixel_digest(image) != digest:
                raise DataError(
                    f"the style image {self.config.style_image} changed since this model was set up",
                    "restore the original image, or train a new run with the new style",
                )
            with torch.no_grad():
                self.style.copy_(image.unsqueeze(0))
                self.style_ready.fill_(1)
        return self.style[0]

    def save_pretrained(self, directory, card: str | None = None, extra: dict | None = None):
        """Save as every model does, with the style pixels read first (so the export holds them)."""
        self.style_pixels()
        return super().save_pretrained(directory, card, extra)

    def style_matches(self, image: torch.Tensor, tolerance: float = 2 / 255) -> bool:
        """Whether ``image`` (3, H, W) is this model's style: the same pixels once resized to the stored size
        (mean absolute difference within ``tolerance``, so a re-encoded copy still matches)."""
        stored = self.style_pixels()
        if stored is None:
            return False
        h, w = stored.shape[-2:]
        if longest_side_shape(tuple(image.shape[-2:]), max(h, w)) != (h, w):  # another aspect ratio
            return False
        resized = quantize(resize(image.float().cpu(), (h, w)))
        return float((resized - stored.cpu()).abs().mean()) <= tolerance

    # --- the feature network and the loss -----------------------------------------
    def resolved_features(self) -> dict[str, Any]:
        """The config's feature network as resolved values (``auto`` decided now, with a message, when the
        model was built outside a run)."""
        cfg = self.config
        if cfg.features != "auto":
            return {"features": cfg.features, "vgg_weights": cfg.vgg_weights, "vgg_sha256": cfg.vgg_sha256}
        return resolve_features("auto", cfg.vgg_weights, seed=cfg.feature_seed)

    def feature_net(self, device: torch.device | str = "cpu") -> FeatureNet:
        r = self.resolved_features()
        return feature_network(r["features"], r["vgg_weights"], self.config.feature_seed, device, r["vgg_sha256"])

    def perceptual_loss(
        self, device: torch.device | str, style: torch.Tensor | None = None, style_weight: float | None = None
    ) -> PerceptualLoss:
        """The loss against ``style`` (default: the stored style, cached per device)."""
        cfg = self.config
        cached = self.__dict__["_loss"]
        if style is None and style_weight is None and cached is not None and cached[0] == str(device):
            return cached[1]
        source = self.style_pixels() if style is None else style
        if source is None:
            raise DataError(f"this {self.registry_name} model has no style image", "train it with --style IMAGE")
        weight = cfg.style_weight if style_weight is None else style_weight
        loss = PerceptualLoss(self.feature_net(device), source.to(device), cfg.content_weight, weight, cfg.tv_weight)
        if style is None and style_weight is None:
            self.__dict__["_loss"] = (str(device), loss)
        return loss
