import math

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torchvision.models import vision_transformer as tv_vit

from cnnbook.models.vit import (
    Encoder,
    EncoderBlock,
    MLPBlock,
    SelfAttention,
    VisionTransformer,
    interpolate_embeddings,
    resize_position_embedding,
    small_vit,
    vit_b_16,
    vit_b_32,
    vit_h_14,
    vit_l_16,
    vit_l_32,
)
from cnnbook.models.weights import load_torchvision_weights
from cnnbook.profile import count_params

BUILDERS = {"vit_b_16": vit_b_16, "vit_b_32": vit_b_32, "vit_l_16": vit_l_16, "vit_l_32": vit_l_32,
            "vit_h_14": vit_h_14}
COUNTS = {"vit_b_16": 86_567_656, "vit_b_32": 88_224_232, "vit_l_16": 304_326_632, "vit_l_32": 306_535_400,
          "vit_h_14": 632_045_800}


def renamed(key: str) -> str:
    return key.replace(".mlp.0.", ".mlp.fc1.").replace(".mlp.3.", ".mlp.fc2.")


@torch.no_grad()
def randomise(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give the zero-initialised tensors (class token, head, biases) random values, so a misuse would show."""
    g = torch.Generator().manual_seed(seed)
    model.class_token.copy_(torch.randn(model.class_token.shape, generator=g))
    for name, p in model.named_parameters():
        if name.startswith("heads.") or name.endswith("bias"):
            p.copy_(0.1 * torch.randn(p.shape, generator=g))
    for m in model.modules():
        if isinstance(m, nn.LayerNorm):
            m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=g))
    return model


def close(a: torch.Tensor, b: torch.Tensor, rel: float = 1e-5) -> bool:
    """Equal up to float32 rounding: max difference at most ``rel`` times the largest value."""
    return (a - b).abs().max().item() <= rel * max(a.abs().max().item(), 1e-3)


@pytest.mark.parametrize("name", list(BUILDERS))
def test_counts_names_and_shapes_equal_torchvision(name):
    with torch.device("meta"):
        ours, theirs = BUILDERS[name](), getattr(torchvision.models, name)()
    assert count_params(ours) == count_params(theirs) == COUNTS[name]
    assert list(ours.state_dict()) == [renamed(k) for k in theirs.state_dict()]
    assert {k: v.shape for k, v in ours.state_dict().items()} == \
        {renamed(k): v.shape for k, v in theirs.state_dict().items()}
    load_torchvision_weights(ours, theirs)  # strict: every name and shape accounted for


def test_vit_h_14_at_518_px_as_the_swag_weights_use():
    with torch.device("meta"):
        ours, theirs = vit_h_14(image_size=518), torchvision.models.vit_h_14(image_size=518)
    assert count_params(ours) == count_params(theirs) == 633_470_440
    assert ours.seq_length == 1 + 37 * 37
    load_torchvision_weights(ours, theirs)


@pytest.mark.parametrize("name, size", [("vit_b_16", 64), ("vit_b_32", 96)])
@torch.no_grad()
def test_same_outputs_as_torchvision(name, size):
    torch.manual_seed(0)
    theirs = randomise(getattr(torchvision.models, name)(image_size=size)).eval()
    ours = load_torchvision_weights(BUILDERS[name](image_size=size), theirs).eval()
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    a, b = ours(x), theirs(x)  # torchvision runs nn.MultiheadAttention's fused fast path here
    assert a.std() > 0.1
    assert close(a, b)
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        assert close(a, theirs(x))  # and its plain path (scaled_dot_product_attention)
    finally:
        torch.backends.mha.set_fastpath_enabled(True)


@pytest.mark.parametrize("patch, heads, width, mlp", [(16, 16, 1024, 4096), (14, 16, 1280, 5120)])
@torch.no_grad()
def test_large_and_huge_widths_compute_like_torchvision(patch, heads, width, mlp):
    # ViT-L and ViT-H themselves (1.2 and 2.5 GB each) are only compared by names and shapes above, on the meta
    # device; here one block of each at full width, on a small image, with real tensors.
    torch.manual_seed(0)
    size = 2 * patch
    theirs = randomise(tv_vit.VisionTransformer(size, patch, 1, heads, width, mlp, representation_size=32)).eval()
    ours = load_torchvision_weights(VisionTransformer(size, patch, 1, heads, width, mlp, representation_size=32),
                                    theirs).eval()
    x = torch.randn(2, 3, size, size)
    assert close(ours(x), theirs(x))


@torch.no_grad()
def test_attention_equals_torch_multihead_attention():
    torch.manual_seed(0)
    ours, theirs = SelfAttention(32, 4), nn.MultiheadAttention(32, 4, batch_first=True)
    theirs.load_state_dict(ours.state_dict())  # the same names and shapes
    nn.init.normal_(ours.in_proj_bias)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(3, 7, 32)
    out, weights = ours.attend(x)
    expected, expected_weights = theirs(x, x, x, need_weights=True, average_attn_weights=False)
    assert weights.shape == (3, 4, 7, 7)
    assert torch.allclose(out, expected, atol=1e-5)
    assert torch.allclose(weights, expected_weights, atol=1e-6)
    assert torch.allclose(weights.mean(1), theirs(x, x, x)[1], atol=1e-6)  # torch's default averages the heads
    assert torch.allclose(weights.sum(-1), torch.ones(3, 4, 7))
    assert torch.equal(ours(x), out)


@torch.no_grad()
def test_attention_equals_scaled_dot_product_attention():
    torch.manual_seed(0)
    attention, x = SelfAttention(48, 6), torch.randn(2, 9, 48)
    q, k, v = F.linear(x, attention.in_proj_weight, attention.in_proj_bias).chunk(3, dim=-1)
    heads = lambda t: t.view(2, 9, 6, 8).transpose(1, 2)  # noqa: E731
    fused = F.scaled_dot_product_attention(heads(q), heads(k), heads(v))  # (N, h, L, d)
    expected = attention.out_proj(fused.transpose(1, 2).reshape(2, 9, 48))
    assert torch.allclose(attention(x), expected, atol=1e-6)
    # and the weights by hand, for one head: softmax(q k^T / sqrt(d))
    _, weights = attention.attend(x)
    by_hand = torch.softmax(heads(q)[:, 2] @ heads(k)[:, 2].transpose(1, 2) / math.sqrt(8), dim=-1)
    assert torch.allclose(weights[:, 2], by_hand, atol=1e-6)


def test_attention_dropout_only_in_training():
    attention, x = SelfAttention(16, 2, dropout=0.5), torch.randn(1, 5, 16)
    torch.manual_seed(0)
    assert not torch.allclose(attention(x), attention(x))
    attention.eval()
    with torch.no_grad():
        assert torch.equal(attention(x), attention(x))


@torch.no_grad()
def test_every_layers_attention_maps():
    model = randomise(small_vit(num_layers=3)).eval()
    x = torch.randn(2, 3, 32, 32)
    logits, maps = model.forward_with_attention(x)
    assert torch.allclose(logits, model(x), atol=1e-6)
    assert len(maps) == 3 and all(m.shape == (2, 4, 65, 65) for m in maps)
    assert all(torch.allclose(m.sum(-1), torch.ones(2, 4, 65), atol=1e-5) for m in maps)
    assert all(torch.equal(a, b) for a, b in zip(maps, model.attention_maps(x)))
    # a block's forward_with_weights gives its forward plus the maps of its own attention
    tokens = torch.randn(2, 65, 64)
    block = model.encoder.layers.encoder_layer_1
    out, weights = block.forward_with_weights(tokens)
    assert torch.equal(out, block(tokens)) and weights.shape == (2, 4, 65, 65)


@torch.no_grad()
def test_patch_embedding_is_unfold_and_linear_with_the_class_token_first():
    model = randomise(small_vit()).eval()
    x = torch.randn(2, 3, 32, 32)
    tokens = model.embed(x)
    assert tokens.shape == (2, 1 + 64, 64)
    assert torch.equal(tokens[:, 0], model.class_token[0].expand(2, -1))
    patches = F.unfold(x, 4, stride=4).transpose(1, 2)  # (N, 64 patches row by row, 3*4*4)
    by_hand = patches @ model.conv_proj.weight.flatten(1).T + model.conv_proj.bias
    assert torch.allclose(tokens[:, 1:], by_hand, atol=1e-5)


def test_block_parts_and_hand_counts():
    e, m = 64, 128
    assert count_params(SelfAttention(e, 4)) == 4 * e * e + 4 * e
    assert count_params(SelfAttention(e, 4, bias=False)) == 4 * e * e
    assert list(SelfAttention(e, 4, bias=False).state_dict()) == \
        list(nn.MultiheadAttention(e, 4, bias=False, batch_first=True).state_dict())
    assert count_params(MLPBlock(e, m)) == 2 * e * m + m + e
    block = EncoderBlock(4, e, m)
    assert [n for n, _ in block.named_children()] == ["ln_1", "self_attention", "dropout", "ln_2", "mlp"]
    assert count_params(block) == 4 * e * e + 4 * e + 2 * e * m + m + e + 4 * e
    model = small_vit()
    patch_embed, positions, head = 3 * 16 * e + e, 65 * e, e * 10 + 10
    assert count_params(model) == patch_embed + e + positions + 2 * count_params(block) + 2 * e + head == 75_082
    assert model(torch.randn(4, 3, 32, 32)).shape == (4, 10)


def test_pre_logits_head_and_init():
    model = small_vit(representation_size=32)
    assert [n for n, _ in model.heads.named_children()] == ["pre_logits", "act", "head"]
    assert isinstance(model.heads.act, nn.Tanh)
    fresh = small_vit()
    assert torch.equal(fresh.heads.head.weight, torch.zeros(10, 64))
    assert torch.equal(fresh.class_token, torch.zeros(1, 1, 64))
    assert 0.01 < fresh.encoder.pos_embedding.std().item() < 0.03


def test_trains_one_step():
    torch.manual_seed(0)
    model = small_vit(dropout=0.1, attention_dropout=0.1)
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    assert loss.item() == pytest.approx(math.log(10), abs=1e-4)  # the zero head starts at uniform predictions


@pytest.mark.parametrize("new_size, mode", [(48, "bicubic"), (24, "bilinear"), (32, "bicubic")])
def test_interpolate_embeddings_equals_torchvision(new_size, mode):
    torch.manual_seed(0)
    state = tv_vit.VisionTransformer(32, 4, 1, 2, 16, 32).state_dict()
    theirs = tv_vit.interpolate_embeddings(new_size, 4, dict(state), mode, reset_heads=True)
    ours = interpolate_embeddings(new_size, 4, state, mode, reset_heads=True)
    heads = [k for k in state if k.startswith("heads.")]
    # torchvision ignores reset_heads when the size does not change; ours drops the head whenever asked
    assert list(ours) == [k for k in theirs if k not in heads]
    assert not any(k.startswith("heads") for k in ours)
    assert ours["encoder.pos_embedding"].shape == (1, 1 + (new_size // 4) ** 2, 16)
    assert torch.allclose(ours["encoder.pos_embedding"], theirs["encoder.pos_embedding"], atol=1e-6)
    assert torch.equal(ours["encoder.pos_embedding"][:, 0], state["encoder.pos_embedding"][:, 0])
    assert list(interpolate_embeddings(new_size, 4, state)) == list(state)


@torch.no_grad()
def test_set_image_size_runs_at_the_new_size_like_torchvision():
    torch.manual_seed(0)
    theirs = randomise(tv_vit.VisionTransformer(32, 4, 2, 4, 64, 128, num_classes=10))
    ours = load_torchvision_weights(small_vit(), theirs).set_image_size(48).eval()
    resized = tv_vit.VisionTransformer(48, 4, 2, 4, 64, 128, num_classes=10)
    resized.load_state_dict(tv_vit.interpolate_embeddings(48, 4, theirs.state_dict()))
    x = torch.randn(2, 3, 48, 48)
    assert ours.seq_length == 1 + 12 * 12 and ours.grid_size == 12
    assert close(ours(x), resized.eval()(x))
    with pytest.raises(ValueError, match="expected 48x48 input, got 32x32"):
        ours(torch.randn(1, 3, 32, 32))


def test_construction_errors():
    with pytest.raises(ValueError, match="image_size must be divisible by patch_size: 225 is not a multiple of 16"):
        vit_b_16(image_size=225)
    with pytest.raises(ValueError, match="num_heads must divide the width: hidden_dim 64 is not divisible by 5"):
        small_vit(num_heads=5)
    with pytest.raises(ValueError, match="64 is not divisible by 3 heads"):
        SelfAttention(64, 3)
    with pytest.raises(ValueError, match="vit_b_16 fixes patch_size"):
        vit_b_16(patch_size=8)
    with pytest.raises(ValueError, match=r"attention_dropout must be a probability in \[0, 1\), got 1.0"):
        small_vit(attention_dropout=1.0)
    with pytest.raises(ValueError, match="dropout must be a probability"):
        small_vit(dropout=-0.1)
    with pytest.raises(ValueError, match="num_classes must be an integer >= 1, got 0"):
        small_vit(num_classes=0)
    with pytest.raises(ValueError, match="representation_size"):
        small_vit(representation_size=0)
    with pytest.raises(ValueError, match="num_layers"):
        small_vit(num_layers=0)


def test_forward_input_errors():
    model = small_vit()
    with pytest.raises(ValueError, match="expected 32x32 input, got 64x64"):
        model(torch.randn(1, 3, 64, 64))
    with pytest.raises(ValueError, match="expected 3 input channels, got 1"):
        model(torch.randn(1, 1, 32, 32))
    with pytest.raises(ValueError, match="4-D batch"):
        model(torch.randn(3, 32, 32))
    expected = r"SelfAttention: expected a \(N, tokens, 64\) batch of token vectors, got shape \(2, 5, 32\)$"
    with pytest.raises(ValueError, match=expected):
        SelfAttention(64, 4)(torch.randn(2, 5, 32))
    with pytest.raises(ValueError, match="token vectors"):
        EncoderBlock(4, 64, 128)(torch.randn(5, 64))


def test_wrong_size_position_embedding():
    encoder = Encoder(17, 1, 2, 16, 32)
    with pytest.raises(ValueError, match="the position embedding has 17 positions but the input has 10 tokens"):
        encoder(torch.randn(1, 10, 16))
    with pytest.raises(ValueError, match=r"1 \+ g\*g positions .* got 18"):
        resize_position_embedding(torch.zeros(1, 18, 16), 4)
    with pytest.raises(ValueError, match=r"shape \(1, 1 \+ g\*g, E\)"):
        resize_position_embedding(torch.zeros(17, 16), 4)
    model = small_vit()
    state = dict(model.state_dict(), **{"encoder.pos_embedding": torch.zeros(1, 50, 64)})
    with pytest.raises(ValueError, match=r"shape mismatch.*encoder\.pos_embedding: model expects \(1, 65, 64\)"):
        load_torchvision_weights(small_vit(), state)
    with pytest.raises(ValueError, match="image_size must be divisible by patch_size: 30"):
        interpolate_embeddings(30, 4, model.state_dict())
    with pytest.raises(ValueError, match="no 'encoder.pos_embedding'"):
        interpolate_embeddings(32, 4, {"conv_proj.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match="divisible by patch_size"):
        model.set_image_size(30)


def test_wrong_state_dicts_are_refused_by_name():
    theirs = tv_vit.VisionTransformer(32, 4, 2, 4, 64, 128, num_classes=10).state_dict()
    missing = {k: v for k, v in theirs.items() if k != "encoder.layers.encoder_layer_1.mlp.3.weight"}
    with pytest.raises(ValueError, match=r"missing.*encoder\.layers\.encoder_layer_1\.mlp\.fc2\.weight"):
        load_torchvision_weights(small_vit(), missing)
    extra = dict(theirs, **{"encoder.layers.encoder_layer_2.ln_1.weight": torch.zeros(64)})
    with pytest.raises(ValueError, match=r"not in model.*encoder_layer_2\.ln_1\.weight"):
        load_torchvision_weights(small_vit(), extra)
    with pytest.raises(ValueError, match=r"shape mismatch.*heads\.head\.weight"):
        load_torchvision_weights(small_vit(num_classes=5), theirs)
    load_torchvision_weights(small_vit(), theirs)  # the right one loads


def test_attention_rollout_by_hand():
    from cnnbook.models.vit import attention_rollout

    torch.manual_seed(0)
    maps = [torch.softmax(torch.randn(2, 3, 5, 5), -1) for _ in range(2)]
    eye = torch.eye(5)
    a1, a2 = [(m.mean(1) + eye) / 2 for m in maps]
    rollout = attention_rollout(maps)
    assert torch.allclose(rollout, a2 @ a1, atol=1e-6)
    assert torch.allclose(rollout.sum(-1), torch.ones(2, 5), atol=1e-6)  # still a distribution over inputs
    assert torch.allclose(attention_rollout(maps, residual=False), maps[1].mean(1) @ maps[0].mean(1), atol=1e-6)
    uniform = [torch.full((1, 2, 4, 4), 0.25)] * 3
    assert torch.allclose(attention_rollout(uniform, residual=False), torch.full((1, 4, 4), 0.25))
    with torch.no_grad():
        assert attention_rollout(small_vit().eval().attention_maps(torch.randn(1, 3, 32, 32))).shape == (1, 65, 65)
    with pytest.raises(ValueError, match="non-empty list"):
        attention_rollout([])
    with pytest.raises(ValueError, match="equally shaped"):
        attention_rollout([maps[0], maps[1][:, :, :4, :4]])
