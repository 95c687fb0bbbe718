"""Checkers for the exercises of chapter 16, "Comparing architectures".

Each expected answer is computed here from ``cnnbook.zoo`` (networks built on the meta device, counted with
``cnnbook.profile``, torchvision's top-1 read from its weights' metadata), out of the reader's sight.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cnnbook import zoo
from cnnbook.exercises import check, check_function

# Exercise 2: the candidates whose accuracy-vs-MACs front the reader finds.
EX2_NAMES = ("alexnet", "vgg16", "resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_large", "efficientnet_b0",
             "convnext_tiny")
# Exercise 4: ResNet-50's MACs at this side, as a fraction of those at 224.
EX4_SIDE = 112


def ex1(answer: Any) -> bool:
    """Billions of floating-point operations (not MACs) of one ResNet-50 forward pass at 224x224."""
    expected = 2 * zoo.count("resnet50")[1] / 1e9
    return check(answer, expected, name="Exercise 1", rel_tol=1e-3,
                 hint="torchvision's 4.089 'GFLOPS' are G MACs; one MAC is a multiplication and an addition.")


def ex2(answer: Any) -> bool:
    """The names among EX2_NAMES on the Pareto front of torchvision top-1 vs MACs, in any order."""
    rows = zoo.table(EX2_NAMES)
    front = zoo.pareto_front([r.macs for r in rows], [r.top1 for r in rows])
    expected = sorted(rows[i].name for i in front)
    given = sorted(answer) if isinstance(answer, (list, tuple, set)) else answer
    return check(given, expected, name="Exercise 2",
                 hint="a network is on the front when no other has both fewer (or equal) MACs and a higher top-1.")


def _reference_front(costs: list, scores: list) -> list:
    return sorted(zoo.pareto_front(costs, scores))


EX3_CASES = [([1, 2, 3, 4], [50, 40, 70, 70]), ([5.0], [1.0]), ([3, 1, 2], [1, 2, 3]), ([1, 2, 3], [3, 2, 1]),
             ([4, 3, 2, 1], [4, 3, 2, 1]), ([0.4, 4.1, 0.3, 17.6, 1.8], [77.7, 80.9, 75.3, 81.1, 69.8])]


def ex3(fn: Callable | None) -> bool:
    """The reader's ``pareto(costs, scores)`` (sorted indices of the front) against the package's."""
    if fn is None:
        return check_function(fn, _reference_front, EX3_CASES, name="Exercise 3")
    return check_function(lambda c, s: sorted(fn(c, s)), _reference_front, EX3_CASES, name="Exercise 3")


def ex4(answer: Any) -> bool:
    """ResNet-50's MACs at 112x112 as a fraction of its MACs at 224x224 (to within 0.1%)."""
    expected = zoo.count("resnet50", (3, EX4_SIDE, EX4_SIDE))[1] / zoo.count("resnet50")[1]
    return check(answer, expected, name="Exercise 4", rel_tol=1e-3,
                 hint="not exactly a quarter: count it with cnnbook.zoo.count, then look at the feature-map sides "
                      "(a stride-2 layer on a side of 7 gives 4, not 3.5).")
