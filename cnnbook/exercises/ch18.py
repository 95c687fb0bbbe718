"""Checkers for the exercises of chapter 18, "Scaling out to many GPUs".

Each expected answer is computed here with PyTorch's own ``DistributedSampler`` and the package's
arithmetic (``cnnbook.distributed``), out of the reader's sight.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils.data.distributed import DistributedSampler

from cnnbook.distributed import ring_allreduce_values
from cnnbook.exercises import check, check_function, check_letters, check_range

# Exercise 1 (conceptual): the same model's gradient all-reduced over a ring of 64 workers instead of 8.
EX1_NUMEL, EX1_SMALL, EX1_LARGE = 25_557_032, 8, 64  # ResNet-50's parameters; the count cancels out
# Exercise 3: rank 1 of 3, a data set of 10 examples, no shuffling, no dropping.
EX3_N, EX3_WORLD, EX3_RANK = 10, 3, 1
# Exercise 5 (experimental): accumulating 4 micro-batches of 16 on the BatchNorm network, against one batch of 64.
EX5_MICRO_BATCHES, EX5_BATCH = 4, 64
EX5_RANGE = (0.15, 0.45)  # seeds 0-5 of the initial weights land between 0.22 and 0.31


def ex1(answer: Any) -> bool:
    """How many times more values each worker sends per all-reduce with 64 workers than with 8."""
    expected = ring_allreduce_values(EX1_NUMEL, EX1_LARGE) / ring_allreduce_values(EX1_NUMEL, EX1_SMALL)
    return check(answer, expected, name="Exercise 1", rel_tol=1e-3,
                 hint="each worker sends 2 (W - 1) / W times the gradient's size: compare that factor at W = 64 "
                      "and at W = 8.")


def _share(n: int, world_size: int, rank: int) -> list[int]:
    data = torch.utils.data.TensorDataset(torch.arange(n))
    return list(DistributedSampler(data, num_replicas=world_size, rank=rank, shuffle=False))


# Exercise 2 (conceptual): what makes k accumulated micro-batches differ from one batch k times larger.
EX2_OPTIONS = {
    "a": "running every backward pass but the last inside model.no_sync()",
    "b": "not dividing each micro-batch's loss by k",
    "c": "BatchNorm layers in training mode",
    "d": "GroupNorm layers in place of the BatchNorm layers",
    "e": "calling optimizer.zero_grad() after every micro-batch's backward pass",
}
EX2_CHANGES = frozenset({"b", "c", "e"})  # no_sync changes only the communication; GroupNorm is per example


def ex2(answer: Any) -> bool:
    """The letters of the choices that change the accumulated gradient (beyond float rounding)."""
    return check_letters(answer, EX2_OPTIONS, EX2_CHANGES, name="Exercise 2",
                         hint="the gradient of a mean is the mean of the gradients only if each example's loss "
                              "depends on that example alone, each term is weighted 1/k, and every term is kept; "
                              "which choices only decide *when* the ranks talk?")


def ex3(answer: Any) -> bool:
    """The indices (in order) that rank 1 of 3 gets from 10 examples with shuffle=False, drop_last=False."""
    return check(answer, _share(EX3_N, EX3_WORLD, EX3_RANK), name="Exercise 3",
                 hint="the sampler pads the index list by repeating its start until it divides by the world size, "
                      "then rank r takes every world_size-th index starting at r.")


EX4_CASES = [(10, 3, 0), (10, 3, 1), (10, 3, 2), (8, 4, 3), (7, 2, 1), (5, 8, 6), (1, 2, 1), (12, 5, 4)]


def ex4(fn: Callable | None) -> bool:
    """The reader's ``rank_share(n, world_size, rank)`` against ``DistributedSampler(shuffle=False)``."""
    return check_function(fn, _share, EX4_CASES, name="Exercise 4")


def ex5(answer: Any) -> bool:
    """The relative gradient gap, 4 accumulated micro-batches of 16 against one batch of 64, with BatchNorm."""
    return check_range(answer, *EX5_RANGE, name="Exercise 5",
                       quantity="the relative difference |g_accumulated - g_one| / |g_one|",
                       source="measurement (over initial weights)",
                       hint="build_model('batchnorm') after set_seed(0), the first 64 images of `shapes`; "
                            "accumulated_gradient(model, images, labels, 4) against the same with 1, each from a "
                            "fresh model with the same seed; then the norm of the difference over the norm of the "
                            "one-batch gradient. A tiny value means the model has no BatchNorm.")
