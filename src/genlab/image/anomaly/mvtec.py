"""``mvtec-ad``: the MVTec AD benchmark (Bergmann et al. 2019), for users who have it.

Layout (the official archive's): ``DATA_DIR/mvtec-ad/<category>/train/good/*.png``,
``<category>/test/<defect or good>/*.png`` and ``<category>/ground_truth/<defect>/<stem>_mask.png``.
The archive (5.3 GB, CC BY-NC-SA 4.0) is fetched through :func:`genlab.core.download.download` with its
sha256 checked when ``data.download`` is true and the folder is missing; it is never fetched in tests.
Images are resized to ``image_size`` (default 128) and masks with nearest-neighbour.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np

from genlab.core.download import data_root, download
from genlab.core.errors import DataError
from genlab.image.anomaly.data import AnomalyDataConfig, AnomalySet, read_folder, register_source, resize_masks
from genlab.image.data import open_image, scan_folder

DATASET = "mvtec-ad"
URL = (
    "https://www.mydrive.ch/shares/38536/3830184030e49fe74747669442f0f282/download/420938113-1629952094/"
    "mvtec_anomaly_detection.tar.xz"
)
SHA256 = "cf4313b13603bec67abb49ca959488f7eedce2a9f7795ec54446c649ac98cd3d"
ARCHIVE = "mvtec_anomaly_detection.tar.xz"
CATEGORIES = (
    "bottle", "cable", "capsule", "carpet", "grid", "hazelnut", "leather", "metal_nut", "pill", "screw", "tile",
    "toothbrush", "transistor", "wood", "zipper",
)  # fmt: skip
DEFAULT_SIZE = 128
LICENSE = "CC BY-NC-SA 4.0 (MVTec Software GmbH): non-commercial use"


def category_folder(data_dir: str | None, category: str, allow_download: bool) -> Path:
    """``DATA_DIR/mvtec-ad/<category>``, extracted from the verified archive when missing and allowed."""
    root = data_root(data_dir) / DATASET
    folder = root / category
    if folder.is_dir():
        return folder
    archive = root / ARCHIVE
    hint = (
        f"download {URL} (sha256 {SHA256[:12]}…) and extract it into {root}/ so that {folder}/train/good exists "
        "(or pass --data-dir DIR holding mvtec-ad/)"
    )
    if not archive.is_file():
        if not allow_download:
            raise DataError(f"MVTec AD category '{category}' not found in {root}", hint)
        download(URL, archive, SHA256, "MVTec AD (5.3 GB)")
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.name.split("/")[0] == category and (m.isfile() or m.isdir())]
        if not members:
            raise DataError(f"{archive} has no category '{category}'", f"categories: {', '.join(CATEGORIES)}")
        tar.extractall(root, members=members, filter="data")
    return folder


@register_source(DATASET)
def load_mvtec(cfg: AnomalyDataConfig) -> AnomalySet:
    """An MVTec AD category: train/good as normal images; test/* labelled, with the ground-truth masks."""
    category = cfg.category or CATEGORIES[0]
    folder = category_folder(cfg.data_dir, category, cfg.download)
    size = cfg.image_size or DEFAULT_SIZE
    normal, skipped = read_folder(folder / "train" / "good", size, cfg.channels)
    files, _, _ = scan_folder(folder / "test")
    test, more = read_folder(folder / "test", size, normal.shape[3])
    if more:
        raise DataError(f"unreadable MVTec AD test images in {folder}/test", more[0])
    kinds = [f.relative_to(folder / "test").parts[0] for f in files]
    masks = np.zeros((len(files), size, size), dtype=bool)
    for i, (file, kind) in enumerate(zip(files, kinds, strict=True)):
        if kind == "good":
            continue
        mask_file = folder / "ground_truth" / kind / f"{file.stem}_mask.png"
        if not mask_file.is_file():
            raise DataError(f"missing ground-truth mask {mask_file}", "the category folder looks incomplete")
        mask = np.asarray(open_image(mask_file, "L")) > 127
        masks[i] = resize_masks(mask[None], size)[0]
    labels = np.array([k != "good" for k in kinds], dtype=np.int64)
    return AnomalySet(normal, test, labels, masks, kinds, skipped, LICENSE)
