"""Figures the chapters share: training curves, image grids, kernels and feature maps."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from cnnbook.train import History


def plot_history(histories: History | Mapping[str, History], metrics: Sequence[str] = ("loss", "acc")) -> Figure:
    """Training (solid) and validation (dashed) curves per epoch, one panel per metric."""
    if isinstance(histories, History):
        histories = {"model": histories}
    if not histories:
        raise ValueError("plot_history needs at least one History")
    unknown = [m for m in metrics if m not in ("loss", "acc")]
    if unknown:
        raise ValueError(f"metrics must be 'loss' and/or 'acc', got {unknown}")
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.4), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for i, (label, h) in enumerate(histories.items()):
            colour = f"C{i}"
            epochs = range(1, len(h) + 1)
            ax.plot(epochs, getattr(h, f"train_{metric}"), color=colour, label=f"{label} (train)")
            if getattr(h, f"val_{metric}"):
                ax.plot(epochs, getattr(h, f"val_{metric}"), color=colour, ls="--", label=f"{label} (val)")
        ax.set_xlabel("epoch")
        ax.set_ylabel({"loss": "cross-entropy loss", "acc": "accuracy"}[metric])
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def _to_hwc(image: torch.Tensor):
    image = image.detach().cpu().float()
    if image.ndim == 3 and image.shape[0] in (1, 3):
        image = image.permute(1, 2, 0)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    return image.numpy()


def show_images(
    images: torch.Tensor | Sequence[torch.Tensor],
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    size: float = 1.4,
    cmap: str = "gray",
) -> Figure:
    """A grid of images given as (N, C, H, W) / (N, H, W) tensors or a list of (C, H, W) tensors."""
    images = list(images)
    if not images:
        raise ValueError("show_images needs at least one image")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"got {len(images)} images but {len(titles)} titles")
    ncols = min(ncols, len(images))
    nrows = math.ceil(len(images) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.2 * (titles is not None)), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, image in enumerate(images):
        ax = axes.flat[i]
        ax.imshow(_to_hwc(image), cmap=cmap)
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    fig.tight_layout()
    return fig


def show_kernels(weight: torch.Tensor, ncols: int = 8, size: float = 0.9) -> Figure:
    """Visualise conv kernels (C_out, C_in, k, k): RGB when C_in is 3, else the first input channel.

    Each kernel is scaled to its own range so that its pattern is visible.
    """
    if weight.ndim != 4:
        raise ValueError(f"expected a conv weight of shape (C_out, C_in, k, k), got {tuple(weight.shape)}")
    w = weight.detach().cpu().float()
    w = w if w.shape[1] == 3 else w[:, :1]
    lo = w.amin(dim=(1, 2, 3), keepdim=True)
    hi = w.amax(dim=(1, 2, 3), keepdim=True)
    w = (w - lo) / (hi - lo).clamp_min(1e-8)
    return show_images(w, ncols=ncols, size=size, cmap="gray")


def show_feature_maps(maps: torch.Tensor, ncols: int = 8, size: float = 1.2, cmap: str = "viridis") -> Figure:
    """Show the channels of one feature map (C, H, W) (or the first of a batch) as separate images."""
    if maps.ndim == 4:
        maps = maps[0]
    if maps.ndim != 3:
        raise ValueError(f"expected a feature map (C, H, W) or (N, C, H, W), got {tuple(maps.shape)}")
    return show_images(list(maps.detach().cpu()), ncols=ncols, size=size, cmap=cmap)
