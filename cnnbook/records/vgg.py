"""Chapter 5's record: what depth buys a VGG on Shapes10, and two stacked 3x3 convolutions against one 5x5."""
from __future__ import annotations

from functools import partial

from torch import nn

from cnnbook.models.vgg import VGG, vgg
from cnnbook.records.core import Arm, Record, register, shapes10_data, yardsticks

B5 = [(64, 5), "M", (128, 5), "M", (256, 5), "M", (512, 5), "M", (512, 5), "M"]
"""Configuration B with each pair of 3x3 convolutions replaced by one 5x5 (the same receptive field)."""
PAGE_WIDTH = 1 / 16
"""Chapter 5's live small VGGs: a sixteenth of VGG's channels."""
WIDTH = 1 / 4
"""The record's VGGs: a quarter of VGG's channels (16 to 128)."""
PAGE_RECIPE = dict(epochs=2, lr=3e-3, scheduler="cosine")
"""Chapter 5's live 3x3-against-5x5 run: Adam, batch 64, two epochs of a cosine schedule."""
EPOCHS = 8
RECIPE = dict(epochs=EPOCHS, lr=1e-3, scheduler="cosine")
"""The record's recipe for every VGG at width 1/4: Adam, batch 64, lr 1e-3, cosine, 8 epochs (the CPU budget's limit).

The other records' learning rate, 3e-3, left VGG-16-BN at this width with a training loss near 1 after 8 epochs
on seeds 0-2 (test accuracy 0.47-0.51), while VGG-11-BN at 1e-3 fitted its training images; hence 1e-3.
"""


def default_head(model: VGG) -> VGG:
    """Re-draw the classifier's linear layers with PyTorch's default initialisation (in place)."""
    for m in model.classifier.modules():
        if isinstance(m, nn.Linear):
            m.reset_parameters()
    return model


def small_vgg(cfg, width: float = PAGE_WIDTH, batch_norm: bool = True) -> VGG:
    """A small-input VGG for Shapes10: ``width`` of the channels, no dropout, BatchNorm and the default head."""
    return default_head(vgg(cfg, batch_norm=batch_norm, width=width, small_input=True, num_classes=10, dropout=0.0))


DEPTH = register(Record(
    name="vgg_depth",
    chapter="05_vgg",
    claim=("Deeper VGG configurations (B with 13 weight layers, D with 16) beat A (11) on Shapes10 at a quarter of VGG's "
           "width, and B's pairs of 3x3 convolutions beat the same network with one 5x5 per block (the same receptive "
           "field), as Simonyan and Zisserman found on ImageNet."),
    data=shapes10_data,
    data_note="Shapes10's default split: 3,000 training, 500 validation, 1,000 test images at 32x32",
    arms=(
        Arm("B, two 3x3 per block (width 1/16), the page's 2 epochs", partial(small_vgg, "B"), PAGE_RECIPE, live=True),
        Arm("B, one 5x5 per block (width 1/16), the page's 2 epochs", partial(small_vgg, B5), PAGE_RECIPE, live=True),
        *yardsticks(EPOCHS),
        Arm(f"VGG-11-BN (A, width 1/4), {EPOCHS} epochs", partial(small_vgg, "A", WIDTH), RECIPE),
        Arm(f"VGG-13-BN (B, width 1/4), {EPOCHS} epochs", partial(small_vgg, "B", WIDTH), RECIPE),
        Arm(f"VGG-16-BN (D, width 1/4), {EPOCHS} epochs", partial(small_vgg, "D", WIDTH), RECIPE),
        Arm(f"B with one 5x5 per block (width 1/4), {EPOCHS} epochs", partial(small_vgg, B5, WIDTH), RECIPE),
    ),
))
