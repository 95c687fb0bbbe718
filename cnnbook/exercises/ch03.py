"""Checkers for the exercises of chapter 3, "LeNet-5".

Each checker computes the expected answer with ``cnnbook.models.lenet`` and ``cnnbook.profile``, out of the
reader's sight.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from cnnbook.exercises import check, check_function
from cnnbook.models.lenet import C3_TABLE, PartialConv2d, lenet5
from cnnbook.profile import count_params

# Exercise 2: C3 computes one 10x10 output map per C3 map.
C3_OUTPUT_SIDE = 10
# Exercise 4: connection tables (and kernel sizes) the reader's function is tried on.
EX4_CASES = [
    (C3_TABLE, 5),
    (((0,), (1,), (2,)), 3),
    (((0, 1, 2),) * 4, 5),
    (((0, 3), (1,), (2, 3, 0), (1, 2)), 1),
    (tuple((i, (i + 1) % 8) for i in range(8)), 7),
]


def ex1(answer: Any) -> bool:
    """Parameters of C3 if each of its 16 maps read all 6 S2 maps (a dense 5x5 convolution)."""
    expected = count_params(nn.Conv2d(6, 16, kernel_size=5))
    return check(answer, expected, name="Exercise 1",
                 hint="16 kernels of 6 x 5 x 5 weights, plus one bias per map.")


def ex2(answer: Any) -> bool:
    """Multiply-accumulates that the partial C3 really needs for one 32x32 image (connected kernels only)."""
    connections = PartialConv2d(C3_TABLE, 5).weight.shape[0]
    expected = C3_OUTPUT_SIDE * C3_OUTPUT_SIDE * connections * 5 * 5
    return check(answer, expected, name="Exercise 2",
                 hint="each connection is one 5x5 kernel slid over the 10x10 output positions; count the connections.")


def ex3(answer: Any) -> bool:
    """Parameters of the modern LeNet-5 for colour (3-channel) 32x32 images and 10 classes."""
    expected = count_params(lenet5(in_channels=3))
    return check(answer, expected, name="Exercise 3",
                 hint="only C1 changes: each of its 6 kernels now has 3 x 5 x 5 weights.")


def _partial_params(table, kernel_size: int) -> int:
    return count_params(PartialConv2d(table, kernel_size))


def ex4(fn: Callable | None) -> bool:
    """The reader's ``partial_params(table, kernel_size)`` against the package's PartialConv2d."""
    return check_function(fn, _partial_params, EX4_CASES, name="Exercise 4")


def ex5(answer: Any) -> bool:
    """Fraction of the modern LeNet-5's parameters that sit in C5, F6 and the output layer."""
    model = lenet5()
    dense = sum(count_params(m) for m in (model.c5, model.f6, model.output))
    return check(answer, dense / count_params(model), name="Exercise 5", rel_tol=2e-3,
                 hint="C5 is 120 x (400 + 1), F6 84 x (120 + 1), the output 10 x (84 + 1); divide by 61,706.")
