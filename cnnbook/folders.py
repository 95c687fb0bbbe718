"""A small folder of images in the layout ``torchvision.datasets.ImageFolder`` reads: ``root/<class>/<image>.png``.

``write_photo_folder`` cuts random crops out of the photographs that ship with installed packages
(:func:`cnnbook.data.load_photo`), one photograph per class, so a chapter can show the whole path from a folder of
image files to a trained network without downloading anything.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

PHOTO_CLASSES = {"cat": "chelsea", "coffee": "coffee", "flower": "flower"}
"""The default classes of :func:`write_photo_folder`: class name -> photograph (see ``cnnbook.data.PHOTOS``)."""


def write_photo_folder(root: str | Path, classes: Mapping[str, str] | None = None, per_class: int = 24,
                       size: int = 48, seed: int = 0) -> Path:
    """Write ``per_class`` PNG crops (``size`` x ``size``) of one photograph per class under ``root/<class>/``.

    Each crop is a random square covering 25-60% of the photograph's shorter side, resized; the same seed
    writes the same files. Returns ``root``. Existing files with the same names are overwritten.
    """
    from PIL import Image

    from cnnbook.data import PHOTOS, load_photo

    classes = dict(PHOTO_CLASSES if classes is None else classes)
    if not classes or any(not isinstance(c, str) or not c or "/" in c for c in classes):
        raise ValueError(f"classes must map non-empty folder names to photographs, got {classes!r}")
    unknown = [p for p in classes.values() if p not in PHOTOS]
    if unknown:
        raise ValueError(f"unknown photograph(s) {unknown}; choose among {sorted(PHOTOS)}")
    for label, value in (("per_class", per_class), ("size", size), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, int) or value < (0 if label == "seed" else 1):
            raise ValueError(f"{label} must be a {'non-negative' if label == 'seed' else 'positive'} int, got {value!r}")
    rng = np.random.default_rng(seed)
    root = Path(root)
    for name, photo_name in classes.items():
        photo = load_photo(photo_name)
        _, h, w = photo.shape
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            side = int(rng.uniform(0.25, 0.6) * min(h, w))
            top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
            crop = photo[:, top:top + side, left:left + side]
            crop = F.interpolate(crop[None], size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0]
            pixels = (crop.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
            Image.fromarray(pixels).save(folder / f"{name}_{i:03d}.png")
    return root
