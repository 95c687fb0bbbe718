"""Tests for cnnbook.models.alexnet: equality with torchvision, the paper's form, small variant, bad input."""
import pytest
import torch
import torchvision
from torch import nn

from cnnbook.models import load_torchvision_weights
from cnnbook.models.alexnet import PAPER_CHANNELS, TORCHVISION_CHANNELS, AlexNet, alexnet, paper_lrn
from cnnbook.profile import count_params


@pytest.fixture(scope="module")
def pair():
    torch.manual_seed(0)
    theirs = torchvision.models.alexnet(weights=None).eval()
    ours = load_torchvision_weights(alexnet(), theirs).eval()
    return ours, theirs


def test_same_network_as_torchvision(pair):
    ours, theirs = pair
    assert count_params(ours) == count_params(theirs) == 61_100_840
    assert list(ours.state_dict()) == list(theirs.state_dict())
    with torch.no_grad():
        for side in (224, 256, 64):
            x = torch.randn(1, 3, side, side)
            assert (ours(x) - theirs(x)).abs().max() < 1e-5


def test_strict_loading_names_the_problem(pair):
    ours, theirs = pair
    state = dict(theirs.state_dict())
    missing = {k: v for k, v in state.items() if k != "classifier.6.bias"}
    with torch.device("meta"):  # the checks run before any copy, so shapes are all they need
        fresh, ten_classes = alexnet(), alexnet(num_classes=10)
    with pytest.raises(ValueError, match=r"missing from source.*classifier\.6\.bias"):
        load_torchvision_weights(fresh, missing)
    with pytest.raises(ValueError, match=r"not in model.*features\.99\.weight"):
        load_torchvision_weights(fresh, {**state, "features.99.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match=r"shape mismatch.*classifier\.6\.weight"):
        load_torchvision_weights(ten_classes, state)


def test_shapes_224_to_55_27_13_6(pair):
    ours, _ = pair
    sizes = []
    for layer in ours.features:
        if isinstance(layer, (nn.Conv2d, nn.MaxPool2d)):
            layer.register_forward_hook(lambda m, i, o: sizes.append(o.shape[-1]))
    with torch.no_grad():
        assert ours(torch.randn(1, 3, 224, 224)).shape == (1, 1000)
    # conv1, pool1, conv2, pool2, conv3, conv4, conv5, pool3
    assert sizes == [55, 27, 27, 13, 13, 13, 13, 6]


def test_paper_form_has_60_965_224_parameters():
    model = alexnet(channels=PAPER_CHANNELS, groups=2, lrn=True)
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert [c.groups for c in convs] == [1, 2, 1, 2, 2]
    assert tuple(convs[1].weight.shape) == (256, 48, 5, 5)  # 48 input maps per GPU
    by_hand = (
        96 * 3 * 11 * 11 + 96
        + 256 * 48 * 25 + 256
        + 384 * 256 * 9 + 384
        + 384 * 192 * 9 + 384
        + 256 * 192 * 9 + 256
        + 9216 * 4096 + 4096
        + 4096 * 4096 + 4096
        + 4096 * 1000 + 1000
    )
    assert count_params(model) == by_hand == 60_965_224
    with torch.no_grad():
        assert model.eval()(torch.randn(1, 3, 224, 224)).shape == (1, 1000)


def test_grouped_conv_is_two_independent_towers():
    torch.manual_seed(0)
    model = alexnet(groups=2, width=0.25, small_input=True, num_classes=10)
    conv2 = model.features[3]
    x = torch.randn(1, conv2.in_channels, 8, 8, requires_grad=True)
    (grad,) = torch.autograd.grad(conv2(x)[0, 0].sum(), x)  # the first output map lives on "GPU 1"
    half = conv2.in_channels // 2
    assert grad[0, :half].abs().sum() > 0 and grad[0, half:].abs().sum() == 0


def test_lrn_follows_the_paper_formula():
    torch.manual_seed(0)
    a = torch.rand(2, 12, 4, 4) * 10
    k, n, alpha, beta = 2.0, 5, 1e-4, 0.75
    expected = torch.empty_like(a)
    for c in range(12):
        window = a[:, max(0, c - n // 2) : min(12, c + n // 2 + 1)]
        expected[:, c] = a[:, c] / (k + alpha * (window**2).sum(dim=1)) ** beta
    assert torch.allclose(paper_lrn()(a), expected, atol=1e-6)


def test_lrn_and_activation_options():
    model = alexnet(lrn=True, activation="tanh")
    kinds = [type(m).__name__ for m in model.features]
    assert kinds[:4] == ["Conv2d", "Tanh", "LocalResponseNorm", "MaxPool2d"]
    assert kinds[4:8] == ["Conv2d", "Tanh", "LocalResponseNorm", "MaxPool2d"]
    assert not any(isinstance(m, nn.ReLU) for m in model.modules())
    assert sum(isinstance(m, nn.Tanh) for m in model.modules()) == 7
    assert count_params(model) == 61_100_840  # LRN has no parameters


def test_small_input_variant_on_28_and_32():
    torch.manual_seed(0)
    model = alexnet(num_classes=10, in_channels=1, small_input=True, width=0.25).eval()
    assert model.channels == (16, 48, 96, 64, 64)
    with torch.no_grad():
        for side in (28, 32):
            assert model.features(torch.randn(2, 1, side, side)).shape == (2, 64, 4, 4)
            assert model(torch.randn(2, 1, side, side)).shape == (2, 10)
    assert model.classifier[1].in_features == 64 * 4 * 4
    assert model.classifier[1].out_features == 1024


def test_min_input_size_is_exact(pair):
    ours, _ = pair
    assert ours.min_size == 63  # torchvision's documented minimum
    with torch.no_grad():
        ours(torch.randn(1, 3, 63, 63))
        with pytest.raises(ValueError, match="input 62x62 too small, needs at least 63x63"):
            ours(torch.randn(1, 3, 62, 62))
        ours.min_size = 0  # without our check, torch itself fails at 62
        try:
            with pytest.raises(RuntimeError):
                ours(torch.randn(1, 3, 62, 62))
        finally:
            ours.min_size = 63


def test_bad_input_raises_value_error(pair):
    ours, _ = pair
    with pytest.raises(ValueError, match="expected 3 input channels, got 1"):
        ours(torch.randn(1, 1, 224, 224))
    with pytest.raises(ValueError, match="4-D batch"):
        ours(torch.randn(3, 224, 224))


def test_bad_arguments_raise_value_error():
    with pytest.raises(ValueError, match="num_classes must be an integer >= 1, got 0"):
        alexnet(num_classes=0)
    with pytest.raises(ValueError, match="width must be a number > 0"):
        alexnet(width=0)
    with pytest.raises(ValueError, match="activation must be 'relu' or 'tanh'"):
        alexnet(activation="sigmoid")
    with pytest.raises(ValueError, match="channels must list 5"):
        AlexNet(channels=(64, 192, 384, 256))
    with pytest.raises(ValueError, match="divisible by groups=3"):
        alexnet(groups=3)
    assert TORCHVISION_CHANNELS == (64, 192, 384, 256, 256)


def test_exported_from_the_package():
    import cnnbook.models as package

    assert package.alexnet is alexnet and package.AlexNet is AlexNet


def test_four_layer_cnn_shapes_units_and_inits():
    from cnnbook.models.alexnet import FOUR_LAYER_WIDTHS, four_layer_cnn

    torch.manual_seed(0)
    net = four_layer_cnn("tanh", "xavier")
    convs = [m for m in net if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == list(FOUR_LAYER_WIDTHS) == [32, 32, 64]
    assert sum(isinstance(m, nn.Tanh) for m in net) == 3 and not any(isinstance(m, nn.ReLU) for m in net)
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    # 3 convolutions of 5x5 and one linear layer over 64 x 4 x 4 features
    assert count_params(net) == (32 * 75 + 32) + (32 * 800 + 32) + (64 * 800 + 64) + (1024 * 10 + 10)
    small = four_layer_cnn("relu", "he", widths=(16, 16, 32), num_classes=5)
    assert small(torch.randn(1, 3, 32, 32)).shape == (1, 5) and sum(isinstance(m, nn.ReLU) for m in small) == 3


def test_init_weights_draws_he_and_glorot_variances():
    from cnnbook.models.alexnet import init_weights

    torch.manual_seed(0)
    layer = nn.Conv2d(64, 128, 5)  # fan_in 1,600, fan_out 3,200
    init_weights(layer, "he")
    assert abs(layer.weight.var().item() / (2 / 1600) - 1) < 0.05 and layer.bias.abs().max() == 0
    init_weights(layer, "xavier")
    assert abs(layer.weight.var().item() / (2 / (1600 + 3200)) - 1) < 0.05
    before = layer.weight.clone()
    assert torch.equal(init_weights(layer, "default").weight, before)  # "default" leaves PyTorch's draw alone


def test_four_layer_cnn_refuses_bad_input():
    from cnnbook.models.alexnet import four_layer_cnn, init_weights

    with pytest.raises(ValueError, match="activation"):
        four_layer_cnn("sigmoid")
    with pytest.raises(ValueError, match="init"):
        four_layer_cnn("relu", "orthogonal")
    with pytest.raises(ValueError, match="init"):
        init_weights(nn.Linear(2, 2), "lecun")
    with pytest.raises(ValueError, match="3 convolution widths"):
        four_layer_cnn(widths=(8, 8))
    with pytest.raises(ValueError, match="widths"):
        four_layer_cnn(widths=(8, 0, 8))
    with pytest.raises(ValueError, match="num_classes"):
        four_layer_cnn(num_classes=0)
