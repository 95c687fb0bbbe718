"""Checkers for the exercises of chapter 5, "VGG".

Each checker computes the expected answer with the package (models built on the meta device, so no
memory is spent on weights), out of the reader's sight.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from cnnbook.conv import conv_params
from cnnbook.data import load_shapes10
from cnnbook.env import set_seed
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


# Exercise 6 (conceptual): three stacked 3x3 convolutions against one 7x7, in a block that doubles the channels.
EX6_HALF = 0.5  # C_in = C / 2
EX6_REL_TOL = 0.003


def ex6(answer: Any) -> bool:
    """Weights (no biases) of three 3x3 convolutions C/2 -> C -> C -> C over those of one 7x7 convolution C/2 -> C."""
    c = 256  # the ratio does not depend on C
    c_in = int(EX6_HALF * c)
    stack = conv_params(c_in, c, 3, bias=False) + 2 * conv_params(c, c, 3, bias=False)
    expected = stack / conv_params(c_in, c, 7, bias=False)
    return check(answer, expected, name="Exercise 6", rel_tol=EX6_REL_TOL,
                 hint="only the first 3x3 layer sees C/2 input channels; the other two map C to C. "
                      "Count each in units of C^2, and the 7x7 too.")


# Exercise 7 (experimental): how much the paper's head shrinks the gradient that reaches the first convolution.
EX7_WIDTH, EX7_SEED, EX7_BATCH = 1 / 16, 0, 128
EX7_REL_TOL = 0.05


def first_conv_grad(paper_head: bool, images: torch.Tensor, labels: torch.Tensor, seed: int = EX7_SEED) -> float:
    """Gradient norm of the first convolution's weights of the small plain VGG-11, one batch, at initialisation."""
    set_seed(seed)
    model = vgg("A", width=EX7_WIDTH, small_input=True, num_classes=10, dropout=0.0)
    if not paper_head:
        for m in model.classifier.modules():
            if isinstance(m, nn.Linear):
                m.reset_parameters()
    model.train()
    nn.functional.cross_entropy(model(images), labels).backward()
    return model.features[0].weight.grad.norm().item()


def ex7(answer: Any) -> bool:
    """First-convolution gradient norm with the default head over that with the paper's head, within 5%."""
    if answer is None:
        return check(None, None, name="Exercise 7")
    train = load_shapes10().train
    images, labels = train.tensors[0][:EX7_BATCH], train.tensors[1][:EX7_BATCH]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        expected = first_conv_grad(False, images, labels) / first_conv_grad(True, images, labels)
    finally:
        torch.set_num_threads(threads)
    return check(answer, expected, name="Exercise 7", rel_tol=EX7_REL_TOL,
                 hint="for each head: cnnbook.set_seed(0), build vgg11(**SMALL), re-draw the head or not, one "
                      "forward and backward pass on the batch in training mode, then features[0].weight.grad.norm().")
