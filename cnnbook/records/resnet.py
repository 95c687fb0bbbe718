"""Chapter 7's record: degradation without shortcuts, and what the shortcuts buy, at a real budget."""
from __future__ import annotations

from functools import partial

from cnnbook.data import Splits, half_resolution
from cnnbook.models import cifar_resnet
from cnnbook.records.core import Arm, Record, register, shapes10_data, yardsticks

PAGE_RECIPE = dict(epochs=3, lr=0.2, optimizer="sgd", weight_decay=1e-4, batch_size=128, scheduler="cosine")
"""Chapter 7's live ResNet-20 (width 4) recipe: He et al.'s SGD, with a short cosine schedule."""
RECIPE = dict(epochs=12, lr=3e-3, scheduler="cosine")
"""The record's recipe for every network: Adam, batch 64, the data card's learning rate, 12 epochs."""


def shapes10_16px(quick: bool) -> dict[str, Splits]:
    """Shapes10's default split with every 2x2 square of pixels averaged (16x16), as chapter 7 trains on."""
    return shapes10_data(quick, transform=lambda s: Splits(*(half_resolution(p) for p in s)))


DEPTH = register(Record(
    name="resnet_depth",
    chapter="07_resnet",
    claim=("Without shortcuts a 56-layer network trains worse than a 20-layer one (degradation); with shortcuts the "
           "56-layer network trains at least as well as the 20-layer one, and the residual networks beat the small CNN "
           "on the test set."),
    data=shapes10_16px,
    data_note="Shapes10's default split (3,000 training, 500 validation, 1,000 test images) averaged to 16x16",
    arms=(
        Arm("ResNet-20 (width 4), the page's 3 epochs", partial(cifar_resnet, 20, width=4), PAGE_RECIPE, live=True),
        *yardsticks(12, (3, 16, 16)),
        *(Arm(f"{'plain' if plain else 'ResNet'}-{depth}, 12 epochs", partial(cifar_resnet, depth, plain=plain), RECIPE)
          for plain in (True, False) for depth in (20, 56)),
    ),
))
