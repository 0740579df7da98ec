"""Compose Liberated Pixel Cup characters from their layers: attribute set -> RGBA frames.

The layer folder (``DATA_DIR/characters/``, described by its ``SOURCE.md``) holds one 576×256 RGBA
sheet per layer: 4 rows (directions north, west, south, east) × 9 columns (column 0 stands, 1–8
walk) of 64×64 frames, all on one grid. Its ``attributes.json`` says everything a compositor needs:
the attributes and their values, which attributes pick each layer's file, and the drawing order
(``z_order``: body, legs, torso, leg_armor, feet, weapon, hair, hat). A character is composed by
drawing its layers first to last with the ordinary straight-alpha "over" operator (Porter & Duff
1984) at offset (0, 0); a ``none`` value (or a hair colour of a bald character) draws nothing.

The arithmetic is done in float64 and rounded once at the end, which reproduces the folder's
``preview.png`` pixel for pixel (:func:`render_preview`; every pixel of the layers is straight alpha).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from genlab.core.download import DATA_DIR_ENV, data_root
from genlab.core.errors import BadInputError, DataError, closest

FOLDER = "characters"  # the layers live in data_root(data_dir)/characters/
ATTRIBUTES_FILE = "attributes.json"
Character = dict[str, "str | None"]  # attribute name -> value (None: not applicable, e.g. a bald head's colour)


def missing_folder_hint(folder: Path) -> str:
    """Where the layer folder goes, for the error raised when it is missing."""
    return (
        f"put the LPC character layers (attributes.json, layers/, SOURCE.md, CREDITS.csv) in {folder}/, "
        f"or pass --data-dir DIR (or set {DATA_DIR_ENV}=DIR) with them in DIR/{FOLDER}/"
    )


class CharacterLayers:
    """One LPC layer folder: its attribute schema and its layer sheets (read lazily, each frame strip once).

    ``attributes`` maps every attribute to its values in the file's order; ``directions`` are the
    sheet's rows (north, west, south, east); ``frame_size`` is 64. Build it with :meth:`locate`
    (``--data-dir`` / ``$GENLAB_DATA_DIR`` / the default data root) or from a folder path.
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        meta = _read_attributes(self.folder)
        try:
            geometry = meta["geometry"]
            self.attributes: dict[str, list[str]] = {k: list(v["values"]) for k, v in meta["attributes"].items()}
            self.none_values: dict[str, str] = {
                k: v["none_value"] for k, v in meta["attributes"].items() if "none_value" in v
            }
            self.z_order: list[str] = list(meta["z_order"])
            self.layers: dict[str, dict[str, Any]] = {c: meta["layers"][c] for c in self.z_order}
            self.directions: list[str] = list(geometry["row_direction"])
            self.frame_size = int(geometry["frame_width"])
            self.columns = int(geometry["columns"])
            self.standing_column = int(geometry["standing_column"])
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(
                f"{self.folder / ATTRIBUTES_FILE} lacks a field the compositor needs: {e!r}",
                "restore the attributes.json that came with the layers",
            ) from None
        self.meta = meta
        self._columns: dict[tuple[str, int], np.ndarray] = {}  # (layer path, column) -> frames, read once

    @classmethod
    def locate(cls, data_dir: str | Path | None = None) -> CharacterLayers:
        """The folder ``data_root(data_dir)/characters`` (opened once per process and path)."""
        folder = data_root(data_dir) / FOLDER
        if not (folder / ATTRIBUTES_FILE).is_file():
            what = "has no attributes.json" if folder.is_dir() else "not found"
            raise DataError(f"LPC character layers: {folder} {what}", missing_folder_hint(folder))
        return _open_layers(str(folder.resolve()))

    # ---------------------------------------------------------------- attributes

    def is_none(self, attribute: str, value: str | None) -> bool:
        """Whether ``value`` of ``attribute`` means "draw nothing" (its ``none`` value, or None)."""
        return value is None or value == self.none_values.get(attribute)

    def applies(self, attribute: str, character: Mapping[str, str | None]) -> bool:
        """False when every layer that ``attribute`` selects is switched off by another attribute's ``none``
        (a bald character's hair colour); such an attribute has no value (None) and no label."""
        users = [layer for layer in self.layers.values() if attribute in layer["depends_on"]]
        switched_off = [
            any(
                other in self.none_values and character.get(other) == self.none_values[other]
                for other in layer["depends_on"]
                if other != attribute
            )
            for layer in users
        ]
        return not users or not all(switched_off)

    def character(self, attributes: Mapping[str, str | None] | None = None, **values: str | None) -> Character:
        """A validated, complete attribute set, from a mapping and/or keyword arguments.

        Optional attributes (those with a ``none`` value) default to it, and None (JSON's null) means it
        too; an attribute that does not apply (the hair colour of ``hair_style="none"``) becomes None.
        An unknown attribute or value, or a missing required one, raises :class:`BadInputError` naming
        the valid choices.
        """
        given = {**(attributes or {}), **values}
        for name in given:
            if name not in self.attributes:
                guess = closest(name, self.attributes)
                hint = (f"did you mean '{guess}'? " if guess else "") + "attributes: " + ", ".join(self.attributes)
                raise BadInputError(f"unknown character attribute '{name}'", hint)
        character: Character = {}
        for name, choices in self.attributes.items():
            value = given.get(name)
            value = self.none_values.get(name) if value is None else value  # None on an optional one: none
            if value is not None and value not in choices:
                guess = closest(str(value), choices)
                hint = (f"did you mean '{guess}'? " if guess else "") + f"valid {name} values: " + ", ".join(choices)
                raise BadInputError(f"unknown {name} '{value}'", hint)
            character[name] = value
        for name in self.attributes:
            if not self.applies(name, character):
                character[name] = None
            elif character[name] is None:
                raise BadInputError(
                    f"character attribute '{name}' is missing", f"give one of: {', '.join(self.attributes[name])}"
                )
        return character

    def layer_files(self, character: Mapping[str, str | None]) -> list[str]:
        """Paths (relative to the folder) of the layers a validated character draws, first to last."""
        files = []
        for category in self.z_order:
            layer = self.layers[category]
            keys = [character[a] for a in layer["depends_on"]]
            if any(self.is_none(a, v) for a, v in zip(layer["depends_on"], keys, strict=True)):
                continue
            key = "/".join(str(v) for v in keys)
            if key not in layer["files"]:
                raise DataError(f"{ATTRIBUTES_FILE} has no {category} layer for {key}", "the folder is incomplete")
            files.append(layer["files"][key])
        return files

    # ---------------------------------------------------------------- pixels

    def sheet(self, path: str) -> np.ndarray:
        """The layer sheet at ``path`` (relative) as uint8 RGBA (rows·64, columns·64, 4), read from disk."""
        full = self.folder / path
        try:
            with Image.open(full) as image:
                array = np.asarray(image.convert("RGBA"), dtype=np.uint8)
        except (OSError, ValueError) as e:
            raise DataError(f"cannot read layer {full}: {e}", "restore the layer folder from its source") from None
        expected = (len(self.directions) * self.frame_size, self.columns * self.frame_size, 4)
        if array.shape != expected:
            raise DataError(f"layer {full} is {array.shape[1]}×{array.shape[0]}, expected {expected[1]}×{expected[0]}")
        return array

    def column(self, path: str, column: int) -> np.ndarray:
        """One column of a layer sheet: uint8 RGBA (directions, 64, 64, 4), cached (treat as read-only)."""
        key = (path, column)
        if key not in self._columns:
            s = self.frame_size
            strip = self.sheet(path)[:, column * s : (column + 1) * s]
            # (4·64, 64, 4) -> (4, 64, 64, 4): one frame per direction
            self._columns[key] = np.ascontiguousarray(strip.reshape(len(self.directions), s, s, 4))
        return self._columns[key]

    def direction_index(self, direction: str) -> int:
        """Row of ``direction`` in the sheets; an unknown one raises :class:`BadInputError`."""
        if direction not in self.directions:
            raise BadInputError(f"unknown direction '{direction}'", "valid directions: " + ", ".join(self.directions))
        return self.directions.index(direction)

    def compose_sheet(self, character: Mapping[str, str | None]) -> np.ndarray:
        """The character's whole sheet: uint8 RGBA (4·64, 9·64, 4), rows = directions, columns = frames."""
        character = self.character(character)
        return composite([self.sheet(path) for path in self.layer_files(character)], self.sheet_shape)

    def compose_frame(
        self, character: Mapping[str, str | None], direction: str = "south", column: int = 0
    ) -> np.ndarray:
        """One frame: uint8 RGBA (64, 64, 4) of ``direction`` (a row name) and ``column`` (0 stands, 1–8 walk)."""
        row = self.direction_index(direction)
        return self.compose_column(character, column)[row]

    def compose_column(self, character: Mapping[str, str | None], column: int | None = None) -> np.ndarray:
        """One column of every direction: uint8 RGBA (4, 64, 64, 4); default: the standing frames."""
        column = self.standing_column if column is None else column
        if not 0 <= column < self.columns:
            raise BadInputError(f"frame column {column} is out of range", f"columns are 0..{self.columns - 1}")
        character = self.character(character)
        layers = [self.column(path, column) for path in self.layer_files(character)]
        s = self.frame_size
        return composite(layers, (len(self.directions), s, s, 4))

    @property
    def sheet_shape(self) -> tuple[int, int, int]:
        """(height, width, 4) of a whole sheet."""
        return len(self.directions) * self.frame_size, self.columns * self.frame_size, 4


