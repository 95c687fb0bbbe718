"""Checkers for the exercises of chapter 9, "MobileNet".

Each expected answer is computed here from the package's own blocks and networks (built on the meta device
where only their shapes matter) and counted with ``cnnbook.profile``, out of the reader's sight; the
experimental exercise checks the narrow network's MACs exactly and accepts a measured difference of two test
accuracies in the range that runs over seeds 0 to 5 land in.
"""
from __future__ import annotations

import numbers
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import torch
from torch import nn

from cnnbook.exercises import check, check_function, say
from cnnbook.i18n import localise
from cnnbook.models.mobilenet import InvertedResidual, MOBILENET_V2_SETTING, DepthwiseSeparable, mobilenet_v2
from cnnbook.profile import count_params, macs
from cnnbook.records.mobilenet import NARROW, net_macs

# Exercise 1: a 3x3 convolution from 256 to 384 channels, replaced by a depthwise separable pair.
EX1_IN, EX1_OUT = 256, 384
# Exercise 2 (conceptual): the output width at which a 3x3 separable convolution costs an eighth of the full one.
EX2_KERNEL, EX2_FRACTION = 3, Fraction(1, 8)
# Exercise 3: MobileNetV2 at width multiplier 0.35.
EX3_WIDTH = 0.35


def _conv_weights(module: nn.Module) -> int:
    return sum(m.weight.numel() for m in module.modules() if isinstance(m, nn.Conv2d))


def ex1(answer: Any) -> bool:
    """Convolution weights (no BatchNorm) of the depthwise separable replacement of a 3x3 conv 256 -> 384."""
    with torch.device("meta"):
        expected = _conv_weights(DepthwiseSeparable(EX1_IN, EX1_OUT))
    return check(answer, expected, name="Exercise 1",
                 hint="the depthwise conv has one 3x3 filter per input channel; the pointwise conv is 1x1, C_in x C_out.")


def _separable_fraction(out_channels: int, in_channels: int = 64) -> Fraction:
    """MACs of a 3x3 depthwise separable layer (no norm, no bias) over the full 3x3 convolution's, exactly."""
    k = EX2_KERNEL
    with torch.device("meta"):
        separable = DepthwiseSeparable(in_channels, out_channels, kernel_size=k, norm_layer=None, activation=None)
        separable.depthwise[0].bias = separable.pointwise[0].bias = None  # count the products, not the bias adds
        full = nn.Conv2d(in_channels, out_channels, k, padding=k // 2, bias=False)
    return Fraction(macs(separable, (in_channels, 8, 8)), macs(full, (in_channels, 8, 8)))


def ex2(answer: Any) -> bool:
    """The number of output channels N at which a 3x3 depthwise separable layer needs exactly an eighth of the
    standard 3x3 convolution's MACs (whatever the input channels and the map size)."""
    low, high = 1, 4096  # the fraction falls as N grows: bisect for the N where it reaches an eighth
    while low < high:
        mid = (low + high) // 2
        low, high = (mid + 1, high) if _separable_fraction(mid) > EX2_FRACTION else (low, mid)
    expected = low if _separable_fraction(low) == EX2_FRACTION else None
    return check(answer, expected, name="Exercise 2",
                 hint="the fraction of the cost that remains falls as N grows, towards a floor set by the kernel; "
                      "write the fraction as a function of N and solve for an eighth.")


def ex3(answer: Any) -> bool:
    """Output channels of MobileNetV2's seven stages at width multiplier 0.35, as a list."""
    with torch.device("meta"):
        model = mobilenet_v2(width_mult=EX3_WIDTH)
    blocks = [m for m in model.features if isinstance(m, InvertedResidual)]
    ends = []
    i = 0
    for _, _, n, _ in MOBILENET_V2_SETTING:
        i += n
        ends.append(blocks[i - 1].out_channels)
    return check(answer, ends, name="Exercise 3",
                 hint="make_divisible(c * 0.35, 8) for each c of the table; it rounds to the nearest multiple of 8, "
                      "at least 8, and adds 8 when rounding lost more than 10%.")


def _inverted_residual_params(in_channels: int, out_channels: int, t: int, stride: int) -> int:
    with torch.device("meta"):
        return count_params(InvertedResidual(in_channels, out_channels, stride, int(round(in_channels * t))))


EX4_CASES = [(32, 16, 1, 1), (16, 24, 6, 2), (24, 24, 6, 1), (64, 96, 6, 1), (160, 320, 6, 1), (8, 8, 3, 2),
             (10, 12, 1, 1)]


def ex4(fn: Callable | None) -> bool:
    """The reader's ``inverted_residual_params(in_channels, out_channels, t, stride)`` against the package."""
    return check_function(fn, _inverted_residual_params, EX4_CASES, name="Exercise 4")


# Exercise 5 (experimental): the standard network narrowed to the separable one's MACs, trained with the page's 2-epoch
# recipe on seed 0: its MACs, and its test accuracy minus the full-width standard network's on the same seed.
EX5_COST_RANGE = (-0.09, -0.02)
"""Narrow minus full width after the page's 2 epochs, seeds 0 to 5: -0.057 to -0.024 (seed 0: 0.245 - 0.302). Every
accuracy difference the page prints is positive; after the record's 15 epochs narrowing costs 0.106 on average (0.492
against 0.598), and the separable network is 0.075 behind the standard one on seed 0 after 2 epochs (0.227 - 0.302)."""


def _pair_of(answer: Any, kinds: tuple[type, type], what: str, name: str) -> tuple | None:
    """``answer`` as a 2-tuple whose items are of ``kinds`` (no bools), or None after printing what was expected."""
    if (isinstance(answer, (tuple, list)) and len(answer) == 2
            and all(isinstance(a, k) and not isinstance(a, bool) for a, k in zip(answer, kinds))):
        return tuple(answer)
    say(name, "give {what}, got {got}.", what=localise(what), got=repr(answer))
    return None


def ex5(answer: Any) -> bool:
    """(MACs of ``shapes10_net(False, NARROW)`` on one 32x32 image, its test accuracy minus the full-width standard
    network's), both trained with the page's recipe on the same seed."""
    if answer is None:
        return check(None, None, name="Exercise 5")
    pair = _pair_of(answer, (numbers.Integral, numbers.Real),
                    "a pair (the narrow network's MACs, its test accuracy minus the full-width network's)", "Exercise 5")
    if pair is None:
        return False
    macs_right = check(int(pair[0]), net_macs(False, NARROW), name="Exercise 5 (MACs)",
                       hint="count macs(shapes10_net(False, NARROW), (3, 32, 32)): the narrow standard network, not "
                            "the full-width one nor the separable one.")
    low, high = EX5_COST_RANGE
    difference = float(pair[1])
    if not -1 <= difference <= 1:
        say("Exercise 5 (narrow minus full width)",
            "give the difference of two test accuracies, a number between -1 and 1, got {got}.", got=repr(pair[1]))
        cost_right = False
    elif low <= difference <= high:
        say("Exercise 5 (narrow minus full width)",
            "correct: {answer:+.3f} is in the range {low:+.2f} to {high:+.2f} that seeds 0 to 5 land in.",
            answer=difference, low=low, high=high)
        cost_right = True
    else:
        say("Exercise 5 (narrow minus full width)", "not quite ({got} is outside {low:+.2f} to {high:+.2f}).",
            "subtract the full-width standard network's test accuracy on the same seed (standard_runs.test_acc[0]) "
            "from the narrow network's, trained with run_seeds and the page's recipe on the same split.",
            got=repr(pair[1]), low=low, high=high)
        cost_right = False
    return macs_right and cost_right
