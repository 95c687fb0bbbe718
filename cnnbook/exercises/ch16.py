"""Checkers for the exercises of chapter 16, "Comparing architectures".

Each expected answer is computed here from ``cnnbook.zoo`` (networks built on the meta device, counted with
``cnnbook.profile``, torchvision's top-1 read from its weights' metadata), out of the reader's sight. The
experimental exercise times networks on the reader's machine, so its checker accepts a range instead.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any

from cnnbook import zoo
from cnnbook.exercises import check, check_function, check_letters, check_range, say

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


def _ex5_timings(timings: Any) -> dict[str, zoo.Timing] | None:
    """The batch-1 Timing of each of EX5_NAMES at EX5_SIDE, from the list zoo.measure returned (None if not there)."""
    found = {}
    for t in timings:
        if t.name in EX5_NAMES and t.batch_size == 1:
            if t.name in found:
                return None
            found[t.name] = t
    macs = {n: zoo.count(n, (3, EX5_SIDE, EX5_SIDE))[1] for n in EX5_NAMES}
    if sorted(found) != sorted(EX5_NAMES) or any(t.resolution != EX5_SIDE or t.macs != macs[n] or
                                                 not 0 < t.ms < float("inf") for n, t in found.items()):
        return None
    return found


def ex5(timings: Any) -> bool:
    """The reader's zoo.measure results: MobileNetV3-Small and ResNet-50 at 160x160, batch 1; their latency ratio in
    a range."""
    name = "Exercise 5"
    if timings is None:
        return check(None, None, name=name)
    if not isinstance(timings, (list, tuple)) or not timings or not all(isinstance(t, zoo.Timing) for t in timings):
        say(name, "give the list of Timing results that zoo.measure returns, got {got}.", got=repr(timings)[:120])
        return False
    found = _ex5_timings(timings)
    if found is None:
        shown = [(t.name, t.resolution, t.batch_size) for t in timings]
        say(name, "the list needs one Timing of each of {names} at batch 1 and {size}, measured by zoo.measure; "
                  "got (name, resolution, batch) {got}.", names=list(EX5_NAMES), size=f"{EX5_SIDE}x{EX5_SIDE}",
            got=shown)
        return False
    fraction = found["mobilenet_v3_small"].ms / found["resnet50"].ms
    return check_range(fraction, EX5_LOW, EX5_HIGH, name=name,
                       quantity="MobileNetV3-Small's latency over ResNet-50's", source="measurement on a CPU",
                       hint="time both on one CPU thread (threads=1), with warmup=2 and repeats=10; on a GPU both "
                            "are dominated by fixed costs and the ratio says little.")


# Exercise 6: from the reader's fit t(b) = f + b w of both networks at 112x112 (the section on where the time goes),
# the batch at which the fraction t_small(b) / t_large(b) has come 90% of the way down to its limit w_small / w_large.
EX6_NAMES = ("mobilenet_v3_small", "resnet50")
EX6_SHARE = 0.9


def _ex6_fit(fit: Any) -> dict[str, tuple[float, float]] | None:
    """(f, w) of each of EX6_NAMES from a mapping name -> (f, w) or name -> {"f": f, "w": w, ...}; None if not."""
    if not isinstance(fit, Mapping):
        return None
    out = {}
    for name in EX6_NAMES:
        value = fit.get(name)
        if isinstance(value, Mapping):
            value = (value.get("f"), value.get("w"))
        if not isinstance(value, (tuple, list)) or len(value) != 2 or not all(
                isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) for v in value):
            return None
        out[name] = (float(value[0]), float(value[1]))
    return out


def ex6_batch(fit: Any) -> int | None:
    """The smallest batch b at which (f_s + b w_s) / (f_l + b w_l) has fallen by EX6_SHARE of the way from its value
    at b = 1 to its limit w_s / w_l, from the fit (None when the fraction does not fall to a positive limit)."""
    values = _ex6_fit(fit)
    if values is None:
        return None
    (f_s, w_s), (f_l, w_l) = values["mobilenet_v3_small"], values["resnet50"]
    if min(w_s, w_l, f_s + w_s, f_l + w_l) <= 0:
        return None

    def fraction(b):
        return (f_s + b * w_s) / (f_l + b * w_l)

    limit, start = w_s / w_l, fraction(1)
    if start <= limit:
        return None
    target = start - EX6_SHARE * (start - limit)
    low, high = 1, 2  # the fraction falls steadily with b: double the batch until it is low enough, then bisect
    while fraction(high) > target:
        low, high = high, 2 * high
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fraction(middle) > target else (low, middle)
    return high


def ex6(answer: Any, fit: Any = None) -> bool:
    """The batch of :func:`ex6_batch`, computed from the reader's own fit (``split`` of the chapter)."""
    name = "Exercise 6"
    if answer is None:
        return check(None, None, name=name)
    if _ex6_fit(fit) is None:
        say(name, "pass your fit as the second argument, as in {example}, got {got}.",
            example="ch16.ex6(answer, split)", got=repr(fit)[:120])
        return False
    expected = ex6_batch(fit)
    if expected is None:
        say(name, "with this fit the fraction does not fall towards a positive limit as the batch grows (it needs "
                  "w > 0 and f + w > 0 for both networks, and a batch-1 fraction above w_small / w_large); time "
                  "the networks again.")
        return False
    if isinstance(answer, bool) or not isinstance(answer, numbers.Integral) and not (
            isinstance(answer, float) and answer.is_integer()):
        say(name, "give a whole number of images, got {got}.", got=repr(answer))
        return False
    return check(int(answer), expected, name=name,
                 hint="write the fraction minus its limit as one fraction and see which part of it depends on b; "
                      "or step b up one at a time.")
