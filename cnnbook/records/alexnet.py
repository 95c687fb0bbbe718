"""Chapter 4's records: ReLU against tanh at each unit's best learning rate, and dropout where it should pay."""
from __future__ import annotations

from collections.abc import Callable
from functools import partial

from torch import nn

from cnnbook.data import Splits, subset
from cnnbook.models.alexnet import alexnet, four_layer_cnn, init_weights
from cnnbook.records.core import Arm, Record, register, shapes10_data, yardsticks

# ------------------------------------------------------------------------------------------------
# ReLU against tanh (the paper's Figure 1)

UNITS = {"relu": ("ReLU", "he", "He"), "tanh": ("tanh", "xavier", "Glorot")}
"""Per unit: its name on the page, its initialisation (``init_weights``) and that initialisation's name."""
WIDTHS = (16, 16, 32)
"""Half the channels of the paper's Figure 1 network (32, 32, 64), so that five seeds of six rates fit the budget."""
EPOCHS = 15
LRS = {"relu": (0.003, 0.01, 0.03), "tanh": (0.01, 0.03, 0.1)}
"""Each unit's grid of learning rates: three steps of about 3x around its best rate in a one-seed trial run."""
SPEED_RECIPE = dict(optimizer="sgd", batch_size=64)
"""SGD with momentum 0.9, a constant learning rate and no regularisation, as in the paper's Figure 1."""
LIVE_LR, LIVE_EPOCHS = 0.01, 2
"""The page's live run: both units at the rate their grids share, for the first two epochs."""


def speed_net(unit: str) -> Callable[[], nn.Sequential]:
    """The builder of the four-layer CNN with ``unit`` ('relu' or 'tanh') and that unit's initialisation."""
    return partial(four_layer_cnn, unit, UNITS[unit][1], widths=WIDTHS)


def speed_arm_name(unit: str, lr: float, epochs: int = EPOCHS) -> str:
    """The record's name for the arm of ``unit`` at learning rate ``lr`` ('ReLU (He), lr 0.01, 15 epochs')."""
    name, _, init = UNITS[unit]
    return f"{name} ({init}), lr {lr}, " + (f"{epochs} epochs" if epochs == EPOCHS else f"the page's {epochs} epochs")


RELU_TANH = register(Record(
    name="relu_tanh",
    chapter="04_alexnet",
    claim=("With He initialisation for ReLU and Glorot's for tanh, each unit at the learning rate of its grid with "
           "the best validation accuracy, the four-layer CNN of the paper's Figure 1 reaches a given training error on "
           "Shapes10 in fewer epochs with ReLU than with tanh, as it reached 25% six times faster on CIFAR-10 in the "
           "paper."),
    data=shapes10_data,
    data_note=("Shapes10's default split (3,000 training, 500 validation, 1,000 test images at 32x32); the four-layer "
               "CNNs, the linear model and the MLP see it standardised per channel, the small CNN as is"),
    arms=(
        *(Arm(speed_arm_name(u, LIVE_LR, LIVE_EPOCHS), speed_net(u), dict(SPEED_RECIPE, epochs=LIVE_EPOCHS, lr=LIVE_LR),
              data="std", live=True) for u in UNITS),
        *yardsticks(12),
        *(Arm(speed_arm_name(u, lr), speed_net(u), dict(SPEED_RECIPE, epochs=EPOCHS, lr=lr), data="std")
          for u in UNITS for lr in LRS[u]),
    ),
))


# ------------------------------------------------------------------------------------------------
# Dropout where it should pay: few images, many epochs

SMALL_ALEXNET = dict(num_classes=10, small_input=True, width=0.25)
"""The chapter's small AlexNet: 3x3 stem, padded pools (32 -> 16 -> 8 -> 4), a quarter of the channels and units."""
FEW_IMAGES = 500
DROPOUT_EPOCHS, DROPOUT_LIVE_EPOCHS = 60, 8
DROPOUT_RECIPE = dict(lr=1e-3, scheduler="cosine")
"""Adam, batches of 64, the learning rate annealed along a cosine over the run."""


def small_alexnet(dropout: float = 0.5) -> nn.Module:
    """The small AlexNet with He initialisation (which its eight ReLU layers need) and dropout ``dropout``."""
    return init_weights(alexnet(dropout=dropout, **SMALL_ALEXNET), "he")


def few_images(quick: bool) -> dict[str, Splits]:
    """Shapes10 with a seeded subset of 500 training images (fewer when ``quick``), as is and standardised."""
    return shapes10_data(quick, transform=lambda s: Splits(subset(s.train, min(FEW_IMAGES, len(s.train)), seed=0),
                                                           s.val, s.test))


def dropout_arm_name(p: float, epochs: int = DROPOUT_EPOCHS) -> str:
    """The record's name for the small AlexNet with dropout ``p`` ('small AlexNet, no dropout, 60 epochs')."""
    return (f"small AlexNet, {'dropout ' + str(p) if p else 'no dropout'}, "
            + (f"{epochs} epochs" if epochs == DROPOUT_EPOCHS else f"the page's {epochs} epochs"))


DROPOUT = register(Record(
    name="alexnet_dropout",
    chapter="04_alexnet",
    claim=("Trained on 500 Shapes10 images for 60 epochs, where the quarter-width AlexNet overfits, dropout 0.5 in "
           "its first two fully connected layers reduces the overfitting and raises its test accuracy."),
    data=few_images,
    data_note=("Shapes10 with a seeded subset of 500 of its 3,000 training images (subset seed 0) and the default "
               "500 validation and 1,000 test images; the linear model and the MLP see them standardised with the 500 "
               "images' statistics"),
    arms=(
        *(Arm(dropout_arm_name(p, DROPOUT_LIVE_EPOCHS), partial(small_alexnet, p),
              dict(DROPOUT_RECIPE, epochs=DROPOUT_LIVE_EPOCHS), live=True) for p in (0.5, 0.0)),
        *yardsticks(DROPOUT_EPOCHS),
        *(Arm(dropout_arm_name(p), partial(small_alexnet, p), dict(DROPOUT_RECIPE, epochs=DROPOUT_EPOCHS))
          for p in (0.5, 0.0)),
    ),
))
