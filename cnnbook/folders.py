"""A small folder of images in the layout ``torchvision.datasets.ImageFolder`` reads: ``root/<class>/<image>.png``.

``write_photo_folder`` cuts random crops out of the photographs that ship with installed packages
(:func:`cnnbook.data.load_photo`), one photograph per class, so a chapter can show the whole path from a folder of
image files to a trained network without downloading anything. ``folder_splits`` cuts such a folder, or your own,
into stratified train, validation and test splits, each read through its own transform.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Subset

if TYPE_CHECKING:
    from cnnbook.data import Splits

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


def folder_splits(root: str | Path, train_transform: Callable | None, eval_transform: Callable | None,
                  val_fraction: float = 0.2, test_fraction: float = 0.2, seed: int = 0) -> Splits:
    """Train, validation and test splits of the ``ImageFolder`` at ``root``, stratified by class and seeded.

    The files are read twice: the training split through ``train_transform`` (random augmentation), validation and
    test through ``eval_transform``. Each class puts at least one image into every split.
    """
    from torchvision.datasets import ImageFolder

    from cnnbook.data import Splits

    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
            raise ValueError(f"{name} must be a number in (0, 1), got {value!r}")
    if val_fraction + test_fraction >= 1:
        raise ValueError(f"val_fraction + test_fraction must be below 1, got {val_fraction} + {test_fraction}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    for name, fn in (("train_transform", train_transform), ("eval_transform", eval_transform)):
        if fn is not None and not callable(fn):
            raise ValueError(f"{name} must be callable or None, got {fn!r}")
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"{root} is not a folder: expected one sub-folder of images per class")
    train_folder = ImageFolder(root, transform=train_transform)
    eval_folder = ImageFolder(root, transform=eval_transform)
    targets = torch.tensor(train_folder.targets)
    generator = torch.Generator().manual_seed(seed)
    parts: tuple[list[int], list[int], list[int]] = ([], [], [])
    for c, name in enumerate(train_folder.classes):
        members = (targets == c).nonzero().flatten()
        if len(members) < 3:
            raise ValueError(f"class {name!r} has {len(members)} image(s); each class needs 3 or more to fill three splits")
        members = members[torch.randperm(len(members), generator=generator)].tolist()
        n_val = min(max(1, round(val_fraction * len(members))), len(members) - 2)
        n_test = min(max(1, round(test_fraction * len(members))), len(members) - 1 - n_val)
        parts[1].extend(members[:n_val])
        parts[2].extend(members[n_val:n_val + n_test])
        parts[0].extend(members[n_val + n_test:])
    train, val, test = (sorted(p) for p in parts)
    return Splits(Subset(train_folder, train), Subset(eval_folder, val), Subset(eval_folder, test))
