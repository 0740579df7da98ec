"""The feature networks whose activations define "content" and "style".

Two networks map an RGB image in [0, 1] to named activation maps (B, C, H', W'):

* :class:`VGG19Features` — the convolutional part of VGG-19 (Simonyan & Zisserman 2015) up to
  ``conv5_1``, built in plain torch and loaded from torchvision's ImageNet weights file
  ``vgg19-dcbb9e9d.pth``, which the user supplies (:data:`VGG19_URL`). As in Gatys et al. (2016),
  style is read at ``conv1_1, conv2_1, conv3_1, conv4_1, conv5_1`` and content at ``conv4_2`` (each
  name is the layer's rectified response), and max pooling is replaced by average pooling, which the
  authors found gives slightly more appealing images. Inputs get torchvision's ImageNet normalisation.
* :class:`RandomFeatures` — the offline stand-in used when no VGG weights are present: five stages of
  fixed random convolution filters (3×3, 5×5 and 7×7 in the first stage, 3×3 after), each followed by
  a ReLU, with 2×2 average pooling between stages, so the stages see the image at five scales. The filters are drawn
  from a seeded generator (He-normal scale), so the network is the same on every machine. Ustyuzhaninov
  et al. (2017) showed that the Gram matrices of multi-scale random filters alone already synthesise
  convincing natural textures, and He et al. (2016) that random-weight networks keep enough of an
  image to reconstruct it: a usable, if weaker, representation of style and content. Style is read at
  every stage and content at ``scale2`` (half resolution: deeper random stages keep too little of the
  photo for its content to survive the style loss).

Looking the weights up: ``--vgg-weights PATH``, else ``DATA_DIR/vgg19/vgg19-dcbb9e9d.pth`` where
``DATA_DIR`` is ``--data-dir``, ``$GENLAB_DATA_DIR`` or ``~/.cache/genlab/data``
(:func:`~genlab.core.download.data_root`). Nothing is downloaded at run time.

The checksum: torchvision names its weight files ``<name>-<first 8 hex digits of the file's
sha256>.pth`` and ``torch.hub`` checks exactly that prefix when it downloads one. The full sha256 of
``vgg19-dcbb9e9d.pth`` could not be derived here (the file cannot be fetched offline, and a digest
copied from elsewhere would be unverified), so :func:`load_vgg19_state` verifies the 8-digit prefix
:data:`VGG19_SHA256_PREFIX` — the same guarantee ``torch.hub`` gives — and the full digest of the file
actually used is printed and recorded with the run. The file is read with
``torch.load(path, weights_only=True)``, which never runs code from the file, and its tensors must
carry torchvision's names and shapes (``features.0.weight`` …).

References:
    K. Simonyan, A. Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition",
    ICLR 2015.
    L. A. Gatys, A. S. Ecker, M. Bethge, "Image Style Transfer Using Convolutional Neural Networks",
    CVPR 2016.
    I. Ustyuzhaninov, W. Brendel, L. A. Gatys, M. Bethge, "What does it take to generate natural
    textures?", ICLR 2017.
    K. He, Y. Wang, J. Hopcroft, "A Powerful Generative Model Using Random Weights for the Deep Image
    Representation", NeurIPS 2016.
"""

from __future__ import annotations

import copy
import functools
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar, Literal

import torch
from torch import nn

from genlab.core.checkpoint import sha256_file
from genlab.core.console import info
from genlab.core.download import DATA_DIR_ENV, data_root
from genlab.core.errors import DataError

VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
VGG19_FILE = "vgg19-dcbb9e9d.pth"
#: the first 8 hex digits of the file's sha256, as its name carries them (the full digest is not pinned)
VGG19_SHA256_PREFIX = "dcbb9e9d"
VGG19_DIR = "vgg19"

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: VGG-19's convolution widths ("E" in Simonyan & Zisserman's table 1); "M" is a 2×2 pooling
VGG19_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512)

FeatureKind = Literal["auto", "vgg19", "random"]


