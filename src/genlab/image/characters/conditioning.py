"""What every character generator shares: the attribute schema, the decoders, drawing.

The condition of a character is its label row (A,) — one value index per attribute (sex, skin, …,
direction), −1 where the attribute does not apply (a bald character's hair colour) — turned into a
concatenation of one one-hot block per attribute; a −1 label is an all-zero block
(:class:`AttributeCondition`). :class:`ConditionedDecoder` maps a latent z and that vector to an image;
the CVAE uses it as its decoder and the GAN as its generator, or, with ``decoder="layered"``,
:class:`LayeredDecoder`, which draws one layer per drawing step of the data and composites them
(:func:`make_decoder` picks). :class:`CharacterGenerator` is the part
of the model contract both share (``schema``, ``sample_latent``, ``decode(z, labels)``, ``generate``),
which is all the ``character/draw`` pipeline calls.

Attributes a caller leaves unset are drawn uniformly from their values with the caller's generator;
an attribute switched off by another one (``not_applicable``: hair colour when ``hair_style=none``)
gets the −1 label, as in the data.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from genlab.core.errors import BadInputError, ConfigError, closest
from genlab.core.model import GenerativeModel, ModelConfig
from genlab.nn.layers import plan_resolutions, upsample2x

TASK = "character"
Attributes = Mapping[str, str]


class CharacterModelConfig(ModelConfig):
    """What every character generator has: the image geometry, the data's attribute schema, z and widths."""

    image_size: int = Field(64, ge=8, le=256, description="height = width of the characters, pixels (b·2^k)")
    channels: int = Field(3, ge=3, le=3, description="RGB on the dataset's background")
    attributes: list[str] = Field(default_factory=list, description="label columns, in order (filled from the data)")
    values: dict[str, list[str]] = Field(default_factory=dict, description="value names per attribute (from the data)")
    not_applicable: dict[str, list[list[str]]] = Field(
        default_factory=dict,
        description="attribute -> [other attribute, value] pairs that switch it off (label −1), from the data",
    )
    latent_dim: int = Field(16, ge=1, le=1024, description="size of the latent code z")
    hidden_dims: list[int] | None = Field(None, description="channels of each stride-2 conv stage; None: defaults")
    decoder: Literal["conv", "layered"] = Field(
        "conv",
        description="conv: one decoder reads every attribute; layered: one RGBA layer per drawing step of the data, "
        "each read from its own attributes only, alpha-composited in the data's drawing order (LayeredDecoder)",
    )
    layers: dict[str, list[str]] = Field(
        default_factory=dict,
        description="drawing steps in drawing order -> the attributes each depends on (from the data; layered decoder)",
    )
    layer_shared: list[str] = Field(
        default_factory=lambda: ["direction"],
        description="attributes every layer reads besides its own (the facing direction; layered decoder)",
    )
    layer_dims: list[int] | None = Field(
        None, description="channels of the layered decoder's upsampling stages; None: 64, 32, 16, 16, …"
    )
    layer_latent: bool = Field(
        True,
        description="feed z to every layer; False: layers read their attributes only (a CVAE's encoder would "
        "otherwise hide colours in z, which the prior then draws at random)",
    )
    layer_upsample: Literal["transpose", "nearest"] = Field(
        "transpose", description="upsampling of the layered decoder: transposed 4×4 conv, or nearest then 3×3 conv"
    )
    layer_colour: Literal["map", "palette"] = Field(
        "map",
        description="how a layer gets its colours (layered decoder): map: the network's colour logits through a "
        "colour map set by the step's condition; palette: each pixel a softmax mixture of layer_palette colours "
        "set by the condition (pixel art is drawn from a few colours per sprite)",
    )
    layer_palette: int = Field(8, ge=2, le=64, description="colours of a layer's palette (layer_colour=palette)")


def stage_widths(config: CharacterModelConfig, who: str) -> list[int]:
    """One channel width per stride-2 stage (64 px: [32, 64, 128, 256])."""
    hint = "; the character data comes in 16, 32 or 64 px (data.image_size)"
    stages = plan_resolutions(config.image_size, who=who, extra_hint=hint).num_stages
    dims = config.hidden_dims or [min(32 * 2**i, 256) for i in range(stages)]
    if len(dims) != stages:
        raise ConfigError(
            f"{who}: {config.image_size}px has {stages} stride-2 stages but hidden_dims has {len(dims)}",
            f"give {stages} channel widths",
        )
    return dims


