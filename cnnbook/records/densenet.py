"""Chapter 8's records: a DenseNet-BC (``densenet_resnet``) against ResNets of its parameters and of its compute
(``densenet_rivals``), blocks at 32/16/8 px; two records, each inside a record's budget, that share their yardsticks."""
from __future__ import annotations

from functools import partial

from torch import nn

from cnnbook.models.densenet import DenseBlock, DenseNet, reuse_map
from cnnbook.models.resnet import BasicBlock, ResNet
from cnnbook.records.core import Arm, Record, register, shapes10_data, yardsticks

PAGE_RECIPE = dict(epochs=3, lr=3e-3, scheduler="cosine")
"""Chapter 8's live comparison: Adam, batch 64, three epochs of a cosine schedule."""
EPOCHS = 15
RECIPE = dict(epochs=EPOCHS, lr=3e-3, scheduler="cosine")
"""The record's recipe for every network: Adam, batch 64, lr 3e-3 annealed along a cosine, 15 epochs."""
MAC_WIDTH = 14
"""The ResNet-14 width whose multiply-adds (20.3 M) match the CIFAR-stem DenseNet's (19.6 M)."""


def small_densenet(small_input: bool = False) -> DenseNet:
    """DenseNet-BC-28: three blocks of four layers, k = 8, a 16-channel stem; the CIFAR stem if ``small_input``."""
    return DenseNet(growth_rate=8, block_config=(4, 4, 4), num_init_features=16, num_classes=10,
                    small_input=small_input)


def small_resnet(width: int = 8, small_input: bool = False) -> ResNet:
    """ResNet-14: three stages of two basic blocks, parameter-free shortcuts; the CIFAR stem if ``small_input``."""
    return ResNet(BasicBlock, [2, 2, 2], num_classes=10, width=width, shortcut="pad", small_input=small_input)


def reuse_maps(model: nn.Module) -> list[list[list[float]]]:
    """Every dense block's :func:`reuse_map`, its lower triangle as rows of rounded floats (JSON-ready)."""
    blocks = [m for m in model.modules() if isinstance(m, DenseBlock)]
    return [[[round(float(v), 6) for v in grid[row, : row + 1]] for row in range(len(grid))]
            for grid in map(reuse_map, blocks)]


DATA_NOTE = "Shapes10's default split: 3,000 training, 500 validation, 1,000 test images at 32x32"

DENSE = register(Record(
    name="densenet_resnet",
    chapter="08_densenet",
    claim=("With the CIFAR stem, so that its blocks work on 32x32, 16x16 and 8x8 maps, a DenseNet-BC beats a ResNet "
           "of the same number of parameters on Shapes10 after 15 epochs, as Huang et al. found on CIFAR, and also "
           "a ResNet widened to the DenseNet's multiply-adds (both ResNets in the record densenet_rivals)."),
    data=shapes10_data,
    data_note=DATA_NOTE,
    arms=(
        Arm("DenseNet-BC-28 (k=8, ImageNet stem), the page's 3 epochs", small_densenet, PAGE_RECIPE, live=True),
        *yardsticks(EPOCHS),
        Arm(f"DenseNet-BC-28 (k=8, CIFAR stem), {EPOCHS} epochs", partial(small_densenet, True), RECIPE,
            probe=reuse_maps),
    ),
))

RIVALS = register(Record(
    name="densenet_rivals",
    chapter="08_densenet",
    claim=("The two ResNet-14s with the CIFAR stem that the record densenet_resnet's DenseNet-BC is compared with, "
           "trained with the same recipe on the same images: one with the DenseNet's parameters (width 8), one with "
           f"its multiply-adds (width {MAC_WIDTH}); their yardsticks are densenet_resnet's."),
    data=shapes10_data,
    data_note=DATA_NOTE,
    arms=(
        Arm("ResNet-14 (width 8, ImageNet stem), the page's 3 epochs", small_resnet, PAGE_RECIPE, live=True),
        Arm(f"ResNet-14 (width 8, CIFAR stem; equal parameters), {EPOCHS} epochs", partial(small_resnet, 8, True),
            RECIPE),
        Arm(f"ResNet-14 (width {MAC_WIDTH}, CIFAR stem; equal MACs), {EPOCHS} epochs",
            partial(small_resnet, MAC_WIDTH, True), RECIPE),
    ),
    yardsticks_from="densenet_resnet",
))
