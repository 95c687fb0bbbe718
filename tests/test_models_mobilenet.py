import pytest
import torch
import torchvision
from torch import nn
from torchvision.ops.misc import Conv2dNormActivation

from cnnbook.models.mobilenet import ConvNormAct, make_divisible


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
