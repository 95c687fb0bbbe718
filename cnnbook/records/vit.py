"""Chapter 11's records: a small ViT against a CNN of equal parameters on 10%, 30% and 100% of Shapes10, and
both networks (with the linear model and the MLP) on images whose patches are shuffled."""
from __future__ import annotations

from functools import partial

from torch.utils.data import TensorDataset

from cnnbook.data import Splits, load_shapes10, subset
from cnnbook.experiments import linear_model, mlp_model, standardised
from cnnbook.models import small_cnn, small_vit
from cnnbook.patches import permute_patches, random_permutation
from cnnbook.records.core import Arm, Record, register

SHARES = (0.1, 0.3, 1.0)
VIT = dict(patch_size=8, num_layers=2, num_heads=4, hidden_dim=64, mlp_dim=128)
"""Chapter 11's small ViT."""
CNN_WIDTHS = (16, 32, 64, 96)
"""The small CNN widened to the ViT's parameter count."""
RECIPE = dict(lr=2e-3, scheduler="cosine")  # Adam, batch 64: chapter 11's recipe
CNN_EPOCHS, VIT_EPOCHS, BASELINE_EPOCHS = 3, 6, 3  # at the full training set; a share s trains 1/s times longer
TRAIN_IMAGES = 3000


def images(share: float, total: int = TRAIN_IMAGES) -> int:
    """Training images at a share of the training set."""
    return round(share * total)


def shapes10_shares(quick: bool) -> dict[str, Splits]:
    """Per share of the training images (the first is a seeded subset), standardised with *its* statistics."""
    raw = load_shapes10(n_train=60, n_val=20, n_test=20) if quick else load_shapes10()
    data = {"raw": raw, "std": standardised(raw)}
    for share in SHARES:
        n = images(share, len(raw.train))
        train = raw.train if share == 1.0 else subset(raw.train, n, seed=0)
        data[f"std{images(share)}"] = standardised(Splits(train, raw.val, raw.test))
    return data


def _share_arms(share: float) -> tuple[Arm, ...]:
    """Linear, MLP, CNN and ViT on a share of the data; the full set's linear and MLP are the yardsticks."""
    n, scale, full = images(share), 1 / share, share == 1.0
    shape = (3, 32, 32)
    epochs = {kind: round(e * scale) for kind, e in (("base", BASELINE_EPOCHS), ("cnn", CNN_EPOCHS), ("vit", VIT_EPOCHS))}
    return (
        Arm(f"linear (logistic regression), {n} images", partial(linear_model, shape, 10),
            dict(epochs=epochs["base"], lr=1e-3), data=f"std{n}", yardstick=full),
        Arm(f"MLP (128 hidden), {n} images", partial(mlp_model, shape, 10, 128),
            dict(epochs=epochs["base"], lr=1e-3), data=f"std{n}", yardstick=full),
        Arm(f"CNN {'-'.join(map(str, CNN_WIDTHS))}, {n} images", partial(small_cnn, 10, widths=CNN_WIDTHS),
            dict(RECIPE, epochs=epochs["cnn"]), data=f"std{n}"),
        Arm(f"small ViT, {n} images", partial(small_vit, **VIT), dict(RECIPE, epochs=epochs["vit"]), data=f"std{n}"),
    )


DATA = register(Record(
    name="vit_data",
    chapter="11_vit",
    claim=("A CNN of the small ViT's parameter count beats it on Shapes10 at 300, 900 and 3,000 training images "
           "(equal optimiser steps at every size), and more data narrows the gap."),
    data=shapes10_shares,
    data_note=("Shapes10's default split; 10%, 30% and 100% of its 3,000 training images (a seeded subset), each "
               "standardised with its own statistics; the same 500 validation and 1,000 test images"),
    arms=(
        Arm("small ViT, the page's 6 epochs", partial(small_vit, **VIT), dict(RECIPE, epochs=VIT_EPOCHS), data="std",
            live=True),
        *(arm for share in SHARES for arm in _share_arms(share)),
        Arm("small CNN, the page's 3 epochs", partial(small_cnn, 10), dict(RECIPE, epochs=CNN_EPOCHS), data="std",
            live=True, yardstick=True),
    ),
))


# ------------------------------------------------------------------------------------------------
# Shuffled patches

PERMUTATION_SEED = 0
"""Chapter 11's fixed order of the 16 patches: ``random_permutation(16, seed=0)``."""
PATCH = VIT["patch_size"]
SHORT_VIT_EPOCHS = VIT_EPOCHS // 3
"""The page's live shuffled-patch run trains the ViT for a third of its epochs."""


def shapes10_shuffled(quick: bool) -> dict[str, Splits]:
    """Shapes10's default split standardised ("std"), and the same images with their 8x8 patches put back in
    chapter 11's fixed order ("shuffled"); the page's live runs have no validation split, which changes nothing
    they compute."""
    raw = load_shapes10(n_train=60, n_val=20, n_test=20) if quick else load_shapes10()
    std = standardised(raw)
    order = random_permutation((32 // PATCH) ** 2, seed=PERMUTATION_SEED)
    shuffled = Splits(*(TensorDataset(permute_patches(d.tensors[0], PATCH, order), d.tensors[1]) for d in std))
    return {"raw": raw, "std": std, "shuffled": shuffled}


def _pixels_and_cnn(way: str, yardstick: bool) -> tuple[Arm, ...]:
    data = "std" if way == "intact" else "shuffled"
    pixels = dict(epochs=BASELINE_EPOCHS, lr=1e-3)
    return (
        Arm(f"linear (logistic regression), {way}", partial(linear_model, (3, 32, 32), 10), pixels, data=data,
            yardstick=yardstick),
        Arm(f"MLP (128 hidden), {way}", partial(mlp_model, (3, 32, 32), 10, 128), pixels, data=data,
            yardstick=yardstick),
        Arm(f"small CNN, {way}, {CNN_EPOCHS} epochs", partial(small_cnn, 10), dict(RECIPE, epochs=CNN_EPOCHS),
            data=data, yardstick=yardstick),
    )


SHUFFLED = register(Record(
    name="vit_shuffled",
    chapter="11_vit",
    claim=("Putting every image's 8x8 patches back in one fixed random order costs the small CNN test accuracy on "
           "every seed and leaves the small ViT's where it was (the two means within two points), and so does it for "
           "the linear model and the MLP, whose first layers, like the ViT's position embeddings, can re-index."),
    data=shapes10_shuffled,
    data_note=("Shapes10's default split standardised per channel; shuffled: every image's 16 patches of 8x8 pixels "
               "put back in the order random_permutation(16, seed=0), the same for every image"),
    arms=(
        Arm(f"small ViT, shuffled, the page's {SHORT_VIT_EPOCHS} epochs", partial(small_vit, **VIT),
            dict(RECIPE, epochs=SHORT_VIT_EPOCHS), data="shuffled", live=True),
        *_pixels_and_cnn("intact", yardstick=True),
        *_pixels_and_cnn("shuffled", yardstick=False),
        Arm(f"small ViT, intact, {VIT_EPOCHS} epochs", partial(small_vit, **VIT), dict(RECIPE, epochs=VIT_EPOCHS),
            data="std"),
        Arm(f"small ViT, shuffled, {VIT_EPOCHS} epochs", partial(small_vit, **VIT), dict(RECIPE, epochs=VIT_EPOCHS),
            data="shuffled"),
    ),
))
