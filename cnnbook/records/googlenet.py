"""Chapter 6's record: 1x1 reductions against naive Inception modules at equal compute, and the auxiliary heads."""
from __future__ import annotations

from functools import partial

from cnnbook.models.googlenet import googlenet, inception_stack
from cnnbook.records.core import Arm, Record, register, shapes10_data, yardsticks

REDUCED_WIDTH, NAIVE_WIDTH = 0.25, 0.1
"""Module widths (times the paper's Table 1) at which the reduced and the naive stack cost the same MACs."""
PAGE_RECIPE = dict(epochs=1, lr=3e-3, batch_size=32, scheduler="cosine")
"""Chapter 6's live ablation: Adam, batches of 32, one epoch of a cosine schedule."""
EPOCHS = 12
RECIPE = dict(epochs=EPOCHS, lr=3e-3, scheduler="cosine")
"""The record's recipe for every network: Adam, batch 64, lr 3e-3 annealed along a cosine, 12 epochs."""
GOOGLENET_WIDTH = 0.25
"""The whole small GoogLeNet (nine modules, small-input stem) at a quarter of the paper's widths."""


def small_googlenet(aux_logits: bool):
    """The whole GoogLeNet for 32x32 images at a quarter width, with or without its two auxiliary heads."""
    return googlenet(small_input=True, width=GOOGLENET_WIDTH, num_classes=10, aux_logits=aux_logits)


REDUCTION = register(Record(
    name="googlenet_reduction",
    chapter="06_googlenet",
    claim=("At equal multiply-adds, Inception modules with 1x1 reductions (and so more filters) beat naive modules "
           "without them on Shapes10 once both are trained for 12 epochs with their modules at 16x16 and 8x8, and "
           "GoogLeNet's auxiliary classifiers raise the test accuracy of the whole network, as Szegedy et al. argued."),
    data=shapes10_data,
    data_note="Shapes10's default split: 3,000 training, 500 validation, 1,000 test images at 32x32",
    arms=(
        Arm("reduced stack (width 1/4, modules at 8x8), the page's 1 epoch", partial(inception_stack, REDUCED_WIDTH),
            PAGE_RECIPE, live=True),
        Arm("naive stack (width 1/10, modules at 8x8), the page's 1 epoch",
            partial(inception_stack, NAIVE_WIDTH, naive=True), PAGE_RECIPE, live=True),
        *yardsticks(EPOCHS),
        Arm(f"reduced stack (width 1/4, modules at 16x16), {EPOCHS} epochs",
            partial(inception_stack, REDUCED_WIDTH, stem_stride=1), RECIPE),
        Arm(f"naive stack (width 1/10, modules at 16x16), {EPOCHS} epochs",
            partial(inception_stack, NAIVE_WIDTH, naive=True, stem_stride=1), RECIPE),
        Arm(f"GoogLeNet (width 1/4) with auxiliary heads, {EPOCHS} epochs", partial(small_googlenet, True), RECIPE),
        Arm(f"GoogLeNet (width 1/4) without auxiliary heads, {EPOCHS} epochs", partial(small_googlenet, False),
            RECIPE),
    ),
))
