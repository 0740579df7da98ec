"""The perceptual losses of style transfer: content, style (Gram matrices) and total variation.

Following Gatys et al. (2016), an image's *content* is a feature network's activation map at one
layer and its *style* the Gram matrices G = F Fᵀ of the activations at several layers (the
correlations between filter responses, summed over positions, which discard where things are).
Here a Gram matrix is divided by the number of positions (H·W), so images of different sizes —
a 256-pixel style image and 128-pixel training patches — have comparable statistics.

Each layer's squared error is divided by the squared norm of its target (a relative error), and the
style layers are weighted equally (w_l = 1/L, as in the paper). Gatys et al. use raw sums and tune
the ratio α/β per network; with relative errors the same default weights serve both feature
networks (VGG-19 and the random filters), whose activations differ in scale by orders of magnitude.
The total-variation term (Mahendran & Vedaldi 2015; Johnson et al. 2016) is the mean squared
difference between neighbouring pixels, and smooths high-frequency artefacts.

References:
    L. A. Gatys, A. S. Ecker, M. Bethge, "Image Style Transfer Using Convolutional Neural Networks",
    CVPR 2016.
    J. Johnson, A. Alahi, L. Fei-Fei, "Perceptual Losses for Real-Time Style Transfer and
    Super-Resolution", ECCV 2016.
    A. Mahendran, A. Vedaldi, "Understanding Deep Image Representations by Inverting Them", CVPR 2015.
"""

from __future__ import annotations

import torch

from genlab.image.style.features import FeatureNet

EPS = 1e-8


def gram(f: torch.Tensor) -> torch.Tensor:
    """Gram matrices (B, C, C) of activations (B, C, H, W), divided by the positions H·W (symmetric, PSD)."""
    b, c, h, w = f.shape
    flat = f.reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2) / (h * w)


def relative_error(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per image: ‖x − target‖² / ‖target‖² (the target broadcasts over the batch)."""
    dims = tuple(range(1, x.dim()))
    return (x - target).pow(2).sum(dims) / target.pow(2).sum(dims).clamp_min(EPS)


def tv_loss(x: torch.Tensor) -> torch.Tensor:
    """Per image: the mean squared difference between vertically and horizontally adjacent pixels."""
    dy = (x[..., 1:, :] - x[..., :-1, :]).pow(2).flatten(1).mean(1)
    dx = (x[..., :, 1:] - x[..., :, :-1]).pow(2).flatten(1).mean(1)
    return dy + dx


class PerceptualLoss:
    """content_weight · content + style_weight · style + tv_weight · TV, against one style image.

    The style's Gram matrices are taken once (at construction); content targets are the content
    images' activations, taken without gradients at each call. Calls return per-term batch means.
    """

    def __init__(
        self, features: FeatureNet, style: torch.Tensor, content_weight: float, style_weight: float, tv_weight: float
    ):
        self.features = features
        self.weights = (content_weight, style_weight, tv_weight)
        with torch.no_grad():
            acts = features(style.unsqueeze(0) if style.dim() == 3 else style[:1], features.style_layers)
            self.style_grams = {name: gram(a) for name, a in acts.items()}

    def content_targets(self, content: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.features(content, [self.features.content_layer])[self.features.content_layer]

    def __call__(self, output: torch.Tensor, content_target: torch.Tensor) -> dict[str, torch.Tensor]:
        """``output`` (B, 3, H, W) against the content activations ``content_target`` (from :meth:`content_targets`)."""
        acts = self.features(output)
        content = relative_error(acts[self.features.content_layer], content_target).mean()
        style = torch.stack(
            [relative_error(gram(acts[name]), g) for name, g in self.style_grams.items()]
        ).mean(0).mean()  # fmt: skip
        tv = tv_loss(output).mean()
        a, b, c = self.weights
        return {"loss": a * content + b * style + c * tv, "content": content, "style": style, "tv": tv}
