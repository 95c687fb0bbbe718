"""Checkers for the exercises of chapter 13, "U-Net".

Each expected answer is computed here from the package's own U-Net (its size arithmetic, or a network built on
the meta device and counted) and segmentation metrics, out of the reader's sight.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from cnnbook.exercises import check, check_function, check_letters, check_range
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


# Exercise 4: which tilings of an unpadded U-Net give logits that do not depend on the tiling.
EX4_OPTIONS = {"a": "depth 1, output tiles of 30", "b": "depth 2, output tiles of 40",
               "c": "depth 3, output tiles of 28", "d": "depth 4, output tiles of 388"}
EX4_TILINGS = {"a": (1, 30), "b": (2, 40), "c": (3, 28), "d": (4, 388)}


def tiling_is_seamless(depth: int, tile: int) -> bool:
    """True if output tiles of side ``tile`` of an unpadded U-Net of ``depth`` start on its pooling grid.

    A regular tiling starts its tiles at multiples of ``tile``; every max-pool pairs the same pixels in each tile
    only if those starts are multiples of 2^depth. ``tile`` must be a valid output side.
    """
    sizes = None
    for side in range(tile, tile + 100 * 2**depth):  # the input side whose output is `tile`, if there is one
        try:
            sizes = unet_sizes(side, depth)
        except ValueError:
            continue
        if sizes.output >= tile:
            break
    if sizes is None or sizes.output != tile:
        raise ValueError(f"{tile} is not an output side of an unpadded U-Net of depth {depth}")
    return tile % 2**depth == 0


def ex4(answer: Any) -> bool:
    """The letters of the tilings whose logits do not depend on the tiling."""
    expected = {k for k, (depth, tile) in EX4_TILINGS.items() if tiling_is_seamless(depth, tile)}
    return check_letters(answer, EX4_OPTIONS, expected, name="Exercise 4",
                         hint="list each depth's valid output sides and divide them by 2^depth.")


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


# Exercise 6 (experimental): the live U-Net with skips, seed 0, trained with cross-entropy alone (no Dice term).
EX6_RANGE = (0.10, 0.16)
"""Where its test foreground mIoU lands over seeds 0 to 5 (0.120 to 0.134), with a margin."""


def ex6(answer: Any) -> bool:
    """The measured test foreground mIoU of the page's U-Net with skips trained with cross-entropy alone."""
    return check_range(answer, *EX6_RANGE, name="Exercise 6", quantity="the test foreground mIoU",
                       hint="train with loss_fn=F.cross_entropy in place of segmentation_loss, everything else as "
                            "the page's train_segmenter does, and score the test masks with foreground_miou.")
