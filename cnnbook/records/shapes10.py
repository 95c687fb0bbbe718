"""Chapter 0's record: does depth pay on Shapes10, or only compute?"""
from __future__ import annotations

from functools import partial

from cnnbook.models import cifar_resnet, small_cnn
from cnnbook.records.core import Arm, Record, register, shapes10_data, yardsticks

CARD_RECIPE = dict(epochs=6, lr=3e-3, scheduler="cosine")
"""The data card's small-CNN recipe (Adam, batch 64), as its live cell runs it."""
LONG = dict(CARD_RECIPE, epochs=12)
WIDE_WIDTHS = (58, 116, 232, 232)
"""The small CNN's four blocks widened until it does as many multiply-accumulates per image as ResNet-20."""

DEPTH = register(Record(
    name="shapes10_depth",
    chapter="00_shapes10",
    claim=("With the data card's recipe at 12 epochs, ResNet-20 beats both the small CNN and the same four-block CNN "
           "widened to ResNet-20's multiply-accumulates: on Shapes10, depth pays and not only compute."),
    data=shapes10_data,
    data_note="Shapes10's default split: 3,000 training, 500 validation, 1,000 test images at 32x32",
    arms=(
        Arm("small CNN, the data card's 6 epochs", partial(small_cnn, 10), CARD_RECIPE, live=True),
        *yardsticks(12),
        Arm("wide CNN " + "-".join(map(str, WIDE_WIDTHS)) + ", 12 epochs", partial(small_cnn, 10, widths=WIDE_WIDTHS), LONG),
        Arm("ResNet-20, 12 epochs", partial(cifar_resnet, 20), LONG),
    ),
))
