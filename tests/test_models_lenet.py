"""Tests for cnnbook.models.lenet: counts derived by hand, the paper's Table I, shapes and bad input."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnbook.models.lenet import (
    C3_TABLE,
    PAPER_BACKGROUND,
    PAPER_INK,
    LeNet5,
    PartialConv2d,
    RBFOutput,
    ScaledTanh,
    Subsampling,
    lenet5,
    paper_input,
)
from cnnbook.profile import count_params


# Table I of LeCun et al. (1998), copied as printed: row = S2 map, column = C3 map, X = connected.
TABLE_I = """
X . . . X X X . . X X X X . X X
X X . . . X X X . . X X X X . X
X X X . . . X X X . . X . X X X
. X X X . . X X X X . . X . X X
. . X X X . . X X X X . X X . X
. . . X X X . . X X X X . X X X
"""


def test_c3_table_is_table_one_of_the_paper():
    rows = [line.split() for line in TABLE_I.strip().splitlines()]
    from_paper = tuple(tuple(i for i in range(6) if rows[i][j] == "X") for j in range(16))
    assert C3_TABLE == from_paper
    assert sum(len(r) for r in C3_TABLE) == 60


def test_modern_parameter_count_is_61706():
    # C1 6*(25+1), C3 16*(6*25+1), C5 120*(400+1), F6 84*(120+1), output 10*(84+1)
    assert 156 + 2416 + 48120 + 10164 + 850 == 61706
    assert count_params(lenet5()) == 61706
    assert count_params(LeNet5(variant="modern")) == 61706


def test_historical_parameter_count_layer_by_layer():
    model = lenet5(variant="historical")
    by_layer = {name: count_params(child) for name, child in model.named_children()}
    assert by_layer == {"c1": 156, "s2": 12, "c3": 1516, "s4": 32, "c5": 48120, "f6": 10164, "output": 0, "act": 0}
    assert count_params(model) == 60000
    assert model.output.centres.shape == (10, 84)  # 840 fixed RBF centres, a buffer
    assert "output.centres" in model.state_dict()
    assert count_params(lenet5(variant="historical", output="linear")) == 60850


def test_shapes_through_the_network():
    for input_size in (32, 28):
        model = lenet5(variant="historical", input_size=input_size, in_channels=3, num_classes=7)
        shapes = {}
        for name in ("c1", "s2", "c3", "s4", "c5"):
            getattr(model, name).register_forward_hook(lambda m, i, o, name=name: shapes.__setitem__(name, o.shape[1:]))
        out = model(torch.randn(2, 3, input_size, input_size))
        assert out.shape == (2, 7)
        assert shapes == {"c1": (6, 28, 28), "s2": (6, 14, 14), "c3": (16, 10, 10), "s4": (16, 5, 5), "c5": (120, 1, 1)}


def test_variant_defaults_and_overrides():
    modern, old = lenet5(), lenet5(variant="historical")
    assert isinstance(modern.act, nn.ReLU) and isinstance(modern.s2, nn.MaxPool2d)
    assert isinstance(modern.c3, nn.Conv2d) and isinstance(modern.output, nn.Linear)
    assert isinstance(old.act, ScaledTanh) and isinstance(old.s2, Subsampling)
    assert isinstance(old.c3, PartialConv2d) and isinstance(old.output, RBFOutput)
    tanh = lenet5(activation="tanh", pooling="avg")
    assert isinstance(tanh.act, nn.Tanh) and isinstance(tanh.s4, nn.AvgPool2d)
    assert count_params(tanh) == 61706
    assert isinstance(lenet5(variant="historical", c3="full").c3, nn.Conv2d)


def test_modern_equals_a_hand_built_sequential():
    torch.manual_seed(0)
    model = lenet5().eval()
    reference = nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )
    with torch.no_grad():
        for ours, ref in ((model.c1, reference[0]), (model.c3, reference[3]), (model.f6, reference[9]),
                          (model.output, reference[11])):
            ref.weight.copy_(ours.weight)
            ref.bias.copy_(ours.bias)
        reference[7].weight.copy_(model.c5.weight.flatten(1))  # C5 on a 5x5 map == a 400 -> 120 linear layer
        reference[7].bias.copy_(model.c5.bias)
        x = torch.randn(4, 1, 32, 32)
        assert torch.allclose(model(x), reference(x), atol=1e-5)


def test_partial_conv_connects_exactly_the_table():
    torch.manual_seed(0)
    conv = PartialConv2d(C3_TABLE, 5)
    assert count_params(conv) == 1516
    x = torch.randn(1, 6, 14, 14, requires_grad=True)
    out = conv(x)
    assert out.shape == (1, 16, 10, 10)
    for j, row in enumerate(C3_TABLE):
        (grad,) = torch.autograd.grad(out[0, j].sum(), x, retain_graph=True)
        reads = tuple(i for i in range(6) if grad[0, i].abs().sum() > 0)
        assert reads == row


def test_partial_conv_equals_a_loop_over_connections():
    torch.manual_seed(1)
    conv = PartialConv2d(C3_TABLE, 5)
    x = torch.randn(2, 6, 14, 14)
    expected = torch.zeros(2, 16, 10, 10)
    k = 0
    for j, row in enumerate(C3_TABLE):
        for i in row:
            expected[:, j] += F.conv2d(x[:, i : i + 1], conv.weight[k].view(1, 1, 5, 5)).squeeze(1)
            k += 1
        expected[:, j] += conv.bias[j]
    with torch.no_grad():
        assert torch.allclose(conv(x), expected, atol=1e-5)
        dense = conv.dense_weight()
    assert dense.shape == (16, 6, 5, 5)
    assert int((dense.abs().sum(dim=(2, 3)) > 0).sum()) == 60


def test_partial_conv_initialisation_uses_each_maps_fan_in():
    torch.manual_seed(0)
    conv = PartialConv2d(C3_TABLE, 5)
    dense = conv.dense_weight().detach()
    assert dense[:6].abs().max() <= 75 ** -0.5  # maps reading 3 inputs: fan-in 75
    assert dense[15].abs().max() <= 150 ** -0.5
    assert dense[:6].abs().max() > 150 ** -0.5


def test_partial_conv_rejects_bad_tables():
    with pytest.raises(ValueError, match="at least one input map"):
        PartialConv2d([(0, 1), ()], 5)
    with pytest.raises(ValueError, match="twice"):
        PartialConv2d([(0, 0)], 5)
    with pytest.raises(ValueError, match="indices >= 0"):
        PartialConv2d([(0, -1)], 5)
    with pytest.raises(ValueError, match="only 2"):
        PartialConv2d([(0, 2)], 5, in_channels=2)


def test_subsampling_is_a_weighted_sum_of_2x2_blocks():
    torch.manual_seed(0)
    layer = Subsampling(3)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([0.5, -1.0, 2.0]))
        layer.bias.copy_(torch.tensor([0.1, 0.2, 0.3]))
    x = torch.randn(2, 3, 6, 6)
    blocks = x.view(2, 3, 3, 2, 3, 2).sum(dim=(3, 5))
    expected = blocks * torch.tensor([0.5, -1.0, 2.0]).view(1, 3, 1, 1) + torch.tensor([0.1, 0.2, 0.3]).view(1, 3, 1, 1)
    assert torch.allclose(layer(x), expected, atol=1e-6)
    assert torch.allclose(Subsampling(3)(x), F.avg_pool2d(x, 2), atol=1e-6)  # starts as average pooling


def test_scaled_tanh_matches_lecun_constants():
    f = ScaledTanh()
    a = torch.tensor([-1.0, 0.0, 1.0])
    assert torch.allclose(f(a), torch.tensor([-1.0, 0.0, 1.0]), atol=1e-3)  # f(+-1) = +-1, by design
    assert torch.allclose(f(torch.tensor([100.0])), torch.tensor([1.7159]))


def test_rbf_output_is_negative_squared_distance():
    torch.manual_seed(0)
    rbf = RBFOutput(84, 10)
    assert set(rbf.centres.unique().tolist()) == {-1.0, 1.0}
    assert count_params(rbf) == 0
    x = torch.randn(5, 84)
    assert torch.allclose(rbf(x), -torch.cdist(x, rbf.centres) ** 2, atol=1e-3)
    assert rbf(rbf.centres[3:4]).argmax().item() == 3


def test_historical_variant_learns():
    torch.manual_seed(0)
    model = lenet5(variant="historical")
    x, y = torch.randn(8, 1, 32, 32), torch.randint(0, 10, (8,))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(15):
        loss = F.cross_entropy(model(x), y)
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first


def test_bad_arguments_raise_value_error():
    with pytest.raises(ValueError, match="variant must be one of"):
        lenet5(variant="lenet1")
    with pytest.raises(ValueError, match="input_size must be 32"):
        lenet5(input_size=30)
    with pytest.raises(ValueError, match="activation must be one of"):
        lenet5(activation="sigmoid")
    with pytest.raises(ValueError, match="pooling must be one of"):
        lenet5(pooling="median")
    with pytest.raises(ValueError, match="num_classes must be an integer >= 1, got 0"):
        lenet5(num_classes=0)
    with pytest.raises(ValueError, match="in_channels must be an integer >= 1"):
        lenet5(in_channels=0)


def test_bad_input_raises_value_error():
    model = lenet5()
    with pytest.raises(ValueError, match="expected 1 input channels, got 3"):
        model(torch.randn(1, 3, 32, 32))
    with pytest.raises(ValueError, match="expected 32x32 input, got 28x28"):
        model(torch.randn(1, 1, 28, 28))
    with pytest.raises(ValueError, match="4-D batch"):
        model(torch.randn(1, 32, 32))
    with pytest.raises(ValueError, match="expected 28x28 input, got 32x32"):
        lenet5(input_size=28)(torch.randn(1, 1, 32, 32))


def test_exported_from_the_package():
    import cnnbook.models as package

    assert package.lenet5 is lenet5 and package.LeNet5 is LeNet5


def test_paper_input_scales_and_pads_with_the_background():
    images = torch.zeros(2, 1, 28, 28)
    images[0, 0, 10:18, 12:16] = 1.0
    images[1, 0, 5, 5] = 0.5
    out = paper_input(images)
    assert out.shape == (2, 1, 32, 32)
    assert PAPER_BACKGROUND == -0.1 and PAPER_INK == 1.175
    assert torch.allclose(out[:, :, :2], torch.tensor(-0.1)) and torch.allclose(out[:, :, :, -2:], torch.tensor(-0.1))
    assert torch.allclose(out[0, 0, 12:20, 14:18], torch.tensor(1.175))  # the ink block, shifted by the 2-pixel border
    assert torch.isclose(out[1, 0, 7, 7], torch.tensor(-0.1 + 0.5 * 1.275))
    assert torch.allclose(out, -0.1 + 1.275 * F.pad(images, (2, 2, 2, 2)))  # an affine map of the zero-padded pixels
    assert torch.equal(paper_input(images, size=28), -0.1 + 1.275 * images)  # no padding
    assert images.max() == 1.0  # the input is left alone


def test_paper_input_feeds_the_historical_network():
    out = lenet5(variant="historical")(paper_input(torch.rand(3, 1, 28, 28)))
    assert out.shape == (3, 10)


@pytest.mark.parametrize("bad, size, message", [
    (torch.rand(28, 28) * 255, 32, r"\[0, 1\]"),
    (torch.rand(1, 28, 28) - 0.5, 32, r"\[0, 1\]"),
    (torch.zeros(1, 28, 28, dtype=torch.uint8), 32, "float"),
    (torch.zeros(28), 32, "float tensor"),
    ([[0.0]], 32, "float tensor"),
    (torch.zeros(1, 28, 28), 27, "size"),
    (torch.zeros(1, 28, 28), 31, "size"),
    (torch.zeros(1, 28, 28), 32.0, "size"),
])
def test_paper_input_rejects_bad_input(bad, size, message):
    with pytest.raises(ValueError, match=message):
        paper_input(bad, size=size)
