"""Data augmentation: random versions of the training images, drawn afresh every epoch.

- ``flip_shift`` / ``augmented_loader``: left-right flips and small shifts done on the batch tensor (in the
  loader's ``collate_fn``), so they cost almost nothing next to the training step; the loader can also apply a
  ``torchvision.transforms.v2`` pipeline to each image and a batch transform (MixUp, CutMix) to each batch.
- ``Augmented``: a data set that applies a transform to each image as it is fetched, the way torchvision's data
  sets apply theirs, so that :func:`cnnbook.train.fit` can train on it directly.
- ``shapes10_augmentation``: a label-preserving ``transforms.v2`` pipeline for Shapes10.
- ``shapes10_outline`` / ``mirror_mismatch``: which Shapes10 classes a mirror image leaves in their class.

Everything is seeded, so an augmented CPU run repeats exactly.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, TensorDataset


def flip_shift(images: Tensor, generator: torch.Generator, flip: bool = True, max_shift: int = 2) -> Tensor:
    """Flip each image of an (N, C, H, W) batch left-right with probability 1/2 and shift it by up to
    ``max_shift`` pixels in each direction (the border is filled by reflection). Returns a new tensor."""
    if not isinstance(images, Tensor) or images.dim() != 4:
        raise ValueError(f"images must be an (N, C, H, W) tensor, got {getattr(images, 'shape', type(images).__name__)}")
    if isinstance(max_shift, bool) or not isinstance(max_shift, int) or max_shift < 0:
        raise ValueError(f"max_shift must be a non-negative int, got {max_shift!r}")
    n, _, h, w = images.shape
    if max_shift >= min(h, w):
        raise ValueError(f"max_shift must be smaller than the image side ({h}x{w}), got {max_shift}")
    out = images.clone()
    if flip:
        flipped = torch.rand(n, generator=generator) < 0.5
        out[flipped] = out[flipped].flip(-1)
    if max_shift:
        s = max_shift
        padded = F.pad(out, (s, s, s, s), mode="reflect")
        dy, dx = (torch.randint(0, 2 * s + 1, (2, n), generator=generator)).tolist()
        out = torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])
    return out


def augmented_loader(dataset: Dataset, batch_size: int = 64, seed: int = 0, flip: bool = True,
                     max_shift: int = 2, transform: Callable[[Tensor], Tensor] | None = None,
                     batch_transform: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]] | None = None) -> DataLoader:
    """A shuffling DataLoader whose batches go through :func:`flip_shift`; order and augmentation follow ``seed``.

    ``transform`` (e.g. a ``transforms.v2`` pipeline) is applied to each image first; ``batch_transform`` (e.g.
    ``v2.MixUp`` or ``v2.CutMix``) to each (images, labels) batch last. Their random draws are seeded too.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    for name, fn in (("transform", transform), ("batch_transform", batch_transform)):
        if fn is not None and not callable(fn):
            raise ValueError(f"{name} must be callable or None, got {type(fn).__name__}")
    flip_shift(torch.zeros(1, 1, 2 * max_shift + 2, 2 * max_shift + 2), torch.Generator(), flip, max_shift)  # checks
    order = torch.Generator().manual_seed(seed)
    draws = torch.Generator().manual_seed(seed + 1_000_003)
    v2_draws = torch.Generator().manual_seed(seed + 2_000_003)  # seeds torchvision's draws, which use torch's global RNG

    def collate(items: list) -> tuple[Tensor, Tensor]:
        if transform is None and batch_transform is None:
            images = torch.stack([item[0] for item in items])
            labels = torch.as_tensor([int(item[1]) for item in items])
            return flip_shift(images, draws, flip, max_shift), labels
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(torch.randint(2**62, (1,), generator=v2_draws)))
            images = torch.stack([item[0] if transform is None else transform(item[0]) for item in items])
            labels = torch.as_tensor([int(item[1]) for item in items])
            images = flip_shift(images, draws, flip, max_shift)
            if batch_transform is not None:
                images, labels = batch_transform(images, labels)
        return images, labels

    return DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=order, collate_fn=collate)


