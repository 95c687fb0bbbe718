"""cnnbook.initialisation: per-layer standard deviations measured by hooks equal the ones computed by hand."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnbook.initialisation import LayerStats, layer_stats, plain_stack
from cnnbook.models.alexnet import init_weights


def test_layer_stats_equals_a_forward_and_backward_written_out():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(inplace=True), nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 3))
    x = torch.randn(16, 6)
    target = torch.randint(0, 3, (16,))
    stats = layer_stats(model, x, target)
    assert isinstance(stats, LayerStats) and stats.names == ["0", "2", "4"] and len(stats) == 3

    a = x.clone().requires_grad_()
    z1 = model[0](a)
    z2 = model[2](torch.relu(z1))
    z3 = model[4](torch.tanh(z2))
    for z in (z1, z2, z3):
        z.retain_grad()
    F.cross_entropy(z3, target).backward()
    assert stats.activation_std == pytest.approx([z.std().item() for z in (z1, z2, z3)], rel=1e-6)
    assert stats.gradient_std == pytest.approx([z.grad.std().item() for z in (z1, z2, z3)], rel=1e-5)


def test_default_backward_is_a_seeded_unit_gradient_and_leaves_the_model_alone():
    torch.manual_seed(1)
    model = nn.Linear(8, 4)
    model.weight.grad = torch.ones_like(model.weight)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(32, 8)
    a, b = layer_stats(model, x, seed=3), layer_stats(model, x, seed=3)
    assert a == b
    expected = torch.randn(32, 4, generator=torch.Generator().manual_seed(3)).std().item()
    assert a.gradient_std[0] == pytest.approx(expected)
    assert torch.equal(model.weight.grad, torch.ones_like(model.weight)) and model.bias.grad is None
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert layer_stats(model, x, seed=4) != a


def test_he_keeps_the_scale_through_relu_layers_and_xavier_halves_the_variance():
    # a wide linear ReLU stack: He's N(0, 2/n) keeps Var(y) from layer to layer, Glorot's N(0, 1/n) halves it
    depth, width = 12, 512
    x = torch.randn(256, width)
    ratios = {}
    for init in ("he", "xavier"):
        torch.manual_seed(0)
        layers = []
        for _ in range(depth):
            layers += [nn.Linear(width, width), nn.ReLU()]
        model = init_weights(nn.Sequential(*layers), init)
        stds = layer_stats(model, x).activation_std
        ratios[init] = (stds[-1] / stds[1]) ** (1 / (depth - 2))  # mean factor per layer
    assert ratios["he"] == pytest.approx(1.0, abs=0.05)
    assert ratios["xavier"] == pytest.approx(1 / math.sqrt(2), abs=0.05)


def test_plain_stack_shapes_and_counts():
    model = plain_stack(5, width=8)
    assert model(torch.rand(2, 3, 16, 16)).shape == (2, 10)
    assert sum(isinstance(m, nn.Conv2d) for m in model) == 5 and sum(isinstance(m, nn.ReLU) for m in model) == 5
    stats = layer_stats(model, torch.rand(4, 3, 8, 8), layers=(nn.Conv2d,))
    assert len(stats) == 5 and all(s > 0 for s in stats.gradient_std)


@pytest.mark.parametrize("kwargs", [{"depth": 0}, {"depth": 2, "width": 0}, {"depth": 2.0}, {"depth": True},
                                    {"depth": 2, "num_classes": -1}])
def test_plain_stack_bad_arguments(kwargs):
    with pytest.raises(ValueError, match="positive int"):
        plain_stack(**kwargs)


def test_layer_stats_bad_input():
    model = nn.Linear(3, 2)
    with pytest.raises(ValueError, match="floating-point batch"):
        layer_stats(model, torch.ones(4, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="floating-point batch"):
        layer_stats(model, torch.ones(3))
    with pytest.raises(ValueError, match="target"):
        layer_stats(model, torch.ones(4, 3), torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match="no Conv2d"):
        layer_stats(model, torch.ones(4, 3), layers=(nn.Conv2d,))
    shared = nn.Linear(3, 3)
    with pytest.raises(ValueError, match="exactly once"):
        layer_stats(nn.Sequential(shared, nn.ReLU(), shared), torch.ones(4, 3))
