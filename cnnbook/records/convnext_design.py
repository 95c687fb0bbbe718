"""Chapter 12's design record: the shrunk ConvNeXt-T rung with kernels of 3 to 11 pixels, and a Swin-T shrunk the
same way, trained at the ladder's budget on standardised images."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial

from torch import nn
from torchvision.models.swin_transformer import SwinTransformer

from cnnbook.models.convnext import ladder_configs
from cnnbook.records.convnext import PAGE_RECIPE, PAGE_RUNGS, RECIPE, EPOCHS, _builder, ladder_data, rungs
from cnnbook.records.core import Arm, Record, register, yardsticks

KERNELS = (3, 5, 7, 9, 11)
"""The paper's kernel sweep: 3x3 to 11x11 depthwise kernels (7x7 is ConvNeXt-T's)."""
SWIN_T = dict(patch_size=[4, 4], embed_dim=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24], window_size=[7, 7])
"""Swin-T's configuration (torchvision's swin_t)."""
SWIN_SMALL = dict(patch_size=[2, 2], embed_dim=12, depths=[1, 1, 1, 1], num_heads=[3, 6, 12, 24], window_size=[4, 4])
"""Swin-T at the chapter's shrink: widths / 8 (its 3 to 24 heads kept, so 4 channels per head), one block per stage,
a 2x2 patch stem for 32 px inputs (16 x 16 tokens, as the ConvNeXt rung's 16 x 16 map), 4x4 windows."""


def kernel_arm_name(kernel: int) -> str:
    """The record's name for ConvNeXt-T's rung with another kernel ('ConvNeXt-T rung, 3x3 kernel, ...')."""
    if isinstance(kernel, bool) or not isinstance(kernel, int) or kernel < 1 or kernel % 2 == 0:
        raise ValueError(f"kernel must be an odd positive int, got {kernel!r}")
    return f"ConvNeXt-T rung, {kernel}x{kernel} kernel, standardised images, {EPOCHS} epochs"


SWIN_ARM = f"Swin-T (small), standardised images, {EPOCHS} epochs"


def small_swin(num_classes: int = 10) -> nn.Module:
    """torchvision's SwinTransformer shrunk like the ladder (:data:`SWIN_SMALL`), no stochastic depth (as the rungs)."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    return SwinTransformer(**SWIN_SMALL, stochastic_depth_prob=0.0, num_classes=num_classes)


def kernel_builder(kernel: int) -> Callable[[], nn.Module]:
    """A builder of the shrunk ConvNeXt-T rung with a ``kernel`` x ``kernel`` depthwise conv."""
    kernel_arm_name(kernel)  # validates
    return _builder(replace(dict(ladder_configs())[rungs()[-1][0]], kernel_size=kernel))


def _arms() -> tuple[Arm, ...]:
    ladder = rungs()
    live = Arm("ConvNeXt-T rung (small)", ladder[PAGE_RUNGS["ConvNeXt-T rung (small)"]][1], PAGE_RECIPE, data="page",
               live=True)
    kernels = [Arm(kernel_arm_name(k), kernel_builder(k), RECIPE, data="std") for k in KERNELS]
    swin = Arm(SWIN_ARM, partial(small_swin, 10), RECIPE, data="std")
    return (live, *yardsticks(EPOCHS), *kernels, swin)


DESIGN = register(Record(
    name="convnext_design",
    chapter="12_convnext",
    claim=("The ConvNeXt paper's kernel sweep at the ladder's shrink and budget, on standardised Shapes10: the "
           "ConvNeXt-T rung's depthwise kernel grows from 3x3 to 11x11 for little extra cost, and the record measures "
           "whether accuracy rises up to 7x7 and then stops rising, as on ImageNet; a Swin-T shrunk the same way "
           "trains beside it."),
    data=ladder_data,
    data_note=("Shapes10's default split (3,000 training, 500 validation, 1,000 test images at 32x32), standardised "
               "per channel with the training images' statistics; the page's live arm uses its small split of 800 "
               "training, 100 validation and 500 test images, as they are"),
    arms=_arms(),
))
