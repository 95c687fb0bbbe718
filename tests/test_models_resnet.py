import pytest
import torch
import torchvision
from torch import nn

from cnnbook.models import (
    BasicBlock,
    Bottleneck,
    PlainBlock,
    PreActBasicBlock,
    PreActBottleneck,
    ResNet,
    SqueezeExcitation,
    ZeroPadShortcut,
    cifar_resnet,
    load_torchvision_weights,
    resnet18,
    resnet34,
    resnet50,
    resnet101,
    resnet152,
    resnext50_32x4d,
)
from cnnbook.profile import count_params

BUILDERS = {
    "resnet18": resnet18,
    "resnet34": resnet34,
    "resnet50": resnet50,
    "resnet101": resnet101,
    "resnet152": resnet152,
    "resnext50_32x4d": resnext50_32x4d,
}


def randomize_norms(model: nn.Module) -> None:
    """Give every BN non-trivial statistics and affine parameters, so a misplaced BN changes the output."""
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(0.1 * torch.randn(c, generator=g))
            m.running_var.copy_(0.5 + torch.rand(c, generator=g))
            m.weight.data.copy_(0.5 + torch.rand(c, generator=g))
            m.bias.data.copy_(0.1 * torch.randn(c, generator=g))


@torch.no_grad()
def assert_same_outputs(ours: nn.Module, theirs: nn.Module, size: int = 64) -> None:
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(1))
    a, b = ours.eval()(x), theirs.eval()(x)
    assert a.std() > 1e-3  # a non-degenerate output, so the comparison means something
    assert (a - b).abs().max().item() < 1e-5


# Parameter counts of torchvision 0.29 (and of the papers' tables, rounded there).
COUNTS = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "resnext50_32x4d": 25_028_904,
}


@pytest.mark.parametrize("name", list(BUILDERS))
def test_same_names_shapes_and_counts_as_torchvision(name):
    with torch.device("meta"):  # no memory, no initialisation: names and shapes only
        theirs = getattr(torchvision.models, name)(weights=None)
        ours = BUILDERS[name]()
    assert count_params(ours) == count_params(theirs) == COUNTS[name]
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}
    assert list(ours.state_dict()) == list(theirs.state_dict())  # identical names, no renames needed
    load_torchvision_weights(ours, theirs)


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "resnext50_32x4d"])  # one per block family
def test_same_outputs_as_torchvision(name):
    torch.manual_seed(0)
    theirs = getattr(torchvision.models, name)(weights=None)
    randomize_norms(theirs)
    ours = load_torchvision_weights(BUILDERS[name](), theirs)
    assert_same_outputs(ours, theirs)


def test_dilation_and_zero_init_match_torchvision():
    kwargs = dict(replace_stride_with_dilation=[False, True, True], zero_init_residual=True)
    torch.manual_seed(0)
    theirs = torchvision.models.resnet.ResNet(torchvision.models.resnet.Bottleneck, [1, 1, 2, 1], **kwargs)
    ours = ResNet(Bottleneck, [1, 1, 2, 1], **kwargs)
    zero = {k for k, v in ours.state_dict().items() if k.endswith("weight") and not v.any()}
    assert zero == {k for k, v in theirs.state_dict().items() if k.endswith("weight") and not v.any()}
    assert len(zero) == 5 and all(k.endswith("bn3.weight") for k in zero)
    assert ours.layer4[0].conv2.dilation == (2, 2) and ours.layer4[0].conv2.stride == (1, 1)
    randomize_norms(theirs)
    load_torchvision_weights(ours, theirs)
    assert_same_outputs(ours, theirs, size=32)


def test_zero_init_makes_basic_blocks_start_as_identity():
    model = resnet18(zero_init_residual=True).eval()
    block = model.layer1[0]
    assert not block.bn2.weight.any()
    x = torch.rand(1, 64, 8, 8)
    assert torch.equal(block(x), x)


