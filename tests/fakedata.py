"""Tiny stand-in data sets in the real on-disk formats that torchvision and cnnbook.data read.

- MNIST and Fashion-MNIST: the four uncompressed IDX files under ``<root>/<MNIST|FashionMNIST>/raw``.
- CIFAR-10: the six pickled batches of ``cifar-10-batches-py`` (``data_batch_1..5``, ``test_batch``).
- Oxford-IIIT Pet: ``oxford-iiit-pet/images`` (JPEG photos) and ``annotations`` (trimaps and split lists).
- PASCAL VOC 2012: ``VOCdevkit/VOC2012`` with ``JPEGImages``, ``Annotations`` (XML) and ``ImageSets/Main``.

Used by the loaders' unit tests (tests/test_data.py) and by the FULL-branch run of every chapter
(tests/test_full_branches.py). Images are seeded noise; labels cycle through the ten classes, so every class
is present as soon as there are ten images.
"""
from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np

MNIST_FOLDERS = ("MNIST", "FashionMNIST")


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file of unsigned bytes (the format of MNIST's raw files)."""
    with open(path, "wb") as f:
        f.write(bytes([0, 0, 0x08, array.ndim]))
        f.write(struct.pack(">" + "i" * array.ndim, *array.shape))
        f.write(np.asarray(array).astype(np.uint8).tobytes())


def write_mnist(root: Path, folder: str = "MNIST", n_train: int = 6, n_test: int = 4, seed: int = 0) -> Path:
    """MNIST-format files (28x28 images, labels ``i % 10``) under ``root/folder/raw``; returns that folder."""
    raw = Path(root) / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, size=(n, 28, 28)))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10)
    return raw


def write_cifar10(root: Path, per_batch: int = 3, n_test: int = 3, seed: int = 0) -> Path:
    """CIFAR-10's pickled batches (3x32x32 images as 3072 bytes, labels ``i % 10``); returns the folder."""
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    sizes = {f"data_batch_{i}": per_batch for i in range(1, 6)} | {"test_batch": n_test}
    for name, n in sizes.items():
        batch = {"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8), "labels": [i % 10 for i in range(n)]}
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f)
    return folder


def write_all(root: Path, n_train: int = 200, n_test: int = 100) -> Path:
    """MNIST, Fashion-MNIST, CIFAR-10, Oxford-IIIT Pet and VOC stand-ins under one root (what a chapter's DATA_ROOT points at)."""
    for seed, folder in enumerate(MNIST_FOLDERS):
        write_mnist(root, folder, n_train=n_train, n_test=n_test, seed=seed)
    write_cifar10(root, per_batch=max(1, n_train // 5), n_test=n_test, seed=2)
    write_oxford_pets(root, n_trainval=max(2, n_train // 10), n_test=max(1, n_test // 10), seed=3)
    write_voc(root, n_train=max(2, n_train // 10), n_val=max(1, n_test // 10), seed=4)
    return Path(root)


def write_oxford_pets(root: Path, n_trainval: int = 6, n_test: int = 4, seed: int = 0) -> Path:
    """Oxford-IIIT Pet's layout (``images/*.jpg``, ``annotations/trimaps/*.png``, ``trainval.txt``, ``test.txt``):
    noise photos of varied sizes whose trimaps hold an ellipse (1) ringed by a border (3) on background (2)."""
    from PIL import Image

    base = Path(root) / "oxford-iiit-pet"
    (base / "images").mkdir(parents=True, exist_ok=True)
    (base / "annotations" / "trimaps").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, n, offset in (("trainval", n_trainval, 0), ("test", n_test, n_trainval)):
        lines = []
        for i in range(offset, offset + n):
            name = f"{'Abyssinian' if i % 2 else 'beagle'}_{i + 1}"
            h, w = rng.integers(40, 80, 2)
            Image.fromarray(rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)).save(base / "images" / f"{name}.jpg")
            yy, xx = np.mgrid[:h, :w]
            r = ((yy - h / 2) / (h / 3)) ** 2 + ((xx - w / 2) / (w / 3)) ** 2
            trimap = np.where(r < 0.8, 1, np.where(r < 1.2, 3, 2)).astype(np.uint8)
            Image.fromarray(trimap).save(base / "annotations" / "trimaps" / f"{name}.png")
            lines.append(f"{name} {1 + i % 2} {1 + i % 2} 1")
        (base / "annotations" / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return base


def write_voc(root: Path, n_train: int = 6, n_val: int = 4, seed: int = 0, year: str = "2012") -> Path:
    """PASCAL VOC's layout (``JPEGImages``, ``Annotations/*.xml``, ``ImageSets/Main/{train,val}.txt``): noise
    photos, each with one to three boxes of cycling classes; every third image's last box is marked difficult."""
    from PIL import Image

    classes = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow")
    base = Path(root) / "VOCdevkit" / f"VOC{year}"
    for folder in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (base / folder).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, n, offset in (("train", n_train, 0), ("val", n_val, n_train)):
        ids = []
        for i in range(offset, offset + n):
            name = f"{year}_{i:06d}"
            h, w = (int(v) for v in rng.integers(60, 120, 2))
            Image.fromarray(rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)).save(base / "JPEGImages" / f"{name}.jpg")
            objects = []
            for j in range(1 + i % 3):
                x0, y0 = int(rng.integers(1, w // 2)), int(rng.integers(1, h // 2))
                x1, y1 = int(rng.integers(x0 + 5, w + 1)), int(rng.integers(y0 + 5, h + 1))
                difficult = int(i % 3 == 0 and j == i % 3)
                objects.append(f"<object><name>{classes[(i + j) % len(classes)]}</name><difficult>{difficult}</difficult>"
                               f"<bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin><xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>")
            (base / "Annotations" / f"{name}.xml").write_text(
                f"<annotation><filename>{name}.jpg</filename><size><width>{w}</width><height>{h}</height>"
                f"<depth>3</depth></size>{''.join(objects)}</annotation>")
            ids.append(name)
        (base / "ImageSets" / "Main" / f"{split}.txt").write_text("\n".join(ids) + "\n")
    return base
