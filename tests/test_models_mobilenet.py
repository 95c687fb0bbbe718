import math

import pytest
import torch
import torchvision
from torch import nn
from torchvision.ops.misc import Conv2dNormActivation

from cnnbook.models.weights import calibrate_batchnorm

from cnnbook.models import load_torchvision_weights
from cnnbook.models.mobilenet import (
    MOBILENET_V1_BLOCKS,
    MOBILENET_V2_SETTING,
    ConvNormAct,
    DepthwiseSeparable,
    InvertedResidual,
    MobileNetV2,
    MobileNetV3,
    make_divisible,
    mobilenet_v1,
    mobilenet_v2,
    mobilenet_v3_large,
    mobilenet_v3_small,
)
from cnnbook.models.resnet import SqueezeExcitation
from cnnbook.profile import count_params, macs


@pytest.mark.parametrize("value", [1, 3, 7.9, 12, 16, 23.99, 24, 35, 100, 1280 * 0.35, 1280 * 1.4])
@pytest.mark.parametrize("divisor", [1, 4, 8, 16])
def test_make_divisible_matches_torchvision(value, divisor):
    expected = torchvision.models._utils._make_divisible(value, divisor)
    assert make_divisible(value, divisor) == expected
    assert make_divisible(value, divisor) % divisor == 0


def test_make_divisible_never_loses_more_than_ten_percent():
    for tenths in range(10, 4000):
        value = tenths / 10
        assert make_divisible(value, 8) >= 0.9 * value or make_divisible(value, 8) == 8


def test_make_divisible_rejects_bad_input():
    with pytest.raises(ValueError, match="divisor"):
        make_divisible(32, 0)
    with pytest.raises(ValueError, match="value"):
        make_divisible(-1, 8)


def test_conv_norm_act_matches_torchvision_by_name():
    torch.manual_seed(0)
    ours = ConvNormAct(8, 16, 3, stride=2, groups=8, activation=nn.ReLU6).eval()
    theirs = Conv2dNormActivation(8, 16, 3, stride=2, groups=8, activation_layer=nn.ReLU6).eval()
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 8, 9, 9)
    assert torch.equal(ours(x), theirs(x))
    linear = ConvNormAct(16, 4, 1, activation=None)
    assert len(linear) == 2 and linear[0].bias is None


BUILDERS = {"mobilenet_v2": mobilenet_v2, "mobilenet_v3_small": mobilenet_v3_small,
            "mobilenet_v3_large": mobilenet_v3_large}
COUNTS = {"mobilenet_v2": 3_504_872, "mobilenet_v3_small": 2_542_856, "mobilenet_v3_large": 5_483_032}
VARIANTS = [("mobilenet_v2", {}), ("mobilenet_v2", {"width_mult": 0.35}), ("mobilenet_v2", {"width_mult": 1.4}),
            ("mobilenet_v2", {"width_mult": 0.75, "round_nearest": 4, "num_classes": 10}),
            ("mobilenet_v3_small", {}), ("mobilenet_v3_small", {"width_mult": 0.5, "reduced_tail": True}),
            ("mobilenet_v3_large", {}), ("mobilenet_v3_large", {"width_mult": 1.25, "dilated": True}),
            ("mobilenet_v3_large", {"reduced_tail": True, "dilated": True, "dropout": 0.5})]


@pytest.mark.parametrize("name", list(BUILDERS))
def test_counts_equal_torchvision(name):
    with torch.device("meta"):
        ours, theirs = BUILDERS[name](), getattr(torchvision.models, name)()
    assert count_params(ours) == count_params(theirs) == COUNTS[name]


@pytest.mark.parametrize("name,kwargs", VARIANTS)
def test_torchvision_weights_load_for_every_variant(name, kwargs):
    with torch.device("meta"):
        ours, theirs = BUILDERS[name](**kwargs), getattr(torchvision.models, name)(**kwargs)
    assert count_params(ours) == count_params(theirs)
    load_torchvision_weights(ours, theirs)  # strict: every name and shape must match


