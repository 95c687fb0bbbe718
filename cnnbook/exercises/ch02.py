"""Checkers for the exercises of chapter 2, "Receptive fields".

Each checker computes the expected answer with ``cnnbook.receptive_field``, out of the reader's sight; exercise 7
accepts a measurement in the range that the chapter's seeds give (its test measures it on seeds 0-9).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from cnnbook.exercises import check, check_function, check_range
from cnnbook.receptive_field import receptive_field

# Exercise 1: ResNet's stem (7x7 stride 2, 3x3 max pool stride 2) followed by two 3x3 convolutions.
STEM_AND_TWO_CONVS = [(7, 2, 3), (3, 2, 1), (3, 1, 1), (3, 1, 1)]
# Exercise 2: the chapter's VGG-style stack conv, conv, pool, conv, conv, pool.
VGG_STYLE = [(3, 1, 1), (3, 1, 1), (2, 2), (3, 1, 1), (3, 1, 1), (2, 2)]
EX2_UNIT_COLUMN = 5
# Exercise 4: 3x3 convolutions with dilations 1, 2, 4, 8 (padding = dilation keeps the size).
DILATIONS = (1, 2, 4, 8)
# Exercise 5: four stacked 3x3 convolutions versus one convolution with the same receptive field.
N_STACKED = 4


def ex1(answer: Any) -> bool:
    """(size, jump) of the units after ResNet's stem and two 3x3 convolutions."""
    field = receptive_field(STEM_AND_TWO_CONVS)
    return check(answer, (field.size, field.stride), name="Exercise 1",
                 hint="start from r = 1, j = 1; each layer adds (k - 1) * j, then multiplies j by its stride.")


def ex2(answer: Any) -> bool:
    """(first, last) input column seen by output column 5 of the VGG-style stack, unclipped."""
    _, columns = receptive_field(VGG_STYLE).bounds((0, EX2_UNIT_COLUMN))
    return check(answer, columns, name="Exercise 2",
                 hint="unit u starts at u * jump - effective padding and spans the receptive field.")


def _rf_size(kernels: list[int], strides: list[int]) -> int:
    return receptive_field(list(zip(kernels, strides))).size


EX3_CASES = [
    ([3], [1]),
    ([3, 3], [1, 1]),
    ([3, 3, 3], [1, 1, 1]),
    ([11, 3, 5, 3, 3, 3, 3, 3], [4, 2, 1, 2, 1, 1, 1, 2]),
    ([7, 3, 3, 3], [2, 2, 1, 1]),
    ([3, 3, 3, 3], [2, 2, 1, 1]),
    ([3, 3, 3, 3], [1, 1, 2, 2]),
    ([2, 5, 1, 4], [2, 3, 1, 2]),
]


def ex3(fn: Callable | None) -> bool:
    """The reader's ``rf_size(kernels, strides)`` against the package on a few chains."""
    return check_function(fn, _rf_size, EX3_CASES, name="Exercise 3")


def ex4(answer: Any) -> bool:
    """Receptive field of 3x3 convolutions with dilations 1, 2, 4, 8."""
    expected = receptive_field([(3, 1, d, d) for d in DILATIONS]).size
    return check(answer, expected, name="Exercise 4",
                 hint="a 3x3 kernel with dilation d spans d * (3 - 1) + 1 pixels; the jump stays 1.")


def ex5(answer: Any) -> bool:
    """Fraction of weights saved by four 3x3 layers versus one layer of the same field (C -> C, no bias)."""
    size = receptive_field([(3, 1, 1)] * N_STACKED).size
    expected = 1 - (N_STACKED * 3 * 3) / (size * size)
    return check(answer, expected, name="Exercise 5", rel_tol=2e-3,
                 hint="the stack has 4 * 9 * C^2 weights; the single layer's kernel is as wide as the stack's field.")


# Exercise 6 (conceptual): one 65-pixel field reached two ways, by depth or by dilation.
EX6_DEEP = (32, 1)  # (3x3 layers, dilation): 32 ordinary layers
EX6_DILATED = (8, 4)  # 8 layers with dilation 4
EX6_REL_TOL = 0.15


def _stack(layers: int, dilation: int) -> list[tuple[int, int, int, int]]:
    return [(3, 1, dilation, dilation)] * layers


def ex6(answer: Any) -> bool:
    """(theoretical field, ERF spread) of 8 layers with dilation 4, each over the same for 32 ordinary layers."""
    (deep_n, deep_d), (dil_n, dil_d) = EX6_DEEP, EX6_DILATED
    field_ratio = receptive_field(_stack(dil_n, dil_d)).size / receptive_field(_stack(deep_n, deep_d)).size
    # The ERF's spread grows like the square root of the depth; a dilation d lays the same pattern d pixels apart.
    erf_ratio = (dil_d * math.sqrt(dil_n)) / (deep_d * math.sqrt(deep_n))
    return check(answer, (field_ratio, erf_ratio), name="Exercise 6", rel_tol=EX6_REL_TOL,
                 hint="each layer adds 2 * dilation pixels to the field; the ERF's spread grows like the square "
                      "root of the number of layers, and a dilation d spreads the same pattern d times wider.")


# Exercise 7 (experimental): measure the ratio that exercise 6 predicts (a single seed's range, see the tests).
EX7_LOW, EX7_HIGH = 0.42, 0.64


def ex7(answer: Any) -> bool:
    """ERF std of the chapter's 32-layer stack over the ERF std of 8 layers with dilation 4, as measured."""
    return check_range(answer, EX7_LOW, EX7_HIGH, name="Exercise 7",
                       quantity="the 32-layer stack's ERF std over the dilated stack's", source="measurement",
                       hint="build conv_stack's twin with nn.Conv2d(..., 3, padding=4, dilation=4), measure it as "
                            "the chapter measures erf_mean[32] (same input size and samples), and divide.")
