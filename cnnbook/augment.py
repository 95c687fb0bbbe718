"""Data augmentation on whole batches: random left-right flips and small random shifts, drawn afresh every epoch.

Done on the batch tensor (in the loader's ``collate_fn``) rather than image by image, so it costs almost nothing
next to the training step, and it is seeded, so an augmented CPU run repeats exactly.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, Dataset


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
                     max_shift: int = 2) -> DataLoader:
    """A shuffling DataLoader whose batches go through :func:`flip_shift`; order and augmentation follow ``seed``."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    flip_shift(torch.zeros(1, 1, 2 * max_shift + 2, 2 * max_shift + 2), torch.Generator(), flip, max_shift)  # checks
    order = torch.Generator().manual_seed(seed)
    draws = torch.Generator().manual_seed(seed + 1_000_003)

    def collate(items: list) -> tuple[Tensor, Tensor]:
        images = torch.stack([item[0] for item in items])
        labels = torch.as_tensor([int(item[1]) for item in items])
        return flip_shift(images, draws, flip, max_shift), labels

    return DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=order, collate_fn=collate)