def _randomise_bn(model: nn.Module, g: torch.Generator) -> None:
    """Random BN scales and shifts, and running statistics taken from a random batch (calibrate_batchnorm)."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(0.5 + torch.rand(m.num_features, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.num_features, generator=g))
    calibrate_batchnorm(model, torch.randn(4, 3, 64, 48, generator=g))


@pytest.mark.parametrize("name,kwargs", [("mobilenet_v2", {}), ("mobilenet_v3_small", {}), ("mobilenet_v3_large", {}),
                                         ("mobilenet_v3_small", {"reduced_tail": True, "dilated": True})])
@torch.no_grad()
def test_same_outputs_as_torchvision(name, kwargs):
    # torch.equal, not allclose: the same weights run through the same ops in the same order, so the logits agree
    # bit for bit on one machine. BN statistics are randomised so that a BN or eps mix-up would show.
    g = torch.Generator().manual_seed(0)
    theirs = getattr(torchvision.models, name)(**kwargs)
    _randomise_bn(theirs, g)
    ours = load_torchvision_weights(BUILDERS[name](**kwargs), theirs).eval()
    x = torch.randn(2, 3, 64, 48, generator=g)
    a, b = ours(x), theirs(x)
    assert a.std() > 1e-3
    assert (a[0] - a[1]).abs().max() > 1e-2 * a.abs().max()  # the logits depend on the input, not only on the biases
    assert torch.equal(a, b)


def test_mobilenet_v1_matches_the_paper_table_4():
    model = mobilenet_v1()
    assert round(count_params(model) / 1e5) == 42  # 4.2 M
    assert round(macs(model, (3, 224, 224)) / 1e6) == 569  # 569 M mult-adds
    by_hand, c = 3 * 32 * 9 + 2 * 32, 32  # stem conv + BN, then per block: 3x3 depthwise + 1x1 pointwise + 2 BNs
    for out, _ in MOBILENET_V1_BLOCKS:
        by_hand += 9 * c + c * out + 2 * (c + out)
        c = out
    assert count_params(model) == by_hand + 1024 * 1000 + 1000


@pytest.mark.parametrize("width,size,mult_adds,params", [
    (0.75, 224, 325, 2.6), (0.5, 224, 149, 1.3), (0.25, 224, 41, 0.5),  # Table 6: width multiplier
    (1.0, 192, 418, 4.2), (1.0, 160, 290, 4.2), (1.0, 128, 186, 4.2),  # Table 7: resolution multiplier
])
def test_mobilenet_v1_width_and_resolution_rows(width, size, mult_adds, params):
    model = mobilenet_v1(width_mult=width)
    assert abs(macs(model, (3, size, size)) / 1e6 - mult_adds) < 1  # the paper rounds; 160 px gives 290.7
    assert round(count_params(model) / 1e6, 1) == params


def test_depthwise_separable_cost():
    standard = nn.Conv2d(512, 512, 3, padding=1, bias=False)
    ds = DepthwiseSeparable(512, 512, norm_layer=None, activation=None)
    assert count_params(standard) == 2_359_296
    assert count_params(ds) == 9 * 512 + 512 * 512 + 2 * 512  # norm_layer=None leaves the convs a bias
    ds_plain = DepthwiseSeparable(512, 512)
    weights = ds_plain.depthwise[0].weight.numel() + ds_plain.pointwise[0].weight.numel()
    assert weights == 266_752 and round(1 - weights / 2_359_296, 3) == 0.887
    assert macs(ds_plain, (512, 14, 14)) == 266_752 * 14 * 14
    assert ds_plain(torch.randn(1, 8 * 64, 7, 7)).shape == (1, 512, 7, 7)
    assert DepthwiseSeparable(4, 6, stride=2)(torch.randn(2, 4, 9, 9)).shape == (2, 6, 5, 5)


def test_inverted_residual_parts_and_shortcut():
    block = InvertedResidual(16, 16, 1, 96)
    assert [n for n, _ in block.named_children()] == ["expand", "depthwise", "project"]
    assert block.use_res_connect and len(block.project) == 2  # linear bottleneck: conv + BN, no activation
    assert isinstance(block.expand[2], nn.ReLU6) and block.depthwise[0].groups == 96
    x = torch.randn(2, 16, 8, 8)
    block.eval()
    with torch.no_grad():
        inner = block.project(block.depthwise(block.expand(x)))
        assert torch.equal(block(x), inner + x)
    down = InvertedResidual(16, 24, 2, 16)
    assert down.expand is None and not down.use_res_connect
    assert down(x).shape == (2, 24, 4, 4)
    v3 = InvertedResidual(40, 40, 1, 120, kernel_size=5, activation=nn.Hardswish, use_se=True)
    assert isinstance(v3.se, SqueezeExcitation) and isinstance(v3.se.scale_activation, nn.Hardsigmoid)
    assert v3.se.fc1.out_channels == make_divisible(120 // 4, 8) == 32
    assert v3.depthwise[0].kernel_size == (5, 5) and isinstance(v3.depthwise[2], nn.Hardswish)
    assert v3(torch.randn(1, 40, 7, 7)).shape == (1, 40, 7, 7)


def test_v2_stages_follow_the_t_c_n_s_table():
    model = mobilenet_v2()
    blocks = [m for m in model.features if isinstance(m, InvertedResidual)]
    assert len(blocks) == sum(n for _, _, n, _ in MOBILENET_V2_SETTING) == 17
    expected = [(c, s if i == 0 else 1) for t, c, n, s in MOBILENET_V2_SETTING for i in range(n)]
    assert [(b.out_channels, b.depthwise[0].stride[0]) for b in blocks] == expected
    assert model.features[-1].out_channels == model.last_channel == 1280


@pytest.mark.parametrize("builder", [mobilenet_v1, mobilenet_v2, mobilenet_v3_small, mobilenet_v3_large])
@pytest.mark.parametrize("size", [32, 57, 96])
def test_shapes_at_several_sizes(builder, size):
    model = builder(num_classes=7, width_mult=0.25).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, size, size)).shape == (2, 7)


def test_small_image_and_channel_errors():
    model = mobilenet_v2(width_mult=0.25).eval()
    assert model.min_input_size == 32 and mobilenet_v3_large(dilated=True).min_input_size == 16
    with pytest.raises(ValueError, match="too small, needs at least 32x32"):
        model(torch.randn(1, 3, 31, 64))
    with pytest.raises(ValueError, match="expected 3 input channels, got 1"):
        model(torch.randn(1, 1, 32, 32))
    with pytest.raises(ValueError, match="too small, needs at least 32x32"):
        mobilenet_v1(width_mult=0.25)(torch.randn(1, 3, 16, 16))
    with pytest.raises(ValueError, match="needs at least 16x16"):  # dilated: the last stage keeps its resolution
        mobilenet_v3_small(width_mult=0.25, dilated=True).eval()(torch.randn(1, 3, 8, 8))
    assert mobilenet_v1(width_mult=0.25, in_channels=1, num_classes=3)(torch.randn(2, 1, 32, 32)).shape == (2, 3)


@pytest.mark.parametrize("builder", [mobilenet_v1, mobilenet_v2, mobilenet_v3_small, mobilenet_v3_large])
def test_construction_errors(builder):
    for bad in (0, -0.5, 0.0):
        with pytest.raises(ValueError, match=r"width_mult must be a number > 0, got"):
            builder(width_mult=bad)
    with pytest.raises(ValueError, match="num_classes must be an integer >= 1, got 0"):
        builder(num_classes=0)
    with pytest.raises(ValueError, match=r"dropout must be a probability in \[0, 1\)"):
        builder(dropout=1.0)


def test_block_and_setting_errors():
    with pytest.raises(ValueError, match="stride must be 1 or 2, got 3"):
        InvertedResidual(8, 8, 3, 48)
    with pytest.raises(ValueError, match="expanded_channels must be an integer >= 1, got 0"):
        InvertedResidual(8, 8, 1, 0)
    with pytest.raises(ValueError, match="in_channels must be an integer >= 1"):
        DepthwiseSeparable(0, 8)
    with pytest.raises(ValueError, match=r"\(t, c, n, s\) rows"):
        MobileNetV2(inverted_residual_setting=[[1, 16, 1]])
    with pytest.raises(ValueError, match="activation must be 'RE'"):
        MobileNetV3([(3, 16, 16, False, "GELU", 1)], 64)


def test_wrong_state_dicts_are_refused_by_name():
    model = mobilenet_v2(width_mult=0.25, num_classes=5)
    tv = torchvision.models.mobilenet_v2(width_mult=0.25, num_classes=5).state_dict()
    load_torchvision_weights(model, tv)
    missing = {k: v for k, v in tv.items() if k != "features.3.conv.2.weight"}
    with pytest.raises(ValueError, match=r"missing.*features\.3\.project\.0\.weight"):
        load_torchvision_weights(mobilenet_v2(width_mult=0.25, num_classes=5), missing)
    extra = dict(tv, **{"features.3.conv.9.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match=r"not in model.*features\.3\.conv\.9\.weight"):
        load_torchvision_weights(mobilenet_v2(width_mult=0.25, num_classes=5), extra)
    wrong = dict(tv, **{"classifier.1.weight": torch.zeros(3, tv["classifier.1.weight"].shape[1])})
    with pytest.raises(ValueError, match=r"shape mismatch.*classifier\.1\.weight"):
        load_torchvision_weights(mobilenet_v2(width_mult=0.25, num_classes=5), wrong)
    with pytest.raises(ValueError, match="not in model"):  # a V3 state_dict is not a V2's
        load_torchvision_weights(mobilenet_v2(), torchvision.models.mobilenet_v3_small().state_dict())


def test_dropout_only_in_training():
    model = mobilenet_v3_small(num_classes=4, width_mult=0.25, dropout=0.5)
    x = torch.randn(2, 3, 32, 32)
    torch.manual_seed(0)
    assert not torch.equal(model(x), model(x))
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


def test_fresh_weights_are_initialised_like_torchvision():
    torch.manual_seed(0)
    model = mobilenet_v2(width_mult=0.5)
    assert abs(model.classifier[1].weight.std().item() - 0.01) < 1e-3
    assert torch.equal(model.features[1].project[1].weight, torch.ones(model.features[1].out_channels))
    fan_out = model.features[0][0].weight.shape[0] * 9
    assert abs(model.features[0][0].weight.std().item() - math.sqrt(2 / fan_out)) < 0.05
