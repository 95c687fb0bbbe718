import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torchvision.models.convnext import LayerNorm2d as TorchvisionLayerNorm2d

from cnnbook.models.convnext import (
    CNBlock,
    ConvNeXt,
    ConvNeXtStem,
    ConvNeXtDownsample,
    LadderConfig,
    LadderNet,
    LayerNorm2d,
    StochasticDepth,
    convnext_base,
    convnext_ladder,
    convnext_large,
    convnext_mini,
    convnext_small,
    convnext_tiny,
)
from cnnbook.models.resnet import resnet50
from cnnbook.models.weights import load_torchvision_weights
from cnnbook.profile import count_params, macs

BUILDERS = {"tiny": convnext_tiny, "small": convnext_small, "base": convnext_base, "large": convnext_large}
# Parameter counts of torchvision 0.29's convnext_* (the paper's table rounds them to 29 M, 50 M, 89 M, 198 M).
COUNTS = {"tiny": 28_589_128, "small": 50_223_688, "base": 88_591_464, "large": 197_767_336}


def randomize(model: nn.Module, seed: int = 0) -> nn.Module:
    """Fill every tensor with seeded values on a scale that keeps a deep ConvNeXt's output non-degenerate.

    Layer scales become 0.5..1.5 instead of 1e-6: at 1e-6 every block is nearly the identity and a block
    computed wrongly would hide in the last decimals. Norm scales and shifts are randomised too.
    """
    g = torch.Generator().manual_seed(seed)
    norms = (nn.LayerNorm, nn.BatchNorm2d)
    with torch.no_grad():
        for module in model.modules():
            for name, p in module.named_parameters(recurse=False):
                if name == "layer_scale":
                    p.copy_(0.5 + torch.rand(p.shape, generator=g))
                elif isinstance(module, norms):
                    p.copy_((1.0 if name == "weight" else 0.0) + 0.2 * torch.randn(p.shape, generator=g))
                elif name == "bias":
                    p.copy_(0.05 * torch.randn(p.shape, generator=g))
                else:
                    p.copy_(torch.randn(p.shape, generator=g) / p[0].numel() ** 0.5)
    return model


def empty(builder, **kwargs) -> nn.Module:
    """Build on the meta device and allocate uninitialised memory: no time spent on an init we overwrite."""
    with torch.device("meta"):
        model = builder(**kwargs)
    return model.to_empty(device="cpu")


# --- LayerNorm2d and the syllabus erratum ---------------------------------------------------------------


def test_layernorm2d_equals_permuted_layernorm_torchvision_and_the_definition():
    torch.manual_seed(0)
    x = torch.randn(2, 8, 5, 7) * 3 + 1
    ours = LayerNorm2d(8)
    with torch.no_grad():
        ours.weight.normal_(1, 0.3)
        ours.bias.normal_(0, 0.3)
    plain = nn.LayerNorm(8, eps=1e-6)
    plain.load_state_dict(ours.state_dict())
    theirs = TorchvisionLayerNorm2d(8, eps=1e-6)
    theirs.load_state_dict(ours.state_dict())
    y = ours(x)
    assert torch.equal(y, plain(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2))
    assert torch.equal(y, theirs(x))
    mean = x.mean(dim=1, keepdim=True)
    var = x.var(dim=1, unbiased=False, keepdim=True)
    by_hand = (x - mean) / torch.sqrt(var + 1e-6) * ours.weight.view(1, -1, 1, 1) + ours.bias.view(1, -1, 1, 1)
    assert torch.allclose(y, by_hand, atol=1e-5)  # float sums in another order: equal to rounding only
    bare = LayerNorm2d(8, elementwise_affine=False)(x)
    assert torch.allclose(bare.mean(dim=1), torch.zeros(2, 5, 7), atol=1e-5)  # every pixel: mean 0 over channels
    assert torch.allclose(bare.var(dim=1, unbiased=False), torch.ones(2, 5, 7), atol=1e-4)
    assert ours.eps == 1e-6 and list(ours.state_dict()) == ["weight", "bias"]


