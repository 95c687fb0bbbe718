"""The Vision Transformer (Dosovitskiy et al., 2021): an image as a sequence of patch tokens.

A strided convolution cuts the image into patches and embeds each one (``conv_proj``); a learned class token
is prepended, learned position embeddings are added, and pre-norm Transformer encoder blocks follow. The
class token's final state, layer-normed, goes to the classification head. The self-attention is written
out (``q @ k^T / sqrt(d)``, softmax, ``@ v``) so that it can return its attention weights. Module names
equal torchvision's except the MLP's (``fc1``/``fc2`` for its ``0``/``3``), mapped by ``TORCHVISION_RENAMES``.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Mapping
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cnnbook.models._checks import check_counts, check_images, check_probability

torch.fx.wrap("check_images")

NormLayer = Callable[[int], nn.Module]


def _check_divisible(image_size: int, patch_size: int) -> None:
    check_counts(image_size=image_size, patch_size=patch_size)
    if image_size % patch_size:
        raise ValueError(f"image_size must be divisible by patch_size: {image_size} is not a multiple of {patch_size}")


def _check_tokens(x: Tensor, width: int, where: str) -> None:
    if x.dim() != 3 or x.shape[-1] != width:
        raise ValueError(f"{where}: expected a (N, tokens, {width}) batch of token vectors, got shape {tuple(x.shape)}")


def _check_positions(x: Tensor, pos_embedding: Tensor, where: str) -> None:
    _check_tokens(x, pos_embedding.shape[-1], where)
    if x.shape[1] != pos_embedding.shape[1]:
        raise ValueError(f"{where}: the position embedding has {pos_embedding.shape[1]} positions but the input "
                         f"has {x.shape[1]} tokens")


torch.fx.wrap("_check_tokens")
torch.fx.wrap("_check_positions")


class SelfAttention(nn.Module):
    """Multi-head self-attention, written out; :meth:`attend` also returns the (N, heads, L, L) weights.

    Parameter names and shapes equal ``nn.MultiheadAttention(embed_dim, num_heads, batch_first=True)``'s:
    one ``in_proj_weight`` (3E x E) holding the query, key and value projections, then ``out_proj``.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        check_counts(embed_dim=embed_dim, num_heads=num_heads)
        if embed_dim % num_heads:
            raise ValueError(f"num_heads must divide the width: {embed_dim} is not divisible by {num_heads} heads")
        check_probability(dropout=dropout)
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout = float(dropout)
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * embed_dim)) if bias else None
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        nn.init.xavier_uniform_(self.in_proj_weight)
        if bias:
            nn.init.zeros_(self.out_proj.bias)

    def attend(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Attend every token of ``x`` (N, L, E) to every other: the output and the (N, heads, L, L) weights.

        The weights are the softmax before attention dropout (what the model attends to), one map per head.
        """
        _check_tokens(x, self.embed_dim, type(self).__name__)
        n, length, width = x.shape
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)  # (N, L, 3E): q, k, v side by side
        q, k, v = qkv.view(n, length, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)  # (N, h, L, d)
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)  # (N, h, L, L): query i against key j
        weights = scores.softmax(dim=-1)  # each row sums to 1
        attended = F.dropout(weights, self.dropout, self.training) @ v  # (N, h, L, d)
        out = self.out_proj(attended.transpose(1, 2).reshape(n, length, width))  # heads concatenated, mixed
        return out, weights

    def forward(self, x: Tensor) -> Tensor:
        return self.attend(x)[0]


class MLPBlock(nn.Module):
    """The encoder block's feed-forward part: Linear (E -> mlp_dim), GELU, dropout, Linear (mlp_dim -> E), dropout."""

    def __init__(self, in_dim: int, mlp_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        check_counts(in_dim=in_dim, mlp_dim=mlp_dim)
        check_probability(dropout=dropout)
        self.fc1 = nn.Linear(in_dim, mlp_dim)
        self.act = nn.GELU()
        self.dropout1 = nn.Dropout(dropout)
        self.fc2 = nn.Linear(mlp_dim, in_dim)
        self.dropout2 = nn.Dropout(dropout)
        for fc in (self.fc1, self.fc2):
            nn.init.xavier_uniform_(fc.weight)
            nn.init.normal_(fc.bias, std=1e-6)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout2(self.fc2(self.dropout1(self.act(self.fc1(x)))))


class EncoderBlock(nn.Module):
    """Pre-norm Transformer block: ``x + attention(LN(x))``, then ``x + MLP(LN(x))``."""

    def __init__(
        self,
        num_heads: int,
        hidden_dim: int,
        mlp_dim: int,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        norm_layer: NormLayer = partial(nn.LayerNorm, eps=1e-6),
    ) -> None:
        super().__init__()
        check_probability(dropout=dropout)
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.ln_1 = norm_layer(hidden_dim)
        self.self_attention = SelfAttention(hidden_dim, num_heads, dropout=attention_dropout)
        self.dropout = nn.Dropout(dropout)
        self.ln_2 = norm_layer(hidden_dim)
        self.mlp = MLPBlock(hidden_dim, mlp_dim, dropout)

    def forward(self, x: Tensor) -> Tensor:
        _check_tokens(x, self.hidden_dim, type(self).__name__)
        x = x + self.dropout(self.self_attention(self.ln_1(x)))
        return x + self.mlp(self.ln_2(x))

    def forward_with_weights(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The block's output for tokens ``x`` (N, L, E) and its attention weights (N, heads, L, L)."""
        _check_tokens(x, self.hidden_dim, type(self).__name__)
        y, weights = self.self_attention.attend(self.ln_1(x))
        x = x + self.dropout(y)
        return x + self.mlp(self.ln_2(x)), weights


class Encoder(nn.Module):
    """Add the position embedding (one learned vector per token), dropout, ``num_layers`` blocks, final norm."""

    def __init__(
        self,
        seq_length: int,
        num_layers: int,
        num_heads: int,
        hidden_dim: int,
        mlp_dim: int,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        norm_layer: NormLayer = partial(nn.LayerNorm, eps=1e-6),
    ) -> None:
        super().__init__()
        check_counts(seq_length=seq_length, num_layers=num_layers, hidden_dim=hidden_dim)
        self.pos_embedding = nn.Parameter(torch.empty(1, seq_length, hidden_dim).normal_(std=0.02))
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.Sequential(OrderedDict(
            (f"encoder_layer_{i}", EncoderBlock(num_heads, hidden_dim, mlp_dim, dropout, attention_dropout, norm_layer))
            for i in range(num_layers)
        ))
        self.ln = norm_layer(hidden_dim)

    def forward(self, x: Tensor) -> Tensor:
        _check_positions(x, self.pos_embedding, type(self).__name__)
        return self.ln(self.layers(self.dropout(x + self.pos_embedding)))

    def forward_with_weights(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Encoded tokens and every block's attention weights, first block first."""
        _check_positions(x, self.pos_embedding, type(self).__name__)
        x = self.dropout(x + self.pos_embedding)
        maps = []
        for block in self.layers:
            x, weights = block.forward_with_weights(x)
            maps.append(weights)
        return self.ln(x), maps


class VisionTransformer(nn.Module):
    """ViT: patch embedding (a ``patch_size`` x ``patch_size`` conv with the same stride), class token, encoder, head.

    ``representation_size`` adds torchvision's pre-logits layer (Linear + tanh) before the head.
    :meth:`forward_with_attention` returns ``(logits, [attention weights of each block])``.
    """

    TORCHVISION_RENAMES: tuple[tuple[str, str], ...] = ((r"\.mlp\.0\.", ".mlp.fc1."), (r"\.mlp\.3\.", ".mlp.fc2."))

    def __init__(
        self,
        image_size: int,
        patch_size: int,
        num_layers: int,
        num_heads: int,
        hidden_dim: int,
        mlp_dim: int,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        num_classes: int = 1000,
        representation_size: int | None = None,
        norm_layer: NormLayer = partial(nn.LayerNorm, eps=1e-6),
        *,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        check_counts(image_size=image_size, patch_size=patch_size, num_layers=num_layers, num_heads=num_heads,
                     hidden_dim=hidden_dim, mlp_dim=mlp_dim, num_classes=num_classes, in_channels=in_channels)
        if representation_size is not None:
            check_counts(representation_size=representation_size)
        _check_divisible(image_size, patch_size)
        if hidden_dim % num_heads:
            raise ValueError(f"num_heads must divide the width: hidden_dim {hidden_dim} is not divisible by "
                             f"{num_heads} heads")
        check_probability(dropout=dropout, attention_dropout=attention_dropout)
        self.image_size = image_size
        self.patch_size = patch_size
        self.hidden_dim = hidden_dim
        self.mlp_dim = mlp_dim
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.num_classes = num_classes
        self.representation_size = representation_size
        self.norm_layer = norm_layer
        self.in_channels = in_channels

        self.conv_proj = nn.Conv2d(in_channels, hidden_dim, patch_size, stride=patch_size)
        self.seq_length = (image_size // patch_size) ** 2 + 1  # the patches and the class token
        self.class_token = nn.Parameter(torch.zeros(1, 1, hidden_dim))
        self.encoder = Encoder(self.seq_length, num_layers, num_heads, hidden_dim, mlp_dim, dropout,
                               attention_dropout, norm_layer)
        heads: OrderedDict[str, nn.Module] = OrderedDict()
        if representation_size is None:
            heads["head"] = nn.Linear(hidden_dim, num_classes)
        else:
            heads["pre_logits"] = nn.Linear(hidden_dim, representation_size)
            heads["act"] = nn.Tanh()
            heads["head"] = nn.Linear(representation_size, num_classes)
        self.heads = nn.Sequential(heads)

        fan_in = in_channels * patch_size * patch_size
        nn.init.trunc_normal_(self.conv_proj.weight, std=math.sqrt(1 / fan_in))
        nn.init.zeros_(self.conv_proj.bias)
        if representation_size is not None:
            nn.init.trunc_normal_(self.heads.pre_logits.weight, std=math.sqrt(1 / hidden_dim))
            nn.init.zeros_(self.heads.pre_logits.bias)
        nn.init.zeros_(self.heads.head.weight)  # as in the paper: a zero head, so training starts from uniform
        nn.init.zeros_(self.heads.head.bias)

    @property
    def grid_size(self) -> int:
        """Patches per side: ``image_size // patch_size``."""
        return self.image_size // self.patch_size

    def embed(self, x: Tensor) -> Tensor:
        """Images (N, C, H, W) -> tokens (N, 1 + patches, E): the class token, then the patches row by row."""
        check_images(x, self.in_channels, self.image_size, type(self).__name__, exact=True)
        patches = self.conv_proj(x).flatten(2).transpose(1, 2)  # (N, E, g, g) -> (N, g*g, E)
        return torch.cat([self.class_token.expand(x.shape[0], -1, -1), patches], dim=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.heads(self.encoder(self.embed(x))[:, 0])

    def forward_with_attention(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """The logits and every block's attention weights: a list of (N, heads, 1 + g*g, 1 + g*g) tensors."""
        encoded, maps = self.encoder.forward_with_weights(self.embed(x))
        return self.heads(encoded[:, 0]), maps

    def attention_maps(self, x: Tensor) -> list[Tensor]:
        """Every block's attention weights for images ``x`` (token 0 is the class token, then the patches)."""
        return self.forward_with_attention(x)[1]

    def set_image_size(self, image_size: int, interpolation_mode: str = "bicubic") -> VisionTransformer:
        """Resize the position embedding for ``image_size`` inputs (see :func:`resize_position_embedding`)."""
        _check_divisible(image_size, self.patch_size)
        with torch.no_grad():
            resized = resize_position_embedding(self.encoder.pos_embedding, image_size // self.patch_size,
                                                interpolation_mode)
        self.encoder.pos_embedding = nn.Parameter(resized, requires_grad=self.encoder.pos_embedding.requires_grad)
        self.image_size = image_size
        self.seq_length = resized.shape[1]
        return self


def resize_position_embedding(pos_embedding: Tensor, grid_size: int, interpolation_mode: str = "bicubic") -> Tensor:
    """(1, 1 + g*g, E) -> (1, 1 + grid_size**2, E): the patch part resampled as an E-channel g x g image.

    The class token's embedding has no position and is kept as it is; corners stay aligned.
    """
    if pos_embedding.dim() != 3 or pos_embedding.shape[0] != 1:
        raise ValueError(f"pos_embedding must have shape (1, 1 + g*g, E), got {tuple(pos_embedding.shape)}")
    check_counts(grid_size=grid_size)
    _, length, width = pos_embedding.shape
    old = math.isqrt(length - 1)
    if length < 2 or old * old != length - 1:
        raise ValueError(f"pos_embedding must hold 1 + g*g positions (a square grid of patches), got {length}")
    if old == grid_size:
        return pos_embedding
    cls, grid = pos_embedding[:, :1], pos_embedding[:, 1:]
    grid = grid.transpose(1, 2).reshape(1, width, old, old)  # token k sits at row k // g, column k % g
    grid = F.interpolate(grid, size=(grid_size, grid_size), mode=interpolation_mode, align_corners=True)
    return torch.cat([cls, grid.flatten(2).transpose(1, 2)], dim=1)


def interpolate_embeddings(
    image_size: int,
    patch_size: int,
    model_state: Mapping[str, Tensor],
    interpolation_mode: str = "bicubic",
    reset_heads: bool = False,
) -> OrderedDict[str, Tensor]:
    """A copy of a ViT state_dict whose ``encoder.pos_embedding`` fits ``image_size`` (torchvision's signature).

    ``reset_heads`` leaves out the classification head's tensors (to fine-tune a new head), even when the size
    does not change (torchvision's then returns the state unchanged, head included).
    """
    _check_divisible(image_size, patch_size)
    if "encoder.pos_embedding" not in model_state:
        raise ValueError("model_state has no 'encoder.pos_embedding': not a Vision Transformer state_dict")
    out: OrderedDict[str, Tensor] = OrderedDict()
    for key, value in model_state.items():
        if reset_heads and key.startswith("heads."):
            continue
        out[key] = value
    out["encoder.pos_embedding"] = resize_position_embedding(
        model_state["encoder.pos_embedding"], image_size // patch_size, interpolation_mode)
    return out


_CONFIGS = {  # patch_size, num_layers, num_heads, hidden_dim, mlp_dim
    "vit_b_16": (16, 12, 12, 768, 3072),
    "vit_b_32": (32, 12, 12, 768, 3072),
    "vit_l_16": (16, 24, 16, 1024, 4096),
    "vit_l_32": (32, 24, 16, 1024, 4096),
    "vit_h_14": (14, 32, 16, 1280, 5120),
}


def _vit(name: str, image_size: int, kwargs: dict) -> VisionTransformer:
    fixed = ("patch_size", "num_layers", "num_heads", "hidden_dim", "mlp_dim")
    clash = [k for k in fixed if k in kwargs]
    if clash:
        raise ValueError(f"{name} fixes {', '.join(clash)}; build VisionTransformer(...) for another architecture")
    return VisionTransformer(image_size, *_CONFIGS[name], **kwargs)


def vit_b_16(image_size: int = 224, **kwargs) -> VisionTransformer:
    """ViT-B/16: 16x16 patches, 12 layers, 12 heads, width 768, MLP 3072; 86.6 M parameters at 224 px."""
    return _vit("vit_b_16", image_size, kwargs)


def vit_b_32(image_size: int = 224, **kwargs) -> VisionTransformer:
    """ViT-B/32: 32x32 patches, 12 layers, 12 heads, width 768, MLP 3072; 88.2 M parameters at 224 px."""
    return _vit("vit_b_32", image_size, kwargs)


def vit_l_16(image_size: int = 224, **kwargs) -> VisionTransformer:
    """ViT-L/16: 16x16 patches, 24 layers, 16 heads, width 1024, MLP 4096; 304.3 M parameters at 224 px."""
    return _vit("vit_l_16", image_size, kwargs)


def vit_l_32(image_size: int = 224, **kwargs) -> VisionTransformer:
    """ViT-L/32: 32x32 patches, 24 layers, 16 heads, width 1024, MLP 4096; 306.5 M parameters at 224 px."""
    return _vit("vit_l_32", image_size, kwargs)


def vit_h_14(image_size: int = 224, **kwargs) -> VisionTransformer:
    """ViT-H/14: 14x14 patches, 32 layers, 16 heads, width 1280, MLP 5120; 632.0 M parameters at 224 px."""
    return _vit("vit_h_14", image_size, kwargs)


def small_vit(
    image_size: int = 32,
    patch_size: int = 4,
    num_layers: int = 2,
    num_heads: int = 4,
    hidden_dim: int = 64,
    mlp_dim: int = 128,
    num_classes: int = 10,
    **kwargs,
) -> VisionTransformer:
    """A small ViT for 32 px Shapes10 experiments (8x8 patches of 4x4 px, 2 blocks of width 64); all configurable."""
    return VisionTransformer(image_size, patch_size, num_layers, num_heads, hidden_dim, mlp_dim,
                             num_classes=num_classes, **kwargs)


def attention_rollout(maps: list[Tensor], residual: bool = True) -> Tensor:
    """Attention rollout (Abnar & Zuidema, 2020): how much each output token draws on each input token.

    ``maps`` are the blocks' (N, heads, L, L) weights, first block first (:meth:`VisionTransformer.attention_maps`).
    Each block's heads are averaged; with ``residual`` the skip connection is modelled as ``(A + I) / 2``; the
    blocks' matrices are multiplied, last block on the left. Row 0 of the (N, L, L) result is the class token's.
    """
    if not maps or any(m.dim() != 4 or m.shape[-1] != m.shape[-2] or m.shape != maps[0].shape for m in maps):
        got = [tuple(m.shape) for m in maps] if isinstance(maps, (list, tuple)) else type(maps).__name__
        raise ValueError(f"maps must be a non-empty list of equally shaped (N, heads, L, L) attention weights, "
                         f"got {got}")
    eye = torch.eye(maps[0].shape[-1], dtype=maps[0].dtype, device=maps[0].device)
    rollout = eye.expand(maps[0].shape[0], -1, -1)
    for weights in maps:
        a = weights.mean(dim=1)
        if residual:
            a = (a + eye) / 2
        rollout = a @ rollout
    return rollout
