"""Checkers for the exercises of chapter 18, "Scaling out to many GPUs".

Each expected answer is computed here with PyTorch's own ``DistributedSampler`` and the package's batch
arithmetic (``cnnbook.distributed``), out of the reader's sight.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils.data.distributed import DistributedSampler

from cnnbook.distributed import per_rank_batch, scaled_lr
from cnnbook.exercises import check, check_function

# Exercise 1: 4 machines with 8 GPUs each share a global batch of 1,024 images.
EX1_GLOBAL, EX1_WORLD = 1024, 4 * 8
# Exercise 2: a recipe tuned at lr 0.1 for 256 images, run with a global batch of 8,192.
EX2_BASE_LR, EX2_BASE_BATCH, EX2_GLOBAL = 0.1, 256, 8192
# Exercise 3: rank 1 of 3, a data set of 10 examples, no shuffling, no dropping.
EX3_N, EX3_WORLD, EX3_RANK = 10, 3, 1
# Exercise 5: optimizer steps in one epoch of CIFAR-10's 50,000 images, global batch 512, dropping the rest.
EX5_N, EX5_GLOBAL = 50_000, 512


def _share(n: int, world_size: int, rank: int) -> list[int]:
    data = torch.utils.data.TensorDataset(torch.arange(n))
    return list(DistributedSampler(data, num_replicas=world_size, rank=rank, shuffle=False))


def ex1(answer: Any) -> bool:
    """Images per GPU for a global batch of 1,024 on 32 GPUs."""
    return check(answer, per_rank_batch(EX1_GLOBAL, EX1_WORLD), name="Exercise 1",
                 hint="every process takes the same share: the global batch divided by the number of processes.")


def ex2(answer: Any) -> bool:
    """The learning rate the linear scaling rule gives for a global batch of 8,192 (0.1 at 256)."""
    return check(answer, scaled_lr(EX2_BASE_LR, EX2_GLOBAL, EX2_BASE_BATCH), name="Exercise 2", rel_tol=1e-6,
                 hint="multiply the learning rate by the factor the batch grew by.")


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
    """Optimizer steps in one epoch of 50,000 images with a global batch of 512 (incomplete batch dropped)."""
    return check(answer, EX5_N // EX5_GLOBAL, name="Exercise 5",
                 hint="one step per global batch, however many processes share it.")