@functools.lru_cache(maxsize=8)
def _open_layers(folder: str) -> CharacterLayers:
    return CharacterLayers(folder)


def _read_attributes(folder: Path) -> dict[str, Any]:
    path = folder / ATTRIBUTES_FILE
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"LPC character layers: {path} not found", missing_folder_hint(folder)) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"cannot read {path}: {e}", "restore the attributes.json that came with the layers") from None
    if not isinstance(meta, dict):
        raise DataError(f"{path} is not a JSON object", "restore the attributes.json that came with the layers")
    return meta


# ---------------------------------------------------------------- compositing


def alpha_over(dst: np.ndarray, src: np.ndarray) -> np.ndarray:
    """``src`` over ``dst``: straight-alpha float RGBA in [0, 1] (any leading shape, channels last).

    alpha = a_s + a_d·(1 − a_s); colour = (c_s·a_s + c_d·a_d·(1 − a_s)) / alpha, and 0 where alpha is 0.
    """
    a_src, a_dst = src[..., 3:], dst[..., 3:]
    below = a_dst * (1.0 - a_src)
    alpha = a_src + below
    colour = src[..., :3] * a_src + dst[..., :3] * below
    np.divide(colour, alpha, out=colour, where=alpha > 0)
    return np.concatenate([colour, alpha], axis=-1)


