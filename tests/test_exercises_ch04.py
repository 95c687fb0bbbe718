"""Chapter 4's exercise checkers: right answers (derived by hand) pass, wrong ones and None fail."""
from cnnbook.exercises import ch04


def test_ex1_conv1_on_227():
    assert ch04.ex1(55)  # (227 - 11) / 4 + 1
    assert not ch04.ex1(54)
    assert not ch04.ex1(56.25)
    assert not ch04.ex1(None)


def test_ex2_fc6_parameters():
    expected = 9216 * 4096 + 4096  # 256 * 6 * 6 inputs
    assert ch04.ex2(expected)
    assert not ch04.ex2(9216 * 4096)  # forgot the biases
    assert not ch04.ex2(None)


def test_ex3_grouped_conv4_saving():
    full, grouped = 384 * 384 * 9, 384 * 192 * 9
    assert ch04.ex3(full - grouped)
    assert ch04.ex3(663_552)
    assert not ch04.ex3(grouped // 2)
    assert not ch04.ex3(None)


def test_ex4_pool5_side_for_256_input():
    # 256 -> conv1 (11, 4, 2): 63 -> pool 31 -> pool 15 -> pool 7
    assert ch04.ex4(7)
    assert not ch04.ex4(6)
    assert not ch04.ex4(None)


def test_ex5_crop_variants_for_227_crops():
    # offsets 0..29 along each axis: 30 positions, squared, times two mirrorings
    assert ch04.ex5(30 * 30 * 2)
    assert ch04.ex5(1800)
    assert not ch04.ex5(29 * 29 * 2)  # the paper's off-by-one
    assert not ch04.ex5(None)


def test_ex6_default_init_shrink_matches_a_measurement():
    import math

    import torch
    from torch import nn

    torch.manual_seed(0)
    layer = nn.Linear(400, 4000)  # PyTorch's default initialisation
    nn.init.zeros_(layer.bias)
    x = torch.randn(2000, 400)
    with torch.no_grad():
        measured = x.pow(2).mean().sqrt() / torch.relu(layer(x)).pow(2).mean().sqrt()
    assert abs(measured.item() - math.sqrt(6)) < 0.05
    assert abs(ch04.default_init_shrink() - math.sqrt(6)) < 1e-9
    assert ch04.ex6(math.sqrt(6)) and ch04.ex6(2.45)
    assert not ch04.ex6(1 / math.sqrt(6))  # output / input, the wrong way round
    assert not ch04.ex6(math.sqrt(3)) and not ch04.ex6(6) and not ch04.ex6(None)


def test_ex7_range_holds_the_measured_gate():
    import torch

    torch.set_num_threads(1)
    measured = ch04.paper_scale_gate(seed=0)
    low, high = ch04.EX7_RANGE
    assert low + 0.01 <= measured <= high - 0.01
    assert ch04.ex7(measured)
    unscaled = ch04.paper_scale_gate(seed=0, scale=1.0)
    assert unscaled > 0.7 and not ch04.ex7(unscaled)  # the standardised inputs leave tanh near its linear range
    assert not ch04.ex7(None) and not ch04.ex7(1.5) and not ch04.ex7("0.04") and not ch04.ex7(True)


def test_tanh_gradient_gates_needs_tanh_units():
    import pytest
    import torch
    from torch import nn

    net = nn.Sequential(nn.Linear(2, 2), nn.Tanh())
    with torch.no_grad():
        net[0].weight.zero_()
        net[0].bias.zero_()
    assert ch04.tanh_gradient_gates(net, torch.randn(4, 2)) == [1.0]  # tanh'(0) = 1
    with pytest.raises(ValueError, match="no nn.Tanh"):
        ch04.tanh_gradient_gates(nn.Sequential(nn.Linear(2, 2), nn.ReLU()), torch.randn(4, 2))
