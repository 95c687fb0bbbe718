"""Checkers for the exercises of the chapter "Training a CNN" (notebooks/06b_training.ipynb).

Each checker computes its expected answer with the package (PyTorch's initialisation arithmetic, the book's
``BatchNorm2d``, PyTorch's optimisers, ``mirror_mismatch``), out of the reader's sight.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from cnnbook.augment import mirror_mismatch
from cnnbook.batchnorm import BatchNorm2d
from cnnbook.data import SHAPES10_CLASSES
from cnnbook.exercises import check, check_letters, check_range, say

# Exercise 1: He's standard deviation for a 3x3 convolution 64 -> 128 followed by a ReLU (fan-in mode).
EX1_IN, EX1_OUT, EX1_KERNEL = 64, 128, 3


def he_std(in_channels: int, out_channels: int, kernel_size: int) -> float:
    """The standard deviation of He's normal initialisation (fan-in, ReLU) for a convolution, as PyTorch computes it."""
    weight = nn.Conv2d(in_channels, out_channels, kernel_size, device="meta").weight
    fan_in = nn.init._calculate_fan_in_and_fan_out(weight)[0]
    return nn.init.calculate_gain("relu") / fan_in ** 0.5


def ex1(answer: Any) -> bool:
    """He's sigma for Conv2d(64, 128, 3) followed by a ReLU."""
    return check(answer, he_std(EX1_IN, EX1_OUT, EX1_KERNEL), name="Exercise 1", rel_tol=1e-3,
                 hint="Var(w) = 2 / n_in, where n_in counts the inputs of one output: kernel height x width x input "
                      "channels. The output channels do not enter.")


# Exercise 2: the running estimates after one batch of four single-pixel values.
EX2_VALUES, EX2_MOMENTUM = (2.0, 4.0, 4.0, 6.0), 0.1


def ex2(answer: Any) -> bool:
    """(running_mean, running_var) of a fresh BatchNorm2d(1) after one training batch of EX2_VALUES."""
    bn = BatchNorm2d(1, momentum=EX2_MOMENTUM)
    bn(torch.tensor(EX2_VALUES).view(-1, 1, 1, 1))
    expected = (bn.running_mean.item(), bn.running_var.item())
    if answer is not None and isinstance(answer, (tuple, list)) and len(answer) == 2:
        biased = 0.9 * 1 + 0.1 * torch.tensor(EX2_VALUES).var(unbiased=False).item()
        if isinstance(answer[1], (int, float)) and abs(answer[1] - biased) < 1e-4:
            say("Exercise 2", "not quite: the running variance stores the unbiased variance (divided by n - 1).")
            return False
    return check(answer, expected, name="Exercise 2", rel_tol=1e-4,
                 hint="r <- (1 - momentum) * r + momentum * s for the mean and for the variance, starting from 0 and 1; "
                      "the variance estimate divides by n - 1.")


# Exercise 3: a weight with zero loss gradient under AdamW and under Adam's L2 decay.
EX3_LR, EX3_DECAY, EX3_STEPS = 1e-3, 0.05, 500
EX3_REL_TOL = 0.02


def decayed_value(optimizer: str, lr: float = EX3_LR, weight_decay: float = EX3_DECAY, steps: int = EX3_STEPS) -> float:
    """The value of a weight that starts at 1 and has zero loss gradient after ``steps`` steps of 'adam' or 'adamw'."""
    classes = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
    if optimizer not in classes:
        raise ValueError(f"optimizer must be 'adam' or 'adamw', got {optimizer!r}")
    weight = nn.Parameter(torch.ones(1))
    opt = classes[optimizer]([weight], lr=lr, weight_decay=weight_decay)
    for _ in range(steps):
        weight.grad = torch.zeros(1)
        opt.step()
    return weight.item()


def ex3(answer: Any) -> bool:
    """(AdamW's value, Adam-with-L2's value) of the weight after 500 steps, within 2%."""
    expected = (decayed_value("adamw"), decayed_value("adam"))
    if isinstance(answer, (tuple, list)) and len(answer) == 2 and all(isinstance(a, (int, float)) for a in answer):
        if abs(answer[0] - expected[1]) < 0.02 * expected[1] and abs(answer[1] - expected[0]) < 0.02 * expected[0]:
            say("Exercise 3", "the two values are swapped: the pair is (AdamW, Adam).")
            return False
    return check(answer, expected, name="Exercise 3", rel_tol=EX3_REL_TOL,
                 hint="AdamW multiplies by (1 - lr * decay) per step; Adam divides the decay term by its own size, "
                      "so its step is about lr.")


# Exercise 4 (conceptual): which transformations keep every Shapes10 label.
EX4_OPTIONS = {
    "a": "turning the image upside down (a vertical flip)",
    "b": "rotating the image by 90 degrees",
    "c": "transposing the image (swapping rows and columns)",
    "d": "shifting the image by two pixels (the border filled by repeating the edge)",
}
EX4_SAFE = frozenset({"b", "d"})  # (a) and (c) are mirror images: they turn an ell into a reversed L


def ex4(answer: Any) -> bool:
    """The set of letters of the label-preserving transformations."""
    if answer is None:
        return check(None, None, name="Exercise 4")
    chiral = [kind for kind in SHAPES10_CLASSES if mirror_mismatch(kind, steps=36)[0] > 0.2]
    hint = (f"a vertical flip equals a horizontal flip followed by a rotation by 180 degrees, and the transpose is "
            f"a mirror image too; which class has a mirror image that is not in the data ({', '.join(chiral)})?")
    return check_letters(answer, EX4_OPTIONS, EX4_SAFE, name="Exercise 4", hint=hint)


# Exercise 5 (experimental): the few-images experiment with label smoothing 0.1, seed 0.
EX5_RANGE = (0.18, 0.29)  # measured 0.233 (seed 0, 12 epochs), with a margin


def ex5(answer: Any) -> bool:
    """The reader's test accuracy of the small CNN trained with label smoothing on the 300 images, in the range."""
    return check_range(answer, *EX5_RANGE, name="Exercise 5", quantity="the test accuracy",
                       hint="run_seeds(name, lambda: small_cnn(10), few_splits, seeds=[0], epochs=12, lr=3e-3, "
                            "scheduler='cosine', loss_fn=nn.CrossEntropyLoss(label_smoothing=0.1)).")