class FeatureNet(nn.Module):
    """A fixed network returning named activations; subclasses fill ``self.steps`` and ``self.names``.

    Step ``i`` maps the previous activation to the one named ``names[i]``; :meth:`forward` stops after
    the deepest layer asked for. Parameters never need gradients (they are frozen on construction).
    """

    kind: ClassVar[str] = ""
    style_layers: tuple[str, ...] = ()
    content_layer: str = ""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.steps = nn.ModuleList()
        self.names: list[str] = []

    def freeze(self) -> FeatureNet:
        for p in self.parameters():
            p.requires_grad_(False)
        return self.eval()

    @property
    def layers(self) -> tuple[str, ...]:
        """The style layers and the content layer (what the losses read)."""
        return tuple(dict.fromkeys((*self.style_layers, self.content_layer)))

    def forward(self, x: torch.Tensor, layers: Iterable[str] | None = None) -> dict[str, torch.Tensor]:
        """Activations of ``layers`` (default: style and content layers) for images (B, 3, H, W) in [0, 1]."""
        wanted = set(self.layers if layers is None else layers)
        unknown = wanted - set(self.names)
        if unknown:
            raise KeyError(f"{type(self).__name__} has no layer {sorted(unknown)}; it has {self.names}")
        h = (x - self.mean) / self.std
        out: dict[str, torch.Tensor] = {}
        for name, step in zip(self.names, self.steps, strict=True):
            h = step(h)
            if name in wanted:
                out[name] = h
                if len(out) == len(wanted):
                    break
        return out

    def describe(self) -> str:
        raise NotImplementedError


# --------------------------------------------------------------------------- VGG-19


def vgg19_layout() -> list[tuple[str, int, int, int]]:
    """(name, index in torchvision's ``features``, in channels, out channels) of every convolution up to conv5_1."""
    layout, index, block, conv, channels = [], 0, 1, 1, 3
    for v in VGG19_CFG:
        if v == "M":
            index, block, conv = index + 1, block + 1, 1
            continue
        layout.append((f"conv{block}_{conv}", index, channels, int(v)))
        index, conv, channels = index + 2, conv + 1, int(v)  # the conv, then its ReLU
    return layout


class VGG19Features(FeatureNet):
    """VGG-19's convolutions up to conv5_1 (Simonyan & Zisserman 2015), average pooling (Gatys et al. 2016)."""

    kind = "vgg19"
    style_layers = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
    content_layer = "conv4_2"

    def __init__(self, source: str = ""):
        super().__init__()
        self.source = source
        for name, _, c_in, c_out in vgg19_layout():
            pool = [nn.AvgPool2d(2, 2, ceil_mode=True)] if name.endswith("_1") and name != "conv1_1" else []
            self.steps.append(nn.Sequential(*pool, nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU()))
            self.names.append(name)

    @classmethod
    def from_file(cls, path: str | Path, expected_sha256: str | None = None) -> VGG19Features:
        """The network with the weights of torchvision's VGG-19 file at ``path`` (checked, see
        :func:`load_vgg19_state`)."""
        state = load_vgg19_state(path, expected_sha256)
        with torch.random.fork_rng(devices=[]):  # the default init, overwritten next, must not shift the global RNG
            net = cls(str(path))
        with torch.no_grad():
            for (_, index, _, _), step in zip(vgg19_layout(), net.steps, strict=True):
                conv = step[-2]
                conv.weight.copy_(state[f"features.{index}.weight"])
                conv.bias.copy_(state[f"features.{index}.bias"])
        return net.freeze()

    def describe(self) -> str:
        return f"VGG-19 (ImageNet weights from {self.source})"


def vgg19_hint(expected: Path | None = None) -> str:
    """Where to get the VGG-19 weights and where to put them."""
    where = expected or Path(f"${DATA_DIR_ENV}") / VGG19_DIR / VGG19_FILE
    return (
        f"download {VGG19_URL} (548 MB) and save it as {where}, or pass its path with --vgg-weights; "
        "or use the offline random features (--features random)"
    )


@functools.lru_cache(maxsize=8)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(path)