def test_wrong_state_dicts_are_refused_by_name():
    def small(**kwargs):
        return resnet18(width=8, **kwargs)  # torchvision's names, a fraction of the weights

    state = small().state_dict()
    missing = {k: v for k, v in state.items() if k != "layer2.0.downsample.1.weight"}
    with pytest.raises(ValueError, match=r"missing.*layer2\.0\.downsample\.1\.weight"):
        load_torchvision_weights(small(), missing)
    extra = dict(state, **{"layer5.0.conv1.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match=r"not in model.*layer5\.0\.conv1\.weight"):
        load_torchvision_weights(small(), extra)
    wrong = dict(state, **{"fc.weight": torch.zeros(10, 64)})
    with pytest.raises(ValueError, match=r"shape mismatch.*fc\.weight.*\(1000, 64\).*\(10, 64\)"):
        load_torchvision_weights(small(), wrong)
    with pytest.raises(ValueError, match="missing"):
        load_torchvision_weights(small(num_classes=10), {})


@pytest.mark.parametrize("size", [32, 100, 224])
def test_imagenet_shapes(size):
    model = resnet18(num_classes=7).eval()
    shapes = {}
    hooks = [getattr(model, n).register_forward_hook(lambda m, i, o, n=n: shapes.__setitem__(n, o.shape))
             for n in ("maxpool", "layer1", "layer4")]
    with torch.no_grad():
        out = model(torch.randn(1, 3, size, size))
    for h in hooks:
        h.remove()
    assert out.shape == (1, 7)
    quarter = -(-size // 4)
    assert shapes["layer1"] == (1, 64, quarter, quarter)
    assert shapes["layer4"][1] == 512
    if size == 224:
        assert shapes["layer4"] == (1, 512, 7, 7)


@pytest.mark.parametrize("size", [28, 32])
def test_small_input_variants(size):
    torch.manual_seed(0)
    digits = resnet18(num_classes=10, small_input=True, in_channels=1, width=8).eval()
    assert isinstance(digits.maxpool, nn.Identity) and digits.conv1.kernel_size == (3, 3)
    assert digits.conv1.stride == (1, 1) and digits.fc.in_features == 64
    shapes = {}
    digits.layer1.register_forward_hook(lambda m, i, o: shapes.__setitem__("layer1", o.shape))
    with torch.no_grad():
        assert digits(torch.randn(2, 1, size, size)).shape == (2, 10)
    assert shapes["layer1"] == (2, 8, size, size)  # the small stem keeps full resolution
    with torch.no_grad():
        assert cifar_resnet(20, in_channels=1).eval()(torch.randn(2, 1, size, size)).shape == (2, 10)


def test_small_bottleneck_network():
    model = resnet50(num_classes=5, small_input=True, width=8).eval()
    assert model.fc.in_features == 8 * 8 * 4
    with torch.no_grad():
        assert model(torch.randn(1, 3, 32, 32)).shape == (1, 5)


def test_cifar_resnet_layout_and_hand_count():
    model = cifar_resnet(20)
    assert [len(getattr(model, f"layer{i}")) for i in (1, 2, 3)] == [3, 3, 3]
    assert not hasattr(model, "layer4")
    assert [getattr(model, f"layer{i}")[0].conv1.out_channels for i in (1, 2, 3)] == [16, 32, 64]
    convs = 9 * 3 * 16 + 6 * 9 * 16 * 16 + (9 * 16 * 32 + 5 * 9 * 32 * 32) + (9 * 32 * 64 + 5 * 9 * 64 * 64)
    bns = 2 * 16 * 7 + 2 * 32 * 6 + 2 * 64 * 6
    assert count_params(model) == convs + bns + 64 * 10 + 10 == 269_722  # the paper's "0.27M"
    assert count_params(cifar_resnet(56)) == 853_018 and count_params(cifar_resnet(110)) == 1_727_962


def test_plain_network_has_no_shortcut():
    torch.manual_seed(0)
    residual, plain = cifar_resnet(20), cifar_resnet(20, plain=True)
    assert count_params(plain) == count_params(residual)
    assert list(plain.state_dict()) == list(residual.state_dict())
    assert all(isinstance(b, PlainBlock) and b.downsample is None for b in plain.modules() if isinstance(b, BasicBlock))
    assert sum(isinstance(m, ZeroPadShortcut) for m in residual.modules()) == 2
    plain.load_state_dict(residual.state_dict())
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert not torch.allclose(plain.eval()(x), residual.eval()(x), atol=1e-3)
    projection = cifar_resnet(20, shortcut="projection")
    assert count_params(projection) - count_params(residual) == (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)


def test_plain_and_basic_block_outputs_by_hand():
    torch.manual_seed(0)
    basic, plain = BasicBlock(8, 8).eval(), PlainBlock(8, 8).eval()
    plain.load_state_dict(basic.state_dict())
    branch = {}
    basic.bn2.register_forward_hook(lambda m, i, o: branch.__setitem__("f", o.clone()))
    x = torch.rand(1, 8, 6, 6)
    with torch.no_grad():
        out_basic, out_plain = basic(x), plain(x)
    assert torch.allclose(out_basic, torch.relu(branch["f"] + x))
    assert torch.allclose(out_plain, torch.relu(branch["f"]))


def test_resnet18_plain_count_is_without_projections():
    diff = count_params(resnet18()) - count_params(resnet18(block="plain"))
    assert diff == (64 * 128 + 2 * 128) + (128 * 256 + 2 * 256) + (256 * 512 + 2 * 512)


def test_squeeze_excitation_matches_torchvision_ops():
    torch.manual_seed(0)
    ours = SqueezeExcitation(64, reduction=16)
    theirs = torchvision.ops.SqueezeExcitation(64, 4)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 64, 5, 5)
    assert torch.allclose(ours(x), theirs(x))
    assert count_params(ours) == 2 * 64 * 4 + 4 + 64


def test_squeeze_excitation_with_explicit_squeeze_and_activations_matches_torchvision_ops():
    torch.manual_seed(0)
    ours = SqueezeExcitation(96, squeeze_channels=24, activation=nn.SiLU, scale_activation=nn.Hardsigmoid)
    theirs = torchvision.ops.SqueezeExcitation(96, 24, activation=nn.SiLU, scale_activation=nn.Hardsigmoid)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 96, 3, 3)
    assert torch.equal(ours(x), theirs(x))
    with pytest.raises(ValueError, match="squeeze_channels"):
        SqueezeExcitation(96, squeeze_channels=0)


def test_se_adds_the_expected_parameters():
    def se(c: int, r: int = 16) -> int:
        return 2 * c * (c // r) + c // r + c

    with torch.device("meta"):
        plain18, se18, plain50, se50 = resnet18(), resnet18(se_reduction=16), resnet50(), resnet50(se_reduction=16)
    assert count_params(se18) - count_params(plain18) == 2 * sum(se(c) for c in (64, 128, 256, 512))
    blocks50 = [(3, 256), (4, 512), (6, 1024), (3, 2048)]
    assert count_params(se50) - count_params(plain50) == sum(n * se(c) for n, c in blocks50)
    assert count_params(se50) == 28_088_024  # about 2.5 M more than ResNet-50, as Hu et al. say


def test_se_gate_acts_before_the_addition():
    block = BasicBlock(8, 8, se_reduction=4).eval()
    nn.init.zeros_(block.se.fc2.weight)
    nn.init.constant_(block.se.fc2.bias, -100.0)  # gate ~ 0: the residual branch is switched off
    x = torch.rand(1, 8, 5, 5)
    with torch.no_grad():
        assert torch.allclose(block(x), x)
    bottleneck = Bottleneck(64, 16, se_reduction=16)
    assert bottleneck.se.fc1.in_channels == 64 and bottleneck.se.fc1.out_channels == 4


def test_preact_block_ordering():
    torch.manual_seed(0)
    block = PreActBasicBlock(4, 8, stride=2, downsample=nn.Sequential(nn.Conv2d(4, 8, 1, stride=2, bias=False)))
    block.eval()
    calls, inputs = [], {}

    def record(name):
        def hook(module, args, output):
            calls.append(name)
            inputs[name] = args[0].clone()
        return hook

    for name in ("bn1", "conv1", "bn2", "conv2", "downsample"):
        getattr(block, name).register_forward_hook(record(name))
    x = torch.randn(1, 4, 8, 8)
    with torch.no_grad():
        out = block(x)
    assert calls.index("bn1") < calls.index("conv1") < calls.index("bn2") < calls.index("conv2")
    assert (inputs["conv1"] >= 0).all() and (inputs["conv2"] >= 0).all()  # ReLU before each conv
    assert torch.equal(inputs["downsample"], inputs["conv1"])  # the projection sees the pre-activated input
    assert (out < 0).any()  # nothing after the addition
    bottleneck = PreActBottleneck(16, 4)
    assert [n for n, _ in bottleneck.named_children()][:6] == ["bn1", "conv1", "bn2", "conv2", "bn3", "conv3"]
    assert bottleneck.bn1.num_features == 16


def test_preact_networks_build_and_run():
    model = resnet18(num_classes=3, block="preact_basic").eval()
    assert isinstance(model.final_bn, nn.BatchNorm2d) and model.final_bn.num_features == 512
    assert isinstance(model.layer2[0].downsample[0], nn.Conv2d) and len(model.layer2[0].downsample) == 1
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 3)
    deep = cifar_resnet(29, block=PreActBottleneck).eval()  # 9n+2 with bottlenecks
    assert len(deep.layer1) == 3 and deep.fc.in_features == 256
    with torch.no_grad():
        assert deep(torch.randn(1, 3, 32, 32)).shape == (1, 10)
    assert resnet18().final_bn is None
    zero = resnet18(block="preact_basic", zero_init_residual=True)
    assert not zero.layer1[0].conv2.weight.any()


def test_zero_pad_shortcut():
    x = torch.arange(2 * 2 * 4 * 4, dtype=torch.float32).reshape(2, 2, 4, 4)
    out = ZeroPadShortcut(2, 3)(x)
    assert out.shape == (2, 5, 2, 2)
    assert torch.equal(out[:, :2], x[:, :, ::2, ::2]) and not out[:, 2:].any()
    odd = ZeroPadShortcut(2, 0)(torch.randn(1, 1, 7, 7))
    assert odd.shape == (1, 1, 4, 4)  # same rounding as a 3x3/2 padded conv
    with pytest.raises(ValueError, match="stride >= 1"):
        ZeroPadShortcut(0, 1)


def test_width_and_norm_layer_options():
    model = resnet18(width=16, norm_layer=lambda c: nn.GroupNorm(2, c), num_classes=4)
    assert [getattr(model, f"layer{i}")[0].conv2.out_channels for i in (1, 2, 3, 4)] == [16, 32, 64, 128]
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 4)
    custom = ResNet(Bottleneck, [1, 1], num_classes=2, width=8, groups=2, width_per_group=32)
    assert custom.layer1[0].conv2.groups == 2 and custom.layer1[0].conv2.out_channels == 8
    assert custom.fc.in_features == 64


