"""Checkers for the exercises of chapter 11, "The Vision Transformer".

Each expected answer is computed here from the package's own ViT modules (built on the meta device where only
their shapes matter) and counted with ``cnnbook.profile``, out of the reader's sight.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from cnnbook.exercises import check, check_function
from cnnbook.models.vit import EncoderBlock, SelfAttention, attention_rollout, vit_b_16, vit_l_16
from cnnbook.profile import count_params, macs

# Exercise 1: ViT-L/16 on 384x384 images.
EX1_IMAGE_SIZE = 384
# Exercise 3: ViT-B/16 on 384x384 images.
EX3_IMAGE_SIZE = 384


def ex1(answer: Any) -> bool:
    """Tokens (class token included) that ViT-L/16 processes on a 384x384 image."""
    with torch.device("meta"):
        expected = vit_l_16(image_size=EX1_IMAGE_SIZE).seq_length
    return check(answer, expected, name="Exercise 1",
                 hint="count the 16x16 patches of a 384x384 image, then add the class token.")


def _encoder_block_params(hidden_dim: int, mlp_dim: int) -> int:
    with torch.device("meta"):
        return count_params(EncoderBlock(num_heads=1, hidden_dim=hidden_dim, mlp_dim=mlp_dim))


EX2_CASES = [(768, 3072), (1024, 4096), (64, 128), (1280, 5120), (96, 96), (10, 7)]


def ex2(fn: Callable | None) -> bool:
    """The reader's ``encoder_block_params(hidden_dim, mlp_dim)`` against the package's EncoderBlock."""
    return check_function(fn, _encoder_block_params, EX2_CASES, name="Exercise 2")


def _attention_product_macs(image_size: int) -> int:
    """MACs of QK^T and AV alone, all heads and blocks of ViT-B/16: attention's MACs less its projections."""
    with torch.device("meta"):
        model = vit_b_16(image_size=image_size)
        width, length = model.hidden_dim, model.seq_length
        block = model.encoder.layers[0].self_attention
        projections = macs(nn.Linear(width, 3 * width), (length, width)) + macs(block.out_proj, (length, width))
        per_block = macs(SelfAttention(width, block.num_heads), (length, width)) - projections
        return per_block * len(model.encoder.layers)


def ex3(answer: Any) -> bool:
    """Multiply-accumulates of the attention products alone in ViT-B/16 at 384x384 (12 blocks, all heads)."""
    return check(answer, _attention_product_macs(EX3_IMAGE_SIZE), name="Exercise 3",
                 hint="with L tokens and width E, QK^T costs L*L*E over all heads and so does the product with V; "
                      "L includes the class token.")


def _cases_ex4() -> list[tuple]:
    g = torch.Generator().manual_seed(12)
    cases = []
    for n, heads, length, blocks in [(1, 1, 3, 1), (2, 4, 5, 2), (3, 2, 17, 3), (1, 12, 10, 4)]:
        maps = [torch.softmax(3 * torch.randn(n, heads, length, length, generator=g), dim=-1) for _ in range(blocks)]
        cases.append((maps,))
    return cases


def ex4(fn: Callable | None) -> bool:
    """The reader's ``cls_rollout(maps)`` (the class token's row of the rollout) against the package's."""
    return check_function(fn, lambda maps: attention_rollout(maps)[:, 0], _cases_ex4(), name="Exercise 4")
