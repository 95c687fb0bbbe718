"""Checkers for the exercises of chapter 13, "U-Net".

Each expected answer is computed here from the package's own U-Net (its size arithmetic, or a network built on
the meta device and counted) and segmentation metrics, out of the reader's sight; the experiment's range is
where the page's runs land.
"""
from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import torch

from cnnbook.exercises import check, check_function, say
from cnnbook.models.unet import DoubleConv, nearest_valid_sizes, unet_sizes
from cnnbook.profile import count_params
from cnnbook.segmentation import dice_per_class, iou_per_class

# Exercise 1: the output side of an unpadded U-Net one level deeper than the paper's (depth 5) for a 508 x 508 input.
EX1_INPUT, EX1_DEPTH = 508, 5
# Exercise 2: parameters of the 2015 network's second encoder level: a DoubleConv 64 -> 128, valid, with biases.
EX2_IN, EX2_OUT = 64, 128
# Exercise 3: the smallest valid input side above 200 for a depth-3 U-Net without padding.
EX3_ABOVE, EX3_DEPTH = 200, 3


def ex1(answer: Any) -> bool:
    """Output side of an unpadded depth-5 U-Net for a 508 x 508 input."""
    expected = unet_sizes(EX1_INPUT, depth=EX1_DEPTH, padding=False).output
    return check(answer, expected, name="Exercise 1",
                 hint="each double conv takes 4 pixels, each pool halves, each up-convolution doubles.")


def ex2(answer: Any) -> bool:
    """Parameters of one unpadded DoubleConv 64 -> 128 (two 3x3 convolutions with biases, no normalisation)."""
    with torch.device("meta"):
        expected = count_params(DoubleConv(EX2_IN, EX2_OUT))
    return check(answer, expected, name="Exercise 2",
                 hint="a 3x3 convolution from a to b channels has 9ab weights and b biases; there are two.")


def ex3(answer: Any) -> bool:
    """The smallest input side above 200 that a depth-3 U-Net without padding accepts."""
    expected = nearest_valid_sizes(EX3_ABOVE, depth=EX3_DEPTH, padding=False)[1]
    return check(answer, expected, name="Exercise 3",
                 hint="walk the sizes: subtract 4, halve (it must be even), three times; then subtract 4 at the bottom.")


# Exercise 4: the paper's 388-pixel output tiles (depth 4), started every s pixels: the largest s <= 388 that keeps
# the logits independent of the tiling.
EX4_DEPTH, EX4_TILE = 4, 388


def starts_on_pooling_grid(depth: int, offset: int) -> bool:
    """True if a tile that starts ``offset`` pixels after another meets the same pixel pairs in every max-pool.

    Each 2x2 max-pool pairs pixels counted from the first pixel of its input; after ``depth`` poolings two windows
    agree on all of them only if their starts differ by a multiple of 2^depth.
    """
    return offset % 2**depth == 0


def _check_output_side(depth: int, tile: int) -> None:
    """ValueError unless ``tile`` is an output side of an unpadded U-Net of ``depth``."""
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


def tiling_is_seamless(depth: int, tile: int) -> bool:
    """True if output tiles of side ``tile`` of an unpadded U-Net of ``depth``, placed edge to edge, start on its
    pooling grid, so that the logits do not depend on the tiling. ``tile`` must be a valid output side."""
    _check_output_side(depth, tile)
    return starts_on_pooling_grid(depth, tile)


def largest_aligned_stride(depth: int, tile: int) -> int:
    """The largest stride s <= ``tile`` (so that the tiles still cover the image) at which tiles of side ``tile``
    all start on the pooling grid of an unpadded U-Net of ``depth``."""
    _check_output_side(depth, tile)
    return max(s for s in range(1, tile + 1) if starts_on_pooling_grid(depth, s))


def ex4(answer: Any) -> bool:
    """The largest stride, at most 388, for the paper's 388-pixel tiles whose logits do not depend on the tiling."""
    return check(answer, largest_aligned_stride(EX4_DEPTH, EX4_TILE), name="Exercise 4",
                 hint="tiles at stride s start at 0, s, 2s, ...: which starts does every max-pool of a depth-4 "
                      "network pair the same way as the first tile's?")


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


# Exercise 6 (experimental): the live U-Net with skips, seed 0, trained with cross-entropy alone (no Dice term); the
# answer is how many more test pixels the page's seed-0 run (with the Dice term) labels as a shape than that run does.
EX6_RANGE = (1_000, 5_500)
"""Where that difference lands: on seed 0 (the run the exercise asks for) 3,695 pixels on one CPU code path and
2,250 on another (AVX2: torch's sums round differently, and training moves the count as much as a new seed does);
seeds 1 to 5, each against the Dice run of the same seed, give 1,485 to 4,703, all positive. The range covers them
all with a margin, and still refuses one run's count, the subtraction the wrong way round and an mIoU."""


def ex6(answer: Any) -> bool:
    """Test pixels labelled as a shape by the page's seed-0 U-Net with skips, minus those of the same network
    trained with cross-entropy alone."""
    name = "Exercise 6"
    if answer is None:
        return check(None, None, name=name)
    if isinstance(answer, torch.Tensor) and answer.numel() == 1 and not answer.is_floating_point():
        answer = answer.item()
    if isinstance(answer, bool) or not isinstance(answer, numbers.Integral):
        say(name, "give a whole number of pixels, got {got}.", got=repr(answer))
        return False
    low, high = EX6_RANGE
    if low <= answer <= high:
        say(name, "correct: {answer:+,} pixels is in the range {low:+,} to {high:+,} this run lands in.",
            answer=int(answer), low=low, high=high)
        return True
    say(name, "not quite ({got:+,} is outside {low:+,} to {high:+,}).",
        "count the pixels of each run's test masks that are not background (mask > 0) and subtract: the page's "
        "seed-0 masks are masks[\"U-Net, skips\"][0]; train yours as train_segmenter does, with "
        "loss_fn=F.cross_entropy in place of segmentation_loss.",
        got=int(answer), low=low, high=high)
    return False