def test_forward_input_errors():
    model = resnet18(num_classes=2)
    with pytest.raises(ValueError, match="expected 3 input channels, got 1"):
        model(torch.randn(1, 1, 32, 32))
    with pytest.raises(ValueError, match="4-D batch"):
        model(torch.randn(3, 32, 32))
    with pytest.raises(ValueError, match="expected 1 input channels, got 3"):
        cifar_resnet(20, in_channels=1)(torch.randn(1, 3, 28, 28))


def test_construction_errors():
    with pytest.raises(ValueError, match=r"depth must be 6n\+2.*got 21"):
        cifar_resnet(21)
    with pytest.raises(ValueError, match=r"depth must be 6n\+2"):
        cifar_resnet(2)
    with pytest.raises(ValueError, match=r"depth must be 9n\+2.*got 21"):
        cifar_resnet(21, block="preact_bottleneck")
    with pytest.raises(ValueError, match="not both"):
        cifar_resnet(20, plain=True, block="basic")
    with pytest.raises(ValueError, match="num_classes must be an integer >= 1, got 0"):
        resnet18(num_classes=0)
    with pytest.raises(ValueError, match="unknown block 'inception'"):
        resnet18(block="inception")
    with pytest.raises(ValueError, match="unknown block"):
        ResNet(nn.Conv2d, [2, 2])
    with pytest.raises(ValueError, match="layers must be a non-empty"):
        ResNet("basic", [])
    with pytest.raises(ValueError, match="every entry of layers"):
        ResNet("basic", [2, 0])
    with pytest.raises(ValueError, match="replace_stride_with_dilation needs 3 entries"):
        resnet50(replace_stride_with_dilation=[True])
    with pytest.raises(ValueError, match="groups=1 and width_per_group=64"):
        resnet18(groups=32)
    with pytest.raises(ValueError, match="dilation"):
        resnet18(replace_stride_with_dilation=[False, False, True])
    with pytest.raises(ValueError, match="zero_init_residual needs residual blocks"):
        cifar_resnet(20, plain=True, zero_init_residual=True)
    with pytest.raises(ValueError, match="shortcut must be"):
        resnet18(shortcut="identity")
    with pytest.raises(ValueError, match="se_reduction"):
        resnet18(se_reduction=0)
    with pytest.raises(ValueError, match="width must be"):
        resnet18(width=0)
    with pytest.raises(ValueError, match="no downsample"):
        PlainBlock(8, 16, 2, nn.Identity())
    with pytest.raises(ValueError, match="reduction"):
        SqueezeExcitation(8, 0)
