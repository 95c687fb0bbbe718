"""Checkers for the exercises of chapter 11, "The Vision Transformer".

Each expected answer is computed here from the package's own modules (the ViT built on the meta device where only
its shapes matter, counted with ``cnnbook.profile``; the chapter's five networks run forward on shuffled and intact
images) or, for the experiment, is the range that the chapter's networks land in, out of the reader's sight.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from cnnbook.exercises import check, check_letters, check_range
from cnnbook.experiments import linear_model, mlp_model
from cnnbook.models.simple_cnn import small_cnn
from cnnbook.models.vit import SelfAttention, small_vit, vit_b_16
from cnnbook.patches import permute_patches, random_permutation, to_patches
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


# Exercise 2 (conceptual): which networks' training runs are unaffected, in distribution, by shuffled pixels.
EX2_OPTIONS = {
    "a": "the linear model on standardised pixels",
    "b": "the MLP on standardised pixels",
    "c": "the small ViT with learned position embeddings",
    "d": "the small CNN",
    "e": "the small ViT with its position embeddings removed",
}
EX2_SEED = 11
"""The seed of the checker's shuffle of the 1,024 pixel positions, ``random_permutation(1024, EX2_SEED)``."""


def _random_weights(model: nn.Module, g: torch.Generator) -> nn.Module:
    """``model`` in eval mode, every parameter redrawn from N(0, 0.3^2) (a zero head would make all logits equal)."""
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.3, generator=g)
    return model.eval()


def _absorbed(pixels: Tensor, side: int = 32, patch: int = 8) -> set[str]:
    """The options whose network absorbs the shuffle ``pixels``: pixel k of a shuffled image is pixel ``pixels[k]``.

    A network absorbs a shuffle when a re-indexing of weights that start as independent draws from one distribution
    makes it give every shuffled image exactly the logits that the original weights give the intact image. A run on
    shuffled images is then a run on intact ones from another, equally likely start (Adam updates every number on
    its own, so the two stay re-indexed copies step after step), and the test accuracies have the same distribution
    over seeds. The re-indexings are built here and checked by forward passes:

    - the linear model and the MLP read each pixel through its own columns of their first layer: moving the columns
      with the pixels absorbs any shuffle (the per-channel standardisation does not move);
    - a ViT applies one matrix, shared by all patches, to each patch's pixels; only the position embeddings belong
      to a slot, and the matrix's columns to a place inside a patch. So it absorbs a shuffle only if every slot holds
      the pixels of one whole patch, all arranged inside their patch in one way. A shuffle that moves pixels across
      patch borders makes tokens of pixels that no token of an intact image reads together: a different task;
    - the CNN's filters are shared by all positions and read 3x3 neighbourhoods; none of its weights belongs to a
      position, so a shuffle that parts neighbouring pixels is a different task for it. (Shuffles that keep all
      neighbours, flips for instance, are not decided here.)
    """
    grid = side // patch
    origin = torch.as_tensor(pixels)
    if origin.dim() != 1 or not torch.equal(origin.long().sort().values, torch.arange(side * side)):
        raise ValueError(f"pixels must be a permutation of range({side * side})")
    origin = origin.long().view(1, 1, side, side)  # where each pixel of the shuffled image comes from
    rows, cols = origin // side, origin % side
    neighbours_kept = all(bool((((r[1:] - r[:-1]).abs() + (c[1:] - c[:-1]).abs()) == 1).all())
                          for r, c in ((rows[0, 0], cols[0, 0]), (rows[0, 0].T, cols[0, 0].T)))
    if neighbours_kept and not torch.equal(origin.flatten(), torch.arange(side * side)):
        raise ValueError("this checker decides the CNN only for shuffles that part neighbouring pixels")
    g = torch.Generator().manual_seed(EX2_SEED)
    x = torch.randn(4, 3, side, side, generator=g)
    shuffled = permute_patches(x, 1, origin.flatten())
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(EX2_SEED)
        nets = {"a": linear_model((3, side, side), 10), "b": mlp_model((3, side, side), 10, hidden=128),
                "c": small_vit(image_size=side, patch_size=patch), "d": small_cnn(),
                "e": small_vit(image_size=side, patch_size=patch)}
    finally:
        torch.random.set_rng_state(state)
    nets = {k: _random_weights(net, g) for k, net in nets.items()}
    with torch.no_grad():
        nets["e"].encoder.pos_embedding.zero_()
        intact = {k: net(x) for k, net in nets.items()}
        for k in ("a", "b"):  # the first layer's columns for pixel j (of each channel) move to where pixel j went
            first = nets[k][1]
            first.weight.copy_(first.weight.view(-1, 3, side * side)[:, :, origin.flatten()].flatten(1))
        slots = to_patches(origin, patch).flatten(2)[0]  # (grid^2, patch^2): each slot's pixels, where from
        source = (slots // side // patch) * grid + slots % side // patch  # the patch each pixel comes from
        place = (slots // side % patch) * patch + slots % side % patch  # and its place inside that patch
        if bool((source == source[:, :1]).all()) and bool((place == place[:1]).all()):
            for k in ("c", "e"):  # the projection's columns follow the places, the position embeddings the patches
                proj = nets[k].conv_proj.weight
                proj.copy_(proj.flatten(2)[:, :, place[0]].view_as(proj))
            pos = nets["c"].encoder.pos_embedding
            pos[0, 1:] = pos[0, 1:][source[:, 0]].clone()
        else:  # some slot mixes pixels of several patches, or patches are rearranged in different ways
            del nets["c"], nets["e"]
        if not neighbours_kept:
            del nets["d"]
        return {k for k, net in nets.items() if torch.allclose(net(shuffled), intact[k], rtol=1e-4, atol=1e-4)}


def ex2(answer: Any) -> bool:
    """The letters of the networks whose test accuracies, over seeds, do not change when the pixels are shuffled."""
    if answer is None:
        return check(None, None, name="Exercise 2")
    return check_letters(answer, EX2_OPTIONS, _absorbed(random_permutation(32 * 32, seed=EX2_SEED)),
                         name="Exercise 2",
                         hint="for each network ask: is there a re-indexing of its weights that turns a shuffled "
                              "image into the intact one, and are those weights' starting values all drawn alike? "
                              "A ViT token reads one patch through one matrix shared by all patches.")


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
