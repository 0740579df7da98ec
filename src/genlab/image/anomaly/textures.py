"""``builtin:textures-defects``: an industrial-style inspection set built offline, with pixel-exact defect masks.

Normal images are 64×64 tiles cropped from one of scikit-image's bundled texture photographs (``brick``,
``grass``, ``gravel``; 512×512, public domain), drawn as RGB so colour defects show. Training and validation
tiles come from the top three quarters of the photograph, test tiles from the bottom quarter, so no test pixel
was seen in training. Half the test tiles get one synthetic defect, whose mask is known exactly:

* ``scratch``: a thin straight line, brighter or darker than the surface;
* ``spot``: a filled disc of another grey level;
* ``cut``: a short dark gap with a bright lit edge (a notch in the surface);
* ``stain``: a soft ellipse tinted towards a colour (mask: where the tint exceeds half its strength).

Everything follows from ``seed``: the same seed gives the same pixels and masks.
"""

from __future__ import annotations

import numpy as np

from genlab.core.errors import DataError, unknown_name
from genlab.core.optional import require
from genlab.image.anomaly.data import AnomalyDataConfig, AnomalySet, register_source, resize_images, resize_masks

DATASET = "builtin:textures-defects"
CATEGORIES = ("brick", "grass", "gravel")
DEFECTS = ("scratch", "spot", "cut", "stain")
TILE = 64
N_NORMAL, N_TEST = 400, 200  # normal tiles to train/validate on; test tiles (half with a defect)
LICENSE = "scikit-image bundled data (brick, grass, gravel: public domain, see skimage/data/README.txt)"


def texture(category: str) -> np.ndarray:
    """The 512×512 grey photograph of ``category`` from scikit-image, uint8."""
    if category not in CATEGORIES:
        raise unknown_name("texture category", category, CATEGORIES)
    data = require("skimage.data", "image", DATASET)
    return np.asarray(getattr(data, category)(), dtype=np.uint8)


def crop_tiles(photo: np.ndarray, n: int, rows: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """``n`` random TILE×TILE crops whose top-left row lies in ``rows``: uint8 RGB (n, TILE, TILE, 3)."""
    ys = rng.integers(rows[0], rows[1] - TILE + 1, n)
    xs = rng.integers(0, photo.shape[1] - TILE + 1, n)
    tiles = np.stack([photo[y : y + TILE, x : x + TILE] for y, x in zip(ys, xs, strict=True)])
    return np.repeat(tiles[..., None], 3, axis=3)


def _line_mask(p0: np.ndarray, p1: np.ndarray, width: float) -> np.ndarray:
    """Pixels within ``width``/2 of the segment p0–p1 (x, y): bool (TILE, TILE)."""
    yy, xx = np.mgrid[0:TILE, 0:TILE].astype(np.float64)
    d = p1 - p0
    t = np.clip(((xx - p0[0]) * d[0] + (yy - p0[1]) * d[1]) / max(float(d @ d), 1e-9), 0, 1)
    dist = np.hypot(xx - (p0[0] + t * d[0]), yy - (p0[1] + t * d[1]))
    return dist <= width / 2


def add_defect(tile: np.ndarray, kind: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``tile`` (TILE, TILE, 3) uint8 with one defect of ``kind``, and its mask bool (TILE, TILE)."""
    out = tile.astype(np.float64)
    centre = rng.uniform(16, TILE - 16, 2)
    yy, xx = np.mgrid[0:TILE, 0:TILE].astype(np.float64)
    if kind == "scratch":
        angle, length = rng.uniform(0, np.pi), rng.uniform(20, 40)
        half = np.array([np.cos(angle), np.sin(angle)]) * length / 2
        mask = _line_mask(centre - half, centre + half, rng.uniform(1.5, 2.5))
        out[mask] = 235.0 if rng.random() < 0.5 else 20.0
    elif kind == "spot":
        mask = np.hypot(xx - centre[0], yy - centre[1]) <= rng.uniform(3, 7)
        out[mask] = rng.uniform(0, 40) if out[mask].mean() > 128 else rng.uniform(215, 255)
    elif kind == "cut":
        angle, length = rng.uniform(0, np.pi), rng.uniform(10, 20)
        half = np.array([np.cos(angle), np.sin(angle)]) * length / 2
        mask = _line_mask(centre - half, centre + half, 4.0)
        normal = np.array([-np.sin(angle), np.cos(angle)]) * 2.5
        edge = _line_mask(centre - half + normal, centre + half + normal, 1.5) & ~mask
        out[mask] = 10.0
        out[edge] = 245.0
        mask = mask | edge
    elif kind == "stain":
        a, b, angle = rng.uniform(5, 10), rng.uniform(3, 7), rng.uniform(0, np.pi)
        u = (xx - centre[0]) * np.cos(angle) + (yy - centre[1]) * np.sin(angle)
        v = -(xx - centre[0]) * np.sin(angle) + (yy - centre[1]) * np.cos(angle)
        alpha = np.clip(1.5 - np.sqrt((u / a) ** 2 + (v / b) ** 2), 0, 1) * 0.8  # soft edge, full 0.8 inside
        colour = np.array([(200, 60, 30), (40, 160, 60), (50, 70, 200)][rng.integers(3)], dtype=np.float64)
        out = out * (1 - alpha[..., None]) + colour * alpha[..., None]
        mask = alpha > 0.4
    else:
        raise unknown_name("defect", kind, DEFECTS)
    return np.clip(np.round(out), 0, 255).astype(np.uint8), mask


def build_textures(category: str, seed: int = 0) -> AnomalySet:
    """The whole set for one texture: N_NORMAL normal tiles, N_TEST test tiles (every other one defective)."""
    photo = texture(category)
    rng = np.random.default_rng([seed, CATEGORIES.index(category)])
    split_row = photo.shape[0] * 3 // 4
    normal = crop_tiles(photo, N_NORMAL, (0, split_row), rng)
    test = crop_tiles(photo, N_TEST, (split_row, photo.shape[0]), rng)
    masks = np.zeros((N_TEST, TILE, TILE), dtype=bool)
    labels = np.zeros(N_TEST, dtype=np.int64)
    kinds = ["good"] * N_TEST
    for i in range(1, N_TEST, 2):
        kind = DEFECTS[(i // 2) % len(DEFECTS)]
        test[i], masks[i] = add_defect(test[i], kind, rng)
        labels[i], kinds[i] = 1, kind
        if not masks[i].any():
            raise DataError(f"defect {kind} drew an empty mask")  # cannot happen with the sizes above
    return AnomalySet(normal, test, labels, masks, kinds, license=LICENSE)


@register_source(DATASET)
def load_textures(cfg: AnomalyDataConfig) -> AnomalySet:
    """Texture tiles (brick, grass, gravel) with synthetic scratches, spots, cuts and stains of known masks."""
    data = build_textures(cfg.category or CATEGORIES[0], cfg.seed)
    size = cfg.image_size
    data.normal = resize_images(data.normal, size, cfg.channels)
    data.test = resize_images(data.test, size, cfg.channels)
    data.test_masks = resize_masks(data.test_masks, size) if size else data.test_masks
    return data
