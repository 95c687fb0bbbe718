"""Cheap input checks and spatial-size arithmetic shared by the classic models (private)."""
from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from cnnbook.conv import conv_output_size, pool_output_size


def layer_output_size(size: int, layer: nn.Module) -> int:
    """Spatial size after one Conv2d / MaxPool2d / AvgPool2d (0 if the input is too small); others keep it."""
    try:
        if isinstance(layer, nn.Conv2d):
            return conv_output_size(size, layer.kernel_size[0], layer.stride[0], layer.padding[0], layer.dilation[0])
        if isinstance(layer, (nn.MaxPool2d, nn.AvgPool2d)):
            first = lambda v: v if isinstance(v, int) else v[0]  # noqa: E731
            stride = first(layer.stride) if layer.stride is not None else None
            return pool_output_size(size, first(layer.kernel_size), stride, first(layer.padding),
                                    first(getattr(layer, "dilation", 1)), layer.ceil_mode)
    except ValueError:  # kernel larger than the padded input: no output pixel
        return 0
    return size


def min_input_size(layers: Iterable[nn.Module], limit: int = 4096) -> int:
    """Smallest square input side for which every layer in ``layers`` (in order) outputs at least 1 pixel."""
    layers = list(layers)
    for side in range(1, limit + 1):
        size = side
        for layer in layers:
            size = layer_output_size(size, layer)
            if size < 1:
                break
        else:
            return side
    raise ValueError(f"no input side up to {limit} fits these layers")


def check_images(x: torch.Tensor, in_channels: int, min_size: int, model: str, exact: bool = False) -> None:
    """Raise ValueError unless ``x`` is an (N, in_channels, H, W) batch with H, W >= ``min_size`` (== if ``exact``)."""
    if x.dim() != 4:
        raise ValueError(
            f"{model}: expected a 4-D batch (N, {in_channels}, H, W), got shape {tuple(x.shape)}"
        )
    if x.shape[1] != in_channels:
        raise ValueError(f"{model}: expected {in_channels} input channels, got {x.shape[1]}")
    if exact and (x.shape[2] != min_size or x.shape[3] != min_size):
        raise ValueError(f"{model}: expected {min_size}x{min_size} input, got {x.shape[2]}x{x.shape[3]}")
    if x.shape[2] < min_size or x.shape[3] < min_size:
        raise ValueError(
            f"{model}: input {x.shape[2]}x{x.shape[3]} too small, needs at least {min_size}x{min_size}"
        )


def scaled(channels: int, width: float, divisor: int = 1) -> int:
    """``channels * width`` rounded to a multiple of ``divisor`` (at least ``divisor``)."""
    return max(divisor, int(round(channels * width / divisor)) * divisor)


def check_counts(**values: int) -> None:
    """Raise ValueError for the first keyword that is not an integer >= 1 (num_classes=0, ...)."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def check_positive(**values: float) -> None:
    """Raise ValueError for the first keyword whose value is not a number > 0 (width=-1, ...)."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"{name} must be a number > 0, got {value!r}")


def check_probability(**values: float) -> None:
    """Raise ValueError for the first keyword that is not a number in [0, 1) (dropout=1.5, ...)."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
            raise ValueError(f"{name} must be a probability in [0, 1), got {value!r}")