def test_groupnorm_with_one_group_is_not_layernorm_over_channels():
    """Syllabus erratum: GroupNorm(1, C) pools its statistics over (C, H, W); the paper's LayerNorm is per pixel."""
    torch.manual_seed(0)
    x = torch.randn(2, 16, 8, 8) + torch.linspace(-3, 3, 8).view(1, 1, 1, 8)  # brightness varies across the image
    group = nn.GroupNorm(1, 16, eps=1e-6, affine=False)(x)
    layer = LayerNorm2d(16, elementwise_affine=False)(x)
    assert (group - layer).abs().max() > 1.0  # not a rounding difference: different functions
    assert torch.allclose(layer.mean(dim=1), torch.zeros(2, 8, 8), atol=1e-5)
    per_pixel_group_means = group.mean(dim=1)
    assert per_pixel_group_means.abs().max() > 1.0  # GroupNorm leaves each pixel's channel mean where it was
    assert torch.allclose(group.mean(dim=(1, 2, 3)), torch.zeros(2), atol=1e-5)  # only the whole image is centred
    # They agree only where there is a single pixel (H = W = 1), e.g. on the pooled features in the head.
    pooled = x.mean(dim=(2, 3), keepdim=True)
    assert torch.allclose(nn.GroupNorm(1, 16, eps=1e-6, affine=False)(pooled),
                          LayerNorm2d(16, elementwise_affine=False)(pooled), atol=1e-5)


def test_layernorm2d_refuses_wrong_input():
    with pytest.raises(ValueError, match=r"expected \(N, 8, H, W\), got shape \(2, 4, 3, 3\)"):
        LayerNorm2d(8)(torch.randn(2, 4, 3, 3))
    with pytest.raises(ValueError, match="LayerNorm2d"):
        LayerNorm2d(8)(torch.randn(2, 8))


# --- Counts, names, weights -------------------------------------------------------------------------------


@pytest.mark.parametrize("size", list(BUILDERS))
def test_counts_names_and_shapes_equal_torchvision(size):
    with torch.device("meta"):
        theirs = getattr(torchvision.models, f"convnext_{size}")()
        ours = BUILDERS[size]()
    assert count_params(ours) == count_params(theirs) == COUNTS[size]
    load_torchvision_weights(ours, theirs)  # strict: every name maps, every shape fits
    import re

    renamed = []
    for key in theirs.state_dict():
        for pattern, replacement in ConvNeXt.TORCHVISION_RENAMES:
            key = re.sub(pattern, replacement, key)
        renamed.append(key)
    assert renamed == list(ours.state_dict())  # same tensors in the same order under our names
    assert [b.stochastic_depth.p for b in ours.modules() if isinstance(b, CNBlock)] == pytest.approx(
        [m.p for m in theirs.modules() if isinstance(m, torchvision.ops.StochasticDepth)]
    )


@pytest.mark.parametrize("size", list(BUILDERS))
def test_same_eval_outputs_as_torchvision(size):
    """torch.equal: the same operations in the same order give bit-identical outputs on the CPU."""
    theirs = randomize(empty(getattr(torchvision.models, f"convnext_{size}"))).eval()
    ours = load_torchvision_weights(empty(BUILDERS[size]), theirs).eval()
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))  # the smallest side that fits
    with torch.no_grad():
        a, b = ours(x), theirs(x)
        assert a.std() > 0.1 and torch.equal(a, b)
        # Layer scale and the head's LayerNorm are really used: changing either changes the output.
        ours.stage4[-1].layer_scale.mul_(2)
        assert not torch.allclose(ours(x), b, atol=1e-3)
        ours.stage4[-1].layer_scale.div_(2)
        ours.norm.bias.add_(1)
        assert not torch.allclose(ours(x), b, atol=1e-3)


