"""Tests for cnnbook.models.googlenet: equality with torchvision, the Inception modules, small variant, bad input."""
import pytest
import torch
import torchvision
from torch import nn

from cnnbook.models import load_torchvision_weights
from cnnbook.models._checks import layer_output_size, min_input_size
from cnnbook.models.googlenet import (
    GoogLeNet,
    GoogLeNetOutputs,
    Inception,
    InceptionAux,
    NaiveInception,
    googlenet,
    inception_stack,
)
from cnnbook.profile import count_params


def _torchvision_version() -> tuple[int, int]:
    major, minor = torchvision.__version__.split(".")[:2]
    return int(major), int(minor)


def torchvision_googlenet(aux_logits: bool, **kwargs) -> nn.Module:
    torch.manual_seed(0)
    model = torchvision.models.googlenet(weights=None, aux_logits=aux_logits, init_weights=False, **kwargs)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):  # non-trivial statistics and affine parameters
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.1, 0.1)
    return model


@pytest.mark.parametrize("aux_logits", [True, False])
def test_same_network_as_torchvision(aux_logits):
    theirs = torchvision_googlenet(aux_logits).eval()
    ours = load_torchvision_weights(googlenet(aux_logits=aux_logits, init_weights=False), theirs).eval()
    assert count_params(ours) == count_params(theirs) == (13_004_888 if aux_logits else 6_624_904)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    with torch.no_grad():
        for side in (224, 96):
            x = torch.randn(1, 3, side, side)
            assert (ours(x) - theirs(x)).abs().max() < 1e-5


def test_training_outputs_and_transform_input_equal_torchvision():
    theirs = torchvision_googlenet(True, transform_input=True, dropout=0.0, dropout_aux=0.0).train()
    ours = googlenet(transform_input=True, init_weights=False, dropout=0.0, dropout_aux=0.0)
    load_torchvision_weights(ours, theirs).train()
    x = torch.randn(2, 3, 64, 64)
    a, b = ours(x), theirs(x)
    assert isinstance(a, GoogLeNetOutputs) and a._fields == ("logits", "aux_logits2", "aux_logits1")
    if _torchvision_version() < (0, 21):  # torchvision <= 0.20 returned the two auxiliary outputs swapped
        b = (b[0], b[2], b[1])           # (pytorch/vision#8736, fixed in 0.21)
    for mine, tv in zip(a, b):
        assert mine.shape == (2, 1000)
        assert (mine - tv).abs().max() < 1e-4
    ours.eval()
    with torch.no_grad():
        assert isinstance(ours(x), torch.Tensor)
    no_aux = googlenet(aux_logits=False, num_classes=10, width=0.25, small_input=True, init_weights=False).train()
    assert isinstance(no_aux(torch.randn(2, 3, 32, 32)), torch.Tensor)


def test_strict_loading_names_the_problem():
    with torch.device("meta"):
        no_aux_state = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=False).state_dict()
        with_aux = googlenet(init_weights=False)
        paper_5x5 = googlenet(aux_logits=False, branch3_kernel=5, init_weights=False)
        ten = googlenet(aux_logits=False, num_classes=10, init_weights=False)
        no_aux = googlenet(aux_logits=False, init_weights=False)
    with pytest.raises(ValueError, match=r"missing from source \(20\): aux1\.conv\.bn\.bias"):
        load_torchvision_weights(with_aux, no_aux_state)
    five = r"shape mismatch \(9\): inception3a\.branch3\.1\.conv\.weight: model expects \(32, 16, 5, 5\)"
    with pytest.raises(ValueError, match=five):
        load_torchvision_weights(paper_5x5, no_aux_state)
    with pytest.raises(ValueError, match=r"shape mismatch.*fc\.weight"):
        load_torchvision_weights(ten, no_aux_state)
    with pytest.raises(ValueError, match=r"not in model.*aux9\.weight"):
        load_torchvision_weights(no_aux, {**no_aux_state, "aux9.weight": torch.zeros(1)})


def test_inception_3a_maps_192_channels_to_256():
    torch.manual_seed(0)
    module = Inception(192, 64, 96, 128, 16, 32, 32)
    assert module.out_channels == 256
    assert module(torch.randn(1, 192, 28, 28)).shape == (1, 256, 28, 28)
    conv_bn = lambda cin, cout, k: cin * cout * k * k + 2 * cout  # noqa: E731  (no conv bias, BN has 2 per map)
    by_hand = (
        conv_bn(192, 64, 1)
        + conv_bn(192, 96, 1) + conv_bn(96, 128, 3)
        + conv_bn(192, 16, 1) + conv_bn(16, 32, 3)
        + conv_bn(192, 32, 1)
    )
    assert count_params(module) == by_hand == 155_872
    reference = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=False).inception3a
    assert count_params(reference) == by_hand
    paper = Inception(192, 64, 96, 128, 16, 32, 32, branch3_kernel=5)
    assert paper.branch3[1].conv.weight.shape == (32, 16, 5, 5)
    assert count_params(paper) == by_hand + 16 * 32 * (25 - 9)


def test_naive_inception_blows_up_channels_and_cost():
    naive = NaiveInception(192, 64, 128, 32)
    assert naive.out_channels == 64 + 128 + 32 + 192 == 416
    assert naive(torch.randn(1, 192, 8, 8)).shape == (1, 416, 8, 8)
    weights = 192 * (64 * 1 + 128 * 9 + 32 * 25)  # the k x k branch defaults to the paper's 5x5
    assert count_params(naive) == weights + 2 * (64 + 128 + 32)
    reduced = Inception(192, 64, 96, 128, 16, 32, 32, branch3_kernel=5)
    assert count_params(reduced) < 0.5 * count_params(naive)
    with torch.device("meta"):
        assert count_params(googlenet(naive=True, init_weights=False)) == 77_049_496  # vs 13,004,888 with reductions


