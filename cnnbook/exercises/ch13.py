"""Checkers for the exercises of chapter 13, "U-Net".

Each expected answer is computed here from the package's own U-Net (its size arithmetic, or a network built on
the meta device and counted) and segmentation metrics, out of the reader's sight.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from cnnbook.exercises import check, check_function
from cnnbook.models.unet import DoubleConv, nearest_valid_sizes, unet_sizes
from cnnbook.profile import count_params
from cnnbook.segmentation import dice_per_class, iou_per_class

# Exercise 1: the output side of the 2015 U-Net (depth 4, valid convolutions) for a 508 x 508 input.
EX1_INPUT = 508
# Exercise 2: parameters of the 2015 network's second encoder level: a DoubleConv 64 -> 128, valid, with biases.
EX2_IN, EX2_OUT = 64, 128
# Exercise 3: the smallest valid input side above 100 for a depth-3 U-Net without padding.
EX3_ABOVE, EX3_DEPTH = 100, 3


def ex1(answer: Any) -> bool:
    """Output side of the 2015 U-Net for a 508 x 508 input."""
    expected = unet_sizes(EX1_INPUT, depth=4, padding=False).output
    return check(answer, expected, name="Exercise 1",
                 hint="each double conv takes 4 pixels, each pool halves, each up-convolution doubles.")


def ex2(answer: Any) -> bool:
    """Parameters of one unpadded DoubleConv 64 -> 128 (two 3x3 convolutions with biases, no normalisation)."""
    with torch.device("meta"):
        expected = count_params(DoubleConv(EX2_IN, EX2_OUT))
    return check(answer, expected, name="Exercise 2",
                 hint="a 3x3 convolution from a to b channels has 9ab weights and b biases; there are two.")


def ex3(answer: Any) -> bool:
    """The smallest input side above 100 that a depth-3 U-Net without padding accepts."""
    expected = nearest_valid_sizes(EX3_ABOVE, depth=EX3_DEPTH, padding=False)[1]
    return check(answer, expected, name="Exercise 3",
                 hint="walk the sizes: subtract 4, halve (it must be even), three times; then subtract 4 at the bottom.")


def _iou_from_dice(dice: float) -> float:
    return dice / (2 - dice)


def ex4(fn: Callable | None) -> bool:
    """The reader's ``iou_from_dice(d)``: the IoU of a class whose Dice is ``d`` (the two are tied exactly)."""
    return check_function(fn, _iou_from_dice, [(d,) for d in (0.0, 0.25, 0.5, 0.8, 0.999, 1.0)], name="Exercise 4")


def _foreground_iou(pred: torch.Tensor, target: torch.Tensor) -> float:
    return float(iou_per_class(pred, target, 2)[1])


def _cases() -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(13)
    cases = []
    for shape in ((1, 5, 5), (2, 8, 6), (3, 4, 9)):
        target = (torch.rand(shape, generator=g) < 0.4).long()
        pred = (torch.rand(shape, generator=g) < 0.5).long()
        cases.append((pred, target))
    return cases


def ex5(fn: Callable | None) -> bool:
    """The reader's ``foreground_iou(pred, target)`` on binary (N, H, W) masks, pooled over the batch."""
    return check_function(fn, _foreground_iou, _cases(), name="Exercise 5")


def dice_matches_iou(pred: torch.Tensor, target: torch.Tensor) -> bool:
    """True if the package's Dice and IoU satisfy IoU = D / (2 - D) on these masks (used by the tests)."""
    d, i = dice_per_class(pred, target, 2)[1], iou_per_class(pred, target, 2)[1]
    return bool(torch.isclose(i, d / (2 - d)))
