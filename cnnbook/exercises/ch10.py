"""Checkers for the exercises of chapter 10, "EfficientNet".

Each expected answer is computed here from the package's own EfficientNet (built on the meta device, so no
memory is spent on weights), out of the reader's sight.
"""
from __future__ import annotations

from typing import Any

import torch

from cnnbook.exercises import check, check_function
from cnnbook.models.efficientnet import B0_STAGES, EFFICIENTNET_SIZES, efficientnet_b0, scaled_stages
from cnnbook.profile import count_params

ALPHA, BETA, GAMMA = 1.2, 1.1, 1.15


def ex1(answer: Any) -> bool:
    """Parameters of EfficientNet-B0's first block in stage 2 (16 -> 24 channels, expand 6, 3x3 stride 2, SE)."""
    with torch.device("meta"):
        expected = count_params(efficientnet_b0().features[2][0])
    return check(answer, expected, name="Exercise 1",
                 hint="expand 16 -> 96 (1x1), depthwise 3x3 on 96, SE 96 -> 4 -> 96 (with biases), project "
                      "96 -> 24; each BatchNorm adds 2 per channel.")


def ex2(answer: Any) -> bool:
    """Number of MBConv blocks in EfficientNet-B4 (depth multiplier 1.8)."""
    depth = EFFICIENTNET_SIZES["b4"][1]
    expected = sum(s.num_layers for s in scaled_stages(B0_STAGES, 1.0, depth))
    return check(answer, expected, name="Exercise 2",
                 hint="each stage's layer count (1, 2, 2, 3, 3, 4, 1) times 1.8, rounded *up*, then summed.")


def _multipliers(phi: float) -> tuple[float, float, float]:
    return ALPHA**phi, BETA**phi, GAMMA**phi


def ex3(fn: Any) -> bool:
    """``multipliers(phi)`` -> (depth, width, resolution) multipliers of compound scaling."""
    cases = [(0.0,), (1.0,), (2.5,), (7.0,)]
    return check_function(fn, _multipliers, cases, name="Exercise 3")


def ex4(answer: Any) -> bool:
    """Drop probability of the last block of EfficientNet-B0 trained with stochastic_depth_prob = 0.2."""
    with torch.device("meta"):
        model = efficientnet_b0(stochastic_depth_prob=0.2)
    expected = model.features[-2][-1].stochastic_depth.p
    return check(answer, expected, name="Exercise 4",
                 hint="block i of n (counting from 0) drops with probability 0.2 * i / n; B0 has 16 blocks.")


def ex5(answer: Any) -> bool:
    """FLOPs factor of compound scaling at phi = 3: (alpha * beta^2 * gamma^2)^phi, two decimals."""
    expected = (ALPHA * BETA**2 * GAMMA**2) ** 3
    return check(answer, expected, name="Exercise 5", rel_tol=5e-3,
                 hint="depth multiplies FLOPs linearly, width and resolution quadratically.")


__all__ = ["ex1", "ex2", "ex3", "ex4", "ex5"]
