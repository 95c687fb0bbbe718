"""The records of the chapter "Training a CNN": what BatchNorm buys across learning rates, and what regularisers buy
on few images, each at a budget a page cannot spend."""
from __future__ import annotations

from functools import partial

from torch import nn

from cnnbook.augment import Augmented, shapes10_augmentation
from cnnbook.batchnorm import replace_batchnorm
from cnnbook.data import Splits, half_resolution, load_shapes10, subset
from cnnbook.models import small_cnn
from cnnbook.models.alexnet import init_weights
from cnnbook.records.core import Arm, Record, register, shapes10_data, yardsticks

PAGE_TRAIN = 1000
"""The page's live runs train on Shapes10 with 1,000 training images (the usual 500 validation and 1,000 test
images), averaged down to 16x16."""


def page_splits(quick: bool) -> Splits:
    """The page's data: ``load_shapes10(n_train=1000)`` at 16x16 (a tiny version when ``quick``)."""
    raw = load_shapes10(n_train=60, n_val=20, n_test=20) if quick else load_shapes10(n_train=PAGE_TRAIN)
    return Splits(*(half_resolution(part) for part in raw))


# ------------------------------------------------------------------------------------------------
# BatchNorm across learning rates

BN_RATES = (1e-3, 3e-3, 1e-2)
"""Adam's learning rates of the record: the page's two and the data card's 3e-3 between them."""
BN_EPOCHS, BN_LIVE_EPOCHS = 12, 2


def small_cnn_without_batchnorm(num_classes: int = 10) -> nn.Module:
    """The small CNN with its BatchNorms removed (its convolutions get biases) and He's initialisation."""
    return init_weights(replace_batchnorm(small_cnn(num_classes), "none"), "he")


BUILDERS = {"BN": partial(small_cnn, 10), "none": small_cnn_without_batchnorm}


def bn_arm_name(norm: str, lr: float, epochs: int = BN_EPOCHS) -> str:
    """'small CNN, Adam 0.001, 12 epochs' or 'small CNN without BatchNorm (He), Adam 0.01, the page's 2 epochs'."""
    net = "small CNN" if norm == "BN" else "small CNN without BatchNorm (He)"
    return f"{net}, Adam {lr:g}, " + (f"{epochs} epochs" if epochs == BN_EPOCHS else f"the page's {epochs} epochs")


def batchnorm_data(quick: bool) -> dict[str, Splits]:
    """Shapes10's default split as is ("raw") and standardised ("std"), and the page's 16x16 data ("page")."""
    return {**shapes10_data(quick), "page": page_splits(quick)}


BATCHNORM = register(Record(
    name="training_batchnorm",
    chapter="06b_training",
    claim=("With Adam at a constant learning rate of 1e-3, 3e-3 or 1e-2 for 12 epochs, the small CNN with BatchNorm "
           "ends with a lower training loss than the same network without BatchNorm (He initialisation, convolution "
           "biases) at every rate: BatchNorm makes the network train faster across the range of rates, not only at "
           "the high rate where the page's two epochs leave the network without it at chance."),
    data=batchnorm_data,
    data_note=("Shapes10's default split (3,000 training, 500 validation, 1,000 test images at 32x32); the linear model "
               "and the MLP see it standardised per channel; the page's live arms train on 1,000 training images "
               "averaged to 16x16, with the same validation and test images averaged too"),
    arms=(
        *(Arm(bn_arm_name(norm, 1e-2, BN_LIVE_EPOCHS), BUILDERS[norm], dict(epochs=BN_LIVE_EPOCHS, lr=1e-2),
              data="page", live=True) for norm in BUILDERS),
        *yardsticks(BN_EPOCHS),
        *(Arm(bn_arm_name(norm, lr), BUILDERS[norm], dict(epochs=BN_EPOCHS, lr=lr)) for norm in BUILDERS for lr in BN_RATES),
    ),
))


# ------------------------------------------------------------------------------------------------
# Regularisation on few images

