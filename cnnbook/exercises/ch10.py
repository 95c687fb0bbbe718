"""Checkers for the exercises of chapter 10, "EfficientNet".

Expected answers are computed here from the package's own networks (built on the meta device, so no memory is
spent on weights), or, for a measurement on real photographs, accepted in the range that the measurement lands in;
all out of the reader's sight.
"""
from __future__ import annotations

from typing import Any

import torch

from cnnbook.exercises import check, check_letters, check_range
from cnnbook.models.efficientnet import efficientnet, efficientnet_b0
from cnnbook.profile import macs

# Exercise 1 (conceptual): which layers of an EfficientNet cost MACs that grow only linearly with the width multiplier.
EX1_OPTIONS = {
    "a": "the stem, a 3x3 convolution from the image's 3 colour channels",
    "b": "the 1x1 expansion convolutions of the MBConv blocks",
    "c": "the depthwise convolutions",
    "d": "the 1x1 projection convolutions",
    "e": "the final linear classifier (1,000 classes)",
}
EX1_LINEAR = frozenset({"a", "c", "e"})  # one side of each is fixed (3 colours, 1,000 classes) or one filter per channel

# Exercise 2 (predict, then measure): B0 with only its width doubled, at B0's 224 px.
EX2_WIDTH, EX2_RES = 2.0, 224

# Exercise 3 (experimental): the median probability mass (total variation distance) that moves on the chapter's ten
# centre-cropped photos when only Lite0's two strided 5x5 depthwise convolutions pad symmetrically. Measured 0.232
# (torch 2.14.1, CPU; torch.median takes the lower of the two middle photos, a median that averages them gives 0.242);
# all five strided convolutions reverted give 0.209, only the three 3x3 ones 0.162. The bounds have two decimals,
# as the checker's message shows them.
EX3_RANGE = (0.22, 0.25)


def ex1(answer: Any) -> bool:
    """The letters of the layers whose MACs grow linearly, not quadratically, with EfficientNet's width multiplier."""
    return check_letters(answer, EX1_OPTIONS, EX1_LINEAR, name="Exercise 1",
                         hint="a layer's MACs are proportional to its input channels times its output channels "
                              "(times the map and kernel size): which layers have a side that the width multiplier "
                              "does not touch, or see only one input channel per output channel?")


def ex2(answer: Any) -> bool:
    """MACs of B0 with width x2 (depth 1, 224 px) divided by B0's MACs, to three significant digits."""
    with torch.device("meta"):
        expected = macs(efficientnet(EX2_WIDTH, 1.0), (3, EX2_RES, EX2_RES)) / macs(efficientnet_b0(), (3, EX2_RES, EX2_RES))
    return check(answer, expected, name="Exercise 2", rel_tol=2e-3,
                 hint="build efficientnet(2.0, 1.0) and efficientnet_b0() inside `with torch.device('meta'):` and "
                      "divide their macs(..., (3, 224, 224)).")


def ex3(answer: Any) -> bool:
    """The median probability mass moved on the ten photos when only the strided 5x5 convolutions pad symmetrically."""
    return check_range(answer, *EX3_RANGE, name="Exercise 3", quantity="the median probability mass moved",
                       source="measurement",
                       hint="start from the TensorFlow-padded Lite0, turn back only the SamePadConv2d layers whose kernel "
                            "is 5x5 (nn.Conv2d with padding 2), and compare its softmax on the ten photos with probs_tf: "
                            "half the summed absolute difference per photo, then the median.")


__all__ = ["EX1_LINEAR", "EX1_OPTIONS", "EX3_RANGE", "ex1", "ex2", "ex3"]
