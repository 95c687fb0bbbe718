import pytest
import torch
from torch import nn

from cnnbook.models import SimpleCNN, simple_cnn
from cnnbook.profile import count_params


def test_output_shape_and_builder_defaults():
    model = simple_cnn()
    assert isinstance(model, SimpleCNN)
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    assert simple_cnn(num_classes=3, in_channels=3, image_size=32)(torch.randn(1, 3, 32, 32)).shape == (1, 3)


def test_parameter_count_derived_by_hand():
    # conv1 1*16*9 (no bias: BN follows) + bn1 2*16 + conv2 16*32*9 + bn2 2*32
    # + fc1 (32*7*7)*64 + 64 + fc2 64*10 + 10
    expected = 144 + 32 + 4608 + 64 + 1568 * 64 + 64 + 64 * 10 + 10
    assert expected == 105_914
    assert count_params(simple_cnn()) == expected
    # Without BatchNorm the convolutions keep their biases.
    assert count_params(simple_cnn(batch_norm=False)) == (144 + 16) + (4608 + 32) + 1568 * 64 + 64 + 650
    # fc1 follows the image size: 30 -> 15 -> 7 (floor), 12 -> 6 -> 3.
    assert simple_cnn(image_size=30).fc1.in_features == 32 * 7 * 7
    assert simple_cnn(image_size=12, channels=(4, 8), hidden=5).fc1.in_features == 8 * 3 * 3
    assert simple_cnn(kernel_size=5).conv1.weight.shape == (16, 1, 5, 5)


@torch.no_grad()
def test_layers_run_in_the_documented_order():
    torch.manual_seed(0)
    model = simple_cnn(dropout=0.3).eval()
    for bn in (model.bn1, model.bn2):  # non-trivial statistics, so a misplaced BN shows
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
    reference = nn.Sequential(
        model.conv1, model.bn1, nn.ReLU(), nn.MaxPool2d(2),
        model.conv2, model.bn2, nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), model.fc1, nn.ReLU(), model.fc2,
    )
    x = torch.randn(4, 1, 28, 28)
    assert torch.allclose(model(x), reference(x), atol=1e-6)
    # The intermediate shapes of the chapter: 16@28x28 -> 16@14x14 -> 32@14x14 -> 32@7x7.
    assert reference[:4](x).shape == (4, 16, 14, 14) and reference[:8](x).shape == (4, 32, 7, 7)


def test_trains_on_a_few_digits():
    from cnnbook.data import load_digits
    from cnnbook.train import evaluate, fit

    splits = load_digits(image_size=12)
    model = simple_cnn(image_size=12, channels=(8, 16), hidden=32)
    fit(model, splits.train, epochs=3, lr=3e-3, batch_size=32, seed=0, progress=False)
    assert evaluate(model, splits.test)[1] > 0.85


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_classes=0), "num_classes"),
        (dict(in_channels=-1), "in_channels"),
        (dict(image_size=3), "image_size must be at least 4"),
        (dict(image_size=28.0), "image_size"),
        (dict(channels=(16,)), "channels must be a pair"),
        (dict(channels="ab"), "channels must be a pair"),
        (dict(channels=(16, 0)), r"channels\[1\]"),
        (dict(hidden=0), "hidden"),
        (dict(kernel_size=4), "kernel_size must be an odd int"),
        (dict(batch_norm="yes"), "batch_norm"),
        (dict(dropout=1.0), "dropout"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        simple_cnn(**kwargs)


@pytest.mark.parametrize(
    "shape, message",
    [
        ((1, 28, 28), "4-D batch"),
        ((1, 3, 28, 28), "expected 1 input channels"),
        ((1, 1, 32, 32), "expected 28x28"),
        ((1, 1, 2, 2), "too small"),
    ],
)
def test_bad_inputs_raise(shape, message):
    with pytest.raises(ValueError, match=message):
        simple_cnn()(torch.randn(*shape))


def test_small_cnn_shapes_params_and_bad_input():
    from cnnbook.models import small_cnn

    model = small_cnn()
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    assert model(torch.rand(2, 3, 8, 8)).shape == (2, 10)  # three pools need at least 8x8
    convs = [(3, 16), (16, 32), (32, 64), (64, 64)]
    expected = sum(9 * i * o + 2 * o for i, o in convs) + 64 * 10 + 10
    assert sum(p.numel() for p in model.parameters()) == expected
    with pytest.raises(ValueError, match="at least 8x8"):
        model(torch.rand(1, 3, 4, 4))
    with pytest.raises(ValueError, match="3 input channels"):
        model(torch.rand(1, 1, 32, 32))
    with pytest.raises(ValueError, match="widths"):
        small_cnn(widths=())
