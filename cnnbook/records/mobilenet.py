"""Chapter 9's record: depthwise separable against standard convolutions on Shapes10, at equal widths and at
equal multiply-accumulates (MobileNet's claim is accuracy per MAC, not accuracy at equal widths).

The networks are the page's: a standard 3x3 stride-2 stem, four blocks (standard 3x3 conv-BN-ReLU, or MobileNet's
depthwise separable block), global average pooling and a linear classifier. Widening or narrowing multiplies
every width, the stem's included, and rounds it to the nearest whole channel.
"""
from __future__ import annotations

from functools import partial

from torch import nn

from cnnbook.models.mobilenet import ConvNormAct, DepthwiseSeparable
from cnnbook.profile import macs
from cnnbook.records.core import Arm, Record, register, shapes10_data, yardsticks

STEM = 16
"""Output channels of the stem, a standard 3x3 stride-2 convolution, in every network of the chapter."""
LAYOUT = ((32, 2), (64, 1), (64, 2), (128, 1))
"""(output channels, stride) of the four blocks of the page's networks."""
INPUT_SHAPE = (3, 32, 32)
PAGE_RECIPE = dict(epochs=2, lr=3e-3, optimizer="adam", scheduler="cosine", batch_size=64)
"""Chapter 9's live run: Adam, learning rate 3e-3 annealed along a cosine, batches of 64, two epochs."""
EPOCHS = 15
RECIPE = dict(epochs=EPOCHS, lr=3e-3, scheduler="cosine")
"""The record's recipe for every network: the data card's (Adam, batch 64, lr 3e-3, cosine), for 15 epochs."""
WIDE = 2.84
"""Every width of the separable network times this: its MACs then equal the standard network's (within 0.1%);
:func:`matching_width` finds it."""
NARROW = 0.39
"""Every width of the standard network times this: its MACs then come closest to the separable network's."""


def _check_width(width: object) -> float:
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not width > 0:
        raise ValueError(f"width must be a positive number, got {width!r}")
    return float(width)


def shapes10_net(separable: bool, width: float = 1.0, num_classes: int = 10,
                 depthwise_relu: bool = True) -> nn.Sequential:
    """The chapter's Shapes10 network: a 3x3/2 conv-BN-ReLU stem to 16 channels, four blocks to 32 (stride 2), 64,
    64 (stride 2) and 128 channels, global average pool, linear classifier.

    ``separable`` makes each block MobileNet's depthwise separable block instead of a standard 3x3 conv-BN-ReLU;
    ``width`` multiplies every width (rounded to the nearest channel, at least 1); ``depthwise_relu=False`` leaves
    out the ReLU between the depthwise and the pointwise convolution (as Xception does).
    """
    if not isinstance(separable, bool):
        raise ValueError(f"separable must be True or False, got {separable!r}")
    if not isinstance(depthwise_relu, bool) or (not depthwise_relu and not separable):
        raise ValueError(f"depthwise_relu must be True or False, and False only for a separable network; got "
                         f"{depthwise_relu!r} with separable={separable!r}")
    width = _check_width(width)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    c = max(1, round(STEM * width))
    layers: list[nn.Module] = [ConvNormAct(INPUT_SHAPE[0], c, 3, stride=2)]
    for out, stride in LAYOUT:
        out = max(1, round(out * width))
        if separable:
            block = DepthwiseSeparable(c, out, stride)
            if not depthwise_relu:
                del block.depthwise[2]  # conv-BN, then straight into the pointwise convolution
            layers.append(block)
        else:
            layers.append(ConvNormAct(c, out, 3, stride))
        c = out
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes))


def net_macs(separable: bool, width: float = 1.0) -> int:
    """Multiply-accumulates of :func:`shapes10_net` on one 32x32 image (built on the meta device)."""
    import torch

    with torch.device("meta"):
        return macs(shapes10_net(separable, width), INPUT_SHAPE)


def matching_width(separable: bool, target: int, low: float = 0.1, high: float = 4.0, step: float = 0.01) -> float:
    """The width multiplier, on a grid of ``step`` from ``low`` to ``high``, whose network's MACs come closest to
    ``target`` (e.g. the other kind of network's MACs)."""
    if isinstance(target, bool) or not isinstance(target, int) or target < 1:
        raise ValueError(f"target must be a positive number of MACs (an int), got {target!r}")
    low, high, step = _check_width(low), _check_width(high), _check_width(step)
    if high < low:
        raise ValueError(f"need low <= high, got low={low} and high={high}")
    grid = [round(low + i * step, 6) for i in range(int(round((high - low) / step)) + 1)]
    return min(grid, key=lambda w: abs(net_macs(separable, w) - target))


SEPARABLE = register(Record(
    name="mobilenet_separable",
    chapter="09_mobilenet",
    claim=("MobileNet's claim, accuracy per multiply-accumulate (Howard et al., 2017), tested on Shapes10: at equal MACs "
           "a network of depthwise separable convolutions is as accurate as one of standard 3x3 convolutions, both "
           "where the separable network is widened 2.84 times to the standard one's MACs and where the standard "
           "network is narrowed to 0.39 of its widths to the separable one's."),
    data=shapes10_data,
    data_note="Shapes10's default split: 3,000 training, 500 validation, 1,000 test images at 32x32",
    arms=(
        Arm(f"standard 3x3 convs, the page's {PAGE_RECIPE['epochs']} epochs", partial(shapes10_net, False), PAGE_RECIPE,
            live=True),
        Arm(f"depthwise separable, the page's {PAGE_RECIPE['epochs']} epochs", partial(shapes10_net, True), PAGE_RECIPE,
            live=True),
        *yardsticks(EPOCHS),
        Arm(f"standard 3x3 convs, {EPOCHS} epochs", partial(shapes10_net, False), RECIPE),
        Arm(f"depthwise separable, {EPOCHS} epochs", partial(shapes10_net, True), RECIPE),
        Arm(f"depthwise separable, no ReLU after the depthwise conv, {EPOCHS} epochs",
            partial(shapes10_net, True, depthwise_relu=False), RECIPE),
        Arm(f"depthwise separable x{WIDE} wide (the standard's MACs), {EPOCHS} epochs",
            partial(shapes10_net, True, WIDE), RECIPE),
        Arm(f"standard x{NARROW} narrow (the separable's MACs), {EPOCHS} epochs",
            partial(shapes10_net, False, NARROW), RECIPE),
    ),
))
