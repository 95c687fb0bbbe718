"""Checkers for the exercises of chapter 18, "Scaling out to many GPUs".

Each expected answer is computed here with PyTorch's own ``DistributedSampler``, the package's arithmetic
(``cnnbook.distributed``) or the chapter's network run in float64, out of the reader's sight.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
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


# Exercise 2 (conceptual): which ways of accumulating k micro-batches change the gradient the optimizer steps with.
EX2_OPTIONS = {
    "a": "micro-batches of unequal sizes (say 12, 4, 8 and 8 of 32 examples), each micro-batch's mean loss "
         "divided by k",
    "b": "gradient clipping: each micro-batch's gradient scaled down to norm c before the k of them are averaged, "
         "against the large batch's gradient scaled down to norm c (c below every one of these norms)",
    "c": "BatchNorm layers, in eval mode both ways (they normalize with their running statistics)",
    "d": "an L2 penalty (lambda / 2) * ||theta||^2 added to each micro-batch's loss and divided by k with it, "
         "against the penalty added once to the large batch's loss",
    "e": "class weights in the loss, F.cross_entropy(logits, labels, weight=w) with its default reduction='mean', "
         "each micro-batch's loss divided by k",
    "f": "reduction='sum' in the loss both ways, and the micro-batch losses not divided by k",
}
EX2_K, EX2_N, EX2_SIDE = 4, 32, 8  # micro-batches, examples in the large batch, their side in pixels
EX2_UNEQUAL = (12, 4, 8, 8)  # option a's micro-batch sizes
EX2_ROUNDING = 1e-9  # relative gap in float64 above which two gradients differ by more than rounding


def ex2_gaps() -> dict[str, float]:
    """For each option of exercise 2, |g_accumulated - g_large| / |g_large| on the chapter's network in float64.

    Both gradients start from the same weights and see the same 32 random 8x8 images and labels; each is
    what the optimizer would step with (after clipping, where an option clips). A gap near 1e-16 is rounding.
    """
    return dict(_ex2_gaps())


@functools.lru_cache(maxsize=1)
def _ex2_gaps() -> tuple[tuple[str, float], ...]:
    from cnnbook.ddp_train import build_model

    state, threads = torch.random.get_rng_state(), torch.get_num_threads()
    torch.set_num_threads(1)  # tiny float64 layers: threads only fight over the cores
    try:
        torch.manual_seed(0)
        nets = {kind: build_model(kind, image_size=EX2_SIDE).double() for kind in ("plain", "batchnorm")}
        images = torch.randn(EX2_N, 3, EX2_SIDE, EX2_SIDE, dtype=torch.float64)
        labels = torch.randint(0, 10, (EX2_N,))
        class_weights = torch.rand(10, dtype=torch.float64) + 0.5
        return tuple(_accumulation_gaps(nets, images, labels, class_weights))
    finally:
        torch.random.set_rng_state(state)
        torch.set_num_threads(threads)


def _accumulation_gaps(nets: dict, images: torch.Tensor, labels: torch.Tensor, class_weights: torch.Tensor):
    with torch.no_grad():  # running statistics that differ from the batch's: a few passes in training mode
        nets["batchnorm"].train()
        for _ in range(3):
            nets["batchnorm"](images[: EX2_N // 2])
    equal = (EX2_N // EX2_K,) * EX2_K
    k = EX2_K

    def mean_loss(out, y):
        return F.cross_entropy(out, y)

    def penalty(model):
        return 0.5 * 1e-2 * sum((p ** 2).sum() for p in model.parameters())

    # option: (network, eval mode, micro-batch sizes, large batch's loss, a micro-batch's loss, clip)
    cases = {
        "a": ("plain", False, EX2_UNEQUAL, lambda m, o, y: mean_loss(o, y), lambda m, o, y: mean_loss(o, y) / k, False),
        "b": ("plain", False, equal, lambda m, o, y: mean_loss(o, y), None, True),
        "c": ("batchnorm", True, equal, lambda m, o, y: mean_loss(o, y), lambda m, o, y: mean_loss(o, y) / k, False),
        "d": ("plain", False, equal, lambda m, o, y: mean_loss(o, y) + penalty(m),
              lambda m, o, y: (mean_loss(o, y) + penalty(m)) / k, False),
        "e": ("plain", False, equal, lambda m, o, y: F.cross_entropy(o, y, weight=class_weights),
              lambda m, o, y: F.cross_entropy(o, y, weight=class_weights) / k, False),
        "f": ("plain", False, equal, lambda m, o, y: F.cross_entropy(o, y, reduction="sum"),
              lambda m, o, y: F.cross_entropy(o, y, reduction="sum"), False),
    }
    def gradient(model, loss):
        return torch.cat([g.flatten() for g in torch.autograd.grad(loss, list(model.parameters()))])

    def clipped(g, c):
        return g * min(1.0, c / g.norm().item())

    for letter, (kind, evaluating, sizes, large_loss, micro_loss, clip) in cases.items():
        model = nets[kind].train(not evaluating)
        large = gradient(model, large_loss(model, model(images), labels))
        chunks = list(zip(images.split(list(sizes)), labels.split(list(sizes))))
        if clip:  # every gradient scaled down to half the smallest norm among them, then averaged
            micro = [gradient(model, mean_loss(model(x), y)) for x, y in chunks]
            c = 0.5 * min(g.norm().item() for g in [large] + micro)
            large, accumulated = clipped(large, c), sum(clipped(g, c) for g in micro) / k
        else:  # accumulated in .grad by one backward pass per micro-batch, as a training loop does
            model.zero_grad()
            for x, y in chunks:
                micro_loss(model, model(x), y).backward()
            accumulated = torch.cat([p.grad.flatten() for p in model.parameters()])
            model.zero_grad()
        yield letter, ((accumulated - large).norm() / large.norm()).item()


def ex2(answer: Any) -> bool:
    """The letters of the options under which k accumulated micro-batches step with another gradient than one
    batch k times larger (computed by :func:`ex2_gaps`)."""
    if answer is None:
        return check(None, None, name="Exercise 2")
    changes = {letter for letter, gap in ex2_gaps().items() if gap > EX2_ROUNDING}
    return check_letters(answer, EX2_OPTIONS, changes, name="Exercise 2",
                         hint="write each gradient as a weighted sum of the examples' gradients: does every example "
                              "keep the weight it has in the large batch, and is anything applied to a partial sum "
                              "that is not linear?")


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
