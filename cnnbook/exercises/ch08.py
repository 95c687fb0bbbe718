"""Checkers for the exercises of chapter 8, "DenseNet".

Each expected answer is computed here from the package's own DenseNet (built on the meta device, so no
memory is spent on weights) or measured on it, out of the reader's sight.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from cnnbook.exercises import check, check_function, check_range, say
from cnnbook.models.densenet import DenseBlock, DenseLayer, DenseNet, densenet121, densenet169
from cnnbook.profile import count_params

# Exercises 1 and 2: layer 12 of DenseNet-121's third dense block.
EX1_BLOCK, EX1_LAYER = 3, 12
# Exercise 5: DenseNet-121's first dense block (k0 = 64 channels in, k = 32, 6 layers).
EX5_BLOCK = dict(num_layers=6, num_input_features=64, growth_rate=32)
# Exercise 6: a block of 12 layers with k = 12 against one of 6 layers with k = 24 (both add 144 channels to 24).
EX6_K0, EX6_SHALLOW, EX6_DEEP = 24, (6, 24), (12, 12)
EX6_CHOICES = ("more", "fewer", "the same")
# Exercise 7: the smallest source weight relative to its row's largest, in the reuse maps of the chapter's untrained
# CIFAR-stem DenseNet-BC-28 (seed 0): measured 0.796 (seeds 0-2: 0.80-0.87).
EX7_RANGE = (0.70, 0.90)


def _layer_of_densenet121(block: int, layer: int) -> DenseLayer:
    with torch.device("meta"):
        model = densenet121()
    return getattr(getattr(model.features, f"denseblock{block}"), f"denselayer{layer}")


def ex1(answer: Any) -> bool:
    """Input channels of layer 12 in DenseNet-121's third dense block."""
    expected = _layer_of_densenet121(EX1_BLOCK, EX1_LAYER).norm1.num_features
    return check(answer, expected, name="Exercise 1",
                 hint="block 3 starts with the channels that transition 2 keeps; each earlier layer adds k = 32.")


def ex2(answer: Any) -> bool:
    """Parameters of that layer (two BatchNorms, the 1x1 bottleneck conv to 4k, the 3x3 conv to k)."""
    expected = count_params(_layer_of_densenet121(EX1_BLOCK, EX1_LAYER))
    return check(answer, expected, name="Exercise 2",
                 hint="2C + C*4k for BN and the 1x1 conv, then 2*4k + 9*4k*k; a BN has a scale and a shift per channel.")


def ex3(answer: Any) -> bool:
    """Channels that reach DenseNet-169's classifier."""
    with torch.device("meta"):
        expected = densenet169().classifier.in_features
    return check(answer, expected, name="Exercise 3",
                 hint="blocks (6, 12, 32, 32), k = 32, 64 stem channels; each transition halves the channels.")


def _classifier_channels(num_init_features: int, growth_rate: int, block_config: Sequence[int],
                         compression: float) -> int:
    with torch.device("meta"):
        model = DenseNet(growth_rate, tuple(block_config), num_init_features, compression=compression)
    return model.classifier.in_features


EX4_CASES = [
    (64, 32, (6, 12, 24, 16), 0.5),   # DenseNet-121
    (96, 48, (6, 12, 36, 24), 0.5),   # DenseNet-161
    (24, 12, (16, 16, 16), 0.5),      # DenseNet-BC-100 for CIFAR
    (16, 12, (12, 12, 12), 1.0),      # no compression (DenseNet-B)
    (16, 5, (3, 4, 5), 0.5),          # odd channel counts: the transitions round down
    (10, 3, (2, 2, 2, 2), 0.25),
    (7, 4, (5,), 0.5),                # one block, no transition
]


def ex4(fn: Callable | None) -> bool:
    """The reader's ``classifier_channels(k0, k, block_config, compression)`` against the package."""
    return check_function(fn, _classifier_channels, EX4_CASES, name="Exercise 4")


def _saved_activation_bytes(block: DenseBlock, x: torch.Tensor) -> int:
    """Bytes of the distinct tensors autograd keeps for the backward pass, parameters and buffers excluded."""
    own = {t.untyped_storage().data_ptr() for t in [*block.parameters(), *block.buffers()]}
    kept: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in own:
            kept[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        block(x)
    return sum(kept.values())


def ex5(answer: Any) -> bool:
    """How many times more activation memory the naive first block of DenseNet-121 keeps than the efficient one."""
    x = torch.randn(2, EX5_BLOCK["num_input_features"], 8, 8, requires_grad=True)
    naive, efficient = (
        _saved_activation_bytes(DenseBlock(**EX5_BLOCK, memory_efficient=flag), x) for flag in (False, True)
    )
    return check(answer, naive / efficient, name="Exercise 5", rel_tol=0.01,
                 hint="naive: each layer keeps 2 (k0 + (l-1) k) + 8k channels; efficient: the block input and "
                      "every new map once, plus 8k channels per layer.")


def ex6(answer: Any) -> bool:
    """Whether 6 layers with k = 24 have more, fewer or the same parameters as 12 layers with k = 12 (k0 = 24)."""
    if answer is not None and answer not in EX6_CHOICES:
        say("Exercise 6", "answer with one of {choices}, got {got}.", choices=", ".join(map(repr, EX6_CHOICES)), got=repr(answer))
        return False
    with torch.device("meta"):
        shallow = count_params(DenseBlock(EX6_SHALLOW[0], EX6_K0, EX6_SHALLOW[1]))
        deep = count_params(DenseBlock(EX6_DEEP[0], EX6_K0, EX6_DEEP[1]))
    expected = "more" if shallow > deep else "fewer" if shallow < deep else "the same"
    return check(answer, expected, name="Exercise 6",
                 hint="in P(C) = 2C + 4kC + 8k + 36k^2, which terms grow with k, and how fast?")


def ex7(answer: Any) -> bool:
    """The measured flatness of an untrained DenseNet's reuse maps (smallest / largest source weight in a row)."""
    return check_range(answer, *EX7_RANGE, name="Exercise 7", quantity="the smallest ratio", source="measurement",
                       hint="seed 0, the record's small_densenet(small_input=True), reuse_map of each dense block, "
                            "and in every row the smallest value over the largest (NaNs left out).")