class ConditionedDecoder(nn.Module):
    """z + condition -> linear -> (width, base, base) grid -> 2× upsampling stages -> pixel logits.

    The condition also adds a learned per-channel bias before every stage: with it only at the input, the
    CVAE's decoder learns to read the attributes from z (which the encoder fills from the image) long before
    it learns to use the condition, and drawn characters ignore the chosen direction or colours. With ``norm``
    every stage's input is batch-normalised (no affine; the condition's bias is the shift), as a GAN's
    generator wants.
    """

    def __init__(self, config: CharacterModelConfig, widths: list[int], cond_dim: int, norm: bool = False):
        super().__init__()
        self.use_latent = True  # every picture depends on z (LayeredDecoder may leave it out)
        self.base = plan_resolutions(config.image_size).base_size
        widths = list(reversed(widths))  # widest channels at the smallest grid
        self.project = nn.Linear(config.latent_dim + cond_dim, widths[0] * self.base**2)
        self.biases = nn.ModuleList(nn.Linear(cond_dim, w) for w in widths)
        outs = [*widths[1:], config.channels]
        self.stages = nn.ModuleList(upsample2x(a, b) for a, b in zip(widths, outs, strict=True))
        self.norms = nn.ModuleList((nn.BatchNorm2d(w, affine=False) if norm else nn.Identity()) for w in widths)

    def forward(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = self.project(torch.cat([z, cond], dim=1)).view(z.shape[0], -1, self.base, self.base)
        for norm, bias, stage in zip(self.norms, self.biases, self.stages, strict=True):
            h = stage(F.relu(norm(h) + bias(cond)[:, :, None, None]))  # (B, a, s, s) -> (B, b, 2s, 2s)
        return h  # raw logits, no activation


class LayeredDecoder(nn.Module):
    """z + condition -> one RGBA layer per drawing step, alpha-composited in drawing order over a background.

    A character of the data is drawn as a stack of layers (body, legs, torso, …, hair, hat), each chosen by
    a few attributes (``config.layers``: the hair by sex, hair style and hair colour; the hat by sex and hat)
    and the facing direction (``config.layer_shared``). This decoder mirrors that. For drawing step k it
    masks the condition to the one-hot blocks of step k's attributes and appends a one-hot of k, giving the
    step's condition e_k; one shared upsampling network turns e_k (and z, unless ``layer_latent`` is off)
    into an RGBA layer, colour and alpha through sigmoids. e_k also sets, at every stage, a gain and a shift
    of each channel (FiLM, Perez et al. 2018: ``h·(1 + scale(e_k)) + shift(e_k)``) and a colour map of the
    layer's colour logits (``(I + M(e_k))·rgb + t(e_k)``); both start at the identity. A recoloured sprite —
    the same hair in eight colours — is one shape under eight colour maps, which a shift alone learned slowly.
    With ``layer_colour="palette"`` the network returns ``layer_palette`` logits per pixel instead of colour
    logits, and e_k sets that many colours (the layer's palette): a pixel is the softmax mixture of the palette,
    so whatever the network draws, its colours are those chosen for the step's attributes (pixel art is drawn
    from a few colours per sprite; a trouser colour cannot leak into other trousers).
    The layers are composited with the "over" operator, first to last, onto a learned background colour.

    Because a layer never sees the attributes of another, a combination of values never seen together in
    training (a hair style with a torso) is drawn from layers that were each seen — the structure behind
    layered generators such as LR-GAN (Yang et al. 2017), here with the drawing steps given by the data.
    What is learned is every layer's appearance and shape, from composited images alone.

    ``forward`` returns the logits of the composite image x (``logit(clamp(x, 1e-4, 1 − 1e-4))``), so it can
    stand wherever :class:`ConditionedDecoder` does; :meth:`layers` gives the RGBA layers themselves.
    """

    EPS = 1e-4

    def __init__(self, config: CharacterModelConfig, schema: AttributeCondition, dims: list[int], norm: bool = False):
        super().__init__()
        if not config.layers:
            raise ConfigError(
                "the layered decoder needs the data's drawing steps (model.layers)",
                "train it with `genlab train character`, which fills them from the data, or use decoder=conv",
            )
        missing = sorted({a for deps in config.layers.values() for a in deps} - set(schema.attributes))
        if missing:
            raise ConfigError(f"model.layers names unknown attributes: {', '.join(missing)}",
                              "attributes: " + ", ".join(schema.attributes))  # fmt: skip
        self.names = list(config.layers)
        k = len(self.names)
        offsets = [0, *itertools.accumulate(schema.sizes)]  # where each attribute's one-hot block starts
        masks = torch.zeros(k, schema.dim)
        for i, deps in enumerate(config.layers.values()):
            for a in [*deps, *(s for s in config.layer_shared if s in schema.attributes)]:
                j = schema.attributes.index(a)
                masks[i, offsets[j] : offsets[j + 1]] = 1
        self.register_buffer("masks", masks, persistent=False)
        self.register_buffer("steps", torch.eye(k), persistent=False)
        self.base = plan_resolutions(config.image_size).base_size
        in_dim = schema.dim + k
        self.use_latent = config.layer_latent
        self.project = nn.Linear(in_dim + (config.latent_dim if self.use_latent else 0), dims[0] * self.base**2)
        self.biases = nn.ModuleList(nn.Linear(in_dim, w) for w in dims)
        self.scales = nn.ModuleList(nn.Linear(in_dim, w) for w in dims)  # FiLM: per-channel gain 1 + scale(c)
        c = config.channels
        self.palette_size = config.layer_palette if config.layer_colour == "palette" else 0
        if self.palette_size:  # per-step palette: P colours (as logits), spread at the start so that they differ
            self.recolour = nn.Linear(in_dim, self.palette_size * c)
            nn.init.zeros_(self.recolour.weight)
            nn.init.normal_(self.recolour.bias, std=1.5)
        else:
            self.recolour = nn.Linear(in_dim, c * c + c)  # per-step colour map of the layer's colour logits
            nn.init.zeros_(self.recolour.weight)  # starts as the identity
            nn.init.zeros_(self.recolour.bias)
        for layer in self.scales:  # FiLM gains start at 1
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        outs = [*dims[1:], (self.palette_size or c) + 1]
        self.stages = nn.ModuleList(
            upsample2x(a, b, mode=config.layer_upsample) for a, b in zip(dims, outs, strict=True)
        )
        self.norms = nn.ModuleList((nn.BatchNorm2d(w, affine=False) if norm else nn.Identity()) for w in dims)
        self.background = nn.Parameter(torch.zeros(config.channels))  # logits of the background colour

    def layers(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """RGBA layers (B, K, C + 1, S, S) in [0, 1], in drawing order (:meth:`layer_logits`, alpha through
        a sigmoid)."""
        return self.straight(self.layer_logits(z, cond))

    @staticmethod
    def straight(drawn: torch.Tensor) -> torch.Tensor:
        """Layers with the logit of alpha (:meth:`layer_logits`) -> RGBA layers in [0, 1]."""
        return torch.cat([drawn[:, :, :-1], torch.sigmoid(drawn[:, :, -1:])], dim=2)

    def layer_logits(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """The layers (B, K, C + 1, S, S) in drawing order: colour in [0, 1], and the logit of alpha.

        Without z (``layer_latent`` off) a layer is a function of its step's condition alone, and a batch
        holds few distinct ones (the trousers of 128 characters: at most 2 sexes × 4 colours × 4 directions).
        Each distinct condition is then drawn once and the result shared (exact, gradients included: they
        add up over the characters sharing the layer), which makes large batches cheap. With a normalising
        stage (``norm``) the batch statistics are those of the distinct layers.
        """
        b, k = z.shape[0], len(self.names)
        step_cond = torch.cat([cond[:, None, :] * self.masks, self.steps.expand(b, k, k)], dim=2).flatten(0, 1)
        if self.use_latent:
            drawn = self.draw(step_cond, z.repeat_interleave(k, dim=0))  # one z per character
        else:
            distinct, index = torch.unique(step_cond, dim=0, return_inverse=True)
            drawn = self.draw(distinct)[index]
        return drawn.view(b, k, *drawn.shape[1:])

    def draw(self, step_cond: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """Layers (N, C + 1, S, S) of step conditions (N, D) (and latents (N, latent_dim)): colour in [0, 1],
        then the logit of alpha."""
        inputs = [step_cond] if z is None else [z, step_cond]
        h = self.project(torch.cat(inputs, dim=1)).view(len(step_cond), -1, self.base, self.base)
        for norm, scale, bias, stage in zip(self.norms, self.scales, self.biases, self.stages, strict=True):
            gain, shift = 1 + scale(step_cond)[:, :, None, None], bias(step_cond)[:, :, None, None]
            h = stage(F.relu(norm(h) * gain + shift))
        alpha = h[:, -1:]  # logits
        colour = self.recolour(step_cond)
        if self.palette_size:  # (N, P·3): P colours; a pixel is a softmax mixture of them
            palette = torch.sigmoid(colour.view(len(h), self.palette_size, -1))
            rgb = torch.einsum("nphw,npc->nchw", torch.softmax(h[:, :-1], dim=1), palette)
            return torch.cat([rgb, alpha], dim=1)
        c = h.shape[1] - 1  # (N, c·c + c): x -> (I + M) x + t on the colour logits
        matrix = torch.eye(c, device=h.device) + colour[:, : c * c].view(-1, c, c)
        rgb = torch.einsum("nij,njhw->nihw", matrix, h[:, :c]) + colour[:, c * c :, None, None]
        return torch.cat([torch.sigmoid(rgb), alpha], dim=1)

    def forward(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.composite(self.layers(z, cond))

    def composite(self, layers: torch.Tensor) -> torch.Tensor:
        """Logits (B, C, S, S) of RGBA ``layers`` (B, K, C + 1, S, S) drawn in order over the background."""
        out = torch.sigmoid(self.background)[None, :, None, None].expand(len(layers), -1, *layers.shape[-2:])
        # unbind, not layers[:, i]: the backward of every such selection fills a zero tensor of all the layers
        for rgb, alpha in zip(layers[:, :, :-1].unbind(1), layers[:, :, -1:].unbind(1), strict=True):
            out = alpha * rgb + (1 - alpha) * out
        return torch.logit(out.clamp(self.EPS, 1 - self.EPS))


def layer_dims(config: CharacterModelConfig, who: str) -> list[int]:
    """One channel width per upsampling stage of the layered decoder (64 px: [64, 32, 16, 16])."""
    stages = plan_resolutions(config.image_size, who=who).num_stages
    dims = config.layer_dims or [max(16, 64 >> i) for i in range(stages)]
    if len(dims) != stages:
        raise ConfigError(
            f"{who}: {config.image_size}px has {stages} upsampling stages but layer_dims has {len(dims)}",
            f"give {stages} channel widths",
        )
    return dims


def make_decoder(config: CharacterModelConfig, widths: list[int], schema: AttributeCondition, who: str,
                 norm: bool = False) -> nn.Module:  # fmt: skip
    """The decoder ``config.decoder`` names: a :class:`ConditionedDecoder` or a :class:`LayeredDecoder`."""
    if config.decoder == "layered":
        return LayeredDecoder(config, schema, layer_dims(config, who), norm=norm)
    return ConditionedDecoder(config, widths, schema.dim, norm=norm)


class AttributeCondition:
    """The attribute schema of a model: label rows <-> one-hot condition vectors, names <-> indices."""

    def __init__(self, attributes: list[str], values: dict[str, list[str]], not_applicable: dict[str, list[list[str]]]):
        self.attributes, self.values, self.not_applicable = attributes, values, not_applicable
        self.sizes = [len(values[a]) for a in attributes]
        self.dim = sum(self.sizes)

    def one_hot(self, labels: torch.Tensor) -> torch.Tensor:
        """Labels (B, A), −1 = does not apply -> condition (B, Σ values): one block per attribute."""
        blocks = []
        for j, k in enumerate(self.sizes):
            col = labels[:, j]
            blocks.append(F.one_hot(col.clamp(min=0), k).float() * (col >= 0).unsqueeze(1).float())
        return torch.cat(blocks, dim=1)

    def index(self, attribute: str, value: str) -> int:
        """Index of ``value`` of ``attribute``; an unknown name or value raises with the valid choices."""
        if attribute not in self.values:
            guess = closest(attribute, self.attributes)
            hint = (f"did you mean '{guess}'? " if guess else "") + "attributes: " + ", ".join(self.attributes)
            raise BadInputError(f"unknown character attribute '{attribute}'", hint)
        choices = self.values[attribute]
        if value not in choices:
            guess = closest(str(value), choices)
            hint = (f"did you mean '{guess}'? " if guess else "") + f"valid {attribute} values: " + ", ".join(choices)
            raise BadInputError(f"unknown {attribute} '{value}'", hint)
        return choices.index(value)

    def labels(self, n: int, given: Attributes | None, generator: torch.Generator | None) -> torch.Tensor:
        """Label rows (n, A): the ``given`` values, the others drawn uniformly (one draw per attribute and
        row, in attribute order, whether given or not, so fixing one attribute leaves the others' draws alone)."""
        given = dict(given or {})
        fixed = {a: self.index(a, v) for a, v in given.items() if v is not None}
        cols = []
        for a, k in zip(self.attributes, self.sizes, strict=True):
            drawn = torch.randint(k, (n,), generator=generator)
            cols.append(torch.full((n,), fixed[a]) if a in fixed else drawn)
        return self.switch_off(torch.stack(cols, dim=1))

    def switch_off(self, labels: torch.Tensor) -> torch.Tensor:
        """``labels`` with −1 where another attribute's value switches an attribute off."""
        labels = labels.clone()
        for a, rules in self.not_applicable.items():
            j = self.attributes.index(a)
            for other, value in rules:
                k = self.attributes.index(other)
                labels[labels[:, k] == self.values[other].index(value), j] = -1
        return labels

    def check(self, labels: torch.Tensor) -> torch.Tensor:
        """Validate label rows (n, A) (or one row (A,)): long, each in [−1, values)."""
        labels = torch.as_tensor(labels, dtype=torch.long)
        labels = labels.unsqueeze(0) if labels.dim() == 1 else labels
        if labels.dim() != 2 or labels.shape[1] != len(self.attributes):
            raise BadInputError(
                f"attribute labels must have shape (n, {len(self.attributes)}), got {tuple(labels.shape)}",
                "one column per attribute: " + ", ".join(self.attributes),
            )
        high = torch.tensor(self.sizes)
        if ((labels < -1) | (labels >= high)).any():
            raise BadInputError("attribute label out of range", "label j lies in −1 … (number of values of j) − 1")
        return labels


class CharacterGenerator(GenerativeModel):
    """The drawing half every character model shares: ``decoder`` (a :class:`ConditionedDecoder`) maps
    ``(z, labels)`` to images (B, 3, S, S) in [-1, 1]; labels are long (B, A) rows (−1: does not apply)."""

    task: ClassVar[str] = TASK
    config: CharacterModelConfig
    decoder: ConditionedDecoder | LayeredDecoder

    def __init__(self, config: CharacterModelConfig):
        super().__init__(config)
        if not config.attributes or any(a not in config.values for a in config.attributes):
            raise ConfigError(
                f"{self.registry_name or type(self).__name__} needs the data's attributes and their values",
                "train it with `genlab train character`, which fills them from the data",
            )
        self.schema = AttributeCondition(config.attributes, config.values, config.not_applicable)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def decode_logits(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Pixel logits (B, 3, S, S) for latents (B, latent_dim) under label rows (B, A)."""
        return self.decoder(z, self.schema.one_hot(labels.to(z.device)))

    def decode(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, S, S) in [-1, 1]: 2·sigmoid(logits) − 1."""
        return 2 * torch.sigmoid(self.decode_logits(z, labels)) - 1

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` latents (n, latent_dim) from the standard normal prior, on the model's device."""
        return torch.randn((n, self.config.latent_dim), generator=generator).to(self.device)

    def attribute_labels(
        self, n: int, attributes: Attributes | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Label rows (n, A) for named ``attributes`` (name -> value); unset ones drawn from ``generator``."""
        return self.schema.labels(n, attributes, generator)

    @torch.no_grad()
    def generate(
        self,
        n: int,
        attributes: Attributes | torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``n`` characters (n, 3, S, S) in [-1, 1]. ``attributes``: name -> value (unset ones random), or
        label rows (n, A) / one row (A,). The labels are drawn before the latents, from ``generator``."""
        if isinstance(attributes, torch.Tensor):
            labels = self.schema.check(attributes)
            labels = labels.expand(n, -1) if labels.shape[0] == 1 else labels
            if labels.shape[0] != n:
                raise BadInputError(f"got {labels.shape[0]} label rows for {n} characters", "give one row or n rows")
        else:
            labels = self.attribute_labels(n, attributes, generator)
        z = self.sample_latent(n, generator)
        return self.decode(z, labels).clamp(-1, 1)
