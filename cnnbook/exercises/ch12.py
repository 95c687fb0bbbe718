"""Checkers for the exercises of chapter 12, "ConvNeXt".

Each expected answer is computed here from the package's own ConvNeXt (built on the meta device where only its
shapes matter) and counted with ``cnnbook.profile``, out of the reader's sight.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cnnbook.exercises import check, check_function
from cnnbook.models.convnext import CNBlock, convnext_tiny
from cnnbook.profile import count_params, macs

# Exercise 1: one ConvNeXt block of width 96 (ConvNeXt-T's first stage), layer scale included.
EX1_DIM = 96
# Exercise 2: ConvNeXt-T's patchify stem at 224 x 224: a 4x4 conv, stride 4, 3 -> 96 channels.
EX2_SIZE, EX2_PATCH, EX2_WIDTH = 224, 4, 96
# Exercise 3: the drop probability of ConvNeXt-T's block stage3[8] (stochastic_depth_prob 0.1 over 18 blocks).
EX3_STAGE, EX3_INDEX = 3, 8


def ex1(answer: Any) -> bool:
    """Parameters of a CNBlock of width 96: 7x7 depthwise conv, LayerNorm, 1x1 96 -> 384 -> 96, layer scale."""
    with torch.device("meta"):
        expected = count_params(CNBlock(EX1_DIM))
    return check(answer, expected, name="Exercise 1",
                 hint="49C + C (depthwise conv), 2C (LayerNorm), 4C*C + 4C and 4C*C + C (the two 1x1s), C (gamma).")


def ex2(answer: Any) -> bool:
    """Multiply-accumulates of ConvNeXt-T's patchify convolution on one 224 x 224 image (biases aside)."""
    stem = nn.Conv2d(3, EX2_WIDTH, EX2_PATCH, stride=EX2_PATCH, bias=False)
    expected = macs(stem, (3, EX2_SIZE, EX2_SIZE))
    return check(answer, expected, name="Exercise 2",
                 hint="each of the 56 x 56 x 96 outputs is one 4x4x3 patch times one filter: 48 MACs.")


def ex3(answer: Any) -> bool:
    """Stochastic-depth drop probability of ConvNeXt-T's block ``stage3[8]`` (the ninth block of stage 3)."""
    with torch.device("meta"):
        model = convnext_tiny()
    expected = getattr(model, f"stage{EX3_STAGE}")[EX3_INDEX].stochastic_depth.p
    return check(answer, expected, name="Exercise 3", rel_tol=1e-4,
                 hint="the probability grows linearly from 0 (block 0) to 0.1 (block 17); count the blocks before it.")


def _layer_norm_over_channels(x: torch.Tensor) -> torch.Tensor:
    return F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), eps=1e-6).permute(0, 3, 1, 2)


def _cases() -> list[tuple[torch.Tensor]]:
    g = torch.Generator().manual_seed(11)
    shapes = [(2, 8, 5, 7), (1, 3, 4, 4), (3, 16, 2, 6), (1, 5, 1, 1)]
    return [(torch.randn(s, generator=g) * 3 + 1,) for s in shapes]


def ex4(fn: Callable | None) -> bool:
    """The reader's ``layer_norm_over_channels(x)`` (no affine, eps 1e-6): LayerNorm2d's formula, by hand."""
    return check_function(fn, _layer_norm_over_channels, _cases(), name="Exercise 4")


def ex5(answer: Any) -> bool:
    """Parameters of ConvNeXt-T's three separate downsampling layers together (LayerNorm + 2x2 conv each)."""
    with torch.device("meta"):
        model = convnext_tiny()
    expected = sum(count_params(getattr(model, f"downsample{i}")) for i in (2, 3, 4))
    return check(answer, expected, name="Exercise 5",
                 hint="per layer: 2 C_in (LayerNorm) + 4 C_in C_out + C_out (2x2 conv); C = 96, 192, 384, 768.")
