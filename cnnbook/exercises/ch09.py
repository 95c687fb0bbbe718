"""Checkers for the exercises of chapter 9, "MobileNet".

Each expected answer is computed here from the package's own blocks and networks (built on the meta device
where only their shapes matter) and counted with ``cnnbook.profile``, out of the reader's sight.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from cnnbook.exercises import check, check_function
from cnnbook.models.mobilenet import InvertedResidual, MOBILENET_V2_SETTING, DepthwiseSeparable, mobilenet_v2
from cnnbook.profile import count_params, macs

# Exercise 1: a 3x3 convolution from 256 to 384 channels, replaced by a depthwise separable pair.
EX1_IN, EX1_OUT = 256, 384
# Exercise 2: a 5x5 depthwise separable layer, 256 -> 256 channels, against the full 5x5 convolution.
EX2_KERNEL, EX2_CHANNELS = 5, 256
# Exercise 3: MobileNetV2 at width multiplier 0.35.
EX3_WIDTH = 0.35


def _conv_weights(module: nn.Module) -> int:
    return sum(m.weight.numel() for m in module.modules() if isinstance(m, nn.Conv2d))


def ex1(answer: Any) -> bool:
    """Convolution weights (no BatchNorm) of the depthwise separable replacement of a 3x3 conv 256 -> 384."""
    with torch.device("meta"):
        expected = _conv_weights(DepthwiseSeparable(EX1_IN, EX1_OUT))
    return check(answer, expected, name="Exercise 1",
                 hint="the depthwise conv has one 3x3 filter per input channel; the pointwise conv is 1x1, C_in x C_out.")


def ex2(answer: Any) -> bool:
    """MACs of the 5x5 depthwise separable layer as a fraction of the full 5x5 convolution's (any input size)."""
    k, c = EX2_KERNEL, EX2_CHANNELS
    separable = DepthwiseSeparable(c, c, kernel_size=k, norm_layer=None, activation=None)
    separable.depthwise[0].bias = separable.pointwise[0].bias = None  # count the products, not the bias adds
    full = nn.Conv2d(c, c, k, padding=k // 2, bias=False)
    expected = macs(separable, (c, 8, 8)) / macs(full, (c, 8, 8))
    return check(answer, expected, name="Exercise 2", rel_tol=1e-3,
                 hint="divide (k^2 C + C N) by (k^2 C N): the ratio is 1/N + 1/k^2.")


def ex3(answer: Any) -> bool:
    """Output channels of MobileNetV2's seven stages at width multiplier 0.35, as a list."""
    with torch.device("meta"):
        model = mobilenet_v2(width_mult=EX3_WIDTH)
    blocks = [m for m in model.features if isinstance(m, InvertedResidual)]
    ends = []
    i = 0
    for _, _, n, _ in MOBILENET_V2_SETTING:
        i += n
        ends.append(blocks[i - 1].out_channels)
    return check(answer, ends, name="Exercise 3",
                 hint="make_divisible(c * 0.35, 8) for each c of the table; it rounds to the nearest multiple of 8, "
                      "at least 8, and adds 8 when rounding lost more than 10%.")


def _inverted_residual_params(in_channels: int, out_channels: int, t: int, stride: int) -> int:
    with torch.device("meta"):
        return count_params(InvertedResidual(in_channels, out_channels, stride, int(round(in_channels * t))))


EX4_CASES = [(32, 16, 1, 1), (16, 24, 6, 2), (24, 24, 6, 1), (64, 96, 6, 1), (160, 320, 6, 1), (8, 8, 3, 2),
             (10, 12, 1, 1)]


def ex4(fn: Callable | None) -> bool:
    """The reader's ``inverted_residual_params(in_channels, out_channels, t, stride)`` against the package."""
    return check_function(fn, _inverted_residual_params, EX4_CASES, name="Exercise 4")


def ex5(answer: Any) -> bool:
    """How many of MobileNetV2's 17 inverted residual blocks add their input to their output."""
    with torch.device("meta"):
        model = mobilenet_v2()
    expected = sum(m.use_res_connect for m in model.features if isinstance(m, InvertedResidual))
    return check(answer, expected, name="Exercise 5",
                 hint="a block adds its input only when the stride is 1 and the channels do not change: "
                      "in each (t, c, n, s) row, the first block changes one or the other.")
