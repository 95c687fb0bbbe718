"""Checkers for the exercises of chapter 16, "Comparing architectures".

Each expected answer is computed here from ``cnnbook.zoo`` (networks built on the meta device, counted with
``cnnbook.profile``, torchvision's top-1 read from its weights' metadata), out of the reader's sight. The
experimental exercise times networks on the reader's machine, so its checker accepts a range instead.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cnnbook import zoo
from cnnbook.exercises import check, check_function, check_letters, check_range

# Exercise 1: the candidates whose accuracy-vs-MACs front the reader finds.
EX1_NAMES = ("alexnet", "vgg16", "resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_large", "efficientnet_b0",
             "convnext_tiny")


def ex1(answer: Any) -> bool:
    """The names among EX1_NAMES on the Pareto front of torchvision top-1 vs MACs, in any order."""
    rows = zoo.table(EX1_NAMES)
    front = zoo.pareto_front([r.macs for r in rows], [r.top1 for r in rows])
    expected = sorted(rows[i].name for i in front)
    given = sorted(answer) if isinstance(answer, (list, tuple, set)) else answer
    return check(given, expected, name="Exercise 1",
                 hint="a network is on the front when no other has both fewer (or equal) MACs and a higher top-1.")


def _reference_front(costs: list, scores: list) -> list:
    return sorted(zoo.pareto_front(costs, scores))


EX2_CASES = [([1, 2, 3, 4], [50, 40, 70, 70]), ([5.0], [1.0]), ([3, 1, 2], [1, 2, 3]), ([1, 2, 3], [3, 2, 1]),
             ([4, 3, 2, 1], [4, 3, 2, 1]), ([0.4, 4.1, 0.3, 17.6, 1.8], [77.7, 80.9, 75.3, 81.1, 69.8])]


def ex2(fn: Callable | None) -> bool:
    """The reader's ``pareto(costs, scores)`` (sorted indices of the front) against the package's."""
    if fn is None:
        return check_function(fn, _reference_front, EX2_CASES, name="Exercise 2")
    return check_function(lambda c, s: sorted(fn(c, s)), _reference_front, EX2_CASES, name="Exercise 2")


# Exercise 3: ResNet-50's MACs at this side, as a fraction of those at 224.
EX3_SIDE = 176


def ex3(answer: Any) -> bool:
    """ResNet-50's MACs at 176x176 as a fraction of its MACs at 224x224 (to within 0.1%)."""
    expected = zoo.count("resnet50", (3, EX3_SIDE, EX3_SIDE))[1] / zoo.count("resnet50")[1]
    return check(answer, expected, name="Exercise 3", rel_tol=1e-3,
                 hint="count both with cnnbook.zoo.count(name, (3, side, side)) and divide.")


# Exercise 4 (conceptual): what makes the fraction of exercise 3 larger than (176 / 224) ** 2.
EX4_OPTIONS = {
    "a": "the last stage (layer4) runs on 6x6 maps, where a side of 176 / 32 = 5.5 would be needed",
    "b": "the classifier's MACs do not shrink with the image",
    "c": "the stem's 7x7 convolution pads the image border, which costs relatively more on a small image",
    "d": "BatchNorm layers cost the same whatever the size of their maps",
}
EX4_MOST = frozenset({"a"})  # layer4 carries 99% of the excess; the classifier's 2 M MACs are the rest


def ex4(answer: Any) -> bool:
    """The one letter among EX4_OPTIONS that accounts for most of the excess over the quadratic scaling."""
    return check_letters(answer, EX4_OPTIONS, EX4_MOST, name="Exercise 4",
                         hint="count the MACs of each top-level part (conv1, layer1..layer4, fc) at both sizes, e.g. "
                              "with torch.utils.flop_counter.FlopCounterMode's get_flop_counts(), and compare each "
                              "with (176 / 224) ** 2 of its count at 224. The counter counts no MACs for padding "
                              "nor for BatchNorm.")


# Exercise 5 (experimental): latency of MobileNetV3-Small over that of ResNet-50, batch 1, 160x160, one CPU thread.
EX5_SIDE = 160
EX5_NAMES = ("mobilenet_v3_small", "resnet50")
EX5_LOW, EX5_HIGH = 0.03, 0.5  # measured 0.073-0.096 on a loaded 2-core machine; MACs predict 0.014


def ex5_mac_ratio() -> float:
    """What MACs alone predict for exercise 5: MobileNetV3-Small's MACs over ResNet-50's at 160x160."""
    small, large = (zoo.count(n, (3, EX5_SIDE, EX5_SIDE))[1] for n in EX5_NAMES)
    return small / large


def ex5(answer: Any) -> bool:
    """Measured batch-1 latency of MobileNetV3-Small over ResNet-50's at 160x160 on one CPU thread, in a range."""
    return check_range(answer, EX5_LOW, EX5_HIGH, name="Exercise 5",
                       quantity="MobileNetV3-Small's latency over ResNet-50's", source="measurement on a CPU",
                       hint="zoo.measure([\"mobilenet_v3_small\", \"resnet50\"], resolution=160, batch_sizes=(1,), "
                            "warmup=2, repeats=10, threads=1), then divide the first ms by the second; on a GPU "
                            "both are dominated by fixed costs and the ratio says little.")


# Exercise 6 (conceptual): a prediction of exercise 5's fraction at a large batch.
EX6_BATCH = 32
EX6_OPTIONS = {
    "a": "closer to what MACs predict: what a pass pays once, whatever the batch, is a larger share of "
         "MobileNetV3-Small's batch-1 time than of ResNet-50's",
    "b": "about the same: both networks' time grows in proportion to the batch",
    "c": "further from what MACs predict: MobileNetV3-Small reads its weights once per image, ResNet-50 once per pass",
}
EX6_RIGHT = frozenset({"a"})


def ex6(answer: Any) -> bool:
    """The letter among EX6_OPTIONS that predicts exercise 5's fraction at batch EX6_BATCH."""
    return check_letters(answer, EX6_OPTIONS, EX6_RIGHT, name="Exercise 6",
                         hint="write each network's time as t(b) = f + b w, as in the section on where the time "
                              "goes, and follow (f_small + b w_small) / (f_large + b w_large) as b grows.")