def test_default_init_is_torchvisions():
    """Truncated normal (std 0.02) weights, zero biases, layer scale 1e-6: with one seed, the same tensors."""
    from torchvision.models.convnext import CNBlockConfig

    torch.manual_seed(0)
    ours = ConvNeXt((2, 1), (16, 32), num_classes=5)
    torch.manual_seed(0)
    theirs = torchvision.models.convnext.ConvNeXt([CNBlockConfig(16, 32, 2), CNBlockConfig(32, None, 1)], num_classes=5)
    theirs = load_torchvision_weights(ConvNeXt((2, 1), (16, 32), num_classes=5), theirs)
    for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
        assert torch.equal(a, b), name
    block = ours.stage1[0]
    assert torch.equal(block.layer_scale, torch.full((16, 1, 1), 1e-6))
    assert not block.dwconv.bias.any() and not ours.head.bias.any()
    assert 0.015 < block.pwconv1.weight.std() < 0.025


def test_wrong_state_dicts_are_refused_by_name():
    state = convnext_mini().state_dict()
    tv_state = {}  # the same weights under torchvision's names
    inverse = {"stem.conv": "features.0.0", "stem.norm": "features.0.1", "norm": "classifier.0", "head": "classifier.2"}
    for key, value in state.items():
        module, _, leaf = key.rpartition(".")
        tv_state[f"{inverse.get(module, module)}.{leaf}"] = value
    tv_state = {k.replace("stage1.", "features.1.").replace("downsample2.norm.", "features.2.0.")
                .replace("downsample2.conv.", "features.2.1.").replace("stage2.", "features.3.")
                .replace("downsample3.norm.", "features.4.0.").replace("downsample3.conv.", "features.4.1.")
                .replace("stage3.", "features.5.").replace(".dwconv.", ".block.0.").replace(".norm.", ".block.2.")
                .replace(".pwconv1.", ".block.3.").replace(".pwconv2.", ".block.5."): v for k, v in tv_state.items()}
    load_torchvision_weights(convnext_mini(), tv_state)  # complete: loads
    missing = {k: v for k, v in tv_state.items() if k != "features.3.1.layer_scale"}
    with pytest.raises(ValueError, match=r"missing.*stage2\.1\.layer_scale"):
        load_torchvision_weights(convnext_mini(), missing)
    with pytest.raises(ValueError, match=r"not in model.*stage4\.0\.dwconv\.weight"):
        load_torchvision_weights(convnext_mini(), dict(tv_state, **{"features.7.0.block.0.weight": torch.zeros(1)}))
    with pytest.raises(ValueError, match=r"shape mismatch.*head\.weight.*\(10, 128\).*\(1000, 128\)"):
        load_torchvision_weights(convnext_mini(), dict(tv_state, **{"classifier.2.weight": torch.zeros(1000, 128)}))
    with torch.device("meta"):
        with pytest.raises(ValueError, match=r"missing from source \(162\): stage3\.10\."):
            load_torchvision_weights(convnext_small(), torchvision.models.convnext_tiny())  # 9 blocks, not 27


# --- Parts --------------------------------------------------------------------------------------------------


def test_block_by_hand_and_layer_scale():
    torch.manual_seed(0)
    block = CNBlock(8, layer_scale=0.5).eval()
    x = torch.randn(2, 8, 6, 6)
    y = F.conv2d(x, block.dwconv.weight, block.dwconv.bias, padding=3, groups=8)
    y = F.layer_norm(y.permute(0, 2, 3, 1), (8,), block.norm.weight, block.norm.bias, 1e-6)
    y = F.linear(F.gelu(F.linear(y, block.pwconv1.weight, block.pwconv1.bias)), block.pwconv2.weight, block.pwconv2.bias)
    expected = x + 0.5 * y.permute(0, 3, 1, 2)
    with torch.no_grad():
        assert torch.allclose(block(x), expected, atol=1e-6)
    assert block.dwconv.kernel_size == (7, 7) and block.dwconv.groups == 8
    assert (block.pwconv1.in_features, block.pwconv1.out_features) == (8, 32)
    assert block.layer_scale.shape == (8, 1, 1)
    hand = 49 * 8 + 8 + 2 * 8 + 8 * 32 + 32 + 32 * 8 + 8 + 8
    assert count_params(block) == hand == 976
    with torch.no_grad():
        block.layer_scale.zero_()
        assert torch.equal(block(x), x)  # gamma = 0: the block is the identity
    assert CNBlock(8, layer_scale=None).layer_scale is None
    assert count_params(CNBlock(8, layer_scale=None)) == hand - 8