class Augmented(Dataset):
    """The (image, label) pairs of a TensorDataset with ``transform`` applied to each image as it is fetched, a new
    random version every time, as torchvision's data sets apply their transforms.

    The random draws come from torch's global generator, which :func:`cnnbook.train.fit` seeds. ``tensors`` are
    the images and labels *before* augmentation (for code that reads shapes or labels).
    """

    def __init__(self, dataset: TensorDataset, transform: Callable[[Tensor], Tensor]) -> None:
        if not isinstance(dataset, TensorDataset) or len(dataset.tensors) != 2:
            raise ValueError(f"Augmented needs a TensorDataset of (images, labels), got {type(dataset).__name__}")
        if not callable(transform):
            raise ValueError(f"transform must be callable, got {type(transform).__name__}")
        self.dataset, self.transform = dataset, transform

    @property
    def tensors(self) -> tuple[Tensor, ...]:
        return self.dataset.tensors

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        image, label = self.dataset[index]
        return self.transform(image), label


def shapes10_augmentation(image_size: int = 32, crop_padding: int | None = None, jitter: float = 0.3,
                          erase: float = 0.5) -> Callable[[Tensor], Tensor]:
    """A label-preserving ``transforms.v2`` pipeline for Shapes10 images (float (3, H, W) tensors in [0, 1]).

    A random crop of the image padded by ``crop_padding`` pixels (default an eighth of the side, edge values
    repeated), brightness, contrast and saturation jittered by up to ``jitter``, and with probability ``erase`` a
    black rectangle of 2-10% of the image (an occluder). No mirroring: see :func:`mirror_mismatch`.
    """
    from torchvision.transforms import v2

    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 8:
        raise ValueError(f"image_size must be an int >= 8, got {image_size!r}")
    padding = image_size // 8 if crop_padding is None else crop_padding
    if isinstance(padding, bool) or not isinstance(padding, int) or not 0 <= padding < image_size:
        raise ValueError(f"crop_padding must be an int in [0, image_size), got {crop_padding!r}")
    if not isinstance(jitter, (int, float)) or not 0 <= jitter < 1:
        raise ValueError(f"jitter must be a number in [0, 1), got {jitter!r}")
    if not isinstance(erase, (int, float)) or not 0 <= erase <= 1:
        raise ValueError(f"erase must be a probability, got {erase!r}")
    steps = [v2.RandomCrop(image_size, padding=padding, padding_mode="edge")]
    if jitter:
        steps.append(v2.ColorJitter(brightness=jitter, contrast=jitter, saturation=jitter))
    if erase:
        steps.append(v2.RandomErasing(p=erase, scale=(0.02, 0.1), value=0))
    return v2.Compose(steps)


def shapes10_outline(kind: str, size: int = 48, angle: float = 0.0) -> Tensor:
    """The coverage (size, size) in [0, 1] of one Shapes10 class's shape, centred and rotated by ``angle`` radians,
    painted as :func:`cnnbook.data.make_shapes10` paints it (without aspect change or shading)."""
    from cnnbook.data import SHAPES10_CLASSES, _Painter

    if kind not in SHAPES10_CLASSES:
        raise ValueError(f"unknown Shapes10 class {kind!r}; choose one of {SHAPES10_CLASSES}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be an int >= 8, got {size!r}")
    alpha = _Painter(size).coverage(kind, size / 2, size / 2, 0.38 * size, float(angle), 1.0)
    return torch.from_numpy(alpha)


def mirror_mismatch(kind: str, size: int = 32, steps: int = 72) -> tuple[float, float]:
    """How far a Shapes10 shape's mirror image is from its own class: the smallest share of the shape's area that
    differs between the mirrored shape and any of ``steps`` rotations of it (each also shifted by up to an eighth
    of ``size`` pixels), and that rotation's angle in radians.

    Near 0 (only the pixel grid differs): mirroring gives a rotated copy, which the data already holds.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 4:
        raise ValueError(f"steps must be an int >= 4, got {steps!r}")
    mirrored = shapes10_outline(kind, size).flip(-1)
    reach = size // 8
    shifted = torch.stack([mirrored.roll((dy, dx), dims=(0, 1))
                           for dy in range(-reach, reach + 1) for dx in range(-reach, reach + 1)])
    area = mirrored.sum()
    best = (math.inf, 0.0)
    for i in range(steps):
        angle = 2 * math.pi * i / steps
        differs = ((shapes10_outline(kind, size, angle) - shifted).abs().sum((1, 2)).min() / area).item()
        best = min(best, (differs, angle))
    return best
