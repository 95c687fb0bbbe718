"""Cheap input checks and spatial-size arithmetic shared by the classic models (private)."""
from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


def _first(value: int | tuple[int, ...]) -> int:
    return value if isinstance(value, int) else int(value[0])


def layer_output_size(size: int, layer: nn.Module) -> int:
    """Spatial size after one Conv2d / MaxPool2d / AvgPool2d, with PyTorch's own rounding; others keep it."""
    if isinstance(layer, nn.Conv2d):
        k, s = _first(layer.kernel_size), _first(layer.stride)
        p, d = _first(layer.padding), _first(layer.dilation)  # type: ignore[arg-type]
        ceil_mode = False
    elif isinstance(layer, (nn.MaxPool2d, nn.AvgPool2d)):
        k, p = _first(layer.kernel_size), _first(layer.padding)
        s = _first(layer.stride) if layer.stride is not None else k
        d = _first(getattr(layer, "dilation", 1))
        ceil_mode = layer.ceil_mode
    else:
        return size
    span = size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)
    out = span // s + 1  # floor division rounds towards -inf, as ATen's div_rtn
    if ceil_mode and out > 0 and (out - 1) * s >= size + p:
        out -= 1  # the last window may not start inside the right padding
    return out


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
