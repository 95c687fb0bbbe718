"""Chapter 11's patch record: the small ViT with 4x4 patches at vit_data's sizes and epochs."""
import pytest
import torch

from cnnbook.models import small_vit
from cnnbook.profile import macs
from cnnbook.records.vit import DATA, SHARES, VIT, images
from cnnbook.records.vit_patches import PATCHES, VIT_P4, patch_arm_name


def test_the_4px_vit_differs_from_the_chapters_only_in_its_patches():
    assert {k: v for k, v in VIT_P4.items() if VIT[k] != v} == {"patch_size": 4}
    net = small_vit(**VIT_P4)
    assert net.grid_size == 8 and net(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    with torch.device("meta"):
        ratio = macs(small_vit(**VIT_P4), (3, 32, 32)) / macs(small_vit(**VIT), (3, 32, 32))
    assert 3.5 < ratio < 4.5


def test_each_size_trains_as_long_as_vit_datas_vit_and_the_yardsticks_are_vit_datas():
    for share in SHARES:
        n = images(share)
        mine, theirs = PATCHES.arm(patch_arm_name(n)), DATA.arm(f"small ViT, {n} images")
        assert mine.recipe == theirs.recipe and mine.data == theirs.data == f"std{n}"
    same = ("name", "recipe", "data")
    assert [tuple(getattr(a, k) for k in same) for a in PATCHES.arms if a.yardstick] == \
        [tuple(getattr(a, k) for k in same) for a in DATA.arms if a.yardstick]
    assert [a.name for a in PATCHES.arms if a.live] == [a.name for a in DATA.arms if a.live][:1]


def test_patch_arm_name_refuses_bad_sizes():
    assert patch_arm_name(300) == "small ViT, 4x4 patches, 300 images"
    for bad in (0, -1, True, 3.5):
        with pytest.raises(ValueError, match="n must be a positive int"):
            patch_arm_name(bad)
