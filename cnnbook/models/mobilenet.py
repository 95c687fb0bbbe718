"""MobileNet V1-V3 (Howard et al., 2017; Sandler et al., 2018; Howard et al., 2019).

Shared building blocks for the efficient networks of Part IV live here too: ``make_divisible`` (the
channel rounding every MobileNet and EfficientNet uses) and ``ConvNormAct`` (convolution, norm, activation).
"""
from __future__ import annotations

from collections.abc import Callable

from torch import nn

NormLayer = Callable[[int], nn.Module]
ActLayer = Callable[[], nn.Module]


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a channel count to the nearest multiple of ``divisor`` without losing more than 10% of it.

    Hardware runs channel counts that are multiples of 8 fastest, so MobileNet and EfficientNet round
    every width. Rounding to the nearest multiple can fall well below ``value`` (e.g. 12 -> 8, a third
    less), so when the result is under 90% of ``value`` one more ``divisor`` is added. Never returns less
    than ``min_value`` (default: ``divisor``).
    """
    if isinstance(divisor, bool) or not isinstance(divisor, int) or divisor < 1:
        raise ValueError(f"divisor must be an integer >= 1, got {divisor!r}")
    if not value > 0:
        raise ValueError(f"value must be > 0, got {value!r}")
    floor = divisor if min_value is None else min_value
    rounded = max(floor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


class ConvNormAct(nn.Sequential):
    """Convolution -> norm -> activation, "same" padded for odd kernels; the norm makes the conv bias-free.

    Children are numbered 0, 1, 2 like torchvision's ``Conv2dNormActivation``, so weights load by name.
    ``norm_layer=None`` or ``activation=None`` leaves that child out (a linear projection has no activation).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        norm_layer: NormLayer | None = nn.BatchNorm2d,
        activation: ActLayer | None = nn.ReLU,
        dilation: int = 1,
    ) -> None:
        padding = (kernel_size - 1) // 2 * dilation
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation=dilation,
                      groups=groups, bias=norm_layer is None)
        ]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation is not None:
            layers.append(activation())
        super().__init__(*layers)
        self.out_channels = out_channels
