"""Checkers for the exercises of chapter 4, "AlexNet".

Each checker computes the expected answer with the package (``cnnbook.conv``, ``cnnbook.models``), out of
the reader's sight. Exercise 7's range is the measured value (seed 0, one CPU thread; tests/test_exercises_ch04.py
repeats it) with a margin for another machine.
"""
from __future__ import annotations

import math
import numbers
from typing import Any

import torch
from torch import nn

from cnnbook.conv import conv_output_size, pool_output_size
from cnnbook.data import load_shapes10
from cnnbook.env import set_seed
from cnnbook.exercises import check, check_range, say
from cnnbook.experiments import standardised
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


# Exercise 6 (conceptual): how fast PyTorch's default initialisation shrinks the signal through conv + ReLU layers.
def default_init_shrink() -> float:
    """Factor by which one default-initialised layer followed by a ReLU divides the signal's root-mean-square.

    PyTorch draws a Conv2d or Linear weight from U(-b, b) with b = 1 / sqrt(fan_in) (Kaiming-uniform with a = sqrt(5)),
    so its variance is b^2 / 3; a pre-activation has variance fan_in * Var(w) * E[x^2], and a ReLU keeps half of
    that second moment when the pre-activation is symmetric about zero.
    """
    fan_in = 400  # any fan-in: it cancels
    bound = 1 / math.sqrt(fan_in)
    weight_variance = bound ** 2 / 3
    second_moment_gain = fan_in * weight_variance / 2
    return second_moment_gain ** -0.5


def ex6(answer: Any) -> bool:
    """The factor (> 1) by which the RMS of the signal shrinks per default-initialised layer + ReLU."""
    if isinstance(answer, numbers.Real) and not isinstance(answer, bool) and 0 < answer < 1:
        expected = default_init_shrink()
        if math.isclose(answer, 1 / expected, rel_tol=0.02):
            say("Exercise 6", "that is output / input; the question asks by what factor the signal shrinks "
                "(input / output, a number > 1).")
            return False
    return check(answer, default_init_shrink(), name="Exercise 6", rel_tol=0.02,
                 hint="Var(w) of U(-b, b) is b^2 / 3 with b = 1 / sqrt(fan_in); a ReLU keeps half of the second "
                      "moment of a symmetric input; take the square root at the end.")


# Exercise 7 (experimental): how much gradient tanh units pass when the inputs have the paper's pixel scale.
EX7_SCALE, EX7_SEED, EX7_IMAGES = 60.0, 0, 256
EX7_RANGE = (0.02, 0.06)  # measured 0.034 (seed 0; 0.034-0.038 over seeds 0-4), with a margin


def tanh_gradient_gates(net: nn.Module, images: torch.Tensor) -> list[float]:
    """Per tanh layer of ``net`` (in order), the mean of tanh'(z) = 1 - tanh(z)^2 over ``images`` (eval mode)."""
    gates: list[float] = []
    hooks = [m.register_forward_hook(lambda m, i, o: gates.append((1 - o.detach() ** 2).mean().item()))
             for m in net.modules() if isinstance(m, nn.Tanh)]
    try:
        with torch.no_grad():
            net.eval()(images)
    finally:
        for h in hooks:
            h.remove()
    if not gates:
        raise ValueError("the network has no nn.Tanh module")
    return gates


def paper_scale_gate(seed: int = EX7_SEED, scale: float = EX7_SCALE) -> float:
    """First-layer mean tanh derivative of the Glorot-initialised four-layer CNN on standardised validation
    images multiplied by ``scale`` (about the spread of mean-subtracted 0-255 pixels)."""
    from cnnbook.records.alexnet import speed_net  # the chapter's network, as the record builds it

    images = standardised(load_shapes10()).val.tensors[0][:EX7_IMAGES]
    set_seed(seed)
    return tanh_gradient_gates(speed_net("tanh")(), images * scale)[0]


def ex7(answer: Any) -> bool:
    """The reader's measured first-layer mean tanh derivative on inputs scaled by 60, within the stated range."""
    return check_range(answer, *EX7_RANGE, name="Exercise 7", quantity="the mean derivative", source="measurement",
                       hint=f"seed {EX7_SEED}, speed_net('tanh')(), the first {EX7_IMAGES} standardised validation "
                            f"images times {EX7_SCALE:g}, and the first layer's mean of 1 - a^2.")