FEW_IMAGES, PAGE_FEW_IMAGES = 500, 300
REG_EPOCHS, REG_LIVE_EPOCHS = 60, 12
REG_RECIPE = dict(lr=3e-3, scheduler="cosine")
"""The data card's recipe: Adam at 3e-3 annealed along a cosine, batches of 64."""
DROPOUT = 0.3
WEIGHT_DECAY = 0.5
"""AdamW's decoupled decay: large by ImageNet standards, whose runs take a thousand times more steps; over 480 steps
at a cosine-annealed 3e-3 it shrinks an unused weight by about 30%."""


def small_cnn_dropout(p: float = DROPOUT, num_classes: int = 10) -> nn.Module:
    """The small CNN with dropout ``p`` on the 64 pooled features, before its linear classifier."""
    net = small_cnn(num_classes)
    net.fc = nn.Sequential(nn.Dropout(p), net.fc)
    return net


def few_images_data(quick: bool) -> dict[str, Splits]:
    """500 of Shapes10's default training images (subset seed 0) as is ("raw"), standardised ("std") and augmented
    ("aug"); and the page's 300 images at 16x16, as is ("page") and augmented ("page_aug")."""
    base = shapes10_data(quick, transform=lambda s: Splits(subset(s.train, min(FEW_IMAGES, len(s.train)), seed=0),
                                                          s.val, s.test))
    raw = base["raw"]
    page = page_splits(quick)
    page = Splits(subset(page.train, min(PAGE_FEW_IMAGES, len(page.train)), seed=0), page.val, page.test)
    return {**base,
            "aug": Splits(Augmented(raw.train, shapes10_augmentation(32)), raw.val, raw.test),
            "page": page,
            "page_aug": Splits(Augmented(page.train, shapes10_augmentation(16)), page.val, page.test)}


REGULARISATION = register(Record(
    name="training_regularisation",
    chapter="06b_training",
    claim=("Trained on 500 Shapes10 images for 60 epochs, where the small CNN overfits, data augmentation (shifted "
           "crops, colour jitter, random erasing; no mirroring) raises its test accuracy more than dropout before the "
           "classifier or AdamW's decoupled weight decay does, and the three together raise it most."),
    data=few_images_data,
    data_note=("Shapes10 with a seeded subset of 500 of its 3,000 training images (subset seed 0) and the default 500 "
               "validation and 1,000 test images at 32x32; the linear model and the MLP see them standardised with the "
               "500 images' statistics; the page's live arms train on 300 of the page's 1,000 training images at 16x16"),
    arms=(
        Arm(f"small CNN, the page's {REG_LIVE_EPOCHS} epochs", partial(small_cnn, 10),
            dict(REG_RECIPE, epochs=REG_LIVE_EPOCHS), data="page", live=True),
        Arm(f"small CNN + augmentation, the page's {REG_LIVE_EPOCHS} epochs", partial(small_cnn, 10),
            dict(REG_RECIPE, epochs=REG_LIVE_EPOCHS), data="page_aug", live=True),
        *yardsticks(REG_EPOCHS),
        Arm(f"small CNN + augmentation, {REG_EPOCHS} epochs", partial(small_cnn, 10),
            dict(REG_RECIPE, epochs=REG_EPOCHS), data="aug"),
        Arm(f"small CNN + dropout {DROPOUT}, {REG_EPOCHS} epochs", small_cnn_dropout, dict(REG_RECIPE, epochs=REG_EPOCHS)),
        Arm(f"small CNN, AdamW decay {WEIGHT_DECAY}, {REG_EPOCHS} epochs", partial(small_cnn, 10),
            dict(REG_RECIPE, epochs=REG_EPOCHS, optimizer="adamw", weight_decay=WEIGHT_DECAY)),
        Arm(f"small CNN + augmentation + dropout + AdamW decay, {REG_EPOCHS} epochs", small_cnn_dropout,
            dict(REG_RECIPE, epochs=REG_EPOCHS, optimizer="adamw", weight_decay=WEIGHT_DECAY), data="aug"),
    ),
))


# ------------------------------------------------------------------------------------------------
# Optimisers and schedules

