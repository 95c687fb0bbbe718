"""Images as grids of square patches: cut them out, put them back, and shuffle them.

A Vision Transformer reads an image as a sequence of ``patch_size`` x ``patch_size`` patches, row by row.
``permute_patches`` moves whole patches to other places of that grid (the same way for every image), which
leaves every patch intact and destroys only their arrangement: the test of what a network assumes about
neighbouring pixels.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def _check_patch_size(patch_size: int) -> None:
    if isinstance(patch_size, bool) or not isinstance(patch_size, int) or patch_size < 1:
        raise ValueError(f"patch_size must be a positive int, got {patch_size!r}")


def _check_images(images: Tensor, patch_size: int) -> None:
    _check_patch_size(patch_size)
    if not isinstance(images, Tensor) or images.dim() != 4:
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"images must be an (N, C, H, W) tensor, got {shape}")
    height, width = images.shape[-2:]
    if height % patch_size or width % patch_size:
        raise ValueError(f"the image size must be divisible by patch_size: {height}x{width} is not a grid of "
                         f"{patch_size}x{patch_size} patches")


def to_patches(images: Tensor, patch_size: int) -> Tensor:
    """(N, C, H, W) images -> (N, L, C, p, p) patches, row by row (L = H/p * W/p), as a ViT reads them."""
    _check_images(images, patch_size)
    n, c, h, w = images.shape
    p = patch_size
    grid = images.reshape(n, c, h // p, p, w // p, p)  # (N, C, rows, p, cols, p)
    return grid.permute(0, 2, 4, 1, 3, 5).reshape(n, (h // p) * (w // p), c, p, p)


def from_patches(patches: Tensor, grid: tuple[int, int]) -> Tensor:
    """(N, L, C, p, p) patches, row by row -> (N, C, rows * p, cols * p) images; ``grid`` is (rows, cols)."""
    if not isinstance(patches, Tensor) or patches.dim() != 5 or patches.shape[-1] != patches.shape[-2]:
        shape = tuple(patches.shape) if isinstance(patches, Tensor) else type(patches).__name__
        raise ValueError(f"patches must be an (N, L, C, p, p) tensor of square patches, got {shape}")
    if (not isinstance(grid, (tuple, list)) or len(grid) != 2
            or any(isinstance(g, bool) or not isinstance(g, int) or g < 1 for g in grid)):
        raise ValueError(f"grid must be a pair of positive ints (rows, cols), got {grid!r}")
    rows, cols = grid
    n, length, c, p, _ = patches.shape
    if rows * cols != length:
        raise ValueError(f"a {rows}x{cols} grid holds {rows * cols} patches, got {length}")
    images = patches.reshape(n, rows, cols, c, p, p).permute(0, 3, 1, 4, 2, 5)  # (N, C, rows, p, cols, p)
    return images.reshape(n, c, rows * p, cols * p)


def _as_permutation(permutation: Tensor | Sequence[int], length: int) -> Tensor:
    perm = torch.as_tensor(permutation)
    if perm.dim() != 1 or perm.dtype.is_floating_point or perm.dtype == torch.bool:
        raise ValueError(f"permutation must be a 1-D sequence of ints, got {perm.dtype} of shape {tuple(perm.shape)}")
    perm = perm.long()
    if perm.numel() != length or not torch.equal(perm.sort().values, torch.arange(length, device=perm.device)):
        raise ValueError(f"permutation must hold each of 0..{length - 1} exactly once (one entry per patch), "
                         f"got {perm.tolist()}")
    return perm


def permute_patches(images: Tensor, patch_size: int, permutation: Tensor | Sequence[int]) -> Tensor:
    """Rearrange each image's patches: patch ``k`` of the result (row by row) is patch ``permutation[k]`` of the input.

    The same permutation for every image; each patch's pixels are kept as they are. Returns a new tensor.
    """
    _check_images(images, patch_size)
    h, w = images.shape[-2:]
    grid = (h // patch_size, w // patch_size)
    perm = _as_permutation(permutation, grid[0] * grid[1])
    return from_patches(to_patches(images, patch_size)[:, perm.to(images.device)], grid)


def random_permutation(length: int, seed: int) -> Tensor:
    """A random permutation of ``range(length)`` drawn from its own generator seeded with ``seed``."""
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ValueError(f"length must be a positive int, got {length!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return torch.randperm(length, generator=torch.Generator().manual_seed(seed))


def inverse_permutation(permutation: Tensor | Sequence[int]) -> Tensor:
    """The permutation that undoes ``permutation``: ``inverse[permutation[k]] == k``."""
    perm = torch.as_tensor(permutation)
    perm = _as_permutation(perm, perm.numel() if perm.dim() == 1 else -1)
    return torch.argsort(perm)
