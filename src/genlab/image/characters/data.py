"""The ``builtin:lpc-characters`` dataset: labelled LPC characters, with combinations held out for testing.

Each character is a seeded draw of the ten attributes of the layer folder (sex, skin, hair_style,
hair_color, torso, legs, leg_armor, feet, hat, weapon); it is composed (:mod:`.compose`) in its four
standing frames, and **direction** (north, west, south, east) is an eleventh attribute, so ``n``
characters give ``4·n`` images (character-major: image ``4·i + d`` is character ``i`` facing
direction ``d``). Images are uint8 RGBA (N, 64, 64, 4) with a transparent background;
:meth:`CharacterSet.rgb` draws them over :data:`BACKGROUND_RGB`, which is what the registered image
dataset returns. Labels are an int64 matrix (N, 11): column ``j`` is the index of the value of
attribute ``attributes[j]`` in ``values[attributes[j]]``, and −1 where the attribute does not apply
(the hair colour of a bald character).

Splits. ``train`` and ``val`` draw every attribute from a balanced, seeded shuffle of its values, then
redraw the partner of any **held-out pair**; ``test`` draws its (hair_style, torso) pair from
:data:`HELD_OUT_HAIR_TORSO` and its (hat, hair_color) pair from :data:`HELD_OUT_HAT_HAIR_COLOR`. So every
test character wears one held-out pair of each kind, no train or val character wears either, and
every single value still occurs in train (each value has allowed partners). The held-out hats leave
the hair visible (no helmets or hoods), so the held-out pairs can be seen in the test images.

Attribution is part of the data: :func:`attribution` returns the credit block of the folder's
``SOURCE.md`` and the authors (from ``CREDITS.csv``) of the layers used; it travels in
:meth:`CharacterSet.info`, and anything made from these images (a model, its samples, a page) must carry it.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from genlab.core.config import Config
from genlab.core.errors import DataError
from genlab.core.registry import DATASETS
from genlab.image.characters.compose import Character, CharacterLayers, composite, on_background
from genlab.image.datasets import RawImages, image_dataset

DATASET = "builtin:lpc-characters"
LICENSE = "CC BY-SA 3.0 (Liberated Pixel Cup artists; attribution required: see docs/characters.md)"
SPLITS = ("train", "val", "test")
DIRECTION = "direction"  # the label column of the facing direction, after the folder's attributes
BACKGROUND_RGB = (200, 200, 210)  # the light blue-grey of the folder's preview.png
#: Hair styles never drawn with these torsos in train/val: the k-th style (plain … princess) with the
#: ((k − 1) mod 9)-th torso, so each style loses one torso and each torso one or two styles.
HELD_OUT_HAIR_TORSO: tuple[tuple[str, str], ...] = (
    ("plain", "shirt_white"), ("bedhead", "shirt_brown"), ("messy1", "shirt_maroon"), ("mohawk", "shirt_teal"),
    ("pixie", "chainmail"), ("page", "tabard"), ("long", "leather_armor"), ("xlong", "plate_armor"),
    ("bunches", "gold_armor"), ("princess", "shirt_white"),
)  # fmt: skip
#: Hats never drawn over these hair colours in train/val: the four hats that leave the hair visible, two
#: colours each, every colour once.
HELD_OUT_HAT_HAIR_COLOR: tuple[tuple[str, str], ...] = (
    ("none", "pink"), ("none", "gray"), ("leather_cap", "blonde"), ("leather_cap", "blue"),
    ("chain_hat", "redhead"), ("chain_hat", "black"), ("red_bandana", "brown"), ("red_bandana", "brunette"),
)  # fmt: skip
HELD_OUT_PAIRS: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("hair_style", "torso"): HELD_OUT_HAIR_TORSO,
    ("hat", "hair_color"): HELD_OUT_HAT_HAIR_COLOR,
}
COMPOSE_CHUNK = 64  # characters composed together (their stacked uint8 layers take ~34 MB)


class CharacterDataConfig(Config):
    """How many characters each split holds, the seed of the draws, and where the layers are."""

    n_train: int = Field(1000, ge=1, le=100_000, description="training characters (4 images each)")
    n_val: int = Field(100, ge=1, le=100_000, description="validation characters, same distribution as train")
    n_test: int = Field(250, ge=1, le=100_000, description="test characters, all wearing held-out pairs")
    seed: int = Field(0, ge=0, description="seed of the attribute draws (each split has its own stream)")
    data_dir: str | None = Field(None, description="folder holding characters/ (default $GENLAB_DATA_DIR)")

    def size(self, split: str) -> int:
        """Number of characters of ``split``."""
        return {"train": self.n_train, "val": self.n_val, "test": self.n_test}[split]


@dataclass
class CharacterSet:
    """One split of composed characters with their labels (see the module docstring for the layout)."""

    images: np.ndarray  # uint8 (N, 64, 64, 4) RGBA, straight alpha, transparent background
    labels: np.ndarray  # int64 (N, A): value index per attribute, -1 = does not apply
    attributes: list[str]  # the A label columns: the folder's attributes, then "direction"
    values: dict[str, list[str]]  # value names per attribute
    characters: list[Character]  # the N/4 attribute sets, in order
    split: str
    seed: int
    attribution: str = ""
    held_out: dict[str, list[list[str]]] = field(default_factory=dict)

    def rgb(self, background: tuple[int, int, int] = BACKGROUND_RGB) -> np.ndarray:
        """The images drawn over an opaque ``background``: uint8 RGB (N, 64, 64, 3)."""
        return on_background(self.images, background)

    def column(self, attribute: str) -> np.ndarray:
        """The label column of ``attribute``: int64 (N,), −1 where it does not apply."""
        if attribute not in self.attributes:
            raise DataError(f"no attribute '{attribute}'", "attributes: " + ", ".join(self.attributes))
        return self.labels[:, self.attributes.index(attribute)]

    def info(self) -> dict[str, Any]:
        """What was loaded, JSON-compatible: sizes, attributes and values, the held-out rule, licence, credits."""
        return {
            "source": f"{DATASET}:{self.split}",
            "split": self.split,
            "seed": self.seed,
            "n_characters": len(self.characters),
            "n_images": len(self.images),
            "image_shape": list(self.images.shape[1:]),
            "attributes": list(self.attributes),
            "values": {k: list(v) for k, v in self.values.items()},
            "held_out_pairs": self.held_out,
            "background_rgb": list(BACKGROUND_RGB),
            "license": LICENSE,
            "attribution": self.attribution,
        }


# ---------------------------------------------------------------- the held-out rule


def held_out_pairs(character: Character) -> list[tuple[str, str]]:
    """The held-out (attribute, attribute) pairs ``character`` wears (a pair with a None value never counts)."""
    worn = []
    for (a, b), pairs in HELD_OUT_PAIRS.items():
        if character.get(a) is not None and character.get(b) is not None and (character[a], character[b]) in pairs:
            worn.append((a, b))
    return worn


def is_held_out(character: Character) -> bool:
    """True when ``character`` wears at least one held-out pair (it may only appear in ``test``)."""
    return bool(held_out_pairs(character))


def check_held_out_rule(layers: CharacterLayers) -> None:
    """Every held-out value exists in the folder and leaves each value allowed partners; else :class:`DataError`."""
    for (a, b), pairs in HELD_OUT_PAIRS.items():
        for x, y in pairs:
            if x not in layers.attributes.get(a, []) or y not in layers.attributes.get(b, []):
                raise DataError(f"held-out pair {a}={x}, {b}={y} names a value the layer folder lacks")
        for value in layers.attributes[a]:
            if all((value, y) in pairs for y in layers.attributes[b]):
                raise DataError(f"{a}={value} has no allowed {b}: the held-out rule would remove it from train")
        for value in layers.attributes[b]:
            if all((x, value) in pairs for x in layers.attributes[a]):
                raise DataError(f"{b}={value} has no allowed {a}: the held-out rule would remove it from train")


def _balanced(rng: np.random.Generator, k: int, n: int) -> np.ndarray:
    """``n`` indices into ``k`` values, as equal in count as possible, in seeded random order."""
    return rng.permutation(np.resize(np.arange(k), n))


def sample_characters(layers: CharacterLayers, split: str, n: int, seed: int = 0) -> list[Character]:
    """``n`` seeded attribute sets of ``split`` following the held-out rule (module docstring)."""
    if split not in SPLITS:
        raise DataError(f"dataset '{DATASET}' has no split '{split}'", f"its splits are: {', '.join(SPLITS)}")
    check_held_out_rule(layers)
    rng = np.random.default_rng([seed, SPLITS.index(split)])
    names = list(layers.attributes)
    drawn = {a: [layers.attributes[a][i] for i in _balanced(rng, len(layers.attributes[a]), n)] for a in names}
    for (a, b), pairs in HELD_OUT_PAIRS.items():
        if split == "test":  # every test character wears one held-out pair of each kind
            chosen = [pairs[i] for i in _balanced(rng, len(pairs), n)]
            drawn[a], drawn[b] = [x for x, _ in chosen], [y for _, y in chosen]
            continue
        for i in range(n):  # train/val: redraw the partner of a held-out pair among the allowed ones
            if (drawn[a][i], drawn[b][i]) in pairs:
                allowed = [y for y in layers.attributes[b] if (drawn[a][i], y) not in pairs]
                drawn[b][i] = allowed[int(rng.integers(len(allowed)))]
    return [layers.character({a: drawn[a][i] for a in names}) for i in range(n)]


# ---------------------------------------------------------------- composing a split


def label_matrix(layers: CharacterLayers, characters: list[Character]) -> np.ndarray:
    """int64 labels (4·n, A) of ``characters`` in their four directions (−1: attribute does not apply)."""
    names = list(layers.attributes)
    per_character = np.array(
        [[layers.attributes[a].index(c[a]) if c[a] is not None else -1 for a in names] for c in characters],
        dtype=np.int64,
    ).reshape(len(characters), len(names))
    d = len(layers.directions)
    labels = np.repeat(per_character, d, axis=0)  # (n, A) -> (n·d, A), character-major
    directions = np.tile(np.arange(d, dtype=np.int64), len(characters))
    return np.concatenate([labels, directions[:, None]], axis=1)


def _standing_steps(layers: CharacterLayers, characters: list[Character]) -> list[np.ndarray | None]:
    """One uint8 RGBA stack (n, 4, 64, 64, 4) per drawing step (``z_order``) of the characters' standing
    frames, transparent where a character draws nothing at that step; None for a step none of them draws."""
    d, s = len(layers.directions), layers.frame_size
    empty = np.zeros((d, s, s, 4), dtype=np.uint8)
    by_category = {f: category for category in layers.z_order for f in layers.layers[category]["files"].values()}
    files = [layers.layer_files(c) for c in characters]
    stacks: list[np.ndarray | None] = []
    for category in layers.z_order:
        drawn = [next((f for f in fs if by_category[f] == category), None) for fs in files]
        stack = [layers.column(f, layers.standing_column) if f else empty for f in drawn]
        stacks.append(np.stack(stack) if any(drawn) else None)
    return stacks


def compose_standing_batch(layers: CharacterLayers, characters: list[Character]) -> np.ndarray:
    """The standing frames of many characters: uint8 RGBA (n·4, 64, 64, 4), character-major."""
    d, s = len(layers.directions), layers.frame_size
    out = np.empty((len(characters), d, s, s, 4), dtype=np.uint8)
    for start in range(0, len(characters), COMPOSE_CHUNK):
        chunk = characters[start : start + COMPOSE_CHUNK]
        stacks = [stack for stack in _standing_steps(layers, chunk) if stack is not None]
        out[start : start + len(chunk)] = composite(stacks, (len(chunk), d, s, s, 4))
    return out.reshape(-1, s, s, 4)  # (n, d, s, s, 4) -> (n·d, s, s, 4)


def standing_layers(layers: CharacterLayers, characters: list[Character]) -> np.ndarray:
    """The layers the standing frames of many characters are composited from: uint8 straight-alpha RGBA
    (n·4, K, 64, 64, 4), one per drawing step (``z_order``) and image, character-major like
    :func:`compose_standing_batch`; fully transparent where a character draws nothing at a step."""
    d, s, k = len(layers.directions), layers.frame_size, len(layers.z_order)
    out = np.zeros((len(characters), d, k, s, s, 4), dtype=np.uint8)
    for start in range(0, len(characters), COMPOSE_CHUNK):
        chunk = characters[start : start + COMPOSE_CHUNK]
        for i, stack in enumerate(_standing_steps(layers, chunk)):
            if stack is not None:
                out[start : start + len(chunk), :, i] = stack
    return out.reshape(-1, k, s, s, 4)  # (n, d, k, s, s, 4) -> (n·d, k, s, s, 4)


def load_characters(split: str = "train", config: CharacterDataConfig | None = None, **options: Any) -> CharacterSet:
    """Compose ``split`` of the dataset: ``config`` (or its defaults) updated with ``options``
    (``n_train``, ``n_val``, ``n_test``, ``seed``, ``data_dir``). Same arguments, same pixels and labels."""
    values = {**(config.to_dict() if config else {}), **options}
    cfg = CharacterDataConfig.build(values, where="data")
    layers = CharacterLayers.locate(cfg.data_dir)
    return _load(layers, split, cfg.size(split), cfg.seed)


@functools.lru_cache(maxsize=4)
def _load(layers: CharacterLayers, split: str, n: int, seed: int) -> CharacterSet:
    """One composed split, kept in memory for the process (its arrays are read-only)."""
    characters = sample_characters(layers, split, n, seed)
    images = compose_standing_batch(layers, characters)
    labels = label_matrix(layers, characters)
    images.flags.writeable = labels.flags.writeable = False
    used = sorted({f for c in characters for f in layers.layer_files(c)})
    return CharacterSet(
        images=images,
        labels=labels,
        attributes=[*layers.attributes, DIRECTION],
        values={**{a: list(v) for a, v in layers.attributes.items()}, DIRECTION: list(layers.directions)},
        characters=characters,
        split=split,
        seed=seed,
        attribution=attribution(layers, used),
        held_out={f"{a}+{b}": [list(p) for p in pairs] for (a, b), pairs in HELD_OUT_PAIRS.items()},
    )


def load_layers(split: str = "train", config: CharacterDataConfig | None = None, **options: Any) -> np.ndarray:
    """The drawing-step layers of ``split`` (options as :func:`load_characters`): uint8 straight-alpha RGBA
    (N, K, 64, 64, 4), image for image the layers whose composite is ``load_characters(split).images``
    (the characters of that split, which is kept in memory; these layers are not: the default train split's
    take 0.5 GB)."""
    values = {**(config.to_dict() if config else {}), **options}
    cfg = CharacterDataConfig.build(values, where="data")
    layers = CharacterLayers.locate(cfg.data_dir)
    return standing_layers(layers, _load(layers, split, cfg.size(split), cfg.seed).characters)


def attribute_matrix(split: str = "train", data_dir: str | None = None) -> tuple[np.ndarray, list[str], dict]:
    """The full label matrix of the registered dataset's ``split`` (default sizes and seed), row for row
    with its images: int64 (N, A) (−1: does not apply), the attribute names and their value names."""
    data = load_characters(split, data_dir=data_dir)
    return data.labels, list(data.attributes), {k: list(v) for k, v in data.values.items()}


@image_dataset(DATASET, splits=SPLITS, native_size=64, license=LICENSE)
def load_lpc_characters(split: str, data_dir: str | None, download: bool) -> RawImages:
    """LPC game characters (CC BY-SA 3.0, credit required) from DATA_DIR/characters, 64×64 RGB, 4 directions."""
    data = load_characters(split, data_dir=data_dir)
    return RawImages(data.rgb(), data.column(DIRECTION).copy(), list(data.values[DIRECTION]))


DATASETS.get(DATASET).extras.update(
    attribution="required on anything made from it: genlab.image.characters.attribution() (docs/characters.md)",
    labels="direction; the full attribute matrix: genlab.image.characters.attribute_matrix(split)",
)


# ---------------------------------------------------------------- credits


def attribution(layers: CharacterLayers | str | None = None, files: Iterable[str] | None = None) -> str:
    """The credit text anything made from the layers must carry: the minimum credit block of the folder's
    ``SOURCE.md`` and the authors listed in ``CREDITS.csv`` for ``files`` (relative layer paths; default:
    every layer). ``layers`` is a :class:`CharacterLayers` or a data directory (None: the default root)."""
    if not isinstance(layers, CharacterLayers):
        layers = CharacterLayers.locate(layers)
    block = _credit_block(layers.folder / "SOURCE.md")
    authors = _authors(layers.folder / "CREDITS.csv", None if files is None else set(files))
    return f"{block}\nAuthors of the layers used (per CREDITS.csv): {'; '.join(authors)}."


def _credit_block(path: Path) -> str:
    """The quoted lines after "minimum credit block" in SOURCE.md, unquoted."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise DataError(f"cannot read {path}: {e}", "the credits are required; restore SOURCE.md") from None
    start = next((i for i, line in enumerate(lines) if "minimum credit block" in line.lower()), None)
    block = []
    for line in lines[start + 1 :] if start is not None else []:
        if line.startswith(">"):
            block.append(line[1:].strip())
        elif block:
            break
    if not block:
        raise DataError(f"{path} has no minimum credit block", "the credits are required; restore SOURCE.md")
    return "\n".join(block)