def file_sha256(path: str | Path) -> str:
    """sha256 of a file, computed once per process for a file that does not change (the weights are 548 MB)."""
    st = os.stat(path)
    return _file_sha256(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


def load_vgg19_state(path: str | Path, expected_sha256: str | None = None) -> dict[str, torch.Tensor]:
    """The convolution tensors (torchvision names) of a VGG-19 weights file, checked.

    ``expected_sha256``: the file's full sha256 or a prefix of it (default: :data:`VGG19_SHA256_PREFIX`,
    the 8 digits in torchvision's file name). The file is read with ``torch.load(weights_only=True)``: only
    tensors and plain containers are unpickled, never code. Every convolution up to conv5_1 must be
    there with VGG-19's shapes. A missing file, a checksum mismatch, an unreadable file and missing or
    misshapen tensors are each a :class:`DataError` saying which.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"VGG-19 weights not found at {path}", vgg19_hint(path))
    expected = (expected_sha256 or VGG19_SHA256_PREFIX).lower()
    digest = file_sha256(path)
    if not digest.startswith(expected):
        what = "is" if len(expected) == 64 else "starts with"
        raise DataError(
            f"checksum mismatch for {path}: its sha256 is {digest}, but the expected one {what} {expected}",
            f"the file is not the VGG-19 weights genlab expects, or is truncated or corrupt; {vgg19_hint(path)}",
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # UnpicklingError (a pickled object), RuntimeError/EOFError (not a torch file)
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(
            f"cannot load {path} as weights: {first}",
            "give torchvision's VGG-19 state dict; files holding pickled objects are refused (weights_only)",
        ) from None
    if not isinstance(state, dict):
        raise DataError(f"{path} holds a {type(state).__name__}, not a state dict of tensors", vgg19_hint(path))
    problems = []
    for _, index, c_in, c_out in vgg19_layout():
        for suffix, shape in (("weight", (c_out, c_in, 3, 3)), ("bias", (c_out,))):
            key = f"features.{index}.{suffix}"
            tensor = state.get(key)
            if not isinstance(tensor, torch.Tensor):
                problems.append(f"{key} is missing")
            elif tuple(tensor.shape) != shape:
                problems.append(f"{key} has shape {tuple(tensor.shape)}, not {shape}")
    if problems:
        some = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
        raise DataError(
            f"{path} is not torchvision's VGG-19 state dict: {some}",
            f"other files (VGG-16, other layouts) use other names or shapes; {vgg19_hint()}",
        )
    return {k: v.float() for k, v in state.items() if k.startswith("features.")}


def find_vgg19(vgg_weights: str | Path | None = None, data_dir: str | Path | None = None) -> Path | None:
    """The VGG-19 weights file: ``vgg_weights`` when given (an error when it is missing), else
    ``DATA_DIR/vgg19/vgg19-dcbb9e9d.pth`` when it exists, else None."""
    if vgg_weights:
        path = Path(vgg_weights).expanduser()
        if not path.is_file():
            raise DataError(f"VGG-19 weights not found at {path}", vgg19_hint(path))
        return path.resolve()
    default = default_vgg19_path(data_dir)
    return default.resolve() if default.is_file() else None


def default_vgg19_path(data_dir: str | Path | None = None) -> Path:
    return data_root(data_dir) / VGG19_DIR / VGG19_FILE


def resolve_features(
    kind: FeatureKind, vgg_weights: str | None = None, data_dir: str | None = None, seed: int = 0, quiet: bool = False
) -> dict[str, str | None]:
    """The model config values of a requested feature network: ``features`` ("vgg19" or "random"),
    ``vgg_weights`` (the file's path) and ``vgg_sha256`` (its full digest, checked against the 8-digit
    prefix here and recorded so a later load can check the whole). ``auto`` picks VGG-19 when its weights
    are found. Prints which network is used (unless ``quiet``)."""
    path = find_vgg19(vgg_weights, data_dir) if kind in ("auto", "vgg19") else None
    if kind == "vgg19" and path is None:
        expected = default_vgg19_path(data_dir)
        raise DataError(f"VGG-19 weights not found (looked for {expected})", vgg19_hint(expected))
    if path is not None:
        digest = file_sha256(path)
        if not digest.startswith(VGG19_SHA256_PREFIX):
            load_vgg19_state(path)  # raises the checksum error
        if not quiet:
            info(f"style features: VGG-19 (Simonyan & Zisserman 2015), ImageNet weights from {path} (sha256 {digest})")
        return {"features": "vgg19", "vgg_weights": str(path), "vgg_sha256": digest}
    if not quiet:
        where = default_vgg19_path(data_dir)
        info(
            f"style features: random multi-scale filters (seed {seed}), the offline stand-in for VGG-19 "
            f"(no weights at {where}; see docs/style-transfer.md to supply them)"
        )
    return {"features": "random", "vgg_weights": None, "vgg_sha256": None}


# --------------------------------------------------------------------------- random filters


class MultiScaleConv(nn.Module):
    """Convolutions with several kernel sizes from the same input, concatenated along channels."""

    def __init__(self, c_in: int, widths: tuple[int, ...], kernels: tuple[int, ...]):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(c_in, w, k, padding=k // 2) for w, k in zip(widths, kernels, strict=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([conv(x) for conv in self.convs], 1)


class RandomFeatures(FeatureNet):
    """Fixed, seeded random filters at five scales (Ustyuzhaninov et al. 2017; He et al. 2016): the offline
    stand-in for VGG-19. Stage ``s`` (named ``scale{s}``) sees the image at 1/2^(s-1) resolution."""

    kind = "random"
    style_layers = ("scale1", "scale2", "scale3", "scale4", "scale5")
    content_layer = "scale2"
    widths: ClassVar[tuple[int, ...]] = (48, 64, 96, 128, 192)
    #: filter sizes of each stage (the channels are split evenly between them)
    kernels: ClassVar[tuple[tuple[int, ...], ...]] = ((3, 5, 7), (3,), (3,), (3,), (3,))

    def __init__(self, seed: int = 0):
        super().__init__()
        self.seed = seed
        g = torch.Generator().manual_seed(seed)
        c_in = 3
        for s, (width, kernels) in enumerate(zip(self.widths, self.kernels, strict=True), start=1):
            parts = tuple(width // len(kernels) for _ in kernels)
            with torch.random.fork_rng(devices=[]):  # the default init, overwritten next, must not shift the global RNG
                conv = MultiScaleConv(c_in, parts, kernels)
            with torch.no_grad():
                for c in conv.convs:
                    fan_in = c.in_channels * c.kernel_size[0] * c.kernel_size[1]
                    c.weight.copy_(torch.randn(c.weight.shape, generator=g) * math.sqrt(2.0 / fan_in))
                    c.bias.zero_()
            pool = [nn.AvgPool2d(2, 2, ceil_mode=True)] if s > 1 else []
            self.steps.append(nn.Sequential(*pool, conv, nn.ReLU()))
            self.names.append(f"scale{s}")
            c_in = sum(parts)
        self.freeze()

    def describe(self) -> str:
        return f"random multi-scale filters (seed {self.seed}; the offline stand-in for VGG-19)"


# --------------------------------------------------------------------------- building, cached

_CACHE: dict[tuple, FeatureNet] = {}


def feature_network(
    kind: str,
    vgg_weights: str | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    vgg_sha256: str | None = None,
) -> FeatureNet:
    """The frozen feature network of a resolved ``kind`` ("vgg19" with its weights file, or "random"), on
    ``device``; built once per process and device. A VGG-19 file that moved is looked for again at the
    default place (``$GENLAB_DATA_DIR/vgg19/``); ``vgg_sha256`` (recorded when the run was set up) must
    then match it in full."""
    if kind == "vgg19":
        recorded = Path(vgg_weights).expanduser() if vgg_weights else None
        path = recorded if recorded is not None and recorded.is_file() else find_vgg19(None)
        if path is None:
            raise DataError(
                f"this model uses VGG-19 features, but the weights are not at {vgg_weights or default_vgg19_path()}",
                vgg19_hint(recorded or default_vgg19_path()),
            )
        key: tuple = ("vgg19", str(Path(path).resolve()), vgg_sha256, str(device))
    elif kind == "random":
        key = ("random", seed, str(device))
    else:
        raise ValueError(f"feature network kind must be resolved to vgg19 or random, got {kind!r}")
    if key not in _CACHE:
        cpu_key = (*key[:-1], "cpu")
        if cpu_key not in _CACHE:
            _CACHE[cpu_key] = VGG19Features.from_file(path, vgg_sha256) if kind == "vgg19" else RandomFeatures(seed)
        if key != cpu_key:
            _CACHE[key] = copy.deepcopy(_CACHE[cpu_key]).to(device)
    return _CACHE[key]
