"""Checkers for the exercises of chapter 7, "ResNet".

Each checker builds the module in question with ``cnnbook.models`` and counts with ``cnnbook.profile``,
out of the reader's sight.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from cnnbook.data import half_resolution, load_shapes10
from cnnbook.env import set_seed

from cnnbook.exercises import check, check_function, check_letters
from cnnbook.models import BasicBlock, Bottleneck, SqueezeExcitation, cifar_resnet
from cnnbook.models.resnet import conv1x1
from cnnbook.profile import count_params

# Exercise 1: a BasicBlock of ResNet-18's layer3 that keeps the shape (256 -> 256 channels).
EX1_CHANNELS = 256
# Exercise 2: the first Bottleneck of ResNet-50's layer3: 512 -> 1024 channels, stride 2, projection.
EX2_INPLANES, EX2_PLANES, EX2_STRIDE = 512, 256, 2
# Exercise 4: the 3x3 convolution of ResNeXt-50 (32x4d)'s layer3 blocks, versus ResNet-50's.
EX4_PLANES, EX4_GROUPS, EX4_WIDTH_PER_GROUP = 256, 32, 4
# Exercise 5: a CIFAR ResNet with 110 layers.
EX5_DEPTH = 110


def ex1(answer: Any) -> bool:
    """Parameters of BasicBlock(256, 256) (two 3x3 convolutions without bias, two BatchNorms)."""
    expected = count_params(BasicBlock(EX1_CHANNELS, EX1_CHANNELS))
    return check(answer, expected, name="Exercise 1",
                 hint="each 3x3 conv has 3 * 3 * C_in * C_out weights; each BatchNorm has 2 * C parameters.")


def _projected_bottleneck(inplanes: int, planes: int, stride: int) -> nn.Module:
    out = planes * Bottleneck.expansion
    shortcut = nn.Sequential(conv1x1(inplanes, out, stride), nn.BatchNorm2d(out))
    return Bottleneck(inplanes, planes, stride, downsample=shortcut)


def ex2(answer: Any) -> bool:
    """Parameters of ResNet-50's first layer3 block, projection shortcut included."""
    expected = count_params(_projected_bottleneck(EX2_INPLANES, EX2_PLANES, EX2_STRIDE))
    return check(answer, expected, name="Exercise 2",
                 hint="1x1 512->256, 3x3 256->256, 1x1 256->1024, a 1x1 512->1024 projection, and a BN after each.")


def _se_params(channels: int, reduction: int) -> int:
    return count_params(SqueezeExcitation(channels, reduction))


EX3_CASES = [(64, 16), (256, 16), (2048, 16), (512, 8), (100, 16), (24, 4), (8, 16)]


def ex3(fn: Callable | None) -> bool:
    """The reader's ``se_params(channels, reduction)`` against SqueezeExcitation's parameter count."""
    return check_function(fn, _se_params, EX3_CASES, name="Exercise 3")


def _grouped_3x3_weights(planes: int, groups: int, width_per_group: int) -> int:
    block = Bottleneck(planes * Bottleneck.expansion, planes, groups=groups, base_width=width_per_group)
    return block.conv2.weight.numel()


def ex4(answer: Any) -> bool:
    """(ResNeXt-50 32x4d weights, ResNet-50 weights) of the 3x3 convolution in a layer3 block."""
    resnext = _grouped_3x3_weights(EX4_PLANES, EX4_GROUPS, EX4_WIDTH_PER_GROUP)
    expected = (resnext, _grouped_3x3_weights(EX4_PLANES, 1, 64))
    return check(answer, expected, name="Exercise 4",
                 hint="the grouped conv has groups * int(planes * width_per_group / 64) channels; each output "
                      "channel sees only channels / groups inputs.")


def ex5(answer: Any) -> bool:
    """(blocks per stage, parameters) of cifar_resnet(110) with its default width 16 and pad shortcuts."""
    model = cifar_resnet(EX5_DEPTH)
    expected = (len(model.layer1), count_params(model))
    return check(answer, expected, name="Exercise 5",
                 hint="depth = 6n + 2; stage i has n BasicBlocks of 16 * 2**i channels; the shortcuts cost nothing.")


# Exercise 6 (conceptual): which changes to a pre-activation block take away the "1 +" in the gradient.
EX6_OPTIONS = {
    "a": "a BatchNorm applied after the addition",
    "b": "a squeeze-and-excitation module inside the residual branch F",
    "c": "a ReLU applied after the addition, as in the original 2015 block",
    "d": "a 1x1 projection convolution on the shortcut",
    "e": "twice as many convolutions inside F",
}
EX6_BREAKS = frozenset({"a", "c", "d"})  # whatever acts on the shortcut path; anything inside F leaves it alone


def ex6(answer: Any) -> bool:
    """The letters of the options that break the pure identity path (the '1 +' term) from block L to block l."""
    return check_letters(answer, EX6_OPTIONS, EX6_BREAKS, name="Exercise 6",
                         hint="the term 1 comes from the shortcut carrying x_l unchanged to x_L: which options touch "
                              "the shortcut path, and which only change F?")


# Exercise 7 (experimental): first/last gradient ratio at 56 layers, plain and residual.
EX7_DEPTH, EX7_WIDTH, EX7_SEED, EX7_BATCH = 56, 4, 0, 128
EX7_REL_TOL = 0.05


def gradient_spread(plain: bool, images: torch.Tensor, labels: torch.Tensor, depth: int = EX7_DEPTH,
                    seed: int = EX7_SEED) -> float:
    """Gradient norm of the first convolution's weights over the last one's, one batch, at initialisation."""
    set_seed(seed)
    model = cifar_resnet(depth, plain=plain, num_classes=10, width=EX7_WIDTH)
    model.train()
    nn.functional.cross_entropy(model(images), labels).backward()
    norms = [m.weight.grad.norm().item() for m in model.modules() if isinstance(m, nn.Conv2d)]
    return norms[0] / norms[-1]


def ex7(answer: Any) -> bool:
    """(plain ratio, residual ratio) at 56 layers on the first 128 training images at 16x16, within 5%."""
    if answer is None:
        return check(None, None, name="Exercise 7")
    splits = load_shapes10()
    train = half_resolution(splits.train)
    images, labels = train.tensors[0][:EX7_BATCH], train.tensors[1][:EX7_BATCH]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        expected = tuple(gradient_spread(plain, images, labels) for plain in (True, False))
    finally:
        torch.set_num_threads(threads)
    return check(answer, expected, name="Exercise 7", rel_tol=EX7_REL_TOL,
                 hint="conv_grad_norms(make_net(kind, 56), batch_images, batch_labels), then first / last, "
                      "for kind 'plain' and 'residual'.")
