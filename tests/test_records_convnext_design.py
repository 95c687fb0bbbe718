"""Chapter 12's design record: the kernel sweep on the ConvNeXt-T rung and a Swin-T shrunk the same way."""
from dataclasses import replace

import pytest
import torch
import torchvision

from cnnbook.models.convnext import ladder_configs
from cnnbook.profile import count_params, macs
from cnnbook.records.convnext import INPUTS, LADDER, RECIPE, rungs
from cnnbook.records.convnext_design import (DESIGN, KERNELS, SWIN_ARM, SWIN_SMALL, SWIN_T, kernel_arm_name,
                                             kernel_builder, small_swin)


def test_the_sweep_changes_only_the_kernel_of_the_convnext_rung_and_keeps_the_ladders_recipe():
    assert KERNELS == (3, 5, 7, 9, 11)
    last = dict(ladder_configs())[rungs()[-1][0]]
    for k in KERNELS:
        arm = DESIGN.arm(kernel_arm_name(k))
        assert arm.recipe == RECIPE and arm.data == "std"
        net = arm.build()
        assert net.config == replace(last, kernel_size=k, depths=(1, 1, 1, 1))  # the shrink's one block per stage
    seven = DESIGN.arm(kernel_arm_name(7)).build()
    assert count_params(seven) == count_params(rungs()[-1][1]())  # the 7x7 arm is the ConvNeXt-T rung itself
    counts = [count_params(kernel_builder(k)()) for k in KERNELS]
    assert counts == sorted(counts) and len(set(counts)) == len(counts)


def test_the_record_shares_its_live_arm_and_yardsticks_with_the_ladder_records():
    assert [a.name for a in DESIGN.arms if a.live] == ["ConvNeXt-T rung (small)"]
    live = DESIGN.arm("ConvNeXt-T rung (small)")
    assert live.recipe == INPUTS.arm("ConvNeXt-T rung (small)").recipe and live.data == "page"
    assert [(a.name, a.recipe, a.data) for a in DESIGN.arms if a.yardstick] == \
        [(a.name, a.recipe, a.data) for a in LADDER.arms if a.yardstick]
    swin = DESIGN.arm(SWIN_ARM)
    assert swin.recipe == RECIPE and swin.data == "std"


def test_small_swin_is_swin_t_with_the_chapters_shrink():
    assert SWIN_SMALL["embed_dim"] * 8 == SWIN_T["embed_dim"] and SWIN_SMALL["num_heads"] == SWIN_T["num_heads"]
    assert SWIN_SMALL["depths"] == [1, 1, 1, 1] and SWIN_SMALL["patch_size"] == [2, 2]
    torch.manual_seed(0)
    net = small_swin(10)
    assert net(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    with torch.device("meta"):
        assert count_params(torchvision.models.swin_t()) == count_params(
            torchvision.models.swin_transformer.SwinTransformer(**SWIN_T))
        assert macs(small_swin(), (3, 32, 32)) > 0
    with pytest.raises(ValueError, match="num_classes must be a positive int"):
        small_swin(0)


def test_kernel_names_and_builders_refuse_even_or_bad_kernels():
    assert kernel_arm_name(3) == "ConvNeXt-T rung, 3x3 kernel, standardised images, 15 epochs"
    for bad in (4, 0, -3, True, 3.0):
        with pytest.raises(ValueError, match="kernel must be an odd positive int"):
            kernel_arm_name(bad)
        with pytest.raises(ValueError, match="kernel must be an odd positive int"):
            kernel_builder(bad)
