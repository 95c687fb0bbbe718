"""Checkers for the exercises of chapter 6, "GoogLeNet / Inception".

Each checker computes the expected answer with ``cnnbook.models.googlenet`` and ``cnnbook.profile``,
out of the reader's sight.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cnnbook.exercises import check, check_function, check_range, say
from cnnbook.models.googlenet import INCEPTION_CFG, Inception, InceptionAux, NaiveInception
from cnnbook.profile import count_params, macs

# Exercise 1: inception 4a receives the 480 channels of inception 3b (after the pool).
EX1_IN_CHANNELS = 480
# Exercise 2: inception 3b (torchvision's 3x3 form) on the 256 channels of inception 3a.
EX2_IN_CHANNELS = 256
# Exercise 4: the paper's 3a module (5x5 branch), naive vs with reductions, on a 28x28 map.
EX4_INPUT = (192, 28, 28)
# Exercise 5: the second auxiliary classifier sits on inception 4d's 528 channels, 1000 classes.
EX5_IN_CHANNELS, EX5_CLASSES = 528, 1000
# Exercise 7: which branch of the paper's module 3a (5x5 in branch 3, with reductions) does the most MACs.
EX7_BRANCHES = ("branch1", "branch2", "branch3", "branch4")
# Exercise 8: the share of the auxiliary losses in an untrained small GoogLeNet's training loss. An untrained
# 10-way classifier's cross-entropy is about ln 10 for every head, so the share is near 0.6 / 1.6 = 0.375; the
# measured value (width 1/8, seeds 0-5, the first 256 Shapes10 training images) is 0.3749-0.3754.
EX8_RANGE = (0.35, 0.40)


def ex1(answer: Any) -> bool:
    """Output channels of inception 4a."""
    expected = Inception(EX1_IN_CHANNELS, *INCEPTION_CFG["4a"]).out_channels
    return check(answer, expected, name="Exercise 1",
                 hint="add the channels of the four branches: #1x1 + #3x3 + #5x5 + pool proj.")


def ex2(answer: Any) -> bool:
    """Parameters of inception 3b in torchvision's form (bias-free convolutions, BatchNorm scale and shift)."""
    expected = count_params(Inception(EX2_IN_CHANNELS, *INCEPTION_CFG["3b"]))
    return check(answer, expected, name="Exercise 2",
                 hint="each conv has in * out * k * k weights and no bias; each BatchNorm adds 2 per channel; "
                      "the '5x5' branch is 3x3 here.")


def _naive_channels(in_channels: int, ch1x1: int, ch3x3: int, ch5x5: int, n: int) -> int:
    channels = in_channels
    for _ in range(n):
        channels = NaiveInception(channels, ch1x1, ch3x3, ch5x5).out_channels
    return channels


EX3_CASES = [
    (192, 64, 128, 32, 1),
    (192, 64, 128, 32, 3),
    (192, 64, 128, 32, 9),
    (3, 1, 1, 1, 5),
    (16, 8, 4, 2, 0),
    (100, 10, 20, 30, 4),
]


def ex3(fn: Callable | None) -> bool:
    """The reader's ``naive_channels(in_channels, ch1x1, ch3x3, ch5x5, n)`` after ``n`` stacked naive modules."""
    return check_function(fn, _naive_channels, EX3_CASES, name="Exercise 3")


def ex4(answer: Any) -> bool:
    """How many times more MACs the naive 3a module (5x5) costs than the one with 1x1 reductions."""
    c1, c3r, c3, c5r, c5, pp = INCEPTION_CFG["3a"]
    naive = macs(NaiveInception(EX4_INPUT[0], c1, c3, c5, branch3_kernel=5), EX4_INPUT)
    reduced = macs(Inception(EX4_INPUT[0], c1, c3r, c3, c5r, c5, pp, branch3_kernel=5), EX4_INPUT)
    return check(answer, naive / reduced, name="Exercise 4", rel_tol=5e-3,
                 hint="MACs of a conv = H * W * out * in * k * k; the max-pool costs no MACs.")


def ex5(answer: Any) -> bool:
    """Parameters of one auxiliary classifier on 528 channels for 1000 classes."""
    expected = count_params(InceptionAux(EX5_IN_CHANNELS, EX5_CLASSES))
    return check(answer, expected, name="Exercise 5",
                 hint="1x1 conv to 128 (no bias) + BatchNorm, then fc 128*4*4 -> 1024 and fc 1024 -> classes, "
                      "both with biases.")


def _adaptive_windows(size: int, out: int) -> list[tuple[int, int]]:
    """Measured from torch: for each output cell, the first and last input index it averages."""
    import torch
    import torch.nn.functional as F

    hits = torch.stack([F.adaptive_avg_pool1d(F.one_hot(torch.tensor(i), size).float().view(1, 1, size), out)[0, 0] > 0
                        for i in range(size)])  # (input index, output cell)
    return [(int(col.nonzero().min()), int(col.nonzero().max())) for col in hits.T]


EX6_CASES = [(14, 4), (7, 4), (28, 4), (13, 5), (6, 6), (5, 3), (10, 1)]


def ex6(fn: Callable | None) -> bool:
    """The reader's ``adaptive_windows(size, out)``: the (first, last) input index of each adaptive-pooling window."""
    return check_function(fn, _adaptive_windows, EX6_CASES, name="Exercise 6")


def branch_macs(module: Inception, input_shape: tuple[int, int, int] = EX4_INPUT) -> dict[str, int]:
    """Multiply-accumulates of each of an Inception module's four branches on ``input_shape``."""
    return {name: macs(getattr(module, name), input_shape) for name in EX7_BRANCHES}


def ex7(answer: Any) -> bool:
    """The branch of the paper's module 3a (5x5 branch, with reductions) that does the most MACs."""
    costs = branch_macs(Inception(EX4_INPUT[0], *INCEPTION_CFG["3a"], branch3_kernel=5))
    if answer is not None and answer not in EX7_BRANCHES:
        say("Exercise 7", "answer with one of {choices}, got {got}.", choices=", ".join(map(repr, EX7_BRANCHES)), got=repr(answer))
        return False
    return check(answer, max(costs, key=costs.get), name="Exercise 7",
                 hint="after the reductions, which convolution reads many channels and writes many, with a kernel "
                      "larger than 1x1?")


def ex8(answer: Any) -> bool:
    """The measured share of the two auxiliary losses (weighted 0.3) in an untrained small GoogLeNet's loss."""
    return check_range(answer, *EX8_RANGE, name="Exercise 8", quantity="the share of the auxiliary losses",
                       source="measurement",
                       hint="share = 0.3 (aux1 + aux2) / (main + 0.3 (aux1 + aux2)), each a cross-entropy of the "
                            "training-mode outputs on the same images.")
