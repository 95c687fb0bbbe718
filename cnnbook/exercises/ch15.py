"""Checkers for the exercises of chapter 15, "Transfer learning".

Each expected answer is computed here from the package's own network and helpers (on the meta device where
only shapes matter), out of the reader's sight.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from cnnbook.exercises import check, check_function
from cnnbook.models.efficientnet import efficientnet_lite0
from cnnbook.transfer import freeze_stages, replace_head, trainable_ratio

# Exercise 1: Lite0 with an 8-class head, the last two entries of `features` and the head trainable.
EX1_CLASSES, EX1_STAGES = 8, 2
# Exercise 2: a new linear head on Lite0's 1280 features for the 37 Oxford-IIIT Pet classes.
EX2_FEATURES, EX2_CLASSES = 1280, 37


def ex1(answer: Any) -> bool:
    """Trainable fraction of Lite0's parameters with its last two stages and an 8-class head unfrozen."""
    with torch.device("meta"):
        model = freeze_stages(replace_head(efficientnet_lite0(), EX1_CLASSES), EX1_STAGES)
    return check(answer, trainable_ratio(model), name="Exercise 1", rel_tol=1e-3,
                 hint="count_params(model, trainable_only=True) / count_params(model) after replace_head and "
                      "freeze_stages(model, 2); the last two entries are stage 7 and the 1x1 head convolution.")


def ex2(answer: Any) -> bool:
    """Parameters of a Linear(1280, 37) head."""
    return check(answer, EX2_FEATURES * EX2_CLASSES + EX2_CLASSES, name="Exercise 2",
                 hint="a weight per (feature, class) pair, plus one bias per class.")


def _k_per_class(labels, k):
    labels = torch.as_tensor(labels)
    chosen = []
    for c in torch.unique(labels).tolist():
        members = torch.nonzero(labels == c).flatten()
        if len(members) < k:
            raise ValueError(f"class {c} has {len(members)} examples, fewer than k={k}")
        chosen.append(members[:k])
    return torch.cat(chosen)


EX3_CASES = [
    (torch.tensor([0, 1, 0, 2, 1, 2, 0]), 1),
    (torch.tensor([2, 2, 1, 0, 0, 1, 1, 2, 0]), 2),
    (torch.tensor([3, 1, 3, 1, 3]), 2),
    (torch.arange(12) % 4, 3),
]


def ex3(fn: Callable | None) -> bool:
    """The reader's ``k_per_class(labels, k)`` against the package's; it must also refuse a k too large."""
    if not check_function(fn, _k_per_class, EX3_CASES, name="Exercise 3"):
        return False
    try:
        fn(torch.tensor([0, 0, 1]), 2)
    except ValueError:
        return True
    print("Exercise 3: not yet right: k_per_class([0, 0, 1], 2) should raise ValueError (class 1 has one example)")
    return False
