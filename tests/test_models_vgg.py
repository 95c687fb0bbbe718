"""Tests for cnnbook.models.vgg: configurations, equality with torchvision, small variant, bad input."""
import pytest
import torch
import torchvision
from torch import nn
from torchvision.models import vgg as tv_vgg

from cnnbook.models import load_torchvision_weights
from cnnbook.models import vgg as ours_vgg
from cnnbook.models.vgg import VGG, cfgs, make_layers, vgg, vgg11_bn, vgg16
from cnnbook.profile import count_params

BUILDERS = ["vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"]


def test_configurations_match_table_1_of_the_paper():
    weight_layers = {name: sum(not isinstance(s, str) for s in cfg) + 3 for name, cfg in cfgs.items()}
    assert weight_layers == {"A": 11, "A-LRN": 11, "B": 13, "C": 16, "D": 16, "E": 19}
    assert all(cfg.count("M") == 5 for cfg in cfgs.values())
    assert cfgs["A-LRN"][:3] == [64, "LRN", "M"]
    one_by_one = [s for s in cfgs["C"] if isinstance(s, tuple)]
    assert one_by_one == [(256, 1), (512, 1), (512, 1)]
    # C is D with the last conv of blocks 3-5 made 1x1
    assert [s if isinstance(s, (int, str)) else s[0] for s in cfgs["C"]] == cfgs["D"]


def test_make_layers_builds_what_the_configuration_says():
    layers = make_layers("C", batch_norm=True)
    convs = [m for m in layers if isinstance(m, nn.Conv2d)]
    assert [c.kernel_size[0] for c in convs] == [3] * 6 + [1] + [3, 3, 1, 3, 3, 1]
    assert all(c.padding[0] == c.kernel_size[0] // 2 for c in convs)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in layers) == 13
    lrn = make_layers("A-LRN")
    assert isinstance(lrn[2], nn.LocalResponseNorm) and isinstance(lrn[3], nn.MaxPool2d)
    assert [m.out_channels for m in make_layers([8, "M", (4, 1)], in_channels=1) if isinstance(m, nn.Conv2d)] == [8, 4]


@pytest.mark.parametrize("name", BUILDERS)
def test_structure_and_counts_equal_torchvision(name):
    with torch.device("meta"):  # shapes and names only: no memory, no time
        ours, theirs = getattr(ours_vgg, name)(), getattr(torchvision.models, name)()
    a, b = ours.state_dict(), theirs.state_dict()
    assert list(a) == list(b)
    assert all(a[k].shape == b[k].shape for k in a)
    assert count_params(ours) == count_params(theirs)


def test_parameter_counts():
    with torch.device("meta"):
        counts = {name: count_params(vgg(name)) for name in cfgs}
        assert count_params(ours_vgg.vgg16_bn()) == 138_365_992
    assert counts["D"] == 138_357_544
    # Table 2 of the paper, in millions: 133, 133, 134, 138, 144
    millions = {k: round(v / 1e6) for k, v in counts.items()}
    assert millions == {"A": 133, "A-LRN": 133, "B": 133, "C": 134, "D": 138, "E": 144}
    # where VGG-16's parameters live: the first linear layer alone holds 102.8 M of them
    assert 512 * 7 * 7 * 4096 + 4096 == 102_764_544


@pytest.mark.parametrize("name", ["vgg16_bn"])  # the others: same names, shapes (above) and layers (below)
def test_same_outputs_as_torchvision(name):
    torch.manual_seed(0)
    theirs = getattr(torchvision.models, name)(weights=None, init_weights=False).eval()
    for m in theirs.modules():
        if isinstance(m, nn.BatchNorm2d):  # non-trivial statistics and affine parameters
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.1, 0.1)
    with torch.device("meta"):
        ours = getattr(ours_vgg, name)()
    ours = load_torchvision_weights(ours.to_empty(device="cpu"), theirs).eval()  # every tensor overwritten
    with torch.no_grad():
        for side in (64, 40):
            x = torch.randn(1, 3, side, side)
            assert (ours(x) - theirs(x)).abs().max() < 1e-5


