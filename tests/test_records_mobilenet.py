"""Chapter 9's record module: the Shapes10 networks, their MACs, the equal-MAC widths and the record's arms."""
import pytest
import torch
from torch import nn

from cnnbook.models.mobilenet import DepthwiseSeparable
from cnnbook.records.mobilenet import (EPOCHS, NARROW, PAGE_RECIPE, SEPARABLE, WIDE, matching_width, net_macs,
                                       shapes10_net)


def _widths(net):
    return [m.out_channels for m in net.modules() if isinstance(m, nn.Conv2d) and m.groups == 1]


def test_shapes10_net_layout_and_width():
    standard, separable = shapes10_net(False), shapes10_net(True)
    assert standard(torch.zeros(2, 3, 32, 32)).shape == separable(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert _widths(standard) == _widths(separable) == [16, 32, 64, 64, 128]
    assert sum(isinstance(m, DepthwiseSeparable) for m in separable.modules()) == 4
    assert not any(isinstance(m, DepthwiseSeparable) for m in standard.modules())
    assert _widths(shapes10_net(True, WIDE)) == [45, 91, 182, 182, 364]  # every width x 2.84, rounded
    assert _widths(shapes10_net(False, NARROW)) == [6, 12, 25, 25, 50]
    assert shapes10_net(False, num_classes=3)(torch.zeros(1, 3, 32, 32)).shape == (1, 3)


def test_shapes10_net_without_the_depthwise_relu():
    plain = shapes10_net(True, depthwise_relu=False)
    blocks = [m for m in plain.modules() if isinstance(m, DepthwiseSeparable)]
    assert all(len(b.depthwise) == 2 and isinstance(b.pointwise[2], nn.ReLU) for b in blocks)
    torch.manual_seed(0)
    a = shapes10_net(True)
    torch.manual_seed(0)
    b = shapes10_net(True, depthwise_relu=False)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))  # same weights, one ReLU fewer


@pytest.mark.parametrize("kwargs, match", [
    (dict(separable=1), "separable"), (dict(separable=True, width=0), "width"), (dict(separable=True, width=-1.0), "width"),
    (dict(separable=True, width="2"), "width"), (dict(separable=True, width=True), "width"),
    (dict(separable=True, num_classes=0), "num_classes"), (dict(separable=False, depthwise_relu=False), "depthwise_relu"),
    (dict(separable=True, depthwise_relu=0), "depthwise_relu"),
])
def test_shapes10_net_refuses_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        shapes10_net(**kwargs)


def test_net_macs_counts_every_convolution():
    # by hand: the stem at 16x16, then 16->32 (stride 2) and 32->64 at 8x8, 64->64 (stride 2) and 64->128 at 4x4
    standard = 27 * 16 * 256 + 9 * 16 * 32 * 64 + 9 * 32 * 64 * 64 + 9 * 64 * 64 * 16 + 9 * 64 * 128 * 16 + 128 * 10
    separable = (27 * 16 * 256 + (9 * 16 + 16 * 32) * 64 + (9 * 32 + 32 * 64) * 64 + (9 * 64 + 64 * 64) * 16
                 + (9 * 64 + 64 * 128) * 16 + 128 * 10)
    assert net_macs(False) == standard == 3_355_904
    assert net_macs(True) == separable == 518_400


def test_the_record_widths_match_the_other_networks_macs():
    assert matching_width(True, net_macs(False), 2.7, 3.0) == WIDE
    assert matching_width(False, net_macs(True), 0.3, 0.5) == NARROW
    assert abs(net_macs(True, WIDE) / net_macs(False) - 1) < 0.001
    assert abs(net_macs(False, NARROW) / net_macs(True) - 1) < 0.02


@pytest.mark.parametrize("kwargs, match", [
    (dict(target=0), "target"), (dict(target=1.5), "target"), (dict(target=True), "target"),
    (dict(target=1000, low=2.0, high=1.0), "low <= high"), (dict(target=1000, step=0), "width"),
])
def test_matching_width_refuses_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        matching_width(True, **kwargs)


def test_the_record_repeats_the_page_and_compares_at_equal_macs():
    live = [a for a in SEPARABLE.arms if a.live]
    assert [a.recipe for a in live] == [PAGE_RECIPE, PAGE_RECIPE]
    torch.manual_seed(0)
    page = shapes10_net(False)
    torch.manual_seed(0)
    assert all(torch.equal(p, q) for p, q in zip(page.parameters(), live[0].build().parameters()))
    long = [a for a in SEPARABLE.arms if not a.live and not a.yardstick]
    assert len(long) == 5 and all(a.recipe["epochs"] == EPOCHS for a in long)
    assert sum(a.yardstick for a in SEPARABLE.arms) == 3
