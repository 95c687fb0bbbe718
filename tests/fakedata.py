"""Tiny stand-in data sets in the real on-disk formats that torchvision and cnnbook.data read.

- MNIST and Fashion-MNIST: the four uncompressed IDX files under ``<root>/<MNIST|FashionMNIST>/raw``.
- CIFAR-10: the six pickled batches of ``cifar-10-batches-py`` (``data_batch_1..5``, ``test_batch``).

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
    """MNIST, Fashion-MNIST and CIFAR-10 stand-ins under one root (what a chapter's DATA_ROOT points at)."""
    for seed, folder in enumerate(MNIST_FOLDERS):
        write_mnist(root, folder, n_train=n_train, n_test=n_test, seed=seed)
    write_cifar10(root, per_batch=max(1, n_train // 5), n_test=n_test, seed=2)
    return Path(root)
