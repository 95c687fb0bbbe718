"""Chapter 10's record module: the scaled base network, its MACs, the matched single-axis sweep and the resized data."""
import math

import pytest
import torch

from cnnbook.records.efficientnet import (ALPHA, BASE_LAYERS, BASE_RES, BASE_WIDTHS, BETA, GAMMA, LIVE_SIZES,
                                          PAGE_RECIPE, SCALING, SWEEP, ResidualConv, closest_single_axis, scaled_cnn,
                                          scaled_macs, shapes10_resized, stage_plan)


def test_stage_plan_rounds_like_efficientnet():
    assert stage_plan() == list(zip(BASE_WIDTHS, BASE_LAYERS))
    # depth 1.2 rounds each stage up (ceil), as EfficientNet does; width 1.1 rounds to multiples of 2
    assert stage_plan(1.1, 1.2) == [(8, 3), (18, 4), (36, 4)]
    assert stage_plan(2.0, 2.0) == [(16, 4), (32, 6), (64, 6)]
    for bad in (0, -1.0, "2", True):
        with pytest.raises(ValueError, match="width"):
            stage_plan(bad, 1.0)
        with pytest.raises(ValueError, match="depth"):
            stage_plan(1.0, bad)


def test_scaled_cnn_shapes_and_residual_blocks():
    net = scaled_cnn(1.1, 1.2)
    assert net(torch.zeros(2, 3, 28, 28)).shape == (2, 10)
    assert sum(isinstance(m, ResidualConv) for m in net.modules()) == sum(n - 1 for _, n in stage_plan(1.1, 1.2))
    assert scaled_cnn(num_classes=3)(torch.zeros(1, 3, 24, 24)).shape == (1, 3)
    with pytest.raises(ValueError, match="num_classes"):
        scaled_cnn(num_classes=0)


def test_residual_conv_adds_its_input():
    block = ResidualConv(4).eval()
    torch.nn.init.zeros_(block.bn.weight)  # the branch gives zero: the block is relu(x)
    x = torch.randn(2, 4, 5, 5)
    assert torch.equal(block(x), torch.relu(x))
    for bad in (0, 2.0, True):
        with pytest.raises(ValueError, match="channels"):
            ResidualConv(bad)


def test_scaled_macs_counts_every_convolution():
    # by hand: per stage, a 3x3 conv that sets the channels and n - 1 that keep them; pools halve the map; the classifier
    expected, c_in, size = 0, 3, BASE_RES
    for i, (c, n) in enumerate(stage_plan()):
        expected += 9 * c_in * c * size * size + (n - 1) * 9 * c * c * size * size
        c_in = c
        if i < len(BASE_WIDTHS) - 1:
            size //= 2
    expected += c_in * 10
    assert scaled_macs(1.0, 1.0, BASE_RES) == expected
    with pytest.raises(ValueError, match="res"):
        scaled_macs(1.0, 1.0, 3)
    with pytest.raises(ValueError, match="res"):
        scaled_macs(1.0, 1.0, 24.0)


def test_sweep_is_the_compound_rule_and_its_matched_single_axes():
    assert SWEEP["compound"] == {phi: (BETA**phi, ALPHA**phi, round(BASE_RES * GAMMA**phi)) for phi in (1, 2)}
    for phi in (1, 2):
        target = scaled_macs(*SWEEP["compound"][phi])
        for rule, axis, step in (("width only", 0, 0.05), ("depth only", 1, 0.1), ("resolution only", 2, 1)):
            config = SWEEP[rule][phi]
            assert [v for i, v in enumerate(config) if i != axis] == [v for i, v in enumerate((1.0, 1.0, BASE_RES))
                                                                        if i != axis]
            assert 0.9 < scaled_macs(*config) / target < 1.1
            # no grid neighbour comes closer to the compound network's MACs (the search is over a monotone cost)
            gap = abs(math.log(scaled_macs(*config) / target))
            for sign in (-1, 1):
                neighbour = list(config)
                neighbour[axis] = round(neighbour[axis] + sign * step, 2) if axis < 2 else neighbour[axis] + sign
                assert abs(math.log(scaled_macs(*neighbour) / target)) >= gap


def test_closest_single_axis_finds_an_exact_match_and_refuses_bad_input():
    assert closest_single_axis("resolution", scaled_macs(1.0, 1.0, 30)) == (1.0, 1.0, 30)
    with pytest.raises(ValueError, match="axis"):
        closest_single_axis("height", 10**6)
    with pytest.raises(ValueError, match="target"):
        closest_single_axis("width", 0)


def test_shapes10_resized_shows_the_same_scenes_at_every_size():
    data = shapes10_resized((16, 24), n_train=20, n_val=10, n_test=10)
    assert set(data) == {16, 24}
    small, large = data[16], data[24]
    assert small.train.tensors[0].shape == (20, 3, 16, 16) and large.train.tensors[0].shape == (20, 3, 24, 24)
    assert torch.equal(small.test.tensors[1], large.test.tensors[1])  # the same scenes, so the same labels
    resized = torch.nn.functional.interpolate(large.val.tensors[0], size=(16, 16), mode="bilinear", antialias=True,
                                              align_corners=False)
    assert torch.allclose(small.val.tensors[0], resized.clamp(0, 1))
    assert 0 <= small.train.tensors[0].min() and small.train.tensors[0].max() <= 1
    for bad in ((), (4,), (16.0,), (True,)):
        with pytest.raises(ValueError, match="sizes"):
            shapes10_resized(bad, n_train=10, n_val=10, n_test=10)
    with pytest.raises(ValueError, match="render"):
        shapes10_resized((24,), n_train=10, n_val=10, n_test=10, render=20)


def test_the_record_repeats_the_page_run_and_carries_the_yardsticks():
    live = [a for a in SCALING.arms if a.live]
    assert len(live) == 1 and live[0].data == "live" and dict(live[0].recipe) == PAGE_RECIPE
    assert [a.name.split(",")[0].split(" (")[0] for a in SCALING.arms if a.yardstick] == ["linear", "MLP", "small CNN"]
    data = SCALING.data(True)  # the quick data: every resolution of the sweep, and the live split
    assert {f"r{c[2]}" for rule in SWEEP.values() for c in rule.values()} <= set(data)
    assert data["live"].train.tensors[0].shape[-1] == BASE_RES and LIVE_SIZES["n_train"] > 0