def _authors(path: Path, files: set[str] | None) -> list[str]:
    """Sorted distinct authors of ``files`` (all files when None) in CREDITS.csv (``;``-separated per row)."""
    try:
        with open(path, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise DataError(f"cannot read {path}: {e}", "the credits are required; restore CREDITS.csv") from None
    authors = {
        name.strip()
        for row in rows
        if files is None or row.get("filename") in files
        for name in (row.get("authors") or "").split(";")
        if name.strip()
    }
    if not authors:
        raise DataError(f"{path} lists no authors for the layers used", "restore CREDITS.csv")
    return sorted(authors)


# ---------------------------------------------------------------- what an image shows


def visible_classes(data: CharacterSet, data_dir: str | None = None) -> dict[str, np.ndarray]:
    """Per attribute, the values that render pixel-identically to the true one in each image of ``data``.

    For image ``i`` (a character in one direction) and attribute ``a``, value ``v`` belongs to the visible
    class of the true value when the character with ``a = v`` (every other attribute unchanged) composes to
    the same RGBA frame in that direction. Where switching ``a`` makes another attribute apply (a bald
    character given a hair style needs a hair colour), ``v`` counts only when every such completion renders
    identically. Returns ``{attribute: bool (N, n_values)}``, row ``i`` True on the class of image ``i``'s
    true value; a row that is all True means the attribute cannot be seen in that image (hair colour under a
    closed helmet, trousers under a tabard and boots), and a label of −1 gives an all-True row. Composed with
    the layers under ``data_dir`` (default root), cached per character.
    """
    layers = CharacterLayers.locate(data_dir)
    n_dir = len(layers.directions)
    per_character = [_visible_classes(layers, tuple(c.items())) for c in data.characters]
    out = {}
    for a in data.attributes:
        if a == DIRECTION:  # another direction draws another frame: compare the four frames themselves
            out[a] = np.concatenate([_direction_classes(layers, tuple(c.items())) for c in data.characters])
        else:
            out[a] = np.concatenate([np.repeat(p[a][None], n_dir, axis=0) if p[a].ndim == 1 else p[a]
                                     for p in per_character])  # fmt: skip
    return out


def visible_fraction(classes: dict[str, np.ndarray]) -> dict[str, float]:
    """Per attribute, the share of images in which it can be seen (its visible class is not every value)."""
    return {a: float((~m.all(axis=1)).mean()) if len(m) else 0.0 for a, m in classes.items()}


@functools.lru_cache(maxsize=4096)
def _visible_classes(layers: CharacterLayers, items: tuple[tuple[str, str | None], ...]) -> dict[str, np.ndarray]:
    """``{attribute: bool (directions, n_values)}`` for one character (see :func:`visible_classes`)."""
    character = dict(items)
    variants: list[Character] = [character]  # the character itself, then every one-attribute change
    owners: list[tuple[str, int]] = [("", -1)]  # (attribute, value index) of each variant
    for a, choices in layers.attributes.items():
        for v, value in enumerate(choices):
            if value != character[a]:
                completions = _completions(layers, character, a, value)
                variants += completions
                owners += [(a, v)] * len(completions)
    frames = compose_standing_batch(layers, variants).reshape(len(variants), len(layers.directions), -1)
    same = (frames == frames[:1]).all(axis=2)  # (variants, directions): renders like the character itself
    out = {a: np.ones((len(layers.directions), len(choices)), dtype=bool) for a, choices in layers.attributes.items()}
    for (a, v), row in zip(owners[1:], same[1:], strict=True):
        out[a][:, v] &= row  # a value with several completions counts only if every one renders alike
    return out


def _completions(layers: CharacterLayers, character: Character, attribute: str, value: str) -> list[Character]:
    """``character`` with ``attribute = value``; one character per value of any attribute this switches on."""
    changed = {**character, attribute: value}
    missing = [b for b in layers.attributes if b != attribute and changed[b] is None and layers.applies(b, changed)]
    if not missing:
        return [layers.character(changed)]
    b = missing[0]  # only hair_color depends on another attribute in the folder
    return [c for v in layers.attributes[b] for c in _completions(layers, {**changed, b: v}, attribute, value)]


@functools.lru_cache(maxsize=4096)
def _direction_classes(layers: CharacterLayers, items: tuple[tuple[str, str | None], ...]) -> np.ndarray:
    """bool (directions, directions): whether the frames of two directions of one character are identical."""
    frames = layers.compose_column(dict(items))
    flat = frames.reshape(len(frames), -1)
    return (flat[:, None, :] == flat[None, :, :]).all(axis=2)