def test_stochastic_depth():
    drop = StochasticDepth(0.5)
    x = torch.ones(4000, 3, 2, 2)
    assert torch.equal(drop.eval()(x), x)
    torch.manual_seed(0)
    y = drop.train()(x)
    per_sample = y.flatten(1)
    assert ((per_sample == 0).all(1) | (per_sample == 2).all(1)).all()  # dropped whole, or kept and scaled by 2
    assert 0.45 < (per_sample[:, 0] == 0).float().mean() < 0.55
    assert abs(y.mean().item() - 1.0) < 0.05  # unbiased in expectation
    torch.manual_seed(3)
    ours = StochasticDepth(0.3).train()(x[:50])
    torch.manual_seed(3)
    assert torch.equal(ours, torchvision.ops.stochastic_depth(x[:50], 0.3, "row", training=True))
    block = CNBlock(4, layer_scale=1.0, stochastic_depth_prob=0.9).train()
    torch.manual_seed(0)
    xs = torch.randn(200, 4, 3, 3)
    kept = [(out - inp).abs().sum() > 0 for out, inp in zip(block(xs), xs)]
    assert 0 < sum(kept) < 60  # most samples skip the branch in training


@pytest.mark.parametrize("p", [1.0, -0.1, 1.5, True, "0.1"])
def test_stochastic_depth_probability_must_lie_in_zero_one(p):
    with pytest.raises(ValueError, match=r"in \[0, 1\)"):
        StochasticDepth(p)
    with pytest.raises(ValueError, match=r"stochastic_depth_prob must be a probability in \[0, 1\)"):
        convnext_mini(stochastic_depth_prob=p)
    with pytest.raises(ValueError, match=r"in \[0, 1\)"):
        CNBlock(8, stochastic_depth_prob=p)


def test_stochastic_depth_grows_linearly_over_blocks():
    model = convnext_mini(depths=(2, 3), dims=(8, 16), stochastic_depth_prob=0.4)
    ps = [b.stochastic_depth.p for b in model.modules() if isinstance(b, CNBlock)]
    assert ps == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    single = convnext_mini(depths=(1,), dims=(8,), stochastic_depth_prob=0.4)
    assert single.stage1[0].stochastic_depth.p == 0.0


def test_stem_and_downsampling_layers():
    stem = ConvNeXtStem(3, 96)
    assert stem.conv.kernel_size == stem.conv.stride == (4, 4) and isinstance(stem.norm, LayerNorm2d)
    x = torch.randn(1, 3, 224, 224)
    assert stem(x).shape == (1, 96, 56, 56)
    # A 4x4/4 conv is a linear map of each non-overlapping 4x4 patch ("patchify").
    patches = F.unfold(x, 4, stride=4)  # (1, 48, 56*56)
    by_patch = (stem.conv.weight.flatten(1) @ patches + stem.conv.bias[:, None]).view(1, 96, 56, 56)
    assert torch.allclose(stem.conv(x), by_patch, atol=1e-4)
    assert ConvNeXtStem(3, 16, patch_size=2)(torch.randn(1, 3, 32, 32)).shape == (1, 16, 16, 16)
    down = ConvNeXtDownsample(16, 32)
    assert [n for n, _ in down.named_children()] == ["norm", "conv"]  # the norm comes first
    assert down.conv.kernel_size == down.conv.stride == (2, 2)
    assert down(torch.randn(1, 16, 8, 8)).shape == (1, 32, 4, 4)


