"""Chapter 12's kernel sweep again, with random translations: does the kernel size matter once the shrunk ConvNeXt-T
rung can no longer memorise its training images?

At the ladder's budget (:mod:`cnnbook.records.convnext_design`) every kernel's rung fits its training images far
better than its test images, and the five kernels cannot be told apart. Here the rung sees every training image
shifted by up to :data:`MAX_SHIFT` pixels each epoch (no flips: a mirrored Shapes10 shape can be another class), for
twice the epochs, with 3x3, 7x7 and 11x11 kernels; the small CNN trains behind the same translations beside them.
"""
from __future__ import annotations

from collections.abc import Callable

from torch import nn

from cnnbook.models import small_cnn
from cnnbook.records.convnext import RECIPE, ladder_data
from cnnbook.records.convnext_design import DESIGN, kernel_builder
from cnnbook.records.core import Arm, Record, register, yardsticks
from cnnbook.transfer import RandomTranslate

MAX_SHIFT = 4
"""Random translations of up to 4 pixels (an eighth of the 32 px image) in each direction."""
KERNELS = (3, 7, 11)
EPOCHS = 30
"""Twice the ladder's 15 epochs: a network that cannot memorise needs longer to fit."""


def shifted(build: Callable[[], nn.Module], max_shift: int = MAX_SHIFT) -> Callable[[], nn.Module]:
    """A builder of ``build()``'s network behind :class:`~cnnbook.transfer.RandomTranslate` (training mode only)."""
    def build_shifted() -> nn.Module:
        return nn.Sequential(RandomTranslate(max_shift), build())
    return build_shifted


def kernel_arm_name(kernel: int) -> str:
    """The record's name for the shifted rung with a ``kernel`` x ``kernel`` depthwise convolution."""
    return f"ConvNeXt-T rung, {kernel}x{kernel} kernel, translations, {EPOCHS} epochs"


CNN_ARM = f"small CNN, translations, {EPOCHS} epochs"


def _arms() -> tuple[Arm, ...]:
    live = next(a for a in DESIGN.arms if a.live)  # the sweep's repeat of the page's live run
    recipe = dict(RECIPE, epochs=EPOCHS)
    kernels = [Arm(kernel_arm_name(k), shifted(kernel_builder(k)), recipe, data="std") for k in KERNELS]
    cnn = Arm(CNN_ARM, shifted(lambda: small_cnn(10)), dict(epochs=EPOCHS, lr=3e-3, scheduler="cosine"))
    return (live, *yardsticks(EPOCHS), *kernels, cnn)


SHIFTED = register(Record(
    name="convnext_kernels_shifted",
    chapter="12_convnext",
    claim=("The shrunk ConvNeXt-T rung's kernel sweep with random translations of up to 4 pixels, which keep it from "
           "memorising its training images: the record measures whether 7x7 or 11x11 depthwise kernels then beat 3x3, "
           "as on ImageNet, beside the small CNN trained behind the same translations."),
    data=ladder_data,
    data_note=("Shapes10's default split (3,000 training, 500 validation, 1,000 test images at 32x32), standardised "
               "per channel with the training images' statistics for the rungs and the pixel yardsticks, as they are "
               "for the small CNNs; the page's live arm uses its small split of 800 training, 100 validation and 500 "
               "test images"),
    arms=_arms(),
))
"""Chapter 12's second design record: the kernel sweep where the rung cannot memorise."""
