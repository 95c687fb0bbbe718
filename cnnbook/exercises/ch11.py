"""Checkers for the exercises of chapter 11, "The Vision Transformer".

Each expected answer is computed here from the package's own ViT modules (built on the meta device where only
their shapes matter, counted with ``cnnbook.profile``) or, for the experiment, is the range that the chapter's
networks land in, out of the reader's sight.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from cnnbook.exercises import check, check_letters, check_range
from cnnbook.models.vit import SelfAttention, small_vit, vit_b_16
from cnnbook.patches import permute_patches
from cnnbook.profile import macs


# Exercise 1 (conceptual): which input transformations a ViT without position embeddings cannot see.
EX1_OPTIONS = {
    "a": "roll the image down by 8 pixels, so that the bottom row of patches wraps round to the top",
    "b": "roll the image right by 4 pixels (half a patch), wrapping round",
    "c": "transpose the 4x4 grid of patches, keeping every patch as it is",
    "d": "flip the image left to right",
    "e": "swap the red and blue channels",
}
_EX1_TRANSFORMS: dict[str, Callable[[Tensor], Tensor]] = {
    "a": lambda x: torch.roll(x, shifts=8, dims=2),
    "b": lambda x: torch.roll(x, shifts=4, dims=3),
    "c": lambda x: permute_patches(x, 8, torch.arange(16).reshape(4, 4).T.flatten()),
    "d": lambda x: torch.flip(x, dims=[3]),
    "e": lambda x: x[:, [2, 1, 0]],
}


def _unseen_transforms() -> set[str]:
    """The options after which a small ViT (8 px patches) with zero position embeddings gives the same logits."""
    g = torch.Generator().manual_seed(11)
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(11)
        model = small_vit(patch_size=8).eval()
    finally:
        torch.random.set_rng_state(state)
    with torch.no_grad():
        model.encoder.pos_embedding.zero_()
        model.class_token.normal_(generator=g)
        model.heads.head.weight.normal_(generator=g)  # the zero head of a fresh ViT would make every output equal
        x = torch.randn(4, 3, 32, 32, generator=g)
        reference = model(x)
        return {k for k, t in _EX1_TRANSFORMS.items() if torch.allclose(model(t(x)), reference, atol=1e-5)}


def ex1(answer: Any) -> bool:
    """The letters of the transformations that leave a ViT without position embeddings' output unchanged."""
    if answer is None:
        return check(None, None, name="Exercise 1")
    return check_letters(answer, EX1_OPTIONS, _unseen_transforms(), name="Exercise 1",
                         hint="without position embeddings the encoder sees a set of patch tokens, each computed from "
                              "one patch's pixels: which transformations only move whole patches to other places of "
                              "the grid?")


# Exercise 2 (conceptual): which networks' training runs are unaffected, in distribution, by shuffled patches.
EX2_OPTIONS = {
    "a": "the linear model on standardised pixels",
    "b": "the MLP on standardised pixels",
    "c": "the small ViT with learned position embeddings",
    "d": "the small CNN",
    "e": "the small ViT with its position embeddings removed",
}
EX2_UNAFFECTED = frozenset({"a", "b", "c", "e"})
"""A fixed permutation of the inputs is absorbed by re-indexing the weights that read them (the first layer's
columns, or the position embeddings), whose initial values are independent and identically distributed, and
Adam treats every weight alike: the shuffled run is an ordinary run from an equally likely start. Without
position embeddings nothing even needs re-indexing. A convolution's weights are shared across positions and
read neighbours, so no re-indexing turns the shuffled task into the intact one."""


def ex2(answer: Any) -> bool:
    """The letters of the networks whose test accuracy, over seeds, does not change when trained on shuffled patches."""
    return check_letters(answer, EX2_OPTIONS, EX2_UNAFFECTED, name="Exercise 2",
                         hint="for each network ask: is there a re-indexing of its weights that turns a shuffled "
                              "input into the intact one, and are those weights' starting values all drawn alike?")


# Exercise 3 (conceptual, a number): where ViT-B/16's attention products overtake its MLPs.
EX3_MODEL = "vit_b_16"


def _attention_and_mlp_macs(image_size: int) -> tuple[int, int]:
    """(QK^T and AV, MLP) multiply-accumulates of one ViT-B/16 block at ``image_size``, counted on the meta device."""
    with torch.device("meta"):
        model = vit_b_16(image_size=image_size)
        width, length = model.hidden_dim, model.seq_length
        block = model.encoder.layers[0]
        projections = macs(nn.Linear(width, 3 * width), (length, width)) + macs(block.self_attention.out_proj,
                                                                               (length, width))
        attention = macs(SelfAttention(width, block.num_heads), (length, width)) - projections
        return attention, macs(block.mlp, (length, width))


def _crossover_size(patch_size: int = 16, limit: int = 4096) -> int:
    """The smallest image side (a multiple of the patch size) at which attention's products cost more than the MLP."""
    with torch.device("meta"):
        mlp_dim = vit_b_16().mlp_dim
    # per block: attention products 2 L^2 E, MLP 2 L E M, so attention wins once L = (s / p)^2 + 1 exceeds M
    size = next(s for s in range(patch_size, limit + 1, patch_size) if (s // patch_size) ** 2 + 1 > mlp_dim)
    before, after = _attention_and_mlp_macs(size - patch_size), _attention_and_mlp_macs(size)
    if not (before[0] <= before[1] and after[0] > after[1]):  # the counters must agree with the formula
        raise RuntimeError(f"the MAC counts at {size - patch_size} and {size} px do not bracket the crossover")
    return size


def ex3(answer: Any) -> bool:
    """The smallest image side, a multiple of 16, at which ViT-B/16's attention products cost more MACs than its MLP."""
    if answer is None:
        return check(None, None, name="Exercise 3")
    return check(answer, _crossover_size(), name="Exercise 3",
                 hint="per block, QK^T and AV cost 2 L^2 E and the MLP 2 L E M: attention wins once the number of "
                      "tokens L, class token included, exceeds M = 3072; then L = (side / 16)^2 + 1.")


# Exercise 4 (experimental): how many predictions of a ViT trained on intact images change when the patches move.
EX4_RANGE = (0.14, 0.27)
"""The page's ViT of each seed 0 to 5, trained on intact images, changes its prediction on 0.182-0.226 of the
1,000 test images when their patches are shuffled by the page's permutation (and keeps its accuracy within three
points); a ViT without position embeddings changes none."""


def ex4(answer: Any) -> bool:
    """The fraction of test images whose predicted class changes when the page's ViT sees them with shuffled patches."""
    low, high = EX4_RANGE
    return check_range(answer, low, high, name="Exercise 4", quantity="the fraction of changed predictions",
                       source="fraction, for the page's ViT of each seed 0 to 5,",
                       hint="compare vit(test images).argmax(1) with vit(shuffled test images).argmax(1), both in "
                            "eval mode, and average the disagreements over the 1,000 test images.")