@pytest.mark.parametrize("config", ["A", "B", "D", "E"])
def test_features_equal_torchvision_for_every_configuration(config):
    torch.manual_seed(0)
    narrow = [s if isinstance(s, str) else s // 8 for s in cfgs[config]]  # same layers, 1/8 of the channels
    for bn in (False, True):
        theirs = tv_vgg.make_layers(narrow, batch_norm=bn).eval()
        ours = load_torchvision_weights(make_layers(narrow, batch_norm=bn), theirs).eval()
        mine = make_layers(config, batch_norm=bn, width=1 / 8)
        assert [type(m) for m in mine] == [type(m) for m in theirs]
        assert [m.weight.shape for m in mine if isinstance(m, nn.Conv2d)] == [
            m.weight.shape for m in theirs if isinstance(m, nn.Conv2d)
        ]
        x = torch.randn(2, 3, 32, 32)
        with torch.no_grad():
            assert (ours(x) - theirs(x)).abs().max() < 1e-5


def test_strict_loading_names_the_problem():
    with torch.device("meta"):
        plain, with_bn, ten = vgg16(), ours_vgg.vgg16_bn(), vgg16(num_classes=10)
        state = torchvision.models.vgg16().state_dict()
    with pytest.raises(ValueError, match=r"missing from source.*features\.1\.bias"):
        load_torchvision_weights(with_bn, state)
    with pytest.raises(ValueError, match=r"not in model.*extra\.weight"):
        load_torchvision_weights(plain, {**state, "extra.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match=r"shape mismatch.*classifier\.6\.weight"):
        load_torchvision_weights(ten, state)
    smaller = {k: v for k, v in state.items() if k != "classifier.0.bias"}
    with pytest.raises(ValueError, match=r"missing from source \(1\): classifier\.0\.bias"):
        load_torchvision_weights(plain, smaller)


def test_initialisation():
    torch.manual_seed(0)
    model = ours_vgg.vgg11(small_input=True)  # full-size convolutions, a small head
    conv = model.features[-3]  # 512 -> 512, 3x3: fan_out = 512 * 9
    assert conv.weight.std().item() == pytest.approx((2 / (512 * 9)) ** 0.5, rel=0.02)
    assert conv.bias.abs().sum() == 0
    linear = model.classifier[0]
    assert linear.weight.std().item() == pytest.approx(0.01, rel=0.02)
    assert linear.bias.abs().sum() == 0
    bn = vgg11_bn(small_input=True, width=0.25).features[1]
    assert torch.all(bn.weight == 1) and torch.all(bn.bias == 0)


def test_small_input_variant():
    torch.manual_seed(0)
    model = vgg11_bn(num_classes=10, in_channels=1, width=0.25, small_input=True).eval()
    assert [m.out_channels for m in model.features if isinstance(m, nn.Conv2d)] == [16, 32, 64, 64, 128, 128, 128, 128]
    assert model.classifier[0].in_features == 128 and model.classifier[3].out_features == 128
    with torch.no_grad():
        assert model.features(torch.randn(2, 1, 32, 32)).shape == (2, 128, 1, 1)
        assert model(torch.randn(2, 1, 32, 32)).shape == (2, 10)
        with pytest.raises(ValueError, match="input 28x28 too small, needs at least 32x32"):
            model(torch.randn(2, 1, 28, 28))


def test_min_input_size_is_exact():
    model = vgg(["M"] * 2 + [4] + ["M"] * 3, width=1.0, small_input=True, num_classes=2).eval()
    assert model.min_size == 32
    with torch.no_grad():
        model(torch.randn(1, 3, 32, 32))
        with pytest.raises(ValueError, match="input 31x32 too small"):
            model(torch.randn(1, 3, 31, 32))
        model.min_size = 0
        with pytest.raises(RuntimeError):
            model(torch.randn(1, 3, 31, 32))


def test_bad_arguments_and_input_raise_value_error():
    with pytest.raises(ValueError, match="unknown VGG configuration 'F'"):
        vgg("F")
    with pytest.raises(ValueError, match="a VGG layer is an int"):
        make_layers([64, "X"])
    with pytest.raises(ValueError, match="a VGG layer is an int"):
        make_layers([(64, 3, 1)])
    with pytest.raises(ValueError, match="at least one convolution"):
        make_layers(["M"])
    with pytest.raises(ValueError, match="at least one nn.Conv2d"):
        VGG(nn.Sequential(nn.ReLU()))
    with pytest.raises(ValueError, match="num_classes must be an integer >= 1, got 0"):
        vgg11_bn(num_classes=0, width=0.25, small_input=True)
    with pytest.raises(ValueError, match="width must be a number > 0"):
        vgg16(width=-1)
    model = vgg11_bn(num_classes=10, width=0.25, small_input=True)
    with pytest.raises(ValueError, match="expected 3 input channels, got 1"):
        model(torch.randn(1, 1, 32, 32))


def test_paper_only_configurations_run_and_builders_are_exported():
    import cnnbook.models as package

    with torch.no_grad():
        for config in ("A-LRN", "C"):
            model = vgg(config, num_classes=5, width=1 / 8, small_input=True).eval()
            assert model(torch.randn(1, 3, 32, 32)).shape == (1, 5)
    assert all(getattr(package, name) is getattr(ours_vgg, name) for name in BUILDERS + ["VGG"])