def test_small_input_stem_and_mini_builder():
    model = convnext_mini().eval()  # (2, 2, 2) blocks, dims (32, 64, 128), 2x2 stem
    assert model.stem.conv.stride == (2, 2) and model.min_size == 8
    assert [n for n, _ in model.named_children()] == [
        "stem", "stage1", "downsample2", "stage2", "downsample3", "stage3", "avgpool", "norm", "head"
    ]
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert model.forward_features(x).shape == (2, 128, 4, 4)
        assert model(x).shape == (2, 10)
    wide = convnext_mini(depths=(1, 1, 3, 1), dims=(16, 32, 64, 128), num_classes=4, patch_size=1, in_channels=1)
    assert wide.min_size == 8 and [len(getattr(wide, f"stage{i}")) for i in (1, 2, 3, 4)] == [1, 1, 3, 1]
    with torch.no_grad():
        assert wide(torch.randn(1, 1, 28, 28)).shape == (1, 4)
    with torch.device("meta"):
        tiny, tiny_small = convnext_tiny(), convnext_tiny(small_input=True)
    assert tiny_small.stem.conv.stride == (2, 2) and tiny.min_size == 32 and tiny_small.min_size == 16


def test_imagenet_feature_shape():
    with torch.device("meta"):
        model = convnext_tiny()
        assert model.forward_features(torch.empty(1, 3, 224, 224)).shape == (1, 768, 7, 7)


def test_construction_errors():
    with pytest.raises(ValueError, match=r"one entry per stage, got 3 depths \[1, 1, 1\] and 2 dims \[8, 16\]"):
        ConvNeXt([1, 1, 1], [8, 16])
    with pytest.raises(ValueError, match="depths must be a non-empty sequence"):
        ConvNeXt([], [])
    with pytest.raises(ValueError, match="every entry of dims"):
        ConvNeXt([1, 1], [8, 0])
    with pytest.raises(ValueError, match="dims must be a non-empty sequence"):
        convnext_mini(dims=96)
    with pytest.raises(ValueError, match="num_classes must be an integer >= 1, got 0"):
        convnext_tiny(num_classes=0)
    with pytest.raises(ValueError, match="layer_scale must be a number > 0 or None"):
        convnext_mini(layer_scale=0.0)
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        convnext_mini(kernel_size=4)
    with pytest.raises(ValueError, match="small_input=True means patch_size=2"):
        convnext_tiny(small_input=True, patch_size=4)


def test_forward_input_errors():
    model = convnext_mini(depths=(1, 1, 1, 1), dims=(8, 8, 8, 8), num_classes=2, patch_size=4)
    with pytest.raises(ValueError, match="input 31x31 too small, needs at least 32x32"):
        model(torch.randn(1, 3, 31, 31))
    with pytest.raises(ValueError, match="input 7x7 too small, needs at least 8x8"):
        convnext_mini()(torch.randn(1, 3, 7, 7))
    with pytest.raises(ValueError, match="input 30x40 too small, needs at least 32x32"):
        model(torch.randn(1, 3, 30, 40))
    with pytest.raises(ValueError, match="expected 3 input channels, got 1"):
        model(torch.randn(1, 1, 64, 64))
    with pytest.raises(ValueError, match="4-D batch"):
        model(torch.randn(3, 64, 64))


# --- The ladder from ResNet-50 to ConvNeXt-T -------------------------------------------------------------

# GFLOPs (multiply-accumulates, in fact) of each step in Liu et al.'s Figure 2, to one decimal. The paper counted
# with fvcore, which also counts some element-wise work; our counts land within 0.06 G of every figure.
PAPER_GMACS = [4.1, 4.1, 4.5, 4.4, 5.3, 4.6, 4.1, 4.2, 4.2, 4.2, 4.2, 4.2, 4.5]


def load_by_position(target: nn.Module, source: nn.Module) -> nn.Module:
    """Copy tensors in state_dict order, reshaping a Linear's (out, in) into a 1x1 conv's (out, in, 1, 1)."""
    ours, theirs = target.state_dict(), source.state_dict()
    assert len(ours) == len(theirs)
    state = {}
    for (key, mine), value in zip(ours.items(), theirs.values()):
        assert mine.numel() == value.numel(), key
        state[key] = value.reshape(mine.shape)
    target.load_state_dict(state)
    return target