def test_inception_aux_head():
    aux = InceptionAux(512, 1000)
    assert count_params(aux) == 512 * 128 + 2 * 128 + 2048 * 1024 + 1024 + 1024 * 1000 + 1000
    assert aux.eval()(torch.randn(2, 512, 14, 14)).shape == (2, 1000)


def test_initialisation():
    torch.manual_seed(0)
    model = googlenet(width=0.5)
    weights = torch.cat([m.weight.flatten() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))])
    assert weights.abs().max() <= 0.02  # cut at two standard deviations
    assert weights.std().item() == pytest.approx(0.01 * 0.88, rel=0.02)  # std of N(0, 1) cut at +-2 is 0.88
    assert all(m.bias.abs().sum() == 0 for m in model.modules() if isinstance(m, nn.Linear))


def test_small_input_variant():
    torch.manual_seed(0)
    model = googlenet(num_classes=10, in_channels=1, small_input=True, width=0.25)
    assert model.inception3a.out_channels == 64
    model.eval()
    with torch.no_grad():
        for side in (28, 32):
            assert model(torch.randn(2, 1, side, side)).shape == (2, 10)
    logits, aux2, aux1 = model.train()(torch.randn(2, 1, 32, 32))
    assert logits.shape == aux1.shape == aux2.shape == (2, 10)


def test_min_input_size_is_exact():
    model = googlenet(aux_logits=False, width=0.25, init_weights=False).eval()
    assert model.min_size == 15  # torchvision's documented minimum
    with torch.no_grad():
        model(torch.randn(1, 3, 15, 15))
        with pytest.raises(ValueError, match="input 14x15 too small, needs at least 15x15"):
            model(torch.randn(1, 3, 14, 15))
        model.min_size = 0
        with pytest.raises(RuntimeError):
            model(torch.randn(1, 3, 14, 15))


def test_layer_output_size_agrees_with_torch_by_brute_force():
    layers = [
        nn.Conv2d(1, 1, 7, stride=2, padding=3),
        nn.Conv2d(1, 1, 3, stride=1, padding=2, dilation=2),
        nn.MaxPool2d(3, stride=2, ceil_mode=True),
        nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
        nn.MaxPool2d(2, stride=2, ceil_mode=False),
        nn.AvgPool2d(3, stride=2, ceil_mode=True),
        nn.MaxPool2d(2, stride=2, padding=1, ceil_mode=True),  # a last window that would start in the padding
        nn.MaxPool2d(3, stride=3, padding=1, ceil_mode=True),
    ]
    for layer in layers:
        for size in range(1, 20):
            try:
                expected = layer(torch.zeros(1, 1, size, size)).shape[-1]
            except RuntimeError:
                expected = 0
            assert max(layer_output_size(size, layer), 0) == expected, (layer, size)
        assert layer_output_size(size, nn.ReLU()) == size
    stack = nn.Sequential(*layers[:4])
    fits = [s for s in range(1, 40) if _runs(stack, s)]
    assert min_input_size(stack) == fits[0] and fits == list(range(fits[0], 40))


def _runs(module: nn.Module, size: int) -> bool:
    try:
        module(torch.zeros(1, 1, size, size))
    except RuntimeError:
        return False
    return True


def test_bad_arguments_and_input_raise_value_error():
    with pytest.raises(ValueError, match="num_classes must be an integer >= 1, got 0"):
        googlenet(num_classes=0)
    with pytest.raises(ValueError, match="width must be a number > 0"):
        googlenet(width=0)
    with pytest.raises(ValueError, match="needs in_channels=3, got 1"):
        GoogLeNet(in_channels=1, transform_input=True)
    with pytest.raises(ValueError, match="branch3_kernel must be 3"):
        googlenet(branch3_kernel=7)
    with pytest.raises(ValueError, match="ch3x3red must be an integer >= 1"):
        Inception(192, 64, 0, 128, 16, 32, 32)
    model = googlenet(num_classes=10, small_input=True, width=0.25, init_weights=False).eval()
    with pytest.raises(ValueError, match="expected 3 input channels, got 1"):
        model(torch.randn(1, 1, 32, 32))
    with pytest.raises(ValueError, match="4-D batch"):
        model(torch.randn(3, 32, 32))


def test_exported_from_the_package():
    import cnnbook.models as package

    for obj in (GoogLeNet, GoogLeNetOutputs, Inception, InceptionAux, NaiveInception, googlenet):
        assert getattr(package, obj.__name__) is obj


def test_inception_stack_stems_and_equal_macs():
    from cnnbook.profile import macs

    x = torch.randn(2, 3, 32, 32)
    for stride, side in ((2, 8), (1, 16)):
        net = inception_stack(0.25, stem_stride=stride).eval()
        maps = net[:3](x)   # stem conv, pool, inception 3a
        assert maps.shape[-1] == side and net(x).shape == (2, 10)
    reduced, naive = inception_stack(0.25), inception_stack(0.1, naive=True)
    assert isinstance(naive[2], NaiveInception) and isinstance(reduced[2], Inception)
    assert abs(macs(naive, (3, 32, 32)) / macs(reduced, (3, 32, 32)) - 1) < 0.05  # the ablation's equal compute
    with pytest.raises(ValueError, match="stem_stride"):
        inception_stack(0.25, stem_stride=3)
    with pytest.raises(ValueError, match="width"):
        inception_stack(0)
