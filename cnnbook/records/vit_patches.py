"""Chapter 11's patch record: the small ViT with 4x4 patches (64 tokens at 32 px) instead of 8x8 (16 tokens), on
300, 900 and 3,000 Shapes10 images, beside the vit_data record's 8x8 ViT."""
from __future__ import annotations

from functools import partial

from cnnbook.experiments import linear_model, mlp_model
from cnnbook.models import small_cnn, small_vit
from cnnbook.records.core import Arm, Record, register
from cnnbook.records.vit import (BASELINE_EPOCHS, CNN_EPOCHS, RECIPE, SHARES, VIT, VIT_EPOCHS, images,
                                 shapes10_shares)

PATCH = 4
VIT_P4 = dict(VIT, patch_size=PATCH)
"""The chapter's small ViT with 4x4 patches: 64 tokens of 48 values instead of 16 of 192, everything else equal."""


def patch_arm_name(n: int) -> str:
    """The record's name for the 4x4-patch ViT on ``n`` training images ('small ViT, 4x4 patches, 300 images')."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    return f"small ViT, {PATCH}x{PATCH} patches, {n} images"


def _arms() -> tuple[Arm, ...]:
    pixels = dict(epochs=BASELINE_EPOCHS, lr=1e-3)
    n = images(1.0)
    return (
        Arm("small ViT, the page's 6 epochs", partial(small_vit, **VIT), dict(RECIPE, epochs=VIT_EPOCHS), data="std",
            live=True),
        Arm(f"linear (logistic regression), {n} images", partial(linear_model, (3, 32, 32), 10), pixels,
            data=f"std{n}", yardstick=True),
        Arm(f"MLP (128 hidden), {n} images", partial(mlp_model, (3, 32, 32), 10, 128), pixels, data=f"std{n}",
            yardstick=True),
        Arm("small CNN, the page's 3 epochs", partial(small_cnn, 10), dict(RECIPE, epochs=CNN_EPOCHS), data="std",
            yardstick=True),
        *(Arm(patch_arm_name(images(s)), partial(small_vit, **VIT_P4), dict(RECIPE, epochs=round(VIT_EPOCHS / s)),
              data=f"std{images(s)}") for s in SHARES),
    )


PATCHES = register(Record(
    name="vit_patches",
    chapter="11_vit",
    claim=("With 4x4 patches (64 tokens) instead of 8x8 (16 tokens) and everything else equal, the small ViT "
           "spends about four times the compute per image; the record measures what that buys in test accuracy on "
           "Shapes10 at 300, 900 and 3,000 training images, at vit_data's epochs."),
    data=shapes10_shares,
    data_note=("Shapes10's default split; 10%, 30% and 100% of its 3,000 training images (a seeded subset), each "
               "standardised with its own statistics; the same 500 validation and 1,000 test images"),
    arms=_arms(),
))
