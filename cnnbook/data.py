"""Data the book can use without a network, and the real downloads for Colab.

- ``load_digits``: scikit-learn's 1,797 handwritten digits (8x8), split and optionally resized.
- ``load_photo`` / ``PHOTOS``: real photographs that ship inside scikit-learn, scikit-image and matplotlib.
- ``make_shapes``: a seeded, procedurally generated coloured-shapes data set with labels, masks and boxes.
- ``mnist``, ``fashion_mnist``, ``cifar10``: torchvision's real data sets (downloaded on request).
"""
from __future__ import annotations

import os
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, TensorDataset


class Splits(NamedTuple):
    """Train, validation and test sets."""

    train: TensorDataset
    val: TensorDataset
    test: TensorDataset


def _resize(images: torch.Tensor, size: int | None) -> torch.Tensor:
    if size is None or images.shape[-1] == size:
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)


def _split_indices(n: int, val_fraction: float, test_fraction: float, seed: int) -> tuple[np.ndarray, ...]:
    if not (0 <= val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(
            f"need 0 <= val_fraction, 0 < test_fraction and val_fraction + test_fraction < 1; "
            f"got val_fraction={val_fraction}, test_fraction={test_fraction}"
        )
    order = np.random.default_rng(seed).permutation(n)
    n_test, n_val = round(n * test_fraction), round(n * val_fraction)
    return order[n_test + n_val :], order[n_test : n_test + n_val], order[:n_test]


def load_digits(
    image_size: int | None = 28,
    val_fraction: float = 0.15,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> Splits:
    """scikit-learn's handwritten digits as (N, 1, H, W) float tensors in [0, 1] with int64 labels.

    ``image_size`` resizes the 8x8 originals (bilinear), e.g. to 28 (MNIST-like) or 32 (LeNet-5);
    None keeps 8x8. The split is stratified by nothing but a seeded shuffle, and is the same for every size.
    """
    from sklearn.datasets import load_digits as sk_digits

    if image_size is not None and (not isinstance(image_size, int) or image_size < 8):
        raise ValueError(f"image_size must be None or an int >= 8, got {image_size!r}")
    bunch = sk_digits()
    images = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    images = _resize(images, image_size)
    labels = torch.tensor(bunch.target, dtype=torch.int64)
    parts = _split_indices(len(labels), val_fraction, test_fraction, seed)
    return Splits(*(TensorDataset(images[i], labels[i]) for i in map(torch.as_tensor, parts)))


def _sklearn_photo(name: str) -> np.ndarray:
    from sklearn.datasets import load_sample_image

    return load_sample_image(name)


def _skimage_photo(name: str) -> np.ndarray:
    import skimage.data

    return getattr(skimage.data, name)()


def _matplotlib_photo(name: str) -> np.ndarray:
    import matplotlib.cbook
    import matplotlib.image

    with matplotlib.cbook.get_sample_data(name) as f:
        return matplotlib.image.imread(f, format="jpg")


PHOTOS: dict[str, tuple] = {
    "china": (_sklearn_photo, "china.jpg"),
    "flower": (_sklearn_photo, "flower.jpg"),
    "astronaut": (_skimage_photo, "astronaut"),
    "coffee": (_skimage_photo, "coffee"),
    "chelsea": (_skimage_photo, "chelsea"),
    "camera": (_skimage_photo, "camera"),
    "brick": (_skimage_photo, "brick"),
    "grass": (_skimage_photo, "grass"),
    "rocket": (_skimage_photo, "rocket"),
    "grace_hopper": (_matplotlib_photo, "grace_hopper.jpg"),
}
"""Photographs that ship inside installed packages: name -> (loader, file or function name)."""


def load_photo(name: str, size: int | tuple[int, int] | None = None, gray: bool = False) -> torch.Tensor:
    """A real photograph as a float (C, H, W) tensor in [0, 1]: C = 3, or 1 when ``gray``.

    ``size`` resizes it (an int gives a square; (H, W) gives that shape). Names: see ``PHOTOS``.
    """
    if name not in PHOTOS:
        raise ValueError(f"unknown photo {name!r}; choose one of {sorted(PHOTOS)}")
    loader, arg = PHOTOS[name]
    array = np.asarray(loader(arg))
    image = torch.tensor(array, dtype=torch.float32)
    if array.dtype == np.uint8:
        image = image / 255.0
    image = image.unsqueeze(0) if image.ndim == 2 else image.permute(2, 0, 1)[:3]
    if image.shape[0] == 1 and not gray:
        image = image.expand(3, -1, -1)
    if gray and image.shape[0] == 3:
        weights = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)
        image = (image * weights).sum(0, keepdim=True)
    if size is not None:
        hw = (size, size) if isinstance(size, int) else tuple(size)
        if len(hw) != 2 or not all(isinstance(s, int) and s > 0 for s in hw):
            raise ValueError(f"size must be a positive int or an (H, W) pair, got {size!r}")
        image = F.interpolate(image[None], size=hw, mode="bilinear", align_corners=False, antialias=True)[0]
    return image.clamp(0, 1).contiguous()


SHAPE_CLASSES = ("circle", "square", "triangle")
"""Class names of :func:`make_shapes`; mask value ``i + 1`` is ``SHAPE_CLASSES[i]`` and 0 is background."""


@dataclass
class Shapes:
    """A coloured-shapes data set: images (N, 3, H, W) in [0, 1], one label per image (the class of its
    first, largest shape), masks (N, H, W) with 0 = background and k = class k-1, and per image a
    (n, 4) tensor of boxes (x0, y0, x1, y1 in pixels, inclusive-exclusive) with their classes."""

    images: torch.Tensor
    labels: torch.Tensor
    masks: torch.Tensor
    boxes: list[torch.Tensor]
    box_labels: list[torch.Tensor]

    def __len__(self) -> int:
        return len(self.labels)

    def classification(self) -> TensorDataset:
        """(image, label) pairs for a classifier."""
        return TensorDataset(self.images, self.labels)

    def segmentation(self) -> TensorDataset:
        """(image, mask) pairs for a segmentation network."""
        return TensorDataset(self.images, self.masks)


def _shape_mask(kind: str, size: int, cy: float, cx: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    if kind == "circle":
        return (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2
    if kind == "square":
        return (np.abs(yy - cy) <= r * 0.85) & (np.abs(xx - cx) <= r * 0.85)
    # An upward triangle with its apex at the top of the circumscribed box.
    top, bottom = cy - r, cy + r
    half_width = (yy - top) / (2 * r) * r
    return (yy >= top) & (yy <= bottom) & (np.abs(xx - cx) <= half_width)


def make_shapes(
    n: int,
    image_size: int = 32,
    max_objects: int = 1,
    seed: int = 0,
    noise: float = 0.05,
) -> Shapes:
    """Generate ``n`` images of random coloured circles, squares and triangles on a noisy background.

    Each image holds 1 to ``max_objects`` shapes; later shapes are drawn over earlier ones, and boxes
    are those of the visible pixels. The same seed always gives the same data.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if not isinstance(image_size, int) or image_size < 8:
        raise ValueError(f"image_size must be an int >= 8, got {image_size!r}")
    if not isinstance(max_objects, int) or max_objects < 1:
        raise ValueError(f"max_objects must be a positive int, got {max_objects!r}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    rng = np.random.default_rng(seed)
    images = np.empty((n, 3, image_size, image_size), dtype=np.float32)
    masks = np.zeros((n, image_size, image_size), dtype=np.int64)
    labels = np.empty(n, dtype=np.int64)
    boxes, box_labels = [], []
    for i in range(n):
        background = rng.uniform(0.0, 0.35, size=3)
        image = np.broadcast_to(background[:, None, None], (3, image_size, image_size)).copy()
        count = int(rng.integers(1, max_objects + 1))
        radii = np.sort(rng.uniform(0.12, 0.3, size=count) * image_size)[::-1]
        kinds = rng.integers(0, len(SHAPE_CLASSES), size=count)
        for kind, r in zip(kinds, radii):
            cy, cx = rng.uniform(r, image_size - r, size=2)
            colour = rng.uniform(0.45, 1.0, size=3)
            shape = _shape_mask(SHAPE_CLASSES[kind], image_size, cy, cx, r)
            image[:, shape] = colour[:, None]
            masks[i][shape] = kind + 1
        image += rng.normal(0.0, noise, size=image.shape)
        images[i] = np.clip(image, 0.0, 1.0)
        labels[i] = kinds[0]
        present, found = [], []
        for k in np.unique(kinds):
            ys, xs = np.nonzero(masks[i] == k + 1)
            if len(ys):
                present.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
                found.append(k)
        boxes.append(torch.tensor(present, dtype=torch.float32).reshape(-1, 4))
        box_labels.append(torch.tensor(found, dtype=torch.int64))
    return Shapes(torch.from_numpy(images), torch.from_numpy(labels), torch.from_numpy(masks), boxes, box_labels)


def make_loader(
    dataset: Dataset, batch_size: int = 64, shuffle: bool = False, seed: int = 0
) -> DataLoader:
    """A DataLoader whose shuffling order depends only on ``seed`` (single process: deterministic)."""
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator)


# ---------------------------------------------------------------------------------------------
# torchvision's real data sets, for Colab (and any machine with a network).

DEFAULT_ROOT = os.path.join(os.path.expanduser("~"), ".cache", "cnnbook")


def _torchvision_mnist(cls_name: str, root: str, train: bool, download: bool) -> TensorDataset:
    import torchvision.datasets as tvd

    cls = getattr(tvd, cls_name)
    try:
        ds = cls(root, train=train, download=download)
    except RuntimeError as err:
        raise ValueError(
            f"{cls_name} not found under {root!r}; pass download=True on a machine with a network ({err})"
        ) from None
    images = ds.data.unsqueeze(1).float() / 255.0
    return TensorDataset(images, ds.targets.clone().long())


def mnist(root: str = DEFAULT_ROOT, train: bool = True, download: bool = False) -> TensorDataset:
    """MNIST (torchvision's files under ``root``) as (N, 1, 28, 28) floats in [0, 1] and labels."""
    return _torchvision_mnist("MNIST", root, train, download)


def fashion_mnist(root: str = DEFAULT_ROOT, train: bool = True, download: bool = False) -> TensorDataset:
    """Fashion-MNIST (torchvision's files under ``root``) as (N, 1, 28, 28) floats in [0, 1] and labels."""
    return _torchvision_mnist("FashionMNIST", root, train, download)


CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def cifar10(root: str = DEFAULT_ROOT, train: bool = True, download: bool = False) -> TensorDataset:
    """CIFAR-10 as (N, 3, 32, 32) floats in [0, 1] and labels.

    ``download=True`` fetches and verifies the archive with torchvision; the batches are then read
    from the standard ``cifar-10-batches-py`` pickle files under ``root``.
    """
    folder = os.path.join(root, "cifar-10-batches-py")
    if download:
        import torchvision.datasets as tvd

        tvd.CIFAR10(root, train=train, download=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
    missing = [n for n in names if not os.path.exists(os.path.join(folder, n))]
    if missing:
        raise ValueError(f"CIFAR-10 files {missing} not found in {folder!r}; pass download=True with a network")
    data, labels = [], []
    for name in names:
        with open(os.path.join(folder, name), "rb") as f:
            batch = pickle.load(f, encoding="latin1")
        data.append(np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        labels.extend(batch["labels"])
    images = torch.from_numpy(np.concatenate(data)).float() / 255.0
    return TensorDataset(images, torch.tensor(labels, dtype=torch.int64))


def subset(dataset: Dataset, n: int, seed: int = 0) -> TensorDataset | torch.utils.data.Subset:
    """A seeded random subset of ``n`` items (e.g. to train on part of CIFAR-10 quickly)."""
    if not isinstance(n, int) or not 1 <= n <= len(dataset):
        raise ValueError(f"n must be an int between 1 and {len(dataset)}, got {n!r}")
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:n]
    if isinstance(dataset, TensorDataset):
        return TensorDataset(*(t[order] for t in dataset.tensors))
    return torch.utils.data.Subset(dataset, order.tolist())


def class_counts(labels: Sequence[int] | torch.Tensor, num_classes: int) -> list[int]:
    """How many examples of each class: a quick check that a split is balanced."""
    labels = torch.as_tensor(labels)
    return torch.bincount(labels, minlength=num_classes).tolist()
