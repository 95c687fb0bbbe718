"""Texture patches cut from real photographs that scikit-image ships: an offline transfer-learning target.

Each photograph is one class. It is cut into three bands along its longer side (train, validation, test), and
every patch lies inside one band, so no pixel of a test patch was ever seen in training (``boxes`` records where
each patch came from; the tests check that the bands never overlap). All photos are turned grey, so colour alone
gives no class away.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

TEXTURE_CLASSES = ("brick", "grass", "gravel", "moon", "hubble_deep_field", "immunohistochemistry", "coins", "page")
"""The scikit-image photographs used, one class each (``skimage.data.<name>``)."""

BANDS = (0.45, 0.2, 0.35)
"""Fractions of each photo's longer side given to the train, validation and test bands, in that order."""


@dataclass
class TexturePatches:
    """Train, validation and test patches with their class names and the box (top, left, h, w) of each patch."""

    train: TensorDataset
    val: TensorDataset
    test: TensorDataset
    classes: tuple[str, ...]
    boxes: dict[str, list[tuple[int, int, int, int, int]]] = field(default_factory=dict)  # split -> (class, t, l, h, w)


def texture_photo(name: str) -> np.ndarray:
    """The grey photograph ``skimage.data.<name>`` as a float32 (H, W) array in [0, 1]."""
    if name not in TEXTURE_CLASSES:
        raise ValueError(f"unknown texture {name!r}; choose one of {TEXTURE_CLASSES}")
    import skimage.color
    import skimage.data

    image = np.asarray(getattr(skimage.data, name)())
    if image.ndim == 3:
        image = skimage.color.rgb2gray(image[..., :3])
    elif image.dtype == np.uint8:
        image = image / 255.0
    return image.astype(np.float32)


def band_limits(length: int, split: str) -> tuple[int, int]:
    """The [start, stop) pixel range of ``split``'s band along a side of ``length`` pixels."""
    names = ("train", "val", "test")
    if split not in names:
        raise ValueError(f"split must be one of {names}, got {split!r}")
    edges = np.round(np.cumsum((0.0,) + BANDS) * length).astype(int)
    i = names.index(split)
    return int(edges[i]), int(edges[i + 1])


def _cut(image: np.ndarray, split: str, n: int, patch: int, rng: np.random.Generator) -> tuple[list, list]:
    h, w = image.shape
    along_width = w >= h
    start, stop = band_limits(w if along_width else h, split)
    if stop - start < patch or min(h, w) < patch:
        raise ValueError(f"a {patch}-pixel patch does not fit the {split} band ({stop - start} px) of a {h}x{w} photo")
    patches, boxes = [], []
    for _ in range(n):
        a = int(rng.integers(start, stop - patch + 1))  # along the banded side
        b = int(rng.integers(0, (h if along_width else w) - patch + 1))
        top, left = (b, a) if along_width else (a, b)
        patches.append(image[top:top + patch, left:left + patch])
        boxes.append((top, left, patch, patch))
    return patches, boxes


def load_textures(
    n_train: int = 20,
    n_val: int = 10,
    n_test: int = 25,
    patch: int = 64,
    size: int | None = None,
    seed: int = 0,
    classes: tuple[str, ...] = TEXTURE_CLASSES,
) -> TexturePatches:
    """Patches per class (``n_train``, ``n_val``, ``n_test``) of ``patch`` pixels, as 3-channel grey images in [0, 1].

    ``size`` resizes the patches (None keeps ``patch``). Train, validation and test come from disjoint bands.
    """
    for name, value in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test), ("patch", patch)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if not classes or len(set(classes)) != len(classes):
        raise ValueError(f"classes must be distinct names from {TEXTURE_CLASSES}, got {classes!r}")
    rng = np.random.default_rng(seed)
    photos = [texture_photo(c) for c in classes]
    sets, boxes = {}, {}
    for split, n in (("train", n_train), ("val", n_val), ("test", n_test)):
        images, labels, where = [], [], []
        for label, photo in enumerate(photos):
            cut, cut_boxes = _cut(photo, split, n, patch, rng)
            images += cut
            labels += [label] * n
            where += [(label, *box) for box in cut_boxes]
        x = torch.from_numpy(np.stack(images))[:, None].expand(-1, 3, -1, -1).contiguous()
        if size is not None and size != patch:
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)
        sets[split] = TensorDataset(x, torch.tensor(labels))
        boxes[split] = where
    return TexturePatches(sets["train"], sets["val"], sets["test"], tuple(classes), boxes)
