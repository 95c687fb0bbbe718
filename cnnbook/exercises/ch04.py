"""Checkers for the exercises of chapter 4, "AlexNet".

Each checker computes the expected answer with the package (``cnnbook.conv``, ``cnnbook.models``), out of
the reader's sight.
"""
from __future__ import annotations

from typing import Any

from torch import nn

from cnnbook.conv import conv_output_size, pool_output_size
from cnnbook.exercises import check
from cnnbook.models.alexnet import PAPER_CHANNELS, AlexNet

# Exercise 1: the paper's text says 224x224 inputs; what does conv1 (11x11, stride 4, no padding) give on 227?
EX1_INPUT, EX1_KERNEL, EX1_STRIDE = 227, 11, 4
# Exercise 3: the paper's conv4 (384 -> 384, 3x3) split over two GPUs.
EX3_IN, EX3_OUT, EX3_KERNEL, EX3_GROUPS = 384, 384, 3, 2
# Exercise 4: pool5 output side for a 256x256 input to torchvision's AlexNet.
EX4_INPUT = 256


def ex1(answer: Any) -> bool:
    """Output side of the paper's 11x11 stride-4 convolution, without padding, on a 227x227 image."""
    expected = conv_output_size(EX1_INPUT, EX1_KERNEL, stride=EX1_STRIDE)
    return check(answer, expected, name="Exercise 1",
                 hint="floor((n + 2p - k) / s) + 1 with p = 0.")


def ex2(answer: Any) -> bool:
    """Parameters (weights + biases) of the paper's first fully connected layer: 256*6*6 -> 4096."""
    expected = sum(p.numel() for p in nn.Linear(PAPER_CHANNELS[-1] * 6 * 6, 4096).parameters())
    return check(answer, expected, name="Exercise 2",
                 hint="in_features * out_features weights, plus one bias per output unit.")


def ex3(answer: Any) -> bool:
    """Weights saved (no biases) when conv4 (384 -> 384, 3x3) is split into 2 groups."""
    full = nn.Conv2d(EX3_IN, EX3_OUT, EX3_KERNEL, bias=False).weight.numel()
    grouped = nn.Conv2d(EX3_IN, EX3_OUT, EX3_KERNEL, groups=EX3_GROUPS, bias=False).weight.numel()
    return check(answer, full - grouped, name="Exercise 3",
                 hint="each of the 384 kernels sees only 384 / 2 input channels.")


def ex4(answer: Any) -> bool:
    """Spatial side after the last max-pool of torchvision's AlexNet for a 256x256 input."""
    size = EX4_INPUT
    for layer in AlexNet(width=0.01).features:  # kernels and strides do not depend on the width
        if isinstance(layer, nn.Conv2d):
            size = conv_output_size(size, layer.kernel_size[0], layer.stride[0], layer.padding[0])
        elif isinstance(layer, nn.MaxPool2d):
            size = pool_output_size(size, layer.kernel_size, layer.stride, layer.padding)
    return check(answer, size, name="Exercise 4",
                 hint="trace conv1 (11, 4, 2), then each 3x3 stride-2 pool; the 3x3 and 5x5 convs keep the size.")


# Exercise 5: crop-and-flip variants when the original code's 227x227 crops are cut from 256x256 images.
EX5_IMAGE, EX5_CROP = 256, 227


def ex5(answer: Any) -> bool:
    """Distinct crop-and-flip variants of one 256x256 image with 227x227 crops: positions per axis squared, times 2."""
    positions = len(range(EX5_IMAGE - EX5_CROP + 1))  # top-left offsets 0 .. 256 - 227
    return check(answer, positions * positions * 2, name="Exercise 5",
                 hint="count the offsets 0, 1, ..., 256 - 227 along one axis (one more than the difference).")