def composite(layers: Sequence[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    """Draw uint8 RGBA ``layers`` (each of ``shape``, channels last) first to last onto transparency.

    Returns uint8 RGBA of ``shape``: :func:`alpha_over` in float64, rounded once at the end. Where every
    layer is fully opaque or fully transparent that is exactly the last opaque layer (or transparent
    black), copied as uint8; the float formula runs only on pixels some layer covers partly.
    """
    out = np.zeros(shape, dtype=np.uint8)
    partial = np.zeros(shape[:-1], dtype=bool)
    for layer in layers:
        alpha = layer[..., 3]
        np.copyto(out, layer, where=(alpha == 255)[..., None])
        partial |= (alpha > 0) & (alpha < 255)
    where = np.nonzero(partial)
    if where[0].size:
        exact = np.zeros((where[0].size, 4), dtype=np.float64)
        for layer in layers:
            exact = alpha_over(exact, layer[where] / 255.0)
        out[where] = np.round(exact * 255.0).astype(np.uint8)
    return out


def on_background(rgba: np.ndarray, rgb: Sequence[int]) -> np.ndarray:
    """uint8 RGBA images (any leading shape, channels last) drawn over an opaque colour: uint8 RGB."""
    alpha = rgba[..., 3:].astype(np.float64) / 255.0
    colour = rgba[..., :3].astype(np.float64) * alpha + np.asarray(rgb, dtype=np.float64) * (1.0 - alpha)
    return np.clip(np.round(colour), 0, 255).astype(np.uint8)


def render_preview(layers: CharacterLayers) -> np.ndarray:
    """The folder's ``preview.png`` remade from ``attributes.json["preview"]``: uint8 RGB (H, W, 3).

    Each listed character's frame (``frame``: row, column) is composed, drawn over ``background_rgb``,
    scaled ``scale``× nearest-neighbour and placed in a ``grid_columns``×``grid_rows`` grid, reading order.
    """
    spec = layers.meta["preview"]
    if spec.get("resample", "nearest") != "nearest":
        raise DataError(f"preview resample '{spec['resample']}' is not supported", "only 'nearest' is")
    row, column = spec["frame"]["row"], spec["frame"]["column"]
    scale, cols, rows = int(spec["scale"]), int(spec["grid_columns"]), int(spec["grid_rows"])
    tile = layers.frame_size * scale
    grid = np.zeros((rows * tile, cols * tile, 3), dtype=np.uint8)
    grid[...] = spec["background_rgb"]
    for i, character in enumerate(spec["characters_in_reading_order"]):
        frame = layers.compose_frame(character, layers.directions[row], column)
        image = on_background(frame, spec["background_rgb"]).repeat(scale, axis=0).repeat(scale, axis=1)
        y, x = divmod(i, cols)
        grid[y * tile : (y + 1) * tile, x * tile : (x + 1) * tile] = image
    return grid


# ---------------------------------------------------------------- shortcuts


def compose_frame(
    character: Mapping[str, str | None], direction: str = "south", column: int = 0, data_dir: str | None = None
) -> np.ndarray:
    """One frame of a character (uint8 RGBA (64, 64, 4)) from the layers under ``data_dir``."""
    return CharacterLayers.locate(data_dir).compose_frame(character, direction, column)


def compose_standing(character: Mapping[str, str | None], data_dir: str | None = None) -> np.ndarray:
    """The four standing frames (north, west, south, east) of a character: uint8 RGBA (4, 64, 64, 4)."""
    return CharacterLayers.locate(data_dir).compose_column(character)


def compose_sheet(character: Mapping[str, str | None], data_dir: str | None = None) -> np.ndarray:
    """The full 4×9 sprite sheet of a character: uint8 RGBA (256, 576, 4)."""
    return CharacterLayers.locate(data_dir).compose_sheet(character)