RANGE_TEST_RATES = {"plain_sgd": 0.07278953843983155, "sgd": 0.01082636733874054, "adam": 0.003039195382313198}
"""The rates the page's learning-rate range test picks (30 steps from 1e-4 to 1, the mean curve of seeds 0-2, the
lowest smoothed loss divided by ten) for SGD, SGD with momentum and Adam; AdamW takes Adam's."""
OPTIMIZERS = {"SGD": ("plain_sgd", {}), "SGD with momentum": ("sgd", {}), "Adam": ("adam", {}),
              "AdamW": ("adamw", {"weight_decay": 0.05})}
HIGH_LR = 0.03
"""Adam's rate for the schedules: ten times the data card's, near the top of Adam's range test."""
SCHEDULES = {"constant": (None, 0), "step": ("step", 0), "cosine": ("cosine", 0), "one-cycle": ("onecycle", 0),
             "warm-up + cosine": ("cosine", 1)}
"""fit's scheduler and warm-up epochs for each schedule of the page."""
OPT_EPOCHS, OPT_LIVE_EPOCHS = 12, 2


def optimizer_arm_name(label: str, epochs: int = OPT_EPOCHS) -> str:
    """'AdamW, lr 0.003, decay 0.05, 12 epochs' or "SGD, lr 0.073, the page's 2 epochs"."""
    name, extra = OPTIMIZERS[label]
    rate = RANGE_TEST_RATES["adam" if name == "adamw" else name]
    decay = f", decay {extra['weight_decay']:g}" if extra else ""
    return f"{label}, lr {rate:.2g}{decay}, " + (f"{epochs} epochs" if epochs == OPT_EPOCHS else f"the page's {epochs} epochs")


def schedule_arm_name(label: str, epochs: int = OPT_EPOCHS) -> str:
    """'Adam 0.03, one-cycle, 12 epochs' or "Adam 0.03, constant, the page's 2 epochs"."""
    return f"Adam {HIGH_LR:g}, {label}, " + (f"{epochs} epochs" if epochs == OPT_EPOCHS else f"the page's {epochs} epochs")


def _optimizer_recipe(label: str, epochs: int) -> dict:
    name, extra = OPTIMIZERS[label]
    return dict(epochs=epochs, lr=RANGE_TEST_RATES["adam" if name == "adamw" else name], optimizer=name, **extra)


def _schedule_recipe(label: str, epochs: int) -> dict:
    scheduler, warmup = SCHEDULES[label]
    return dict(epochs=epochs, lr=HIGH_LR, scheduler=scheduler, warmup_epochs=warmup)


def _optimiser_arms(epochs: int, data: str, live: bool) -> tuple[Arm, ...]:
    return (*(Arm(optimizer_arm_name(label, epochs), partial(small_cnn, 10), _optimizer_recipe(label, epochs), data=data,
                  live=live) for label in OPTIMIZERS),
            *(Arm(schedule_arm_name(label, epochs), partial(small_cnn, 10), _schedule_recipe(label, epochs), data=data,
                  live=live) for label in SCHEDULES))


OPTIMISERS = register(Record(
    name="training_optimisers",
    chapter="06b_training",
    claim=("Trained for 12 epochs on Shapes10, the small CNN ends with a higher test accuracy under Adam and AdamW at "
           "the rates the page's range test picks than under SGD and SGD with momentum at theirs; and at Adam's rate "
           "of 0.03 every schedule that lowers the rate (step, cosine, one-cycle, warm-up + cosine) ends above the "
           "constant rate."),
    data=batchnorm_data,
    data_note=("Shapes10's default split (3,000 training, 500 validation, 1,000 test images at 32x32); the linear model "
               "and the MLP see it standardised per channel; the page's live arms train on 1,000 training images "
               "averaged to 16x16, with the same validation and test images averaged too"),
    arms=(*_optimiser_arms(OPT_LIVE_EPOCHS, "page", live=True), *yardsticks(OPT_EPOCHS),
          *_optimiser_arms(OPT_EPOCHS, "raw", live=False)),
))
