"""Checkers for the exercises of chapter 5, "VGG".

Each checker computes the expected answer with the package (models built on the meta device, so no
memory is spent on weights), out of the reader's sight.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from cnnbook.conv import conv_params
from cnnbook.exercises import check, check_function
from cnnbook.models.vgg import cfgs, vgg
from cnnbook.profile import count_params
from cnnbook.receptive_field import receptive_field_of

# Exercise 1: VGG-16's conv3_1, the first convolution of block 3 (128 -> 256 channels, 3x3, with bias).
EX1_IN, EX1_OUT = 128, 256
# Exercise 3: VGG-16's last convolution, conv5_3, is module 28 of ``features``.
EX3_LAYER = "features.28"


def _params_on_meta(cfg: str | Sequence[Any], num_classes: int, batch_norm: bool = False) -> int:
    with torch.device("meta"):
        return count_params(vgg(cfg, batch_norm=batch_norm, num_classes=num_classes))


def ex1(answer: Any) -> bool:
    """Parameters (weights and biases) of VGG-16's conv3_1."""
    return check(answer, conv_params(EX1_IN, EX1_OUT, 3), name="Exercise 1",
                 hint="a 3x3 kernel has 3 * 3 * C_in weights per output channel, plus one bias each.")


EX2_CASES = [
    (cfgs["A"], 1000),
    (cfgs["C"], 1000),
    (cfgs["E"], 10),
    ([64, "M", (128, 1), "M", 256], 7),
]


def ex2(fn: Callable | None) -> bool:
    """The reader's ``vgg_params(cfg, num_classes)`` (3 input channels, 7x7 pooled features) against the package."""
    return check_function(fn, _params_on_meta, EX2_CASES, name="Exercise 2")


def ex3(answer: Any) -> bool:
    """Receptive field (in pixels) of VGG-16's conv5_3 units."""
    with torch.device("meta"):
        model = vgg("D")
    expected = receptive_field_of(model, (3, 224, 224), layer=EX3_LAYER).size
    return check(answer, expected, name="Exercise 3",
                 hint="each 3x3 conv adds 2 * jump pixels, each 2x2 pool adds 1 * jump and doubles the jump.")


def ex4(answer: Any) -> bool:
    """How many more parameters vgg19_bn has than vgg19."""
    expected = _params_on_meta("E", 1000, batch_norm=True) - _params_on_meta("E", 1000)
    return check(answer, expected, name="Exercise 4",
                 hint="BatchNorm2d(C) learns a scale and a shift per channel; its running statistics are buffers.")