def test_ladder_steps_counts_and_macs():
    ladder = convnext_ladder()
    names = [name for name, _ in ladder]
    assert names[0] == "ResNet-50" and names[-1] == "separate downsampling layers" and len(names) == 13
    with torch.device("meta"):
        models = [builder() for _, builder in ladder]
        first_reference, last_reference = resnet50(), convnext_tiny()
    counts = [count_params(m) for m in models]
    assert counts[0] == count_params(first_reference) == 25_557_032
    assert counts[-1] == count_params(last_reference) == 28_589_128
    gmacs = [macs(m, (3, 224, 224)) / 1e9 for m in models]
    assert all(abs(ours - paper) < 0.06 for ours, paper in zip(gmacs, PAPER_GMACS)), gmacs
    assert macs(models[-1], (3, 224, 224)) == macs(last_reference, (3, 224, 224))


def test_ladder_ends_compute_resnet50_and_convnext_tiny():
    """Same tensors in the same order, so a positional copy makes the ends the same functions (torch.equal)."""
    ladder = convnext_ladder()
    theirs = randomize(empty(torchvision.models.convnext_tiny)).eval()
    last = load_by_position(empty(ladder[-1][1]), theirs).eval()
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        a, b = last(x), theirs(x)
    assert a.std() > 0.1 and torch.allclose(a, b, atol=1e-5)  # 1x1 convs vs Linear: equal up to rounding
    resnet = empty(torchvision.models.resnet50)
    randomize(resnet)
    for m in resnet.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    first = load_by_position(empty(ladder[0][1]), resnet.eval()).eval()
    with torch.no_grad():
        a, b = first(x), resnet(x)
    assert a.std() > 1e-3 and torch.allclose(a, b, atol=1e-5, rtol=1e-4)


def test_ladder_rungs_change_what_they_say():
    configs = [builder.args[0] for _, builder in convnext_ladder()]
    changed = [{f for f in LadderConfig.__dataclass_fields__ if getattr(a, f) != getattr(b, f)}
               for a, b in zip(configs, configs[1:])]
    assert changed[1] == {"depths"} and changed[2] == {"stem"} and changed[6] == {"kernel_size"}
    assert changed[7] == {"activation"} and changed[10] == {"norm"}
    ladder = convnext_ladder()
    relu_gelu = ladder[8][1](num_classes=3)
    assert sum(isinstance(m, nn.GELU) for m in relu_gelu.modules()) == 3 * 18  # 2 in the block, 1 after the sum
    fewer = ladder[9][1](num_classes=3)
    assert sum(isinstance(m, nn.GELU) for m in fewer.modules()) == 18
    assert sum(isinstance(m, nn.BatchNorm2d) for m in fewer.modules()) == 1 + 3 * 18 + 3  # stem, blocks, shortcuts
    fewer_norms = ladder[10][1](num_classes=3)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in fewer_norms.modules()) == 1 + 18 + 3
    inverted = ladder[5][1]()
    block = inverted.stage2[1]
    assert (block.conv1.in_channels, block.conv1.out_channels, block.conv2.groups) == (192, 768, 768)


def test_small_ladder_runs_on_32px_images():
    for name, builder in convnext_ladder():
        model = builder(num_classes=10, width_scale=0.25, depths=(1, 1, 2, 1), small_input=True).eval()
        with torch.no_grad():
            assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10), name
        assert model.min_size <= 16


def test_ladder_errors():
    with pytest.raises(ValueError, match="norm must be one of"):
        LadderConfig(norm="group")
    with pytest.raises(ValueError, match="spatial_first needs depthwise"):
        LadderConfig(spatial_first=True)
    with pytest.raises(ValueError, match="one entry per stage"):
        LadderConfig(depths=(3, 3, 9))
    with pytest.raises(ValueError, match="depths must have 4 entries"):
        convnext_ladder()[0][1](depths=(1, 1))
    with pytest.raises(ValueError, match="width_scale must be a number > 0"):
        LadderNet(width_scale=0)
    with pytest.raises(ValueError, match="config must be a LadderConfig"):
        LadderNet({"depths": (1, 1)})
    with pytest.raises(ValueError, match="too small"):
        convnext_ladder()[-1][1](num_classes=2)(torch.randn(1, 3, 16, 16))
